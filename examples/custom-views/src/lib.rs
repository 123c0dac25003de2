//! How an app customises `security`, each piece tested in the integration tests:
//!
//! - its own askama login page, registered under Flask-Security's template name;
//! - a context processor for every page and one for the registration page only;
//! - its own reset-instructions e-mail and a mail context processor;
//! - extra registration fields (first and last name), validated and stored on the user;
//! - a message text of its own.

use askama::Template;
use sea_orm::DatabaseConnection;
use security::mail::MailTransport;
use security::messages::MessageKey;
use security::views::{EmailContext, ViewContext, ViewName};
use security::{Config, Security};

/// The entities: Flask-Security's quick start plus the user's names.
pub mod entities {
    /// `user`.
    pub mod user {
        use sea_orm::entity::prelude::*;
        use security::SecurityUser;

        /// A user with a first and last name.
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
            /// Password hash.
            pub password: Option<String>,
            /// Active flag.
            pub active: bool,
            /// First name, asked at registration.
            pub first_name: String,
            /// Last name, asked at registration.
            pub last_name: String,
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
}

/// The user model.
pub type User = entities::user::Model;

/// The app's login page.
#[derive(Template)]
#[template(path = "my_login.html")]
struct MyLogin<'a> {
    ctx: &'a ViewContext,
}

/// The app's reset-instructions mail, text part.
#[derive(Template)]
#[template(path = "my_reset_instructions.txt")]
struct MyResetText<'a> {
    ctx: &'a EmailContext,
}

/// The app's reset-instructions mail, HTML part.
#[derive(Template)]
#[template(path = "my_reset_instructions.html")]
struct MyResetHtml<'a> {
    ctx: &'a EmailContext,
}

fn name_field(what: &'static str) -> impl Fn(&str) -> Result<sea_orm::Value, String> {
    move |value: &str| {
        if value.is_empty() {
            Err(format!("{what} not provided"))
        } else if value.chars().count() > 100 {
            Err(format!("{what} is too long"))
        } else {
            Ok(value.to_owned().into())
        }
    }
}

/// The customised runtime: registration and recovery on, the app's templates, processors,
/// fields and message.
///
/// # Errors
/// An invalid configuration, or the runtime tables are missing.
pub async fn security(
    db: DatabaseConnection,
    mut config: Config,
    mailer: impl MailTransport,
) -> Result<Security<User>, security::Error> {
    config.messages.set(
        MessageKey::InvalidPassword,
        "That password is not right",
        "error",
    );
    Security::builder(db, config)
        .registerable()
        .recoverable()
        .mailer(mailer)
        .with_templates(|t| {
            t.page("security/login_user.html", |ctx| MyLogin { ctx }.render());
            t.email("security/email/reset_instructions", |ctx| {
                Ok((MyResetText { ctx }.render()?, MyResetHtml { ctx }.render()?))
            });
            t.context_processor(|ctx| {
                ctx.extra.insert("site".into(), "Example Site".into());
            });
            t.view_context_processor(ViewName::LoginUser, |ctx| {
                ctx.extra.insert("motd".into(), "Welcome back".into());
            });
            t.view_context_processor(ViewName::RegisterUser, |ctx| {
                ctx.extra.insert("terms".into(), "/terms".into());
            });
            t.mail_context_processor(|ctx| {
                ctx.extra.insert("site".into(), "Example Site".into());
            });
        })
        .register_field("first_name", "First Name", name_field("First name"))
        .register_field("last_name", "Last Name", name_field("Last name"))
        .build()
        .await
}
