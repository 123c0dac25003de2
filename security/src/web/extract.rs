//! Extractors for the app's handlers: the current user (Flask-Login's `current_user`; as an
//! `Option`, the user if any), the session's flash messages and the CSRF token. Each refuses
//! with a [`Rejection`].

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use crate::store::datastore::UserWithRoles;
use crate::store::model::SecurityUser;
use crate::web::guard::Rejection;
use crate::web::runtime::Runtime;
use crate::web::session::{Flash, Session};

fn security<U: SecurityUser>(parts: &Parts) -> Result<Runtime<U>, Rejection> {
    parts
        .extensions
        .get::<Runtime<U>>()
        .cloned()
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

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
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
        let session = parts
            .extensions
            .get::<Session>()
            .ok_or_else(missing_layer)?;
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
        let session = parts
            .extensions
            .get::<Session>()
            .ok_or_else(missing_layer)?;
        let csrf = parts
            .extensions
            .get::<crate::web::csrf::CsrfKey>()
            .ok_or_else(missing_layer)?;
        Ok(CsrfToken(csrf.token_for(session)))
    }
}
