//! The window semantics on [`MemoryStore`], with explicit clocks, and what [`Resilient`] does
//! when its primary fails. The shared stores (database, Redis) run the same cases in the
//! integration tests (`tests/tests/it/throttle_store.rs`), on every backend.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use async_trait::async_trait;

use super::*;

fn key(n: u8) -> ThrottleKey {
    ThrottleKey::from_hex(&format!("{n:02x}").repeat(32)).unwrap()
}

fn tally(count: u32, expires_at: i64) -> Tally {
    Tally { count, expires_at }
}

#[test]
fn a_key_is_32_to_64_lowercase_hex_characters() {
    assert!(ThrottleKey::from_hex(&"a1".repeat(32)).is_some());
    assert!(ThrottleKey::from_hex(&"a1".repeat(16)).is_some());
    for not_a_digest in [
        String::new(),
        "a1".repeat(15),
        "a1".repeat(33),
        "A1".repeat(32),
        format!("{}g", "a".repeat(63)),
        format!("someone@example.com{}", "0".repeat(45)),
    ] {
        assert!(
            ThrottleKey::from_hex(&not_a_digest).is_none(),
            "{not_a_digest}"
        );
    }
    let key = key(0xab);
    assert_eq!(key.as_str(), "ab".repeat(32));
    assert_eq!(format!("{key:?}"), "ThrottleKey(abababab…)");
}

#[test]
fn the_throttle_table_constant_names_the_entity_s_table() {
    use sea_orm::EntityName;
    assert_eq!(
        crate::schema::throttle::Entity.table_name(),
        crate::schema::THROTTLE_TABLE
    );
}

#[tokio::test]
async fn a_first_hit_opens_a_window_that_later_hits_count_in() {
    let store = MemoryStore::new();
    let k = key(1);
    assert_eq!(store.get(&k, 1_000).await.unwrap(), None);
    assert_eq!(store.hit(&k, 60, 1_000).await.unwrap(), tally(1, 1_060));
    assert_eq!(store.hit(&k, 60, 1_030).await.unwrap(), tally(2, 1_060));
    // A later hit with another window length keeps the window's end.
    assert_eq!(store.hit(&k, 600, 1_059).await.unwrap(), tally(3, 1_060));
    assert_eq!(store.get(&k, 1_059).await.unwrap(), Some(tally(3, 1_060)));
    // Other keys count apart.
    assert_eq!(
        store.hit(&key(2), 60, 1_030).await.unwrap(),
        tally(1, 1_090)
    );
}

#[tokio::test]
async fn a_window_ends_at_its_expiry_and_the_next_hit_opens_a_new_one() {
    let store = MemoryStore::new();
    let k = key(1);
    store.hit(&k, 60, 1_000).await.unwrap();
    store.hit(&k, 60, 1_001).await.unwrap();
    assert_eq!(store.get(&k, 1_060).await.unwrap(), None);
    assert_eq!(store.hit(&k, 60, 1_060).await.unwrap(), tally(1, 1_120));
    // A window of 0 lasts a second rather than being over as it starts.
    assert_eq!(store.hit(&key(3), 0, 1_000).await.unwrap(), tally(1, 1_001));
}

#[tokio::test]
async fn a_lock_starts_at_count_one_and_only_ever_extends() {
    let store = MemoryStore::new();
    let k = key(1);
    // Absent: count 1 until the end of the lock.
    assert_eq!(
        store.lock_until(&k, 1_900, 1_000).await.unwrap(),
        tally(1, 1_900)
    );
    // Live: a shorter lock changes nothing, a longer one extends; the count stays.
    assert_eq!(store.hit(&k, 60, 1_010).await.unwrap(), tally(2, 1_900));
    assert_eq!(
        store.lock_until(&k, 1_500, 1_020).await.unwrap(),
        tally(2, 1_900)
    );
    assert_eq!(
        store.lock_until(&k, 2_500, 1_030).await.unwrap(),
        tally(2, 2_500)
    );
    assert_eq!(store.get(&k, 2_499).await.unwrap(), Some(tally(2, 2_500)));
    // Ended: a new lock starts from count 1.
    assert_eq!(
        store.lock_until(&k, 3_000, 2_500).await.unwrap(),
        tally(1, 3_000)
    );
    // A live window is extended by a lock, and keeps its count.
    let w = key(2);
    store.hit(&w, 60, 1_000).await.unwrap();
    store.hit(&w, 60, 1_000).await.unwrap();
    assert_eq!(
        store.lock_until(&w, 1_300, 1_001).await.unwrap(),
        tally(2, 1_300)
    );
}

#[tokio::test]
async fn clear_forgets_a_count_and_a_lock() {
    let store = MemoryStore::new();
    let (k, l) = (key(1), key(2));
    store.hit(&k, 60, 1_000).await.unwrap();
    store.lock_until(&l, 5_000, 1_000).await.unwrap();
    store.clear(&k).await.unwrap();
    store.clear(&l).await.unwrap();
    assert_eq!(store.get(&k, 1_001).await.unwrap(), None);
    assert_eq!(store.get(&l, 1_001).await.unwrap(), None);
    assert_eq!(store.hit(&k, 60, 1_001).await.unwrap(), tally(1, 1_061));
    // Clearing an absent key is fine.
    store.clear(&key(9)).await.unwrap();
}

#[tokio::test]
async fn the_memory_store_is_bounded_least_recently_used_first() {
    let store = MemoryStore::with_capacity(2);
    store.hit(&key(1), 60, 1_000).await.unwrap();
    store.hit(&key(2), 60, 1_000).await.unwrap();
    store.hit(&key(1), 60, 1_000).await.unwrap();
    store.hit(&key(3), 60, 1_000).await.unwrap();
    assert_eq!(store.get(&key(2), 1_000).await.unwrap(), None);
    assert_eq!(
        store.get(&key(1), 1_000).await.unwrap(),
        Some(tally(2, 1_060))
    );
    assert!(format!("{store:?}").contains("keys: 2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_hits_on_the_memory_store_lose_no_count() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let k = key(7);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (store, k) = (store.clone(), k.clone());
            tokio::spawn(async move { store.hit(&k, 60, 1_000).await.unwrap().count })
        })
        .collect();
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=50).collect::<Vec<_>>());
}

/// A primary that fails while `down` is set, and counts its calls.
#[derive(Default)]
struct Flaky {
    down: AtomicBool,
    calls: AtomicU32,
    store: MemoryStore,
}

impl Flaky {
    fn check(&self) -> Result<(), ThrottleError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            Err(ThrottleError::Redis("connection refused".to_owned()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl ThrottleStore for Flaky {
    async fn hit(&self, key: &ThrottleKey, window: u32, now: i64) -> Result<Tally, ThrottleError> {
        self.check()?;
        self.store.hit(key, window, now).await
    }

    async fn get(&self, key: &ThrottleKey, now: i64) -> Result<Option<Tally>, ThrottleError> {
        self.check()?;
        self.store.get(key, now).await
    }

    async fn clear(&self, key: &ThrottleKey) -> Result<(), ThrottleError> {
        self.check()?;
        self.store.clear(key).await
    }

    async fn lock_until(
        &self,
        key: &ThrottleKey,
        until: i64,
        now: i64,
    ) -> Result<Tally, ThrottleError> {
        self.check()?;
        self.store.lock_until(key, until, now).await
    }
}

fn down() -> Flaky {
    let flaky = Flaky::default();
    flaky.down.store(true, Ordering::SeqCst);
    flaky
}

#[tokio::test]
async fn fail_open_counts_in_this_process_while_the_primary_fails() {
    let store = Resilient::new(down(), true);
    let k = key(1);
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(store.hit(&k, 60, 1_000).await.unwrap().count);
    }
    // The sixth of five allowed hits is seen: the limit still holds in this process.
    assert_eq!(seen, [1, 2, 3, 4, 5, 6]);
    assert_eq!(store.get(&k, 1_001).await.unwrap(), Some(tally(6, 1_060)));
    assert_eq!(
        store.lock_until(&k, 2_000, 1_001).await.unwrap(),
        tally(6, 2_000)
    );
    store.clear(&k).await.unwrap();
    assert_eq!(store.get(&k, 1_001).await.unwrap(), None);
    // Every call was tried on the primary first.
    assert_eq!(store.primary().calls.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn fail_closed_returns_the_primary_s_error() {
    let store = Resilient::new(down(), false);
    let k = key(1);
    assert!(matches!(
        store.hit(&k, 60, 1_000).await,
        Err(ThrottleError::Redis(_))
    ));
    assert!(store.get(&k, 1_000).await.is_err());
    assert!(store.lock_until(&k, 2_000, 1_000).await.is_err());
    assert!(store.clear(&k).await.is_err());
    // Nothing was counted in its place.
    assert_eq!(store.local.get(&k, 1_000).await.unwrap(), None);
}

#[tokio::test]
async fn a_recovered_primary_is_used_again() {
    let store = Resilient::new(down(), true);
    let k = key(1);
    store.hit(&k, 60, 1_000).await.unwrap();
    store.hit(&k, 60, 1_000).await.unwrap();
    store.primary().down.store(false, Ordering::SeqCst);
    // The primary counts from its own state (it saw none of the hits while down).
    assert_eq!(store.hit(&k, 60, 1_000).await.unwrap(), tally(1, 1_060));
    assert!(!store.log().failing);
    // A clear also forgets what was counted here, so that it cannot come back.
    store.clear(&k).await.unwrap();
    assert_eq!(store.local.get(&k, 1_000).await.unwrap(), None);
}

#[tokio::test]
async fn failures_are_warned_about_once_then_counted() {
    let store = Resilient::new(down(), true);
    let k = key(1);
    for _ in 0..4 {
        store.hit(&k, 60, 1_000).await.unwrap();
    }
    let log = store.log();
    assert!(log.failing && log.warned_at.is_some());
    assert_eq!(log.suppressed, 3);
}

#[tokio::test]
async fn open_builds_the_configured_store() {
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    crate::schema::create_tables(&db).await.unwrap();
    for backend in [ThrottleBackend::Memory, ThrottleBackend::Database] {
        let store = open(&backend, &db, false).await.unwrap();
        let k = key(1);
        assert_eq!(store.hit(&k, 60, 1_000).await.unwrap(), tally(1, 1_060));
        assert_eq!(store.hit(&k, 60, 1_001).await.unwrap(), tally(2, 1_060));
    }
    let redis = ThrottleBackend::Redis("redis://:hunter2@127.0.0.1:1/".into());
    let opened = open(&redis, &db, true).await;
    #[cfg(feature = "redis")]
    {
        // Redis is not contacted to open the store.
        let store = opened.unwrap();
        assert_eq!(store.hit(&key(1), 60, 1_000).await.unwrap().count, 1);
    }
    #[cfg(not(feature = "redis"))]
    {
        let err = opened.err().unwrap().to_string();
        assert!(err.contains("`redis`"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_redis_url_that_does_not_parse_is_refused_without_showing_it() {
    let err = RedisStore::new("redis://:hunter2@[::1/")
        .unwrap_err()
        .to_string();
    assert!(!err.contains("hunter2"), "{err}");
    let store = RedisStore::new("redis://:hunter2@127.0.0.1:1/").unwrap();
    assert!(!format!("{store:?}").contains("hunter2"));
}
