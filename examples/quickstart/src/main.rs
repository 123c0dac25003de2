//! The quick start of the README: Flask-Security's SQLAlchemy quick start, on axum and SeaORM.
//!
//! `cargo run -p quickstart`, then open <http://127.0.0.1:3000> and log in as
//! `matt@example.com` / `password`. The database is an SQLite file, `quickstart.db`.

use axum::{Router, routing::get};
use sea_orm::{ConnectionTrait, Database, Schema};
use security::prelude::*;

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

/// A page only logged-in users see.
#[login_required]
async fn home(user: CurrentUser<user::Model>) -> String {
    format!("Hello {}! (log out at /logout)", user.email)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();

    let db = Database::connect("sqlite://quickstart.db?mode=rwc").await?;
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
        // Sessions and tokens are signed with it: use a long random value of your own.
        ("SECRET_KEY", "change-me-in-production-0123456789"),
        // The host that links in mail name (only this one, whatever a request's `Host` says).
        ("SERVER_NAME", "127.0.0.1:3000"),
    ])?;
    let security: Security<user::Model> = Security::builder(db, config).build().await?;

    // Create a user to test with.
    if security
        .datastore()
        .find_user_by_email("matt@example.com")
        .await?
        .is_none()
    {
        let user = security::NewUser::new("matt@example.com", Some("password"));
        security.datastore().create_user(user).await?;
    }

    let app = Router::new()
        .route("/", get(home))
        .merge(security.router())
        .layer(security.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("Open http://127.0.0.1:3000 and log in as matt@example.com / password");
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
