//! What `security.layer()` gives every request, as one request extension: what does not depend
//! on the user model (the session, the guards' runtime, the CSRF key, the body limit), and what
//! does (the runtime, the identity slot) behind a type-erased pointer that the code knowing the
//! model downcasts. Each extension costs an allocation and a map insert per request, so the
//! parts travel together rather than one extension each.

use std::any::Any;
use std::sync::Arc;

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
    /// The [`UserScope`] of the layer's user model.
    pub(crate) user: Arc<dyn Any + Send + Sync>,
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

impl<U: SecurityUser> UserScope<U> {
    /// A new scope (an empty identity slot), ready for [`RequestScope::user`].
    pub(crate) fn new_erased(runtime: Runtime<U>) -> Arc<dyn Any + Send + Sync> {
        Arc::new(UserScope {
            runtime,
            identity: IdentitySlot::default(),
        })
    }

    /// The scope the layer put in the request; `None` without the layer, or when it was built
    /// for another user model.
    pub(crate) fn of(parts: &Parts) -> Option<&UserScope<U>> {
        Self::downcast(RequestScope::of(parts)?)
    }

    /// The part of `scope` for `U`; `None` when the layer was built for another user model.
    pub(crate) fn downcast(scope: &RequestScope) -> Option<&UserScope<U>> {
        scope.user.downcast_ref::<UserScope<U>>()
    }
}
