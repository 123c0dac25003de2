// Fields named otherwise, mapped with `#[security(..)]`; a field that has a conventional name
// but is the app's own, skipped; custom link columns; `enum_name` on a column; app fields.

mod user {
    use sea_orm::entity::prelude::*;
    use security::SecurityUser;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, SecurityUser)]
    #[sea_orm(table_name = "user")]
    #[security(
        role = super::role::Entity,
        user_roles = super::roles_users::Entity,
        user_roles_user = "account_id",
        user_roles_role = "group_id"
    )]
    pub struct Model {
        #[sea_orm(primary_key)]
        #[security(id)]
        pub user_pk: i32,
        #[sea_orm(unique)]
        #[security(email)]
        pub mail: String,
        #[security(password)]
        pub pw_hash: Option<String>,
        #[security(active)]
        pub enabled: bool,
        #[security(skip)]
        pub active: Option<String>,
        #[security(confirmed_at)]
        pub verified_on: Option<DateTimeUtc>,
        #[security(uniquifier)]
        pub session_salt: String,
        #[sea_orm(enum_name = "LoginTotal")]
        pub login_count: i64,
        pub nickname: Option<String>,
        pub karma: i32,
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
        #[security(name)]
        pub title: String,
        #[security(skip)]
        pub description: Option<i32>,
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
        pub account_id: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use sea_orm::{ActiveModelTrait, ActiveValue, IdenStatic};
use security::model::Field;
use security::{Confirmable, SecurityRole, SecurityUser, UserFields};

fn confirmable<T: Confirmable>() {}

fn main() {
    confirmable::<user::Model>();
    assert_eq!(
        <user::Model as SecurityUser>::FIELDS,
        UserFields::NONE
            .with(Field::ConfirmedAt)
            .with(Field::LoginCount)
            .with(Field::Uniquifier)
    );

    let user = user::Model {
        user_pk: 3,
        mail: "jill@lp.com".into(),
        pw_hash: Some("hash".into()),
        enabled: false,
        active: Some("yes".into()),
        verified_on: None,
        session_salt: "salt".into(),
        login_count: 4,
        nickname: None,
        karma: 0,
    };
    assert_eq!(user.id(), 3);
    assert_eq!(SecurityUser::email(&user), "jill@lp.com");
    assert_eq!(SecurityUser::password(&user), Some("hash"));
    assert!(!SecurityUser::active(&user));
    assert_eq!(SecurityUser::uniquifier(&user), Some("salt"));
    let tracking = SecurityUser::tracking(&user).unwrap();
    assert_eq!(tracking.login_count, Some(4));
    assert_eq!(tracking.current_login_at, None);

    assert!(matches!(<user::Model as SecurityUser>::id_column(), user::Column::UserPk));
    assert!(matches!(<user::Model as SecurityUser>::email_column(), user::Column::Mail));
    assert!(matches!(<user::Model as SecurityUser>::password_column(), user::Column::PwHash));
    assert!(matches!(<user::Model as SecurityUser>::active_column(), user::Column::Enabled));
    assert!(matches!(
        <user::Model as SecurityUser>::link_user_column(),
        roles_users::Column::AccountId
    ));
    assert!(matches!(
        <user::Model as SecurityUser>::link_role_column(),
        roles_users::Column::GroupId
    ));

    let column = |field| <user::Model as SecurityUser>::column(field).map(|c| c.as_str());
    assert_eq!(column(Field::ConfirmedAt), Some("verified_on"));
    // `enum_name` renames the variant, and so (SeaORM's rule) the column.
    assert_eq!(column(Field::LoginCount), Some("login_total"));
    assert_eq!(column(Field::Uniquifier), Some("session_salt"));
    assert_eq!(column(Field::LastLoginAt), None);

    let mut active = <user::ActiveModel as ActiveModelTrait>::default();
    <user::Model as SecurityUser>::set_active(&mut active, true);
    <user::Model as SecurityUser>::set_uniquifier(&mut active, "pepper".into());
    <user::Model as SecurityUser>::set_tracking(
        &mut active,
        &security::Tracking {
            login_count: Some(5),
            ..Default::default()
        },
    );
    assert_eq!(active.enabled, ActiveValue::Set(true));
    assert!(active.active.is_not_set());
    assert_eq!(active.session_salt, ActiveValue::Set("pepper".to_owned()));
    assert_eq!(active.login_count, ActiveValue::Set(5));

    let admin = role::Model {
        id: 1,
        title: "admin".into(),
        description: Some(1),
    };
    assert_eq!(SecurityRole::name(&admin), "admin");
    assert_eq!(SecurityRole::description(&admin), None);
    assert!(matches!(<role::Model as SecurityRole>::name_column(), role::Column::Title));
    let mut active = <role::ActiveModel as ActiveModelTrait>::default();
    <role::Model as SecurityRole>::set_description(&mut active, Some("ignored".into()));
    assert!(active.description.is_not_set());
}
