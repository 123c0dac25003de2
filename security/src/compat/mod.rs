//! What a running Flask-Security 1.7.4 app handed out, read back when `SECURITY_FLASK_COMPAT`
//! is on.
//!
//! 1.7.4's tokens use the same itsdangerous format, key and salts as this library's, so their
//! signatures already verify; what differs is the payload. 1.7.4 binds an authentication token,
//! a remember cookie and a reset link to `md5_hex(stored password)`, a confirmation link to
//! `md5_hex(email)`, and a login link to nothing but the user id. This module recognises those
//! payloads ([`crate::tokens::legacy`]); the callers decide what each may do (see
//! `docs/migrating-from-flask-security.md`). This module keeps what 1.7.4 left in the
//! database and in Flask session cookies.

use sea_orm::{DatabaseConnection, DbErr, EntityTrait};

use crate::crypto::cookie_codec::{Signer, constant_time_eq};
use crate::store::model::SecurityUser;
use crate::store::schema::{flask_account, upsert_flask_account as upsert};

/// The accounts' password-change record (`security_flask_account`): the database and the key
/// of its digests.
pub(crate) struct FlaskAccounts<'a> {
    /// The app's database.
    pub db: &'a DatabaseConnection,
    /// The key of the password digests.
    pub key: &'a Signer,
}

impl FlaskAccounts<'_> {
    /// The digest of a password hash kept in `security_flask_account` (keyed: the table never
    /// holds the hash, nor a plain digest of it).
    fn password_digest(&self, hash: &str) -> String {
        self.key
            .fingerprint(&[b"flask-account-password", hash.as_bytes()])
    }
}

/// Whether a Flask session cookie of `user`, signed by Flask at `issued`, is still good: no
/// password change since. Changes made here are recorded when they happen
/// ([`record_password`]); a change made by the Flask app itself shows as a hash that differs
/// from the one recorded, and counts from the moment it is seen (a cookie Flask signed between
/// the change and then is refused too: its user logs in again).
///
/// # Errors
/// A database failure.
pub(crate) async fn flask_session_current<U: SecurityUser>(
    accounts: &FlaskAccounts<'_>,
    user: &U,
    issued: i64,
    now: i64,
) -> Result<bool, DbErr> {
    let db = accounts.db;
    let user_id = user.id().to_string();
    let digest = accounts.password_digest(user.password().unwrap_or(""));
    let row = flask_account::Entity::find_by_id(user_id.clone())
        .one(db)
        .await?;
    match row {
        None => {
            upsert(db, user_id, digest, 0, false).await?;
            Ok(true)
        }
        Some(row) if constant_time_eq(row.password_digest.as_bytes(), digest.as_bytes()) => {
            Ok(issued > row.changed_at)
        }
        Some(_) => {
            tracing::info!(user = %user_id, "the password changed outside this app; Flask sessions signed before now end");
            upsert(db, user_id, digest, now, true).await?;
            Ok(false)
        }
    }
}

/// Records `hash` as the account's password hash, changed at `changed_at` (`None`: a re-hash of
/// the same password, which changes nothing for Flask sessions).
///
/// # Errors
/// A database failure.
pub(crate) async fn record_password<U: SecurityUser>(
    accounts: &FlaskAccounts<'_>,
    user: &U,
    hash: &str,
    changed_at: Option<i64>,
) -> Result<(), DbErr> {
    let digest = accounts.password_digest(hash);
    upsert(
        accounts.db,
        user.id().to_string(),
        digest,
        changed_at.unwrap_or(0),
        changed_at.is_some(),
    )
    .await
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
pub(crate) fn session_flashes(session: &serde_json::Value) -> Vec<(String, String)> {
    let Some(serde_json::Value::Array(items)) = session.get("_flashes") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item.as_array()?.as_slice() {
            [
                serde_json::Value::String(category),
                serde_json::Value::String(message),
            ] => Some((category.clone(), message.clone())),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::legacy::{LegacyPayload, md5_hex};

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

    /// Every token and cookie the real 1.7.4 wrote (the repository's fixtures), judged at
    /// the payload level as the runtime judges it, at the time the fixtures were made: valid
    /// exactly when 1.7.4 took it, except a reset link used already (refused: bound to the
    /// password hash, so a reset link works once). Whether a user may authenticate
    /// (inactive, unconfirmed) and single use are checked over HTTP by the conformance app's
    /// `flask_migration` tests.
    #[test]
    fn every_fixture_token_is_judged_as_documented() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/flask-security-1.7.4/"
        );
        let read = |name: &str| -> serde_json::Value {
            let text = std::fs::read_to_string(format!("{dir}{name}"))
                .unwrap_or_else(|err| panic!("cannot read the fixture {name}: {err}"));
            serde_json::from_str(&text).expect("fixture is JSON")
        };
        let (secrets, users, tokens) = (
            read("secrets.json"),
            read("users.json"),
            read("tokens.json"),
        );
        let secret = secrets["SECRET_KEY"].as_str().unwrap();
        let now = secrets["made_at_unix"].as_i64().unwrap();
        let user = |id: &str| {
            users["users"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["id"].as_i64() == id.parse::<i64>().ok())
        };
        let mut wrong = Vec::new();
        let mut counted = std::collections::BTreeMap::<&str, usize>::new();
        for token in tokens["tokens"].as_array().unwrap() {
            let kind = token["kind"].as_str().unwrap();
            let value = token["value"].as_str().unwrap();
            let flags = token["flags"].to_string();
            let (salt, shape, max_age) = match kind {
                "auth_token" | "remember_cookie" => (
                    "SECURITY_REMEMBER_SALT",
                    LegacyPayload::PasswordDigest,
                    None,
                ),
                "confirm_token" => (
                    "SECURITY_CONFIRM_SALT",
                    LegacyPayload::EmailDigest,
                    Some(5 * 86_400),
                ),
                "reset_token" => (
                    "SECURITY_RESET_SALT",
                    LegacyPayload::PasswordDigest,
                    Some(5 * 86_400),
                ),
                "login_token" => ("SECURITY_LOGIN_SALT", LegacyPayload::IdOnly, Some(86_400)),
                "session_cookie" => ("", LegacyPayload::IdOnly, Some(2_678_400)),
                other => panic!("unknown kind {other}"),
            };
            *counted.entry(kind).or_default() += 1;
            let id = if kind == "session_cookie" {
                crate::tokens::serializer::load_flask_session(value, secret, max_age, now)
                    .ok()
                    .as_ref()
                    .and_then(session_user_id)
            } else {
                let serializer = crate::tokens::serializer::Serializer::new(
                    secret,
                    secrets[salt].as_str().unwrap(),
                );
                serializer
                    .loads(value, max_age, now)
                    .ok()
                    .and_then(|payload| {
                        let user = user(payload.first()?)?;
                        shape
                            .matches(
                                &payload,
                                user["email"].as_str().unwrap(),
                                user["stored_password"].as_str(),
                            )
                            .then(|| payload[0].clone())
                    })
            };
            let accepted = id.as_deref().and_then(user).is_some();
            let expected = token["valid"].as_bool().unwrap()
                && !(kind == "reset_token" && flags.contains("already_used"));
            if accepted != expected {
                wrong.push(format!("{}: accepted {accepted}", token["name"]));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
        assert_eq!(counted.len(), 6, "{counted:?}");
        assert!(counted.values().sum::<usize>() >= 130, "{counted:?}");
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
            (flashes[0].0.as_str(), flashes[0].1.as_str()),
            ("success", "Saved.")
        );
    }
}
