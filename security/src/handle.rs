//! The handle an app holds: [`Security`] (Flask-Security's `Security` object) and its builder.
//! Every method of `Security` is in this file.

use std::sync::Arc;

use axum::Router;
use sea_orm::DatabaseConnection;
use tokio::sync::broadcast;

use crate::config::{Config, ConfigError};
use crate::error::Error;
use crate::events::Event;
use crate::mail::{MailError, MailTransport};
use crate::password::{Passwords, Scheme};
use crate::store::datastore::{Datastore, DatastoreError, UserWithRoles};
use crate::store::model::{Confirmable, SecurityUser, Trackable};
use crate::tokens::serializer::{Clock, SystemClock};
use crate::web::runtime::Runtime;
use crate::web::views::{ExtraField, Templates};

pub use crate::web::views::RegisterField;

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
///     Security::builder(db, Config::from_env()?).build().await?;
/// let app: Router = Router::new()
///     .route("/profile", get(profile))
///     .merge(security.router())
///     .layer(security.layer());
/// # let _ = app; Ok(())
/// # }
/// ```
pub struct Security<U: SecurityUser> {
    rt: Runtime<U>,
}

impl<U: SecurityUser> Clone for Security<U> {
    fn clone(&self) -> Self {
        Security {
            rt: self.rt.clone(),
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
            argon2_cost: None,
            throttle_store: None,
            token_expiry: None,
            _user: std::marker::PhantomData,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        self.rt.config()
    }

    /// The datastore.
    pub fn datastore(&self) -> &Datastore<U> {
        self.rt.datastore()
    }

    /// The password hasher.
    pub fn passwords(&self) -> &Passwords {
        self.rt.passwords()
    }

    /// The template registry.
    pub fn templates(&self) -> &Templates {
        self.rt.templates()
    }

    /// Subscribes to the events (signals).
    pub fn subscribe(&self) -> broadcast::Receiver<Event<U>> {
        self.rt.subscribe()
    }

    /// The security views, at the configured URLs, for the enabled features.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        crate::flows::router(self.rt.clone())
    }

    /// The OpenAPI 3.1 document of [`Security::router`] (feature `openapi`): generated from the
    /// same route table and [`Config`](crate::Config), so it lists exactly the enabled views at
    /// their configured URLs, with their request bodies (JSON and form-encoded), the JSON
    /// envelope, the security schemes the configuration accepts, CSRF, and the 400, 401, 403
    /// and 429 answers. `SECURITY_OPENAPI_URL` serves it from the router.
    ///
    /// An app merges it into its own document:
    ///
    /// ```
    /// # use security::doc_support::User;
    /// # async fn app(security: security::Security<User>) {
    /// use security::utoipa::openapi::{InfoBuilder, OpenApiBuilder, PathsBuilder};
    ///
    /// let mut api = OpenApiBuilder::new()
    ///     .info(InfoBuilder::new().title("My app").version("1.0.0").build())
    ///     .paths(PathsBuilder::new().build())
    ///     .build();
    /// api.merge(security.openapi());
    /// assert!(api.paths.paths.contains_key(&security.config().login_path()));
    /// let json = api.to_pretty_json().unwrap();
    /// # let _ = json;
    /// # }
    /// ```
    #[cfg(feature = "openapi")]
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        let config = self.rt.config();
        let routes = crate::flows::table::<U>(config);
        crate::openapi::document(config, routes.entries())
    }

    /// [`Security::openapi`] as pretty-printed JSON (what `SECURITY_OPENAPI_URL` serves).
    #[cfg(feature = "openapi")]
    pub fn openapi_json(&self) -> String {
        self.openapi()
            .to_pretty_json()
            .unwrap_or_else(|_| "{}".to_owned())
    }

    /// The layer that reads the session and remember cookies, gives every request its
    /// [`Session`](crate::Session) and identity, and writes the cookies back when they
    /// changed.
    pub fn layer(&self) -> crate::web::layer::SecurityLayer<U> {
        crate::web::layer::SecurityLayer::new(self.rt.clone())
    }

    /// The keyed fingerprint of the account state that sessions and tokens are bound to: the
    /// user id, the address, the stored password hash and the uniquifier, under a server key
    /// (never a plain digest of the password). It changes when the password (or uniquifier, or
    /// address) does, and an account that a later one replaces under the same id (a database
    /// may reuse the id of a deleted row) has another address or another password hash.
    pub fn fingerprint(&self, user: &U) -> String {
        self.rt.fingerprint(user)
    }

    /// The user's authentication token (1.7.4's `get_auth_token`). It stays valid until the
    /// password (or uniquifier, or address) changes, or until `SECURITY_TOKEN_MAX_AGE` passes
    /// when that is set. It knows the account only as `user` holds it: for a model without
    /// `fs_uniquifier` whose sessions were once ended (`security_account_epoch` has a row), or
    /// with `fs_token_uniquifier` still unset, the token is not valid (the views issue their
    /// own tokens from the database).
    pub fn auth_token(&self, user: &U) -> String {
        self.rt.auth_token(user)
    }

    /// Whether the user may be authenticated at all: active and, when confirmation is
    /// required, confirmed (checked on every path).
    pub fn may_authenticate(&self, user: &U) -> bool {
        self.rt.may_authenticate(user)
    }

    /// Whether the user has still to confirm their address before logging in.
    pub fn needs_confirmation(&self, user: &U) -> bool {
        self.rt.needs_confirmation(user)
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
        self.rt.user_from_auth_token(token, max_age).await
    }

    /// Sends every queued mail that is due now, here, and returns when none is left; a mail
    /// whose delivery fails is left for a later retry. The background sender does this on its
    /// own; call it where there is none (a program without a tokio runtime) or to wait for
    /// mail in tests.
    ///
    /// # Errors
    /// A database failure.
    pub async fn flush_mail(&self) -> Result<(), MailError> {
        self.rt.flush_mail().await
    }

    /// A `Cookie` header value holding a logged-in session for `user`, as the login view
    /// would have set it (see [`crate::testing`]).
    pub fn session_cookie_for(&self, user: &U) -> String {
        self.rt.session_cookie_for(user)
    }

    /// Forgets the cached identity of a user (see `SECURITY_IDENTITY_CACHE_TTL`), after the app
    /// changed the account, its roles or its password in the database itself rather than
    /// through this crate's views: on this instance at once, and on the others through the
    /// invalidation channel (PostgreSQL `NOTIFY` or Redis pub/sub), which is sent in the background. A process
    /// about to exit calls [`Security::flush_identity_invalidations`] first.
    pub fn forget_identity(&self, id: &U::Id) {
        self.rt.invalidate(id);
    }

    /// Waits until every identity forgotten so far (by [`Security::forget_identity`] or by the
    /// crate's own changes) was announced to the other instances, or the announcement failed
    /// (logged). For a short-lived process (a command line, a job) before it exits; a server
    /// need not call it.
    pub async fn flush_identity_invalidations(&self) {
        self.rt.flush_invalidations().await;
    }

    /// Unlocks an account that the lockout (`SECURITY_LOCKABLE`) locked: ends the lock and
    /// forgets the account's failures, on every instance (the counters are in the shared
    /// store), and emits [`crate::Event::AccountUnlocked`]. `false` when it was not locked.
    ///
    /// # Errors
    /// The throttle store failed.
    pub async fn unlock_user(&self, user: &U) -> Result<bool, Error> {
        Ok(self
            .rt
            .unlock_account(user, crate::events::UnlockReason::Admin)
            .await?)
    }

    /// Changes a user's e-mail address at once, without the mailed link of the change-email
    /// view (an administrator's change: `users set-email`). The address must be valid and
    /// free; `confirmed_at` is left as it is. Every session, remember cookie, auth token and
    /// pending mailed link of the account ends (they are bound to the address), the cached
    /// identity is dropped on every instance, and [`crate::Event::EmailChanged`] is emitted.
    /// `false` when the stored address was no longer `user`'s (changed meanwhile).
    ///
    /// # Errors
    /// [`crate::datastore::DatastoreError::DuplicateEmail`] when another account has the
    /// address, or a database failure.
    pub async fn set_email(&self, user: &U, new_email: &str) -> Result<bool, Error> {
        if !self
            .rt
            .datastore()
            .change_email(user, new_email, None)
            .await?
        {
            return Ok(false);
        }
        self.rt.invalidate(&user.id());
        if let Some(changed) = self.rt.datastore().find_user_by_id(&user.id()).await? {
            tracing::info!(user = %changed.id(), "security: e-mail address changed");
            self.rt.emit(crate::events::Event::EmailChanged {
                user: changed,
                old_email: user.email().to_owned(),
            });
        }
        Ok(true)
    }

    // --- API keys (`SECURITY_API_KEYS`) ---------------------------------------------------------

    /// The user's API keys, oldest first, revoked ones included; never a key or its digest.
    ///
    /// # Errors
    /// A database failure.
    pub async fn list_api_keys(&self, user: &U) -> Result<Vec<crate::ApiKey>, Error> {
        Ok(self.rt.list_api_keys(user).await?)
    }

    /// Creates an API key named `name` for `user`, expiring at `expires_at` (`None`: never),
    /// and emits [`Event::ApiKeyCreated`]. The returned key is the only copy: the table keeps
    /// a keyed digest.
    ///
    /// ```no_run
    /// # async fn example(security: security::Security<security::doc_support::User>,
    /// #     user: security::doc_support::User) -> Result<(), security::ApiKeyError> {
    /// let created = security.create_api_key(&user, "deploy", None).await?;
    /// println!("{}", created.key); // fsk_…, shown once
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A blank or too long name, a name the user's unrevoked keys already have, an expiry not
    /// in the future ([`crate::ApiKeyError`]), or a database failure.
    pub async fn create_api_key(
        &self,
        user: &U,
        name: &str,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<crate::CreatedApiKey, crate::ApiKeyError> {
        self.rt
            .create_api_key(user, name, expires_at.map(|t| t.timestamp()))
            .await
    }

    /// Revokes the user's unrevoked API key whose id (or name) is `id_or_name`, on every
    /// instance at once, and emits [`Event::ApiKeyRevoked`].
    ///
    /// # Errors
    /// [`crate::ApiKeyError::NotFound`] when the user has no such unrevoked key; a database
    /// failure.
    pub async fn revoke_api_key(
        &self,
        user: &U,
        id_or_name: &str,
    ) -> Result<crate::ApiKey, crate::ApiKeyError> {
        self.rt.revoke_api_key(user, id_or_name, true).await
    }

    /// Revokes every unrevoked API key of the user (for a reset of the account's access), and
    /// emits [`Event::ApiKeyRevoked`] for each; returns them. Works whether or not
    /// `SECURITY_API_KEYS` is on, as long as the table exists; without the table it does
    /// nothing.
    ///
    /// # Errors
    /// A database failure.
    pub async fn revoke_all_api_keys(&self, user: &U) -> Result<Vec<crate::ApiKey>, Error> {
        if !self.rt.config().api_keys {
            let missing = crate::schema::missing_tables(
                self.rt.datastore().connection(),
                &[crate::store::api_keys::TABLE],
            )
            .await?;
            if !missing.is_empty() {
                return Ok(Vec::new());
            }
        }
        Ok(self.rt.revoke_all_api_keys(user).await?)
    }

    /// Ends every session, remember cookie, authentication token and refresh token of the
    /// account, on every instance (`users revoke-sessions`): the account gets a new
    /// `fs_uniquifier`, or, for a model without one, a new value in `security_account_epoch`.
    /// Emits [`crate::Event::SessionsRevoked`].
    ///
    /// # Errors
    /// A database failure; a model without `fs_uniquifier` whose `security_account_epoch`
    /// table is missing (create it with [`crate::schema::create_tables`]).
    pub async fn revoke_sessions(&self, user: &U) -> Result<(), Error> {
        self.rt
            .revoke_everything(user, crate::events::RevocationReason::RevokeSessions, None)
            .await?;
        Ok(())
    }

    /// Flask-Security 5.9's `reset_user_access` (`users reset-access`): every session,
    /// remember cookie, authentication token, refresh token and API key of the account stops
    /// working; the password stays. (Two-factor secrets, recovery codes and passkeys, which
    /// this version does not have yet, will be removed here too.) Emits
    /// [`crate::Event::SessionsRevoked`], and [`Event::ApiKeyRevoked`] for each key.
    ///
    /// # Errors
    /// As [`Security::revoke_sessions`].
    pub async fn reset_access(&self, user: &U) -> Result<(), Error> {
        self.rt
            .revoke_everything(user, crate::events::RevocationReason::ResetAccess, None)
            .await?;
        self.revoke_all_api_keys(user).await?;
        Ok(())
    }

    /// Ends every authentication token and refresh token of the account, and nothing else
    /// (5.9's `set_token_uniquifier`): a model with `fs_token_uniquifier` gets a new one, and
    /// its refresh-token families are revoked; sessions and remember cookies go on. `false`
    /// (nothing done) for a model without `fs_token_uniquifier`, whose tokens are bound to
    /// the account: end them with [`Security::revoke_sessions`]. Emits
    /// [`crate::Event::SessionsRevoked`].
    ///
    /// # Errors
    /// A database failure.
    pub async fn revoke_tokens(&self, user: &U) -> Result<bool, Error> {
        Ok(self.rt.revoke_tokens(user).await?)
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
    argon2_cost: Option<(u32, u32, u32)>,
    throttle_store: Option<Arc<dyn crate::throttle::ThrottleStore>>,
    token_expiry: Option<crate::web::runtime::TokenExpiry<U>>,
    _user: std::marker::PhantomData<fn() -> U>,
}

impl<U: SecurityUser> std::fmt::Debug for SecurityBuilder<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityBuilder").finish_non_exhaustive()
    }
}

impl<U: SecurityUser> SecurityBuilder<U> {
    /// A per-user limit on the age of authentication tokens (5.9's
    /// `SECURITY_TOKEN_EXPIRE_TIMESTAMP`): a token older than what `expiry` answers for its
    /// user is refused; `None` = no limit of its own. With `SECURITY_TOKEN_MAX_AGE`, the
    /// shorter wins.
    ///
    /// ```no_run
    /// # async fn example(db: sea_orm::DatabaseConnection) -> Result<(), security::Error> {
    /// # type User = security::doc_support::User;
    /// use std::time::Duration;
    /// let security = security::Security::<User>::builder(db, security::Config::from_env()?)
    ///     .token_expiry(|user: &User| {
    ///         user.email.ends_with("@contractor.example").then(|| Duration::from_secs(3600))
    ///     })
    ///     .build()
    ///     .await?;
    /// # let _ = security; Ok(())
    /// # }
    /// ```
    pub fn token_expiry<F>(mut self, expiry: F) -> Self
    where
        F: Fn(&U) -> Option<std::time::Duration> + Send + Sync + 'static,
    {
        self.token_expiry = Some(Arc::new(expiry));
        self
    }

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

    /// Replaces the template registry (see [`crate::web::views`]).
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

    /// Keeps the brute-force counters in this store instead of the one
    /// `SECURITY_THROTTLE_STORE` names (an app's own backend; a store shared by several
    /// `Security` values in one process). It is used as given: wrap it in
    /// [`crate::throttle::Resilient`] for the in-process fallback.
    pub fn throttle_store(mut self, store: impl crate::throttle::ThrottleStore) -> Self {
        self.throttle_store = Some(Arc::new(store));
        self
    }

    /// How many password hashes may run at once (default: the number of cores).
    pub fn hash_concurrency(mut self, permits: usize) -> Self {
        self.hash_concurrency = Some(permits.max(1));
        self
    }

    /// The Argon2id cost of new hashes: `m_cost` KiB, `t_cost` passes, `p_cost` lanes (see
    /// [`Passwords::with_argon2_cost`]).
    ///
    /// # Warning
    ///
    /// A lower cost than the default makes a stolen hash cheaper to crack: lower it for tests
    /// only.
    pub fn argon2_cost(mut self, m_cost: u32, t_cost: u32, p_cost: u32) -> Self {
        self.argon2_cost = Some((m_cost, t_cost, p_cost));
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

    /// Validates the configuration against the entities, checks that the tables the enabled
    /// features need exist, and builds the runtime.
    ///
    /// # Errors
    /// An invalid configuration ([`Error::Config`]): an unknown hash scheme, no `SECRET_KEY`,
    /// a feature whose fields the user model lacks (naming them), an identity attribute that
    /// is not a column, a page template name with nothing registered under it. A runtime
    /// table the features need is missing ([`Error::MissingTables`]: create them with
    /// [`crate::schema::create_tables`]). The database could not be asked.
    pub async fn build(self) -> Result<Security<U>, Error> {
        let mut needed = crate::store::schema::needed_tables(&self.config);
        if self.throttle_store.is_some() {
            needed.retain(|table| *table != "security_throttle");
        }
        // Without `fs_uniquifier`, ending an account's sessions needs a per-account value.
        let has_uniquifier = U::FIELDS.has(crate::store::model::Field::Uniquifier);
        if self.config.sign_out_everywhere && !has_uniquifier {
            needed.push("security_account_epoch");
        }
        let account_epochs = !has_uniquifier
            && crate::store::schema::missing_tables(&self.db, &["security_account_epoch"])
                .await?
                .is_empty();
        let missing = crate::store::schema::missing_tables(&self.db, &needed).await?;
        if !missing.is_empty() {
            return Err(Error::MissingTables { tables: missing });
        }
        let throttle = match &self.throttle_store {
            Some(store) => crate::web::limits::Throttle::wanted(&self.config).then(|| {
                crate::web::limits::Throttle::new(
                    Arc::clone(store),
                    self.config.secret_key.as_bytes(),
                )
            }),
            None => crate::web::limits::open(&self.config, &self.db).await?,
        };
        Ok(self.build_checked(throttle, account_epochs)?)
    }

    fn build_checked(
        self,
        throttle: Option<crate::web::limits::Throttle>,
        account_epochs: bool,
    ) -> Result<Security<U>, ConfigError> {
        let config = self.config;
        config.validate()?;
        let fields = U::FIELDS;
        if config.confirmable && !fields.has(crate::store::model::Field::ConfirmedAt) {
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
        for view in crate::web::views::ViewName::ALL {
            let name = view.template(&config);
            if !self.templates.has_page(name) {
                return Err(ConfigError::Invalid {
                    key: view.config_key().into(),
                    reason: format!("no template is registered under `{name}`"),
                });
            }
        }
        let scheme = config.password_hash;
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
        let salt = config.password_salt.as_ref().map(|s| s.expose().to_owned());
        let mut passwords = Passwords::new(scheme, salt)
            .with_double_hmac_rescue(config.flask_compat)
            .with_normalization(config.password_normalize_form)
            .with_typed_storage(config.flask_compat)
            .with_priority(config.password_hash_priority);
        if config.flask_compat {
            tracing::warn!(
                "SECURITY_FLASK_COMPAT is on: tokens, cookies and links issued by Flask-Security \
                 1.7.4 (HMAC-SHA1, MD5 digests) are accepted; turn it off once no Flask \
                 instance is left"
            );
        }
        if let Some((m, t, p)) = self.argon2_cost {
            passwords =
                passwords
                    .with_argon2_cost(m, t, p)
                    .map_err(|err| ConfigError::Invalid {
                        key: "argon2_cost".into(),
                        reason: err.to_string(),
                    })?;
        }
        if let Some(permits) = self.hash_concurrency {
            passwords = passwords.with_concurrency(permits);
        }
        // Usernames (5.9): the model must have the field; `username` becomes an identity
        // attribute when it is not one already.
        let mut identity_attributes = config.user_identity_attributes.clone();
        if config.username_enable || config.change_username {
            let Some(column) = U::column(crate::store::model::Field::Username) else {
                return Err(ConfigError::Invalid {
                    key: "SECURITY_USERNAME_ENABLE".into(),
                    reason: format!(
                        "the user model `{}` has no `username` field; add `username: Option<String>` (with a unique index) or turn usernames off",
                        std::any::type_name::<U>()
                    ),
                });
            };
            let name = sea_orm::IdenStatic::as_str(&column);
            if config.username_enable && !identity_attributes.iter().any(|a| a == name) {
                identity_attributes.push(name.to_owned());
            }
        }
        let datastore = Datastore::new(self.db, passwords.clone())
            .with_flask_compat(config.flask_compat)
            .username_normalization(config.username_normalize_form)
            .with_account_epochs(account_epochs)
            .identity_attributes(&identity_attributes)
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
        Ok(Security {
            rt: Runtime::new(crate::web::runtime::RuntimeParts {
                config,
                datastore,
                passwords,
                mailer: self.mailer,
                templates: self.templates,
                clock: self.clock,
                register_fields: self.register_fields,
                throttle,
                token_expiry: self.token_expiry,
            }),
        })
    }
}
