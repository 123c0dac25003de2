// Only the required fields: not confirmable, not trackable, no uniquifier.

mod user {
    use sea_orm::entity::prelude::*;
    use security::SecurityUser;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, SecurityUser)]
    #[sea_orm(table_name = "user")]
    #[security(role = super::role::Entity, user_roles = super::roles_users::Entity)]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
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
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(unique)]
        pub name: String,
        pub description: Option<String>,
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

use sea_orm::ActiveModelTrait;
use security::{SecurityUser, UserFields};

fn main() {
    assert_eq!(<user::Model as SecurityUser>::FIELDS, UserFields::default());
    assert_eq!(
        <user::Model as SecurityUser>::FIELDS.missing_trackable(),
        [
            "last_login_at",
            "current_login_at",
            "last_login_ip",
            "current_login_ip",
            "login_count"
        ]
    );
    let user = user::Model {
        id: 1,
        email: "matt@lp.com".into(),
        password: None,
        active: true,
    };
    assert_eq!(SecurityUser::password(&user), None);
    assert_eq!(SecurityUser::confirmed_at(&user), None);
    assert_eq!(SecurityUser::tracking(&user), None);
    assert_eq!(SecurityUser::uniquifier(&user), None);
    assert!(<user::Model as SecurityUser>::column(security::model::Field::ConfirmedAt).is_none());
    // The defaults of the optional setters do nothing.
    let mut active = <user::ActiveModel as ActiveModelTrait>::default();
    <user::Model as SecurityUser>::set_confirmed_at(&mut active, None);
    <user::Model as SecurityUser>::set_uniquifier(&mut active, "x".into());
    assert!(!active.is_changed());
}
