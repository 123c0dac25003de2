//! The SQLAlchemy quick-start models of Flask-Security, as SeaORM entities: tables `user`,
//! `role` and `roles_users` with the same columns (naive UTC timestamps, as Flask-Security
//! wrote them), plus the `username` column that 1.7.4's test app has.

/// `user`.
pub mod user {
    use sea_orm::entity::prelude::*;
    use security::SecurityUser;

    /// A user.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SecurityUser)]
    #[sea_orm(table_name = "user")]
    #[security(role = super::role::Entity, user_roles = super::roles_users::Entity)]
    pub struct Model {
        /// Primary key.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// E-mail address.
        #[sea_orm(unique)]
        pub email: String,
        /// User name (a `SECURITY_USER_IDENTITY_ATTRIBUTES` candidate; with
        /// `SECURITY_USERNAME_ENABLE` a login identity, stored folded under a unique index).
        #[sea_orm(unique)]
        pub username: Option<String>,
        /// Password hash.
        pub password: Option<String>,
        /// Active flag.
        pub active: bool,
        /// Confirmation time.
        pub confirmed_at: Option<DateTime>,
        /// Previous login time.
        pub last_login_at: Option<DateTime>,
        /// Latest login time.
        pub current_login_at: Option<DateTime>,
        /// Previous login address.
        pub last_login_ip: Option<String>,
        /// Latest login address.
        pub current_login_ip: Option<String>,
        /// Number of logins.
        pub login_count: Option<i32>,
    }

    /// No relations are needed by the runtime.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `role`.
pub mod role {
    use sea_orm::entity::prelude::*;
    use security::SecurityRole;

    /// A role.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SecurityRole)]
    #[sea_orm(table_name = "role")]
    pub struct Model {
        /// Primary key.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// Unique name.
        #[sea_orm(unique)]
        pub name: String,
        /// Description.
        pub description: Option<String>,
    }

    /// No relations are needed by the runtime.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `roles_users`.
pub mod roles_users {
    use sea_orm::entity::prelude::*;

    /// A user–role link.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "roles_users")]
    pub struct Model {
        /// The user.
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i32,
        /// The role.
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_id: i32,
    }

    /// No relations are needed by the runtime.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
