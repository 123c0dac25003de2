//! Batched identity loads: the guard's one query, shared by the requests that wait together.
//!
//! Every guarded request needs its user and roles. Under load, requests arrive while a load is
//! running; instead of each waiting for a connection and a round trip of its own, they queue,
//! and the next query (`WHERE id IN (…)`) serves all of them. Before each query the loader
//! lets the tasks that are ready run first (a few passes of the scheduler, no timer), so that
//! the requests already read join the batch. Every request is answered by a query that started
//! after it arrived, so nothing is staler than an unbatched load, and no request costs more
//! than one query. The query runs on a connection the loader keeps while it has work
//! ([`HeldConnection`]).
//!
//! A request may name revocation keys (its session's, its remember-me cookie's): the same
//! query tells whether a logout ended one of them.
//!
//! Written by hand: the batching is a dozen lines over a mutex and oneshot channels, no crate
//! batches concurrent loads into one SeaORM `IN (…)` query, and the data loaders on crates.io
//! batch by a timer (adding latency to every request) or need a runtime of their own.

use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::oneshot;

use crate::store::datastore::{Datastore, DatastoreError, Identities, UserWithRoles};
use crate::store::held::HeldConnection;
use crate::store::model::SecurityUser;

/// At most this many ids in one query (well within SQLite's bound-variable limit).
const MAX_BATCH: usize = 256;

/// A batch is gathered over at least this many passes of the scheduler…
const MIN_GATHER: usize = 2;
/// …and at most this many. Measured with `bench/load.sh` (32 connections, one core): one
/// pass gives batches of about 12 requests, two about 28 and a guard 0.05× to 0.15× closer to
/// the bare route; more passes add little.
const MAX_GATHER: usize = 4;

/// What one request learns: the user and roles, if the user exists, and whether a key it
/// named was revoked.
pub(crate) type Loaded<U> = Option<(Arc<Identity<U>>, bool)>;

/// A loaded user with its roles, shared (not copied) by the requests of one batch and, with
/// the identity cache, by every request until the entry goes.
pub(crate) struct Identity<U: SecurityUser> {
    /// The user and its roles, as the guards and extractors hand them on.
    pub(crate) found: Arc<UserWithRoles<U>>,
    /// The account fingerprint of `found`, computed by the first request that checks one
    /// (an HMAC: a cached identity then costs none per request).
    fingerprint: OnceLock<String>,
    /// The token fingerprint of `found` (with `fs_token_uniquifier`, an HMAC of it), computed
    /// by the first token check, for the same reason.
    token_fingerprint: OnceLock<Option<String>>,
}

impl<U: SecurityUser> Identity<U> {
    pub(crate) fn new(found: UserWithRoles<U>) -> Arc<Self> {
        Arc::new(Identity {
            found: Arc::new(found),
            fingerprint: OnceLock::new(),
            token_fingerprint: OnceLock::new(),
        })
    }

    /// The fingerprint, computed by `compute` the first time.
    pub(crate) fn fingerprint(&self, compute: impl FnOnce(&UserWithRoles<U>) -> String) -> &str {
        self.fingerprint
            .get_or_init(|| compute(&self.found))
            .as_str()
    }

    /// The token fingerprint, computed by `compute` the first time.
    pub(crate) fn token_fingerprint(
        &self,
        compute: impl FnOnce(&UserWithRoles<U>) -> Option<String>,
    ) -> Option<&str> {
        self.token_fingerprint
            .get_or_init(|| compute(&self.found))
            .as_deref()
    }
}

type Reply<U> = oneshot::Sender<Result<Loaded<U>, DatastoreError>>;

struct Request<U: SecurityUser> {
    id: U::Id,
    keys: Vec<String>,
    reply: Reply<U>,
}

struct Queue<U: SecurityUser> {
    running: bool,
    waiting: Vec<Request<U>>,
}

pub(crate) struct IdentityLoader<U: SecurityUser> {
    queue: Mutex<Queue<U>>,
    datastore: Datastore<U>,
    /// Queries run (for tests).
    #[cfg(test)]
    queries: std::sync::atomic::AtomicUsize,
}

impl<U: SecurityUser> IdentityLoader<U> {
    pub(crate) fn new(datastore: Datastore<U>) -> Arc<Self> {
        Arc::new(IdentityLoader {
            queue: Mutex::new(Queue {
                running: false,
                waiting: Vec::new(),
            }),
            datastore,
            #[cfg(test)]
            queries: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<U>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads one user and its roles, and whether one of `keys` is revoked, in a batch with
    /// whoever else is waiting.
    pub(crate) async fn load(
        self: &Arc<Self>,
        id: &U::Id,
        keys: &[&str],
    ) -> Result<Loaded<U>, DatastoreError> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut queue = self.lock();
            queue.waiting.push(Request {
                id: id.clone(),
                keys: keys.iter().map(|&key| key.to_owned()).collect(),
                reply: tx,
            });
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            // Made before the task, so that a task dropped before its first poll resets too.
            let stopped = Stopped {
                loader: Arc::clone(self),
                done: false,
            };
            tokio::spawn(IdentityLoader::drain(stopped));
        }
        rx.await.unwrap_or_else(|_| {
            Err(DatastoreError::Database(sea_orm::DbErr::Custom(
                "the identity loader stopped before answering".into(),
            )))
        })
    }

    /// Runs queries until nobody waits, on one connection held meanwhile; `stopped` (which
    /// holds the loader) resets the queue if the task ends any other way.
    async fn drain(mut stopped: Stopped<U>) {
        let this = Arc::clone(&stopped.loader);
        let mut conn = HeldConnection::default();
        loop {
            this.gather().await;
            let batch: Vec<Request<U>> = {
                let mut queue = this.lock();
                if queue.waiting.is_empty() {
                    queue.running = false;
                    stopped.done = true;
                    return;
                }
                let take = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..take).collect()
            };
            let mut ids: Vec<U::Id> = Vec::with_capacity(batch.len());
            let mut keys: Vec<String> = Vec::new();
            for request in &batch {
                if !ids.contains(&request.id) {
                    ids.push(request.id.clone());
                }
                for key in &request.keys {
                    if !keys.contains(key) {
                        keys.push(key.clone());
                    }
                }
            }
            #[cfg(test)]
            this.queries
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // A panicking query answers its batch with an error, and the loader goes on.
            let query = this.datastore.load_identities(Some(&mut conn), &ids, &keys);
            let result = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(query))
                .await
                .unwrap_or_else(|_| {
                    Err(DatastoreError::Database(sea_orm::DbErr::Custom(
                        "the identity query panicked".into(),
                    )))
                });
            if result.is_err() {
                conn.release();
            }
            answer(batch, result);
        }
    }

    /// Lets the requests that are ready to run reach the queue before the next query: at
    /// least [`MIN_GATHER`] passes of the scheduler (no timer), more while each pass brings
    /// more, at most [`MAX_GATHER`]. Under load a batch then holds nearly every request in
    /// flight; alone, a request waits for two passes of an idle scheduler.
    async fn gather(&self) {
        let mut seen = self.lock().waiting.len();
        for pass in 1..=MAX_GATHER {
            tokio::task::yield_now().await;
            let now = self.lock().waiting.len();
            if now >= MAX_BATCH || (pass >= MIN_GATHER && now == seen) {
                return;
            }
            seen = now;
        }
    }
}

/// Resets the queue when a drain task ends early (dropped with its runtime, or a panic outside
/// the query): the waiters are answered with an error (their reply senders dropped) and the
/// next load starts a new task, instead of every later load waiting for one that is gone.
struct Stopped<U: SecurityUser> {
    loader: Arc<IdentityLoader<U>>,
    /// Set when the task ended by emptying the queue.
    done: bool,
}

impl<U: SecurityUser> Drop for Stopped<U> {
    fn drop(&mut self) {
        if !self.done {
            let mut queue = self.loader.lock();
            queue.waiting.clear();
            queue.running = false;
        }
    }
}

fn answer<U: SecurityUser>(batch: Vec<Request<U>>, result: Result<Identities<U>, DatastoreError>) {
    match result {
        Ok((found, revoked)) => {
            // One shared identity per user of the batch, whoever asked for it.
            let found: std::collections::HashMap<String, Arc<Identity<U>>> = found
                .into_iter()
                .map(|(id, identity)| (id, Identity::new(identity)))
                .collect();
            for request in batch {
                let loaded = found.get(&request.id.to_string()).map(|identity| {
                    let is_revoked = request.keys.iter().any(|k| revoked.contains(k));
                    (Arc::clone(identity), is_revoked)
                });
                let _ = request.reply.send(Ok(loaded));
            }
        }
        Err(err) => {
            // Every waiter gets the database's own error (its driver code included, which
            // tells a transient conflict); other failures, rarer, as text.
            let db_err = match err {
                DatastoreError::Database(db_err) => db_err,
                other => sea_orm::DbErr::Custom(other.to_string()),
            };
            for Request { reply, .. } in batch {
                let _ = reply.send(Err(DatastoreError::Database(db_err.clone())));
            }
        }
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use std::time::Duration;

    use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

    use super::*;
    use crate::entities::user::Model as User;
    use crate::password::{Passwords, Scheme};
    use crate::store::datastore::NewUser;

    /// A datastore over an SQLite file whose pool has at most `connections` connections, with
    /// the user matt@lp.com (role admin).
    async fn datastore(dir: &tempfile::TempDir, connections: u32) -> (Datastore<User>, i32) {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("db").display());
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(connections)
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        let db: DatabaseConnection = Database::connect(options).await.unwrap();
        crate::schema::create_test_tables(&db).await;
        let store = Datastore::<User>::new(db, Passwords::new(Scheme::Plaintext, None));
        let user = store
            .create_user(NewUser::new("matt@lp.com", Some("password")))
            .await
            .unwrap();
        let role = store.create_role("admin", None).await.unwrap();
        store.add_role_to_user(&user, &role).await.unwrap();
        (store, user.id)
    }

    fn roles(loaded: Loaded<User>) -> Vec<String> {
        loaded.expect("the user").0.found.roles.clone()
    }

    /// Concurrent loads, some ready a pass of the scheduler later than others, are answered
    /// by one query, each with its user; the connection goes back to the pool once nobody
    /// waits.
    #[test]
    fn an_identity_computes_each_fingerprint_once() {
        let identity = Identity::new(crate::store::datastore::UserWithRoles {
            user: User {
                id: 1,
                email: "a@example.com".to_owned(),
                password: None,
                active: true,
                confirmed_at: None,
            },
            roles: Vec::new(),
            epoch: None,
        });
        let calls = std::cell::Cell::new(0);
        let count = |value: &str| {
            calls.set(calls.get() + 1);
            value.to_owned()
        };
        assert_eq!(identity.fingerprint(|_| count("fp")), "fp");
        assert_eq!(identity.fingerprint(|_| count("other")), "fp");
        assert_eq!(
            identity.token_fingerprint(|_| Some(count("tfp"))),
            Some("tfp")
        );
        assert_eq!(
            identity.token_fingerprint(|_| Some(count("other"))),
            Some("tfp")
        );
        assert_eq!(calls.get(), 2);
    }

    #[tokio::test]
    async fn concurrent_loads_share_queries_and_give_the_connection_back() {
        let dir = tempfile::tempdir().unwrap();
        let (store, id) = datastore(&dir, 2).await;
        let loader = IdentityLoader::new(store.clone());
        let loads: Vec<_> = (0..40)
            .map(|n| {
                let loader = Arc::clone(&loader);
                let id = if n % 2 == 0 { id } else { id + 1000 };
                tokio::spawn(async move {
                    // Half the requests become ready one pass of the scheduler later, as
                    // requests read from the network after the query started would.
                    if n % 2 == 1 {
                        tokio::task::yield_now().await;
                    }
                    loader.load(&id, &[]).await
                })
            })
            .collect();
        for (n, load) in loads.into_iter().enumerate() {
            let loaded = load.await.unwrap().unwrap();
            if n % 2 == 0 {
                assert_eq!(roles(loaded), ["admin"]);
            } else {
                assert!(loaded.is_none(), "no user {}", id + 1000);
            }
        }
        let queries = loader.queries.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(queries, 1, "one query for the 40 loads");
        // Every connection of the pool is idle again once the loader has stopped.
        let pool = store.connection().get_sqlite_connection_pool();
        for _ in 0..100 {
            if !loader.lock().running && pool.num_idle() == pool.size() as usize {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "the loader kept its connection: {} of {} idle",
            pool.num_idle(),
            pool.size()
        );
    }

    /// While loads keep coming, the loader does not keep a connection that another task waits
    /// for: with a pool of one, and with a pool of two whose other connection is in use.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_busy_loader_does_not_starve_the_pool() {
        for connections in [1, 2] {
            let dir = tempfile::tempdir().unwrap();
            let (store, id) = datastore(&dir, connections).await;
            let pool = store.connection().get_sqlite_connection_pool();
            let _in_use = if connections == 2 {
                Some(pool.acquire().await.unwrap())
            } else {
                None
            };
            let loader = IdentityLoader::new(store.clone());
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let busy: Vec<_> = (0..8)
                .map(|_| {
                    let (loader, stop) = (Arc::clone(&loader), Arc::clone(&stop));
                    tokio::spawn(async move {
                        let mut loads = 0u64;
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            loader.load(&id, &[]).await.unwrap();
                            loads += 1;
                        }
                        loads
                    })
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let write = tokio::time::timeout(
                Duration::from_secs(3),
                store
                    .connection()
                    .execute_unprepared("UPDATE user SET active = 1"),
            )
            .await;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let mut loads = 0;
            for task in busy {
                loads += task.await.unwrap();
            }
            assert!(loads > 0);
            write
                .unwrap_or_else(|_| panic!("pool of {connections}: the write waited"))
                .unwrap();
        }
    }

    /// A load whose drain task was dropped with its runtime gets an error, and a load on
    /// another runtime is answered (no task is thought to be running any more).
    #[test]
    fn a_drain_task_dropped_with_its_runtime_does_not_block_later_loads() {
        let dir = tempfile::tempdir().unwrap();
        let first = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (store, id) = first.block_on(datastore(&dir, 2));
        let loader = IdentityLoader::new(store);
        // The load queues and spawns the drain task; the runtime goes before either runs.
        let queued = {
            let loader = Arc::clone(&loader);
            first.spawn(async move { loader.load(&id, &[]).await })
        };
        first.block_on(async {
            for _ in 0..1000 {
                if loader.lock().running {
                    break;
                }
                tokio::task::yield_now().await;
            }
        });
        assert!(loader.lock().running, "the drain task was started");
        drop(first);
        drop(queued);
        assert!(!loader.lock().running, "the queue was reset");
        let second = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let loaded = second
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(5), loader.load(&id, &[])).await
            })
            .expect("answered");
        assert_eq!(roles(loaded.unwrap()), ["admin"]);
    }

    /// A failed query answers every waiter with the error, the connection is not reused, and
    /// the next load works.
    #[tokio::test]
    async fn a_failed_query_is_everyones_error_and_the_next_load_works() {
        let dir = tempfile::tempdir().unwrap();
        let (store, id) = datastore(&dir, 2).await;
        let loader = IdentityLoader::new(store.clone());
        let db = store.connection();
        db.execute_unprepared("ALTER TABLE roles_users RENAME TO roles_users_away")
            .await
            .unwrap();
        let loads: Vec<_> = (0..4)
            .map(|_| {
                let loader = Arc::clone(&loader);
                tokio::spawn(async move { loader.load(&id, &[]).await })
            })
            .collect();
        for load in loads {
            let Err(err) = load.await.unwrap() else {
                panic!("the table is missing: the load must fail");
            };
            assert!(err.to_string().contains("roles_users"), "{err}");
        }
        db.execute_unprepared("ALTER TABLE roles_users_away RENAME TO roles_users")
            .await
            .unwrap();
        assert_eq!(roles(loader.load(&id, &[]).await.unwrap()), ["admin"]);
    }

    /// The held connection is given back when asked, and none is held before the first query.
    #[tokio::test]
    async fn the_held_connection_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let (store, id) = datastore(&dir, 4).await;
        let mut conn = HeldConnection::default();
        assert!(!conn.is_held());
        let (found, _) = store
            .load_identities(Some(&mut conn), &[id], &[])
            .await
            .unwrap();
        assert_eq!(found[&id.to_string()].roles, ["admin"]);
        assert!(conn.is_held(), "kept while the pool has another connection");
        conn.release();
        assert!(!conn.is_held());
    }
}
