//! Extractors for the app's handlers: the current user (Flask-Login's `current_user`; as an
//! `Option`, the user if any), the current user when recently authenticated ([`Fresh`],
//! Flask-Security 5.9's freshness), the session's flash messages and the CSRF token. Each
//! refuses with a [`Rejection`].

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use crate::store::datastore::UserWithRoles;
use crate::store::model::SecurityUser;
use crate::web::guard::{Freshness, Rejection};
use crate::web::runtime::Runtime;
use crate::web::session::{Flash, Session};

fn security<U: SecurityUser>(parts: &Parts) -> Result<Runtime<U>, Rejection> {
    crate::web::scope::UserScope::<U>::of(parts)
        .map(|scope| scope.runtime.clone())
        .ok_or_else(Rejection::missing_layer::<U>)
}

fn missing_layer() -> Rejection {
    Rejection::MissingLayer { user_type: None }
}

/// The authenticated user of the request, with its roles. Anonymous requests are refused as
/// `#[login_required]` refuses them (a redirect to the login page with `next`);
/// `Option<CurrentUser<U>>` is the user if any.
///
/// The user comes from a token or Basic guard of the same handler when one ran, otherwise from
/// the session (or remember cookie).
pub struct CurrentUser<U: SecurityUser> {
    identity: Arc<UserWithRoles<U>>,
}

impl<U: SecurityUser> Clone for CurrentUser<U> {
    fn clone(&self) -> Self {
        CurrentUser {
            identity: Arc::clone(&self.identity),
        }
    }
}

impl<U: SecurityUser> std::fmt::Debug for CurrentUser<U> {
    /// The id, address and roles only: never the password hash or uniquifier of the user.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentUser")
            .field("id", &self.identity.user.id())
            .field("email", &self.identity.user.email())
            .field("roles", &self.identity.roles)
            .finish_non_exhaustive()
    }
}

impl<U: SecurityUser> CurrentUser<U> {
    /// The user.
    pub fn user(&self) -> &U {
        &self.identity.user
    }

    /// The names of the user's roles, sorted.
    pub fn roles(&self) -> &[String] {
        &self.identity.roles
    }

    /// Whether the user has the role (exact name).
    pub fn has_role(&self, name: &str) -> bool {
        self.identity.has_role(name)
    }
}

impl<U: SecurityUser> Deref for CurrentUser<U> {
    type Target = U;

    fn deref(&self) -> &U {
        &self.identity.user
    }
}

/// The user a guard of this request authenticated, else the session's: one identity per
/// request, whatever the order of the extractors.
async fn resolve<U: SecurityUser>(
    parts: &mut Parts,
    security: &Runtime<U>,
) -> Result<Option<CurrentUser<U>>, Rejection> {
    match security.request_identity(parts).await {
        Ok(found) => Ok(found.map(|identity| CurrentUser { identity })),
        Err(err) => Err(security.internal(parts, &err)),
    }
}

impl<S: Send + Sync, U: SecurityUser> FromRequestParts<S> for CurrentUser<U> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let security = security::<U>(parts)?;
        match resolve(parts, &security).await? {
            Some(user) => Ok(user),
            None => Err(security.unauthenticated(parts)),
        }
    }
}

impl<S: Send + Sync, U: SecurityUser> OptionalFromRequestParts<S> for CurrentUser<U> {
    type Rejection = Rejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let security = security::<U>(parts)?;
        resolve(parts, &security).await
    }
}

/// The authenticated user, authenticated recently enough: within `SECURITY_FRESHNESS` (with
/// its grace period, `SECURITY_FRESHNESS_GRACE_PERIOD`), Flask-Security 5.9's freshness. For
/// handlers that change something sensitive (the address, a second factor, …).
///
/// Anonymous requests are refused as [`CurrentUser`] refuses them; a stale authentication
/// gets [`Rejection::Stale`]: a redirect to `SECURITY_VERIFY_URL` (where the user gives the
/// password again) with `next`, or 401 with `reauth_required` in JSON. The user is
/// [`CurrentUser`]'s (a token or Basic guard of the same handler, else the session), and so is
/// what is measured: a session by when a credential was last checked for it (never by a
/// remember-me cookie), a token by its issue time, Basic credentials always fresh (see
/// [`crate::guard`]). With `SECURITY_FRESHNESS` negative, every request is fresh.
///
/// ```
/// use security::prelude::*;
/// use security::extract::Fresh;
/// # type User = security::doc_support::User;
///
/// #[auth_required("token", "session")]
/// async fn change_email(user: Fresh<User>) -> String {
///     format!("{} may change the address", user.email)
/// }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::post(change_email));
/// ```
///
/// A handler that sets its own window uses `#[auth_required(.., within = "..")]` instead.
pub struct Fresh<U: SecurityUser>(pub CurrentUser<U>);

impl<U: SecurityUser> Clone for Fresh<U> {
    fn clone(&self) -> Self {
        Fresh(self.0.clone())
    }
}

impl<U: SecurityUser> std::fmt::Debug for Fresh<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Fresh").field(&self.0).finish()
    }
}

impl<U: SecurityUser> Deref for Fresh<U> {
    type Target = CurrentUser<U>;

    fn deref(&self) -> &CurrentUser<U> {
        &self.0
    }
}

impl<S: Send + Sync, U: SecurityUser> FromRequestParts<S> for Fresh<U> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let security = security::<U>(parts)?;
        let Some(user) = resolve(parts, &security).await? else {
            return Err(security.unauthenticated(parts));
        };
        security.check_fresh(parts, Freshness::CONFIGURED)?;
        Ok(Fresh(user))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        crate::web::scope::session(parts)
            .cloned()
            .ok_or_else(missing_layer)
    }
}

/// The pending flash messages, taken from the session (they are shown once), as Flask's
/// `get_flashed_messages(with_categories=True)`.
#[derive(Clone, Debug, Default)]
pub struct Flashes(pub Vec<Flash>);

impl<S: Send + Sync> FromRequestParts<S> for Flashes {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = crate::web::scope::session(parts).ok_or_else(missing_layer)?;
        Ok(Flashes(session.take_flashes()))
    }
}

/// The CSRF token for a form of the app's own (field `csrf_token` or header `X-CSRFToken`).
#[derive(Clone)]
pub struct CsrfToken(pub String);

impl std::fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CsrfToken")
            .field(&crate::crypto::redact::Redacted(Some(&self.0)))
            .finish()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let scope = crate::web::scope::RequestScope::of(parts).ok_or_else(missing_layer)?;
        Ok(CsrfToken(scope.csrf.token_for(&scope.session)))
    }
}
