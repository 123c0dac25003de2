//! The throttle store: counters in fixed windows and locks, shared by every instance of the
//! app, that the brute-force protection (`web/limits.rs`) counts requests, failures, mails
//! and account locks in.
//!
//! A store keeps, per key, a count and the time the count ends (`expires_at`, unix seconds).
//! Keys are keyed digests ([`ThrottleKey`]): no address, e-mail or account id is stored in
//! clear. Every operation is atomic on its key, so that parallel requests on several
//! instances lose no count.
//!
//! Implementations, one file each: the app's own database ([`DatabaseStore`], table
//! `security_throttle`, the default), Redis (`RedisStore`, cargo feature `redis`), and memory
//! ([`MemoryStore`], one process: tests and single-instance apps). A shared store is wrapped in
//! [`Resilient`], which decides what happens while it is unreachable.
//!
//! Nothing is stored in clear: a store keeps the digest the caller gives as the key (the
//! database row's `digest`, the Redis key `security:rl:<digest>`), a count and an end time.

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::DatabaseConnection;

use crate::config::ThrottleBackend;

mod database;
mod fallback;
mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use database::DatabaseStore;
pub use fallback::Resilient;
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;

/// A key of the throttle store: a keyed digest (hex) of what is counted (never the address,
/// e-mail or id itself).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ThrottleKey(String);

impl ThrottleKey {
    /// A key from a keyed digest made by the runtime (32 hex characters).
    pub(crate) fn from_digest(digest: String) -> Self {
        ThrottleKey(digest)
    }

    /// A key from a digest made elsewhere (an app's own counter, a test): 32 to 64 hexadecimal
    /// characters, lowercase, such as a hex SHA-256 or HMAC-SHA-256. Anything else is `None`,
    /// so that no address, e-mail or id reaches a store in clear by mistake.
    ///
    /// ```
    /// use security::throttle::ThrottleKey;
    ///
    /// let key = ThrottleKey::from_hex(&"ab".repeat(32)).unwrap();
    /// assert_eq!(key.as_str().len(), 64);
    /// assert!(ThrottleKey::from_hex("someone@example.com").is_none());
    /// ```
    pub fn from_hex(digest: &str) -> Option<Self> {
        let hex = (32..=64).contains(&digest.len())
            && digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        hex.then(|| ThrottleKey(digest.to_owned()))
    }

    /// The digest, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ThrottleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A digest tells nothing, but a short prefix is enough to follow a key in logs.
        write!(f, "ThrottleKey({}…)", &self.0[..self.0.len().min(8)])
    }
}

/// A live count: how many hits the key's window has seen, and when the window ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    /// Hits in the current window (a lock counts 1).
    pub count: u32,
    /// When the window (or lock) ends, unix seconds; the count is forgotten then.
    pub expires_at: i64,
}

impl Tally {
    /// Seconds until the window ends, at least 1 (what `Retry-After` says).
    pub fn retry_after(&self, now: i64) -> u64 {
        u64::try_from(self.expires_at.saturating_sub(now))
            .unwrap_or(0)
            .max(1)
    }
}

/// A failure of the store (database or Redis unreachable, a statement refused).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ThrottleError {
    /// The database failed.
    #[error("throttle store (database): {0}")]
    Database(#[from] sea_orm::DbErr),
    /// Redis failed.
    #[error("throttle store (redis): {0}")]
    Redis(String),
}

/// Where counters and locks live. Every method is atomic on its key.
///
/// `now` is the runtime's clock (unix seconds), so that an app (or a test) with another clock
/// sees windows end by that clock. (Redis keeps relative times: there a window lasts its
/// length in Redis's own time, and `now` only converts it to `expires_at`.) A `window` of 0
/// counts as 1 second, so that every window is live when it starts.
#[async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
    /// Counts one hit on `key`. When the key has no live window (none yet, or it ended at or
    /// before `now`), a new one starts: count 1, ending at `now + window`. Otherwise the count
    /// grows by one and the window keeps its end. Returns the count after this hit.
    async fn hit(&self, key: &ThrottleKey, window: u32, now: i64) -> Result<Tally, ThrottleError>;

    /// The live count of `key`, if its window has not ended at `now`.
    async fn get(&self, key: &ThrottleKey, now: i64) -> Result<Option<Tally>, ThrottleError>;

    /// The live counts of several keys, in their order, in one round trip where the store
    /// can (a credential check reads every counter that could refuse it at once). The default
    /// asks [`ThrottleStore::get`] for each.
    async fn get_many(
        &self,
        keys: &[ThrottleKey],
        now: i64,
    ) -> Result<Vec<Option<Tally>>, ThrottleError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(key, now).await?);
        }
        Ok(out)
    }

    /// Forgets `key` (a successful login clears its failure counts; an unlock, its lock).
    async fn clear(&self, key: &ThrottleKey) -> Result<(), ThrottleError>;

    /// Makes `key` live until `until` (a lock): a key without a live window gets count 1 ending
    /// at `until`; a live one keeps its count and ends at the later of its end and `until`.
    async fn lock_until(
        &self,
        key: &ThrottleKey,
        until: i64,
        now: i64,
    ) -> Result<Tally, ThrottleError>;
}

/// The store `SECURITY_THROTTLE_STORE` names, over the app's `db` for `database`. A shared
/// store (database, Redis) is wrapped in [`Resilient`]: while it is unreachable, with
/// `fail_open` every call falls back to this process's memory, otherwise the error is
/// returned. Redis is not contacted here: an app starts while Redis is down.
///
/// # Errors
/// A Redis URL that does not parse, or one given to a build without the `redis` feature.
pub(crate) async fn open(
    backend: &ThrottleBackend,
    db: &DatabaseConnection,
    fail_open: bool,
) -> Result<Arc<dyn ThrottleStore>, ThrottleError> {
    Ok(match backend {
        ThrottleBackend::Memory => Arc::new(MemoryStore::new()),
        ThrottleBackend::Database => {
            Arc::new(Resilient::new(DatabaseStore::new(db.clone()), fail_open))
        }
        #[cfg(feature = "redis")]
        ThrottleBackend::Redis(url) => {
            Arc::new(Resilient::new(RedisStore::new(url.expose())?, fail_open))
        }
        #[cfg(not(feature = "redis"))]
        ThrottleBackend::Redis(_) => {
            return Err(ThrottleError::Redis(
                "SECURITY_THROTTLE_STORE is a Redis URL, but `security` was built without \
                 Redis: enable its cargo feature `redis` (features = [\"redis\"])"
                    .to_owned(),
            ));
        }
    })
}

#[cfg(test)]
mod tests;
