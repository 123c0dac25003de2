//! The state the layer, the guards and the views share (Flask-Security's `_SecurityState`):
//! the keys derived from `SECRET_KEY`, the token serializers, the identity look-up, sessions'
//! logins and logouts, and mail. The app's handle, [`crate::Security`], wraps it.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use tokio::sync::broadcast;

use crate::config::Config;
use crate::crypto::cookie_codec::Signer;
use crate::events::Event;
use crate::mail::{EmailKind, MailError, MailTransport, OutgoingMail};
use crate::messages::MessageKey;
use crate::password::Passwords;
use crate::store::datastore::{Datastore, DatastoreError, UserWithRoles};
use crate::store::model::SecurityUser;
use crate::tokens::Tokens;
use crate::tokens::legacy::LegacyPayload;
use crate::tokens::links::{Link, LinkStatus};
use crate::tokens::serializer::{Clock, Serializer};
use crate::web::csrf::{Csrf, CsrfKey};
use crate::web::session::{RememberAction, Session};
use crate::web::views::{EmailContext, RegisterField, Templates, email_template};

/// How many verified session cookies, and how many verified tokens, an instance remembers
/// (each about 600 bytes).
const MEMO_CAPACITY: usize = 10_000;

/// What a correctly signed token (an authentication token, a remember-me cookie) holds.
pub(crate) struct VerifiedToken {
    /// Its payload: user id, fingerprint and, for a remember-me cookie, its own id.
    payload: Vec<String>,
    /// When it was signed (Unix seconds).
    issued: i64,
    /// Its revocation key.
    key: String,
}

/// A token that checked out.
pub(crate) struct Checked<U: SecurityUser> {
    pub found: Arc<UserWithRoles<U>>,
    /// Of this library's current format for its use.
    pub current_format: bool,
    /// Its revocation key.
    pub key: String,
}

/// What a token is presented as: they share one format and salt (1.7.4's), but a remember-me
/// cookie carries an id of its own and is not accepted as an authentication token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenUse {
    /// `Authentication-Token`, `?auth_token=`, a JSON body's `auth_token`.
    Auth,
    /// The remember-me cookie.
    Remember,
}

pub(crate) struct Inner<U: SecurityUser> {
    config: Config,
    datastore: Datastore<U>,
    passwords: Passwords,
    tokens: Tokens,
    session_signer: Signer,
    /// Session cookies already verified, decoded.
    sessions: crate::crypto::memo::Verified<crate::web::session::SessionData>,
    /// Authentication tokens and remember-me cookies already verified.
    verified_tokens: crate::crypto::memo::Verified<VerifiedToken>,
    csrf: CsrfKey,
    templates: Templates,
    events: broadcast::Sender<Event<U>>,
    clock: Arc<dyn Clock>,
    register_fields: Vec<RegisterField>,
    cache: Option<Arc<crate::store::cache::IdentityCache<U>>>,
    /// Tells the other instances which cached identities to drop (PostgreSQL).
    bus: Option<crate::store::bus::Bus>,
    loader: Arc<crate::store::loader::IdentityLoader<U>>,
    outbox: Arc<crate::mail::outbox::Outbox>,
    throttle: Option<crate::web::limits::Throttle>,
    /// The per-user limit on the age of authentication tokens, when the app set one.
    token_expiry: Option<TokenExpiry<U>>,
    /// `SECURITY_TOKEN_AUTHENTICATION_HEADER`, parsed once rather than per request (`None`
    /// only if it is not a header name, which the configuration's validation refuses).
    token_header: Option<http::HeaderName>,
}

/// The app's per-user limit on the age of authentication tokens
/// ([`crate::SecurityBuilder::token_expiry`]): `None` = only `SECURITY_TOKEN_MAX_AGE`.
pub(crate) type TokenExpiry<U> =
    Arc<dyn Fn(&U) -> Option<std::time::Duration> + Send + Sync + 'static>;

/// What the layer, the guards and the views share: configuration, datastore, keys, tokens,
/// the identity cache, the outbox, templates and events. A cheap `Clone` handle; the app holds
/// it wrapped in [`crate::Security`]. Its fields are private to this file: the rest of the
/// crate reads them through the methods below.
pub(crate) struct Runtime<U: SecurityUser> {
    inner: Arc<Inner<U>>,
}

impl<U: SecurityUser> Clone for Runtime<U> {
    fn clone(&self) -> Self {
        Runtime {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<U: SecurityUser> std::fmt::Debug for Runtime<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

/// What the builder hands the runtime.
pub(crate) struct RuntimeParts<U: SecurityUser> {
    /// The validated configuration.
    pub config: Config,
    pub datastore: Datastore<U>,
    pub passwords: Passwords,
    pub mailer: Option<Arc<dyn MailTransport>>,
    pub templates: Templates,
    pub clock: Arc<dyn Clock>,
    pub register_fields: Vec<RegisterField>,
    /// The brute-force protection, when configured.
    pub throttle: Option<crate::web::limits::Throttle>,
    /// The per-user limit on the age of authentication tokens.
    pub token_expiry: Option<TokenExpiry<U>>,
}

impl<U: SecurityUser> Runtime<U> {
    /// Derives the keys from `SECRET_KEY`, makes the serializers, the CSRF key, the identity
    /// cache and loader, and starts the outbox's sender. `config` has been validated.
    pub(crate) fn new(parts: RuntimeParts<U>) -> Self {
        let RuntimeParts {
            config,
            datastore,
            passwords,
            mailer,
            templates,
            clock,
            register_fields,
            throttle,
            token_expiry,
        } = parts;
        let secret = config.secret_key.expose();
        let tokens = Tokens {
            remember: Serializer::new(secret, config.remember_salt.expose()),
            confirm: Serializer::new(secret, config.confirm_salt.expose()),
            reset: Serializer::new(secret, config.reset_salt.expose()),
            login: Serializer::new(secret, config.login_salt.expose()),
            unlock: Serializer::new(secret, config.unlock_salt.expose()),
            binder: Signer::new(secret.as_bytes(), "account"),
        };
        let cache = config
            .identity_cache_ttl
            .as_ref()
            .map(|ttl| Arc::new(crate::store::cache::IdentityCache::new(ttl.seconds())));
        let bus = crate::store::bus::Bus::start(
            datastore.connection(),
            &config.throttle_store,
            cache
                .clone()
                .map(|cache| cache as Arc<dyn crate::store::bus::Forget>),
        );
        if let (Some(ttl), None) = (&config.identity_cache_ttl, &bus) {
            tracing::warn!(
                "SECURITY_IDENTITY_CACHE_TTL is on, the database is not PostgreSQL and \
                 SECURITY_THROTTLE_STORE is not Redis: there is no invalidation channel, so a change made on another instance (a password \
                 change, a deactivation, a logout…) is seen here only when the cached entry \
                 expires, after up to {} seconds",
                ttl.seconds()
            );
        }
        let loader = crate::store::loader::IdentityLoader::new(datastore.clone());
        let csrf = CsrfKey {
            csrf: Arc::new(Csrf::new(secret.as_bytes(), config.csrf_time_limit)),
            clock: Arc::clone(&clock),
            enabled: config.csrf_enabled,
            protect: config.csrf_protect,
            missing: config
                .messages
                .get(MessageKey::CsrfMissing)
                .text
                .as_str()
                .into(),
            invalid: config
                .messages
                .get(MessageKey::CsrfInvalid)
                .text
                .as_str()
                .into(),
            json_http_status: config.json_http_status_codes,
        };
        let outbox = crate::mail::outbox::Outbox::new(
            datastore.connection().clone(),
            secret.as_bytes(),
            mailer,
            Arc::clone(&clock),
            config.mail_retry_delay.seconds(),
            config.mail_max_attempts,
        );
        // Deliver what an earlier run left queued.
        outbox.start();
        let (events, _) = broadcast::channel(256);
        Runtime {
            inner: Arc::new(Inner {
                session_signer: Signer::new(secret.as_bytes(), "session"),
                sessions: crate::crypto::memo::Verified::new(MEMO_CAPACITY),
                verified_tokens: crate::crypto::memo::Verified::new(MEMO_CAPACITY),
                csrf,
                tokens,
                datastore,
                passwords,
                templates,
                events,
                clock,
                register_fields,
                cache,
                bus,
                loader,
                outbox,
                throttle,
                token_expiry,
                token_header: http::HeaderName::from_bytes(
                    config.token_authentication_header.as_bytes(),
                )
                .ok(),
                config,
            }),
        }
    }

    /// A keyed digest (HMAC under a key derived from `SECRET_KEY`) of `parts`: what the
    /// runtime tables store instead of a token, a session id or a hash.
    pub(crate) fn keyed_digest(&self, parts: &[&[u8]]) -> String {
        self.inner.tokens.binder.fingerprint(parts)
    }

    /// The accounts' password-change record of Flask compatibility.
    pub(crate) fn flask_accounts(&self) -> crate::compat::FlaskAccounts<'_> {
        crate::compat::FlaskAccounts {
            db: self.inner.datastore.connection(),
            key: &self.inner.tokens.binder,
        }
    }

    /// The header that carries an authentication token (`SECURITY_TOKEN_AUTHENTICATION_HEADER`).
    pub(crate) fn token_header(&self) -> Option<&http::HeaderName> {
        self.inner.token_header.as_ref()
    }

    /// The CSRF key and settings.
    pub(crate) fn csrf(&self) -> &CsrfKey {
        &self.inner.csrf
    }

    /// The signer of session cookies.
    pub(crate) fn session_signer(&self) -> &Signer {
        &self.inner.session_signer
    }

    /// The session a session cookie's value holds, if its signature is good (remembered: see
    /// [`Verified`](crate::crypto::memo::Verified)).
    pub(crate) fn decode_session(
        &self,
        value: &str,
    ) -> Option<Arc<crate::web::session::SessionData>> {
        self.inner.sessions.get_or_verify(value, |value| {
            crate::web::session::SessionData::decode(value, &self.inner.session_signer)
        })
    }

    /// The durable mail queue.
    pub(crate) fn outbox(&self) -> &Arc<crate::mail::outbox::Outbox> {
        &self.inner.outbox
    }

    /// The extra registration fields.
    pub(crate) fn register_fields(&self) -> &[RegisterField] {
        &self.inner.register_fields
    }

    /// The brute-force protection, when a limit or the lockout is configured.
    pub(crate) fn throttle(&self) -> Option<&crate::web::limits::Throttle> {
        self.inner.throttle.as_ref()
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The datastore.
    pub(crate) fn datastore(&self) -> &Datastore<U> {
        &self.inner.datastore
    }

    /// The password hasher.
    pub(crate) fn passwords(&self) -> &Passwords {
        &self.inner.passwords
    }

    /// The template registry.
    pub(crate) fn templates(&self) -> &Templates {
        &self.inner.templates
    }

    /// Subscribes to the events (signals).
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event<U>> {
        self.inner.events.subscribe()
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    pub(crate) fn now_utc(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.now(), 0)
            .single()
            .unwrap_or_else(Utc::now)
    }

    pub(crate) fn emit(&self, event: Event<U>) {
        tracing::debug!(event = event.name(), "security event");
        // No receiver is fine.
        let _ = self.inner.events.send(event);
    }

    /// The keyed fingerprint of the account state that sessions and tokens are bound to: the
    /// user id, the address, the stored password hash and the uniquifier, under a server key
    /// (never a plain digest of the password). It changes when the password (or uniquifier, or
    /// address) does, and an account that a later one replaces under the same id (a database
    /// may reuse the id of a deleted row) has another address or another password hash.
    pub(crate) fn fingerprint(&self, user: &U) -> String {
        self.fingerprint_with(user, user.password())
    }

    /// [`Runtime::fingerprint`] as it will be once `password` is the stored hash.
    pub(crate) fn fingerprint_with(&self, user: &U, password: Option<&str>) -> String {
        self.fingerprint_in(user, password, None)
    }

    /// [`Runtime::fingerprint_with`] for an account whose per-account value
    /// (`security_account_epoch`, models without a uniquifier) is `epoch`: an account without
    /// one has the fingerprint it always had.
    pub(crate) fn fingerprint_in(
        &self,
        user: &U,
        password: Option<&str>,
        epoch: Option<&str>,
    ) -> String {
        let id = user.id().to_string();
        let mut parts: Vec<&[u8]> = vec![
            b"account-v2",
            id.as_bytes(),
            user.email().as_bytes(),
            password.unwrap_or("").as_bytes(),
            user.uniquifier().unwrap_or("").as_bytes(),
        ];
        if let Some(epoch) = epoch {
            parts.push(b"epoch");
            parts.push(epoch.as_bytes());
        }
        self.inner.tokens.binder.fingerprint(&parts)
    }

    /// What authentication and refresh tokens are bound to: with `fs_token_uniquifier`, that
    /// value alone (a password change keeps them; `None` while it is not set, and then no
    /// token is valid); otherwise the account fingerprint ([`Runtime::fingerprint_in`]).
    pub(crate) fn token_fingerprint_in(
        &self,
        user: &U,
        password: Option<&str>,
        epoch: Option<&str>,
    ) -> Option<String> {
        if U::FIELDS.has(crate::store::model::Field::TokenUniquifier) {
            let value = user.token_uniquifier().filter(|v| !v.is_empty())?;
            let id = user.id().to_string();
            return Some(self.inner.tokens.binder.fingerprint(&[
                b"token-v1",
                id.as_bytes(),
                value.as_bytes(),
            ]));
        }
        Some(self.fingerprint_in(user, password, epoch))
    }

    /// Whether an authentication token `age` seconds old is within the app's per-user limit
    /// ([`crate::SecurityBuilder::token_expiry`]; `SECURITY_TOKEN_MAX_AGE` is checked with the
    /// signature).
    pub(crate) fn within_user_token_limit(&self, user: &U, age: i64) -> bool {
        let Some(limit) = self.inner.token_expiry.as_ref().and_then(|hook| hook(user)) else {
            return true;
        };
        u64::try_from(age).unwrap_or(0) <= limit.as_secs()
    }

    /// The fingerprint of a loaded identity (its per-account value included).
    pub(crate) fn fingerprint_of(&self, found: &UserWithRoles<U>) -> String {
        self.fingerprint_in(&found.user, found.user.password(), found.epoch.as_deref())
    }

    /// The user's authentication token (1.7.4's `get_auth_token`). It stays valid until the
    /// password (or uniquifier, or address) changes, or until `SECURITY_TOKEN_MAX_AGE` passes
    /// when that is set.
    pub(crate) fn auth_token(&self, user: &U) -> String {
        self.auth_token_bound(user, None, None)
    }

    /// [`Runtime::auth_token`] for a user whose stored hash is now `password_hash` when given,
    /// and whose per-account value is `epoch`.
    pub(crate) fn auth_token_bound(
        &self,
        user: &U,
        password_hash: Option<&str>,
        epoch: Option<&str>,
    ) -> String {
        let id = user.id().to_string();
        let fp = self
            .token_fingerprint_in(user, password_hash.or(user.password()), epoch)
            .unwrap_or_default();
        self.inner.tokens.remember.dumps(&[&id, &fp], self.now())
    }

    /// A remember-me cookie bound to `fingerprint`, and its revocation key: like the
    /// authentication token, with a random id of its own, so that a logout ends this cookie
    /// (and only it), and so that it is not an authentication token.
    fn remember_token_bound(&self, user: &U, fingerprint: &str) -> (String, String) {
        let id = user.id().to_string();
        let nonce = crate::crypto::cookie_codec::random_token(12);
        let token = self
            .inner
            .tokens
            .remember
            .dumps(&[&id, fingerprint, &nonce], self.now());
        (token, self.token_key(&id, &nonce))
    }

    /// A remember-me cookie for a loaded identity, and its revocation key.
    pub(crate) fn remember_token_and_key(&self, found: &UserWithRoles<U>) -> (String, String) {
        self.remember_token_bound(&found.user, &self.fingerprint_of(found))
    }

    /// A remember-me cookie bound to `fingerprint` (see [`Runtime::fingerprint_in`]).
    pub(crate) fn remember_token_for(&self, user: &U, fingerprint: &str) -> String {
        self.remember_token_bound(user, fingerprint).0
    }

    /// The revocation key of a session (`security_revocation`).
    pub(crate) fn session_key(&self, user_id: &str, session_id: &str) -> String {
        self.inner.tokens.binder.fingerprint(&[
            b"revoked-session",
            user_id.as_bytes(),
            session_id.as_bytes(),
        ])
    }

    /// The revocation key of a remember-me cookie or token, by its own id (a cookie of the
    /// current format) or by the whole token (older ones).
    pub(crate) fn token_key(&self, user_id: &str, token_id: &str) -> String {
        self.inner.tokens.binder.fingerprint(&[
            b"revoked-token",
            user_id.as_bytes(),
            token_id.as_bytes(),
        ])
    }

    /// Whether the user may be authenticated at all: active and, when confirmation is
    /// required, confirmed (checked on every path: session, token, Basic, links).
    pub(crate) fn may_authenticate(&self, user: &U) -> bool {
        user.active() && !self.needs_confirmation(user)
    }

    /// Whether the user has still to confirm their address before logging in.
    pub(crate) fn needs_confirmation(&self, user: &U) -> bool {
        let c = &self.inner.config;
        c.confirmable && !c.login_without_confirmation && user.confirmed_at().is_none()
    }

    /// Checks an authentication token: the user, if the token is valid, unexpired, still
    /// bound to the account state, not revoked, and the user may authenticate.
    ///
    /// # Errors
    /// A database failure.
    ///
    /// With `SECURITY_FLASK_COMPAT`, a token that Flask-Security 1.7.4 issued with the same
    /// `SECRET_KEY` and `SECURITY_REMEMBER_SALT` is accepted too, while the stored password is
    /// the one it was issued for (1.7.4's own rule).
    pub(crate) async fn user_from_auth_token(
        &self,
        token: &str,
        max_age: Option<u64>,
    ) -> Result<Option<UserWithRoles<U>>, DatastoreError> {
        Ok(self
            .check_token(token, max_age, TokenUse::Auth)
            .await?
            .map(|checked| Arc::unwrap_or_clone(checked.found)))
    }

    /// When a token of [`Runtime::check_token`]'s format (an authentication token, a
    /// remember-me cookie) was issued: the itsdangerous timestamp it carries, in unix seconds
    /// (what a freshness check counts as its authentication time), if the signature is ours.
    pub(crate) fn token_issued_at(&self, token: &str) -> Option<i64> {
        self.verify_token(token).map(|verified| verified.issued)
    }

    /// What a token of [`Runtime::check_token`]'s format holds, if its signature is good
    /// (remembered: see [`Verified`](crate::crypto::memo::Verified)); its age is the caller's
    /// to check.
    fn verify_token(&self, token: &str) -> Option<Arc<VerifiedToken>> {
        self.inner.verified_tokens.get_or_verify(token, |token| {
            let (payload, issued) = self.inner.tokens.remember.loads_issued(token).ok()?;
            let key = match payload.as_slice() {
                [id, _] => self.token_key(id, token),
                [id, _, nonce] => self.token_key(id, nonce),
                _ => return None,
            };
            Some(VerifiedToken {
                payload,
                issued,
                key,
            })
        })
    }

    /// Checks a token used as `usage`: the user, whether the token is of this library's
    /// current format for that use (a remember cookie of an older format, or 1.7.4's, is to be
    /// replaced), and its revocation key.
    pub(crate) async fn check_token(
        &self,
        token: &str,
        max_age: Option<u64>,
        usage: TokenUse,
    ) -> Result<Option<Checked<U>>, DatastoreError> {
        let Some((verified, age)) = self.token_claims(token, max_age, usage) else {
            return Ok(None);
        };
        let Ok(id) = verified.payload[0].parse::<U::Id>() else {
            return Ok(None);
        };
        let loaded = self
            .load_identity_keyed(&id, &[verified.key.as_str()])
            .await?;
        Ok(loaded.and_then(|(identity, revoked)| {
            let (found, current_format) =
                self.judge_token(&verified, age, usage, &identity, revoked)?;
            Some(Checked {
                found,
                current_format,
                key: verified.key.clone(),
            })
        }))
    }

    /// [`Runtime::check_token`]'s user for an authentication token, when the identity cache
    /// answers without a query; `None` when it cannot (no cache, a miss) as when the token is
    /// refused: the caller then asks `check_token`.
    pub(crate) fn check_auth_token_cached(
        &self,
        token: &str,
        max_age: Option<u64>,
    ) -> Option<Arc<UserWithRoles<U>>> {
        let (verified, age) = self.token_claims(token, max_age, TokenUse::Auth)?;
        // The id as the token was signed with it, this library's own text of it: the cache's
        // key for that user.
        let (identity, revoked) =
            self.cached_identity(&verified.payload[0], &[verified.key.as_str()])?;
        self.judge_token(&verified, age, TokenUse::Auth, &identity, revoked)
            .map(|(found, _)| found)
    }

    /// A token that is ours, no older than `max_age` and of the shape of its `usage` (user id,
    /// fingerprint, and a remember cookie's own id): what it holds, and its age in seconds.
    fn token_claims(
        &self,
        token: &str,
        max_age: Option<u64>,
        usage: TokenUse,
    ) -> Option<(Arc<VerifiedToken>, i64)> {
        let verified = self.verify_token(token)?;
        // A token exactly `max_age` seconds old is still valid (itsdangerous' rule).
        let age = self.now().saturating_sub(verified.issued);
        if max_age.is_some_and(|max| i128::from(age) > i128::from(max)) {
            return None;
        }
        let shaped = match verified.payload.len() {
            2 => true,
            3 => usage == TokenUse::Remember,
            _ => false,
        };
        shaped.then_some((verified, age))
    }

    /// Whether the account loaded for a token's claims accepts it: its user, and whether the
    /// token is of this library's current format for its use.
    fn judge_token(
        &self,
        verified: &VerifiedToken,
        age: i64,
        usage: TokenUse,
        identity: &crate::store::loader::Identity<U>,
        revoked: bool,
    ) -> Option<(Arc<UserWithRoles<U>>, bool)> {
        let payload = &verified.payload;
        let (fp, nonce) = match payload.as_slice() {
            [_, fp] => (fp, None),
            [_, fp, nonce] => (fp, Some(nonce.as_str())),
            _ => return None,
        };
        let found = &identity.found;
        // An authentication token is bound to the token fingerprint (with `fs_token_uniquifier`,
        // that value alone), a remember cookie to the account's (computed once per identity).
        let token_bound =
            usage == TokenUse::Auth && U::FIELDS.has(crate::store::model::Field::TokenUniquifier);
        // Both computed once per loaded identity (an HMAC each), not per request.
        let current: Option<&str> = if token_bound {
            identity.token_fingerprint(|found| {
                self.token_fingerprint_in(
                    &found.user,
                    found.user.password(),
                    found.epoch.as_deref(),
                )
            })
        } else {
            Some(self.identity_fingerprint(identity))
        };
        let ours = current.is_some_and(|current| {
            crate::crypto::cookie_codec::constant_time_eq(current.as_bytes(), fp.as_bytes())
        });
        let legacy = !ours
            && nonce.is_none()
            && self.inner.config.flask_compat
            && LegacyPayload::PasswordDigest.matches(
                payload,
                found.user.email(),
                found.user.password(),
            );
        if revoked || !(ours || legacy) || !self.may_authenticate(&found.user) {
            return None;
        }
        if usage == TokenUse::Auth && !self.within_user_token_limit(&found.user, age) {
            return None;
        }
        if legacy {
            tracing::debug!("accepted a Flask-Security 1.7.4 authentication token");
        }
        let current_format = ours && (usage == TokenUse::Auth || nonce.is_some());
        Some((Arc::clone(found), current_format))
    }

    /// Ends the session of the request and the remember-me cookie it carries, on every
    /// instance: both are recorded in `security_revocation` until they would have expired, and
    /// this instance forgets the cached identity.
    ///
    /// # Errors
    /// A database failure (the session is then left as it was).
    pub(crate) async fn revoke_session(
        &self,
        session: &Session,
        remember_cookie: Option<&str>,
    ) -> Result<(), DatastoreError> {
        let (user_id, sid, login_at) = {
            let state = session.lock();
            (
                state.data.user_id.clone(),
                state.data.id.clone(),
                state.data.login_at,
            )
        };
        let config = &self.inner.config;
        let now = self.now();
        let db = self.inner.datastore.connection();
        let mut revoked_user = None;
        if let (Some(user_id), Some(sid)) = (&user_id, &sid) {
            let lifetime =
                i64::try_from(config.permanent_session_lifetime.seconds()).unwrap_or(i64::MAX / 4);
            let expires = login_at.unwrap_or(now).saturating_add(lifetime).max(now) + 1;
            let key = self.session_key(user_id, sid);
            crate::store::schema::revoke(db, key, user_id, expires, now).await?;
            revoked_user = Some(user_id.clone());
        }
        if let Some(token) = remember_cookie
            && let Ok(payload) = self.inner.tokens.remember.loads(token, None, now)
        {
            let (key, lifetime) = match payload.as_slice() {
                [id, _, nonce] => (
                    Some((id, self.token_key(id, nonce))),
                    Some(config.remember_cookie_duration.seconds()),
                ),
                // An older cookie is an authentication token too: it stays revoked for as long
                // as a token can live.
                [id, _] => (
                    Some((id, self.token_key(id, token))),
                    config
                        .token_max_age
                        .as_ref()
                        .map(|w| w.seconds().max(config.remember_cookie_duration.seconds())),
                ),
                _ => (None, None),
            };
            if let Some((id, key)) = key {
                let expires = match lifetime {
                    Some(seconds) => now
                        .saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX / 4))
                        .saturating_add(1),
                    None => i64::MAX / 2,
                };
                crate::store::schema::revoke(db, key, id, expires, now).await?;
                revoked_user = revoked_user.or_else(|| Some(id.clone()));
            }
        }
        if let Some(user_id) = revoked_user
            && let Ok(id) = user_id.parse::<U::Id>()
        {
            self.invalidate(&id);
        }
        Ok(())
    }

    /// A new link token of `link` for `user`.
    pub(crate) fn make_link(&self, link: Link, user: &U) -> String {
        self.inner.tokens.make_link(link, user, b"", self.now())
    }

    /// A new unlock link token for `user`, bound to its lock `generation`.
    pub(crate) fn make_unlock_link(&self, user: &U, generation: u32) -> String {
        let generation = generation.to_string();
        self.inner
            .tokens
            .make_link(Link::Unlock, user, generation.as_bytes(), self.now())
    }

    /// The state of a link token (see [`crate::tokens::links`]).
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn link_status(
        &self,
        link: Link,
        token: &str,
    ) -> Result<LinkStatus<U>, DatastoreError> {
        let inner = &self.inner;
        inner
            .tokens
            .link_status(
                link,
                token,
                b"",
                &inner.config,
                &inner.datastore,
                self.now(),
            )
            .await
    }

    /// The state of an unlock link: valid only while its account is locked by the lock it was
    /// mailed for (a link of an earlier lock is invalid).
    ///
    /// # Errors
    /// A database or throttle store failure.
    pub(crate) async fn unlock_link_status(
        &self,
        token: &str,
    ) -> Result<LinkStatus<U>, crate::Error> {
        let inner = &self.inner;
        let now = self.now();
        // The binding names the lock's generation, which is the account's: peek at the id
        // (the signature is checked; the age is checked below).
        let Ok(payload) = inner.tokens.unlock.loads(token, None, now) else {
            return Ok(LinkStatus::Invalid);
        };
        let Some(Ok(id)) = payload.first().map(|id| id.parse::<U::Id>()) else {
            return Ok(LinkStatus::Invalid);
        };
        let Some(user) = inner.datastore.find_user_by_id(&id).await? else {
            return Ok(LinkStatus::Invalid);
        };
        let Some(generation) = self.lock_generation(&user).await? else {
            return Ok(LinkStatus::Invalid);
        };
        let generation = generation.to_string();
        Ok(inner
            .tokens
            .link_status(
                Link::Unlock,
                token,
                generation.as_bytes(),
                &inner.config,
                &inner.datastore,
                now,
            )
            .await?)
    }

    /// Records a link token as used: `true` the first time only.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn use_link_once(
        &self,
        link: Link,
        token: &str,
    ) -> Result<bool, sea_orm::DbErr> {
        let inner = &self.inner;
        inner
            .tokens
            .use_once(
                link,
                token,
                &inner.config,
                inner.datastore.connection(),
                self.now(),
            )
            .await
    }

    /// Loads a user and its roles (through the identity cache when it is on).
    pub(crate) async fn load_identity(
        &self,
        id: &U::Id,
    ) -> Result<Option<Arc<UserWithRoles<U>>>, DatastoreError> {
        Ok(self
            .load_identity_keyed(id, &[])
            .await?
            .map(|(identity, _)| Arc::clone(&identity.found)))
    }

    /// Loads a user and its roles, and whether one of the revocation `keys` (of a session, of
    /// the remember cookie it came from) was revoked, in one query (through the identity cache
    /// when it is on).
    pub(crate) async fn load_identity_keyed(
        &self,
        id: &U::Id,
        keys: &[&str],
    ) -> Result<crate::store::loader::Loaded<U>, DatastoreError> {
        if let Some(cache) = &self.inner.cache {
            return cache.get_or_load(id, keys, &self.inner.loader).await;
        }
        self.inner.loader.load(id, keys).await
    }

    /// The identity cache's answer for the user whose id reads `user` (this library's text of
    /// it) and the revocation `keys`, without a query; `None` without the cache or on a miss.
    pub(crate) fn cached_identity(
        &self,
        user: &str,
        keys: &[&str],
    ) -> crate::store::loader::Loaded<U> {
        self.inner.cache.as_ref()?.hit(user, keys)?
    }

    /// The account fingerprint of a loaded identity, computed once per load (or cache entry).
    pub(crate) fn identity_fingerprint<'a>(
        &self,
        identity: &'a crate::store::loader::Identity<U>,
    ) -> &'a str {
        identity.fingerprint(|found| self.fingerprint_of(found))
    }

    /// After the user's password hash was replaced by a re-hash of the same password (another
    /// scheme or cost): forget the cached identity, and with `SECURITY_FLASK_COMPAT` record the
    /// new hash as the known one (it is not a change of password).
    pub(crate) async fn password_rehashed(
        &self,
        user: &U,
        new_hash: &str,
    ) -> Result<(), DatastoreError> {
        self.invalidate(&user.id());
        if self.inner.config.flask_compat {
            crate::compat::record_password(&self.flask_accounts(), user, new_hash, None).await?;
        }
        Ok(())
    }

    /// After the user's password changed (a change or a reset): forget the cached identity,
    /// and with `SECURITY_FLASK_COMPAT` record when, so that Flask session cookies signed
    /// before it are refused. `user` is the account as it is now.
    pub(crate) async fn password_changed(&self, user: &U) -> Result<(), DatastoreError> {
        self.invalidate(&user.id());
        if self.inner.config.flask_compat {
            let hash = user.password().unwrap_or("");
            crate::compat::record_password(&self.flask_accounts(), user, hash, Some(self.now()))
                .await?;
        }
        Ok(())
    }

    /// Forgets a cached identity (after a change to the user), here and, through the
    /// invalidation channel, on every other instance. Never waits.
    pub(crate) fn invalidate(&self, id: &U::Id) {
        if let Some(cache) = &self.inner.cache {
            cache.invalidate(id);
        }
        if let Some(bus) = &self.inner.bus {
            bus.publish(id.to_string());
        }
    }

    /// Waits until the invalidations published so far were sent to the other instances (a
    /// short-lived process calls it before it exits).
    pub(crate) async fn flush_invalidations(&self) {
        if let Some(bus) = &self.inner.bus {
            bus.flush().await;
        }
    }

    /// Flask-Security's `login_user`: refuses users that may not authenticate (returns
    /// `false`, nothing changes), otherwise writes the session (new session id, fresh: its
    /// callers have checked a credential, 5.9's `fs_paa`), the remember cookie when asked,
    /// records the login when trackable, and emits [`Event::UserLoggedIn`].
    ///
    /// # Errors
    /// A database failure while tracking.
    pub(crate) async fn login_user(
        &self,
        session: &Session,
        user: &U,
        remember: Option<bool>,
        ip: &str,
    ) -> Result<bool, DatastoreError> {
        self.login_user_bound(session, user, None, remember, ip)
            .await
    }

    /// [`Runtime::login_user`] for a user whose stored hash is now `password_hash` (a login
    /// that re-hashed the password): the session and remember cookie are bound to it, so that
    /// a change made after the re-hash ends them.
    pub(crate) async fn login_user_bound(
        &self,
        session: &Session,
        user: &U,
        password_hash: Option<&str>,
        remember: Option<bool>,
        ip: &str,
    ) -> Result<bool, DatastoreError> {
        if !self.may_authenticate(user) {
            return Ok(false);
        }
        let remember = remember.unwrap_or(self.inner.config.default_remember_me);
        let epoch = self.account_epoch(user).await?;
        let fingerprint =
            self.fingerprint_in(user, password_hash.or(user.password()), epoch.as_deref());
        session.login(user.id().to_string(), fingerprint.clone(), self.now());
        // A credential was checked (a password, a mailed link): the session is fresh.
        session.set_authenticated_at(self.now());
        if remember {
            session.set_remember(RememberAction::Set(
                self.remember_token_bound(user, &fingerprint).0,
            ));
        }
        if self.inner.config.trackable {
            self.inner
                .datastore
                .track_login(user, ip, self.now_utc())
                .await?;
            self.invalidate(&user.id());
        }
        self.emit(Event::UserLoggedIn { user: user.clone() });
        Ok(true)
    }

    /// Renders one of Flask-Security's mails to `user` and queues it (`security_outbox`);
    /// the outbox sends it in the background and retries a failed delivery. `false`: the
    /// address is over the `mail` rate limit, and nothing was sent.
    ///
    /// # Errors
    /// Rendering failed, or the mail could not be queued (a database failure).
    pub(crate) async fn send_mail(
        &self,
        kind: EmailKind,
        user: &U,
        link: Option<String>,
    ) -> Result<bool, MailError> {
        self.send_mail_with(
            kind,
            user,
            EmailContext {
                kind: Some(kind),
                user_email: user.email().to_owned(),
                link,
                ..EmailContext::default()
            },
        )
        .await
    }

    /// [`Runtime::send_mail`] with a context of its own.
    pub(crate) async fn send_mail_with(
        &self,
        kind: EmailKind,
        user: &U,
        ctx: EmailContext,
    ) -> Result<bool, MailError> {
        self.send_mail_to(kind, user.email(), ctx).await
    }

    /// [`Runtime::send_mail_with`] to the address `to` rather than the user's stored one (the
    /// new address of a change of address).
    pub(crate) async fn send_mail_to(
        &self,
        kind: EmailKind,
        to: &str,
        ctx: EmailContext,
    ) -> Result<bool, MailError> {
        let config = &self.inner.config;
        if !self.mail_allowed(to).await {
            return Ok(false);
        }
        let subject = kind.subject(config);
        let (text, html) = self
            .inner
            .templates
            .render_email(&email_template(kind), ctx)
            .map_err(MailError::Template)?;
        let mail = OutgoingMail {
            kind,
            from: config.email_sender.clone(),
            to: to.to_owned(),
            subject: subject.to_owned(),
            text,
            html,
        };
        self.inner.outbox.enqueue(&mail).await.map_err(|err| {
            tracing::error!(kind = kind.template_name(), error = %err, "security: mail could not be queued");
            MailError::Outbox(err)
        })?;
        Ok(true)
    }

    /// Sends every queued mail that is due now, here, and returns when none is left; a mail
    /// whose delivery fails is left for a later retry. The background sender does this on its
    /// own; call it where there is none (a program without a tokio runtime) or to wait for
    /// mail in tests.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn flush_mail(&self) -> Result<(), MailError> {
        self.inner.outbox.flush().await.map_err(MailError::Outbox)
    }

    /// A `Cookie` header value holding a logged-in session for `user`, as the login view
    /// would have set it.
    pub(crate) fn session_cookie_for(&self, user: &U) -> String {
        let data = crate::web::session::SessionData {
            user_id: Some(user.id().to_string()),
            fingerprint: Some(self.fingerprint(user)),
            login_at: Some(self.now()),
            id: Some(crate::crypto::cookie_codec::random_token(16)),
            csrf: Some(crate::web::csrf::Csrf::new_secret()),
            flashes: Vec::new(),
            forget: false,
            remembered_by: None,
            authenticated_at: Some(self.now()),
            grace_until: None,
            revocation_key: crate::web::session::KeyMemo::default(),
        };
        format!(
            "{}={}",
            self.config().session_cookie_name,
            data.encode(&self.inner.session_signer)
        )
    }
}
