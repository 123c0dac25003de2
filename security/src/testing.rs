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

use crate::store::model::SecurityUser;
use crate::web::runtime::Security;
use crate::web::session::SessionData;

impl<U: SecurityUser> Security<U> {
    /// A `Cookie` header value holding a logged-in session for `user`, as the login view
    /// would have set it.
    pub fn session_cookie_for(&self, user: &U) -> String {
        let data = SessionData {
            user_id: Some(user.id().to_string()),
            fingerprint: Some(self.fingerprint(user)),
            login_at: Some(self.now()),
            id: Some(crate::crypto::cookie_codec::random_token(16)),
            csrf: Some(crate::web::csrf::Csrf::new_secret()),
            flashes: Vec::new(),
            forget: false,
            remembered_by: None,
        };
        format!(
            "{}={}",
            self.config().session_cookie_name,
            data.encode(&self.inner.session_signer)
        )
    }
}

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
