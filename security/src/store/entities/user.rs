//! The `user` table of Flask-Security's quick start (`UserMixin` with `confirmed_at`), on the
//! ready-made role entities. For examples and prototypes: an app usually writes its own user
//! entity (its own columns, id type, tracking fields) and derives `SecurityUser` on it.

use sea_orm::entity::prelude::*;

/// A user.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crate::SecurityUser)]
#[sea_orm(table_name = "user")]
#[security(role = super::role::Entity, user_roles = super::roles_users::Entity)]
pub struct Model {
    /// The primary key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The e-mail address the user logs in with.
    #[sea_orm(unique)]
    pub email: String,
    /// The password hash (`None`: no password, e.g. passwordless login only).
    pub password: Option<String>,
    /// Whether the user may log in.
    pub active: bool,
    /// When the address was confirmed.
    pub confirmed_at: Option<DateTimeUtc>,
}

/// No relations are declared: the runtime joins through `roles_users` itself.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
