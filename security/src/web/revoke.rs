//! Ending every session and token of an account at once (sign out everywhere, `users
//! revoke-sessions`, `users reset-access`) and Flask-Security 5.9's refresh tokens.
//!
//! Sessions, remember cookies and authentication tokens are bound to the account fingerprint
//! ([`Runtime::fingerprint_in`]). A user model with `fs_uniquifier` gets a new uniquifier,
//! which changes it at no cost per request. A model without one (the 1.7.4 schema) gets a new
//! per-account value in `security_account_epoch`, which the identity query reads with a
//! primary-key left join in its one statement; an account without a row has the fingerprint
//! it always had. Either way the change is seen by every instance at its next identity load,
//! and the cached identity is dropped here and, through the invalidation channel, there.
//!
//! A refresh token is an itsdangerous-signed `[user id, fingerprint, family, generation,
//! nonce]` under `SECURITY_REFRESH_TOKEN_SALT`. Its family's row (`security_refresh_token`)
//! holds the generation and a keyed digest of the current token (never the token); a use
//! moves the row to the next generation with a compare-and-set, so of two uses of one token
//! only one succeeds, and the use of an older generation revokes the whole family (5.9's
//! `GEN_MISMATCH`). A token is bound to the account fingerprint too, so a password change,
//! sign out everywhere and `reset-access` end it.

use crate::crypto::cookie_codec::{constant_time_eq, random_token};
use crate::events::{Event, RevocationReason};
use crate::store::datastore::{DatastoreError, UserWithRoles};
use crate::store::model::{Field, SecurityUser};
use crate::store::sessions;
use crate::tokens::serializer::Serializer;
use crate::web::runtime::Runtime;
use crate::web::session::{RememberAction, Session};

/// Why a refresh token was refused: 5.9's `RefreshTokenErrors`, whose name is the
/// `%(reason)s` of `REFRESH_TOKEN_INVALID`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefreshError {
    /// Not a token of ours (or its account is gone or may not log in).
    Invalid,
    /// Its family is not stored.
    NotFound,
    /// An older generation of its family: the family is revoked.
    GenMismatch,
    /// Past its family's maximum age, or not used for `SECURITY_REFRESH_TOKEN_MAX_IDLE`.
    Expired,
    /// Its family was revoked (a logout, a reuse, a reset), or the account changed (password,
    /// sign out everywhere).
    Revoked,
}

impl RefreshError {
    /// 5.9's name: `INVALID`, `NOT_FOUND`, `GEN_MISMATCH`, `EXPIRED`, `REVOKED`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RefreshError::Invalid => "INVALID",
            RefreshError::NotFound => "NOT_FOUND",
            RefreshError::GenMismatch => "GEN_MISMATCH",
            RefreshError::Expired => "EXPIRED",
            RefreshError::Revoked => "REVOKED",
        }
    }
}

/// A refresh token that was exchanged: its user, a new authentication token and the family's
/// next refresh token.
pub(crate) struct Exchanged<U: SecurityUser> {
    pub found: UserWithRoles<U>,
    pub auth_token: String,
    pub refresh_token: String,
}

/// A signed refresh token's payload.
struct Payload {
    user_id: String,
    fingerprint: String,
    family: String,
    generation: i32,
}

fn no_epoch_table() -> DatastoreError {
    DatastoreError::Database(sea_orm::DbErr::Custom(
        "the user model has no fs_uniquifier and the table security_account_epoch does not \
         exist: create it with security::schema::create_tables (or add fs_uniquifier)"
            .into(),
    ))
}

impl<U: SecurityUser> Runtime<U> {
    /// The account's per-account value (`security_account_epoch`): always `None` for a model
    /// with a uniquifier, without a query.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn account_epoch(&self, user: &U) -> Result<Option<String>, DatastoreError> {
        if !self.datastore().account_epochs() {
            return Ok(None);
        }
        Ok(sessions::epoch_of(self.datastore().connection(), &user.id().to_string()).await?)
    }

    /// The account's current fingerprint, its per-account value included.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn current_fingerprint(&self, user: &U) -> Result<String, DatastoreError> {
        let epoch = self.account_epoch(user).await?;
        Ok(self.fingerprint_in(user, user.password(), epoch.as_deref()))
    }

    /// The account as tokens are bound to it: with its `fs_token_uniquifier` set (reloaded
    /// when this call set it), and its per-account value (`security_account_epoch`).
    async fn token_subject<'a>(
        &self,
        user: &'a U,
    ) -> Result<(std::borrow::Cow<'a, U>, Option<String>), DatastoreError> {
        let epoch = self.account_epoch(user).await?;
        let user = match self.with_token_uniquifier(user).await? {
            Some(reloaded) => std::borrow::Cow::Owned(reloaded),
            None => std::borrow::Cow::Borrowed(user),
        };
        Ok((user, epoch))
    }

    /// A new authentication token for the user, whose stored hash is now `password_hash`
    /// when given. A model with `fs_token_uniquifier` gets its value now if it has none yet
    /// (5.9 sets it lazily too).
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn auth_token_for(
        &self,
        user: &U,
        password_hash: Option<&str>,
    ) -> Result<String, DatastoreError> {
        let (user, epoch) = self.token_subject(user).await?;
        let user = user.as_ref();
        Ok(self.auth_token_bound(user, password_hash, epoch.as_deref()))
    }

    /// For a model with `fs_token_uniquifier` whose value is not set: sets one and returns
    /// the account as it is now; `None` when nothing was to be done.
    async fn with_token_uniquifier(&self, user: &U) -> Result<Option<U>, DatastoreError> {
        if !U::FIELDS.has(Field::TokenUniquifier)
            || user.token_uniquifier().is_some_and(|v| !v.is_empty())
        {
            return Ok(None);
        }
        self.rotate_token_uniquifier(user, true).await?;
        self.invalidate(&user.id());
        self.datastore().find_user_by_id(&user.id()).await
    }

    /// Gives the account a new `fs_token_uniquifier` (only when it has none, with
    /// `only_unset`: two requests setting it lazily at once agree on one).
    async fn rotate_token_uniquifier(
        &self,
        user: &U,
        only_unset: bool,
    ) -> Result<(), DatastoreError> {
        use sea_orm::sea_query::ExprTrait;
        use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};
        let Some(column) = U::column(Field::TokenUniquifier) else {
            return Ok(());
        };
        let mut model = <U::ActiveModel as ActiveModelTrait>::default();
        U::set_token_uniquifier(&mut model, random_token(24));
        let mut update = U::Entity::update_many()
            .set(model)
            .filter(U::id_column().eq(user.id()));
        if only_unset {
            update = update.filter(column.is_null().or(column.eq("")));
        }
        update.exec(self.datastore().connection()).await?;
        Ok(())
    }

    /// Ends the account's authentication and refresh tokens only (a model with
    /// `fs_token_uniquifier`); `false` for a model without one (nothing done).
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn revoke_tokens(&self, user: &U) -> Result<bool, DatastoreError> {
        if !U::FIELDS.has(Field::TokenUniquifier) {
            return Ok(false);
        }
        self.rotate_token_uniquifier(user, false).await?;
        if self.config().refresh_token {
            sessions::revoke_user(
                self.datastore().connection(),
                &user.id().to_string(),
                self.now(),
            )
            .await?;
        }
        self.invalidate(&user.id());
        tracing::info!(user = %user.id(), "security: ended the account's tokens");
        let reloaded = self.datastore().find_user_by_id(&user.id()).await?;
        if let Some(user) = reloaded {
            self.emit(Event::SessionsRevoked {
                user,
                reason: RevocationReason::RevokeTokens,
                kept_current: true,
            });
        }
        Ok(true)
    }

    /// Binds the request's session (and its browser's remember cookie, if it had one) to the
    /// account as it is now: after a change of the account that ends every other session.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn reissue_session(
        &self,
        session: &Session,
        user: &U,
    ) -> Result<(), DatastoreError> {
        let fingerprint = self.current_fingerprint(user).await?;
        if session.lock().had_remember_cookie {
            session.set_remember(RememberAction::Set(
                self.remember_token_for(user, &fingerprint),
            ));
        }
        session.refresh_fingerprint(fingerprint);
        Ok(())
    }

    /// Ends every session, remember cookie, authentication token and refresh token of the
    /// account, on every instance; with `current`, that session (the request's) is re-issued
    /// and stays. Emits [`Event::SessionsRevoked`]. Returns the account as it is now (`None`
    /// if it was deleted meanwhile).
    ///
    /// # Errors
    /// A database failure; a model without `fs_uniquifier` whose `security_account_epoch`
    /// table is missing.
    pub(crate) async fn revoke_everything(
        &self,
        user: &U,
        reason: RevocationReason,
        current: Option<&Session>,
    ) -> Result<Option<U>, DatastoreError> {
        let datastore = self.datastore();
        let db = datastore.connection();
        let id = user.id();
        let id_text = id.to_string();
        let now = self.now();
        if U::FIELDS.has(Field::Uniquifier) {
            datastore.rotate_uniquifier(user).await?;
        } else if datastore.account_epochs() {
            sessions::rotate_epoch(db, &id_text).await?;
        } else {
            return Err(no_epoch_table());
        }
        if U::FIELDS.has(Field::TokenUniquifier) {
            self.rotate_token_uniquifier(user, false).await?;
        }
        if self.config().refresh_token {
            sessions::revoke_user(db, &id_text, now).await?;
        }
        if self.config().flask_compat {
            // A Flask session cookie signed before now is refused from now on.
            let hash = user.password().unwrap_or("").to_owned();
            crate::compat::record_password(&self.flask_accounts(), user, &hash, Some(now)).await?;
        }
        self.invalidate(&id);
        let reloaded = datastore.find_user_by_id(&id).await?;
        let kept_current = match (current, &reloaded) {
            (Some(session), Some(user)) => {
                self.reissue_session(session, user).await?;
                true
            }
            _ => false,
        };
        tracing::info!(
            user = %id,
            reason = reason.as_str(),
            kept_current,
            "security: ended the account's sessions and tokens"
        );
        if let Some(user) = &reloaded {
            self.emit(Event::SessionsRevoked {
                user: user.clone(),
                reason,
                kept_current,
            });
        }
        Ok(reloaded)
    }

    fn refresh_serializer(&self) -> Serializer {
        let config = self.config();
        Serializer::new(
            config.secret_key.expose(),
            config.refresh_token_salt.expose(),
        )
    }

    fn refresh_digest(&self, token: &str) -> String {
        self.keyed_digest(&[b"refresh-token", token.as_bytes()])
    }

    fn refresh_token_text(
        &self,
        user_id: &str,
        fingerprint: &str,
        family: &str,
        generation: i32,
    ) -> String {
        let nonce = random_token(16);
        self.refresh_serializer().dumps(
            &[
                user_id,
                fingerprint,
                family,
                &generation.to_string(),
                &nonce,
            ],
            self.now(),
        )
    }

    fn refresh_payload(&self, token: &str) -> Option<Payload> {
        let payload = self
            .refresh_serializer()
            .loads(token, None, self.now())
            .ok()?;
        match payload.as_slice() {
            [user_id, fingerprint, family, generation, _nonce] => Some(Payload {
                user_id: user_id.clone(),
                fingerprint: fingerprint.clone(),
                family: family.clone(),
                generation: generation.parse().ok()?,
            }),
            _ => None,
        }
    }

    /// A new refresh-token family for the user (5.9's `new_refresh_tracker`); its first token.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn new_refresh_token(
        &self,
        user: &U,
        password_hash: Option<&str>,
        name: &str,
    ) -> Result<String, DatastoreError> {
        let (user, epoch) = self.token_subject(user).await?;
        let user = user.as_ref();
        let fingerprint = self
            .token_fingerprint_in(user, password_hash.or(user.password()), epoch.as_deref())
            .unwrap_or_default();
        let user_id = user.id().to_string();
        let family = random_token(16);
        let token = self.refresh_token_text(&user_id, &fingerprint, &family, 1);
        let now = self.now();
        let max_age =
            i64::try_from(self.config().refresh_token_max_age.seconds()).unwrap_or(i64::MAX / 4);
        sessions::create_family(
            self.datastore().connection(),
            sessions::NewFamily {
                family,
                user_id,
                name: name.to_owned(),
                digest: self.refresh_digest(&token),
                now,
                expires_at: now.saturating_add(max_age),
            },
        )
        .await?;
        Ok(token)
    }

    /// Exchanges a refresh token for a new authentication token and the family's next refresh
    /// token (5.9's `refresh` view), or says why not; the use of an older generation revokes
    /// the family.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn exchange_refresh_token(
        &self,
        token: &str,
    ) -> Result<Result<Exchanged<U>, RefreshError>, DatastoreError> {
        let db = self.datastore().connection();
        let now = self.now();
        let Some(payload) = self.refresh_payload(token) else {
            return Ok(Err(RefreshError::Invalid));
        };
        let Some(row) = sessions::find_family(db, &payload.family).await? else {
            return Ok(Err(RefreshError::NotFound));
        };
        if row.user_id != payload.user_id {
            return Ok(Err(RefreshError::Invalid));
        }
        let digest = self.refresh_digest(token);
        if row.generation != payload.generation {
            // An older token of the family was used again: it leaked, or a client replays.
            sessions::revoke_family(db, &row.family, now).await?;
            tracing::warn!(
                user = %row.user_id,
                "security: a refresh token was used again; its family is revoked"
            );
            return Ok(Err(RefreshError::GenMismatch));
        }
        if !constant_time_eq(row.digest.as_bytes(), digest.as_bytes()) {
            return Ok(Err(RefreshError::Invalid));
        }
        let idle =
            i64::try_from(self.config().refresh_token_max_idle.seconds()).unwrap_or(i64::MAX / 4);
        if row.expires_at < now || now.saturating_sub(row.last_used_at) > idle {
            return Ok(Err(RefreshError::Expired));
        }
        if row.revoked_at.is_some() {
            return Ok(Err(RefreshError::Revoked));
        }
        let Ok(id) = payload.user_id.parse::<U::Id>() else {
            return Ok(Err(RefreshError::Invalid));
        };
        let Some(found) = self.load_identity(&id).await? else {
            return Ok(Err(RefreshError::Invalid));
        };
        if !self.may_authenticate(&found.user) {
            return Ok(Err(RefreshError::Invalid));
        }
        let current = self
            .token_fingerprint_in(&found.user, found.user.password(), found.epoch.as_deref())
            .unwrap_or_default();
        if current.is_empty()
            || !constant_time_eq(current.as_bytes(), payload.fingerprint.as_bytes())
        {
            // The password changed, or the account's sessions were ended, since the login.
            return Ok(Err(RefreshError::Revoked));
        }
        let next =
            self.refresh_token_text(&payload.user_id, &current, &row.family, row.generation + 1);
        let won = sessions::exchange(
            db,
            &row.family,
            row.generation,
            &row.digest,
            self.refresh_digest(&next),
            now,
        )
        .await?;
        if !won {
            // Another use of the same token got there first: this one is a reuse.
            sessions::revoke_family(db, &row.family, now).await?;
            return Ok(Err(RefreshError::GenMismatch));
        }
        let auth_token = self.auth_token_bound(&found.user, None, found.epoch.as_deref());
        Ok(Ok(Exchanged {
            found: std::sync::Arc::unwrap_or_clone(found),
            auth_token,
            refresh_token: next,
        }))
    }

    /// Revokes the family of a refresh token (logout with it); `true` when the token named a
    /// family of ours.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn revoke_refresh_token(&self, token: &str) -> Result<bool, DatastoreError> {
        let db = self.datastore().connection();
        let Some(payload) = self.refresh_payload(token) else {
            return Ok(false);
        };
        let Some(row) = sessions::find_family(db, &payload.family).await? else {
            return Ok(false);
        };
        if row.user_id != payload.user_id {
            return Ok(false);
        }
        sessions::revoke_family(db, &row.family, self.now()).await?;
        Ok(true)
    }
}
