//! The [`Security`] handle (Flask-Security's `Security` object and `_SecurityState`) and its
//! builder.

use std::sync::Arc;

use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use sea_orm::DatabaseConnection;
use tokio::sync::broadcast;

use crate::compat::LegacyPayload;
use crate::config::{Config, ConfigError};
use crate::cookie_codec::Signer;
use crate::csrf::{Csrf, CsrfKey};
use crate::datastore::{Datastore, DatastoreError, UserWithRoles};
use crate::events::Event;
use crate::mail::{EmailKind, MailError, MailTransport, OutgoingMail};
use crate::messages::MessageKey;
use crate::model::{Confirmable, SecurityUser, Trackable};
use crate::password::{Passwords, Scheme};
use crate::session::{RememberAction, Session};
use crate::token::{Clock, Serializer, SystemClock};
use crate::views::{EmailContext, ExtraField, Templates, email_template};

/// A validator of an extra registration field: the submitted text (trimmed) to the value to
/// store, or the error message to show next to the field.
pub type FieldValidator =
    Arc<dyn Fn(&str) -> Result<sea_orm::Value, String> + Send + Sync + 'static>;

/// An extra field of the registration form (first name, last name, …), stored on the user.
#[derive(Clone)]
pub struct RegisterField {
    pub(crate) spec: ExtraField,
    pub(crate) validate: FieldValidator,
}

impl std::fmt::Debug for RegisterField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterField")
            .field("name", &self.spec.name)
            .finish_non_exhaustive()
    }
}

/// The token serializers, one per purpose (spec §8): a token made for one purpose is invalid
/// for every other.
pub(crate) struct Tokens {
    pub remember: Serializer,
    pub confirm: Serializer,
    pub reset: Serializer,
    pub login: Serializer,
}

/// A token that checked out.
pub(crate) struct Checked<U: SecurityUser> {
    pub found: UserWithRoles<U>,
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
    pub config: Config,
    pub datastore: Datastore<U>,
    pub passwords: Passwords,
    pub tokens: Tokens,
    pub session_signer: Signer,
    pub fingerprint_signer: Signer,
    pub csrf: CsrfKey,
    pub templates: Templates,
    pub events: broadcast::Sender<Event<U>>,
    pub clock: Arc<dyn Clock>,
    pub register_fields: Vec<RegisterField>,
    pub cache: Option<crate::cache::IdentityCache<U>>,
    pub loader: Arc<crate::loader::IdentityLoader<U>>,
    pub outbox: Arc<crate::outbox::Outbox>,
}

/// The security runtime: configuration, datastore, tokens, mail, templates and events.
/// A cheap `Clone` handle.
///
/// ```no_run
/// # async fn example(db: sea_orm::DatabaseConnection) -> Result<(), security::Error> {
/// # mod user { pub type Model = security::doc_support::User; }
/// use axum::{Router, routing::get};
/// use security::prelude::*;
///
/// #[login_required]
/// async fn profile(user: CurrentUser<user::Model>) -> String {
///     format!("Hello {}", user.email)
/// }
///
/// let security: Security<user::Model> =
///     Security::builder(db, Config::from_env()?).build()?;
/// let app: Router = Router::new()
///     .route("/profile", get(profile))
///     .merge(security.router())
///     .layer(security.layer());
/// # let _ = app; Ok(())
/// # }
/// ```
pub struct Security<U: SecurityUser> {
    pub(crate) inner: Arc<Inner<U>>,
}

impl<U: SecurityUser> Clone for Security<U> {
    fn clone(&self) -> Self {
        Security {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<U: SecurityUser> std::fmt::Debug for Security<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security").finish_non_exhaustive()
    }
}

impl<U: SecurityUser> Security<U> {
    /// Starts building the runtime for a database connection and a configuration.
    pub fn builder(db: DatabaseConnection, config: Config) -> SecurityBuilder<U> {
        SecurityBuilder {
            db,
            config,
            mailer: None,
            templates: Templates::default(),
            clock: Arc::new(SystemClock),
            register_fields: Vec::new(),
            hash_concurrency: None,
            _user: std::marker::PhantomData,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The datastore.
    pub fn datastore(&self) -> &Datastore<U> {
        &self.inner.datastore
    }

    /// The password hasher.
    pub fn passwords(&self) -> &Passwords {
        &self.inner.passwords
    }

    /// The template registry.
    pub fn templates(&self) -> &Templates {
        &self.inner.templates
    }

    /// Subscribes to the events (signals).
    pub fn subscribe(&self) -> broadcast::Receiver<Event<U>> {
        self.inner.events.subscribe()
    }

    /// The security views, at the configured URLs, for the enabled features.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        crate::flows::router(self.clone())
    }

    /// The layer that reads the session and remember cookies, gives every request its
    /// [`Session`] and identity, and writes the cookies back when they changed.
    pub fn layer(&self) -> crate::layer::SecurityLayer<U> {
        crate::layer::SecurityLayer::new(self.clone())
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
    pub fn fingerprint(&self, user: &U) -> String {
        self.fingerprint_with(user, user.password())
    }

    /// [`Security::fingerprint`] as it will be once `password` is the stored hash.
    pub(crate) fn fingerprint_with(&self, user: &U, password: Option<&str>) -> String {
        self.inner.fingerprint_signer.fingerprint(&[
            b"account-v2",
            user.id().to_string().as_bytes(),
            user.email().as_bytes(),
            password.unwrap_or("").as_bytes(),
            user.uniquifier().unwrap_or("").as_bytes(),
        ])
    }

    /// A keyed digest binding a one-shot token to the state of the account it was made for:
    /// the purpose, the user id, and the parts that must not have changed for the token to
    /// stay valid (e.g. the e-mail address, the password hash).
    pub(crate) fn bind(&self, purpose: &str, user: &U, parts: &[&str]) -> String {
        let id = user.id().to_string();
        let mut all: Vec<&[u8]> = vec![purpose.as_bytes(), id.as_bytes()];
        all.extend(parts.iter().map(|p| p.as_bytes()));
        self.inner.fingerprint_signer.fingerprint(&all)
    }

    /// The user's authentication token (1.7.4's `get_auth_token`). It stays valid until the
    /// password (or uniquifier, or address) changes, or until `SECURITY_TOKEN_MAX_AGE` passes
    /// when that is set.
    pub fn auth_token(&self, user: &U) -> String {
        self.auth_token_bound(user, None)
    }

    /// [`Security::auth_token`] for a user whose stored hash is now `password_hash` when given.
    pub(crate) fn auth_token_bound(&self, user: &U, password_hash: Option<&str>) -> String {
        let id = user.id().to_string();
        let fp = match password_hash {
            Some(hash) => self.fingerprint_with(user, Some(hash)),
            None => self.fingerprint(user),
        };
        self.inner.tokens.remember.dumps(&[&id, &fp], self.now())
    }

    /// A remember-me cookie for the user: like the authentication token, with a random id of
    /// its own, so that a logout ends this cookie (and only it), and so that it is not an
    /// authentication token.
    pub(crate) fn remember_token(&self, user: &U) -> String {
        self.remember_token_bound(user, &self.fingerprint(user)).0
    }

    /// A remember-me cookie bound to `fingerprint`, and its revocation key.
    fn remember_token_bound(&self, user: &U, fingerprint: &str) -> (String, String) {
        let id = user.id().to_string();
        let nonce = crate::cookie_codec::random_token(12);
        let token = self
            .inner
            .tokens
            .remember
            .dumps(&[&id, fingerprint, &nonce], self.now());
        (token, self.token_key(&id, &nonce))
    }

    /// [`Security::remember_token`] and its revocation key.
    pub(crate) fn remember_token_and_key(&self, user: &U) -> (String, String) {
        self.remember_token_bound(user, &self.fingerprint(user))
    }

    /// The revocation key of a session (`security_revocation`).
    pub(crate) fn session_key(&self, user_id: &str, session_id: &str) -> String {
        self.inner.fingerprint_signer.fingerprint(&[
            b"revoked-session",
            user_id.as_bytes(),
            session_id.as_bytes(),
        ])
    }

    /// The revocation key of a remember-me cookie or token, by its own id (a cookie of the
    /// current format) or by the whole token (older ones).
    pub(crate) fn token_key(&self, user_id: &str, token_id: &str) -> String {
        self.inner.fingerprint_signer.fingerprint(&[
            b"revoked-token",
            user_id.as_bytes(),
            token_id.as_bytes(),
        ])
    }

    /// Whether the user may be authenticated at all: active and, when confirmation is
    /// required, confirmed (checked on every path, S12).
    pub fn may_authenticate(&self, user: &U) -> bool {
        user.active() && !self.needs_confirmation(user)
    }

    /// Whether the user has still to confirm their address before logging in.
    pub fn needs_confirmation(&self, user: &U) -> bool {
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
    pub async fn user_from_auth_token(
        &self,
        token: &str,
        max_age: Option<u64>,
    ) -> Result<Option<UserWithRoles<U>>, DatastoreError> {
        Ok(self
            .check_token(token, max_age, TokenUse::Auth)
            .await?
            .map(|checked| checked.found))
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
        let Ok(payload) = self.inner.tokens.remember.loads(token, max_age, self.now()) else {
            return Ok(None);
        };
        let (id_text, fp, nonce) = match (payload.as_slice(), usage) {
            ([id, fp], _) => (id, fp, None),
            ([id, fp, nonce], TokenUse::Remember) => (id, fp, Some(nonce.as_str())),
            _ => return Ok(None),
        };
        let Ok(id) = id_text.parse::<U::Id>() else {
            return Ok(None);
        };
        let key = self.token_key(id_text, nonce.unwrap_or(token));
        let Some((found, revoked)) = self
            .load_identity_keyed(&id, std::slice::from_ref(&key))
            .await?
        else {
            return Ok(None);
        };
        let current = self.fingerprint(&found.user);
        let ours = crate::cookie_codec::constant_time_eq(current.as_bytes(), fp.as_bytes());
        let legacy = !ours
            && nonce.is_none()
            && self.inner.config.flask_compat
            && LegacyPayload::PasswordDigest.matches(
                &payload,
                found.user.email(),
                found.user.password(),
            );
        if revoked || !(ours || legacy) || !self.may_authenticate(&found.user) {
            return Ok(None);
        }
        if legacy {
            tracing::debug!("accepted a Flask-Security 1.7.4 authentication token");
        }
        let current_format = ours && (usage == TokenUse::Auth || nonce.is_some());
        Ok(Some(Checked {
            found,
            current_format,
            key,
        }))
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
            crate::schema::revoke(db, key, user_id, expires, now).await?;
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
                crate::schema::revoke(db, key, id, expires, now).await?;
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

    /// Records a one-shot `token` of `purpose` as used (a keyed digest of it, in
    /// `security_used_token`, kept for `lifetime` seconds): `true` the first time only.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn use_once(
        &self,
        purpose: &[u8],
        token: &str,
        lifetime: u64,
    ) -> Result<bool, sea_orm::DbErr> {
        let now = self.now();
        let digest = self
            .inner
            .fingerprint_signer
            .fingerprint(&[purpose, token.as_bytes()]);
        let lifetime = i64::try_from(lifetime).unwrap_or(i64::MAX / 2);
        let expires_at = now.saturating_add(lifetime).saturating_add(1);
        crate::schema::consume(self.inner.datastore.connection(), digest, expires_at, now).await
    }

    /// Loads a user and its roles (through the identity cache when it is on).
    pub(crate) async fn load_identity(
        &self,
        id: &U::Id,
    ) -> Result<Option<UserWithRoles<U>>, DatastoreError> {
        Ok(self
            .load_identity_keyed(id, &[])
            .await?
            .map(|(found, _)| found))
    }

    /// Loads a user and its roles, and whether one of the revocation `keys` (of a session, of
    /// the remember cookie it came from) was revoked, in one query (through the identity cache
    /// when it is on).
    pub(crate) async fn load_identity_keyed(
        &self,
        id: &U::Id,
        keys: &[String],
    ) -> Result<crate::loader::Loaded<U>, DatastoreError> {
        if let Some(cache) = &self.inner.cache {
            return cache.get_or_load(id, keys, &self.inner.loader).await;
        }
        self.inner.loader.load(id, keys).await
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
            crate::compat::record_password(self, user, new_hash, None).await?;
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
            crate::compat::record_password(self, user, hash, Some(self.now())).await?;
        }
        Ok(())
    }

    /// Forgets a cached identity (after a change to the user).
    pub(crate) fn invalidate(&self, id: &U::Id) {
        if let Some(cache) = &self.inner.cache {
            cache.invalidate(id);
        }
    }

    /// Flask-Security's `login_user`: refuses users that may not authenticate (returns
    /// `false`, nothing changes), otherwise writes the session (new session id), the
    /// remember cookie when asked, records the login when trackable, and emits
    /// [`Event::UserLoggedIn`].
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

    /// [`Security::login_user`] for a user whose stored hash is now `password_hash` (a login
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
        let fingerprint = match password_hash {
            Some(hash) => self.fingerprint_with(user, Some(hash)),
            None => self.fingerprint(user),
        };
        session.login(user.id().to_string(), fingerprint.clone(), self.now());
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
    /// the outbox sends it in the background and retries a failed delivery.
    ///
    /// # Errors
    /// Rendering failed, or the mail could not be queued (a database failure).
    pub(crate) async fn send_mail(
        &self,
        kind: EmailKind,
        user: &U,
        link: Option<String>,
    ) -> Result<(), MailError> {
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

    /// [`Security::send_mail`] with a context of its own.
    pub(crate) async fn send_mail_with(
        &self,
        kind: EmailKind,
        user: &U,
        ctx: EmailContext,
    ) -> Result<(), MailError> {
        let config = &self.inner.config;
        let subject = match kind {
            EmailKind::Welcome | EmailKind::WelcomeExisting => &config.email_subject_register,
            EmailKind::ConfirmationInstructions => &config.email_subject_confirm,
            EmailKind::LoginInstructions => &config.email_subject_passwordless,
            EmailKind::ResetInstructions => &config.email_subject_password_reset,
            EmailKind::ResetNotice => &config.email_subject_password_notice,
            EmailKind::ChangeNotice => &config.email_subject_password_change_notice,
        };
        let (text, html) = self
            .inner
            .templates
            .render_email(&email_template(kind), ctx)
            .map_err(|e| MailError::Template(e.to_string()))?;
        let mail = OutgoingMail {
            kind,
            from: config.email_sender.clone(),
            to: user.email().to_owned(),
            subject: subject.clone(),
            text,
            html,
        };
        self.inner.outbox.enqueue(&mail).await.map_err(|err| {
            tracing::error!(kind = kind.template_name(), error = %err, "security: mail could not be queued");
            MailError::Outbox(err)
        })
    }

    /// Sends every queued mail that is due now, here, and returns when none is left; a mail
    /// whose delivery fails is left for a later retry. The background sender does this on its
    /// own; call it where there is none (a program without a tokio runtime) or to wait for
    /// mail in tests.
    ///
    /// # Errors
    /// A database failure.
    pub async fn flush_mail(&self) -> Result<(), MailError> {
        self.inner.outbox.flush().await.map_err(MailError::Outbox)
    }
}

/// Builds a [`Security`]: `Security::builder(db, config)…build()?`.
pub struct SecurityBuilder<U: SecurityUser> {
    db: DatabaseConnection,
    config: Config,
    mailer: Option<Arc<dyn MailTransport>>,
    templates: Templates,
    clock: Arc<dyn Clock>,
    register_fields: Vec<RegisterField>,
    hash_concurrency: Option<usize>,
    _user: std::marker::PhantomData<fn() -> U>,
}

impl<U: SecurityUser> std::fmt::Debug for SecurityBuilder<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityBuilder").finish_non_exhaustive()
    }
}

impl<U: SecurityUser> SecurityBuilder<U> {
    /// Replaces the configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Sends mail with this transport (SMTP, file, or the app's own task).
    pub fn mailer(mut self, mailer: impl MailTransport) -> Self {
        self.mailer = Some(Arc::new(mailer));
        self
    }

    /// Replaces the template registry (see [`crate::views`]).
    pub fn templates(mut self, templates: Templates) -> Self {
        self.templates = templates;
        self
    }

    /// Changes the template registry in place (add a page, a processor…).
    pub fn with_templates(mut self, f: impl FnOnce(&mut Templates)) -> Self {
        f(&mut self.templates);
        self
    }

    /// Uses another clock for token timestamps (tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How many password hashes may run at once (default: the number of cores).
    pub fn hash_concurrency(mut self, permits: usize) -> Self {
        self.hash_concurrency = Some(permits.max(1));
        self
    }

    /// Turns on e-mail confirmation (`SECURITY_CONFIRMABLE`); the user model must have
    /// `confirmed_at`, which the compiler checks.
    pub fn confirmable(mut self) -> Self
    where
        U: Confirmable,
    {
        self.config.confirmable = true;
        self
    }

    /// Turns on login tracking (`SECURITY_TRACKABLE`); the user model must have the tracking
    /// fields, which the compiler checks.
    pub fn trackable(mut self) -> Self
    where
        U: Trackable,
    {
        self.config.trackable = true;
        self
    }

    /// Turns on registration (`SECURITY_REGISTERABLE`).
    pub fn registerable(mut self) -> Self {
        self.config.registerable = true;
        self
    }

    /// Turns on password recovery (`SECURITY_RECOVERABLE`).
    pub fn recoverable(mut self) -> Self {
        self.config.recoverable = true;
        self
    }

    /// Turns on password change (`SECURITY_CHANGEABLE`).
    pub fn changeable(mut self) -> Self {
        self.config.changeable = true;
        self
    }

    /// Turns on passwordless login (`SECURITY_PASSWORDLESS`).
    pub fn passwordless(mut self) -> Self {
        self.config.passwordless = true;
        self
    }

    /// Adds a field to the registration form, validated by `validate` and stored in the user
    /// column of the same name (Flask-Security's custom `RegisterForm`).
    ///
    /// ```no_run
    /// # fn f(b: security::SecurityBuilder<security::doc_support::User>) -> security::SecurityBuilder<security::doc_support::User> {
    /// b.register_field("first_name", "First Name", |value| {
    ///     if value.is_empty() {
    ///         Err("First name not provided".into())
    ///     } else {
    ///         Ok(value.to_owned().into())
    ///     }
    /// })
    /// # }
    /// ```
    pub fn register_field<F>(mut self, name: &str, label: &str, validate: F) -> Self
    where
        F: Fn(&str) -> Result<sea_orm::Value, String> + Send + Sync + 'static,
    {
        self.register_fields.push(RegisterField {
            spec: ExtraField {
                name: name.to_owned(),
                label: label.to_owned(),
                kind: "text".to_owned(),
            },
            validate: Arc::new(validate),
        });
        self
    }

    /// Validates the configuration against the entities and builds the runtime.
    ///
    /// # Errors
    /// An invalid configuration: an unknown hash scheme, no `SECRET_KEY`, a feature whose
    /// fields the user model lacks (naming them), an identity attribute that is not a column,
    /// a page template name with nothing registered under it.
    pub fn build(self) -> Result<Security<U>, ConfigError> {
        let config = self.config;
        config.validate()?;
        let fields = U::FIELDS;
        if config.confirmable && !fields.has(crate::model::Field::ConfirmedAt) {
            return Err(ConfigError::Invalid {
                key: "SECURITY_CONFIRMABLE".into(),
                reason: format!(
                    "the user model `{}` has no `confirmed_at` field; add `confirmed_at: Option<DateTimeUtc>` or turn confirmation off",
                    std::any::type_name::<U>()
                ),
            });
        }
        let missing = fields.missing_trackable();
        if config.trackable && !missing.is_empty() {
            return Err(ConfigError::Invalid {
                key: "SECURITY_TRACKABLE".into(),
                reason: format!(
                    "the user model `{}` lacks the tracking fields {}; add them or turn tracking off",
                    std::any::type_name::<U>(),
                    missing
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        for (key, name) in [
            ("SECURITY_LOGIN_USER_TEMPLATE", &config.login_user_template),
            (
                "SECURITY_REGISTER_USER_TEMPLATE",
                &config.register_user_template,
            ),
            (
                "SECURITY_FORGOT_PASSWORD_TEMPLATE",
                &config.forgot_password_template,
            ),
            (
                "SECURITY_RESET_PASSWORD_TEMPLATE",
                &config.reset_password_template,
            ),
            (
                "SECURITY_CHANGE_PASSWORD_TEMPLATE",
                &config.change_password_template,
            ),
            (
                "SECURITY_SEND_CONFIRMATION_TEMPLATE",
                &config.send_confirmation_template,
            ),
            ("SECURITY_SEND_LOGIN_TEMPLATE", &config.send_login_template),
        ] {
            if !self.templates.has_page(name) {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    reason: format!("no template is registered under `{name}`"),
                });
            }
        }
        let scheme =
            Scheme::from_name(&config.password_hash).ok_or_else(|| ConfigError::Invalid {
                key: "SECURITY_PASSWORD_HASH".into(),
                reason: format!("unknown scheme `{}`", config.password_hash),
            })?;
        if scheme == Scheme::Plaintext {
            tracing::warn!(
                "SECURITY_PASSWORD_HASH is `plaintext`: passwords are stored in clear; never use this in production"
            );
        } else if scheme != Scheme::Argon2 && config.password_salt.is_none() {
            tracing::warn!(
                scheme = scheme.name(),
                "SECURITY_PASSWORD_SALT is not set: hashing passwords with this scheme will fail"
            );
        }
        let mut passwords = Passwords::new(scheme, config.password_salt.clone())
            .with_double_hmac_rescue(config.flask_compat)
            .with_normalization(config.password_normalize_form)
            .with_typed_storage(config.flask_compat);
        if config.flask_compat {
            tracing::warn!(
                "SECURITY_FLASK_COMPAT is on: tokens, cookies and links issued by Flask-Security \
                 1.7.4 (HMAC-SHA1, MD5 digests) are accepted; turn it off once no Flask \
                 instance is left"
            );
        }
        if let Some(permits) = self.hash_concurrency {
            passwords = passwords.with_concurrency(permits);
        }
        let datastore = Datastore::new(self.db, passwords.clone())
            .with_flask_compat(config.flask_compat)
            .identity_attributes(&config.user_identity_attributes)
            .map_err(|name| ConfigError::Invalid {
                key: "SECURITY_USER_IDENTITY_ATTRIBUTES".into(),
                reason: format!("`{name}` is not a column of the user entity"),
            })?;
        if self.mailer.is_none()
            && (config.registerable && config.send_register_email
                || config.confirmable
                || config.recoverable
                || config.passwordless
                || config.changeable && config.send_password_change_email)
        {
            tracing::warn!(
                "a feature that sends mail is on but no mail transport is configured; mail will fail"
            );
        }
        let secret = config.secret_key.as_str();
        let tokens = Tokens {
            remember: Serializer::new(secret, &config.remember_salt),
            confirm: Serializer::new(secret, &config.confirm_salt),
            reset: Serializer::new(secret, &config.reset_salt),
            login: Serializer::new(secret, &config.login_salt),
        };
        let cache = config
            .identity_cache_ttl
            .as_ref()
            .map(|ttl| crate::cache::IdentityCache::new(ttl.seconds()));
        let loader = crate::loader::IdentityLoader::new(datastore.clone());
        let csrf = CsrfKey {
            csrf: Arc::new(Csrf::new(secret.as_bytes(), config.csrf_time_limit)),
            clock: Arc::clone(&self.clock),
            enabled: config.csrf_enabled,
            protect: config.csrf_protect,
            missing: config.messages.get(MessageKey::CsrfMissing).text.clone(),
            invalid: config.messages.get(MessageKey::CsrfInvalid).text.clone(),
            json_http_status: config.json_http_status_codes,
        };
        let outbox = crate::outbox::Outbox::new(
            datastore.connection().clone(),
            secret.as_bytes(),
            self.mailer.clone(),
            Arc::clone(&self.clock),
            config.mail_retry_delay.seconds(),
            config.mail_max_attempts,
        );
        // Deliver what an earlier run left queued.
        outbox.start();
        let (events, _) = broadcast::channel(256);
        Ok(Security {
            inner: Arc::new(Inner {
                session_signer: Signer::new(secret.as_bytes(), "session"),
                fingerprint_signer: Signer::new(secret.as_bytes(), "account"),
                csrf,
                tokens,
                datastore,
                passwords,
                templates: self.templates,
                events,
                clock: self.clock,
                register_fields: self.register_fields,
                cache,
                loader,
                outbox,
                config,
            }),
        })
    }
}
