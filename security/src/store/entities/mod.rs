//! Ready-made entities for the role side of the model: Flask-Security's `Role` (`role`: id,
//! unique name, description) and the `roles_users` table that links users to roles. An app
//! may use them instead of writing its own, and keep only its user entity (the quick start's
//! own [`user`] is here too, for examples and prototypes):
//!
//! ```
//! mod user {
//!     use sea_orm::entity::prelude::*;
//!     use security::SecurityUser;
//!
//!     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SecurityUser)]
//!     #[sea_orm(table_name = "user")]
//!     #[security(
//!         role = security::entities::role::Entity,
//!         user_roles = security::entities::roles_users::Entity
//!     )]
//!     pub struct Model {
//!         #[sea_orm(primary_key)]
//!         pub id: i32,
//!         #[sea_orm(unique)]
//!         pub email: String,
//!         pub password: Option<String>,
//!         pub active: bool,
//!     }
//!
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {}
//!
//!     impl ActiveModelBehavior for ActiveModel {}
//! }
//! # fn main() {}
//! ```
//!
//! Their tables are created like the app's own, e.g. with SeaORM's
//! `Schema::create_table_from_entity(security::entities::role::Entity)`. The ids are `i32`
//! (SQLAlchemy's `Integer` in Flask-Security's quick start); an app with other id types, or
//! more columns on its roles, writes its own entities and derives `SecurityRole` on them.

pub mod role;
pub mod roles_users;
pub mod user;
