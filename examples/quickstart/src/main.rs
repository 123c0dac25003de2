//! The quick start of the README: Flask-Security's SQLAlchemy quick start, on axum and SeaORM.
//!
//! `cargo run -p quickstart`, then open <http://127.0.0.1:3000> and log in as
//! `matt@example.com` / `password`. The database is an SQLite file, `quickstart.db`; mail
//! (confirmation, reset and notice mails) is written as `.eml` files into `quickstart-mail/`.
//!
//! Environment (all optional; the browser tests in `browser-tests/` set them):
//! `QUICKSTART_ADDR` (the address to listen on and the host of mailed links, default
//! `127.0.0.1:3000`), `QUICKSTART_DATABASE_URL` (default `sqlite://quickstart.db?mode=rwc`),
//! `QUICKSTART_MAIL_DIR` (where mail files go, default `quickstart-mail`), `SECRET_KEY`
//! (without it the quick start is a demonstration, with a public key and the test account,
//! and listens only on a loopback address).

use axum::{Router, response::Response, routing::get};
use sea_orm::{ConnectionTrait, Database, Schema};
use security::prelude::*;
use security::views::{Page, PageBody};

mod user {
    use sea_orm::entity::prelude::*;
    use security::SecurityUser;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SecurityUser)]
    #[sea_orm(table_name = "user")]
    // The ready-made role and user–role link entities.
    #[security(
        role = security::entities::role::Entity,
        user_roles = security::entities::roles_users::Entity
    )]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(unique)]
        pub email: String,
        pub password: Option<String>,
        pub active: bool,
        pub confirmed_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The home page, for everyone: who is logged in, and links to the enabled flows, in the
/// layout of the security views (their menu, flashes and stylesheet).
async fn home(page: Page<user::Model>) -> Response {
    let urls = page.urls();
    let features = page.features();
    let body = match page.user() {
        Some(user) => {
            let mut links = vec![("Your profile (a page behind #[login_required])", "/profile")];
            if features.changeable {
                links.push(("Change your password", urls.change_password.as_str()));
            }
            PageBody::new()
                .paragraph(&format!("You are logged in as {}.", user.email))
                .links(links)
                .paragraph("Log out with the “Log out” button below.")
        }
        None => {
            let mut links = vec![("Log in", urls.login.as_str())];
            if features.registerable {
                links.push(("Register", urls.register.as_str()));
            }
            if features.recoverable {
                links.push(("Forgot your password?", urls.forgot_password.as_str()));
            }
            if features.confirmable {
                links.push((
                    "Resend the confirmation mail",
                    urls.send_confirmation.as_str(),
                ));
            }
            links.push(("Your profile (asks you to log in first)", "/profile"));
            PageBody::new()
                .paragraph("Nobody is logged in.")
                .links(links)
                .paragraph("The test account is matt@example.com, password “password”.")
        }
    };
    page.render("Quick start", body)
}

/// A page only logged-in users see: anyone else is sent to the login page.
#[login_required]
async fn profile(user: CurrentUser<user::Model>, page: Page<user::Model>) -> Response {
    let body = PageBody::new()
        .paragraph(&format!("Your e-mail address is {}.", user.email))
        .links([("Home", "/")]);
    page.render("Your profile", body)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // What a person wants to read: the app's and the library's events, not every SQL
    // statement (RUST_LOG overrides it, e.g. RUST_LOG=debug or RUST_LOG=info,sqlx=info).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();

    let env = |key: &str, default: &str| std::env::var(key).unwrap_or_else(|_| default.to_owned());
    let addr = env("QUICKSTART_ADDR", "127.0.0.1:3000");
    // Without a SECRET_KEY of your own, the quick start is a demonstration: a key everyone
    // knows and a test account, so it only listens on this machine.
    let own_key = std::env::var("SECRET_KEY")
        .ok()
        .filter(|key| !key.is_empty());
    let demo = own_key.is_none();
    if demo && !addr.parse::<std::net::SocketAddr>()?.ip().is_loopback() {
        return Err(format!(
            "QUICKSTART_ADDR={addr} is reachable from other machines: set SECRET_KEY to a long \
             random value of your own first (the demonstration key and account are public)"
        )
        .into());
    }
    let secret = own_key.unwrap_or_else(|| "change-me-in-production-0123456789".to_owned());
    let mail_dir = env("QUICKSTART_MAIL_DIR", "quickstart-mail");
    std::fs::create_dir_all(&mail_dir)?;

    let db = Database::connect(env(
        "QUICKSTART_DATABASE_URL",
        "sqlite://quickstart.db?mode=rwc",
    ))
    .await?;
    let schema = Schema::new(db.get_database_backend());
    for mut table in [
        schema.create_table_from_entity(user::Entity),
        schema.create_table_from_entity(security::entities::role::Entity),
        schema.create_table_from_entity(security::entities::roles_users::Entity),
    ] {
        db.execute(table.if_not_exists()).await?;
    }
    // The runtime's own tables (revoked sessions, the mail outbox, used one-shot links).
    security::schema::create_tables(&db).await?;

    let config = Config::from_vars([
        // Sessions and tokens are signed with it: a long random value of your own (SECRET_KEY).
        ("SECRET_KEY", secret.as_str()),
        // The host that links in mail name (only this one, whatever a request's `Host` says).
        ("SERVER_NAME", addr.as_str()),
        // Registration, e-mail confirmation, password recovery and change.
        ("SECURITY_REGISTERABLE", "true"),
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_CHANGEABLE", "true"),
    ])?;
    // Mail is written as `.eml` files (use `security::mail::SmtpTransport` for real mail).
    let security: Security<user::Model> = Security::builder(db, config)
        .mailer(security::mail::FileTransport::new(&mail_dir))
        .build()
        .await?;

    // A user to test with, in the demonstration only; confirmed so that it logs in without the
    // mailed link (an older quickstart.db has it unconfirmed).
    if demo {
        let matt = match security
            .datastore()
            .find_user_by_email("matt@example.com")
            .await?
        {
            Some(user) => user,
            None => {
                let user = security::NewUser::new("matt@example.com", Some("password"));
                security.datastore().create_user(user).await?
            }
        };
        security
            .datastore()
            .confirm_user(&matt, sea_orm::prelude::ChronoUtc::now())
            .await?;
    }

    let app = Router::new()
        .route("/", get(home))
        .route("/profile", get(profile))
        .merge(security.router())
        .layer(security.layer());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let account = if demo {
        " (test account: matt@example.com / password)"
    } else {
        ""
    };
    println!("Quick start listening on http://{addr}{account}; mail is written into {mail_dir}/");
    // With header-read and idle timeouts (see examples/serve).
    serve::serve(
        listener,
        app,
        serve::Timeouts::default(),
        serve::shutdown_signal(),
    )
    .await?;
    Ok(())
}
