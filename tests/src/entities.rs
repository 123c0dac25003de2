//! The entities of the tests: Flask-Security's quick-start models with every optional field
//! (confirmation, tracking, a uniquifier) and a `username`.

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
        /// User name (stored folded, under a unique index: see `security::username`).
        #[sea_orm(unique)]
        pub username: Option<String>,
        /// Password hash.
        pub password: Option<String>,
        /// Active flag.
        pub active: bool,
        /// Confirmation time.
        pub confirmed_at: Option<DateTimeUtc>,
        /// Previous login time.
        pub last_login_at: Option<DateTimeUtc>,
        /// Latest login time.
        pub current_login_at: Option<DateTimeUtc>,
        /// Previous login address.
        pub last_login_ip: Option<String>,
        /// Latest login address.
        pub current_login_ip: Option<String>,
        /// Number of logins.
        pub login_count: Option<i32>,
        /// Per-user revocation value.
        pub fs_uniquifier: Option<String>,
        /// An app field, set by registration in the custom-form tests.
        pub first_name: Option<String>,
    }

    /// None needed.
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

    /// None needed.
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

    /// None needed.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
