//! Signed tokens: the itsdangerous format and clock ([`serializer`]), the serializers of each
//! purpose ([`Tokens`]), mailed links and when they are valid ([`links`]), and what
//! Flask-Security 1.7.4's tokens carried ([`legacy`]).

pub(crate) mod change_email;
pub(crate) mod legacy;
pub(crate) mod links;
pub mod serializer;

use crate::crypto::cookie_codec::Signer;
use serializer::Serializer;

/// The token serializers, one per purpose (each with its own salt): a token made for one
/// purpose is invalid for every other.
pub(crate) struct Tokens {
    /// Authentication tokens and remember-me cookies (`SECURITY_REMEMBER_SALT`).
    pub remember: Serializer,
    /// Confirmation links (`SECURITY_CONFIRM_SALT`).
    pub confirm: Serializer,
    /// Reset links (`SECURITY_RESET_SALT`).
    pub reset: Serializer,
    /// Passwordless login links (`SECURITY_LOGIN_SALT`).
    pub login: Serializer,
    /// Unlock links (`SECURITY_UNLOCK_SALT`).
    pub unlock: Serializer,
    /// The account key: links' bindings, used links' digests, the account fingerprint that
    /// sessions and tokens are bound to, and the revocation keys.
    pub binder: Signer,
}
