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
//! The behaviour on failure is Flask-Security's (spec §10): a redirect to the login view with
//! `next` for `login_required`, the `UNAUTHORIZED` flash and a redirect (or 403) for the role
//! guards, 401 with a `WWW-Authenticate: Basic` challenge for Basic auth, 401 for token auth.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http::StatusCode;
use http::request::Parts;

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
    /// Checks the requirement; on failure, the response to send instead of the handler's.
    fn check<'a>(
        &'a self,
        parts: &'a mut Parts,
        requirement: Requirement,
    ) -> BoxFuture<'a, Result<(), Response>>;
}

/// The handle that `security.layer()` puts in every request's extensions.
#[derive(Clone)]
pub(crate) struct AuthHandle(pub(crate) Arc<dyn Authenticator>);

/// The answer of a guard that found no `security.layer()` in front of the handler.
#[derive(Debug)]
pub struct MissingLayer;

impl IntoResponse for MissingLayer {
    fn into_response(self) -> Response {
        tracing::error!(
            "a security guard ran without the security layer; is `.layer(security.layer())` missing?"
        );
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "security guard without the security layer: is `.layer(security.layer())` missing?",
        )
            .into_response()
    }
}

async fn check(parts: &mut Parts, requirement: Requirement) -> Result<(), Response> {
    let handle = parts
        .extensions
        .get::<AuthHandle>()
        .cloned()
        .ok_or_else(|| MissingLayer.into_response())?;
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
            type Rejection = Response;

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
