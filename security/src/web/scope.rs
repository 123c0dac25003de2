//! What `security.layer()` gives every request, as two request extensions: one for what does
//! not depend on the user model (the session, the guards' runtime, the CSRF key, the body
//! limit) and one for what does (the runtime, the identity slot). Each extension costs an
//! allocation and a map insert per request, so the parts travel together rather than one
//! extension each.

use http::request::Parts;

use crate::store::model::SecurityUser;
use crate::web::csrf::CsrfKey;
use crate::web::guard::AuthHandle;
use crate::web::identity::IdentitySlot;
use crate::web::runtime::Runtime;
use crate::web::session::Session;

/// The part of the request's security state that does not depend on the user model.
#[derive(Clone)]
pub(crate) struct RequestScope {
    /// The request's session.
    pub(crate) session: Session,
    /// The guards' runtime.
    pub(crate) auth: AuthHandle,
    /// The CSRF key.
    pub(crate) csrf: CsrfKey,
    /// `SECURITY_MAX_BODY_SIZE`.
    pub(crate) body_limit: usize,
}

impl RequestScope {
    /// The scope the layer put in the request; `None` without the layer.
    pub(crate) fn of(parts: &Parts) -> Option<&RequestScope> {
        parts.extensions.get::<RequestScope>()
    }
}

/// The request's session; `None` without the layer.
pub(crate) fn session(parts: &Parts) -> Option<&Session> {
    RequestScope::of(parts).map(|scope| &scope.session)
}

/// The part of the request's security state for the user model `U`.
pub(crate) struct UserScope<U: SecurityUser> {
    /// The runtime.
    pub(crate) runtime: Runtime<U>,
    /// The identity the session gives the request, resolved once.
    pub(crate) identity: IdentitySlot<U>,
}

impl<U: SecurityUser> Clone for UserScope<U> {
    fn clone(&self) -> Self {
        UserScope {
            runtime: self.runtime.clone(),
            identity: self.identity.clone(),
        }
    }
}

impl<U: SecurityUser> UserScope<U> {
    /// The scope the layer put in the request; `None` without the layer, or when it was built
    /// for another user model.
    pub(crate) fn of(parts: &Parts) -> Option<&UserScope<U>> {
        parts.extensions.get::<UserScope<U>>()
    }
}
