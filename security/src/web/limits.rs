//! Brute-force protection: rate limits, the account lockout and the device cookie, over the
//! throttle store ([`crate::throttle`]) that every instance of the app shares.
//!
//! What is counted, each under a keyed digest (no address, e-mail or id in clear):
//!
//! | limit | counts | key |
//! |---|---|---|
//! | `login` (`SECURITY_RATE_LIMITS`) | every credential-accepting POST, before any work | the client's address (IPv6 by /64) |
//! | `login_failed`, scope `ip` | failed authentications | the client's address |
//! | `login_failed`, scope `key` | failed authentications on one account | the account and the client (its device cookie for that account, else its address) |
//! | `login_failed`, scope `user` | failed authentications on one account | the account |
//! | `mail`, scope `email` | mails sent | the address mailed |
//! | lockout (`SECURITY_LOCKABLE`) | consecutive failures from clients without the account's device cookie | the account |
//! | hard ceiling (`SECURITY_LOCK_HARD_CAP`) | every failure on the account, in a fixed window | the account |
//!
//! A request that does not present a credential does no work here. Before a credential is
//! checked, every counter it could be refused by is read in one call to the store; a check
//! that passes clears the counters it had raised (one more call, only when there were any).
//! A refusal the store gave is repeated from memory for up to a second, for the same counter
//! and for the same attempt (client and identity typed), without that call ([`Refusals`]).

use std::net::IpAddr;
use std::sync::Arc;

use http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::config::{Config, RateLimit, ThrottleBackend};
use crate::crypto::cookie_codec::{Signer, random_token};
use crate::events::{AuthMechanism, Event, UnlockReason};
use crate::store::model::SecurityUser;
use crate::throttle::{Tally, ThrottleError, ThrottleKey, ThrottleStore};
use crate::web::runtime::Runtime;
use crate::web::session::{Session, read_cookie};

/// How long the lockout remembers consecutive failures and earlier locks (the growing lock
/// time): a month.
const MEMORY: u32 = 30 * 86_400;

/// How long a lock without the `time` strategy lasts at most (store keys always expire): it
/// ends by the unlock link, a password reset or the command line before that.
const LOCK_WITHOUT_TIME: i64 = 365 * 86_400;

/// Accounts one device cookie remembers (the last ones logged in to from that browser).
const DEVICES_PER_COOKIE: usize = 4;

/// The brute-force protection's state: the store, the device cookie's signer and the refusals
/// this instance saw. Present in the runtime only when a limit or the lockout is configured.
pub(crate) struct Throttle {
    store: Arc<dyn ThrottleStore>,
    device: Signer,
    refusals: Refusals,
}

impl Throttle {
    /// Over `store`, with device cookies signed under `secret_key`.
    pub(crate) fn new(store: Arc<dyn ThrottleStore>, secret_key: &[u8]) -> Self {
        Throttle {
            store,
            device: Signer::new(secret_key, "device"),
            refusals: Refusals::default(),
        }
    }

    /// Whether `config` asks for any of it.
    pub(crate) fn wanted(config: &Config) -> bool {
        config.lockable || !config.rate_limits.is_empty()
    }
}

/// Counters this instance saw over their limit (`login` and `login_failed`), and attempts (a
/// client and the identity it typed) that such a counter refused, so that a flood of refused
/// attempts is refused without a round trip to the store each: the refusal is the store's
/// answer, repeated with the `Retry-After` it gave then (a counter that went over its limit
/// meanwhile, with a longer window, is seen at the next read). A store failure is never
/// remembered.
///
/// A counter over its limit stays over it until its window ends: counts only grow within a
/// fixed window, and only a passed credential clears a `login_failed` counter, which a client
/// it refuses cannot present. A success racing the refusal (on another instance too) can still
/// clear one, so an entry is trusted for at most [`REFUSAL_RECHECK`] seconds (on the app's
/// clock and on the monotonic one, whichever ends first) and never past the window's end as
/// the store reported it; then the store is read again: at most one read a second per refused
/// counter, however fast the attempts come. Bounded: past [`REFUSALS_HELD`] entries, the least
/// recently refused goes.
struct Refusals(std::sync::Mutex<hashlink::LruCache<ThrottleKey, Refusal>>);

/// One remembered refusal.
#[derive(Clone, Copy)]
struct Refusal {
    /// The counter as the store answered.
    tally: Tally,
    /// When the store is to be read again (unix seconds, the app's clock).
    recheck: i64,
    /// The same, on the monotonic clock: a wall clock stepped back does not extend it.
    recheck_at: std::time::Instant,
}

/// How long a refusal is repeated without reading the store (seconds).
const REFUSAL_RECHECK: i64 = 1;
/// At most this many refused counters are remembered.
const REFUSALS_HELD: usize = 10_000;

impl Default for Refusals {
    fn default() -> Self {
        Refusals(std::sync::Mutex::new(hashlink::LruCache::new(
            REFUSALS_HELD,
        )))
    }
}

impl Refusals {
    fn lock(&self) -> std::sync::MutexGuard<'_, hashlink::LruCache<ThrottleKey, Refusal>> {
        // A poisoned lock only means a panic elsewhere; the map is plain data.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The refusal of `key` remembered at `now`: its `Retry-After`.
    fn get(&self, key: &ThrottleKey, now: i64) -> Option<u64> {
        let mut held = self.lock();
        let refusal = *held.get(key)?;
        if now >= refusal.tally.expires_at.min(refusal.recheck)
            || std::time::Instant::now() >= refusal.recheck_at
        {
            held.remove(key);
            return None;
        }
        Some(refusal.tally.retry_after(now))
    }

    /// Remembers that `key` was over its limit at `now`, in the window `tally` ends.
    fn put(&self, key: &ThrottleKey, tally: Tally, now: i64) {
        let refusal = Refusal {
            tally,
            recheck: now.saturating_add(REFUSAL_RECHECK),
            recheck_at: std::time::Instant::now()
                + std::time::Duration::from_secs(REFUSAL_RECHECK.unsigned_abs()),
        };
        self.lock().insert(key.clone(), refusal);
    }

    /// Forgets `key` (its counter was cleared here).
    fn forget(&self, key: &ThrottleKey) {
        self.lock().remove(key);
    }
}

/// Opens the configured store for `config`, when a limit or the lockout is on.
///
/// # Errors
/// The store could not be set up (a Redis URL without the `redis` feature).
pub(crate) async fn open(
    config: &Config,
    db: &sea_orm::DatabaseConnection,
) -> Result<Option<Throttle>, ThrottleError> {
    if !Throttle::wanted(config) {
        return Ok(None);
    }
    let store =
        crate::throttle::open(&config.throttle_store, db, config.throttle_fail_open).await?;
    if config.throttle_store == ThrottleBackend::Memory {
        tracing::info!(
            "security: throttle counters are kept in this process only \
             (SECURITY_THROTTLE_STORE=memory): several instances do not share them"
        );
    }
    Ok(Some(Throttle::new(store, config.secret_key.as_bytes())))
}

/// A request refused by a limit: HTTP 429, `Retry-After: retry_after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Throttled {
    /// Seconds until the limit lets the client try again.
    pub retry_after: u64,
    /// Refused by the counters, not because the store failed: only such a refusal is
    /// repeated from memory.
    pub by_limit: bool,
}

/// Who presents a credential: the client's address (as login tracking stores it, and the
/// group the limits count) and the accounts its device cookie vouches for.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    /// The address login tracking stores.
    pub ip: String,
    /// The address the limits count: an IPv6 address by its /64.
    group: String,
    /// (account id, device id) pairs of a valid device cookie.
    devices: Vec<DeviceEntry>,
}

impl Client {
    /// The device id the client's cookie holds for the account `user_id`.
    fn device_for(&self, user_id: &str) -> Option<&str> {
        self.devices
            .iter()
            .find(|d| d.user == user_id)
            .map(|d| d.device.as_str())
    }
}

/// One account in a device cookie.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct DeviceEntry {
    #[serde(rename = "u")]
    user: String,
    #[serde(rename = "d")]
    device: String,
    /// When it was issued (unix seconds).
    #[serde(rename = "t")]
    issued: i64,
}

/// The counters read before a credential is checked.
#[derive(Debug, Default)]
pub(crate) struct Standing {
    /// The account is locked for this client: seconds until the lock ends.
    locked: Option<u64>,
    /// The client holds the account's device cookie.
    trusted: bool,
    /// Counters this client raised on the account, to clear when the credential is right.
    raised: Vec<ThrottleKey>,
}

impl Standing {
    /// Whether the account is locked for this client (no password is checked then).
    pub(crate) fn locked(&self) -> bool {
        self.locked.is_some()
    }
}

/// What a failure did to the account.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct AfterFailure {
    /// This failure locked the account, and its unlock link was mailed.
    pub locked_and_mailed: bool,
}

/// The group of an address that limits count: IPv4 as is, IPv6 by its /64 (one subscriber
/// usually holds a whole /64), an IPv4-mapped IPv6 address as IPv4.
pub(crate) fn address_group(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

impl<U: SecurityUser> Runtime<U> {
    /// The client of a request: its address (`SECURITY_TRUSTED_PROXIES` decides whether
    /// `X-Forwarded-For` counts) and its device cookie.
    pub(crate) fn client(&self, parts: &Parts) -> Client {
        let ip = self.client_ip(parts);
        let group = address_group(&ip);
        let devices = match self.throttle() {
            Some(throttle) => {
                let cookies = crate::web::identity::cookie_header(parts);
                read_cookie(&cookies, &self.config().device_cookie_name)
                    .map(|value| self.read_device_cookie(throttle, value))
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        Client { ip, group, devices }
    }

    fn read_device_cookie(&self, throttle: &Throttle, value: &str) -> Vec<DeviceEntry> {
        let lifetime =
            i64::try_from(self.config().device_cookie_duration.seconds()).unwrap_or(i64::MAX / 4);
        let now = self.now();
        throttle
            .device
            .verify(value)
            .and_then(|payload| serde_json::from_slice::<Vec<DeviceEntry>>(&payload).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|d| d.issued <= now + 60 && now - d.issued <= lifetime)
            .take(DEVICES_PER_COOKIE)
            .collect()
    }

    /// A keyed digest naming one counter.
    fn counter(&self, parts: &[&[u8]]) -> ThrottleKey {
        let mut all: Vec<&[u8]> = vec![b"throttle-v1"];
        all.extend_from_slice(parts);
        ThrottleKey::from_digest(self.keyed_digest(&all))
    }

    /// The name of an account in counters: its id and address (an account that a later one
    /// replaces under the same id does not inherit its counters).
    fn account(&self, user: &U) -> String {
        format!("{}\n{}", user.id(), user.email().to_lowercase())
    }

    fn rule_key(&self, name: &str, rule: &RateLimit, who: &[&[u8]]) -> ThrottleKey {
        let period = rule.period.to_be_bytes();
        let mut parts: Vec<&[u8]> = vec![name.as_bytes(), &period];
        parts.extend_from_slice(who);
        self.counter(&parts)
    }

    fn lock_key(&self, kind: &str, account: &str) -> ThrottleKey {
        self.counter(&[b"lock", kind.as_bytes(), account.as_bytes()])
    }

    /// The client's side of a `key` counter: its device for the account, else its address.
    fn client_side(client: &Client, user_id: &str) -> String {
        match client.device_for(user_id) {
            Some(device) => format!("device:{device}"),
            None => format!("ip:{}", client.group),
        }
    }

    /// A store failure: the request is refused (the store only fails with
    /// `SECURITY_THROTTLE_FAIL_OPEN=false`; otherwise it counts in memory).
    fn store_failed(err: &ThrottleError) -> Throttled {
        tracing::warn!(error = %err, "security: throttle store failed; request refused (fail closed)");
        Throttled {
            retry_after: 60,
            by_limit: false,
        }
    }

    /// Counts a credential-accepting POST against the `login` limits, before any other work.
    pub(crate) async fn count_request(&self, client: &Client) -> Result<(), Throttled> {
        let Some(throttle) = self.throttle() else {
            return Ok(());
        };
        let now = self.now();
        let mut refused: Option<Throttled> = None;
        for rule in &self.config().rate_limits.login {
            let key = self.rule_key("login", rule, &[client.group.as_bytes()]);
            // Over its limit already: one more hit would change nothing but the count.
            if let Some(retry_after) = throttle.refusals.get(&key, now) {
                refused = Some(longest(refused, retry_after));
                continue;
            }
            let tally = throttle
                .store
                .hit(&key, rule.period, now)
                .await
                .map_err(|e| Self::store_failed(&e))?;
            if tally.count > rule.count {
                throttle.refusals.put(&key, tally, now);
                refused = Some(longest(refused, tally.retry_after(now)));
            }
        }
        match refused {
            Some(throttled) => {
                tracing::info!(client = %client.group, "security: request over the login rate limit");
                Err(throttled)
            }
            None => Ok(()),
        }
    }

    /// Reads, in one call to the store, every counter that could refuse a credential for
    /// `user` (when the account is known) from `client`: `Err` when a `login_failed` limit is
    /// reached (HTTP 429), else the account's standing (locked or not for this client).
    pub(crate) async fn before_credential(
        &self,
        client: &Client,
        user: Option<&U>,
    ) -> Result<Standing, Throttled> {
        let Some(throttle) = self.throttle() else {
            return Ok(Standing::default());
        };
        let config = self.config();
        let now = self.now();
        let plan = self.failure_plan(client, user);
        let known = plan
            .limits
            .iter()
            .filter_map(|(key, _)| throttle.refusals.get(key, now))
            .fold(None, |refused, retry_after| {
                Some(longest(refused, retry_after))
            });
        if let Some(throttled) = known {
            tracing::info!(client = %client.group, "security: credential refused by a failure limit");
            return Err(throttled);
        }
        let mut keys: Vec<ThrottleKey> = plan.limits.iter().map(|(k, _)| k.clone()).collect();
        if let Some(lock) = &plan.lock {
            keys.extend([lock.cap.clone(), lock.until.clone(), lock.streak.clone()]);
        }
        if keys.is_empty() {
            return Ok(Standing::default());
        }
        let tallies = throttle
            .store
            .get_many(&keys, now)
            .await
            .map_err(|e| Self::store_failed(&e))?;
        let tally = |key: &ThrottleKey| -> Option<Tally> {
            keys.iter()
                .position(|k| k == key)
                .and_then(|i| tallies.get(i).copied().flatten())
        };
        let mut refused: Option<Throttled> = None;
        let mut standing = Standing {
            trusted: plan.trusted,
            ..Standing::default()
        };
        for (key, rule) in &plan.limits {
            if let Some(t) = tally(key) {
                if t.count >= rule.count {
                    throttle.refusals.put(key, t, now);
                    refused = Some(longest(refused, t.retry_after(now)));
                }
                if rule.scope != crate::config::LimitScope::Ip {
                    standing.raised.push(key.clone());
                }
            }
        }
        if let Some(throttled) = refused {
            tracing::info!(client = %client.group, "security: credential refused by a failure limit");
            return Err(throttled);
        }
        if let Some(lock) = &plan.lock {
            if let Some(t) = tally(&lock.cap)
                && t.count >= config.lock_hard_cap.count
            {
                standing.locked = Some(t.retry_after(now));
            } else if !plan.trusted
                && let Some(t) = tally(&lock.until)
            {
                standing.locked = Some(t.retry_after(now));
            }
            if tally(&lock.streak).is_some() && !plan.trusted {
                standing.raised.push(lock.streak.clone());
            }
        }
        Ok(standing)
    }

    /// The refusal this instance gave `client` less than a second ago for a credential of
    /// `identity` (the account as typed, with how it is looked up), repeated before the
    /// account is even looked up: a flood of refused attempts then costs no query at all.
    /// `None` when there is none: [`Runtime::before_credential`] decides.
    pub(crate) fn refused_attempt(&self, client: &Client, identity: &[&[u8]]) -> Option<Throttled> {
        let throttle = self.throttle()?;
        let retry_after = throttle
            .refusals
            .get(&self.attempt_key(client, identity), self.now())?;
        Some(Throttled {
            retry_after,
            by_limit: true,
        })
    }

    /// Remembers that [`Runtime::before_credential`] refused `client` a credential of
    /// `identity` (see [`Runtime::refused_attempt`]).
    pub(crate) fn attempt_refused(&self, client: &Client, identity: &[&[u8]], refused: Throttled) {
        let Some(throttle) = self.throttle().filter(|_| refused.by_limit) else {
            return;
        };
        let now = self.now();
        let until = i64::try_from(refused.retry_after).map_or(i64::MAX, |s| now.saturating_add(s));
        let tally = Tally {
            count: 0,
            expires_at: until,
        };
        throttle
            .refusals
            .put(&self.attempt_key(client, identity), tally, now);
    }

    /// The key of an attempt: the client as the limits see it (its address group and the
    /// accounts its device cookie vouches for) and the identity typed.
    fn attempt_key(&self, client: &Client, identity: &[&[u8]]) -> ThrottleKey {
        let mut parts: Vec<&[u8]> = vec![b"attempt", client.group.as_bytes()];
        for entry in &client.devices {
            parts.extend([entry.user.as_bytes(), entry.device.as_bytes()]);
        }
        // The identity last, after a separator no device entry can be: the parts are
        // length-prefixed, and an empty part ends the device entries.
        parts.push(b"");
        parts.extend_from_slice(identity);
        self.counter(&parts)
    }

    /// After a wrong credential (or one refused because the account is locked): counts it,
    /// locks the account when this failure reaches the lockout's threshold (and mails the
    /// unlock link), and emits [`Event::AuthenticationFailed`].
    ///
    /// # Errors
    /// The unlock mail could not be queued.
    pub(crate) async fn credential_failed(
        &self,
        client: &Client,
        user: Option<&U>,
        standing: &Standing,
        mechanism: AuthMechanism,
        link_base: Option<&str>,
    ) -> Result<AfterFailure, crate::mail::MailError> {
        tracing::info!(
            user = user.map(|u| u.id().to_string()),
            mechanism = mechanism.as_str(),
            client = %client.ip,
            "security: authentication failed"
        );
        self.emit(Event::AuthenticationFailed {
            user: user.cloned(),
            mechanism,
            client: client.ip.clone(),
        });
        let Some(throttle) = self.throttle() else {
            return Ok(AfterFailure::default());
        };
        let config = self.config();
        let now = self.now();
        let plan = self.failure_plan(client, user);
        let warn = |err: ThrottleError| {
            tracing::warn!(error = %err, "security: a failure could not be counted");
        };
        for (key, rule) in &plan.limits {
            if let Err(err) = throttle.store.hit(key, rule.period, now).await {
                warn(err);
            }
        }
        let (Some(lock), Some(user)) = (&plan.lock, user) else {
            return Ok(AfterFailure::default());
        };
        if let Err(err) = throttle
            .store
            .hit(&lock.cap, config.lock_hard_cap.period, now)
            .await
        {
            warn(err);
        }
        if standing.trusted || standing.locked() {
            return Ok(AfterFailure::default());
        }
        let streak = match throttle.store.hit(&lock.streak, MEMORY, now).await {
            Ok(t) => t.count,
            Err(err) => {
                warn(err);
                return Ok(AfterFailure::default());
            }
        };
        // Exactly one failure (the one that reaches the threshold) locks: the count is atomic
        // in the shared store, whichever instance counted it.
        if streak != config.lock_maximum_attempts {
            return Ok(AfterFailure::default());
        }
        // Failures that read "not locked" before a parallel one locked the account count on
        // after the lock cleared the streak: reaching the threshold again while that lock
        // holds does not lock (and mail) a second time.
        if let Ok(Some(_)) = throttle.store.get(&lock.until, now).await {
            let _ = throttle.store.clear(&lock.streak).await;
            return Ok(AfterFailure::default());
        }
        self.lock_account(throttle, user, lock, link_base).await
    }

    /// Locks `user` for clients without its device cookie.
    async fn lock_account(
        &self,
        throttle: &Throttle,
        user: &U,
        lock: &LockKeys,
        link_base: Option<&str>,
    ) -> Result<AfterFailure, crate::mail::MailError> {
        let config = self.config();
        let now = self.now();
        let generation = match throttle.store.hit(&lock.generation, MEMORY, now).await {
            Ok(t) => t.count,
            Err(err) => {
                tracing::warn!(error = %err, "security: an account could not be locked");
                return Ok(AfterFailure::default());
            }
        };
        let seconds = if config.unlock_strategy.expires() {
            lock_seconds(
                config.unlock_in.seconds(),
                config.unlock_in_max.seconds(),
                generation,
            )
        } else {
            LOCK_WITHOUT_TIME
        };
        let until = now.saturating_add(seconds);
        // The generation outlives the lock, so that the lock's unlock link stays valid.
        let _ = throttle
            .store
            .lock_until(&lock.generation, until, now)
            .await;
        let stored = throttle.store.lock_until(&lock.until, until, now).await;
        let _ = throttle.store.clear(&lock.streak).await;
        if let Err(err) = stored {
            tracing::warn!(error = %err, "security: an account could not be locked");
            return Ok(AfterFailure::default());
        }
        tracing::warn!(user = %user.id(), seconds, "security: account locked after repeated failures");
        self.emit(Event::AccountLocked {
            user: user.clone(),
            until: config
                .unlock_strategy
                .expires()
                .then(|| chrono::DateTime::from_timestamp(until, 0))
                .flatten(),
        });
        let mut mailed = false;
        if config.unlock_strategy.mails()
            && let Some(base) = link_base
        {
            let token = self.make_unlock_link(user, generation);
            let url = format!("{base}{}/{token}", config.unlock_path());
            mailed = self
                .send_mail(crate::mail::EmailKind::UnlockInstructions, user, Some(url))
                .await?;
        }
        Ok(AfterFailure {
            locked_and_mailed: mailed,
        })
    }

    /// After a right credential: forgets the failures this client raised on the account, and
    /// renews the client's device cookie for it in `session`'s response (a login; not a Basic
    /// request, whose client keeps no cookie).
    pub(crate) async fn credential_passed(
        &self,
        client: &Client,
        user: &U,
        standing: Standing,
        session: Option<&Session>,
    ) {
        let Some(throttle) = self.throttle() else {
            return;
        };
        for key in &standing.raised {
            throttle.refusals.forget(key);
            if let Err(err) = throttle.store.clear(key).await {
                tracing::warn!(error = %err, "security: a failure count could not be cleared");
            }
        }
        if let Some(session) = session
            && self.config().lockable
        {
            session.set_device_cookie(self.device_cookie(throttle, client, user));
        }
    }

    fn device_cookie(&self, throttle: &Throttle, client: &Client, user: &U) -> String {
        let id = user.id().to_string();
        let device = client
            .device_for(&id)
            .map(str::to_owned)
            .unwrap_or_else(|| random_token(16));
        let mut entries: Vec<DeviceEntry> = client
            .devices
            .iter()
            .filter(|d| d.user != id)
            .cloned()
            .collect();
        entries.insert(
            0,
            DeviceEntry {
                user: id,
                device,
                issued: self.now(),
            },
        );
        entries.truncate(DEVICES_PER_COOKIE);
        let payload = serde_json::to_vec(&entries).unwrap_or_default();
        throttle.device.sign(&payload)
    }

    /// Unlocks `user`: forgets its lock, its consecutive failures and its hard-ceiling count
    /// (the account's owner proved it: an unlock link, a reset, an administrator), and emits
    /// [`Event::AccountUnlocked`]. `false` when the account was not locked.
    ///
    /// # Errors
    /// The store failed.
    pub(crate) async fn unlock_account(
        &self,
        user: &U,
        reason: UnlockReason,
    ) -> Result<bool, ThrottleError> {
        let Some(throttle) = self.throttle() else {
            return Ok(false);
        };
        if !self.config().lockable {
            return Ok(false);
        }
        let account = self.account(user);
        let now = self.now();
        let until = self.lock_key("until", &account);
        let cap = self.lock_key("cap", &account);
        let state = throttle
            .store
            .get_many(&[until.clone(), cap.clone()], now)
            .await?;
        let was_locked = state[0].is_some()
            || state[1].is_some_and(|t| t.count >= self.config().lock_hard_cap.count);
        for key in [until, cap, self.lock_key("streak", &account)] {
            throttle.store.clear(&key).await?;
        }
        if was_locked {
            tracing::info!(user = %user.id(), reason = reason.as_str(), "security: account unlocked");
            self.emit(Event::AccountUnlocked {
                user: user.clone(),
                reason,
            });
        }
        Ok(was_locked)
    }

    /// The current lock generation of `user` (how many times it locked this month): an unlock
    /// link is bound to it, so that a link of an earlier lock does not end a later one.
    ///
    /// # Errors
    /// The store failed.
    pub(crate) async fn lock_generation(&self, user: &U) -> Result<Option<u32>, ThrottleError> {
        let Some(throttle) = self.throttle() else {
            return Ok(None);
        };
        let account = self.account(user);
        let keys = [
            self.lock_key("until", &account),
            self.lock_key("generation", &account),
        ];
        let found = throttle.store.get_many(&keys, self.now()).await?;
        Ok(match (found[0], found[1]) {
            (Some(_), Some(generation)) => Some(generation.count),
            _ => None,
        })
    }

    /// Whether one more mail may go to `email` under the `mail` limits (counted). A store
    /// failure without fail-open sends nothing.
    pub(crate) async fn mail_allowed(&self, email: &str) -> bool {
        let Some(throttle) = self.throttle() else {
            return true;
        };
        let now = self.now();
        let address = email.to_lowercase();
        let mut allowed = true;
        for rule in &self.config().rate_limits.mail {
            let key = self.rule_key("mail", rule, &[address.as_bytes()]);
            match throttle.store.hit(&key, rule.period, now).await {
                Ok(tally) if tally.count > rule.count => allowed = false,
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "security: mail limit store failed; mail not sent");
                    allowed = false;
                }
            }
        }
        if !allowed {
            tracing::info!("security: mail to an address over the mail rate limit not sent");
        }
        allowed
    }

    /// The counters a failure for `user` from `client` raises.
    fn failure_plan(&self, client: &Client, user: Option<&U>) -> FailurePlan {
        let config = self.config();
        let mut limits = Vec::new();
        let account = user.map(|u| self.account(u));
        let user_id = user.map(|u| u.id().to_string());
        let trusted = user_id
            .as_deref()
            .is_some_and(|id| client.device_for(id).is_some());
        for rule in &config.rate_limits.login_failed {
            let key = match (rule.scope, &account, &user_id) {
                (crate::config::LimitScope::Ip, _, _) => {
                    self.rule_key("failed-ip", rule, &[client.group.as_bytes()])
                }
                (crate::config::LimitScope::Key, Some(account), Some(id)) => {
                    let side = Self::client_side(client, id);
                    self.rule_key("failed-key", rule, &[account.as_bytes(), side.as_bytes()])
                }
                (crate::config::LimitScope::User, Some(account), _) => {
                    self.rule_key("failed-user", rule, &[account.as_bytes()])
                }
                _ => continue,
            };
            limits.push((key, rule.clone()));
        }
        let lock = match (&account, config.lockable) {
            (Some(account), true) => Some(LockKeys {
                cap: self.lock_key("cap", account),
                until: self.lock_key("until", account),
                streak: self.lock_key("streak", account),
                generation: self.lock_key("generation", account),
            }),
            _ => None,
        };
        FailurePlan {
            limits,
            lock,
            trusted,
        }
    }
}

/// The counters of one credential attempt.
struct FailurePlan {
    /// `login_failed` counters with their rule.
    limits: Vec<(ThrottleKey, RateLimit)>,
    /// The lockout's counters, when the account is known and the lockout is on.
    lock: Option<LockKeys>,
    /// The client holds the account's device cookie.
    trusted: bool,
}

/// The lockout's counters of one account.
struct LockKeys {
    /// Every failure in the hard ceiling's window.
    cap: ThrottleKey,
    /// The lock itself, live until it ends.
    until: ThrottleKey,
    /// Consecutive failures from clients without the device cookie.
    streak: ThrottleKey,
    /// Locks this month (each lasts twice the one before).
    generation: ThrottleKey,
}

/// The later of two refusals.
fn longest(current: Option<Throttled>, retry_after: u64) -> Throttled {
    Throttled {
        retry_after: current.map_or(retry_after, |t| t.retry_after.max(retry_after)),
        by_limit: true,
    }
}

/// How long the `generation`-th lock lasts: `base`, doubled for each earlier lock, at most
/// `max` (and at least `base`... when `max` is shorter, `max`).
fn lock_seconds(base: u64, max: u64, generation: u32) -> i64 {
    let doublings = generation.saturating_sub(1).min(40);
    let seconds = base.saturating_mul(1u64 << doublings).min(max.max(1));
    i64::try_from(seconds).unwrap_or(i64::MAX / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_grouped_by_its_64() {
        assert_eq!(
            address_group("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            address_group("2001:db8:1:2::1"),
            address_group("2001:db8:1:2:ffff::9")
        );
        assert_ne!(
            address_group("2001:db8:1:2::1"),
            address_group("2001:db8:1:3::1")
        );
        assert_eq!(address_group("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(address_group("192.0.2.7"), "192.0.2.7");
        assert_eq!(address_group("untrackable"), "untrackable");
    }

    #[test]
    fn each_lock_lasts_twice_the_one_before_up_to_the_maximum() {
        assert_eq!(lock_seconds(3_600, 86_400, 1), 3_600);
        assert_eq!(lock_seconds(3_600, 86_400, 2), 7_200);
        assert_eq!(lock_seconds(3_600, 86_400, 5), 57_600);
        assert_eq!(lock_seconds(3_600, 86_400, 6), 86_400);
        assert_eq!(lock_seconds(3_600, 86_400, u32::MAX), 86_400);
    }
}
