//! API keys (`SECURITY_API_KEYS`): their format, how a request presents one, and what the
//! runtime does to create, list, check and revoke them.
//!
//! A key is `<prefix>_<id>_<secret><checksum>` (GitHub's token format): the configured prefix
//! (`SECURITY_API_KEY_PREFIX`, `fsk` by default) so that secret scanners recognise a leaked
//! key, a public random lookup id (16 base62 characters, the table's primary key), the secret
//! (32 base62 characters, about 190 bits) and a CRC32 of everything before it (6 base62
//! characters). A key with another prefix or a wrong checksum is refused before any query; the
//! table holds only a keyed digest (HMAC under a key derived from `SECRET_KEY`) of the id and
//! secret, compared in constant time.
//!
//! A key is sent as `Authorization: Bearer <key>` and authenticates only handlers guarded with
//! the `api_key` mechanism (`#[auth_required("api_key")]`): never a session, a
//! `#[login_required]` or token-only handler, the account views (which read the session), or a
//! freshness check. Its user must still be allowed to authenticate (active, confirmed when
//! confirmation is required), so that deactivating or deleting the user stops its keys.
//!
//! Key rows are never cached: every request reads its key's row (one indexed query by primary
//! key), so a revocation holds on every instance at once; the user's identity comes from the
//! identity cache when it is on, and a revocation forgets it on every instance too.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use http::request::Parts;
use subtle::ConstantTimeEq;

use crate::events::Event;
use crate::store::api_keys::{self as table, api_key};
use crate::store::datastore::{DatastoreError, UserWithRoles};
use crate::store::model::SecurityUser;
use crate::web::runtime::Runtime;

/// Characters of the lookup id.
const ID_LEN: usize = 16;
/// Characters of the secret.
const SECRET_LEN: usize = 32;
/// Characters of the checksum (a CRC32 in base62).
const CHECK_LEN: usize = 6;
/// The longest name of a key, in characters.
pub(crate) const NAME_MAX: usize = 64;
/// A key's `last_used_at` is written at most this often (seconds).
const TOUCH_INTERVAL: i64 = 60;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// An API key as its owner sees it in the list: never the key or its digest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ApiKey {
    /// The public lookup id (the middle part of the key).
    pub id: String,
    /// The name its owner gave it.
    pub name: String,
    /// The start of the key (`<prefix>_<id>`), to tell keys apart: not secret.
    pub start: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working (`None`: never).
    pub expires_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked (`None`: not revoked).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key just created: the only time the key itself is available. Its `Debug` output leaves
/// the key out.
#[derive(Clone)]
#[non_exhaustive]
pub struct CreatedApiKey {
    /// What the list shows of it.
    pub info: ApiKey,
    /// The key, to show its owner once.
    pub key: String,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("info", &self.info)
            .field("key", &crate::crypto::redact::Redacted(Some(&self.key)))
            .finish()
    }
}

/// Why an API key was not created or revoked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiKeyError {
    /// The name is blank or longer than 64 characters.
    #[error("an API key needs a name of 1 to 64 characters")]
    NameInvalid,
    /// The user has an unrevoked key of that name.
    #[error("the user already has an API key named `{0}`")]
    NameTaken(String),
    /// The expiry is not in the future.
    #[error("an API key's expiry must be in the future")]
    ExpiryInvalid,
    /// The user has no unrevoked key with that id or name.
    #[error("no such API key")]
    NotFound,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
}

/// The key of an `Authorization: Bearer` header, if any.
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, key) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim())
        .filter(|k| !k.is_empty())
}

/// CRC-32 (IEEE 802.3, zlib's and GitHub's tokens'), bit by bit: a dozen lines for a typo
/// check that protects nothing secret, rather than one more dependency.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// `value` in `CHECK_LEN` base62 digits (62^6 > 2^32).
fn checksum(body: &str) -> String {
    let mut value = u64::from(crc32(body.as_bytes()));
    let mut out = [b'0'; CHECK_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `len` uniformly random base62 characters from the operating system's source.
fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf).expect("the operating system's random source failed");
        // 248 = 4 × 62: rejecting the top bytes keeps every character equally likely.
        for b in buf.iter().filter(|b| **b < 248) {
            if out.len() == len {
                break;
            }
            out.push(char::from(BASE62[usize::from(*b % 62)]));
        }
    }
    out
}

fn is_base62(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A new key under `prefix`: (key, id, secret).
fn generate(prefix: &str) -> (String, String, String) {
    let id = random_base62(ID_LEN);
    let secret = random_base62(SECRET_LEN);
    let body = format!("{prefix}_{id}_{secret}");
    let key = format!("{body}{}", checksum(&body));
    (key, id, secret)
}

/// The (id, secret) of a well-formed key under `prefix`: the prefix, the lengths, the alphabet
/// and the checksum all hold. Pure: no query.
fn parse<'a>(prefix: &str, key: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = key.strip_prefix(prefix)?.strip_prefix('_')?;
    let (id, tail) = rest.split_once('_')?;
    if id.len() != ID_LEN || tail.len() != SECRET_LEN + CHECK_LEN {
        return None;
    }
    if !is_base62(id) || !is_base62(tail) {
        return None;
    }
    let (secret, check) = tail.split_at(SECRET_LEN);
    let body = &key[..key.len() - CHECK_LEN];
    bool::from(checksum(body).as_bytes().ct_eq(check.as_bytes())).then_some((id, secret))
}

/// Unix seconds as a UTC time.
fn utc(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).single().unwrap_or_default()
}

impl<U: SecurityUser> Runtime<U> {
    /// The keyed digest stored for a key.
    fn api_key_digest(&self, id: &str, secret: &str) -> String {
        self.keyed_digest(&[b"api-key", id.as_bytes(), secret.as_bytes()])
    }

    fn api_key_info(&self, row: &api_key::Model) -> ApiKey {
        ApiKey {
            id: row.id.clone(),
            name: row.name.clone(),
            start: format!("{}_{}", self.config().api_key_prefix, row.id),
            created_at: utc(row.created_at),
            expires_at: row.expires_at.map(utc),
            last_used_at: row.last_used_at.map(utc),
            revoked_at: row.revoked_at.map(utc),
        }
    }

    /// The user of the request's `Authorization: Bearer` API key, if it is a valid key:
    /// well-formed under the configured prefix (checked before any query), known, with the
    /// right secret, neither revoked nor expired, of a user who may authenticate. Records the
    /// use (at most once a minute).
    pub(crate) async fn api_key_identity(
        &self,
        parts: &Parts,
    ) -> Result<Option<Arc<UserWithRoles<U>>>, DatastoreError> {
        let config = self.config();
        if !config.api_keys {
            return Ok(None);
        }
        let Some((id, secret)) = bearer(parts).and_then(|key| parse(&config.api_key_prefix, key))
        else {
            return Ok(None);
        };
        let db = self.datastore().connection();
        let Some(row) = table::find(db, id).await? else {
            return Ok(None);
        };
        let digest = self.api_key_digest(id, secret);
        let now = self.now();
        let matches = bool::from(digest.as_bytes().ct_eq(row.digest.as_bytes()));
        if !matches || row.revoked_at.is_some() || row.expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        let Ok(user_id) = row.user_id.parse::<U::Id>() else {
            return Ok(None);
        };
        let Some(found) = self.load_identity(&user_id).await? else {
            return Ok(None);
        };
        if !self.may_authenticate(&found.user) {
            return Ok(None);
        }
        if row.last_used_at.is_none_or(|at| at <= now - TOUCH_INTERVAL) {
            table::touch(db, id, now, TOUCH_INTERVAL).await?;
        }
        Ok(Some(found))
    }

    /// The user's keys, oldest first (revoked ones too).
    pub(crate) async fn list_api_keys(&self, user: &U) -> Result<Vec<ApiKey>, sea_orm::DbErr> {
        let rows = table::list(self.datastore().connection(), &user.id().to_string()).await?;
        Ok(rows.iter().map(|row| self.api_key_info(row)).collect())
    }

    /// Creates a key named `name` for `user`, expiring at `expires_at` (unix seconds), and
    /// emits [`Event::ApiKeyCreated`].
    pub(crate) async fn create_api_key(
        &self,
        user: &U,
        name: &str,
        expires_at: Option<i64>,
    ) -> Result<CreatedApiKey, ApiKeyError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX {
            return Err(ApiKeyError::NameInvalid);
        }
        let now = self.now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(ApiKeyError::ExpiryInvalid);
        }
        let db = self.datastore().connection();
        let user_id = user.id().to_string();
        let taken = table::list(db, &user_id)
            .await?
            .iter()
            .any(|row| row.revoked_at.is_none() && row.name == name);
        if taken {
            return Err(ApiKeyError::NameTaken(name.to_owned()));
        }
        let (key, id, secret) = generate(&self.config().api_key_prefix);
        let row = api_key::Model {
            digest: self.api_key_digest(&id, &secret),
            id,
            user_id,
            name: name.to_owned(),
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        table::insert(db, row.clone()).await?;
        tracing::info!(user = %user.id(), key_id = %row.id, "security: API key created");
        self.emit(Event::ApiKeyCreated {
            user: user.clone(),
            id: row.id.clone(),
            name: row.name.clone(),
        });
        Ok(CreatedApiKey {
            info: self.api_key_info(&row),
            key,
        })
    }

    /// Revokes the user's unrevoked key whose id (or, with `by_name`, name) is `which`, and
    /// emits [`Event::ApiKeyRevoked`].
    pub(crate) async fn revoke_api_key(
        &self,
        user: &U,
        which: &str,
        by_name: bool,
    ) -> Result<ApiKey, ApiKeyError> {
        let db = self.datastore().connection();
        let user_id = user.id().to_string();
        let row = table::list(db, &user_id)
            .await?
            .into_iter()
            .filter(|row| row.revoked_at.is_none())
            .find(|row| row.id == which || by_name && row.name == which)
            .ok_or(ApiKeyError::NotFound)?;
        let revoked = self
            .revoke_rows(
                user,
                std::slice::from_ref(&row),
                Some(std::slice::from_ref(&row.id)),
            )
            .await?;
        revoked.into_iter().next().ok_or(ApiKeyError::NotFound)
    }

    /// Revokes every unrevoked key of the user (for a reset of the account's access); the keys
    /// revoked.
    pub(crate) async fn revoke_all_api_keys(
        &self,
        user: &U,
    ) -> Result<Vec<ApiKey>, sea_orm::DbErr> {
        let db = self.datastore().connection();
        let rows: Vec<_> = table::list(db, &user.id().to_string())
            .await?
            .into_iter()
            .filter(|row| row.revoked_at.is_none())
            .collect();
        self.revoke_rows(user, &rows, None).await
    }

    /// Marks `rows` revoked (those among `ids`, or every unrevoked key of the user), forgets the
    /// user's cached identity on every instance, and emits one event per key.
    async fn revoke_rows(
        &self,
        user: &U,
        rows: &[api_key::Model],
        ids: Option<&[String]>,
    ) -> Result<Vec<ApiKey>, sea_orm::DbErr> {
        let now = self.now();
        let db = self.datastore().connection();
        let count = table::revoke(db, &user.id().to_string(), ids, now).await?;
        self.invalidate(&user.id());
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            tracing::info!(user = %user.id(), key_id = %row.id, "security: API key revoked");
            self.emit(Event::ApiKeyRevoked {
                user: user.clone(),
                id: row.id.clone(),
                name: row.name.clone(),
            });
            let mut info = self.api_key_info(row);
            info.revoked_at = Some(utc(now));
            out.push(info);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn a_generated_key_parses_back_to_its_id_and_secret() {
        let (key, id, secret) = generate("fsk");
        assert!(key.starts_with("fsk_"), "{key}");
        assert_eq!(key.len(), 4 + ID_LEN + 1 + SECRET_LEN + CHECK_LEN);
        assert_eq!(parse("fsk", &key), Some((id.as_str(), secret.as_str())));
        let (other, ..) = generate("fsk");
        assert_ne!(key, other);
    }

    #[test]
    fn a_wrong_prefix_checksum_or_shape_is_refused() {
        let (key, ..) = generate("fsk");
        assert_eq!(parse("abc", &key), None, "another prefix");
        assert_eq!(parse("fs", &key), None, "a shorter prefix");
        // One character of the secret changed: the checksum no longer matches.
        let mut bytes = key.clone().into_bytes();
        let at = 4 + ID_LEN + 1 + 3;
        bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
        assert_eq!(parse("fsk", &String::from_utf8(bytes).unwrap()), None);
        assert_eq!(parse("fsk", &key[..key.len() - 1]), None, "truncated");
        assert_eq!(parse("fsk", &format!("{key}x")), None, "too long");
        assert_eq!(parse("fsk", "fsk_"), None);
        assert_eq!(parse("fsk", ""), None);
    }

    #[test]
    fn a_prefix_with_an_underscore_works() {
        let (key, id, _) = generate("my_app");
        assert_eq!(parse("my_app", &key).map(|(i, _)| i), Some(id.as_str()));
    }

    #[test]
    fn bearer_reads_the_authorization_header() {
        let parts = |value: &str| {
            http::Request::builder()
                .header(http::header::AUTHORIZATION, value)
                .body(())
                .unwrap()
                .into_parts()
                .0
        };
        assert_eq!(bearer(&parts("Bearer fsk_x")), Some("fsk_x"));
        assert_eq!(bearer(&parts("bearer  fsk_x ")), Some("fsk_x"));
        assert_eq!(bearer(&parts("Basic Zm9vOmJhcg==")), None);
        assert_eq!(bearer(&parts("Bearer ")), None);
    }
}
