//! Batched identity loads: the guard's one query, shared by the requests that wait together.
//!
//! Every guarded request needs its user and roles. Under load, requests arrive while a load is
//! running; instead of each waiting for a connection and a round trip of its own, they queue,
//! and the next query (`WHERE id IN (…)`) serves all of them. Every request is answered by a
//! query that started after it arrived, so nothing is staler than an unbatched load, and no
//! request costs more than one query. Alone, a request runs its query at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::datastore::{Datastore, DatastoreError, UserWithRoles};
use crate::model::SecurityUser;

/// At most this many ids in one query (well within SQLite's bound-variable limit).
const MAX_BATCH: usize = 256;

type Reply<U> = oneshot::Sender<Result<Option<UserWithRoles<U>>, DatastoreError>>;

struct Queue<U: SecurityUser> {
    running: bool,
    waiting: Vec<(U::Id, Reply<U>)>,
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

    /// Loads one user and its roles, in a batch with whoever else is waiting.
    pub(crate) async fn load(
        self: &Arc<Self>,
        id: &U::Id,
    ) -> Result<Option<UserWithRoles<U>>, DatastoreError> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut queue = self.lock();
            queue.waiting.push((id.clone(), tx));
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
            let batch: Vec<(U::Id, Reply<U>)> = {
                let mut queue = self.lock();
                if queue.waiting.is_empty() {
                    queue.running = false;
                    return;
                }
                let take = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..take).collect()
            };
            let mut ids: Vec<U::Id> = Vec::with_capacity(batch.len());
            for (id, _) in &batch {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
            // A panic in the query would leave `running` set: answer everyone and reset.
            let result = std::panic::AssertUnwindSafe(self.datastore.load_many_with_roles(&ids));
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

fn answer<U: SecurityUser>(
    batch: Vec<(U::Id, Reply<U>)>,
    result: Result<HashMap<String, UserWithRoles<U>>, DatastoreError>,
) {
    match result {
        Ok(found) => {
            for (id, reply) in batch {
                let _ = reply.send(Ok(found.get(&id.to_string()).cloned()));
            }
        }
        Err(err) => {
            let message = err.to_string();
            for (_, reply) in batch {
                let _ = reply.send(Err(DatastoreError::Database(sea_orm::DbErr::Custom(
                    message.clone(),
                ))));
            }
        }
    }
}
