//! An optional, short-lived cache of loaded identities (`SECURITY_IDENTITY_CACHE_TTL`).
//!
//! Without it, every guarded request loads the user and its roles (and whether its session was
//! logged out) in one indexed query. With it, an instance reuses what it loaded for up to the
//! TTL. The trade: a change made on **another** instance (a password change, a deactivation, a
//! role removed, a logout) reaches this instance only when its entry expires, so a revoked
//! session may still be accepted here for up to the TTL. Changes made through this instance
//! evict the entry at once, and a load that was running when the entry was evicted does not
//! put its (older) answer back. Keep the TTL short (a few seconds) or leave the cache off when
//! revocation must be immediate everywhere.
//!
//! An entry is per user; whether a session or remember-me cookie was revoked is remembered per
//! key inside it, each for the TTL from when it was read.
//!
//! Bounded by `hashlink`'s [`LruCache`]: past [`MAX_ENTRIES`] users, the least recently used
//! goes. The expiry and the generation counter stay here, under the one mutex that also guards
//! the insert: a concurrent cache crate (`moka`, `quick_cache`) inserts without it, so a load
//! could check the generation, lose the race to an invalidation, and still put its older answer
//! back after the eviction.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hashlink::LruCache;

use crate::store::datastore::{DatastoreError, UserWithRoles};
use crate::store::loader::{IdentityLoader, Loaded};
use crate::store::model::SecurityUser;

/// At most this many users; on overflow the least recently used goes.
const MAX_ENTRIES: usize = 100_000;
/// At most this many keys remembered per user.
const MAX_KEYS: usize = 64;

struct Entry<U: SecurityUser> {
    at: Instant,
    identity: UserWithRoles<U>,
    /// Revocation key → (when read, revoked).
    keys: HashMap<String, (Instant, bool)>,
}

pub(crate) struct IdentityCache<U: SecurityUser> {
    ttl: Duration,
    entries: Mutex<LruCache<String, Entry<U>>>,
    /// Bumped by every invalidation: a load that started before one is not cached.
    generation: AtomicU64,
}

impl<U: SecurityUser> IdentityCache<U> {
    pub(crate) fn new(ttl_seconds: u64) -> Self {
        IdentityCache {
            ttl: Duration::from_secs(ttl_seconds),
            entries: Mutex::new(LruCache::new(MAX_ENTRIES)),
            generation: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Entry<U>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn hit(&self, user: &str, keys: &[String]) -> Option<Loaded<U>> {
        let mut entries = self.lock();
        let entry = entries.get(user)?;
        if entry.at.elapsed() >= self.ttl {
            return None;
        }
        let mut revoked = false;
        for key in keys {
            let (at, key_revoked) = entry.keys.get(key)?;
            if at.elapsed() >= self.ttl {
                return None;
            }
            revoked |= *key_revoked;
        }
        Some(Some((entry.identity.clone(), revoked)))
    }

    pub(crate) async fn get_or_load(
        &self,
        id: &U::Id,
        keys: &[String],
        loader: &std::sync::Arc<IdentityLoader<U>>,
    ) -> Result<Loaded<U>, DatastoreError> {
        let user = id.to_string();
        if let Some(hit) = self.hit(&user, keys) {
            return Ok(hit);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let loaded = loader.load(id, keys).await?;
        let mut entries = self.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            // Invalidated while loading: what was loaded may predate the change.
            return Ok(loaded);
        }
        match &loaded {
            Some((identity, revoked)) => {
                let now = Instant::now();
                if !entries.contains_key(&user) {
                    // Past the bound, the least recently used entry goes.
                    entries.insert(
                        user.clone(),
                        Entry {
                            at: now,
                            identity: identity.clone(),
                            keys: HashMap::new(),
                        },
                    );
                }
                let Some(entry) = entries.get_mut(&user) else {
                    return Ok(loaded);
                };
                entry.at = now;
                entry.identity = identity.clone();
                if entry.keys.len() + keys.len() > MAX_KEYS {
                    entry.keys.clear();
                }
                // One answer for the keys together: when any was revoked, all are marked so
                // (the request is refused either way; a key alone is asked again later).
                for key in keys {
                    entry.keys.insert(key.clone(), (now, *revoked));
                }
            }
            None => {
                entries.remove(&user);
            }
        }
        Ok(loaded)
    }

    /// Forgets a user (after a change to it, or a logout of one of its sessions).
    pub(crate) fn invalidate(&self, id: &U::Id) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock().remove(&id.to_string());
    }
}
