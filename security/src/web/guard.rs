//! The guard extractors behind `#[login_required]`, `#[roles_required(..)]`,
//! `#[roles_accepted(..)]`, `#[auth_token_required]`, `#[http_auth_required]` and
//! `#[auth_required(..)]` (Flask-Security's `decorators.py`), and the freshness check of
//! `#[auth_required(.., within = "..")]` and [`Fresh`](crate::extract::Fresh) (5.9's
//! `check_and_update_authn_fresh`).
//!
//! Each attribute adds one argument of a type from this module to the handler; the body stays
//! as written. The types can be used by hand too:
//!
//! ```
//! use security::guard::{LoginRequired, RoleList, RolesRequired};
//!
//! struct Admin;
//! impl RoleList for Admin {
//!     const ROLES: &'static [&'static str] = &["admin"];
//! }
//!
//! async fn profile(_: LoginRequired) -> &'static str {
//!     "Profile Page"
//! }
//!
//! async fn admin(_: RolesRequired<Admin>) -> &'static str {
//!     "Admin Page"
//! }
//! # let _ = axum::Router::<()>::new()
//! #     .route("/profile", axum::routing::get(profile))
//! #     .route("/admin", axum::routing::get(admin));
//! ```
//!
//! What a guard decides is in `Runtime::check_requirement` (below); who the request's user is,
//! in `web/identity.rs`. The answer on failure is a [`Rejection`], Flask-Security's: a
//! redirect to the login view with `next` for `login_required`, the `UNAUTHORIZED` flash and a
//! redirect (or 403) for the role guards, 401 with a `WWW-Authenticate: Basic` challenge for
//! Basic auth, 401 for token auth, and for an authentication that is not fresh enough 5.9's
//! `REAUTHENTICATION_REQUIRED`: a redirect to the verify view with `next`, or 401 in JSON.
//!
//! # Freshness
//!
//! A handler that changes something sensitive can ask for a *recent* authentication (5.9's
//! "freshness"): `#[auth_required("session", "token", within = "5 minutes")]`, or the
//! [`Fresh`](crate::extract::Fresh) extractor for `SECURITY_FRESHNESS`. A session is as fresh as
//! the last time a credential was checked for it (a password login, a mailed link, the
//! password given again at `SECURITY_VERIFY_URL`; a remember-me cookie is not one); an
//! authentication token is as fresh as its issue time (unless
//! `SECURITY_FRESHNESS_ALLOW_AUTH_TOKEN = false`: then never); HTTP Basic always is. A session
//! that passed a check needs no other for `SECURITY_FRESHNESS_GRACE_PERIOD` (or the handler's
//! `grace`), extended by each check. `SECURITY_FRESHNESS` negative (`-1 minutes`) turns every
//! check off.
//!
//! ```
//! use security::guard::{AuthRequired, Freshness, Method, MethodList};
//!
//! /// What `#[auth_required("session", within = "5 minutes", grace = "0 seconds")]` writes.
//! struct Sensitive;
//! impl MethodList for Sensitive {
//!     const METHODS: &'static [Method] = &[Method::Session];
//!     const FRESHNESS: Option<Freshness> = Some(Freshness::within_seconds(300).grace_seconds(0));
//! }
//!
//! async fn delete_account(_: AuthRequired<Sensitive>) -> &'static str {
//!     "Deleted"
//! }
//! # let _ = axum::Router::<()>::new().route("/delete", axum::routing::post(delete_account));
//! ```

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http::StatusCode;
use http::request::Parts;

use crate::messages::MessageKey;
use crate::redirect::verify_url_with_next;
use crate::store::datastore::UserWithRoles;
use crate::store::model::SecurityUser;
use crate::web::identity::IdentitySlot;
use crate::web::request::wants_json;
use crate::web::response;
use crate::web::runtime::Runtime;

/// An authentication mechanism that `#[auth_required(..)]` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// The session cookie (or the remember-me cookie that restores it).
    Session,
    /// An authentication token in the header, query string or JSON body.
    Token,
    /// HTTP Basic authentication.
    Basic,
    /// An API key sent as `Authorization: Bearer …` (`SECURITY_API_KEYS`); never fresh.
    ApiKey,
}

/// What a guard asks of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// An authenticated session (`login_required`).
    Login,
    /// Every one of the roles (`roles_required`).
    AllRoles(&'static [&'static str]),
    /// At least one of the roles (`roles_accepted`).
    AnyRole(&'static [&'static str]),
    /// A valid authentication token (`auth_token_required`).
    Token,
    /// Valid HTTP Basic credentials (`http_auth_required`); `None` is the configured default
    /// realm.
    Basic(Option<&'static str>),
    /// Any one of the mechanisms, tried in order (`auth_required`), and, when given, an
    /// authentication that recent (`auth_required(.., within = ..)`).
    AnyOf(&'static [Method], Option<Freshness>),
}

impl Requirement {
    /// Whether `id` has the roles a role requirement asks for (every one, or one of them;
    /// an empty `roles_accepted` accepts anyone); `false` for the other requirements.
    fn roles_met<U>(&self, id: &UserWithRoles<U>) -> bool {
        match self {
            Requirement::AllRoles(roles) => roles.iter().all(|r| id.has_role(r)),
            Requirement::AnyRole(roles) => roles.is_empty() || roles.iter().any(|r| id.has_role(r)),
            _ => false,
        }
    }
}

/// How recent the request's authentication must be: Flask-Security 5.9's `within` and `grace`
/// of `auth_required` (see [the module documentation](self#freshness)). Each part is the
/// configured one (`SECURITY_FRESHNESS`, `SECURITY_FRESHNESS_GRACE_PERIOD`) unless given.
///
/// ```
/// use security::guard::Freshness;
///
/// const RECENT: Freshness = Freshness::within_seconds(300).grace_seconds(3600);
/// assert_eq!((RECENT.within(), RECENT.grace()), (Some(300), Some(3600)));
/// assert_eq!(Freshness::CONFIGURED.within(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Freshness {
    within: Option<u64>,
    grace: Option<u64>,
}

impl Freshness {
    /// `SECURITY_FRESHNESS` and `SECURITY_FRESHNESS_GRACE_PERIOD`, what
    /// [`Fresh`](crate::extract::Fresh) asks for.
    pub const CONFIGURED: Freshness = Freshness {
        within: None,
        grace: None,
    };

    /// A credential checked within the last `seconds` (0: only a running grace period
    /// passes), with the configured grace period.
    pub const fn within_seconds(seconds: u64) -> Self {
        Freshness {
            within: Some(seconds),
            grace: None,
        }
    }

    /// The same, with a grace period of `seconds` instead of the configured one.
    pub const fn grace_seconds(self, seconds: u64) -> Self {
        Freshness {
            grace: Some(seconds),
            ..self
        }
    }

    /// The window in seconds, if given (`None`: `SECURITY_FRESHNESS`).
    pub const fn within(self) -> Option<u64> {
        self.within
    }

    /// The grace period in seconds, if given (`None`: `SECURITY_FRESHNESS_GRACE_PERIOD`).
    pub const fn grace(self) -> Option<u64> {
        self.grace
    }

    /// `(within, grace)` in seconds under `config`; `None` when freshness is off
    /// (`SECURITY_FRESHNESS` negative): every check passes.
    fn window(self, config: &crate::config::Config) -> Option<(i64, i64)> {
        let configured = config.freshness.as_ref()?;
        let seconds = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
        Some((
            seconds(self.within.unwrap_or(configured.seconds())),
            seconds(
                self.grace
                    .unwrap_or(config.freshness_grace_period.seconds()),
            ),
        ))
    }
}

/// How the request's user was authenticated, recorded by the guard that pinned the user (a
/// request without one was authenticated by its session): what a freshness check measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Authentication {
    /// The session (or the remember-me cookie that restored it).
    Session,
    /// An authentication token (its issue time counts as the authentication time, unless
    /// `SECURITY_FRESHNESS_ALLOW_AUTH_TOKEN = false`; read only by a freshness check).
    Token,
    /// HTTP Basic: a credential checked on every request.
    Basic,
    /// An API key: never fresh (it is a standing credential, not a recent authentication).
    ApiKey,
}

impl Authentication {
    /// How a user found by `method` was authenticated.
    fn of(method: Method) -> Self {
        match method {
            Method::Session => Authentication::Session,
            Method::Token => Authentication::Token,
            Method::Basic => Authentication::Basic,
            Method::ApiKey => Authentication::ApiKey,
        }
    }
}

/// Flask-Security 5.9's `check_and_update_authn_fresh` for a session or a token, in unix
/// seconds: without a recorded authentication, stale; within a running grace period
/// (`grace_until`), fresh; otherwise fresh when `within > now - authenticated_at > -within`
/// (a time a little ahead is clock drift). When fresh, the grace expiry to record
/// (`now + grace`); `None` when stale.
fn fresh_until(
    now: i64,
    (within, grace): (i64, i64),
    authenticated_at: Option<i64>,
    grace_until: Option<i64>,
) -> Option<i64> {
    let authenticated_at = authenticated_at?;
    let until = now.saturating_add(grace);
    if grace_until.is_some_and(|expiry| now < expiry) {
        return Some(until);
    }
    let age = now.saturating_sub(authenticated_at);
    (within > age && age > within.saturating_neg()).then_some(until)
}

/// The runtime side of the guards, installed in the request by `security.layer()`.
pub(crate) trait Authenticator: Send + Sync + 'static {
    /// Whether the requirement is met by what is known without waiting (the identity cache,
    /// or what an earlier guard of the request found). `false` is no refusal: [`check`] then
    /// decides, and answers.
    ///
    /// [`check`]: Authenticator::check
    fn passes_cached(
        &self,
        scope: &crate::web::scope::RequestScope,
        parts: &Parts,
        requirement: Requirement,
    ) -> bool;

    /// Checks the requirement; on failure, why.
    fn check<'a>(
        &'a self,
        parts: &'a mut Parts,
        requirement: Requirement,
    ) -> BoxFuture<'a, Result<(), Rejection>>;
}

/// The handle that `security.layer()` puts in every request's extensions.
#[derive(Clone)]
pub(crate) struct AuthHandle(pub(crate) Arc<dyn Authenticator>);

/// Why a guard, [`CurrentUser`](crate::CurrentUser) or another of this crate's extractors
/// refused a request. Its [`IntoResponse`] answers as Flask-Security does (in JSON for a JSON
/// request); an app that wants another answer matches on it:
///
/// ```
/// use axum::response::{IntoResponse, Redirect, Response};
/// use security::guard::Rejection;
///
/// fn my_answer(rejection: Rejection) -> Response {
///     match rejection {
///         Rejection::Unauthenticated { login_url, .. } => {
///             Redirect::to(&format!("/welcome?then={login_url}")).into_response()
///         }
///         other => other.into_response(),
///     }
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// Nobody is authenticated (`login_required`): a redirect to `login_url` (the login view
    /// with `next`), after the `LOGIN` flash.
    Unauthenticated {
        /// The login view with the request's path as `next`.
        login_url: String,
        /// The answer Flask-Security gives.
        answer: Answer,
    },
    /// Authenticated, without the roles asked for: the `UNAUTHORIZED` flash and a redirect to
    /// `SECURITY_UNAUTHORIZED_VIEW`, or 403.
    Forbidden {
        /// The answer Flask-Security gives.
        answer: Answer,
    },
    /// No valid token or Basic credentials: 401, with a `WWW-Authenticate: Basic` challenge
    /// naming `realm` when Basic authentication was acceptable.
    Unauthorized {
        /// The realm of the challenge, if one is sent.
        realm: Option<String>,
        /// The answer Flask-Security gives.
        answer: Answer,
    },
    /// Authenticated, but not recently enough (Flask-Security 5.9's freshness; see
    /// [`Freshness`]): the `REAUTHENTICATION_REQUIRED` flash and a redirect to `verify_url`;
    /// in JSON 401 with `reauth_required: true`.
    Stale {
        /// The verify view with the request's path and query as `next`.
        verify_url: String,
        /// The answer Flask-Security 5.9 gives.
        answer: Answer,
    },
    /// An `OPTIONS` request to a guarded handler, answered as Flask answers it (200, an
    /// `Allow` header), without running the handler or asking for credentials. Turned off by
    /// `SECURITY_AUTOMATIC_OPTIONS = false`: then `OPTIONS` is guarded as any other method.
    Options {
        /// The answer Flask gives.
        answer: Answer,
    },
    /// The extractor found no `security.layer()` state (for the user model `user_type`, when
    /// the extractor names one).
    MissingLayer {
        /// The user model the extractor asked for.
        user_type: Option<&'static str>,
    },
    /// HTTP Basic credentials on an account or from a client over a `login_failed` rate
    /// limit: 429 with `Retry-After`.
    TooManyRequests {
        /// Seconds until the client may try again.
        retry_after: u64,
        /// The answer (in the client's format).
        answer: Answer,
    },
    /// The database failed while authenticating (logged): 500.
    Internal {
        /// The answer (a 500 in the client's format).
        answer: Answer,
    },
}

/// The ready answer a [`Rejection`] carries (boxed: a rejection travels in a `Result`).
#[derive(Debug)]
pub struct Answer(pub(crate) Box<Response>);

impl Answer {
    pub(crate) fn new(response: Response) -> Self {
        Answer(Box::new(response))
    }
}

impl Rejection {
    /// The answer for an extractor that found no state of the layer for the user model `U`.
    pub fn missing_layer<U>() -> Self {
        Rejection::MissingLayer {
            user_type: Some(std::any::type_name::<U>()),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::Unauthenticated { answer, .. }
            | Rejection::Forbidden { answer }
            | Rejection::Unauthorized { answer, .. }
            | Rejection::Stale { answer, .. }
            | Rejection::Options { answer }
            | Rejection::TooManyRequests { answer, .. }
            | Rejection::Internal { answer } => *answer.0,
            Rejection::MissingLayer { user_type } => {
                let text = match user_type {
                    Some(user_type) => format!(
                        "the security layer for the user model `{user_type}` is not on this \
                         route: either `.layer(security.layer())` is missing from the router, \
                         or `Security` was built for another user model than `{user_type}`"
                    ),
                    None => "the security layer is not on this route: is \
                             `.layer(security.layer())` missing from the router?"
                        .to_owned(),
                };
                tracing::error!("{text}");
                (StatusCode::INTERNAL_SERVER_ERROR, text).into_response()
            }
        }
    }
}

async fn check(parts: &mut Parts, requirement: Requirement) -> Result<(), Rejection> {
    let scope = crate::web::scope::RequestScope::of(parts)
        .ok_or(Rejection::MissingLayer { user_type: None })?;
    if scope.auth.0.passes_cached(scope, parts, requirement) {
        return Ok(());
    }
    let handle = scope.auth.clone();
    handle.0.check(parts, requirement).await
}

/// A list of role names, for [`RolesRequired`] and [`RolesAccepted`]. The guard attributes
/// generate one per handler.
pub trait RoleList: Send + Sync + 'static {
    /// The role names, compared exactly (case-sensitive).
    const ROLES: &'static [&'static str];
}

/// A realm for [`HttpAuthRequired`]; `None` means `SECURITY_DEFAULT_HTTP_AUTH_REALM`.
pub trait Realm: Send + Sync + 'static {
    /// The realm sent in the `WWW-Authenticate` challenge.
    const REALM: Option<&'static str>;
}

/// The configured default realm (`SECURITY_DEFAULT_HTTP_AUTH_REALM`).
#[derive(Debug)]
pub struct DefaultRealm;

impl Realm for DefaultRealm {
    const REALM: Option<&'static str> = None;
}

/// What [`AuthRequired`] asks for (the arguments of `#[auth_required(..)]`): the mechanisms
/// it accepts, in the order they are tried, and how recent the authentication must be.
pub trait MethodList: Send + Sync + 'static {
    /// The mechanisms.
    const METHODS: &'static [Method];
    /// How recent the authentication must be (`within` and `grace`); `None`, the default,
    /// checks no freshness.
    const FRESHNESS: Option<Freshness> = None;
}

macro_rules! guard {
    ($(#[$doc:meta])* $name:ident $(<$param:ident : $bound:ident>)?, $req:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name$(<$param: $bound>)?(PhantomData<fn() -> ($($param,)?)>);

        impl<S: Send + Sync $(, $param: $bound)?> FromRequestParts<S> for $name$(<$param>)? {
            type Rejection = crate::web::guard::Rejection;

            fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
                async move { check(parts, $req).await.map(|()| $name(PhantomData)) }
            }
        }
    };
}

guard!(
    /// An authenticated session is required (`#[login_required]`).
    LoginRequired,
    Requirement::Login
);
guard!(
    /// Every role of `R` is required (`#[roles_required(..)]`).
    RolesRequired<R: RoleList>,
    Requirement::AllRoles(R::ROLES)
);
guard!(
    /// One role of `R` is required (`#[roles_accepted(..)]`).
    RolesAccepted<R: RoleList>,
    Requirement::AnyRole(R::ROLES)
);
guard!(
    /// A valid authentication token is required (`#[auth_token_required]`).
    AuthTokenRequired,
    Requirement::Token
);
guard!(
    /// Valid HTTP Basic credentials are required (`#[http_auth_required]`).
    HttpAuthRequired<R: Realm>,
    Requirement::Basic(R::REALM)
);
guard!(
    /// One of the mechanisms of `M` is required, as recent as `M` says
    /// (`#[auth_required(..)]`).
    AuthRequired<M: MethodList>,
    Requirement::AnyOf(M::METHODS, M::FRESHNESS)
);

impl<U: SecurityUser> Runtime<U> {
    /// `login_required`'s refusal: the LOGIN flash and a redirect to the login page with
    /// `next`.
    pub(crate) fn unauthenticated(&self, parts: &Parts) -> Rejection {
        let config = self.config();
        if config.flash_messages
            && let Some(session) = crate::web::scope::session(parts)
        {
            let msg = config.messages.get(MessageKey::Login);
            session.flash(msg.category.clone(), msg.text.clone());
        }
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let login_url =
            crate::web::redirect::login_url_with_next(&config.login_path(), path_and_query);
        Rejection::Unauthenticated {
            answer: Answer::new(response::redirect(&login_url)),
            login_url,
        }
    }

    /// [`Runtime::unauthenticated`]'s answer.
    pub(crate) fn login_redirect(&self, parts: &Parts) -> Response {
        self.unauthenticated(parts).into_response()
    }

    fn forbidden(&self, parts: &Parts) -> Rejection {
        let config = self.config();
        let msg = config.messages.get(MessageKey::Unauthorized);
        let answer = match &config.unauthorized_view {
            Some(view) => {
                if config.flash_messages
                    && let Some(session) = crate::web::scope::session(parts)
                {
                    session.flash(msg.category.clone(), msg.text.clone());
                }
                response::redirect(view)
            }
            None => {
                response::forbidden(&msg.text, wants_json(parts), config.json_http_status_codes)
            }
        };
        Rejection::Forbidden {
            answer: Answer::new(answer),
        }
    }

    fn unauthorized(&self, parts: &Parts, realm: Option<&str>) -> Rejection {
        Rejection::Unauthorized {
            answer: Answer::new(response::unauthorized(
                realm,
                wants_json(parts),
                self.config().json_http_status_codes,
            )),
            realm: realm.map(str::to_owned),
        }
    }

    /// A Bearer API key was sent and refused (malformed, unknown, revoked, expired, or its
    /// user may not authenticate): 401 with `API_KEY_INVALID`, in 5.9's JSON error shape or as
    /// text, and a `WWW-Authenticate: Bearer` challenge (RFC 6750's `invalid_token`).
    fn api_key_refused(&self, parts: &Parts, realm: Option<&str>) -> Rejection {
        let message = self
            .config()
            .messages
            .format(MessageKey::ApiKeyInvalid, &[]);
        let mut answer = if wants_json(parts) {
            response::json_error(
                StatusCode::UNAUTHORIZED,
                response::error_payload(std::slice::from_ref(&message), &Default::default()),
            )
        } else {
            (StatusCode::UNAUTHORIZED, message).into_response()
        };
        answer.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        Rejection::Unauthorized {
            answer: Answer::new(answer),
            realm: realm.map(str::to_owned),
        }
    }

    fn too_many(&self, parts: &Parts, retry_after: u64) -> Rejection {
        let within = crate::messages::duration_text(retry_after);
        let message = self
            .config()
            .messages
            .format(MessageKey::TooManyRequests, &[("within", &within)]);
        let answer = if wants_json(parts) {
            response::too_many_json(&message, retry_after)
        } else {
            let mut answer = (StatusCode::TOO_MANY_REQUESTS, message).into_response();
            answer
                .headers_mut()
                .insert(http::header::RETRY_AFTER, retry_after.into());
            answer
        };
        Rejection::TooManyRequests {
            retry_after,
            answer: Answer::new(answer),
        }
    }

    pub(crate) fn internal(&self, parts: &Parts, err: &dyn std::error::Error) -> Rejection {
        tracing::error!(error = %err, "security: authentication failed on an internal error");
        Rejection::Internal {
            answer: Answer::new(response::bad_request(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
                wants_json(parts),
                true,
            )),
        }
    }

    /// 5.9's answer to an authentication that is not fresh enough
    /// (`default_reauthn_handler`): JSON, 401 with `reauth_required`; otherwise the
    /// `REAUTHENTICATION_REQUIRED` flash and a redirect to the verify view with `next`.
    fn stale(&self, parts: &Parts) -> Rejection {
        let config = self.config();
        let msg = config.messages.get(MessageKey::ReauthenticationRequired);
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let verify_url = verify_url_with_next(&config.verify_path(), path_and_query);
        let answer = if wants_json(parts) {
            let mut payload =
                response::error_payload(std::slice::from_ref(&msg.text), &Default::default());
            for (key, value) in [
                ("reauth_required", serde_json::Value::Bool(true)),
                ("has_webauthn_verify_credential", false.into()),
                ("unified_signin_enabled", false.into()),
                ("oauth_enabled", false.into()),
                ("oauth_providers", serde_json::Value::Array(Vec::new())),
            ] {
                payload.insert(key.to_owned(), value);
            }
            response::json_error(StatusCode::UNAUTHORIZED, payload)
        } else {
            if config.flash_messages
                && let Some(session) = crate::web::scope::session(parts)
            {
                session.flash(msg.category.clone(), msg.text.clone());
            }
            response::redirect(&verify_url)
        };
        Rejection::Stale {
            verify_url,
            answer: Answer::new(answer),
        }
    }

    /// The freshness check of an authenticated request (5.9's `check_and_update_authn_fresh`,
    /// see [`fresh_until`]): measured on how the pinned user was authenticated; a session that
    /// passes opens or extends its grace period (a token gets none, as 5.9 documents).
    pub(crate) fn check_fresh(&self, parts: &Parts, freshness: Freshness) -> Result<(), Rejection> {
        let Some(window) = freshness.window(self.config()) else {
            return Ok(());
        };
        let how = IdentitySlot::<U>::of(parts)
            .and_then(IdentitySlot::authentication)
            .unwrap_or(Authentication::Session);
        let now = self.now();
        let fresh = match how {
            Authentication::Basic => true,
            Authentication::ApiKey => false,
            Authentication::Token => {
                let issued_at = self
                    .config()
                    .freshness_allow_auth_token
                    .then(|| self.request_token(parts))
                    .flatten()
                    .and_then(|token| self.token_issued_at(&token));
                fresh_until(now, window, issued_at, None).is_some()
            }
            Authentication::Session => match crate::web::scope::session(parts) {
                Some(session) => {
                    let (authenticated_at, grace_until) = session.freshness_marks();
                    match fresh_until(now, window, authenticated_at, grace_until) {
                        Some(until) => {
                            session.set_grace_until(until);
                            true
                        }
                        None => false,
                    }
                }
                None => false,
            },
        };
        if fresh {
            Ok(())
        } else {
            Err(self.stale(parts))
        }
    }

    /// The identity one mechanism gives the request, pinned; the first mechanism that pins
    /// records how (for the freshness check).
    async fn authenticate(
        &self,
        parts: &mut Parts,
        mechanism: Method,
    ) -> Result<Option<Arc<UserWithRoles<U>>>, Rejection> {
        let found = match mechanism {
            Method::Session => self
                .session_identity(parts)
                .await
                .map_err(crate::Error::from),
            Method::Token => self.token_identity(parts).await.map_err(crate::Error::from),
            // Boxed: a password check's state (hashing, the brute-force counters) would
            // otherwise be part of every guard's future, copied into its box per request.
            Method::Basic => Box::pin(self.basic_identity(parts)).await,
            // Boxed as Basic: a key's query and its last-use write stay out of other guards' futures.
            Method::ApiKey => Box::pin(self.api_key_identity(parts))
                .await
                .map_err(crate::Error::from),
        }
        .map_err(|e| match e {
            crate::Error::Throttled { retry_after } => self.too_many(parts, retry_after),
            e => self.internal(parts, &e),
        })?;
        let Some(found) = found.and_then(|found| self.pin(parts, found)) else {
            return Ok(None);
        };
        if let Some(slot) = IdentitySlot::<U>::of(parts) {
            slot.record_authentication(|| Authentication::of(mechanism));
        }
        Ok(Some(found))
    }

    /// What a guard decides.
    async fn check_requirement(
        &self,
        parts: &mut Parts,
        requirement: Requirement,
    ) -> Result<(), Rejection> {
        if parts.method == http::Method::OPTIONS && self.config().automatic_options {
            // Flask answers OPTIONS itself, without the view or its guards: a guarded handler
            // never runs for a request nobody authenticated.
            return Err(Rejection::Options {
                answer: Answer::new(response::automatic_options()),
            });
        }
        let config = &self.config();
        match requirement {
            Requirement::Login => {
                if config.login_disabled {
                    return Ok(());
                }
                match self.authenticate(parts, Method::Session).await? {
                    Some(_) => Ok(()),
                    None => Err(self.unauthenticated(parts)),
                }
            }
            Requirement::AllRoles(_) | Requirement::AnyRole(_) => {
                let identity = self
                    .request_identity(parts)
                    .await
                    .map_err(|e| self.internal(parts, &e))?;
                if identity.is_some_and(|id| requirement.roles_met(&id)) {
                    Ok(())
                } else {
                    Err(self.forbidden(parts))
                }
            }
            Requirement::Token => match self.authenticate(parts, Method::Token).await? {
                Some(_) => Ok(()),
                None => Err(self.unauthorized(parts, None)),
            },
            Requirement::Basic(realm) => match self.authenticate(parts, Method::Basic).await? {
                Some(_) => Ok(()),
                None => {
                    let realm = realm.unwrap_or(&config.default_http_auth_realm);
                    Err(self.unauthorized(parts, Some(realm)))
                }
            },
            Requirement::AnyOf(methods, freshness) => {
                for method in methods {
                    if self.authenticate(parts, *method).await?.is_some() {
                        return match freshness {
                            Some(freshness) => self.check_fresh(parts, freshness),
                            None => Ok(()),
                        };
                    }
                }
                let realm = methods
                    .contains(&Method::Basic)
                    .then_some(config.default_http_auth_realm.as_str());
                if methods.contains(&Method::ApiKey)
                    && config.api_keys
                    && crate::web::api_keys::bearer(parts).is_some()
                {
                    return Err(self.api_key_refused(parts, realm));
                }
                Err(self.unauthorized(parts, realm))
            }
        }
    }
}

impl<U: SecurityUser> Authenticator for Runtime<U> {
    fn passes_cached(
        &self,
        scope: &crate::web::scope::RequestScope,
        parts: &Parts,
        requirement: Requirement,
    ) -> bool {
        // Only what `check_requirement` would pass with the same user pinned, the same way:
        // a refusal, an OPTIONS request, a freshness check and the mechanisms that verify a
        // password or query a key are always left to it.
        if parts.method == http::Method::OPTIONS {
            return false;
        }
        let Some(user) = crate::web::scope::UserScope::<U>::downcast(scope) else {
            return false;
        };
        let slot = &user.identity;
        let first = |method: Method| {
            let found = match method {
                Method::Session => self.session_identity_cached(&scope.session, slot),
                Method::Token => self.token_identity_cached(parts),
                Method::Basic | Method::ApiKey => None,
            };
            let pinned = found.and_then(|found| slot.pin(found)).is_some();
            if pinned {
                slot.record_authentication(|| Authentication::of(method));
            }
            pinned
        };
        match requirement {
            Requirement::Login => self.config().login_disabled || first(Method::Session),
            Requirement::AllRoles(_) | Requirement::AnyRole(_) => {
                let identity = match slot.pinned() {
                    Some(pinned) => Some(Arc::clone(pinned)),
                    None => self
                        .session_identity_cached(&scope.session, slot)
                        .and_then(|found| slot.pin(found)),
                };
                identity.is_some_and(|id| requirement.roles_met(&id))
            }
            Requirement::Token => first(Method::Token),
            // The first mechanism only: a later one is tried only when the first has nobody,
            // which only `check` knows.
            Requirement::AnyOf(methods, None) => methods.first().is_some_and(|m| first(*m)),
            Requirement::AnyOf(_, Some(_)) | Requirement::Basic(_) => false,
        }
    }

    fn check<'a>(
        &'a self,
        parts: &'a mut Parts,
        requirement: Requirement,
    ) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(self.check_requirement(parts, requirement))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5.9's own cases (`test_authn_freshness*`), in seconds: within, grace.
    const W: (i64, i64) = (60, 600);

    #[test]
    fn fresh_within_the_window_either_way_of_now() {
        assert_eq!(fresh_until(1_000, W, Some(1_000), None), Some(1_600));
        assert_eq!(fresh_until(1_000, W, Some(941), None), Some(1_600));
        assert_eq!(fresh_until(1_000, W, Some(940), None), None, "60 s old");
        // A little ahead (clock drift) passes; far ahead does not.
        assert_eq!(fresh_until(1_000, W, Some(1_059), None), Some(1_600));
        assert_eq!(fresh_until(1_000, W, Some(1_060), None), None);
    }

    #[test]
    fn without_an_authentication_time_even_a_grace_period_is_stale() {
        assert_eq!(fresh_until(1_000, W, None, None), None);
        assert_eq!(fresh_until(1_000, W, None, Some(5_000)), None);
    }

    #[test]
    fn a_running_grace_period_passes_and_is_extended() {
        // Long stale, but within the grace period a check opened.
        assert_eq!(fresh_until(1_000, W, Some(1), Some(1_001)), Some(1_600));
        assert_eq!(fresh_until(1_000, W, Some(1), Some(1_000)), None, "ended");
        // `within` 0: only a grace period passes.
        assert_eq!(fresh_until(1_000, (0, 600), Some(1_000), None), None);
        assert_eq!(
            fresh_until(1_000, (0, 600), Some(1_000), Some(1_200)),
            Some(1_600)
        );
    }

    #[test]
    fn freshness_windows_fall_back_to_the_configuration() {
        let mut config = crate::config::Config::default();
        assert_eq!(Freshness::CONFIGURED.window(&config), Some((86_400, 3_600)));
        assert_eq!(
            Freshness::within_seconds(300).window(&config),
            Some((300, 3_600))
        );
        assert_eq!(
            Freshness::within_seconds(300)
                .grace_seconds(0)
                .window(&config),
            Some((300, 0))
        );
        config.freshness = None;
        assert_eq!(Freshness::within_seconds(300).window(&config), None, "off");
    }
}

#[cfg(test)]
mod cached_tests {
    use super::*;
    use crate::entities::user::Model as User;
    use crate::testing::SignIn as _;
    use crate::web::scope::RequestScope;
    use axum::body::Body;
    use tower::ServiceExt as _;

    /// What `passes_cached` answers in the handler for Login, the role `admin`, the role
    /// `nobody`, and Token, in that order.
    async fn probe(parts: Parts) -> String {
        let scope = RequestScope::of(&parts).expect("the layer");
        [
            Requirement::Login,
            Requirement::AllRoles(&["admin"]),
            Requirement::AllRoles(&["nobody"]),
            Requirement::Token,
        ]
        .map(|r| scope.auth.0.passes_cached(scope, &parts, r).to_string())
        .join(",")
    }

    /// With the identity cache warm, the session and token guards pass on the spot (no
    /// future); a cold cache, a refusal and an OPTIONS request are left to `check`.
    #[tokio::test]
    async fn a_warm_cache_passes_on_the_spot() {
        let mut options = sea_orm::ConnectOptions::new("sqlite::memory:");
        options.max_connections(1).sqlx_logging(false);
        let db = sea_orm::Database::connect(options).await.unwrap();
        crate::schema::create_test_tables(&db).await;
        let config = crate::Config::from_vars([
            ("SECRET_KEY", "a-secret-key-for-the-cached-guard-test"),
            ("SECURITY_IDENTITY_CACHE_TTL", "1 hours"),
        ])
        .unwrap();
        let security = crate::Security::<User>::builder(db, config)
            .build()
            .await
            .unwrap();
        security
            .datastore()
            .create_role("admin", None)
            .await
            .unwrap();
        let user = security
            .datastore()
            .create_user(crate::NewUser::new("a@example.com", Some("password")).role("admin"))
            .await
            .unwrap();
        async fn session(_: LoginRequired) {}
        async fn token(_: AuthTokenRequired) {}
        let router = axum::Router::new()
            .route("/probe", axum::routing::get(probe).options(probe))
            .route("/session", axum::routing::get(session))
            .route("/token", axum::routing::get(token))
            .layer(security.layer());
        // One session, as a browser keeps it (each `sign_in` would start another).
        let cookie = security.session_cookie_for(&user);
        let send = |method: &str, path: &str| {
            let request = http::Request::builder()
                .method(method)
                .uri(path)
                .header(http::header::COOKIE, &cookie)
                .with_token(&security, &user)
                .body(Body::empty())
                .unwrap();
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await.unwrap();
                let status = response.status();
                let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                    .await
                    .unwrap();
                (status, String::from_utf8(body.to_vec()).unwrap())
            }
        };
        let cold = "false,false,false,false";
        assert_eq!(send("GET", "/probe").await.1, cold);
        assert_eq!(send("GET", "/session").await.0, StatusCode::OK);
        assert_eq!(send("GET", "/token").await.0, StatusCode::OK);
        assert_eq!(send("GET", "/probe").await.1, "true,true,false,true");
        assert_eq!(send("OPTIONS", "/probe").await.1, cold);
    }
}
