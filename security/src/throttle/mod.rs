//! The throttle store: counters in fixed windows and locks, shared by every instance of the
//! app, that the brute-force protection (`web/limits.rs`) counts requests, failures, mails
//! and account locks in.
//!
//! A store keeps, per key, a count and the time the count ends (`expires_at`, unix seconds).
//! Keys are keyed digests ([`ThrottleKey`]): no address, e-mail or account id is stored in
//! clear. Every operation is atomic on its key, so that parallel requests on several
//! instances lose no count.
//!
//! Implementations: the app's own database (`security_throttle`, the default), Redis (cargo
//! feature `redis`), and memory (one process: tests and single-instance apps).

use async_trait::async_trait;

/// A key of the throttle store: a keyed digest (hex) of what is counted (never the address,
/// e-mail or id itself).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ThrottleKey(String);

impl ThrottleKey {
    /// A key from a keyed digest made by the runtime (64 hex characters).
    pub(crate) fn from_digest(digest: String) -> Self {
        ThrottleKey(digest)
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
        u64::try_from(self.expires_at.saturating_sub(now)).unwrap_or(0).max(1)
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
/// sees windows end by that clock.
#[async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
    /// Counts one hit on `key`. When the key has no live window (none yet, or it ended at or
    /// before `now`), a new one starts: count 1, ending at `now + window`. Otherwise the count
    /// grows by one and the window keeps its end. Returns the count after this hit.
    async fn hit(&self, key: &ThrottleKey, window: u32, now: i64) -> Result<Tally, ThrottleError>;

    /// The live count of `key`, if its window has not ended at `now`.
    async fn get(&self, key: &ThrottleKey, now: i64) -> Result<Option<Tally>, ThrottleError>;

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
