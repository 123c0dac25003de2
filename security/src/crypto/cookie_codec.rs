//! The port's own signed-value codec: what Flask's `SecureCookieSessionInterface` (itsdangerous
//! signing of the `session` cookie) does for Flask-Security 1.7.4, redone with HMAC-SHA256,
//! per-purpose keys and a version prefix. Stateless: any instance configured with the same
//! `SECRET_KEY` accepts what another signed.
//!
//! Also the small keyed helpers the rest of the crate shares: [`Signer::fingerprint`] (binding a
//! token to account state without revealing it, unlike 1.7.4's MD5 of the password hash),
//! [`random_token`] and [`constant_time_eq()`].
//!
//! Written by hand over `hmac`, `sha2` and `base64`: cookies already issued must stay valid, so
//! the format (`v1.` prefix, per-purpose keys derived from `SECRET_KEY`) is fixed, and the
//! `cookie` crate's signed jar has a format of its own, a key of its own (not `SECRET_KEY`) and
//! no purposes. The codec is a few lines around the HMAC; the cryptography is the crates'.
//!
//! ```
//! use security::cookie_codec::Signer;
//!
//! let signer = Signer::new(b"SECRET_KEY", "session");
//! let value = signer.sign(br#"{"sid":"abc"}"#);
//! assert!(value.starts_with("v1."));
//! assert_eq!(signer.verify(&value).as_deref(), Some(&br#"{"sid":"abc"}"#[..]));
//! assert_eq!(Signer::new(b"SECRET_KEY", "remember").verify(&value), None);
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Version prefix of every signed value (a future format gets `v2.`).
const VERSION: &str = "v1.";

/// HMAC-SHA256 of `message` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = keyed(key);
    mac.update(message);
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// The key for one purpose: `HMAC-SHA256(secret_key, "security:" + purpose)`.
pub(crate) fn derive_key(secret_key: &[u8], purpose: &str) -> [u8; 32] {
    hmac_sha256(secret_key, format!("security:{purpose}").as_bytes())
}

/// Signs and verifies values for one purpose (`"session"`, `"remember"`, ...): a value signed
/// for one purpose or under one `SECRET_KEY` never verifies for another.
///
/// Format: `v1.<base64url(payload)>.<base64url(HMAC-SHA256(key, "v1.<base64url(payload)>"))>`,
/// URL- and cookie-safe. The payload is signed, not encrypted: anyone holding the value can read
/// it.
#[derive(Clone)]
pub struct Signer {
    /// HMAC-SHA256 keyed by `HMAC-SHA256(secret_key, "security:" + purpose)`, its inner and
    /// outer pads already hashed: cloned for each value instead of being redone (half the
    /// hashing of a short cookie).
    mac: HmacSha256,
    /// The same keyed by `HMAC-SHA256(secret_key, "security:" + purpose + ":fingerprint")`,
    /// kept apart from `mac` so that a fingerprint can never serve as (part of) a signature.
    fingerprint_mac: HmacSha256,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for `purpose`, keyed by `secret_key` (the app's `SECRET_KEY`).
    pub fn new(secret_key: &[u8], purpose: &str) -> Self {
        Self {
            mac: keyed(&derive_key(secret_key, purpose)),
            fingerprint_mac: keyed(&derive_key(secret_key, &format!("{purpose}:fingerprint"))),
        }
    }

    /// HMAC-SHA256 of `message` under the purpose's key (what [`hmac_sha256`] computes).
    fn tag(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// Signs `payload` (bytes chosen by the caller, typically JSON).
    pub fn sign(&self, payload: &[u8]) -> String {
        let body = format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(payload));
        let tag = self.tag(body.as_bytes());
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The payload of a value this signer (same `SECRET_KEY`, same purpose) produced; `None` for
    /// anything else: another key or purpose, another version, any changed, added or missing
    /// character. The tag is checked in constant time before the payload is decoded.
    pub fn verify(&self, value: &str) -> Option<Vec<u8>> {
        let (body, tag) = value.rsplit_once('.')?;
        let encoded = body.strip_prefix(VERSION)?;
        if encoded.contains('.') {
            return None;
        }
        // A tag of another length than 32 bytes fails to decode into the buffer, or leaves
        // `len` short: refused either way, with no allocation.
        let mut decoded = [0u8; 32];
        let len = URL_SAFE_NO_PAD.decode_slice(tag, &mut decoded).ok()?;
        let expected = self.tag(body.as_bytes());
        if len != expected.len() || !constant_time_eq(&expected, &decoded) {
            return None;
        }
        URL_SAFE_NO_PAD.decode(encoded).ok()
    }

    /// A keyed digest of `parts` for binding a token to account state (password hash, e-mail,
    /// last login...) without revealing it (1.7.4 put an MD5 of the password hash in clear in its
    /// tokens): 32 lower-case hex characters (128 bits) of an HMAC-SHA256 under a key derived
    /// from `SECRET_KEY` and the purpose.
    ///
    /// Each part is length-prefixed, so `["ab", "c"]` and `["a", "bc"]` differ. Compare
    /// fingerprints with [`constant_time_eq()`].
    pub fn fingerprint(&self, parts: &[&[u8]]) -> String {
        let mut mac = self.fingerprint_mac.clone();
        for part in parts {
            mac.update(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
            mac.update(part);
        }
        let digest = mac.finalize().into_bytes();
        // Hex by table into one allocation: `format!` per byte was a tenth of a guarded
        // request's CPU time (two fingerprints a request).
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(32);
        for b in &digest[..16] {
            hex.push(char::from(HEX[usize::from(b >> 4)]));
            hex.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        hex
    }
}

/// The HMAC-SHA256 state keyed by `key`, ready for a message.
fn keyed(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// `bytes` random bytes from the operating system, base64url-encoded without padding (CSRF
/// secrets, session ids, nonces). 32 bytes give 43 characters.
///
/// # Panics
/// If the operating system has no usable random source (`getrandom` fails), which leaves no
/// safe way to go on.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    URL_SAFE_NO_PAD.encode(&buf)
}

/// Compares two byte strings in time that depends only on their lengths.
///
/// By machine words behind an optimisation barrier (the `constant_time_eq` crate): `subtle`'s
/// slice comparison puts a barrier after every byte, which costs about a nanosecond a byte,
/// and every guarded request compares its cookie's full text once.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    ::constant_time_eq::constant_time_eq(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"fixture-secret-key";

    #[test]
    fn round_trip() {
        let signer = Signer::new(SECRET, "session");
        for payload in [
            &b""[..],
            b"{}",
            br#"{"sid":"x","n":1}"#,
            &[0u8, 255, 10, 46],
        ] {
            let value = signer.sign(payload);
            assert!(value.starts_with("v1."), "{value}");
            assert_eq!(value.matches('.').count(), 2, "{value}");
            assert!(
                value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
                "{value}"
            );
            assert_eq!(signer.verify(&value).as_deref(), Some(payload));
        }
    }

    #[test]
    fn any_flipped_byte_is_refused() {
        let signer = Signer::new(SECRET, "session");
        let value = signer.sign(br#"{"user":"1","fresh":true}"#);
        for i in 0..value.len() {
            for flip in [0x01u8, 0x20] {
                let mut bytes = value.clone().into_bytes();
                bytes[i] ^= flip;
                let Ok(changed) = String::from_utf8(bytes) else {
                    continue;
                };
                assert_eq!(
                    signer.verify(&changed),
                    None,
                    "byte {i} ^ {flip:#x}: {changed}"
                );
            }
        }
    }

    #[test]
    fn truncated_extended_and_malformed_are_refused() {
        let signer = Signer::new(SECRET, "session");
        let value = signer.sign(b"payload");
        let (body, tag) = value.rsplit_once('.').unwrap();
        let cases = [
            value[..value.len() - 1].to_string(),
            format!("{value}A"),
            format!("{value}."),
            body.to_string(),
            format!("{body}."),
            format!("v2.{}", &value[3..]),
            value[3..].to_string(),
            format!("{body}.x.{tag}"),
            String::new(),
            "v1..".to_string(),
        ];
        for case in cases {
            assert_eq!(signer.verify(&case), None, "{case}");
        }
    }

    #[test]
    fn other_purpose_or_secret_is_refused() {
        let value = Signer::new(SECRET, "session").sign(b"payload");
        assert_eq!(Signer::new(SECRET, "remember").verify(&value), None);
        assert_eq!(Signer::new(b"other-secret", "session").verify(&value), None);
        assert_eq!(
            Signer::new(SECRET, "session").verify(&value).as_deref(),
            Some(&b"payload"[..])
        );
    }

    #[test]
    fn fingerprint_is_keyed_and_part_sensitive() {
        let a = Signer::new(SECRET, "reset");
        let fp = a.fingerprint(&[b"1", b"$2a$12$hash"]);
        assert_eq!(fp.len(), 32);
        assert!(
            fp.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(fp, a.fingerprint(&[b"1", b"$2a$12$hash"]), "deterministic");
        assert_ne!(fp, a.fingerprint(&[b"2", b"$2a$12$hash"]), "first part");
        assert_ne!(fp, a.fingerprint(&[b"1", b"$2a$12$hasH"]), "second part");
        assert_ne!(fp, a.fingerprint(&[b"1"]), "fewer parts");
        assert_ne!(fp, a.fingerprint(&[b"1$2a$12$hash"]), "joined parts");
        assert_ne!(
            a.fingerprint(&[b"ab", b"c"]),
            a.fingerprint(&[b"a", b"bc"]),
            "part boundaries"
        );
        assert_ne!(
            fp,
            Signer::new(b"other-secret", "reset").fingerprint(&[b"1", b"$2a$12$hash"]),
            "secret"
        );
        assert_ne!(
            fp,
            Signer::new(SECRET, "login").fingerprint(&[b"1", b"$2a$12$hash"]),
            "purpose"
        );
        // Not a plain (unkeyed) digest of the parts.
        use sha2::Digest;
        for plain in [
            Sha256::digest(b"1\x1f$2a$12$hash"),
            Sha256::digest(b"1$2a$12$hash"),
        ] {
            let plain: String = plain[..16].iter().map(|b| format!("{b:02x}")).collect();
            assert_ne!(fp, plain);
        }
        // Not (a prefix of) the signing tag either.
        let tag = a.tag(b"1\x1f$2a$12$hash");
        let tag: String = tag[..16].iter().map(|b| format!("{b:02x}")).collect();
        assert_ne!(fp, tag);
    }

    #[test]
    fn fingerprint_and_tag_are_the_hmacs_under_the_derived_keys() {
        // The formats of values already issued: the kept HMAC states and the hex table
        // compute what the plain functions do.
        let a = Signer::new(SECRET, "session");
        let key = derive_key(SECRET, "session:fingerprint");
        let mut message = Vec::new();
        for part in [&b"1"[..], b"a@example.com", b""] {
            message.extend_from_slice(&(part.len() as u64).to_be_bytes());
            message.extend_from_slice(part);
        }
        let expected: String = hmac_sha256(&key, &message)[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(a.fingerprint(&[b"1", b"a@example.com", b""]), expected);
        assert_eq!(
            a.tag(b"v1.e30"),
            hmac_sha256(&derive_key(SECRET, "session"), b"v1.e30")
        );
        let signed = a.sign(b"{}");
        let (body, tag) = signed.rsplit_once('.').unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(tag).unwrap(),
            hmac_sha256(&derive_key(SECRET, "session"), body.as_bytes())
        );
        // A tag cut short or lengthened is refused.
        assert_eq!(a.verify(&signed[..signed.len() - 1]), None);
        assert_eq!(a.verify(&format!("{signed}AA")), None);
        assert_eq!(a.verify(&format!("{body}.")), None);
    }

    #[test]
    fn random_tokens_are_url_safe_and_distinct() {
        let a = random_token(32);
        let b = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(random_token(0), "");
    }

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn debug_does_not_leak_keys() {
        assert_eq!(format!("{:?}", Signer::new(SECRET, "x")), "Signer { .. }");
    }
}
