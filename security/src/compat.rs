//! What a running Flask-Security 1.7.4 app handed out, read back when `SECURITY_FLASK_COMPAT`
//! is on (spec §8, §15.3).
//!
//! 1.7.4's tokens use the same itsdangerous format, key and salts as this library's, so their
//! signatures already verify; what differs is the payload. 1.7.4 binds an authentication token,
//! a remember cookie and a reset link to `md5_hex(stored password)`, a confirmation link to
//! `md5_hex(email)`, and a login link to nothing but the user id. This module recognises those
//! payloads; the callers decide what each may do (see `docs/migrating-from-flask-security.md`).

use md5::{Digest, Md5};

use crate::cookie_codec::constant_time_eq;
use crate::session::Flash;

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

fn md5_hex(text: &str) -> String {
    let digest = Md5::digest(text.as_bytes());
    let mut hex = String::with_capacity(32);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// The user id that Flask-Login put in a (verified, decoded) Flask session: `user_id`, a string
/// (`unicode(user.id)`) or, written by other code, a number.
pub(crate) fn session_user_id(session: &serde_json::Value) -> Option<String> {
    match session.get("user_id")? {
        serde_json::Value::String(id) => Some(id.clone()),
        serde_json::Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

/// The messages flashed into a Flask session and not shown yet (`_flashes`: a list of
/// `(category, message)` pairs).
pub(crate) fn session_flashes(session: &serde_json::Value) -> Vec<Flash> {
    let Some(serde_json::Value::Array(items)) = session.get("_flashes") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item.as_array()?.as_slice() {
            [
                serde_json::Value::String(category),
                serde_json::Value::String(message),
            ] => Some(Flash {
                category: category.clone(),
                message: message.clone(),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn md5_hex_matches_spec_8_4() {
        assert_eq!(md5_hex("password"), "5f4dcc3b5aa765d61d8327deb882cf99");
        assert_eq!(md5_hex("matt@lp.com"), "04cdcefc85ee85a5ace4c9427714c06c");
    }

    #[test]
    fn payload_shapes() {
        let md5_pw = "5f4dcc3b5aa765d61d8327deb882cf99";
        let md5_mail = "04cdcefc85ee85a5ace4c9427714c06c";
        let pw = LegacyPayload::PasswordDigest;
        assert!(pw.matches(&owned(&["1", md5_pw]), "matt@lp.com", Some("password")));
        assert!(!pw.matches(&owned(&["1", md5_pw]), "matt@lp.com", Some("passworD")));
        assert!(!pw.matches(&owned(&["1", md5_pw]), "matt@lp.com", None));
        assert!(!pw.matches(&owned(&["1", md5_pw, "x"]), "matt@lp.com", Some("password")));
        assert!(!pw.matches(&owned(&["1"]), "matt@lp.com", Some("password")));
        let mail = LegacyPayload::EmailDigest;
        assert!(mail.matches(&owned(&["1", md5_mail]), "matt@lp.com", None));
        // 1.7.4 hashed the address as stored: another spelling is another address.
        assert!(!mail.matches(&owned(&["1", md5_mail]), "Matt@lp.com", None));
        let id = LegacyPayload::IdOnly;
        assert!(id.matches(&owned(&["1"]), "matt@lp.com", None));
        assert!(!id.matches(&owned(&["1", md5_pw]), "matt@lp.com", None));
    }

    #[test]
    fn flask_session_contents() {
        let session = serde_json::json!({
            "user_id": "7", "_fresh": true, "_id": "abc",
            "_flashes": [["success", "Saved."], ["bad"], 3],
        });
        assert_eq!(session_user_id(&session).as_deref(), Some("7"));
        assert_eq!(
            session_user_id(&serde_json::json!({"user_id": 7})).as_deref(),
            Some("7")
        );
        assert_eq!(session_user_id(&serde_json::json!({"user_id": null})), None);
        assert_eq!(session_user_id(&serde_json::json!({"_fresh": true})), None);
        let flashes = session_flashes(&session);
        assert_eq!(flashes.len(), 1);
        assert_eq!(
            (flashes[0].category.as_str(), flashes[0].message.as_str()),
            ("success", "Saved.")
        );
    }
}
