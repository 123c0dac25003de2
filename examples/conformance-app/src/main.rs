//! The test app of Flask-Security 1.7.4's own test suite (`tests/conftest.py`), rebuilt on
//! `security` and configured from the environment (see the project's CONTRACT).
//!
//! - `conformance-app serve`: serves HTTP on `127.0.0.1:$PORT` (default 5000).
//! - `conformance-app users …` / `conformance-app roles …`: the users/roles CLI (`users unlock
//!   EMAIL` ends a lockout on every server sharing the database or Redis).
//!
//! Configuration: every `SECURITY_*` key, `SECRET_KEY`, `WTF_CSRF_ENABLED`, `LOGIN_DISABLED`,
//! `DATABASE_URL` (default: an SQLite file `conformance.db` in the working directory; also
//! `postgres://…` or `mysql://…`), and Flask-Mail's `MAIL_*` settings (default `localhost:25`).
//! `SECURITY_THROTTLE_STORE` may be a Redis URL (the app is built with `security`'s `redis`
//! feature), so that several servers share their brute-force counters there or in the database.
//! `CONFORMANCE_CLOCK_START` (unix seconds, for tests) starts the app's clock at that time.
//! `SECURITY_OPENAPI_URL` is `/openapi.json` unless set (empty: not served).
//!
//! The tables are Flask-Security's quick-start schema, so `DATABASE_URL` may name a database
//! that Flask-Security wrote, and the Flask app's tokens, cookies and links keep working
//! (see `docs/migrating-from-flask-security.md`): unlike the library, this app has
//! `SECURITY_FLASK_COMPAT` on unless it is set to `false`.

mod entities;

use std::process::ExitCode;

use askama::Template;
use axum::Router;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use clap::Parser;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Schema};
use security::guard::{AuthRequired, Method, MethodList};
use security::mail::{MailSettings, SmtpTransport};
use security::prelude::*;
use security::{Flash, Flashes, Rejection};

use entities::{role, roles_users, user};

type User = user::Model;

#[derive(Parser)]
#[command(
    name = "conformance-app",
    about = "Flask-Security 1.7.4's test app on `security`"
)]
enum Cli {
    /// Serve HTTP on 127.0.0.1:$PORT.
    Serve,
    #[command(flatten)]
    Security(security::cli::Command),
}

#[derive(Template)]
#[template(path = "index.html")]
struct Page<'a> {
    flashes: &'a [Flash],
    user_email: Option<&'a str>,
    content: &'a str,
    unauthorized: bool,
}

fn page(flashes: Flashes, user: Option<CurrentUser<User>>, content: &str) -> Response {
    render(&flashes.0, &user, content, false)
}

fn render(
    flashes: &[Flash],
    user: &Option<CurrentUser<User>>,
    content: &str,
    unauthorized: bool,
) -> Response {
    let email = user.as_ref().map(|u| u.email.as_str());
    match (Page {
        flashes,
        user_email: email,
        content,
        unauthorized,
    })
    .render()
    {
        Ok(body) => Html(body).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "template failed");
            http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn index(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(flashes, user, "Home Page")
}

#[login_required]
async fn profile(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(flashes, user, "Profile Page")
}

#[login_required]
async fn post_login(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(flashes, user, "Post Login")
}

#[http_auth_required]
async fn http_auth() -> &'static str {
    "HTTP Authentication"
}

#[http_auth_required("My Realm")]
async fn http_custom_realm(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(flashes, user, "HTTP Authentication")
}

#[auth_token_required]
async fn token(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(flashes, user, "Token Authentication")
}

#[auth_required("session", "token", "basic")]
async fn multi_auth(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(flashes, user, "Session, Token, Basic auth")
}

/// API keys (`SECURITY_API_KEYS`): a key sent as `Authorization: Bearer …` reaches this
/// route, and only routes that name the `"api_key"` mechanism.
#[auth_required("api_key")]
async fn api_key(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(flashes, user, "API key")
}

async fn post_logout(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(flashes, user, "Post Logout")
}

async fn post_register(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(flashes, user, "Post Register")
}

/// Flask-Security 5.9's `/post_change_username` (its tests' `conftest.py`): no protection.
async fn post_change_username(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(flashes, user, "Post Change Username")
}

#[roles_required("admin")]
async fn admin(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(flashes, user, "Admin Page")
}

#[roles_required("admin", "editor")]
async fn admin_and_editor(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(flashes, user, "Admin and Editor Page")
}

#[roles_accepted("admin", "editor")]
async fn admin_or_editor(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(flashes, user, "Admin or Editor Page")
}

async fn unauthorized(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    render(&flashes.0, &user, "", true)
}

async fn page1() -> &'static str {
    "Page 1"
}

/// `/fresh`'s mechanisms: the token first, then the session, in the order 5.9 tries them.
struct TokenOrSession;

impl MethodList for TokenOrSession {
    const METHODS: &'static [Method] = &[Method::Token, Method::Session];
}

/// Flask-Security 5.9's `/fresh` (its tests' `conftest.py`): a token or a session authenticated
/// within `SECURITY_FRESHNESS` (and its grace period); JSON when the client asks for it (5.9's
/// `_want_json`). Nobody authenticated gets 5.9's decorator answer: 401 in JSON, else the login
/// page with `next` (the guard's refusal is taken as a `Result` to answer so).
async fn fresh(
    authenticated: Result<AuthRequired<TokenOrSession>, Rejection>,
    headers: http::HeaderMap,
    session: Session,
    user: Result<Fresh<User>, Rejection>,
) -> Response {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let accept = header(http::header::ACCEPT);
    let json = header(http::header::CONTENT_TYPE).starts_with("application/json")
        || (accept.contains("application/json") && !accept.contains("text/html"));
    if let Err(refused) = authenticated
        && (json || !matches!(refused, Rejection::Unauthorized { .. }))
    {
        return refused.into_response();
    }
    // Authenticated: fresh or stale. Not: `Fresh` answers as `login_required` does.
    let user = match user {
        Ok(user) => user,
        Err(refused) => return refused.into_response(),
    };
    if json {
        return axum::Json(serde_json::json!({ "title": "Fresh Only" })).into_response();
    }
    // Taken only now: a refusal above may have flashed a message for the page it leads to.
    render(&session.take_flashes(), &Some(user.0), "Fresh Only", false)
}

/// The app's routes, the security views and the security layer.
fn app(security: &Security<User>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/profile", get(profile))
        .route("/post_login", get(post_login))
        .route("/http", get(http_auth))
        .route("/http_custom_realm", get(http_custom_realm))
        .route("/token", get(token).post(token))
        .route("/multi_auth", get(multi_auth))
        .route("/post_logout", get(post_logout))
        .route("/post_register", get(post_register))
        .route("/admin", get(admin))
        .route("/admin_and_editor", get(admin_and_editor))
        .route("/admin_or_editor", get(admin_or_editor))
        .route("/unauthorized", get(unauthorized))
        .route("/page1", get(page1))
        .route("/fresh", get(fresh).post(fresh))
        .route("/api_key", get(api_key))
        .route("/post_change_username", get(post_change_username))
        .merge(security.router())
        .layer(security.layer())
}

/// Creates the tables of the quick-start models and of the runtime, if missing.
async fn create_tables(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    let schema = Schema::new(db.get_database_backend());
    let mut user = schema.create_table_from_entity(user::Entity);
    let mut role = schema.create_table_from_entity(role::Entity);
    let mut link = schema.create_table_from_entity(roles_users::Entity);
    for statement in [
        user.if_not_exists(),
        role.if_not_exists(),
        link.if_not_exists(),
    ] {
        db.execute(&*statement).await?;
    }
    add_username_column(db).await?;
    security::schema::create_tables(db).await
}

/// [`create_tables`], tried again when it fails: PostgreSQL's `CREATE … IF NOT EXISTS` is not
/// atomic, so two processes (servers of a fleet, or a server and the CLI) starting together on
/// an empty database collide on the catalog (a duplicate key in `pg_type` or `pg_class`) while
/// the other creates the same table; a later attempt finds it made.
async fn create_tables_once_ready(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    const ATTEMPTS: u32 = 5;
    let mut attempt = 1;
    loop {
        match create_tables(db).await {
            Err(err) if attempt < ATTEMPTS => {
                tracing::info!(error = %err, attempt, "creating the tables failed; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt))).await;
                attempt += 1;
            }
            done => return done,
        }
    }
}

/// A database that Flask-Security's quick-start models wrote has no `username` column (1.7.4's
/// test app added one): add it, empty. Flask-Security reads the table as before.
async fn add_username_column(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    use sea_orm::{EntityTrait, QuerySelect};
    let probe = user::Entity::find()
        .select_only()
        .column(user::Column::Username)
        .limit(0)
        .into_tuple::<Option<String>>()
        .all(db)
        .await;
    if probe.is_ok() {
        return Ok(());
    }
    tracing::info!("adding the column `user.username` to a Flask-Security database");
    let statement = sea_orm::sea_query::Table::alter()
        .table(user::Entity)
        .add_column(
            sea_orm::sea_query::ColumnDef::new(user::Column::Username)
                .string_len(255)
                .null(),
        )
        .to_owned();
    db.execute(&statement).await?;
    // Usernames are unique (compared folded): the database enforces it, also between racing
    // requests. A new, empty column has no duplicates to refuse the index.
    let index = sea_orm::sea_query::Index::create()
        .name("ix_user_username")
        .table(user::Entity)
        .col(user::Column::Username)
        .unique()
        .to_owned();
    db.execute(&index).await.map(|_| ())
}

async fn start() -> Result<(Security<User>, DatabaseConnection), String> {
    let mut config = Config::from_env().map_err(|e| e.to_string())?;
    if std::env::var("SECURITY_FLASK_COMPAT").is_ok_and(|v| v.is_empty())
        || std::env::var_os("SECURITY_FLASK_COMPAT").is_none()
    {
        // This app stands in for a Flask-Security 1.7.4 app: it takes over what one handed
        // out unless told otherwise (the library's default is off).
        config.flask_compat = true;
    }
    if std::env::var_os("SECURITY_OPENAPI_URL").is_none() {
        // The document of the security views, which schemathesis checks the server against
        // (scripts/schemathesis.sh); an empty value turns it off.
        config.openapi_url = Some("/openapi.json".to_owned());
    }
    if config.server_name.is_none() && config.allowed_hosts.is_empty() {
        // Mailed links name the host the suite talks to; the library never takes one from a
        // `Host` header that is not configured.
        let port = port()?;
        config.allowed_hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    }
    let url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "sqlite://conformance.db?mode=rwc".to_owned());
    let db = Database::connect(&url)
        .await
        .map_err(|e| format!("cannot open the database `{url}`: {e}"))?;
    create_tables_once_ready(&db)
        .await
        .map_err(|e| format!("cannot create the tables: {e}"))?;
    let mail = MailSettings::from_env().map_err(|e| e.to_string())?;
    let mailer = SmtpTransport::new(&mail).map_err(|e| e.to_string())?;
    let mut builder = Security::builder(db.clone(), config).mailer(mailer);
    if let Some(start) = clock_start()? {
        builder = builder.clock(security::token::OffsetClock::starting_at(start));
    }
    let security = builder.build().await.map_err(|e| e.to_string())?;
    Ok((security, db))
}

/// `CONFORMANCE_CLOCK_START` (unix seconds): the app's clock starts there and advances in real
/// time, so that tests can use tokens made at a known time (the Flask-Security 1.7.4 fixtures).
fn clock_start() -> Result<Option<i64>, String> {
    match std::env::var("CONFORMANCE_CLOCK_START") {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map(Some)
            .map_err(|_| format!("invalid CONFORMANCE_CLOCK_START `{v}`: unix seconds expected")),
        _ => Ok(None),
    }
}

/// `PORT`, 5000 by default.
fn port() -> Result<u16, String> {
    match std::env::var("PORT") {
        Ok(p) if !p.is_empty() => p.parse().map_err(|_| format!("invalid PORT `{p}`")),
        _ => Ok(5000),
    }
}

async fn serve(security: Security<User>) -> Result<(), String> {
    let port = port()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    tracing::info!("listening on http://127.0.0.1:{port}");
    serve::serve(
        listener,
        app(&security),
        serve::Timeouts::default(),
        serve::shutdown_signal(),
    )
    .await
    .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let (security, _db) = match start().await {
        Ok(started) => started,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    match cli {
        Cli::Serve => match serve(security).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        },
        Cli::Security(command) => match security::cli::run(&security, command).await {
            Ok(output) => {
                print!("{output}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        },
    }
}
