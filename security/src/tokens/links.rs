//! When a mailed link (reset, confirm, passwordless login, unlock) is valid, in one place.
//!
//! - **Format.** An itsdangerous timed token ([`super::serializer`]) signed with `SECRET_KEY`
//!   and the purpose's salt (`SECURITY_RESET_SALT`, `SECURITY_CONFIRM_SALT`,
//!   `SECURITY_LOGIN_SALT`, `SECURITY_UNLOCK_SALT`): a token made for one purpose is invalid
//!   for every other.
//! - **Payload.** `[user id, binding]`, and for login links `[user id, binding, nonce]` (the
//!   nonce keeps two links issued in the same second apart, so that using one never uses the
//!   other).
//! - **Binding.** A keyed digest of the purpose, the user id and the account state the link
//!   was made for: the address (all three), the stored password hash (reset, login) and the
//!   uniquifier (login, unlock), and for unlock links the lock they were mailed for (its
//!   generation). When that state changes the link is invalid: a reset (or any
//!   password change) kills every earlier reset link, and an account that a later one
//!   replaces under the same id cannot use the old one's links.
//! - **Lifetime.** `SECURITY_RESET_PASSWORD_WITHIN`, `SECURITY_CONFIRM_EMAIL_WITHIN`,
//!   `SECURITY_LOGIN_WITHIN`, `SECURITY_UNLOCK_WITHIN`. An expired link is told apart from an invalid one (the views
//!   send new instructions), which needs the signature to hold.
//! - **Single use.** A reset link by its binding (the reset replaces the hash it is bound to,
//!   with a compare-and-set, so two racing uses cannot both succeed); a confirmation link by
//!   the confirmation itself (a second use confirms nothing and logs nobody in); a login link
//!   and an unlock link by [`Tokens::use_once`], which records its keyed digest in
//!   `security_used_token`.
//! - **Flask-Security 1.7.4's links** are accepted with `SECURITY_FLASK_COMPAT`, as tightly
//!   as their payload allows ([`super::legacy`]).

use super::Tokens;
use super::legacy::LegacyPayload;
use crate::config::{Config, Within};
use crate::crypto::cookie_codec::{constant_time_eq, random_token};
use crate::store::datastore::{Datastore, DatastoreError};
use crate::store::model::SecurityUser;
use crate::tokens::serializer::{Serializer, TokenError};

/// What a mailed link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    /// `/reset/<token>`: set a new password.
    Reset,
    /// `/confirm/<token>`: confirm the address.
    Confirm,
    /// `/login/<token>`: log in without a password.
    Login,
    /// `/unlock/<token>`: unlock a locked account.
    Unlock,
}

/// The state of a link, bound to the account it was made for.
pub(crate) enum LinkStatus<U> {
    /// Signed, young enough, and its user still has the state it was bound to.
    Valid(U),
    /// Signed and bound, but older than its lifetime.
    Expired(U),
    /// Tampered, made for another purpose, or its user is gone or changed.
    Invalid,
}

impl Link {
    /// The purpose mixed into the binding.
    fn purpose(self) -> &'static str {
        match self {
            Link::Reset => "reset",
            Link::Confirm => "confirm",
            Link::Login => "login",
            Link::Unlock => "unlock",
        }
    }

    /// How long a link stays valid.
    pub(crate) fn within(self, config: &Config) -> &Within {
        match self {
            Link::Reset => &config.reset_password_within,
            Link::Confirm => &config.confirm_email_within,
            Link::Login => &config.login_within,
            Link::Unlock => &config.unlock_within,
        }
    }

    /// The URL the link's token is appended to.
    pub(crate) fn path(self, config: &Config) -> String {
        match self {
            Link::Reset => config.reset_path(),
            Link::Confirm => config.confirm_path(),
            Link::Login => config.login_path(),
            Link::Unlock => config.unlock_path(),
        }
    }

    /// What 1.7.4 put in the payload of the same link (it had no unlock links).
    fn legacy(self) -> Option<LegacyPayload> {
        match self {
            Link::Reset => Some(LegacyPayload::PasswordDigest),
            Link::Confirm => Some(LegacyPayload::EmailDigest),
            Link::Login => Some(LegacyPayload::IdOnly),
            Link::Unlock => None,
        }
    }

    fn serializer(self, tokens: &Tokens) -> &Serializer {
        match self {
            Link::Reset => &tokens.reset,
            Link::Confirm => &tokens.confirm,
            Link::Login => &tokens.login,
            Link::Unlock => &tokens.unlock,
        }
    }
}

impl Tokens {
    /// The keyed digest binding a link to the state of its account, and to `extra` (the lock
    /// generation of an unlock link; empty for the others).
    fn binding<U: SecurityUser>(&self, link: Link, user: &U, extra: &[u8]) -> String {
        let id = user.id().to_string();
        let email = user.email().to_lowercase();
        let mut parts: Vec<&[u8]> =
            vec![link.purpose().as_bytes(), id.as_bytes(), email.as_bytes()];
        if matches!(link, Link::Reset | Link::Login | Link::Unlock) {
            parts.push(user.password().unwrap_or("").as_bytes());
        }
        if matches!(link, Link::Login | Link::Unlock) {
            parts.push(user.uniquifier().unwrap_or("").as_bytes());
        }
        if link == Link::Unlock {
            parts.push(extra);
        }
        self.binder.fingerprint(&parts)
    }

    /// A new link token for `user`, made at `now`, bound to `extra` too (see
    /// [`Tokens::binding`]).
    pub(crate) fn make_link<U: SecurityUser>(
        &self,
        link: Link,
        user: &U,
        extra: &[u8],
        now: i64,
    ) -> String {
        let id = user.id().to_string();
        let binding = self.binding(link, user, extra);
        let serializer = link.serializer(self);
        match link {
            Link::Login | Link::Unlock => {
                serializer.dumps(&[&id, &binding, &random_token(12)], now)
            }
            Link::Reset | Link::Confirm => serializer.dumps(&[&id, &binding], now),
        }
    }

    /// Checks a link token at `now`: signature and age, then that the user it names exists
    /// and still has the state the link was bound to (compared in constant time).
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn link_status<U: SecurityUser>(
        &self,
        link: Link,
        token: &str,
        extra: &[u8],
        config: &Config,
        datastore: &Datastore<U>,
        now: i64,
    ) -> Result<LinkStatus<U>, DatastoreError> {
        let within = link.within(config).seconds();
        let (payload, expired) = match link.serializer(self).loads(token, Some(within), now) {
            Ok(payload) => (payload, false),
            Err(TokenError::Expired { payload, .. }) => (payload, true),
            Err(TokenError::Invalid) => return Ok(LinkStatus::Invalid),
        };
        let compat = config.flask_compat;
        let Some(id) = payload.first().filter(|_| payload.len() >= 2 || compat) else {
            return Ok(LinkStatus::Invalid);
        };
        let Ok(id) = id.parse::<U::Id>() else {
            return Ok(LinkStatus::Invalid);
        };
        let Some(user) = datastore.find_user_by_id(&id).await? else {
            return Ok(LinkStatus::Invalid);
        };
        let ours = payload.get(1).is_some_and(|bound| {
            constant_time_eq(
                self.binding(link, &user, extra).as_bytes(),
                bound.as_bytes(),
            )
        });
        let legacy = compat
            && link
                .legacy()
                .is_some_and(|legacy| legacy.matches(&payload, user.email(), user.password()));
        Ok(match (ours || legacy, expired) {
            (false, _) => LinkStatus::Invalid,
            (true, true) => LinkStatus::Expired(user),
            (true, false) => LinkStatus::Valid(user),
        })
    }

    /// Records a link `token` as used (its keyed digest, in `security_used_token`, kept for
    /// the link's lifetime): `true` the first time only, also when two requests race.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn use_once(
        &self,
        link: Link,
        token: &str,
        config: &Config,
        db: &sea_orm::DatabaseConnection,
        now: i64,
    ) -> Result<bool, sea_orm::DbErr> {
        let purpose: &[u8] = match link {
            Link::Login => b"used-login-token",
            Link::Reset => b"used-reset-token",
            Link::Confirm => b"used-confirm-token",
            Link::Unlock => b"used-unlock-token",
        };
        let digest = self.binder.fingerprint(&[purpose, token.as_bytes()]);
        let lifetime = i64::try_from(link.within(config).seconds()).unwrap_or(i64::MAX / 2);
        let expires_at = now.saturating_add(lifetime).saturating_add(1);
        crate::store::schema::consume(db, digest, expires_at, now).await
    }
}
