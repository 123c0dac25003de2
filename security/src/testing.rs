//! Test helpers for apps that use `security`: sign a user in for a request in one line
//! (Devise's `sign_in`).
//!
//! ```no_run
//! # async fn example(
//! #     security: security::Security<security::doc_support::User>,
//! #     user: security::doc_support::User,
//! # ) {
//! use security::testing::SignIn;
//!
//! let request = http::Request::get("/profile")
//!     .sign_in(&security, &user)          // a session cookie for `user`
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! let api = http::Request::get("/api/things")
//!     .with_token(&security, &user)       // the `Authentication-Token` header
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! # let _ = (request, api);
//! # }
//! ```

use http::request::Builder;

use crate::handle::Security;
use crate::store::model::SecurityUser;

/// Adds credentials for a user to a request being built.
pub trait SignIn {
    /// Adds a session cookie that logs `user` in.
    fn sign_in<U: SecurityUser>(self, security: &Security<U>, user: &U) -> Self;
    /// Adds `user`'s authentication token in the configured header.
    fn with_token<U: SecurityUser>(self, security: &Security<U>, user: &U) -> Self;
}

impl SignIn for Builder {
    fn sign_in<U: SecurityUser>(self, security: &Security<U>, user: &U) -> Self {
        self.header(http::header::COOKIE, security.session_cookie_for(user))
    }

    fn with_token<U: SecurityUser>(self, security: &Security<U>, user: &U) -> Self {
        self.header(
            security.config().token_authentication_header.as_str(),
            security.auth_token(user),
        )
    }
}
