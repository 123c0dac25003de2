// An `i64` user id, a `String` role id, the role entity's path in a string, and the link entity
// through an alias (its `Column` is then found through `EntityTrait`).

mod user {
    use sea_orm::entity::prelude::*;
    use security::SecurityUser;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, SecurityUser)]
    #[sea_orm(table_name = "user")]
    #[security(role = "crate::role::Entity", user_roles = crate::RolesUsers)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub email: String,
        pub password: Option<String>,
        pub active: bool,
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
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
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
        pub user_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use roles_users::Entity as RolesUsers;
use security::{SecurityRole, SecurityUser};

fn main() {
    let user = user::Model {
        id: 9_000_000_000,
        email: "matt@lp.com".into(),
        password: None,
        active: true,
    };
    let id: i64 = user.id();
    assert_eq!(id, 9_000_000_000);
    let role = role::Model {
        id: "admin-role".into(),
        name: "admin".into(),
    };
    let id: String = SecurityRole::id(&role);
    assert_eq!(id, "admin-role");
    assert_eq!(SecurityRole::description(&role), None);
    assert!(matches!(
        <user::Model as SecurityUser>::link_role_column(),
        roles_users::Column::RoleId
    ));
}
