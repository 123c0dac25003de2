//! The `roles_users` table: which user has which role (Flask-Security's association table).

use sea_orm::entity::prelude::*;

/// One user–role pair.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "roles_users")]
pub struct Model {
    /// The user's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i32,
    /// The role's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub role_id: i32,
}

/// No relations are declared: the runtime joins through this table itself.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
