//! PBKDF2 in passlib's format, `$pbkdf2-sha512$<rounds>$<salt>$<checksum>` (and
//! `$pbkdf2-sha256$`), with passlib's "adapted base64".

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD_NO_PAD};
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq as _;

use super::{HashError, MAX_ROUNDS, random_bytes, too_costly};

/// PBKDF2-SHA512 rounds for new hashes. passlib 1.6.2 wrote 19000; 25000 is passlib 1.7's
/// default, still readable by 1.7.4 (the rounds are part of the stored string).
const PBKDF2_SHA512_ROUNDS: u32 = 25_000;
/// Rounds for new pbkdf2_sha256 hashes (passlib 1.7's default; 1.6.2 wrote 20000).
const PBKDF2_SHA256_ROUNDS: u32 = 29_000;
/// The prefixes that identify the two digests' stored strings.
pub(super) const PBKDF2_SHA256_PREFIX: &str = "$pbkdf2-sha256$";
pub(super) const PBKDF2_SHA512_PREFIX: &str = "$pbkdf2-sha512$";

/// passlib's "adapted base64": standard alphabet, `.` instead of `+`, no padding.
const AB64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

pub(super) fn ab64_encode(bytes: &[u8]) -> String {
    STANDARD_NO_PAD.encode(bytes).replace('+', ".")
}

pub(super) fn ab64_decode(text: &str) -> Option<Vec<u8>> {
    AB64.decode(text.replace('.', "+")).ok()
}

/// The digest of a PBKDF2 hash.
#[derive(Clone, Copy)]
pub(super) enum Pbkdf2 {
    Sha256,
    Sha512,
}

impl Pbkdf2 {
    fn prefix(self) -> &'static str {
        match self {
            Pbkdf2::Sha256 => PBKDF2_SHA256_PREFIX,
            Pbkdf2::Sha512 => PBKDF2_SHA512_PREFIX,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Pbkdf2::Sha256 => 32,
            Pbkdf2::Sha512 => 64,
        }
    }

    pub(super) fn derive(self, secret: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
        match self {
            Pbkdf2::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(secret, salt, rounds, out),
            Pbkdf2::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(secret, salt, rounds, out),
        }
    }
}

pub(super) fn hash_pbkdf2_sha512(secret: &[u8]) -> Result<String, HashError> {
    let salt = random_bytes::<16>()?;
    let mut key = [0u8; 64];
    Pbkdf2::Sha512.derive(secret, &salt, PBKDF2_SHA512_ROUNDS, &mut key);
    Ok(format!(
        "{PBKDF2_SHA512_PREFIX}{PBKDF2_SHA512_ROUNDS}${}${}",
        ab64_encode(&salt),
        ab64_encode(&key)
    ))
}

pub(super) fn hash_pbkdf2_sha256(secret: &[u8]) -> Result<String, HashError> {
    let salt = random_bytes::<16>()?;
    let mut key = [0u8; 32];
    Pbkdf2::Sha256.derive(secret, &salt, PBKDF2_SHA256_ROUNDS, &mut key);
    Ok(format!(
        "{PBKDF2_SHA256_PREFIX}{PBKDF2_SHA256_ROUNDS}${}${}",
        ab64_encode(&salt),
        ab64_encode(&key)
    ))
}

/// `$pbkdf2-<digest>$<rounds>$<salt ab64>$<checksum ab64>`
pub(super) fn verify_pbkdf2(secret: &[u8], stored: &str, kind: Pbkdf2) -> bool {
    let parse = || {
        let mut fields = stored.strip_prefix(kind.prefix())?.split('$');
        let rounds = fields.next()?.parse::<u32>().ok().filter(|&r| r > 0)?;
        let salt = ab64_decode(fields.next()?)?;
        let checksum = ab64_decode(fields.next()?)?;
        (fields.next().is_none() && checksum.len() == kind.key_len())
            .then_some((rounds, salt, checksum))
    };
    let Some((rounds, salt, checksum)) = parse() else {
        return false;
    };
    if u64::from(rounds) > MAX_ROUNDS {
        return too_costly(kind.prefix(), "rounds", rounds.into());
    }
    let mut key = vec![0u8; kind.key_len()];
    kind.derive(secret, &salt, rounds, &mut key);
    key.ct_eq(&checksum).into()
}
