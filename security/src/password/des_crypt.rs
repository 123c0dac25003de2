//! The schemes kept for the hashes that Flask-Security 1.7.4 may have stored and that may not
//! hash new passwords: traditional DES crypt (only 8 characters of the password count).
//! Plaintext, the other scheme of 1.7.4 no deployment should hash with, is a constant-time
//! comparison in the parent module.
//!
//! Traditional (V7 Unix) DES crypt, verification only: the key is the first 8 bytes of the
//! secret (7 bits each), the 2-character salt permutes the expansion table, and 25 DES
//! encryptions of a zero block make the 11-character checksum. Written bit by bit after the
//! FIPS 46 tables: slow by DES standards (tens of microseconds), which does not matter here.

use subtle::ConstantTimeEq as _;

const ALPHABET: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whether `stored` is 13 characters of `[./0-9A-Za-z]` (passlib's des_crypt identity).
pub(super) fn is_des_crypt(stored: &str) -> bool {
    stored.len() == 13 && stored.bytes().all(|b| value(b).is_some())
}

pub(super) fn verify(secret: &[u8], stored: &str) -> bool {
    if !is_des_crypt(stored) {
        return false;
    }
    let stored = stored.as_bytes();
    crypt(secret, [stored[0], stored[1]])
        .as_slice()
        .ct_eq(stored)
        .into()
}

fn value(c: u8) -> Option<u8> {
    ALPHABET.iter().position(|&a| a == c).map(|i| i as u8)
}

// FIPS 46-3 tables, 1-based bit positions.
const IP: [u8; 64] = [
    58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6,
    64, 56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61,
    53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];
const FP: [u8; 64] = [
    40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31, 38, 6, 46, 14, 54, 22, 62, 30,
    37, 5, 45, 13, 53, 21, 61, 29, 36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
    34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
];
const PC1_C: [u8; 28] = [
    57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60,
    52, 44, 36,
];
const PC1_D: [u8; 28] = [
    63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29, 21, 13, 5,
    28, 20, 12, 4,
];
const SHIFTS: [u8; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];
const PC2: [u8; 48] = [
    14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41, 52,
    31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];
/// The expansion table (a salt permutes a copy).
pub(super) const E: [u8; 48] = [
    32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17, 16, 17, 18,
    19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
];
const P: [u8; 32] = [
    16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19,
    13, 30, 6, 22, 11, 4, 25,
];
const S: [[u8; 64]; 8] = [
    [
        14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12,
        11, 9, 5, 3, 8, 4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9,
        1, 7, 5, 11, 3, 14, 10, 0, 6, 13,
    ],
    [
        15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1,
        10, 6, 9, 11, 5, 0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15,
        4, 2, 11, 6, 7, 12, 0, 5, 14, 9,
    ],
    [
        10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5,
        14, 12, 11, 15, 1, 13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6,
        9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,
    ],
    [
        7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2,
        12, 1, 10, 14, 9, 10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1,
        13, 8, 9, 4, 5, 11, 12, 7, 2, 14,
    ],
    [
        2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15,
        10, 3, 9, 8, 6, 4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14,
        2, 13, 6, 15, 0, 9, 10, 4, 5, 3,
    ],
    [
        12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13,
        14, 0, 11, 3, 8, 9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5,
        15, 10, 11, 14, 1, 7, 6, 0, 8, 13,
    ],
    [
        4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5,
        12, 2, 15, 8, 6, 1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4,
        10, 7, 9, 5, 0, 15, 14, 2, 3, 12,
    ],
    [
        13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6,
        11, 0, 14, 9, 2, 7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10,
        8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
    ],
];

/// One bit per byte, most significant first (bit 1 of FIPS 46 is index 0).
pub(super) type Bits64 = [u8; 64];
type Subkeys = [[u8; 48]; 16];

pub(super) fn key_schedule(key: &Bits64) -> Subkeys {
    let mut c = PC1_C.map(|p| key[usize::from(p) - 1]);
    let mut d = PC1_D.map(|p| key[usize::from(p) - 1]);
    let mut subkeys = [[0u8; 48]; 16];
    for (subkey, &shift) in subkeys.iter_mut().zip(&SHIFTS) {
        c.rotate_left(usize::from(shift));
        d.rotate_left(usize::from(shift));
        *subkey = PC2.map(|p| {
            let p = usize::from(p) - 1;
            if p < 28 { c[p] } else { d[p - 28] }
        });
    }
    subkeys
}

/// DES encryption of one block with the (possibly salt-permuted) expansion table `e`.
pub(super) fn encrypt(block: &Bits64, subkeys: &Subkeys, e: &[u8; 48]) -> Bits64 {
    let permuted = IP.map(|p| block[usize::from(p) - 1]);
    let mut l: [u8; 32] = permuted[..32].try_into().expect("32 bits");
    let mut r: [u8; 32] = permuted[32..].try_into().expect("32 bits");
    for subkey in subkeys {
        let mut expanded = [0u8; 48];
        for (i, x) in expanded.iter_mut().enumerate() {
            *x = r[usize::from(e[i]) - 1] ^ subkey[i];
        }
        let mut substituted = [0u8; 32];
        for (s, six) in expanded.chunks_exact(6).enumerate() {
            let row = (six[0] << 1) | six[5];
            let col = (six[1] << 3) | (six[2] << 2) | (six[3] << 1) | six[4];
            let v = S[s][usize::from(row * 16 + col)];
            for k in 0..4 {
                substituted[4 * s + k] = (v >> (3 - k)) & 1;
            }
        }
        let f = P.map(|p| substituted[usize::from(p) - 1]);
        let mut next_r = [0u8; 32];
        for i in 0..32 {
            next_r[i] = l[i] ^ f[i];
        }
        l = r;
        r = next_r;
    }
    let mut preoutput = [0u8; 64];
    preoutput[..32].copy_from_slice(&r);
    preoutput[32..].copy_from_slice(&l);
    FP.map(|p| preoutput[usize::from(p) - 1])
}

/// `crypt(3)` with a 2-character salt from [`ALPHABET`]; returns the 13-character result.
fn crypt(secret: &[u8], salt: [u8; 2]) -> [u8; 13] {
    // Key: 7 bits of each of the first 8 bytes (up to a NUL, as C strings end), parity 0.
    let mut key = [0u8; 64];
    for (i, &c) in secret.iter().take_while(|&&c| c != 0).take(8).enumerate() {
        for j in 0..7 {
            key[8 * i + j] = (c >> (6 - j)) & 1;
        }
    }
    let subkeys = key_schedule(&key);
    // Salt bit `6 * i + j` (bit j of character i) swaps expansion outputs k and k + 24.
    let mut e = E;
    for (i, &c) in salt.iter().enumerate() {
        let v = value(c).unwrap_or(0);
        for j in 0..6 {
            if (v >> j) & 1 == 1 {
                e.swap(6 * i + j, 6 * i + j + 24);
            }
        }
    }
    let mut block = [0u8; 64];
    for _ in 0..25 {
        block = encrypt(&block, &subkeys, &e);
    }
    let mut out = [0u8; 13];
    out[..2].copy_from_slice(&salt);
    for (i, o) in out[2..].iter_mut().enumerate() {
        let mut c = 0usize;
        for j in 0..6 {
            let bit = 6 * i + j;
            c = (c << 1) | usize::from(block.get(bit).copied().unwrap_or(0));
        }
        *o = ALPHABET[c];
    }
    out
}
