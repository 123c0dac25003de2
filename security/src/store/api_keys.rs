//! `security_api_key`: the API keys users create (`SECURITY_API_KEYS`), one row per key. The
//! row holds the key's public lookup id and a keyed digest of its secret, never the secret.
//! Revoked keys stay (with `revoked_at`) so that the owner's list shows what was revoked.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Schema, Set,
};

/// The entity of `security_api_key`.
pub mod api_key {
    use sea_orm::entity::prelude::*;

    /// One API key.
    #[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "security_api_key")]
    pub struct Model {
        /// The public lookup id (the middle part of the key; random, not secret).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The owner's id, as text.
        #[sea_orm(indexed)]
        pub user_id: String,
        /// The name the owner gave it (unique among the owner's unrevoked keys).
        pub name: String,
        /// A keyed digest (HMAC under a key derived from `SECRET_KEY`) of the key's secret.
        pub digest: String,
        /// When it was created (unix seconds).
        pub created_at: i64,
        /// When it stops working (unix seconds); `None`: never.
        pub expires_at: Option<i64>,
        /// When it last authenticated a request (unix seconds, updated at most once a minute).
        pub last_used_at: Option<i64>,
        /// When it was revoked (unix seconds); `None`: not revoked.
        pub revoked_at: Option<i64>,
    }

    impl std::fmt::Debug for Model {
        /// The digest left out.
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("ApiKey")
                .field("id", &self.id)
                .field("user_id", &self.user_id)
                .field("name", &self.name)
                .field("created_at", &self.created_at)
                .field("expires_at", &self.expires_at)
                .field("last_used_at", &self.last_used_at)
                .field("revoked_at", &self.revoked_at)
                .finish_non_exhaustive()
        }
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The table's name.
pub(crate) const TABLE: &str = "security_api_key";

/// Creates `security_api_key` and its index if they do not exist.
pub(crate) async fn create_table<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let schema = Schema::new(backend);
    let mut table = schema.create_table_from_entity(api_key::Entity);
    table.if_not_exists();
    db.execute(&table).await?;
    for mut index in schema.create_index_from_entity(api_key::Entity) {
        if backend == sea_orm::DatabaseBackend::MySql {
            match db.execute(&index).await {
                Err(err) if super::schema::mysql_error_number(&err) == Some(1061) => {}
                other => {
                    other?;
                }
            }
        } else {
            index.if_not_exists();
            db.execute(&index).await?;
        }
    }
    Ok(())
}

/// The key with this lookup id.
pub(crate) async fn find(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<api_key::Model>, DbErr> {
    api_key::Entity::find_by_id(id.to_owned()).one(db).await
}

/// The keys of a user, oldest first.
pub(crate) async fn list(
    db: &DatabaseConnection,
    user_id: &str,
) -> Result<Vec<api_key::Model>, DbErr> {
    api_key::Entity::find()
        .filter(api_key::Column::UserId.eq(user_id))
        .order_by_asc(api_key::Column::CreatedAt)
        .order_by_asc(api_key::Column::Id)
        .all(db)
        .await
}

/// Stores a new key.
pub(crate) async fn insert(db: &DatabaseConnection, row: api_key::Model) -> Result<(), DbErr> {
    api_key::Entity::insert(api_key::ActiveModel {
        id: Set(row.id),
        user_id: Set(row.user_id),
        name: Set(row.name),
        digest: Set(row.digest),
        created_at: Set(row.created_at),
        expires_at: Set(row.expires_at),
        last_used_at: Set(row.last_used_at),
        revoked_at: Set(row.revoked_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Revokes the user's unrevoked keys among `ids` (all of them when `ids` is `None`) at `now`;
/// the number revoked.
pub(crate) async fn revoke(
    db: &DatabaseConnection,
    user_id: &str,
    ids: Option<&[String]>,
    now: i64,
) -> Result<u64, DbErr> {
    let mut update = api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(Some(now)))
        .filter(api_key::Column::UserId.eq(user_id))
        .filter(api_key::Column::RevokedAt.is_null());
    if let Some(ids) = ids {
        update = update.filter(api_key::Column::Id.is_in(ids.iter().cloned()));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// Records a use of the key at `now`, unless one was recorded within the last `interval`
/// seconds (one conditional write, so that concurrent requests write at most once).
pub(crate) async fn touch(
    db: &DatabaseConnection,
    id: &str,
    now: i64,
    interval: i64,
) -> Result<(), DbErr> {
    api_key::Entity::update_many()
        .col_expr(api_key::Column::LastUsedAt, Expr::value(Some(now)))
        .filter(api_key::Column::Id.eq(id))
        .filter(
            api_key::Column::LastUsedAt
                .is_null()
                .or(api_key::Column::LastUsedAt.lte(now - interval)),
        )
        .exec(db)
        .await?;
    Ok(())
}
