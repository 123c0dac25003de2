//! `cargo run -p custom-views`: the customised views on <http://127.0.0.1:3001>, mail written
//! to `./mail/` as `.eml` files.

use axum::Router;
use axum::routing::get;
use custom_views::entities::{role, roles_users, user};
use sea_orm::{ConnectionTrait, Database, Schema};
use security::Config;
use security::mail::FileTransport;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let db = Database::connect("sqlite://custom-views.db?mode=rwc").await?;
    let schema = Schema::new(db.get_database_backend());
    for mut table in [
        schema.create_table_from_entity(user::Entity),
        schema.create_table_from_entity(role::Entity),
        schema.create_table_from_entity(roles_users::Entity),
    ] {
        db.execute(table.if_not_exists()).await?;
    }
    security::schema::create_tables(&db).await?;
    std::fs::create_dir_all("mail")?;
    let config = Config::from_vars([
        ("SECRET_KEY", "change-me-in-production-0123456789"),
        ("SERVER_NAME", "127.0.0.1:3001"),
    ])?;
    let security = custom_views::security(db, config, FileTransport::new("mail")).await?;
    let app = Router::new()
        .route(
            "/",
            get(|| async { "Home: try /login, /register and /reset" }),
        )
        .merge(security.router())
        .layer(security.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    println!("Open http://127.0.0.1:3001/register");
    serve::serve(
        listener,
        app,
        serve::Timeouts::default(),
        serve::shutdown_signal(),
    )
    .await?;
    Ok(())
}
