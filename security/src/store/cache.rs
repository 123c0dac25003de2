//! An optional, short-lived cache of loaded identities (`SECURITY_IDENTITY_CACHE_TTL`).
//!
//! Without it, every guarded request loads the user and its roles (and whether its session was
//! logged out) in one indexed query. With it, an instance reuses what it loaded for up to the
//! TTL. Changes made through this instance evict the entry at once; on PostgreSQL or with a
//! Redis throttle store, changes made on **another** instance are announced by it and evict
//! the entry here too (`store::bus`). A load that was running when an entry was evicted (or
//! the cache cleared) does not put its (older) answer back. Without a channel (MySQL, SQLite,
//! without Redis), or while it is down, a change made elsewhere (a password change, a
//! deactivation, a role removed, a logout) reaches this instance only when its entry expires,
//! so a revoked session may still be accepted here for up to the TTL: keep the TTL short
//! there, or leave the cache off.
//!
//! An entry is per user; whether a session or remember-me cookie was revoked is remembered per
//! key inside it, each for the TTL from when it was read.
//!
//! Bounded by `hashlink`'s [`LruCache`]: past [`MAX_ENTRIES`] users, the least recently used
//! goes. The expiry and the generation counter stay here, under the one mutex that also guards
//! the insert: a concurrent cache crate (`moka`, `quick_cache`) inserts without it, so a load
//! could check the generation, lose the race to an invalidation, and still put its older answer
//! back after the eviction.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hashlink::LruCache;

use crate::store::datastore::DatastoreError;
use crate::store::loader::{Identity, IdentityLoader, Loaded};
use crate::store::model::SecurityUser;

/// At most this many users; on overflow the least recently used goes.
const MAX_ENTRIES: usize = 100_000;
/// The longest TTL honoured, in seconds (ten years): an instant that far ahead is representable.
const MAX_TTL: u64 = 10 * 365 * 24 * 3600;
/// At most this many keys remembered per user.
const MAX_KEYS: usize = 64;

struct Entry<U: SecurityUser> {
    /// When the entry stops being used (read + TTL).
    expires: Instant,
    identity: Arc<Identity<U>>,
    /// Revocation key, when it expires (read + TTL), revoked. A list: a user has a few keys
    /// (one a session, one a remember cookie), at most [`MAX_KEYS`], and a scan of them is
    /// cheaper than hashing one.
    keys: Vec<(String, Instant, bool)>,
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
            ttl: Duration::from_secs(ttl_seconds.min(MAX_TTL)),
            entries: Mutex::new(LruCache::new(MAX_ENTRIES)),
            generation: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Entry<U>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached answer for `user` and `keys`, when every part of it is younger than the TTL.
    pub(crate) fn hit(&self, user: &str, keys: &[&str]) -> Option<Loaded<U>> {
        // Expiry times are stored, so a hit compares instants and does no arithmetic.
        let now = Instant::now();
        let fresh = |expires: Instant| now < expires;
        let mut entries = self.lock();
        let entry = entries.get(user).filter(|entry| fresh(entry.expires))?;
        let mut revoked = false;
        for &key in keys {
            let (_, at, key_revoked) = entry.keys.iter().find(|(held, ..)| held == key)?;
            if !fresh(*at) {
                return None;
            }
            revoked |= *key_revoked;
        }
        Some(Some((Arc::clone(&entry.identity), revoked)))
    }

    pub(crate) async fn get_or_load(
        &self,
        id: &U::Id,
        keys: &[&str],
        loader: &Arc<IdentityLoader<U>>,
    ) -> Result<Loaded<U>, DatastoreError> {
        self.get_or_load_with(id, keys, || loader.load(id, keys))
            .await
    }

    /// The cached answer for the user whose id reads `user`, and `keys`, or what `load()`
    /// answers (cached when no invalidation happened while it ran).
    async fn get_or_load_with<F>(
        &self,
        user: &(impl std::fmt::Display + ?Sized),
        keys: &[&str],
        load: impl FnOnce() -> F,
    ) -> Result<Loaded<U>, DatastoreError>
    where
        F: std::future::Future<Output = Result<Loaded<U>, DatastoreError>>,
    {
        if let Some(hit) = with_text(user, |user| self.hit(user, keys)) {
            return Ok(hit);
        }
        // Boxed: the miss's future (the loader's) stays out of every hit's.
        Box::pin(self.load_and_keep(&user.to_string(), keys, load())).await
    }

    /// What `load` answers, cached when no invalidation happened while it ran.
    async fn load_and_keep(
        &self,
        user: &str,
        keys: &[&str],
        load: impl std::future::Future<Output = Result<Loaded<U>, DatastoreError>>,
    ) -> Result<Loaded<U>, DatastoreError> {
        // Read before the load starts: an invalidation from here on (local, or one received
        // from another instance) bumps it, and the answer is then not cached.
        let generation = self.generation.load(Ordering::Acquire);
        let loaded = load.await?;
        let mut entries = self.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            // Invalidated while loading: what was loaded may predate the change.
            return Ok(loaded);
        }
        match &loaded {
            Some((identity, revoked)) => {
                let now = Instant::now();
                // The TTL is at most MAX_TTL, so this does not overflow; if it did, the entry
                // would be stale at once (never served past its TTL).
                let expires = now.checked_add(self.ttl).unwrap_or(now);
                if !entries.contains_key(user) {
                    // Past the bound, the least recently used entry goes.
                    entries.insert(
                        user.to_owned(),
                        Entry {
                            expires,
                            identity: Arc::clone(identity),
                            keys: Vec::new(),
                        },
                    );
                }
                let Some(entry) = entries.get_mut(user) else {
                    return Ok(loaded);
                };
                entry.expires = expires;
                entry.identity = Arc::clone(identity);
                if entry.keys.len() + keys.len() > MAX_KEYS {
                    entry.keys.clear();
                }
                // One answer for the keys together: when any was revoked, all are marked so
                // (the request is refused either way; a key alone is asked again later).
                for &key in keys {
                    match entry.keys.iter_mut().find(|(held, ..)| held == key) {
                        Some(held) => (held.1, held.2) = (expires, *revoked),
                        None => entry.keys.push((key.to_owned(), expires, *revoked)),
                    }
                }
            }
            None => {
                entries.remove(user);
            }
        }
        Ok(loaded)
    }

    /// Forgets a user (after a change to it, or a logout of one of its sessions).
    pub(crate) fn invalidate(&self, id: &U::Id) {
        self.forget(&id.to_string());
    }

    /// Forgets the user whose id reads `user`; a load running meanwhile is not cached.
    pub(crate) fn forget(&self, user: &str) {
        // Bumped under the lock: a load that read the generation before it cannot insert
        // between the bump and the removal.
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(user);
    }

    /// Forgets every user (after the invalidation channel was down: what it missed is unknown).
    pub(crate) fn clear(&self) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

/// `f` of `value` as text, formatted into a buffer of the thread rather than a new string: the
/// cache is keyed by the user id's text, and a hit then allocates nothing.
fn with_text<R>(value: &(impl std::fmt::Display + ?Sized), f: impl FnOnce(&str) -> R) -> R {
    use std::cell::RefCell;
    use std::fmt::Write as _;
    thread_local! {
        static BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
    }
    BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut text) => {
            text.clear();
            // Writing to a `String` fails only when `Display` does; then the text is partial,
            // and a hit on it would be wrong: none is looked for.
            match write!(text, "{value}") {
                Ok(()) => f(&text),
                Err(_) => f(&value.to_string()),
            }
        }
        // Only when `f` itself comes back here.
        Err(_) => f(&value.to_string()),
    })
}

impl<U: SecurityUser> crate::store::bus::Forget for IdentityCache<U> {
    fn forget(&self, user: &str) {
        IdentityCache::forget(self, user);
    }

    fn forget_all(&self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::user::Model as User;

    #[test]
    fn a_value_is_formatted_once_per_call_even_when_nested() {
        assert!(with_text(&42, |text| text == "42"));
        let (outer, inner) = with_text(&1, |outer| {
            with_text(&"two", |inner| (outer.to_owned(), inner.to_owned()))
        });
        assert_eq!((outer.as_str(), inner.as_str()), ("1", "two"));
        assert!(
            with_text(&7, |text| text == "7"),
            "the buffer is cleared between calls"
        );
    }

    fn loaded(email: &str) -> Result<Loaded<User>, DatastoreError> {
        Ok(Some((
            Identity::new(crate::store::datastore::UserWithRoles {
                user: User {
                    id: 1,
                    email: email.to_owned(),
                    password: None,
                    active: true,
                    confirmed_at: None,
                },
                roles: Vec::new(),
                epoch: None,
            }),
            false,
        )))
    }

    fn email(answer: Loaded<User>) -> String {
        answer.expect("a user").0.found.user.email.clone()
    }

    fn revoked(
        answer: Result<Loaded<User>, DatastoreError>,
    ) -> Result<Loaded<User>, DatastoreError> {
        answer.map(|found| found.map(|(identity, _)| (identity, true)))
    }

    #[tokio::test]
    async fn each_revocation_key_is_remembered_with_its_own_answer() {
        let cache = IdentityCache::<User>::new(60);
        let is_revoked = |keys: &[&str]| cache.hit("1", keys).map(|found| found.unwrap().1);
        cache
            .load_and_keep("1", &["a"], async { loaded("x") })
            .await
            .unwrap();
        assert_eq!(is_revoked(&["a"]), Some(false));
        assert_eq!(is_revoked(&["b"]), None, "a key never read is a miss");
        cache
            .load_and_keep("1", &["b"], async { revoked(loaded("x")) })
            .await
            .unwrap();
        assert_eq!(is_revoked(&["a"]), Some(false));
        assert_eq!(is_revoked(&["b"]), Some(true));
        assert_eq!(is_revoked(&["a", "b"]), Some(true));
        // Read again: the key's answer is replaced, not listed twice.
        cache
            .load_and_keep("1", &["a"], async { revoked(loaded("x")) })
            .await
            .unwrap();
        assert_eq!(is_revoked(&["a"]), Some(true));
        assert_eq!(cache.lock().get("1").unwrap().keys.len(), 2);
        // Past MAX_KEYS the list starts again.
        for n in 0..MAX_KEYS {
            let key = format!("k{n}");
            cache
                .load_and_keep("1", &[key.as_str()], async { loaded("x") })
                .await
                .unwrap();
        }
        assert!(cache.lock().get("1").unwrap().keys.len() <= MAX_KEYS);
        assert_eq!(is_revoked(&["a"]), None);
    }

    #[tokio::test]
    async fn a_load_is_cached_until_the_user_is_forgotten() {
        let cache = IdentityCache::<User>::new(60);
        let first = cache.get_or_load_with("1", &[], || async { loaded("old") });
        assert_eq!(email(first.await.unwrap()), "old");
        let hit = cache.get_or_load_with("1", &[], || async { loaded("new") });
        assert_eq!(email(hit.await.unwrap()), "old");
        cache.forget("1");
        let reload = cache.get_or_load_with("1", &[], || async { loaded("new") });
        assert_eq!(email(reload.await.unwrap()), "new");
    }

    #[tokio::test]
    async fn a_load_that_started_before_a_forget_is_not_cached() {
        let cache = IdentityCache::<User>::new(60);
        let stale = cache.get_or_load_with("1", &[], || async {
            // The change (here or on another instance) lands while the old row is in flight.
            cache.forget("1");
            loaded("stale")
        });
        assert_eq!(email(stale.await.unwrap()), "stale");
        let next = cache.get_or_load_with("1", &[], || async { loaded("fresh") });
        assert_eq!(email(next.await.unwrap()), "fresh");
    }

    #[tokio::test]
    async fn a_load_that_started_before_a_clear_is_not_cached() {
        let cache = IdentityCache::<User>::new(60);
        let stale = cache.get_or_load_with("2", &[], || async {
            cache.clear();
            loaded("stale")
        });
        assert_eq!(email(stale.await.unwrap()), "stale");
        let next = cache.get_or_load_with("2", &[], || async { loaded("fresh") });
        assert_eq!(email(next.await.unwrap()), "fresh");
    }

    #[tokio::test]
    async fn clear_forgets_every_user() {
        let cache = IdentityCache::<User>::new(60);
        for user in ["1", "2"] {
            cache
                .get_or_load_with(user, &[], || async { loaded("old") })
                .await
                .unwrap();
        }
        cache.clear();
        for user in ["1", "2"] {
            let again = cache.get_or_load_with(user, &[], || async { loaded("new") });
            assert_eq!(email(again.await.unwrap()), "new");
        }
    }

    #[tokio::test]
    async fn an_entry_is_not_served_past_the_ttl() {
        let cache = IdentityCache::<User>::new(0);
        cache
            .get_or_load_with("1", &[], || async { loaded("old") })
            .await
            .unwrap();
        let again = cache.get_or_load_with("1", &[], || async { loaded("new") });
        assert_eq!(email(again.await.unwrap()), "new");
    }

    #[tokio::test]
    async fn a_ttl_of_any_length_is_served_without_overflow() {
        let cache = IdentityCache::<User>::new(u64::MAX);
        cache
            .get_or_load_with("1", &["k"], || async { loaded("old") })
            .await
            .unwrap();
        let again = cache.get_or_load_with("1", &["k"], || async { loaded("new") });
        assert_eq!(email(again.await.unwrap()), "old");
    }
}
