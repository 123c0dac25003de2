// The model of the design brief: every field found by its Flask-Security name.

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
        pub confirmed_at: Option<DateTimeUtc>,
        pub last_login_at: Option<DateTimeUtc>,
        pub current_login_at: Option<DateTimeUtc>,
        pub last_login_ip: Option<String>,
        pub current_login_ip: Option<String>,
        pub login_count: Option<i32>,
        pub fs_uniquifier: Option<String>,
        pub username: Option<String>,
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

use sea_orm::{ActiveModelTrait, ActiveValue, IdenStatic};
use security::model::Field;
use security::{Confirmable, SecurityRole, SecurityUser, Trackable, Tracking, UserFields};

fn confirmable_and_trackable<T: Confirmable + Trackable>() {}

fn main() {
    confirmable_and_trackable::<user::Model>();

    assert_eq!(
        <user::Model as SecurityUser>::FIELDS,
        UserFields::NONE
            .with(Field::ConfirmedAt)
            .with(Field::LastLoginAt)
            .with(Field::CurrentLoginAt)
            .with(Field::LastLoginIp)
            .with(Field::CurrentLoginIp)
            .with(Field::LoginCount)
            .with(Field::Uniquifier)
            .with(Field::Username)
    );

    let at = "2024-05-06T07:08:09Z".parse::<sea_orm::prelude::DateTimeUtc>().unwrap();
    let user = user::Model {
        id: 7,
        email: "matt@lp.com".into(),
        password: Some("$argon2id$hash".into()),
        active: true,
        confirmed_at: Some(at),
        last_login_at: None,
        current_login_at: Some(at),
        last_login_ip: None,
        current_login_ip: Some("127.0.0.1".into()),
        login_count: Some(1),
        fs_uniquifier: Some("abc".into()),
        username: None,
    };
    assert_eq!(user.id(), 7);
    assert_eq!(SecurityUser::email(&user), "matt@lp.com");
    assert_eq!(SecurityUser::password(&user), Some("$argon2id$hash"));
    assert!(SecurityUser::active(&user));
    assert_eq!(SecurityUser::confirmed_at(&user), Some(at));
    assert_eq!(SecurityUser::uniquifier(&user), Some("abc"));
    let tracking = Tracking {
        last_login_at: None,
        current_login_at: Some(at),
        last_login_ip: None,
        current_login_ip: Some("127.0.0.1".into()),
        login_count: Some(1),
    };
    assert_eq!(SecurityUser::tracking(&user), Some(tracking.clone()));

    assert!(matches!(<user::Model as SecurityUser>::id_column(), user::Column::Id));
    assert!(matches!(<user::Model as SecurityUser>::email_column(), user::Column::Email));
    assert!(matches!(<user::Model as SecurityUser>::password_column(), user::Column::Password));
    assert!(matches!(<user::Model as SecurityUser>::active_column(), user::Column::Active));
    assert!(matches!(<user::Model as SecurityUser>::link_user_column(), roles_users::Column::UserId));
    assert!(matches!(<user::Model as SecurityUser>::link_role_column(), roles_users::Column::RoleId));

    for (field, column) in [
        (Field::ConfirmedAt, user::Column::ConfirmedAt),
        (Field::LastLoginAt, user::Column::LastLoginAt),
        (Field::CurrentLoginAt, user::Column::CurrentLoginAt),
        (Field::LastLoginIp, user::Column::LastLoginIp),
        (Field::CurrentLoginIp, user::Column::CurrentLoginIp),
        (Field::LoginCount, user::Column::LoginCount),
        (Field::Uniquifier, user::Column::FsUniquifier),
    ] {
        let found = <user::Model as SecurityUser>::column(field).unwrap();
        assert_eq!(found.as_str(), column.as_str(), "{field:?}");
    }

    let mut active = <user::ActiveModel as ActiveModelTrait>::default();
    <user::Model as SecurityUser>::set_email(&mut active, "joe@lp.com".into());
    <user::Model as SecurityUser>::set_password(&mut active, None);
    <user::Model as SecurityUser>::set_active(&mut active, false);
    <user::Model as SecurityUser>::set_confirmed_at(&mut active, Some(at));
    <user::Model as SecurityUser>::set_uniquifier(&mut active, "def".into());
    let next = Tracking {
        login_count: Some(2),
        last_login_ip: Some("10.0.0.1".into()),
        ..tracking
    };
    <user::Model as SecurityUser>::set_tracking(&mut active, &next);
    assert_eq!(active.email, ActiveValue::Set("joe@lp.com".to_owned()));
    assert_eq!(active.password, ActiveValue::Set(None));
    assert_eq!(active.active, ActiveValue::Set(false));
    assert_eq!(active.confirmed_at, ActiveValue::Set(Some(at)));
    assert_eq!(active.fs_uniquifier, ActiveValue::Set(Some("def".to_owned())));
    assert_eq!(active.login_count, ActiveValue::Set(Some(2)));
    assert_eq!(active.last_login_ip, ActiveValue::Set(Some("10.0.0.1".to_owned())));
    assert_eq!(active.current_login_at, ActiveValue::Set(Some(at)));
    assert!(active.username.is_not_set());

    let admin = role::Model {
        id: 1,
        name: "admin".into(),
        description: None,
    };
    assert_eq!(SecurityRole::id(&admin), 1);
    assert_eq!(SecurityRole::name(&admin), "admin");
    assert_eq!(SecurityRole::description(&admin), None);
    assert!(matches!(<role::Model as SecurityRole>::name_column(), role::Column::Name));
    let mut active = <role::ActiveModel as ActiveModelTrait>::default();
    <role::Model as SecurityRole>::set_name(&mut active, "editor".into());
    <role::Model as SecurityRole>::set_description(&mut active, Some("Edits".into()));
    assert_eq!(active.name, ActiveValue::Set("editor".to_owned()));
    assert_eq!(active.description, ActiveValue::Set(Some("Edits".to_owned())));
}
