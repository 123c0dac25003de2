//! [`Resilient`]: what the brute-force protection does while its shared store (database,
//! Redis) is unreachable: count in this process (fail open) or refuse (fail closed).

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{MemoryStore, Tally, ThrottleError, ThrottleKey, ThrottleStore};

/// At most one warning about a failing store in this time; the others are counted.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// A shared store with a fallback. Every call goes to the `primary`; when it fails:
///
/// - with `fail_open`, the same call goes to a [`MemoryStore`] of this process, so that
///   requests are still limited per instance (each instance counts on its own until the
///   primary is back; what they counted then is not carried over);
/// - without, the error is returned, and the caller refuses the request.
///
/// Failures are logged with `tracing` at `WARN`, at most once every 30 seconds (with the
/// number of failures not logged since), never with a key; the first success after failures
/// is logged at `INFO`.
///
/// ```
/// # async fn run() -> Result<(), security::throttle::ThrottleError> {
/// use security::throttle::{MemoryStore, Resilient, ThrottleKey, ThrottleStore};
///
/// let store = Resilient::new(MemoryStore::new(), true);
/// let key = ThrottleKey::from_hex(&"0f".repeat(32)).unwrap();
/// assert_eq!(store.hit(&key, 60, 1_000).await?.count, 1);
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
/// ```
pub struct Resilient<P> {
    primary: P,
    pub(super) local: MemoryStore,
    fail_open: bool,
    log: Mutex<FailureLog>,
}

/// What has been logged about the primary's failures.
#[derive(Default)]
pub(super) struct FailureLog {
    /// The primary failed last time it was called.
    pub(super) failing: bool,
    /// When the last warning was logged.
    pub(super) warned_at: Option<Instant>,
    /// Failures since then, not logged.
    pub(super) suppressed: u64,
}

impl<P: ThrottleStore> Resilient<P> {
    /// `primary` with a fallback to this process's memory when `fail_open`, or none.
    pub fn new(primary: P, fail_open: bool) -> Self {
        Resilient {
            primary,
            local: MemoryStore::new(),
            fail_open,
            log: Mutex::new(FailureLog::default()),
        }
    }

    /// The store every call goes to first.
    pub fn primary(&self) -> &P {
        &self.primary
    }

    pub(super) fn log(&self) -> MutexGuard<'_, FailureLog> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The primary's result, or on failure the fallback's (fail open) or the error.
    async fn with_fallback<T, F>(
        &self,
        result: Result<T, ThrottleError>,
        fallback: F,
    ) -> Result<T, ThrottleError>
    where
        F: Future<Output = Result<T, ThrottleError>>,
    {
        match result {
            Ok(value) => {
                self.succeeded();
                Ok(value)
            }
            Err(err) => {
                self.failed(&err);
                if self.fail_open {
                    fallback.await
                } else {
                    Err(err)
                }
            }
        }
    }

    fn succeeded(&self) {
        let mut log = self.log();
        if log.failing {
            *log = FailureLog::default();
            drop(log);
            tracing::info!("the throttle store answers again; counting there again");
        }
    }

    fn failed(&self, err: &ThrottleError) {
        let mut log = self.log();
        log.failing = true;
        let due = log.warned_at.is_none_or(|at| at.elapsed() >= WARN_EVERY);
        if !due {
            log.suppressed += 1;
            return;
        }
        let suppressed = std::mem::take(&mut log.suppressed);
        log.warned_at = Some(Instant::now());
        drop(log);
        if self.fail_open {
            tracing::warn!(
                error = %err,
                suppressed,
                "the throttle store failed; counting in this process only until it answers"
            );
        } else {
            tracing::warn!(
                error = %err,
                suppressed,
                "the throttle store failed; refusing the requests it should count"
            );
        }
    }
}

impl<P> std::fmt::Debug for Resilient<P>
where
    P: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resilient")
            .field("primary", &self.primary)
            .field("fail_open", &self.fail_open)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<P: ThrottleStore> ThrottleStore for Resilient<P> {
    async fn hit(&self, key: &ThrottleKey, window: u32, now: i64) -> Result<Tally, ThrottleError> {
        let result = self.primary.hit(key, window, now).await;
        self.with_fallback(result, self.local.hit(key, window, now))
            .await
    }

    async fn get(&self, key: &ThrottleKey, now: i64) -> Result<Option<Tally>, ThrottleError> {
        let result = self.primary.get(key, now).await;
        self.with_fallback(result, self.local.get(key, now)).await
    }

    async fn get_many(
        &self,
        keys: &[ThrottleKey],
        now: i64,
    ) -> Result<Vec<Option<Tally>>, ThrottleError> {
        let result = self.primary.get_many(keys, now).await;
        self.with_fallback(result, self.local.get_many(keys, now))
            .await
    }

    async fn clear(&self, key: &ThrottleKey) -> Result<(), ThrottleError> {
        // Also here, so that what was counted here while the primary failed does not come
        // back when it fails again.
        self.local.clear(key).await?;
        let result = self.primary.clear(key).await;
        self.with_fallback(result, async { Ok(()) }).await
    }

    async fn lock_until(
        &self,
        key: &ThrottleKey,
        until: i64,
        now: i64,
    ) -> Result<Tally, ThrottleError> {
        let result = self.primary.lock_until(key, until, now).await;
        self.with_fallback(result, self.local.lock_until(key, until, now))
            .await
    }
}
