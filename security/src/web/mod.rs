//! HTTP: the layer every request passes through, sessions, CSRF, request and response helpers,
//! redirects, identities and the guards' decisions, the extractors, and the pages.

pub(crate) mod api_keys;
pub mod csrf;
pub mod extract;
pub mod guard;
pub(crate) mod identity;
pub mod layer;
pub(crate) mod limits;
pub mod redirect;
pub mod request;
pub mod response;
pub(crate) mod revoke;
pub(crate) mod runtime;
pub(crate) mod scope;
pub mod session;
pub mod views;
