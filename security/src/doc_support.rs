//! Entities for the documentation examples (Flask-Security's quick-start models). Hidden from
//! the docs; not part of the API. The role side is the shipped [`crate::entities`], so that
//! only the user entity is the examples' own.

#![allow(missing_docs)]

/// The user entity of the examples.
pub mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crate::SecurityUser)]
    #[sea_orm(table_name = "user")]
    #[security(role = super::role::Entity, user_roles = super::roles_users::Entity)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(unique)]
        pub email: String,
        pub password: Option<String>,
        pub active: bool,
        pub confirmed_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The role entity of the examples: the shipped one.
pub use crate::entities::role;

/// The user–role link entity of the examples: the shipped one.
pub use crate::entities::roles_users;

pub use user::Model as User;
