//! Flask-Security 1.7.4's token payloads, recognised with `SECURITY_FLASK_COMPAT`.
//!
//! 1.7.4's tokens use the same itsdangerous format, key and salts as this library's, so their
//! signatures already verify; what differs is the payload. 1.7.4 binds an authentication token,
//! a remember cookie and a reset link to `md5_hex(stored password)`, a confirmation link to
//! `md5_hex(email)`, and a login link to nothing but the user id.

use md5::{Digest, Md5};

use crate::crypto::cookie_codec::constant_time_eq;

/// What the second payload element of a 1.7.4 token was made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LegacyPayload {
    /// `[id, md5_hex(stored password)]`: authentication tokens, remember cookies, reset links.
    PasswordDigest,
    /// `[id, md5_hex(email)]`: confirmation links.
    EmailDigest,
    /// `[id]`: passwordless login links.
    IdOnly,
}

impl LegacyPayload {
    /// Whether `payload` (already signature-checked) is a 1.7.4 token of this kind for a user
    /// with `email` and the stored `password`, compared in constant time.
    pub(crate) fn matches(self, payload: &[String], email: &str, password: Option<&str>) -> bool {
        match (self, payload) {
            (LegacyPayload::PasswordDigest, [_, digest]) => {
                // 1.7.4 could not issue these for a user without a password.
                password.is_some_and(|p| md5_matches(p, digest))
            }
            (LegacyPayload::EmailDigest, [_, digest]) => md5_matches(email, digest),
            (LegacyPayload::IdOnly, [_]) => true,
            _ => false,
        }
    }
}

/// `md5_hex(text) == digest`, in constant time (1.7.4's `md5(value)`: UTF-8, lower-case hex).
fn md5_matches(text: &str, digest: &str) -> bool {
    let hex = md5_hex(text);
    constant_time_eq(hex.as_bytes(), digest.as_bytes())
}

pub(crate) fn md5_hex(text: &str) -> String {
    let digest = Md5::digest(text.as_bytes());
    let mut hex = String::with_capacity(32);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}
