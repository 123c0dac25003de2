//! The identity cache on a fleet: every instance tells the others which cached identity to
//! drop (`SECURITY_IDENTITY_CACHE_TTL`).
//!
//! When a user changes (a password change or reset, a deactivation, a deletion, a role change,
//! a logout, a lock…), the instance that made the change forgets its own entry and publishes
//! the user's id; every instance that listens drops that entry on receipt. On PostgreSQL the
//! channel is `LISTEN/NOTIFY` on [`CHANNEL`], through the app's own pool: `SELECT pg_notify`
//! to publish (on PostgreSQL every instance publishes, with its cache on or off, so that a
//! command line or a worker without a cache still reaches the servers), and one pooled
//! connection held by a listener task while the cache is on.
//!
//! A publish never blocks the request that made it: ids go through a bounded queue to one
//! publisher task, which sends what has queued up in one statement. When the queue is full or
//! the database refuses, a warning is logged and the other instances drop the entry when it
//! expires. A short-lived process (the command line) calls [`Bus::flush`] before it exits.
//!
//! When the listener's connection fails, a warning is logged and entries expire only after the
//! TTL until it is back; after every (re)connection the whole cache is cleared, since what
//! was published meanwhile is unknown. There is no channel on MySQL or SQLite: there, an
//! entry changed on another instance is served until it expires (the runtime says so at
//! start-up).

use std::sync::Arc;
#[cfg(feature = "postgres")]
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, Value};
use tokio::sync::{mpsc, oneshot};

/// The PostgreSQL notification channel; the payload is the user's id.
pub(crate) const CHANNEL: &str = "security_identity";

/// How many ids may wait for the publisher; past it, a publish is dropped (and logged).
const QUEUE: usize = 4096;

/// At most this many ids in one statement.
const BATCH: usize = 64;

/// What the listener drops entries from (the identity cache).
#[cfg_attr(
    not(feature = "postgres"),
    allow(dead_code, reason = "only the PostgreSQL listener calls it")
)]
pub(crate) trait Forget: Send + Sync + 'static {
    /// Drops the entry of the user whose id reads `user`.
    fn forget(&self, user: &str);
    /// Drops every entry.
    fn forget_all(&self);
}

enum Message {
    Publish(String),
    /// Answered once everything queued before it was sent (or failed).
    Flush(oneshot::Sender<()>),
}

/// The invalidation channel of one runtime: its publisher and, while the cache is on, its
/// listener. Dropping it stops both.
pub(crate) struct Bus {
    queue: mpsc::Sender<Message>,
    /// Dropped with the bus: stops the listener.
    _stop: oneshot::Sender<()>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").finish_non_exhaustive()
    }
}

impl Bus {
    /// Starts the channel over `db` (must be called within a tokio runtime): a publisher, and a
    /// listener that drops entries from `cache` when there is one. `None` when the database
    /// has no channel (not PostgreSQL).
    pub(crate) fn start(db: &DatabaseConnection, cache: Option<Arc<dyn Forget>>) -> Option<Bus> {
        if db.get_database_backend() != DatabaseBackend::Postgres {
            return None;
        }
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(publish_pg(db.clone(), rx));
        let (stop, stopped) = oneshot::channel();
        if let Some(cache) = cache {
            listen(db, cache, stopped);
        }
        Some(Bus { queue, _stop: stop })
    }

    /// Queues `user` (an id) for the other instances; never waits.
    pub(crate) fn publish(&self, user: String) {
        match self.queue.try_send(Message::Publish(user)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => tracing::warn!(
                "identity invalidation queue full: other instances drop this entry only when \
                 it expires (SECURITY_IDENTITY_CACHE_TTL)"
            ),
            Err(mpsc::error::TrySendError::Closed(_)) => tracing::warn!(
                "identity invalidation publisher stopped: other instances drop this entry \
                 only when it expires (SECURITY_IDENTITY_CACHE_TTL)"
            ),
        }
    }

    /// Waits until everything published so far was sent (or failed to be).
    pub(crate) async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// Sends the queued ids, what has queued up at once in one statement, until the bus is dropped.
async fn publish_pg(db: DatabaseConnection, mut rx: mpsc::Receiver<Message>) {
    let mut users: Vec<String> = Vec::new();
    let mut flushes = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Publish(user) => {
                    if !users.contains(&user) {
                        users.push(user);
                    }
                }
                Message::Flush(done) => flushes.push(done),
            }
            next = if users.len() < BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !users.is_empty() {
            if let Err(err) = db.execute_raw(notify_statement(&users)).await {
                tracing::warn!(
                    error = %err,
                    "could not publish an identity invalidation: other instances drop the \
                     entry only when it expires (SECURITY_IDENTITY_CACHE_TTL)"
                );
            }
            users.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// `SELECT pg_notify($1, $2), pg_notify($1, $3), …`: one notification per user.
fn notify_statement(users: &[String]) -> Statement {
    let calls: Vec<String> = (0..users.len())
        .map(|i| format!("pg_notify($1, ${})", i + 2))
        .collect();
    let mut values = Vec::with_capacity(users.len() + 1);
    values.push(Value::from(CHANNEL));
    values.extend(users.iter().map(|u| Value::from(u.as_str())));
    Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        format!("SELECT {}", calls.join(", ")),
        values,
    )
}

#[cfg(feature = "postgres")]
fn listen(db: &DatabaseConnection, cache: Arc<dyn Forget>, stopped: oneshot::Receiver<()>) {
    let pool = db.get_postgres_connection_pool().clone();
    tokio::spawn(listen_pg(pool, cache, stopped));
}

#[cfg(not(feature = "postgres"))]
fn listen(_db: &DatabaseConnection, _cache: Arc<dyn Forget>, _stopped: oneshot::Receiver<()>) {}

/// Listens on [`CHANNEL`] until the bus is dropped or the pool closed, reconnecting (1 s, then
/// doubling up to 30 s) after a failure and clearing the cache after every (re)connection.
#[cfg(feature = "postgres")]
async fn listen_pg(
    pool: sea_orm::sqlx::PgPool,
    cache: Arc<dyn Forget>,
    mut stopped: oneshot::Receiver<()>,
) {
    use sea_orm::sqlx::Error as SqlxError;
    use sea_orm::sqlx::postgres::PgListener;

    const FIRST_DELAY: Duration = Duration::from_secs(1);
    const MAX_DELAY: Duration = Duration::from_secs(30);
    let mut delay = FIRST_DELAY;
    let mut was_down = false;
    loop {
        let connect = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, SqlxError>(listener)
        };
        let connected = tokio::select! {
            _ = &mut stopped => return,
            connected = connect => connected,
        };
        let error = match connected {
            Ok(mut listener) => {
                // Whatever was published while this instance was not listening is unknown.
                cache.forget_all();
                if was_down {
                    tracing::info!(
                        "identity invalidation channel back (PostgreSQL LISTEN {CHANNEL}); \
                         the identity cache was cleared"
                    );
                }
                was_down = false;
                delay = FIRST_DELAY;
                loop {
                    let next = tokio::select! {
                        _ = &mut stopped => return,
                        next = listener.try_recv() => next,
                    };
                    match next {
                        Ok(Some(notification)) => cache.forget(notification.payload()),
                        // The connection was lost and is back: notifications may be lost.
                        Ok(None) => {
                            cache.forget_all();
                            tracing::warn!(
                                "identity invalidation channel reconnected (PostgreSQL LISTEN \
                                 {CHANNEL}); the identity cache was cleared"
                            );
                        }
                        Err(err) => break err,
                    }
                }
            }
            Err(err) => err,
        };
        if matches!(error, SqlxError::PoolClosed) {
            return;
        }
        if !was_down {
            tracing::warn!(
                error = %error,
                "identity invalidation channel down (PostgreSQL LISTEN {CHANNEL}): until it is \
                 back, changes made on other instances are seen here only when the cached \
                 entry expires (SECURITY_IDENTITY_CACHE_TTL)"
            );
        }
        was_down = true;
        tokio::select! {
            _ = &mut stopped => return,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(MAX_DELAY);
    }
}
