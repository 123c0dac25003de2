//! The one table the runtime keeps for itself: the one-shot tokens already used (passwordless
//! login links are single-use, S19). Create it with [`create_tables`], or in
//! the app's own migrations from [`used_token::Entity`].

use sea_orm::{ColumnTrait, Set};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Schema};

/// `security_used_token`: the digest of each used one-shot token, until it expires.
pub mod used_token {
    use sea_orm::entity::prelude::*;

    /// A used token.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "security_used_token")]
    pub struct Model {
        /// A keyed digest of the token (never the token itself).
        #[sea_orm(primary_key, auto_increment = false)]
        pub digest: String,
        /// When the token expires anyway (unix seconds); the row can go then.
        pub expires_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Creates the runtime's tables if they do not exist.
///
/// # Errors
/// A database failure.
pub async fn create_tables(db: &DatabaseConnection) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let mut statement = Schema::new(backend).create_table_from_entity(used_token::Entity);
    statement.if_not_exists();
    db.execute(&statement).await?;
    Ok(())
}

/// Records a one-shot token as used: `true` the first time, `false` when it was used before
/// (also when a concurrent request won: the digest is the primary key). Expired records are
/// purged on the way.
pub(crate) async fn consume(
    db: &DatabaseConnection,
    digest: String,
    expires_at: i64,
    now: i64,
) -> Result<bool, DbErr> {
    used_token::Entity::delete_many()
        .filter(used_token::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    let row = used_token::ActiveModel {
        digest: Set(digest.clone()),
        expires_at: Set(expires_at),
    };
    match used_token::Entity::insert(row)
        .exec_without_returning(db)
        .await
    {
        Ok(_) => Ok(true),
        Err(err) => {
            let exists = used_token::Entity::find_by_id(digest)
                .one(db)
                .await?
                .is_some();
            if exists { Ok(false) } else { Err(err) }
        }
    }
}
