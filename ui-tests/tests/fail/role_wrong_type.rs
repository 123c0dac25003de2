// The role name must be a `String`.

mod role {
    use sea_orm::entity::prelude::*;
    use security::SecurityRole;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, SecurityRole)]
    #[sea_orm(table_name = "role")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

// A user model on this role entity, and a use site: the role derive's error above is the only
// one, with no cascade from here.
mod user {
    use sea_orm::entity::prelude::*;
    use security::SecurityUser;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, SecurityUser)]
    #[sea_orm(table_name = "user")]
    #[security(role = super::role::Entity, user_roles = security::entities::roles_users::Entity)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub email: String,
        pub password: Option<String>,
        pub active: bool,
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
