//! When a change-email link is valid (Flask-Security 5.9's `change_email` token, bound more
//! tightly).
//!
//! - **Format.** An itsdangerous timed token signed with `SECRET_KEY` and
//!   `SECURITY_CHANGE_EMAIL_SALT`: a token of another purpose is invalid here, and this one
//!   everywhere else.
//! - **Payload.** `[user id, binding, new address]`. The new address is inside the signed
//!   payload, so a link changes the address only to the one it was mailed to (the flaw of
//!   Devise's CVE-2026-32700 was a link not bound to its address).
//! - **Binding.** A keyed digest of the purpose, the user id, the address the account had when
//!   the link was made (exactly as stored), the new address (canonical form), the stored
//!   password hash and the uniquifier. When any of them changes the link is invalid: once the
//!   address changed (by this link or another), a password change, a `reset-access`.
//! - **Lifetime.** `SECURITY_CHANGE_EMAIL_WITHIN` (5.9: 2 hours). An expired link is told apart
//!   from an invalid one, which needs the signature to hold.
//! - **Single use.** By the binding (the old address is gone once it is used) and explicitly,
//!   by its keyed digest in `security_used_token` (an address changed back and forth must not
//!   revive the link).
//! - **At confirmation** the new address must still be free (checked here, and again by the
//!   datastore in the transaction that writes it).

use crate::config::Config;
use crate::crypto::cookie_codec::constant_time_eq;
use crate::store::datastore::{Datastore, DatastoreError, canonical};
use crate::store::model::SecurityUser;
use crate::tokens::serializer::{Serializer, TokenError};

/// The state of a change-email link.
pub(crate) enum ChangeEmailStatus<U> {
    /// Signed, young enough, bound to the account as it is, and its new address is free:
    /// the user and the new address.
    Valid(U, String),
    /// Signed, but older than `SECURITY_CHANGE_EMAIL_WITHIN`.
    Expired,
    /// Tampered, of another purpose, of an account that is gone or changed, or its new
    /// address is taken now.
    Invalid,
}

/// A keyed digest under the account key (`Runtime::keyed_digest`).
pub(crate) type Digest<'a> = &'a (dyn Fn(&[&[u8]]) -> String + Send + Sync);

/// The serializer of change-email links.
fn serializer(config: &Config) -> Serializer {
    Serializer::new(
        config.secret_key.expose(),
        config.change_email_salt.expose(),
    )
}

/// The digest binding a link to the account's state and to both addresses.
fn binding<U: SecurityUser>(digest: Digest<'_>, user: &U, new_email: &str) -> String {
    let id = user.id().to_string();
    let new = canonical(new_email);
    digest(&[
        b"change-email",
        id.as_bytes(),
        user.email().as_bytes(),
        new.as_bytes(),
        user.password().unwrap_or("").as_bytes(),
        user.uniquifier().unwrap_or("").as_bytes(),
    ])
}

/// A new change-email link token, made at `now`, that changes `user`'s address to
/// `new_email`.
pub(crate) fn make<U: SecurityUser>(
    config: &Config,
    digest: Digest<'_>,
    user: &U,
    new_email: &str,
    now: i64,
) -> String {
    let id = user.id().to_string();
    let bound = binding(digest, user, new_email);
    serializer(config).dumps(&[&id, &bound, new_email], now)
}

/// The digest under which a used link is recorded in `security_used_token`.
pub(crate) fn used_digest(digest: Digest<'_>, token: &str) -> String {
    digest(&[b"used-change-email-token", token.as_bytes()])
}

/// Checks a link token at `now`: signature and age, then that its user exists with the state
/// the link was bound to (compared in constant time), then that the new address is free.
///
/// # Errors
/// A database failure.
pub(crate) async fn status<U: SecurityUser>(
    config: &Config,
    digest: Digest<'_>,
    datastore: &Datastore<U>,
    token: &str,
    now: i64,
) -> Result<ChangeEmailStatus<U>, DatastoreError> {
    let within = config.change_email_within.seconds();
    let payload = match serializer(config).loads(token, Some(within), now) {
        Ok(payload) => payload,
        Err(TokenError::Expired { .. }) => return Ok(ChangeEmailStatus::Expired),
        Err(TokenError::Invalid) => return Ok(ChangeEmailStatus::Invalid),
    };
    let [id, bound, new_email] = payload.as_slice() else {
        return Ok(ChangeEmailStatus::Invalid);
    };
    let Ok(id) = id.parse::<U::Id>() else {
        return Ok(ChangeEmailStatus::Invalid);
    };
    let Some(user) = datastore.find_user_by_id(&id).await? else {
        return Ok(ChangeEmailStatus::Invalid);
    };
    if !constant_time_eq(
        binding(digest, &user, new_email).as_bytes(),
        bound.as_bytes(),
    ) {
        return Ok(ChangeEmailStatus::Invalid);
    }
    if datastore.find_user_by_email(new_email).await?.is_some() {
        return Ok(ChangeEmailStatus::Invalid);
    }
    Ok(ChangeEmailStatus::Valid(user, new_email.clone()))
}
