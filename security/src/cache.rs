//! An optional, short-lived cache of loaded identities (`SECURITY_IDENTITY_CACHE_TTL`).
//!
//! Without it, every guarded request loads the user and its roles in one indexed query. With
//! it, an instance reuses what it loaded for up to the TTL. The trade: a change made on
//! **another** instance (a password change, a deactivation, a role removed) reaches this
//! instance only when its entry expires, so a revoked session may still be accepted here for
//! up to the TTL. Changes made through this instance evict the entry at once. Keep the TTL
//! short (a few seconds) or leave the cache off when revocation must be immediate everywhere.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::datastore::{DatastoreError, UserWithRoles};
use crate::loader::IdentityLoader;
use crate::model::SecurityUser;

/// At most this many entries; on overflow the expired ones go, then everything.
const MAX_ENTRIES: usize = 100_000;

pub(crate) struct IdentityCache<U: SecurityUser> {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, UserWithRoles<U>)>>,
}

impl<U: SecurityUser> IdentityCache<U> {
    pub(crate) fn new(ttl_seconds: u64) -> Self {
        IdentityCache {
            ttl: Duration::from_secs(ttl_seconds),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, UserWithRoles<U>)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) async fn get_or_load(
        &self,
        id: &U::Id,
        loader: &std::sync::Arc<IdentityLoader<U>>,
    ) -> Result<Option<UserWithRoles<U>>, DatastoreError> {
        let key = id.to_string();
        if let Some((at, found)) = self.lock().get(&key)
            && at.elapsed() < self.ttl
        {
            return Ok(Some(found.clone()));
        }
        let loaded = loader.load(id).await?;
        let mut entries = self.lock();
        match &loaded {
            Some(found) => {
                if entries.len() >= MAX_ENTRIES {
                    let ttl = self.ttl;
                    entries.retain(|_, (at, _)| at.elapsed() < ttl);
                    if entries.len() >= MAX_ENTRIES {
                        entries.clear();
                    }
                }
                entries.insert(key, (Instant::now(), found.clone()));
            }
            None => {
                entries.remove(&key);
            }
        }
        Ok(loaded)
    }

    pub(crate) fn invalidate(&self, id: &U::Id) {
        self.lock().remove(&id.to_string());
    }
}
