// `confirmed_at` must be a timestamp: the error is on the field type.

mod user {
    use sea_orm::entity::prelude::*;
    use security::SecurityUser;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, SecurityUser)]
    #[sea_orm(table_name = "user")]
    #[security(role = super::role::Entity, user_roles = super::roles_users::Entity)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub email: String,
        pub password: Option<String>,
        pub active: bool,
        pub confirmed_at: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod role {
    use sea_orm::entity::prelude::*;
    use security::SecurityRole;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, SecurityRole)]
    #[sea_orm(table_name = "role")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod roles_users {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "roles_users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

// A use site: the derive's error above is the only one, with no cascade from here.
async fn profile(_user: security::CurrentUser<user::Model>) {}

fn main() {
    let _ = axum::Router::<()>::new().route("/", axum::routing::get(profile));
}
