//! The identity cache on a fleet: every instance tells the others which cached identity to
//! drop (`SECURITY_IDENTITY_CACHE_TTL`).
//!
//! When a user changes (a password change or reset, a deactivation, a deletion, a role change,
//! a logout, a lock…), the instance that made the change forgets its own entry and publishes
//! the user's id; every instance that listens drops that entry on receipt. On PostgreSQL the
//! channel is `LISTEN/NOTIFY` on [`CHANNEL`], through the app's own pool: `SELECT pg_notify`
//! to publish (on PostgreSQL every instance publishes, with its cache on or off, so that a
//! command line or a worker without a cache still reaches the servers), and one
//! connection of its own (the app's connect options, outside its pool) held by a listener task
//! while the cache is on. On another database, when
//! `SECURITY_THROTTLE_STORE` is a Redis URL (feature `redis`), the channel is Redis pub/sub on
//! [`CHANNEL`] (Redis channels are not per database number: apps sharing a Redis server drop
//! each other's entries now and then, which costs a load, never a stale answer).
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
#[cfg(any(feature = "postgres", feature = "redis"))]
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, Value};
use tokio::sync::{mpsc, oneshot};

use crate::config::ThrottleBackend;

/// The PostgreSQL notification channel; the payload is the user's id.
pub(crate) const CHANNEL: &str = "security_identity";

/// How many ids may wait for the publisher; past it, a publish is dropped (and logged).
const QUEUE: usize = 4096;

/// At most this many ids in one statement.
const BATCH: usize = 64;

/// What the listener drops entries from (the identity cache).
#[cfg_attr(
    not(any(feature = "postgres", feature = "redis")),
    allow(dead_code, reason = "only the listeners call it")
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

/// Where the ids are published.
#[derive(Clone)]
enum Backend {
    Postgres(DatabaseConnection),
    #[cfg(feature = "redis")]
    Redis(redis::Client),
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
    /// Starts the channel (must be called within a tokio runtime): over `db` when it is
    /// PostgreSQL, else over the Redis of `throttle` when it is one; a publisher, and a listener
    /// that drops entries from `cache` when there is one. `None` when there is no channel.
    pub(crate) fn start(
        db: &DatabaseConnection,
        throttle: &ThrottleBackend,
        cache: Option<Arc<dyn Forget>>,
    ) -> Option<Bus> {
        let backend = if db.get_database_backend() == DatabaseBackend::Postgres {
            Backend::Postgres(db.clone())
        } else {
            redis_backend(throttle)?
        };
        let (queue, rx) = mpsc::channel(QUEUE);
        let (stop, stopped) = oneshot::channel();
        if let Some(cache) = cache {
            listen(&backend, cache, stopped);
        }
        tokio::spawn(publish(backend, rx));
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

#[cfg(feature = "redis")]
fn redis_backend(throttle: &ThrottleBackend) -> Option<Backend> {
    let ThrottleBackend::Redis(url) = throttle else {
        return None;
    };
    match redis::Client::open(url.expose()) {
        Ok(client) => Some(Backend::Redis(client)),
        Err(err) => {
            tracing::warn!(error = %err, "no identity invalidation channel: the Redis URL does not parse");
            None
        }
    }
}

#[cfg(not(feature = "redis"))]
fn redis_backend(_throttle: &ThrottleBackend) -> Option<Backend> {
    None
}

/// Sends the queued ids, what has queued up at once in one statement, until the bus is dropped.
async fn publish(backend: Backend, mut rx: mpsc::Receiver<Message>) {
    #[cfg(feature = "redis")]
    let mut redis: Option<redis::aio::ConnectionManager> = None;
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
            let sent = match &backend {
                Backend::Postgres(db) => db
                    .execute_raw(notify_statement(&users))
                    .await
                    .map(drop)
                    .map_err(|err| err.to_string()),
                #[cfg(feature = "redis")]
                Backend::Redis(client) => publish_redis(client, &mut redis, &users).await,
            };
            if let Err(err) = sent {
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

/// `PUBLISH` of each id in one pipeline, over a connection made on first use (and again after
/// a failure).
#[cfg(feature = "redis")]
async fn publish_redis(
    client: &redis::Client,
    connection: &mut Option<redis::aio::ConnectionManager>,
    users: &[String],
) -> Result<(), String> {
    let mut manager = match connection {
        Some(manager) => manager.clone(),
        None => {
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(REDIS_TIMEOUT))
                .set_response_timeout(Some(REDIS_TIMEOUT))
                .set_number_of_retries(0);
            let manager = redis::aio::ConnectionManager::new_with_config(client.clone(), config)
                .await
                .map_err(|err| err.to_string())?;
            *connection = Some(manager.clone());
            manager
        }
    };
    let mut pipe = redis::pipe();
    for user in users {
        pipe.cmd("PUBLISH").arg(CHANNEL).arg(user).ignore();
    }
    let sent: redis::RedisResult<()> = pipe.query_async(&mut manager).await;
    sent.map_err(|err| {
        *connection = None;
        err.to_string()
    })
}

/// How long a Redis connection or answer may take.
#[cfg(feature = "redis")]
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// The first wait after the channel failed; it doubles up to [`MAX_DELAY`].
#[cfg(any(feature = "postgres", feature = "redis"))]
const FIRST_DELAY: Duration = Duration::from_secs(1);
#[cfg(any(feature = "postgres", feature = "redis"))]
const MAX_DELAY: Duration = Duration::from_secs(30);

/// Starts the listener of `backend`.
fn listen(backend: &Backend, cache: Arc<dyn Forget>, stopped: oneshot::Receiver<()>) {
    match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres(db) => {
            // A pool of its own (one connection, the app's connect options): the listener
            // holds its connection for good, which must not shrink the app's pool (a pool of
            // one would wait forever).
            let options = db.get_postgres_connection_pool().connect_options();
            let pool = sea_orm::sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_lazy_with((*options).clone());
            tokio::spawn(listen_pg(pool, cache, stopped));
        }
        #[cfg(not(feature = "postgres"))]
        Backend::Postgres(_) => drop((cache, stopped)),
        #[cfg(feature = "redis")]
        Backend::Redis(client) => {
            tokio::spawn(listen_redis(client.clone(), cache, stopped));
        }
    }
}

/// A listener's reconnection state: the next delay (1 s, then doubling up to 30 s) and whether
/// the outage was logged (once per outage).
#[cfg(any(feature = "postgres", feature = "redis"))]
struct Backoff {
    what: String,
    delay: Duration,
    down: bool,
}

#[cfg(any(feature = "postgres", feature = "redis"))]
impl Backoff {
    fn new(what: String) -> Self {
        Backoff {
            what,
            delay: FIRST_DELAY,
            down: false,
        }
    }

    /// A (re)connection: whatever was published while this instance was not listening is
    /// unknown, so the cache is cleared.
    fn connected(&mut self, cache: &dyn Forget) {
        cache.forget_all();
        if self.down {
            tracing::info!(
                "identity invalidation channel back ({}); the identity cache was cleared",
                self.what
            );
        }
        self.down = false;
        self.delay = FIRST_DELAY;
    }

    /// A failure: logged once per outage, then the delay. `false` when the bus was dropped
    /// meanwhile (the listener ends).
    async fn failed(
        &mut self,
        error: &(dyn std::fmt::Display + Sync),
        stopped: &mut oneshot::Receiver<()>,
    ) -> bool {
        if !self.down {
            tracing::warn!(
                error = %error,
                "identity invalidation channel down ({}): until it is back, changes made on \
                 other instances are seen here only when the cached entry expires \
                 (SECURITY_IDENTITY_CACHE_TTL)",
                self.what
            );
        }
        self.down = true;
        let delay = self.delay;
        self.delay = (self.delay * 2).min(MAX_DELAY);
        tokio::select! {
            _ = stopped => false,
            () = tokio::time::sleep(delay) => true,
        }
    }
}

/// Subscribes to [`CHANNEL`] until the bus is dropped, reconnecting after a failure
/// ([`Backoff`]).
#[cfg(feature = "redis")]
async fn listen_redis(
    client: redis::Client,
    cache: Arc<dyn Forget>,
    mut stopped: oneshot::Receiver<()>,
) {
    use futures_util::StreamExt;

    let mut backoff = Backoff::new(format!("Redis SUBSCRIBE {CHANNEL}"));
    loop {
        let connect = async {
            let mut pubsub = tokio::time::timeout(REDIS_TIMEOUT, client.get_async_pubsub())
                .await
                .map_err(|_| "timed out".to_owned())?
                .map_err(|err| err.to_string())?;
            pubsub
                .subscribe(CHANNEL)
                .await
                .map_err(|err| err.to_string())?;
            Ok::<_, String>(pubsub)
        };
        let connected = tokio::select! {
            _ = &mut stopped => return,
            connected = connect => connected,
        };
        let error = match connected {
            Ok(pubsub) => {
                backoff.connected(&*cache);
                let mut messages = pubsub.into_on_message();
                loop {
                    let next = tokio::select! {
                        _ = &mut stopped => return,
                        next = messages.next() => next,
                    };
                    match next {
                        Some(message) => match message.get_payload::<String>() {
                            Ok(user) => cache.forget(&user),
                            Err(_) => cache.forget_all(),
                        },
                        None => break "the connection was lost".to_owned(),
                    }
                }
            }
            Err(err) => err,
        };
        if !backoff.failed(&error, &mut stopped).await {
            return;
        }
    }
}

/// Listens on [`CHANNEL`] until the bus is dropped, reconnecting after a failure
/// ([`Backoff`]).
#[cfg(feature = "postgres")]
async fn listen_pg(
    pool: sea_orm::sqlx::PgPool,
    cache: Arc<dyn Forget>,
    mut stopped: oneshot::Receiver<()>,
) {
    use sea_orm::sqlx::Error as SqlxError;
    use sea_orm::sqlx::postgres::PgListener;

    let mut backoff = Backoff::new(format!("PostgreSQL LISTEN {CHANNEL}"));
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
                backoff.connected(&*cache);
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
        if !backoff.failed(&error, &mut stopped).await {
            return;
        }
    }
}
