//! Batched identity loads: the guard's one query, shared by the requests that wait together.
//!
//! Every guarded request needs its user and roles. Under load, requests arrive while a load is
//! running; instead of each waiting for a connection and a round trip of its own, they queue,
//! and the next query (`WHERE id IN (…)`) serves all of them. Every request is answered by a
//! query that started after it arrived, so nothing is staler than an unbatched load, and no
//! request costs more than one query. Alone, a request runs its query at once.
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
use crate::store::model::SecurityUser;

/// At most this many ids in one query (well within SQLite's bound-variable limit).
const MAX_BATCH: usize = 256;

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
}

impl<U: SecurityUser> Identity<U> {
    pub(crate) fn new(found: UserWithRoles<U>) -> Arc<Self> {
        Arc::new(Identity {
            found: Arc::new(found),
            fingerprint: OnceLock::new(),
        })
    }

    /// The fingerprint, computed by `compute` the first time.
    pub(crate) fn fingerprint(&self, compute: impl FnOnce(&UserWithRoles<U>) -> String) -> &str {
        self.fingerprint
            .get_or_init(|| compute(&self.found))
            .as_str()
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
}

impl<U: SecurityUser> IdentityLoader<U> {
    pub(crate) fn new(datastore: Datastore<U>) -> Arc<Self> {
        Arc::new(IdentityLoader {
            queue: Mutex::new(Queue {
                running: false,
                waiting: Vec::new(),
            }),
            datastore,
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
        keys: &[String],
    ) -> Result<Loaded<U>, DatastoreError> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut queue = self.lock();
            queue.waiting.push(Request {
                id: id.clone(),
                keys: keys.to_vec(),
                reply: tx,
            });
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            let loader = Arc::clone(self);
            tokio::spawn(async move { loader.drain().await });
        }
        rx.await.unwrap_or_else(|_| {
            Err(DatastoreError::Database(sea_orm::DbErr::Custom(
                "the identity loader stopped before answering".into(),
            )))
        })
    }

    /// Runs queries until nobody waits.
    async fn drain(self: Arc<Self>) {
        loop {
            let batch: Vec<Request<U>> = {
                let mut queue = self.lock();
                if queue.waiting.is_empty() {
                    queue.running = false;
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
            // A panic in the query would leave `running` set: answer everyone and reset.
            let result = std::panic::AssertUnwindSafe(self.datastore.load_identities(&ids, &keys));
            let result = futures_util::FutureExt::catch_unwind(result)
                .await
                .unwrap_or_else(|_| {
                    Err(DatastoreError::Database(sea_orm::DbErr::Custom(
                        "the identity query panicked".into(),
                    )))
                });
            answer(batch, result);
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
