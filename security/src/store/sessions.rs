//! The rows behind session and token revocation: the per-account value of models without a
//! uniquifier (`security_account_epoch`) and the refresh-token families
//! (`security_refresh_token`). Every write is one statement, so nothing is half-written, and
//! the rotation of a refresh token is a compare-and-set on its generation, so that of two
//! concurrent uses of one token only one succeeds.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

use crate::store::schema::{account_epoch, refresh_token};

/// The account's per-account value, if it has one.
pub(crate) async fn epoch_of<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
) -> Result<Option<String>, DbErr> {
    Ok(account_epoch::Entity::find_by_id(user_id.to_owned())
        .one(db)
        .await?
        .map(|row| row.epoch))
}

/// Replaces the account's per-account value with a new random one (creating the row).
pub(crate) async fn rotate_epoch<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<(), DbErr> {
    let epoch = crate::crypto::cookie_codec::random_token(24);
    account_epoch::Entity::insert(account_epoch::ActiveModel {
        user_id: Set(user_id.to_owned()),
        epoch: Set(epoch),
    })
    .on_conflict(
        OnConflict::column(account_epoch::Column::UserId)
            .update_column(account_epoch::Column::Epoch)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A new family, as stored.
pub(crate) struct NewFamily {
    pub family: String,
    pub user_id: String,
    pub name: String,
    pub digest: String,
    pub now: i64,
    pub expires_at: i64,
}

/// Stores a new family (generation 1); first removes the user's expired families (5.9's
/// `REFRESH_TOKEN_CLEANUP_EXPIRED`).
pub(crate) async fn create_family<C: ConnectionTrait>(db: &C, new: NewFamily) -> Result<(), DbErr> {
    refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::UserId.eq(new.user_id.clone()))
        .filter(refresh_token::Column::ExpiresAt.lt(new.now))
        .exec(db)
        .await?;
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        family: Set(new.family),
        user_id: Set(new.user_id),
        name: Set(new.name),
        generation: Set(1),
        digest: Set(new.digest),
        created_at: Set(new.now),
        expires_at: Set(new.expires_at),
        last_used_at: Set(new.now),
        revoked_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A family by its id.
pub(crate) async fn find_family<C: ConnectionTrait>(
    db: &C,
    family: &str,
) -> Result<Option<refresh_token::Model>, DbErr> {
    refresh_token::Entity::find_by_id(family.to_owned())
        .one(db)
        .await
}

/// Moves the family from generation `generation` (whose token's digest is `digest`) to the next,
/// whose token's digest is `new_digest`: `true` when this call did it, `false` when the
/// family was no longer there (another use won, or it was revoked meanwhile).
pub(crate) async fn exchange<C: ConnectionTrait>(
    db: &C,
    family: &str,
    generation: i32,
    digest: &str,
    new_digest: String,
    now: i64,
) -> Result<bool, DbErr> {
    let result = refresh_token::Entity::update_many()
        .col_expr(
            refresh_token::Column::Generation,
            Expr::col(refresh_token::Column::Generation).add(1),
        )
        .col_expr(refresh_token::Column::Digest, Expr::value(new_digest))
        .col_expr(refresh_token::Column::LastUsedAt, Expr::value(now))
        .filter(refresh_token::Column::Family.eq(family))
        .filter(refresh_token::Column::Generation.eq(generation))
        .filter(refresh_token::Column::Digest.eq(digest))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Revokes one family (kept revoked: a later use says `REVOKED`).
pub(crate) async fn revoke_family<C: ConnectionTrait>(
    db: &C,
    family: &str,
    now: i64,
) -> Result<(), DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::Family.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes every family of the user (5.9's `refresh_tracker_reset`); the number revoked.
pub(crate) async fn revoke_user<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    now: i64,
) -> Result<u64, DbErr> {
    let result = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
