//! The `role` table: Flask-Security's `RoleMixin` (an id, a unique name, a description).

use sea_orm::entity::prelude::*;

/// A role.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crate::SecurityRole)]
#[sea_orm(table_name = "role")]
pub struct Model {
    /// The primary key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The unique name that guards name (`#[roles_required("admin")]`).
    #[sea_orm(unique)]
    pub name: String,
    /// What the role is for.
    pub description: Option<String>,
}

/// No relations are declared: the runtime joins through `roles_users` itself.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
