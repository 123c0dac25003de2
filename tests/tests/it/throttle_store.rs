//! The throttle store on every shared backend: SQLite, PostgreSQL and MySQL (`DatabaseStore`)
//! and Redis (`RedisStore`, when `SECURITY_TEST_REDIS_URL` is set). The same cases run on each
//! (`store_tests!`): windows, locks, clearing, parallel hits, two instances over two
//! connections to one database. Keys are random, so that tests sharing a Redis database (or a
//! table) never see each other's counts.
//!
//! Redis keeps relative times: on it the test clock also waits in real time, so that a window
//! of 2 s ends after 2 s; on the databases the clock only moves forward.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{Database, DatabaseConnection, EntityTrait};
use security::schema::throttle;
use security::throttle::{
    DatabaseStore, MemoryStore, RedisStore, Resilient, Tally, ThrottleKey, ThrottleStore,
};
use security_tests::{Backend, TestDb, backend_tests};

/// A store under test: its first instance, a way to start another one over another connection,
/// and the test's clock.
struct Fixture {
    kind: Kind,
    store: Arc<dyn ThrottleStore>,
    db: Option<TestDb>,
    /// Pools of the other instances, closed at the end (before the database is dropped).
    pools: Vec<DatabaseConnection>,
    now: i64,
}

enum Kind {
    Database,
    Redis(String),
}

impl Fixture {
    async fn database(backend: Backend) -> Fixture {
        let db = TestDb::new(&backend).await;
        Fixture {
            kind: Kind::Database,
            store: Arc::new(DatabaseStore::new(db.db.clone())),
            db: Some(db),
            pools: Vec::new(),
            now: unix_now(),
        }
    }

    fn redis() -> Fixture {
        let url = std::env::var("SECURITY_TEST_REDIS_URL")
            .ok()
            .filter(|v| !v.is_empty())
            .expect("SECURITY_TEST_REDIS_URL is not set (it was when the tests were built)");
        Fixture {
            store: Arc::new(RedisStore::new(&url).expect("redis url")),
            kind: Kind::Redis(url),
            db: None,
            pools: Vec::new(),
            now: unix_now(),
        }
    }

    /// Another instance of the app: a store of its own over a connection (pool) of its own.
    async fn another_instance(&mut self) -> Arc<dyn ThrottleStore> {
        match &self.kind {
            Kind::Database => {
                let url = self.db.as_ref().expect("a database").url();
                let pool = Database::connect(url).await.expect("a second pool");
                self.pools.push(pool.clone());
                Arc::new(DatabaseStore::new(pool))
            }
            Kind::Redis(url) => Arc::new(RedisStore::new(url).expect("redis url")),
        }
    }

    /// Moves the test's clock `seconds` forward (on Redis, also waits that long, and a little
    /// more: a Redis key lives until its TTL has passed, not until it has been reached).
    async fn advance(&mut self, seconds: i64) {
        if let Kind::Redis(_) = self.kind {
            let wait = Duration::from_secs(seconds.unsigned_abs()) + Duration::from_millis(100);
            tokio::time::sleep(wait).await;
        }
        self.now += seconds;
    }

    async fn finish(self) {
        for pool in self.pools {
            pool.close().await.ok();
        }
    }
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A random key, as the runtime makes them (64 hex characters).
fn random_key() -> ThrottleKey {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("random bytes");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    ThrottleKey::from_hex(&hex).expect("a key")
}

fn tally(count: u32, expires_at: i64) -> Tally {
    Tally { count, expires_at }
}

/// Instantiates `async fn(Fixture)` tests on SQLite, PostgreSQL, MySQL and Redis; a server
/// whose URL was not set when the tests were built is ignored (see `tests/build.rs`).
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Fixture::database(security_tests::Backend::Sqlite).await)
                        .await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(security_test_postgres),
                    ignore = "set SECURITY_TEST_POSTGRES_URL to run it on PostgreSQL"
                )]
                async fn $name() {
                    super::$name(
                        super::Fixture::database(security_tests::Backend::postgres()).await,
                    )
                    .await
                }
            )*
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(security_test_mysql),
                    ignore = "set SECURITY_TEST_MYSQL_URL to run it on MySQL"
                )]
                async fn $name() {
                    super::$name(super::Fixture::database(security_tests::Backend::mysql()).await)
                        .await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(security_test_redis),
                    ignore = "set SECURITY_TEST_REDIS_URL to run it on Redis"
                )]
                async fn $name() {
                    super::$name(super::Fixture::redis()).await
                }
            )*
        }
    };
}

store_tests!(
    hits_count_in_a_window_that_ends_at_its_expiry,
    a_lock_starts_at_one_keeps_a_live_count_and_only_extends,
    clear_forgets_counts_and_locks,
    many_keys_are_read_in_their_order,
    fifty_parallel_hits_count_fifty,
    two_instances_share_counts_and_locks,
);

async fn hits_count_in_a_window_that_ends_at_its_expiry(mut f: Fixture) {
    let (k, other) = (random_key(), random_key());
    let t = f.now;
    assert_eq!(f.store.get(&k, t).await.unwrap(), None);
    assert_eq!(f.store.hit(&k, 2, t).await.unwrap(), tally(1, t + 2));
    assert_eq!(f.store.hit(&other, 2, t).await.unwrap(), tally(1, t + 2));
    f.advance(1).await;
    // Growth: the count rises, the window keeps its end (whatever window the hit asks for).
    assert_eq!(f.store.hit(&k, 60, f.now).await.unwrap(), tally(2, t + 2));
    assert_eq!(f.store.get(&k, f.now).await.unwrap(), Some(tally(2, t + 2)));
    assert_eq!(
        f.store.get(&other, f.now).await.unwrap(),
        Some(tally(1, t + 2))
    );
    f.advance(1).await;
    // The window ended at t + 2: the count is gone, and the next hit opens a new window.
    assert_eq!(f.store.get(&k, f.now).await.unwrap(), None);
    assert_eq!(f.store.hit(&k, 2, f.now).await.unwrap(), tally(1, t + 4));
    f.finish().await;
}

async fn a_lock_starts_at_one_keeps_a_live_count_and_only_extends(mut f: Fixture) {
    let (k, w) = (random_key(), random_key());
    let t = f.now;
    // Absent: count 1 until the lock ends.
    assert_eq!(
        f.store.lock_until(&k, t + 5, t).await.unwrap(),
        tally(1, t + 5)
    );
    assert_eq!(f.store.hit(&k, 60, t).await.unwrap(), tally(2, t + 5));
    // A shorter lock changes nothing; a longer one extends; the count stays.
    assert_eq!(
        f.store.lock_until(&k, t + 3, t).await.unwrap(),
        tally(2, t + 5)
    );
    assert_eq!(
        f.store.lock_until(&k, t + 10, t).await.unwrap(),
        tally(2, t + 10)
    );
    assert_eq!(f.store.get(&k, t).await.unwrap(), Some(tally(2, t + 10)));
    // A window that has ended: the lock starts again from count 1.
    f.store.hit(&w, 1, t).await.unwrap();
    f.store.hit(&w, 1, t).await.unwrap();
    f.advance(1).await;
    assert_eq!(
        f.store.lock_until(&w, f.now + 3, f.now).await.unwrap(),
        tally(1, f.now + 3)
    );
    f.finish().await;
}

async fn clear_forgets_counts_and_locks(f: Fixture) {
    let (k, l) = (random_key(), random_key());
    let t = f.now;
    f.store.hit(&k, 60, t).await.unwrap();
    f.store.hit(&k, 60, t).await.unwrap();
    f.store.lock_until(&l, t + 60, t).await.unwrap();
    f.store.clear(&k).await.unwrap();
    f.store.clear(&l).await.unwrap();
    assert_eq!(f.store.get(&k, t).await.unwrap(), None);
    assert_eq!(f.store.get(&l, t).await.unwrap(), None);
    assert_eq!(f.store.hit(&k, 60, t).await.unwrap(), tally(1, t + 60));
    // Clearing a key that is not there is fine.
    f.store.clear(&random_key()).await.unwrap();
    f.finish().await;
}

async fn many_keys_are_read_in_their_order(mut f: Fixture) {
    let (a, b, c, ended) = (random_key(), random_key(), random_key(), random_key());
    let t = f.now;
    f.store.hit(&a, 60, t).await.unwrap();
    f.store.hit(&c, 60, t).await.unwrap();
    f.store.hit(&c, 60, t).await.unwrap();
    f.store.hit(&ended, 1, t).await.unwrap();
    f.advance(1).await;
    let read = f
        .store
        .get_many(&[c.clone(), b, a.clone(), ended, c], f.now)
        .await
        .unwrap();
    assert_eq!(
        read,
        [
            Some(tally(2, t + 60)),
            None,
            Some(tally(1, t + 60)),
            None,
            Some(tally(2, t + 60))
        ]
    );
    assert!(f.store.get_many(&[], f.now).await.unwrap().is_empty());
    f.finish().await;
}

/// Runs `hits` parallel hits on `key`, spread over `stores`, and returns the counts they saw,
/// sorted.
async fn parallel_hits(
    stores: &[Arc<dyn ThrottleStore>],
    key: &ThrottleKey,
    hits: usize,
    now: i64,
) -> Vec<u32> {
    let tasks: Vec<_> = (0..hits)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            let key = key.clone();
            tokio::spawn(async move { store.hit(&key, 60, now).await.unwrap().count })
        })
        .collect();
    let mut counts = Vec::with_capacity(hits);
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    counts.sort_unstable();
    counts
}

async fn fifty_parallel_hits_count_fifty(f: Fixture) {
    let k = random_key();
    let counts = parallel_hits(std::slice::from_ref(&f.store), &k, 50, f.now).await;
    // Every count from 1 to 50 was seen exactly once: no hit was lost or counted twice.
    assert_eq!(counts, (1..=50).collect::<Vec<u32>>());
    assert_eq!(
        f.store.get(&k, f.now).await.unwrap(),
        Some(tally(50, f.now + 60))
    );
    f.finish().await;
}

async fn two_instances_share_counts_and_locks(mut f: Fixture) {
    let (a, b) = (f.store.clone(), f.another_instance().await);
    let (k, l) = (random_key(), random_key());
    let t = f.now;
    assert_eq!(a.hit(&k, 60, t).await.unwrap(), tally(1, t + 60));
    assert_eq!(b.hit(&k, 60, t).await.unwrap(), tally(2, t + 60));
    assert_eq!(a.get(&k, t).await.unwrap(), Some(tally(2, t + 60)));
    // A lock set by one instance holds on the other; a clear on one ends it on both.
    assert_eq!(b.lock_until(&l, t + 90, t).await.unwrap(), tally(1, t + 90));
    assert_eq!(a.get(&l, t).await.unwrap(), Some(tally(1, t + 90)));
    a.clear(&l).await.unwrap();
    assert_eq!(b.get(&l, t).await.unwrap(), None);
    // Parallel hits through both instances lose no count either.
    let p = random_key();
    let counts = parallel_hits(&[a.clone(), b.clone()], &p, 40, t).await;
    assert_eq!(counts, (1..=40).collect::<Vec<u32>>());
    assert_eq!(b.get(&p, t).await.unwrap(), Some(tally(40, t + 60)));
    drop((a, b));
    f.finish().await;
}

/// What the database store writes: the row itself.
mod database {
    use super::*;

    backend_tests!(
        the_database_stores_the_given_digest_and_nothing_else,
        ended_rows_are_purged_on_the_way,
    );

    /// The row holds the key as given (a digest; nothing in clear), its count and its end.
    async fn the_database_stores_the_given_digest_and_nothing_else(backend: Backend) {
        let db = TestDb::new(&backend).await;
        let store = DatabaseStore::new(db.db.clone());
        let k = random_key();
        store.hit(&k, 60, 1_000).await.unwrap();
        store.hit(&k, 60, 1_010).await.unwrap();
        let rows = throttle::Entity::find().all(&db.db).await.unwrap();
        assert_eq!(
            rows,
            [throttle::Model {
                digest: k.as_str().to_owned(),
                count: 2,
                expires_at: 1_060,
            }]
        );
    }

    /// A row whose window ended is deleted by a later hit of the store (the first hit of a store
    /// purges; then one in 256).
    async fn ended_rows_are_purged_on_the_way(backend: Backend) {
        let db = TestDb::new(&backend).await;
        let (old, new) = (random_key(), random_key());
        DatabaseStore::new(db.db.clone())
            .hit(&old, 60, 1_000)
            .await
            .unwrap();
        let store = DatabaseStore::new(db.db.clone());
        store.hit(&new, 60, 2_000).await.unwrap();
        let rows = throttle::Entity::find().all(&db.db).await.unwrap();
        let digests: Vec<_> = rows.iter().map(|row| row.digest.as_str()).collect();
        assert_eq!(digests, [new.as_str()]);
    }
}

#[cfg_attr(
    not(security_test_redis),
    ignore = "set SECURITY_TEST_REDIS_URL to run it on Redis"
)]
#[tokio::test]
async fn redis_keys_are_the_prefixed_digest_and_always_expire() {
    let f = Fixture::redis();
    let Kind::Redis(url) = &f.kind else {
        unreachable!()
    };
    let client = ::redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let (k, l) = (random_key(), random_key());
    f.store.hit(&k, 60, f.now).await.unwrap();
    f.store.lock_until(&l, f.now + 90, f.now).await.unwrap();
    for (key, most) in [(&k, 60_000), (&l, 90_000)] {
        let name = format!("security:rl:{}", key.as_str());
        let ttl: i64 = ::redis::cmd("PTTL")
            .arg(&name)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0 && ttl <= most, "{name}: TTL {ttl}");
    }
    // A key left without a TTL (by hand, say) gets one on its next hit.
    let name = format!("security:rl:{}", random_key().as_str());
    let key = ThrottleKey::from_hex(&name["security:rl:".len()..]).unwrap();
    ::redis::cmd("SET")
        .arg(&name)
        .arg(3)
        .exec_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(f.store.hit(&key, 60, f.now).await.unwrap().count, 4);
    let ttl: i64 = ::redis::cmd("PTTL")
        .arg(&name)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0, "TTL {ttl}");
}

/// Nothing listens on port 1.
const DEAD_REDIS: &str = "redis://127.0.0.1:1/";

#[tokio::test]
async fn a_dead_redis_fails_fast() {
    // Made without Redis: the app starts.
    let store = RedisStore::new(DEAD_REDIS).unwrap();
    let k = random_key();
    for _ in 0..3 {
        let started = Instant::now();
        assert!(store.hit(&k, 60, 1_000).await.is_err());
        assert!(store.get(&k, 1_000).await.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_dead_redis_fails_open_to_counting_in_this_process() {
    let store = Resilient::new(RedisStore::new(DEAD_REDIS).unwrap(), true);
    let k = random_key();
    let started = Instant::now();
    let mut counts = Vec::new();
    for _ in 0..6 {
        counts.push(store.hit(&k, 60, 1_000).await.unwrap().count);
    }
    // The sixth of five allowed hits is seen.
    assert_eq!(counts, [1, 2, 3, 4, 5, 6]);
    assert!(started.elapsed() < Duration::from_secs(2));
    // Fail closed: the error reaches the caller, which refuses the request.
    let closed = Resilient::new(RedisStore::new(DEAD_REDIS).unwrap(), false);
    assert!(closed.hit(&k, 60, 1_000).await.is_err());
    // The in-process store alone, as an app's tests use it.
    let memory = MemoryStore::new();
    assert_eq!(memory.hit(&k, 60, 1_000).await.unwrap().count, 1);
}

#[tokio::test]
async fn a_redis_that_never_answers_fails_within_the_timeout() {
    // A server that accepts connections and never answers (a hung Redis, a black hole).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let store = RedisStore::new(&url).unwrap();
    let k = random_key();
    for _ in 0..2 {
        let started = Instant::now();
        assert!(store.hit(&k, 60, 1_000).await.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
