//! Signed, timestamped tokens: a byte-exact port of itsdangerous 0.24's
//! `URLSafeTimedSerializer`, the serializer behind every Flask-Security 1.7.4 token (auth token,
//! remember cookie, confirmation, reset and passwordless-login links; `flask_security/core.py`
//! builds one per salt), plus a reader for Flask 0.10's `session` cookie
//! (`flask.sessions.SecureCookieSessionInterface`) so that sessions issued by a running Python
//! instance can be honoured during a migration.
//!
//! Token format (itsdangerous's): `p + "." + ts + "." + sig` where `p` is the URL-safe base64 (no
//! padding) of the compact JSON payload (zlib-compressed and prefixed by `.` when that is
//! shorter), `ts` the big-endian seconds since 2011-01-01 without leading zero bytes, and `sig`
//! the HMAC-SHA1 of `p.ts` under `SHA1(salt ‖ "signer" ‖ secret_key)`.
//!
//! What stays with the caller: which salt a purpose uses, the max age, and everything about the
//! user the payload names (Flask-Security's `get_token_status`).
//!
//! Written by hand over `hmac`, `sha1`, `base64` and `miniz_oxide`: the tokens must be
//! byte-exact with itsdangerous 0.24 (its key derivation, its epoch, Python's `ensure_ascii`
//! JSON, the optional zlib prefix) so that links and cookies issued by a Flask instance keep
//! working and the reverse, and no Rust crate implements those formats.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// itsdangerous' epoch: 2011-01-01T00:00:00Z, in Unix seconds.
const EPOCH: i64 = 1_293_840_000;

/// Inflated payloads larger than this are refused (a cookie or a link never comes close; the
/// bound keeps a hostile "zip bomb" payload from allocating much).
const MAX_INFLATED: usize = 256 * 1024;

/// The salt Flask 0.10 uses for its session cookie serializer.
const FLASK_SESSION_SALT: &[u8] = b"cookie-session";

type HmacSha1 = Hmac<Sha1>;

/// Seconds since the Unix epoch; tests inject it.
pub trait Clock: Send + Sync + 'static {
    /// The current time, in whole seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> i64;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(elapsed) => i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        }
    }
}

/// The wall clock moved by a fixed offset: it starts at a chosen time and then advances in real
/// time. For tests and staging runs against tokens made at a known time (e.g. the 1.7.4
/// migration fixtures).
///
/// ```
/// use security::token::{Clock, OffsetClock, SystemClock};
///
/// let clock = OffsetClock::starting_at(1_795_667_844);
/// assert!((clock.now() - 1_795_667_844).abs() <= 1);
/// assert!(OffsetClock::default().now() >= SystemClock.now() - 1);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct OffsetClock {
    offset: i64,
}

impl OffsetClock {
    /// A clock that reads `start` (unix seconds) now.
    pub fn starting_at(start: i64) -> Self {
        OffsetClock {
            offset: start.saturating_sub(SystemClock.now()),
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> i64 {
        SystemClock.now().saturating_add(self.offset)
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Bad signature (tampered, truncated, another `SECRET_KEY` or salt), malformed token, or a
    /// payload that is not what was expected. Takes precedence over expiry.
    #[error("invalid token")]
    Invalid,
    /// Correctly signed but older than the max age. The payload is still decoded, as
    /// Flask-Security's `get_token_status` does, so the caller can name the user (for example to
    /// send fresh instructions).
    #[error("expired token")]
    Expired {
        /// The decoded payload.
        payload: Vec<String>,
        /// Age of the token in seconds (always greater than the max age it was checked against).
        age: u64,
    },
}

/// itsdangerous 0.24 `URLSafeTimedSerializer` with a JSON payload (a list of strings, which is
/// all Flask-Security signs), `django-concat` key derivation and HMAC-SHA1.
///
/// Tokens are byte-for-byte those of Flask-Security 1.7.4 for the same `SECRET_KEY`, salt and
/// second, so either implementation accepts the other's during a cut-over.
///
/// ```
/// use security::token::Serializer;
///
/// let s = Serializer::new("secret", "remember-salt");
/// let token = s.dumps(&["1"], 1_413_840_000);
/// assert_eq!(token, "WyIxIl0.BycOAA.y9TXkqzqzta_XbcMgMzb9c_-Ar0");
/// assert_eq!(s.loads(&token, None, 1_413_840_000).unwrap(), vec!["1".to_string()]);
/// ```
#[derive(Clone)]
pub struct Serializer {
    /// HMAC-SHA1 key: `SHA1(salt ‖ "signer" ‖ secret)` for Flask-Security tokens,
    /// `HMAC-SHA1(secret, "cookie-session")` for Flask session cookies.
    signing_key: [u8; 20],
}

impl fmt::Debug for Serializer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serializer").finish_non_exhaustive()
    }
}

/// A verified token before its payload is parsed.
enum Unsigned {
    Fresh(Vec<u8>),
    Expired(Vec<u8>, u64),
}

impl Serializer {
    /// A serializer for one purpose: Flask-Security's `URLSafeTimedSerializer(secret_key,
    /// salt=salt)` (salts `SECURITY_REMEMBER_SALT`, `..._CONFIRM_SALT`, `..._RESET_SALT`,
    /// `..._LOGIN_SALT`).
    pub fn new(secret_key: &str, salt: &str) -> Self {
        let digest = Sha1::new()
            .chain_update(salt.as_bytes())
            .chain_update(b"signer")
            .chain_update(secret_key.as_bytes())
            .finalize();
        let mut signing_key = [0u8; 20];
        signing_key.copy_from_slice(&digest);
        Self { signing_key }
    }

    /// Flask 0.10's session serializer: key derivation `hmac` with the salt `cookie-session`.
    fn flask_session(secret_key: &str) -> Self {
        let mut signing_key = [0u8; 20];
        signing_key.copy_from_slice(&hmac_sha1(secret_key.as_bytes(), FLASK_SESSION_SALT));
        Self { signing_key }
    }

    /// Signs `payload` (serialized as a compact, ASCII-escaped JSON array of strings) at time
    /// `now` (Unix seconds).
    ///
    /// Identical to itsdangerous 0.24's output for every payload that zlib cannot shrink, which
    /// covers every Flask-Security payload (ids and hex digests). A compressible payload is
    /// compressed as the recipe says, but by miniz_oxide rather than CPython's zlib, so its bytes
    /// may differ from Python's while still loading in both.
    pub fn dumps(&self, payload: &[&str], now: i64) -> String {
        self.sign_json(&python_json_list(payload), now)
    }

    /// itsdangerous' `URLSafeTimedSerializer.dumps` of an already serialized JSON text.
    fn sign_json(&self, json: &str, now: i64) -> String {
        let mut p = String::new();
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(json.as_bytes(), 6);
        if compressed.len() < json.len().saturating_sub(1) {
            p.push('.');
            p.push_str(&URL_SAFE_NO_PAD.encode(&compressed));
        } else {
            p.push_str(&URL_SAFE_NO_PAD.encode(json.as_bytes()));
        }
        let ts = u64::try_from(now.saturating_sub(EPOCH)).unwrap_or(0);
        let ts_bytes = ts.to_be_bytes();
        let first = ts_bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(ts_bytes.len());
        let value = format!("{p}.{}", URL_SAFE_NO_PAD.encode(&ts_bytes[first..]));
        let sig = URL_SAFE_NO_PAD.encode(hmac_sha1(&self.signing_key, value.as_bytes()));
        format!("{value}.{sig}")
    }

    /// Verifies `token` (signature in constant time, then age) and returns its payload.
    ///
    /// `max_age` `None` means no expiry (auth tokens and remember cookies in 1.7.4). A token
    /// exactly `max_age` seconds old is still valid; one second more is expired. A token dated in
    /// the future is accepted, as itsdangerous does.
    ///
    /// # Errors
    /// [`TokenError::Invalid`] for a bad signature, a malformed token or a payload that is not a
    /// JSON array of strings — also when the token is old as well; [`TokenError::Expired`] (with
    /// the decoded payload) for a correctly signed token older than `max_age`.
    pub fn loads(
        &self,
        token: &str,
        max_age: Option<u64>,
        now: i64,
    ) -> Result<Vec<String>, TokenError> {
        match self.unsign(token, max_age, now)? {
            Unsigned::Fresh(json) => parse_string_list(&json).ok_or(TokenError::Invalid),
            Unsigned::Expired(json, age) => {
                let payload = parse_string_list(&json).ok_or(TokenError::Invalid)?;
                Err(TokenError::Expired { payload, age })
            }
        }
    }

    /// Verifies `token`'s signature and returns its payload and when it was signed (Unix
    /// seconds), whatever its age: for a caller that checks the age itself (and may remember
    /// the answer, which does not depend on the time).
    ///
    /// # Errors
    /// [`TokenError::Invalid`] for a bad signature, a malformed token or a payload that is not a
    /// JSON array of strings.
    pub fn loads_issued(&self, token: &str) -> Result<(Vec<String>, i64), TokenError> {
        let (p, age) = self.verify(token, EPOCH)?;
        let issued = i64::try_from(i128::from(EPOCH) - age).map_err(|_| TokenError::Invalid)?;
        let json = decode_payload(p).ok_or(TokenError::Invalid)?;
        Ok((parse_string_list(&json).ok_or(TokenError::Invalid)?, issued))
    }

    /// How old a correctly signed token is at `now`, in seconds (negative when dated in the
    /// future; saturating at the ends of `i64`).
    ///
    /// # Errors
    /// [`TokenError::Invalid`] for a bad signature or a malformed token.
    pub fn age(&self, token: &str, now: i64) -> Result<i64, TokenError> {
        let (_, age) = self.verify(token, now)?;
        let age = age.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
        Ok(i64::try_from(age).unwrap_or(0))
    }

    /// Checks the signature of `payload.timestamp.signature`: the payload part and the age at
    /// `now` in seconds.
    fn verify<'t>(&self, token: &'t str, now: i64) -> Result<(&'t str, i128), TokenError> {
        let (value, sig) = token.rsplit_once('.').ok_or(TokenError::Invalid)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| TokenError::Invalid)?;
        let expected = hmac_sha1(&self.signing_key, value.as_bytes());
        if !bool::from(expected.as_slice().ct_eq(&sig)) {
            return Err(TokenError::Invalid);
        }
        let (p, ts) = value.rsplit_once('.').ok_or(TokenError::Invalid)?;
        let ts_bytes = URL_SAFE_NO_PAD
            .decode(ts)
            .map_err(|_| TokenError::Invalid)?;
        if ts_bytes.len() > 8 {
            return Err(TokenError::Invalid);
        }
        let mut be = [0u8; 8];
        be[8 - ts_bytes.len()..].copy_from_slice(&ts_bytes);
        let issued = i128::from(u64::from_be_bytes(be));
        Ok((p, i128::from(now) - i128::from(EPOCH) - issued))
    }

    /// itsdangerous' `TimestampSigner.unsign` followed by `load_payload`'s decoding (base64,
    /// optional zlib), leaving the JSON to the caller.
    fn unsign(&self, token: &str, max_age: Option<u64>, now: i64) -> Result<Unsigned, TokenError> {
        let (p, age) = self.verify(token, now)?;
        let expired_age = match max_age {
            Some(max) if age > i128::from(max) => Some(u64::try_from(age).unwrap_or(u64::MAX)),
            _ => None,
        };
        let json = decode_payload(p).ok_or(TokenError::Invalid)?;
        Ok(match expired_age {
            Some(age) => Unsigned::Expired(json, age),
            None => Unsigned::Fresh(json),
        })
    }
}

/// Reads (never writes) a Flask 0.10 `session` cookie signed with `SECRET_KEY` and returns its
/// contents as a JSON object, with Flask's tagged values decoded: `{" b": base64}` (byte string)
/// becomes the string it encodes (left tagged if it is not UTF-8), `{" t": [..]}` (tuple) an
/// array, `{" u": ..}`, `{" m": ..}` and `{" d": ..}` (UUID, Markup, HTTP date) their string.
///
/// `max_age` is Flask's `PERMANENT_SESSION_LIFETIME` (31 days by default: pass
/// `Some(2_678_400)`); Flask checks it for every session cookie, permanent or not.
///
/// # Errors
/// [`TokenError::Invalid`] for a bad signature (another `SECRET_KEY`, truncated, tampered), a
/// malformed cookie or contents that are not a JSON object; [`TokenError::Expired`] (with an
/// empty payload: the caller needs nothing from a dead session) when older than `max_age`.
pub fn load_flask_session(
    cookie: &str,
    secret_key: &str,
    max_age: Option<u64>,
    now: i64,
) -> Result<serde_json::Value, TokenError> {
    load_flask_session_issued(cookie, secret_key, max_age, now).map(|(session, _)| session)
}

/// [`load_flask_session`], also giving when Flask signed the cookie (unix seconds): Flask
/// re-signs its session cookie whenever the session changes, so this is the time of the last
/// change (a login at the latest).
///
/// # Errors
/// As [`load_flask_session`].
pub fn load_flask_session_issued(
    cookie: &str,
    secret_key: &str,
    max_age: Option<u64>,
    now: i64,
) -> Result<(serde_json::Value, i64), TokenError> {
    let issued = now.saturating_sub(Serializer::flask_session(secret_key).age(cookie, now)?);
    let json = match Serializer::flask_session(secret_key).unsign(cookie, max_age, now)? {
        Unsigned::Fresh(json) => json,
        Unsigned::Expired(_, age) => {
            return Err(TokenError::Expired {
                payload: Vec::new(),
                age,
            });
        }
    };
    let value: serde_json::Value =
        serde_json::from_slice(&json).map_err(|_| TokenError::Invalid)?;
    match untag(value) {
        object @ serde_json::Value::Object(_) => Ok((object, issued)),
        _ => Err(TokenError::Invalid),
    }
}

/// A Flask 0.10 session cookie holding `session` (a JSON object, written compactly and
/// untagged), signed with `secret_key` at `now`: what a Flask app with that key would have set.
/// For tests of a migration, and for tools that hand sessions over to a Flask app.
///
/// ```
/// use security::token::{dump_flask_session, load_flask_session};
///
/// let session = serde_json::json!({"user_id": "1", "_fresh": true});
/// let cookie = dump_flask_session(&session, "secret", 1_795_667_784);
/// assert_eq!(load_flask_session(&cookie, "secret", Some(2_678_400), 1_795_667_784).unwrap(), session);
/// ```
pub fn dump_flask_session(session: &serde_json::Value, secret_key: &str, now: i64) -> String {
    Serializer::flask_session(secret_key).sign_json(&session.to_string(), now)
}

/// Flask 0.10's `TaggedJSONSerializer.loads` object hook, applied bottom-up.
fn untag(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(untag).collect()),
        Value::Object(map) => {
            let map: serde_json::Map<String, Value> =
                map.into_iter().map(|(k, v)| (k, untag(v))).collect();
            if map.len() != 1 {
                return Value::Object(map);
            }
            let Some((tag, inner)) = map.iter().next() else {
                return Value::Object(map);
            };
            match (tag.as_str(), inner) {
                (" t", Value::Array(items)) => Value::Array(items.clone()),
                (" u" | " m" | " d", Value::String(s)) => Value::String(s.clone()),
                (" b", Value::String(b64)) => match STANDARD
                    .decode(b64)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                {
                    Some(text) => Value::String(text),
                    None => Value::Object(map),
                },
                _ => Value::Object(map),
            }
        }
        other => other,
    }
}

/// itsdangerous' `URLSafeSerializerMixin.load_payload` up to (not including) the JSON parse.
fn decode_payload(p: &str) -> Option<Vec<u8>> {
    match p.strip_prefix('.') {
        Some(compressed) => {
            let bytes = URL_SAFE_NO_PAD.decode(compressed).ok()?;
            miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&bytes, MAX_INFLATED).ok()
        }
        None => URL_SAFE_NO_PAD.decode(p).ok(),
    }
}

fn parse_string_list(json: &[u8]) -> Option<Vec<String>> {
    serde_json::from_slice::<Vec<String>>(json).ok()
}

fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    let mut mac =
        <HmacSha1 as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    let mut out = [0u8; 20];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// `json.dumps(list_of_strings, separators=(',', ':'))` as Python 2.7 writes it
/// (`ensure_ascii=True`: everything outside `' '..='~'` escaped, lower-case hex, UTF-16
/// surrogate pairs beyond the BMP).
fn python_json_list(items: &[&str]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in item.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                ' '..='~' => out.push(c),
                _ => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out.push('"');
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `now` for the reference tokens: the signer timestamp 120000000 is `now - EPOCH`.
    const A3_NOW: i64 = EPOCH + 120_000_000;
    const MD5_PASSWORD: &str = "5f4dcc3b5aa765d61d8327deb882cf99";

    /// Reference tokens as 1.7.4 wrote them: (salt, payload, token, signing key hex).
    const A3: &[(&str, &[&str], &str, &str)] = &[
        (
            "remember-salt",
            &["1", MD5_PASSWORD],
            "WyIxIiwiNWY0ZGNjM2I1YWE3NjVkNjFkODMyN2RlYjg4MmNmOTkiXQ.BycOAA.Mx6XMCMPpR7INZG3kbNnSRWIjq8",
            "667cffedf84f7c6f1cb6acdae1e041adcd09e917",
        ),
        (
            "remember-salt",
            &["1"],
            "WyIxIl0.BycOAA.y9TXkqzqzta_XbcMgMzb9c_-Ar0",
            "667cffedf84f7c6f1cb6acdae1e041adcd09e917",
        ),
        (
            "confirm-salt",
            &["1", MD5_PASSWORD],
            "WyIxIiwiNWY0ZGNjM2I1YWE3NjVkNjFkODMyN2RlYjg4MmNmOTkiXQ.BycOAA.GYy6D91n9WrEeM3JxEZaK1RTv0Q",
            "615a7bae7fcc66a9e14c14489b644feb5ec19293",
        ),
        (
            "confirm-salt",
            &["1"],
            "WyIxIl0.BycOAA.QHs_cWUZ54C-L_wwN3Gv3hVc6Rg",
            "615a7bae7fcc66a9e14c14489b644feb5ec19293",
        ),
        (
            "reset-salt",
            &["1", MD5_PASSWORD],
            "WyIxIiwiNWY0ZGNjM2I1YWE3NjVkNjFkODMyN2RlYjg4MmNmOTkiXQ.BycOAA.lhIyrWkqX7dUchRLZSczjvflYKU",
            "42b22183ab01a802c6a985742906fed1dc74c627",
        ),
        (
            "reset-salt",
            &["1"],
            "WyIxIl0.BycOAA.H5B1RPFSZR4LkFI3SN-UBNLIZV4",
            "42b22183ab01a802c6a985742906fed1dc74c627",
        ),
        (
            "login-salt",
            &["1", MD5_PASSWORD],
            "WyIxIiwiNWY0ZGNjM2I1YWE3NjVkNjFkODMyN2RlYjg4MmNmOTkiXQ.BycOAA.9g1qj9Uk7fPGxmdGTJptnRpSF_U",
            "86033f0f29f0ffd5f27f33a2e57be35a6b22974b",
        ),
        (
            "login-salt",
            &["1"],
            "WyIxIl0.BycOAA.Y4g3HmEsNSPt6l9uD4VHatSpbRo",
            "86033f0f29f0ffd5f27f33a2e57be35a6b22974b",
        ),
    ];

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn owned(payload: &[&str]) -> Vec<String> {
        payload.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn appendix_a3_signing_keys() {
        for (salt, _, _, key) in A3 {
            assert_eq!(
                hex(&Serializer::new("secret", salt).signing_key),
                *key,
                "{salt}"
            );
        }
    }

    #[test]
    fn appendix_a3_dumps_byte_exact() {
        for (salt, payload, token, _) in A3 {
            let s = Serializer::new("secret", salt);
            assert_eq!(s.dumps(payload, A3_NOW), *token, "{salt} {payload:?}");
        }
    }

    #[test]
    fn appendix_a3_loads() {
        for (salt, payload, token, _) in A3 {
            let s = Serializer::new("secret", salt);
            assert_eq!(s.loads(token, None, A3_NOW), Ok(owned(payload)), "{salt}");
            // Long after, with no max age: still valid (1.7.4 auth tokens never expire).
            assert_eq!(
                s.loads(token, None, 1_800_000_000),
                Ok(owned(payload)),
                "{salt}"
            );
        }
    }

    #[test]
    fn spec_8_4_payload_prefix() {
        let token = Serializer::new("secret", "reset-salt").dumps(&["1", MD5_PASSWORD], A3_NOW);
        assert!(token.starts_with("WyIxIiwiNWY0ZGNjM2I1YWE3NjVkNjFkODMyN2RlYjg4MmNmOTkiXQ."));
    }

    #[test]
    fn expiry_boundary_exactly_max_age_is_valid() {
        let s = Serializer::new("secret", "confirm-salt");
        let token = s.dumps(&["7", "abc"], A3_NOW);
        let max = 5 * 24 * 3600;
        assert_eq!(
            s.loads(&token, Some(max), A3_NOW + 5 * 24 * 3600),
            Ok(owned(&["7", "abc"]))
        );
        assert_eq!(
            s.loads(&token, Some(max), A3_NOW + 5 * 24 * 3600 + 1),
            Err(TokenError::Expired {
                payload: owned(&["7", "abc"]),
                age: max + 1
            })
        );
        assert_eq!(s.loads(&token, Some(0), A3_NOW), Ok(owned(&["7", "abc"])));
        assert!(matches!(
            s.loads(&token, Some(0), A3_NOW + 1),
            Err(TokenError::Expired { age: 1, .. })
        ));
        // A token from the future is not expired (itsdangerous does the same).
        assert_eq!(
            s.loads(&token, Some(10), A3_NOW - 100),
            Ok(owned(&["7", "abc"]))
        );
    }

    #[test]
    fn tampered_tokens_are_invalid_even_when_old() {
        let s = Serializer::new("secret", "remember-salt");
        let good = "WyIxIiwiNWY0ZGNjM2I1YWE3NjVkNjFkODMyN2RlYjg4MmNmOTkiXQ.BycOAA.Mx6XMCMPpR7INZG3kbNnSRWIjq8";
        // Payload claiming user 2, original signature.
        let tampered_payload = good.replacen("WyIxIi", "WyIyIi", 1);
        // Signature with one character changed.
        let tampered_sig = good.replace("Mx6XMCMP", "Mx6XMCMQ");
        // Timestamp changed (also signed).
        let tampered_ts = good.replace(".BycOAA.", ".BycOAB.");
        let cases: Vec<(&str, String)> = vec![
            ("tampered payload", tampered_payload),
            ("tampered signature", tampered_sig),
            ("tampered timestamp", tampered_ts),
            ("truncated signature", good[..good.len() - 1].to_string()),
            ("no signature", good[..good.rfind('.').unwrap()].to_string()),
            ("payload only", "WyIxIl0".to_string()),
            ("empty", String::new()),
            ("dots", "..".to_string()),
            ("garbage", "not a token at all".to_string()),
            ("extra dot", format!("{good}.")),
            ("bad base64 signature", good.replace("Mx6XMCMP", "Mx6XMC!P")),
        ];
        for (name, token) in cases {
            for max_age in [None, Some(1)] {
                assert_eq!(
                    s.loads(&token, max_age, A3_NOW + 1_000_000),
                    Err(TokenError::Invalid),
                    "{name} (max_age {max_age:?})"
                );
            }
        }
    }

    #[test]
    fn wrong_salt_or_secret_is_invalid() {
        let token = Serializer::new("secret", "reset-salt").dumps(&["1"], A3_NOW);
        for (secret, salt) in [("secret", "confirm-salt"), ("other", "reset-salt")] {
            assert_eq!(
                Serializer::new(secret, salt).loads(&token, None, A3_NOW),
                Err(TokenError::Invalid),
                "{secret} {salt}"
            );
        }
    }

    #[test]
    fn signed_payload_that_is_not_a_string_list_is_invalid() {
        let s = Serializer::new("secret", "login-salt");
        for json in [r#"{"a":1}"#, "[1]", "not json", r#"["a","#] {
            let value = format!("{}.BycOAA", URL_SAFE_NO_PAD.encode(json));
            let sig = URL_SAFE_NO_PAD.encode(hmac_sha1(&s.signing_key, value.as_bytes()));
            let token = format!("{value}.{sig}");
            assert_eq!(
                s.loads(&token, None, A3_NOW),
                Err(TokenError::Invalid),
                "{json}"
            );
            assert_eq!(
                s.loads(&token, Some(0), A3_NOW + 5),
                Err(TokenError::Invalid),
                "{json}"
            );
        }
    }

    #[test]
    fn json_escaping_matches_python() {
        assert_eq!(
            python_json_list(&["a\"b\\c", "é", "😀", "\u{7f}\u{1}\t\n"]),
            r#"["a\"b\\c","\u00e9","\ud83d\ude00","\u007f\u0001\t\n"]"#
        );
        let s = Serializer::new("secret", "login-salt");
        let payload = ["é😀\"", "x"];
        let token = s.dumps(&payload, A3_NOW);
        assert_eq!(s.loads(&token, None, A3_NOW), Ok(owned(&payload)));
    }

    #[test]
    fn compressible_payloads_round_trip_compressed() {
        let s = Serializer::new("secret", "login-salt");
        let long = "a".repeat(200);
        let token = s.dumps(&[&long, &long], A3_NOW);
        assert!(token.starts_with('.'), "{token}");
        assert_eq!(s.loads(&token, None, A3_NOW), Ok(owned(&[&long, &long])));
    }

    #[test]
    fn zlib_payload_written_by_python_loads() {
        // `.` + urlsafe_b64(zlib.compress(b'["' + b'a' * 100 + b'"]')), signed as
        // itsdangerous does at A3_NOW with ("secret", "login-salt") by CPython's zlib.
        let s = Serializer::new("secret", "login-salt");
        let value = ".eJyLVkqkA1CKBQD5Wibh.BycOAA";
        let sig = URL_SAFE_NO_PAD.encode(hmac_sha1(&s.signing_key, value.as_bytes()));
        let token = format!("{value}.{sig}");
        assert_eq!(s.loads(&token, None, A3_NOW), Ok(vec!["a".repeat(100)]));
    }

    #[test]
    fn timestamp_zero_and_before_epoch() {
        let s = Serializer::new("secret", "login-salt");
        let token = s.dumps(&["1"], EPOCH);
        assert!(token.starts_with("WyIxIl0.."), "{token}");
        assert_eq!(s.loads(&token, Some(10), EPOCH + 10), Ok(owned(&["1"])));
        let before = s.dumps(&["1"], 0);
        assert_eq!(before, token);
    }

    #[test]
    fn system_clock_is_recent() {
        assert!(SystemClock.now() > 1_700_000_000);
    }

    #[test]
    fn debug_does_not_leak_the_key() {
        let s = Serializer::new("secret", "login-salt");
        assert_eq!(format!("{s:?}"), "Serializer { .. }");
    }

    // ---- Fixtures written by the real Flask-Security 1.7.4 ----

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/flask-security-1.7.4/"
    );

    fn fixture(name: &str) -> Option<serde_json::Value> {
        let path = format!("{FIXTURES}{name}");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("cannot read the fixture {path}: {err}"));
        Some(serde_json::from_str(&text).expect("fixture is JSON"))
    }

    /// Reasons decided by the signature (the serializer); the others (`password_changed`,
    /// `user_deleted`, ...) are decided by the caller from the payload.
    const SIGNATURE_REASONS: &[&str] = &[
        "other_secret_key",
        "truncated",
        "tampered_payload",
        "tampered_signature",
        "wrong_salt",
    ];

    #[test]
    fn fixtures_tokens_from_flask_security_1_7_4() {
        let (Some(tokens), Some(secrets)) = (fixture("tokens.json"), fixture("secrets.json"))
        else {
            return;
        };
        let secret = secrets["SECRET_KEY"].as_str().unwrap();
        let now = secrets["made_at_unix"].as_i64().unwrap() + 60;
        let salt_of = |kind: &str| -> Option<&str> {
            let key = match kind {
                "auth_token" | "remember_cookie" => "SECURITY_REMEMBER_SALT",
                "confirm_token" => "SECURITY_CONFIRM_SALT",
                "reset_token" => "SECURITY_RESET_SALT",
                "login_token" => "SECURITY_LOGIN_SALT",
                _ => return None,
            };
            secrets[key].as_str()
        };
        let mut checked = 0;
        for entry in tokens["tokens"].as_array().unwrap() {
            let name = entry["name"].as_str().unwrap();
            let kind = entry["kind"].as_str().unwrap();
            let value = entry["value"].as_str().unwrap();
            let reason = entry["reason"].as_str().unwrap_or("");
            let max_age = entry["max_age_seconds"].as_u64();
            let signature_failure = SIGNATURE_REASONS.contains(&reason);
            if kind == "session_cookie" {
                let got = load_flask_session(value, secret, Some(31 * 24 * 3600), now);
                if matches!(reason, "other_secret_key" | "truncated") {
                    assert_eq!(got, Err(TokenError::Invalid), "{name}");
                } else {
                    let session = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                    let user_id = entry["user_id"].as_i64().unwrap().to_string();
                    assert_eq!(session["user_id"], serde_json::json!(user_id), "{name}");
                    assert_eq!(session["_fresh"], serde_json::json!(true), "{name}");
                    // `_id` was a tagged byte string: decoded to the md5 hex it holds.
                    let id = session["_id"].as_str().unwrap_or_else(|| panic!("{name}"));
                    assert_eq!(id.len(), 32, "{name}");
                }
                checked += 1;
                continue;
            }
            let Some(salt) = salt_of(kind) else {
                panic!("{name}: unknown kind {kind}");
            };
            let got = Serializer::new(secret, salt).loads(value, max_age, now);
            if signature_failure {
                assert_eq!(got, Err(TokenError::Invalid), "{name} ({reason})");
            } else {
                let payload: Vec<String> = serde_json::from_value(entry["payload"].clone())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(got, Ok(payload), "{name} ({reason})");
            }
            checked += 1;
        }
        assert_eq!(checked, 133);
    }

    #[test]
    fn fixture_sessions_expire_after_31_days() {
        let (Some(tokens), Some(secrets)) = (fixture("tokens.json"), fixture("secrets.json"))
        else {
            return;
        };
        let secret = secrets["SECRET_KEY"].as_str().unwrap();
        let made = secrets["made_at_unix"].as_i64().unwrap();
        let entry = tokens["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "session_cookie" && e["valid"] == true)
            .unwrap();
        let value = entry["value"].as_str().unwrap();
        let month = 31 * 24 * 3600;
        assert!(matches!(
            load_flask_session(value, secret, Some(month), made + month as i64 + 60),
            Err(TokenError::Expired { .. })
        ));
        assert!(load_flask_session(value, secret, None, made + 10 * month as i64).is_ok());
        assert_eq!(
            load_flask_session(value, "another-secret", Some(month), made),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn fixture_compressed_session_with_tagged_flashes() {
        let (Some(tokens), Some(secrets)) = (fixture("tokens.json"), fixture("secrets.json"))
        else {
            return;
        };
        let secret = secrets["SECRET_KEY"].as_str().unwrap();
        let now = secrets["made_at_unix"].as_i64().unwrap() + 60;
        let entry = tokens["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "walter.session_cookie.1")
            .unwrap();
        let value = entry["value"].as_str().unwrap();
        assert!(value.starts_with('.'));
        let session = load_flask_session(value, secret, Some(31 * 24 * 3600), now).unwrap();
        assert_eq!(
            session["_flashes"],
            serde_json::json!([["success", "Thank you. Your email has been confirmed."]])
        );
        assert_eq!(session["user_id"], "22");
    }
}
