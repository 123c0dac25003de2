//! [`MemoryStore`]: counters and locks in this process's memory, for tests and apps that run
//! as one instance, and the in-process fallback of [`Resilient`](super::Resilient).

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use hashlink::LruCache;

use super::{Tally, ThrottleError, ThrottleKey, ThrottleStore};

/// How many keys a [`MemoryStore`] keeps by default.
const DEFAULT_CAPACITY: usize = 100_000;

/// Counters and locks in this process's memory: not shared with other instances, forgotten on
/// restart. Bounded: past its capacity the least recently used key is dropped (a flood of new
/// keys can push out old counts, but cannot grow the process without bound). A key whose
/// window has ended counts as absent.
///
/// ```
/// # async fn run() -> Result<(), security::throttle::ThrottleError> {
/// use security::throttle::{MemoryStore, ThrottleKey, ThrottleStore};
///
/// let store = MemoryStore::new();
/// let key = ThrottleKey::from_hex(&"0f".repeat(32)).unwrap();
/// assert_eq!(store.hit(&key, 60, 1_000).await?.count, 1);
/// assert_eq!(store.hit(&key, 60, 1_030).await?.count, 2);
/// assert_eq!(store.hit(&key, 60, 1_060).await?.count, 1); // the window ended at 1060
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
/// ```
pub struct MemoryStore {
    entries: Mutex<LruCache<String, Tally>>,
}

impl MemoryStore {
    /// A store of at most 100 000 keys.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store of at most `capacity` keys (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryStore {
            entries: Mutex::new(LruCache::new(capacity.max(1))),
        }
    }

    fn entries(&self) -> MutexGuard<'_, LruCache<String, Tally>> {
        // A panic while the lock was held cannot leave a half-written entry (each update is
        // one assignment), so a poisoned map is still sound.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.entries();
        f.debug_struct("MemoryStore")
            .field("keys", &entries.len())
            .field("capacity", &entries.capacity())
            .finish()
    }
}

#[async_trait]
impl ThrottleStore for MemoryStore {
    async fn hit(&self, key: &ThrottleKey, window: u32, now: i64) -> Result<Tally, ThrottleError> {
        let mut entries = self.entries();
        if let Some(tally) = entries.get_mut(key.as_str())
            && tally.expires_at > now
        {
            tally.count = tally.count.saturating_add(1);
            return Ok(*tally);
        }
        let tally = Tally {
            count: 1,
            expires_at: now.saturating_add(i64::from(window.max(1))),
        };
        entries.insert(key.as_str().to_owned(), tally);
        Ok(tally)
    }

    async fn get(&self, key: &ThrottleKey, now: i64) -> Result<Option<Tally>, ThrottleError> {
        let mut entries = self.entries();
        match entries.peek(key.as_str()).copied() {
            Some(tally) if tally.expires_at > now => Ok(Some(tally)),
            Some(_) => {
                entries.remove(key.as_str());
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn clear(&self, key: &ThrottleKey) -> Result<(), ThrottleError> {
        self.entries().remove(key.as_str());
        Ok(())
    }

    async fn lock_until(
        &self,
        key: &ThrottleKey,
        until: i64,
        now: i64,
    ) -> Result<Tally, ThrottleError> {
        let mut entries = self.entries();
        if let Some(tally) = entries.get_mut(key.as_str())
            && tally.expires_at > now
        {
            tally.expires_at = tally.expires_at.max(until);
            return Ok(*tally);
        }
        let tally = Tally {
            count: 1,
            expires_at: until,
        };
        entries.insert(key.as_str().to_owned(), tally);
        Ok(tally)
    }
}
