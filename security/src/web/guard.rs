//! The guard extractors behind `#[login_required]`, `#[roles_required(..)]`,
//! `#[roles_accepted(..)]`, `#[auth_token_required]`, `#[http_auth_required]` and
//! `#[auth_required(..)]` (Flask-Security's `decorators.py`).
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
//! What a guard decides is in `Runtime::check_requirement` (`web/identity.rs`); the answer on
//! failure is a [`Rejection`], Flask-Security's: a redirect to the login view with `next` for
//! `login_required`, the `UNAUTHORIZED` flash and a redirect (or 403) for the role guards, 401
//! with a `WWW-Authenticate: Basic` challenge for Basic auth, 401 for token auth.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http::StatusCode;
use http::request::Parts;

use crate::messages::MessageKey;
use crate::store::datastore::UserWithRoles;
use crate::store::model::SecurityUser;
use crate::web::request::wants_json;
use crate::web::response;
use crate::web::runtime::Runtime;
use crate::web::session::Session;

/// An authentication mechanism that `#[auth_required(..)]` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// The session cookie (or the remember-me cookie that restores it).
    Session,
    /// An authentication token in the header, query string or JSON body.
    Token,
    /// HTTP Basic authentication.
    Basic,
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
    /// Any one of the mechanisms, tried in order (`auth_required`).
    AnyOf(&'static [Method]),
}

/// The runtime side of the guards, installed in the request by `security.layer()`.
pub(crate) trait Authenticator: Send + Sync + 'static {
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
    let handle = parts
        .extensions
        .get::<AuthHandle>()
        .cloned()
        .ok_or(Rejection::MissingLayer { user_type: None })?;
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

/// The mechanisms [`AuthRequired`] accepts, in the order they are tried.
pub trait MethodList: Send + Sync + 'static {
    /// The mechanisms.
    const METHODS: &'static [Method];
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
    /// One of the mechanisms of `M` is required (`#[auth_required(..)]`).
    AuthRequired<M: MethodList>,
    Requirement::AnyOf(M::METHODS)
);

impl<U: SecurityUser> Runtime<U> {
    /// `login_required`'s refusal: the LOGIN flash and a redirect to the login page with
    /// `next`.
    pub(crate) fn unauthenticated(&self, parts: &Parts) -> Rejection {
        let config = self.config();
        if config.flash_messages
            && let Some(session) = parts.extensions.get::<Session>()
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
                    && let Some(session) = parts.extensions.get::<Session>()
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

    /// The identity one mechanism gives the request, pinned.
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
            Method::Basic => self.basic_identity(parts).await,
        }
        .map_err(|e| match e {
            crate::Error::Throttled { retry_after } => self.too_many(parts, retry_after),
            e => self.internal(parts, &e),
        })?;
        Ok(found.and_then(|found| self.pin(parts, found)))
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
            Requirement::AllRoles(roles) | Requirement::AnyRole(roles) => {
                let identity = self
                    .request_identity(parts)
                    .await
                    .map_err(|e| self.internal(parts, &e))?;
                let allowed = identity.is_some_and(|id| match requirement {
                    Requirement::AllRoles(_) => roles.iter().all(|r| id.has_role(r)),
                    _ => roles.is_empty() || roles.iter().any(|r| id.has_role(r)),
                });
                if allowed {
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
            Requirement::AnyOf(methods) => {
                for method in methods {
                    if self.authenticate(parts, *method).await?.is_some() {
                        return Ok(());
                    }
                }
                let realm = methods
                    .contains(&Method::Basic)
                    .then_some(config.default_http_auth_realm.as_str());
                Err(self.unauthorized(parts, realm))
            }
        }
    }
}

impl<U: SecurityUser> Authenticator for Runtime<U> {
    fn check<'a>(
        &'a self,
        parts: &'a mut Parts,
        requirement: Requirement,
    ) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(self.check_requirement(parts, requirement))
    }
}
