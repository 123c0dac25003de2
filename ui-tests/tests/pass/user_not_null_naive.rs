// NOT NULL password, naive (Flask-Security's) and fixed-offset timestamps, a nullable active
// flag, a NOT NULL description, and only some of the tracking fields.

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
        pub password: String,
        pub active: Option<bool>,
        pub confirmed_at: Option<DateTime>,
        pub current_login_at: Option<DateTimeWithTimeZone>,
        pub login_count: i32,
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
        pub description: String,
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

use sea_orm::{ActiveModelTrait, ActiveValue};
use security::{Confirmable, SecurityRole, SecurityUser, Tracking, UserFields};
use security::model::Field;

fn confirmable<T: Confirmable>() {}

fn main() {
    confirmable::<user::Model>();
    assert_eq!(
        <user::Model as SecurityUser>::FIELDS,
        UserFields::NONE
            .with(Field::ConfirmedAt)
            .with(Field::CurrentLoginAt)
            .with(Field::LoginCount)
    );
    assert_eq!(
        <user::Model as SecurityUser>::FIELDS.missing_trackable(),
        ["last_login_at", "last_login_ip", "current_login_ip"]
    );

    let naive = "2013-01-02T03:04:05".parse::<sea_orm::prelude::DateTime>().unwrap();
    let utc = naive.and_utc();
    let user = user::Model {
        id: 1,
        email: "matt@lp.com".into(),
        password: String::new(),
        active: None,
        confirmed_at: Some(naive),
        current_login_at: Some(utc.fixed_offset()),
        login_count: 2,
    };
    assert_eq!(SecurityUser::password(&user), None);
    assert!(!SecurityUser::active(&user));
    assert_eq!(SecurityUser::confirmed_at(&user), Some(utc));
    assert_eq!(
        SecurityUser::tracking(&user),
        Some(Tracking {
            current_login_at: Some(utc),
            login_count: Some(2),
            ..Tracking::default()
        })
    );

    let mut active = <user::ActiveModel as ActiveModelTrait>::default();
    <user::Model as SecurityUser>::set_password(&mut active, None);
    <user::Model as SecurityUser>::set_active(&mut active, true);
    <user::Model as SecurityUser>::set_confirmed_at(&mut active, Some(utc));
    <user::Model as SecurityUser>::set_tracking(
        &mut active,
        &Tracking {
            current_login_at: Some(utc),
            login_count: None,
            ..Tracking::default()
        },
    );
    assert_eq!(active.password, ActiveValue::Set(String::new()));
    assert_eq!(active.active, ActiveValue::Set(Some(true)));
    assert_eq!(active.confirmed_at, ActiveValue::Set(Some(naive)));
    assert_eq!(active.current_login_at, ActiveValue::Set(Some(utc.fixed_offset())));
    assert_eq!(active.login_count, ActiveValue::Set(0));

    let role = role::Model {
        id: 1,
        name: "admin".into(),
        description: String::new(),
    };
    assert_eq!(SecurityRole::description(&role), None);
}
