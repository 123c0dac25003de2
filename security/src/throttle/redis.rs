//! [`RedisStore`]: counters and locks in Redis (cargo feature `redis`), shared by every
//! instance that uses the same Redis.
//!
//! A key `security:rl:<digest>` holds the count; its TTL is the window. Every key gets a TTL
//! in the same script that makes it, so that no key lives forever. Redis keeps relative times:
//! a window lasts its length by Redis's clock, and the caller's `now` only converts the TTL to
//! `expires_at` (`now + ⌈ttl⌉`).
//!
//! The connection is made on first use, not when the store is made, so that an app starts
//! while Redis is down; while it cannot be made, it is tried again at most once a second, and
//! calls in between fail at once. Connecting and every command time out after 500 ms, so
//! that a dead Redis costs a request half a second at most.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Tally, ThrottleError, ThrottleKey, ThrottleStore};

/// How long connecting to Redis, and each command, may take.
const TIMEOUT: Duration = Duration::from_millis(500);

/// How long after a failed connection the next one is tried.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The prefix of every key (the digest follows).
const PREFIX: &str = "security:rl:";

/// `INCR`, and a TTL of `ARGV[1]` ms when the key has none (it was just made). Returns the
/// count and the TTL in ms.
const HIT: &str = r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  ttl = tonumber(ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {count, ttl}
";

/// A lock of `ARGV[1]` ms: an absent key becomes count 1 with that TTL; a live one keeps its
/// count and gets that TTL if it is longer than its own. Returns the count and the TTL in ms.
const LOCK: &str = r"
local want = tonumber(ARGV[1])
local count = redis.call('GET', KEYS[1])
if not count then
  redis.call('SET', KEYS[1], 1, 'PX', want)
  return {1, want}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < want then
  redis.call('PEXPIRE', KEYS[1], want)
  ttl = want
end
return {tonumber(count), ttl}
";

/// Counters and locks in Redis. Made from a `redis://`, `redis+unix://` URL (which may hold a
/// password: it is never logged or shown, not even by `Debug`); `rediss://` needs a TLS
/// feature of the `redis` crate that this crate does not turn on.
///
/// ```no_run
/// # async fn run() -> Result<(), security::throttle::ThrottleError> {
/// use security::throttle::{RedisStore, ThrottleKey, ThrottleStore};
///
/// let store = RedisStore::new("redis://127.0.0.1:6379/0")?; // no connection yet
/// let key = ThrottleKey::from_hex(&"0f".repeat(32)).unwrap();
/// let tally = store.hit(&key, 60, 1_000).await?; // connects
/// assert_eq!((tally.count, tally.expires_at), (1, 1_060));
/// # Ok(()) }
/// ```
pub struct RedisStore {
    client: redis::Client,
    /// The connection once made, or when the last attempt to make it failed.
    state: Mutex<State>,
    /// Held while connecting, so that concurrent calls make one attempt.
    connecting: tokio::sync::Mutex<()>,
    hit: redis::Script,
    lock: redis::Script,
}

#[derive(Default)]
struct State {
    manager: Option<ConnectionManager>,
    failed_at: Option<Instant>,
}

impl RedisStore {
    /// A store for the Redis at `url`. Only parses the URL: Redis is first contacted by the
    /// first call.
    ///
    /// # Errors
    /// The URL does not parse, or names something this build cannot connect to.
    pub fn new(url: &str) -> Result<Self, ThrottleError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        Ok(RedisStore {
            client,
            state: Mutex::new(State::default()),
            connecting: tokio::sync::Mutex::new(()),
            hit: redis::Script::new(HIT),
            lock: redis::Script::new(LOCK),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The connection: the one made before, or a new one unless the last attempt failed less
    /// than a second ago.
    async fn connection(&self) -> Result<ConnectionManager, ThrottleError> {
        if let Some(manager) = self.ready()? {
            return Ok(manager);
        }
        let _connecting = self.connecting.lock().await;
        // Another call may have connected, or failed to, while this one waited.
        if let Some(manager) = self.ready()? {
            return Ok(manager);
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            // A lost connection is made again on the next call, once: the caller waits for
            // one attempt, not for a series of them.
            .set_number_of_retries(0);
        match ConnectionManager::new_with_config(self.client.clone(), config).await {
            Ok(manager) => {
                self.state().manager = Some(manager.clone());
                Ok(manager)
            }
            Err(err) => {
                self.state().failed_at = Some(Instant::now());
                Err(redis_error(err))
            }
        }
    }

    /// The connection if there is one; an error if the last attempt to make one failed less
    /// than a second ago; `None` when it is time to try.
    fn ready(&self) -> Result<Option<ConnectionManager>, ThrottleError> {
        let state = self.state();
        if let Some(manager) = &state.manager {
            return Ok(Some(manager.clone()));
        }
        match state.failed_at {
            Some(at) if at.elapsed() < RECONNECT_AFTER => Err(ThrottleError::Redis(
                "not connected (the last attempt failed less than a second ago)".to_owned(),
            )),
            _ => Ok(None),
        }
    }

    /// Runs a script on `key`, returning `(count, ttl in ms)`.
    async fn run(
        &self,
        script: &redis::Script,
        key: &ThrottleKey,
        ttl_ms: i64,
    ) -> Result<(i64, i64), ThrottleError> {
        let mut conn = self.connection().await?;
        script
            .key(redis_key(key))
            .arg(ttl_ms)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_error)
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the client: its connection info holds the password.
        f.debug_struct("RedisStore")
            .field("connected", &self.state().manager.is_some())
            .finish_non_exhaustive()
    }
}

fn redis_key(key: &ThrottleKey) -> String {
    format!("{PREFIX}{}", key.as_str())
}

/// The error's text (kind and server message; the URL and password are not in it).
fn redis_error(err: redis::RedisError) -> ThrottleError {
    ThrottleError::Redis(err.to_string())
}

/// A count and a TTL from Redis as a [`Tally`] by the caller's clock.
fn tally(count: i64, ttl_ms: i64, now: i64) -> Tally {
    Tally {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        expires_at: now.saturating_add((ttl_ms.max(0) + 999) / 1000),
    }
}

#[async_trait]
impl ThrottleStore for RedisStore {
    async fn hit(&self, key: &ThrottleKey, window: u32, now: i64) -> Result<Tally, ThrottleError> {
        let window_ms = i64::from(window.max(1)) * 1000;
        let (count, ttl) = self.run(&self.hit, key, window_ms).await?;
        Ok(tally(count, ttl, now))
    }

    async fn get(&self, key: &ThrottleKey, now: i64) -> Result<Option<Tally>, ThrottleError> {
        let mut conn = self.connection().await?;
        let key = redis_key(key);
        let (count, ttl): (Option<i64>, i64) = redis::pipe()
            .atomic()
            .get(&key)
            .pttl(&key)
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        // -2: no key; -1: a key without TTL, which this store never makes (the next hit gives
        // it one).
        Ok(count
            .filter(|_| ttl > 0)
            .map(|count| tally(count, ttl, now)))
    }

    /// One round trip: a pipeline of `GET` and `PTTL` for every key.
    async fn get_many(
        &self,
        keys: &[ThrottleKey],
        now: i64,
    ) -> Result<Vec<Option<Tally>>, ThrottleError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.connection().await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for key in keys {
            let key = redis_key(key);
            pipe.get(&key).pttl(&key);
        }
        let found: Vec<(Option<i64>, i64)> =
            pipe.query_async(&mut conn).await.map_err(redis_error)?;
        Ok(found
            .into_iter()
            .map(|(count, ttl)| {
                count
                    .filter(|_| ttl > 0)
                    .map(|count| tally(count, ttl, now))
            })
            .collect())
    }

    async fn clear(&self, key: &ThrottleKey) -> Result<(), ThrottleError> {
        let mut conn = self.connection().await?;
        redis::cmd("DEL")
            .arg(redis_key(key))
            .exec_async(&mut conn)
            .await
            .map_err(redis_error)
    }

    async fn lock_until(
        &self,
        key: &ThrottleKey,
        until: i64,
        now: i64,
    ) -> Result<Tally, ThrottleError> {
        // A lock that ends at or before `now` still lives 1 ms: Redis refuses a TTL of 0.
        let ttl_ms = until.saturating_sub(now).saturating_mul(1000).max(1);
        let (count, ttl) = self.run(&self.lock, key, ttl_ms).await?;
        Ok(tally(count, ttl, now))
    }
}
