//! Shared support for the integration tests: entities, a database per test on the backend
//! under test, the app built on the real router, a cookie-keeping client that drives it with
//! `oneshot`, and the mail that lettre's file transport wrote.
//!
//! The backends: SQLite always; PostgreSQL and MySQL when `SECURITY_TEST_POSTGRES_URL` /
//! `SECURITY_TEST_MYSQL_URL` are set when the tests are built (each test gets a database of its
//! own there); without them, the tests of that backend are reported as ignored.
//!
//! The apps run with the defaults a user gets: CSRF protection on and Argon2 hashes (at the
//! cheapest cost, so that the suite stays fast). The client carries the CSRF token as a
//! browser does.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Schema};
use security::prelude::*;
use security::token::{Clock, SystemClock};
use security::{CsrfToken, Flashes, NewUser};
use tower::ServiceExt;

pub mod entities;

/// The user model of the tests.
pub type User = entities::user::Model;

/// A database backend to run a test on.
#[derive(Clone, Debug)]
pub enum Backend {
    /// SQLite in a temporary file.
    Sqlite,
    /// PostgreSQL at this server URL.
    Postgres(String),
    /// MySQL or MariaDB at this server URL.
    Mysql(String),
}

impl Backend {
    /// PostgreSQL at `SECURITY_TEST_POSTGRES_URL`.
    ///
    /// # Panics
    ///
    /// When the variable is not set: a test that asks for PostgreSQL fails rather than passes
    /// without it.
    pub fn postgres() -> Backend {
        Backend::Postgres(server_url("SECURITY_TEST_POSTGRES_URL"))
    }

    /// MySQL at `SECURITY_TEST_MYSQL_URL`.
    ///
    /// # Panics
    ///
    /// When the variable is not set: a test that asks for MySQL fails rather than passes
    /// without it.
    pub fn mysql() -> Backend {
        Backend::Mysql(server_url("SECURITY_TEST_MYSQL_URL"))
    }
}

fn server_url(var: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{var} is not set (it was when the tests were built)"))
}

/// Instantiates async test functions `fn(Backend)` once per backend: `sqlite::name`,
/// `postgres::name`, `mysql::name`. A server backend whose URL variable was not set when the
/// tests were built is ignored, with the variable to set as the reason (see `build.rs`).
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(security_test_postgres),
                    ignore = "set SECURITY_TEST_POSTGRES_URL to run it on PostgreSQL"
                )]
                async fn $name() {
                    super::$name($crate::Backend::postgres()).await
                }
            )*
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(security_test_mysql),
                    ignore = "set SECURITY_TEST_MYSQL_URL to run it on MySQL"
                )]
                async fn $name() {
                    super::$name($crate::Backend::mysql()).await
                }
            )*
        }
    };
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("sectest_{}_{}_{}", std::process::id(), n, nanos)
}

/// A fresh database with the tables of the tests.
pub struct TestDb {
    /// The connection.
    pub db: DatabaseConnection,
    url: String,
    drop_url: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Creates a database on the backend and the tables in it.
    pub async fn new(backend: &Backend) -> TestDb {
        let (db, url, drop_url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
                (
                    Database::connect(&url).await.expect("sqlite"),
                    url,
                    None,
                    Some(dir),
                )
            }
            Backend::Postgres(url) | Backend::Mysql(url) => {
                let name = unique_name();
                let server = Database::connect(url).await.expect("database server");
                server
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create database");
                server.close().await.ok();
                let db_url = replace_db_name(url, &name);
                let db = Database::connect(&db_url).await.expect("test database");
                (db, db_url, Some((url.clone(), name)), None)
            }
        };
        create_tables(&db).await.expect("tables");
        TestDb {
            db,
            url,
            drop_url,
            _dir: dir,
        }
    }

    /// The URL of this database, to open another pool to it (a second instance of an app).
    /// Close that pool before the `TestDb` is dropped, or the database may outlive the test.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((url, name)) = self.drop_url.take() {
            // Drop the per-test database on a thread of its own (no async in Drop).
            let db = self.db.clone();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    db.close().await.ok();
                    if let Ok(server) = Database::connect(&url).await {
                        let _ = server
                            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
                            .await;
                        server.close().await.ok();
                    }
                });
            })
            .join();
        }
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Creates the tables of the test entities and of the runtime.
pub async fn create_tables(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    let schema = Schema::new(db.get_database_backend());
    let mut user = schema.create_table_from_entity(entities::user::Entity);
    let mut role = schema.create_table_from_entity(entities::role::Entity);
    let mut link = schema.create_table_from_entity(entities::roles_users::Entity);
    for statement in [
        user.if_not_exists(),
        role.if_not_exists(),
        link.if_not_exists(),
    ] {
        db.execute(&*statement).await?;
    }
    if db.get_database_backend() == sea_orm::DatabaseBackend::MySql {
        // As the README advises: byte-exact, so that addresses that differ by more than the
        // library's case fold (`abc@` and `äbc@`) are two accounts, as on the other databases.
        db.execute_unprepared(
            "ALTER TABLE `user` MODIFY `email` VARCHAR(255) CHARACTER SET utf8mb4 \
             COLLATE utf8mb4_bin NOT NULL",
        )
        .await?;
    }
    security::schema::create_tables(db).await
}

/// A fixture user: (email, username, password, roles, active).
pub type FixtureUser = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [&'static str],
    bool,
);

/// The fixture users of Flask-Security 1.7.4's tests.
pub const FIXTURE_USERS: &[FixtureUser] = &[
    ("matt@lp.com", "matt", Some("password"), &["admin"], true),
    ("joe@lp.com", "joe", Some("password"), &["editor"], true),
    (
        "dave@lp.com",
        "dave",
        Some("password"),
        &["admin", "editor"],
        true,
    ),
    ("jill@lp.com", "jill", Some("password"), &["author"], true),
    ("tiya@lp.com", "tiya", Some("password"), &[], false),
    ("jess@lp.com", "jess", None, &[], true),
];

/// A page of the test app: flashes, `Hello EMAIL`, the content.
fn page(flashes: &Flashes, user: &Option<CurrentUser<User>>, content: &str) -> Response {
    let mut out = String::from("<html><body>");
    for flash in &flashes.0 {
        out.push_str(&format!(
            "<li class=\"{}\">{}</li>",
            flash.category, flash.message
        ));
    }
    if let Some(user) = user {
        out.push_str(&format!("<p>Hello {}</p>", user.email));
    }
    out.push_str(&format!("<p>{content}</p></body></html>"));
    Html(out).into_response()
}

async fn index(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(&flashes, &user, "Home Page")
}

#[login_required]
async fn profile(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(&flashes, &user, "Profile Page")
}

#[http_auth_required]
async fn http_auth() -> &'static str {
    "HTTP Authentication"
}

#[http_auth_required("My Realm")]
async fn http_custom_realm() -> &'static str {
    "HTTP Authentication"
}

#[auth_token_required]
async fn token(user: CurrentUser<User>) -> String {
    format!("Token Authentication {}", user.email)
}

#[auth_required("session", "token", "basic")]
async fn multi_auth(user: CurrentUser<User>) -> String {
    format!("Session, Token, Basic auth {}", user.email)
}

#[roles_required("admin")]
async fn admin(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(&flashes, &user, "Admin Page")
}

#[roles_required("admin", "editor")]
async fn admin_and_editor(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(&flashes, &user, "Admin and Editor Page")
}

#[roles_accepted("admin", "editor")]
async fn admin_or_editor(flashes: Flashes, user: Option<CurrentUser<User>>) -> Response {
    page(&flashes, &user, "Admin or Editor Page")
}

#[auth_token_required]
#[roles_required("admin")]
async fn token_admin(user: CurrentUser<User>) -> String {
    format!("Token Admin {}", user.email)
}

/// The path of the app's own form page (`token_page`), which shows the session's CSRF token.
pub const TOKEN_PAGE: &str = "/form";

/// A page of the app's own holding a form: what a browser loads before posting, and where the
/// client reads the CSRF token from.
async fn token_page(CsrfToken(token): CsrfToken) -> Html<String> {
    Html(format!(
        "<html><body><form method=\"post\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{token}\"></form></body></html>"
    ))
}

async fn page1() -> &'static str {
    "Page 1"
}

/// Flask-Security 5.9's `/fresh` of its test app: a token or a session authenticated within
/// `SECURITY_FRESHNESS` (with its grace period); JSON when asked for.
#[auth_required("token", "session")]
async fn fresh(
    user: security::Fresh<User>,
    flashes: Flashes,
    headers: http::HeaderMap,
) -> Response {
    let json = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if json {
        return axum::Json(serde_json::json!({ "title": "Fresh Only" })).into_response();
    }
    page(&flashes, &Some(user.0), "Fresh Only")
}

/// A window of its own and no grace period: a session authenticated within the last minute.
#[auth_required("session", "token", within = "1 minute", grace = "0 seconds")]
async fn fresh_minute() -> &'static str {
    "Fresh Minute"
}

/// `within` 0: only a grace period that an earlier check opened passes (5.9's
/// `test_authn_freshness_grace`).
#[auth_required("session", within = "0 seconds", grace = "10 minutes")]
async fn fresh_grace_only() -> &'static str {
    "Fresh Grace Only"
}

/// Basic credentials are checked on every request: always fresh, even for `within` 0.
#[auth_required("basic", within = "0 seconds")]
async fn fresh_basic() -> &'static str {
    "Fresh Basic"
}

/// What a guarded handler answers when it ran: the review's OPTIONS bypass ran such handlers.
pub const ADMIN_ACTION: &str = "Admin action ran";

#[roles_required("admin")]
async fn admin_action() -> &'static str {
    ADMIN_ACTION
}

// The guards in the "wrong" order: the token's user is the one whose roles count.
#[roles_required("admin")]
#[auth_token_required]
async fn roles_then_token(user: CurrentUser<User>) -> String {
    format!("Token Admin {}", user.email)
}

#[login_required]
#[auth_token_required]
async fn session_and_token(user: CurrentUser<User>) -> String {
    format!("Session and Token {}", user.email)
}

#[login_required]
async fn app_post(user: CurrentUser<User>) -> String {
    format!("Posted by {}", user.email)
}

async fn csrf_header(_: security::csrf::CsrfChecked) -> &'static str {
    "Checked"
}

/// A form of the app's own.
#[derive(serde::Deserialize)]
pub struct Rename {
    /// The new name.
    pub name: String,
}

async fn csrf_form(security::csrf::CsrfForm(form): security::csrf::CsrfForm<Rename>) -> String {
    format!("Renamed to {}", form.name)
}

/// The app of the tests: 1.7.4's test routes, the security views and the layer.
pub fn router(security: &Security<User>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/profile", get(profile))
        .route("/post_login", get(profile))
        .route("/http", get(http_auth))
        .route("/http_custom_realm", get(http_custom_realm))
        .route("/token", get(token).post(token))
        .route("/token_admin", get(token_admin))
        .route("/multi_auth", get(multi_auth))
        .route("/admin", get(admin))
        .route("/admin_and_editor", get(admin_and_editor))
        .route("/admin_or_editor", get(admin_or_editor))
        .route("/page1", get(page1))
        .route("/fresh", get(fresh).post(fresh))
        .route("/fresh_minute", get(fresh_minute))
        .route("/fresh_grace_only", get(fresh_grace_only))
        .route("/fresh_basic", get(fresh_basic))
        .route(TOKEN_PAGE, get(token_page))
        .route("/any_admin", axum::routing::any(admin_action))
        .route("/options_admin", get(admin_action).options(admin_action))
        .route("/roles_then_token", get(roles_then_token))
        .route("/session_and_token", get(session_and_token))
        .route("/app_post", axum::routing::post(app_post).put(app_post))
        .route("/csrf_header", axum::routing::post(csrf_header))
        .route("/csrf_form", axum::routing::post(csrf_form))
        .merge(security.router())
        .layer(security.layer())
}

/// The test app: a database, the runtime, the router and a mail directory.
pub struct TestApp {
    /// The runtime.
    pub security: Security<User>,
    /// The router (with the layer).
    pub router: Router,
    /// Where lettre's file transport writes the mail.
    pub mail_dir: tempfile::TempDir,
    /// The database.
    pub db: TestDb,
    /// The app's clock, which a test moves forward to age sessions and tokens.
    pub clock: TestClock,
}

/// The clock of the test apps: the system clock, moved forward by [`TestClock::advance`], so
/// that a test can age a session or a token without waiting. Clones share one offset.
#[derive(Clone, Debug, Default)]
pub struct TestClock {
    offset: Arc<AtomicI64>,
}

impl TestClock {
    /// Moves the clock `seconds` forward (backward when negative).
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> i64 {
        SystemClock
            .now()
            .saturating_add(self.offset.load(Ordering::SeqCst))
    }
}

/// Configuration used by every test app unless overridden. CSRF protection and the hash
/// scheme keep their defaults (on, and Argon2), as a user gets them.
pub const BASE_VARS: &[(&str, &str)] = &[
    ("SECRET_KEY", "test-secret-key-0123456789"),
    ("SECURITY_ALLOWED_HOSTS", "localhost"),
];

/// The Argon2 cost of the test apps (`m_cost` KiB, `t_cost`, `p_cost`): the smallest Argon2
/// accepts, so that hashing is real but does not slow the suite down.
pub const TEST_ARGON2_COST: (u32, u32, u32) = (8, 1, 1);

impl TestApp {
    /// An app on `backend` with the base configuration plus `vars`, seeded with the fixture
    /// roles and users.
    pub async fn new(backend: &Backend, vars: &[(&str, &str)]) -> TestApp {
        Self::build(backend, vars, |b| b).await
    }

    /// [`TestApp::new`] with a last change to the builder.
    pub async fn build(
        backend: &Backend,
        vars: &[(&str, &str)],
        customize: impl FnOnce(security::SecurityBuilder<User>) -> security::SecurityBuilder<User>,
    ) -> TestApp {
        let db = TestDb::new(backend).await;
        let mut all: BTreeMap<&str, &str> = BASE_VARS.iter().copied().collect();
        all.extend(vars.iter().copied());
        let config = Config::from_vars(all).expect("config");
        let mail_dir = tempfile::tempdir().expect("mail dir");
        let (m_cost, t_cost, p_cost) = TEST_ARGON2_COST;
        let clock = TestClock::default();
        let builder = Security::builder(db.db.clone(), config)
            .mailer(security::mail::FileTransport::new(mail_dir.path()))
            .argon2_cost(m_cost, t_cost, p_cost)
            .clock(clock.clone());
        let security = customize(builder).build().await.expect("security");
        let app = TestApp {
            router: router(&security),
            security,
            mail_dir,
            db,
            clock,
        };
        app.seed().await;
        app
    }

    async fn seed(&self) {
        let store = self.security.datastore();
        for role in ["admin", "editor", "author"] {
            store.create_role(role, None).await.expect("role");
        }
        for (email, username, password, roles, active) in FIXTURE_USERS {
            let mut new = NewUser::new(*email, *password)
                .active(*active)
                .field("username", *username);
            for role in *roles {
                new = new.role(*role);
            }
            store.create_user(new).await.expect("fixture user");
        }
    }

    /// A user by address.
    pub async fn user(&self, email: &str) -> User {
        self.security
            .datastore()
            .find_user_by_email(email)
            .await
            .expect("db")
            .expect("user exists")
    }

    /// Sets `email`'s password through the datastore, behind the views' back, and drops the
    /// account from the identity cache, as the app's own change would.
    pub async fn set_password(&self, email: &str, password: &str) {
        let user = self.user(email).await;
        self.security
            .datastore()
            .set_password(&user, password)
            .await
            .expect("set password");
        self.security.forget_identity(&user.id);
    }

    /// A client with its own cookies; with CSRF on it loads [`TOKEN_PAGE`] for the token of
    /// each form or JSON post it sends.
    pub fn client(&self) -> Client {
        let client = client_for(self.router.clone());
        if self.security.config().csrf_enabled {
            client.with_token_page(TOKEN_PAGE)
        } else {
            client
        }
    }

    /// Every mail sent so far, oldest first, once the outbox has delivered what is due.
    pub fn mails(&self) -> Vec<Mail> {
        self.flush_mail();
        let mut entries: Vec<_> = std::fs::read_dir(self.mail_dir.path())
            .expect("mail dir")
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| {
                let modified = e.metadata().and_then(|m| m.modified()).ok();
                (modified, e.path())
            })
            .collect();
        entries.sort();
        entries
            .into_iter()
            .map(|(_, path)| Mail::parse(&std::fs::read(path).expect("mail file")))
            .collect()
    }

    /// Delivers the queued mail that is due now (the outbox's background sender would, a
    /// moment later). For the multi-threaded runtime of the tests.
    pub fn flush_mail(&self) {
        let security = self.security.clone();
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current()
                .block_on(security.flush_mail())
                .expect("outbox")
        });
    }

    /// The mails to one address.
    pub fn mails_to(&self, to: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.to_lowercase().contains(&to.to_lowercase()))
            .collect()
    }
}

/// A parsed mail.
#[derive(Clone, Debug)]
pub struct Mail {
    /// `Subject`.
    pub subject: String,
    /// `From`.
    pub from: String,
    /// `To`.
    pub to: String,
    /// The `text/plain` part.
    pub text: String,
    /// The `text/html` part.
    pub html: String,
}

impl Mail {
    fn parse(raw: &[u8]) -> Mail {
        let parsed = mailparse::parse_mail(raw).expect("a mail");
        let header = |name: &str| {
            parsed
                .headers
                .iter()
                .find(|h| h.get_key().eq_ignore_ascii_case(name))
                .map(|h| h.get_value())
                .unwrap_or_default()
        };
        let mut mail = Mail {
            subject: header("Subject"),
            from: header("From"),
            to: header("To"),
            text: String::new(),
            html: String::new(),
        };
        for part in parsed.parts() {
            let body = part.get_body().unwrap_or_default();
            match part.ctype.mimetype.as_str() {
                "text/plain" => mail.text.push_str(&body),
                "text/html" => mail.html.push_str(&body),
                _ => {}
            }
        }
        mail
    }

    /// The first link whose path starts with `prefix` (`/reset/`, …), from the text part.
    pub fn link(&self, prefix: &str) -> String {
        let found = self
            .text
            .split_whitespace()
            .chain(self.html.split(['"', '<', '>', ' ']))
            .find(|w| {
                w.starts_with("http")
                    && w.split_once("://")
                        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                        .is_some_and(|p| p.starts_with(prefix))
            })
            .unwrap_or_else(|| panic!("no link under {prefix} in {self:?}"));
        found.to_owned()
    }

    /// The path (and query) of [`Mail::link`].
    pub fn link_path(&self, prefix: &str) -> String {
        let link = self.link(prefix);
        let rest = link.split_once("://").map(|(_, r)| r).unwrap_or(&link);
        rest[rest.find('/').unwrap_or(0)..].to_owned()
    }
}

/// A browser-ish client: keeps cookies, does not follow redirects, and carries the CSRF
/// token as a browser does.
///
/// A form post of [`Client::post_form`] without a `csrf_token` field first loads the token
/// page, as a browser loads the page that holds the form, and sends the token it shows in the
/// form. A JSON post of [`Client::post_json`] that rides a cookie sends that token in the
/// `X-CSRFToken` header, as a script does. [`Client::send`] sends the request as it is.
#[derive(Clone)]
pub struct Client {
    router: Router,
    /// The page that shows a CSRF token (`None`: the client sends none of its own).
    token_page: Option<String>,
    /// The cookies held, by name.
    pub cookies: BTreeMap<String, Cookie>,
    /// The socket address the requests come from (`None`: no `ConnectInfo`).
    pub peer: Option<SocketAddr>,
}

/// A cookie as the client keeps it.
#[derive(Clone, Debug)]
pub struct Cookie {
    /// The value.
    pub value: String,
    /// The whole `Set-Cookie` line.
    pub raw: String,
    /// Whether it has an expiry (persistent) rather than being a browser-session cookie.
    pub persistent: bool,
}

/// A response with its body read.
#[derive(Debug)]
pub struct Resp {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub body: String,
}

impl Resp {
    /// The `Location` header.
    pub fn location(&self) -> String {
        self.headers
            .get(http::header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no Location ({}): {}", self.status, self.body))
    }

    /// The path of `Location` (scheme and host removed).
    pub fn location_path(&self) -> String {
        let location = self.location();
        let without_query = location.split('?').next().unwrap_or("").to_owned();
        match without_query.split_once("://") {
            Some((_, rest)) => rest[rest.find('/').unwrap_or(rest.len())..].to_owned(),
            None => without_query,
        }
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The JSON body without the `csrf_token` of its `response`: with CSRF on, a successful
    /// answer carries its session's token beside what the flow answered.
    pub fn answer(&self) -> serde_json::Value {
        let mut json = self.json();
        if let Some(response) = json["response"].as_object_mut()
            && let Some(token) = response.remove("csrf_token")
        {
            assert!(token.is_string(), "{token}");
        }
        json
    }

    /// The body with every CSRF token shown as `CSRF`: two sessions' pages and answers
    /// differ by their tokens only when they are alike.
    pub fn body_without_csrf(&self) -> String {
        let mut out = self.body.clone();
        let mut from = 0;
        while let Some(at) = out[from..].find("csrf_token").map(|i| from + i) {
            from = at + "csrf_token".len();
            let near = &out[from..out.len().min(from + 80)];
            let Some(open) = ["value=\"", "\": \"", "\":\""]
                .iter()
                .filter_map(|p| near.find(p).map(|i| from + i + p.len()))
                .min()
            else {
                continue;
            };
            let Some(close) = out[open..].find('"').map(|i| open + i) else {
                break;
            };
            out.replace_range(open..close, "CSRF");
        }
        out
    }

    /// Asserts a 302 to `path`.
    #[track_caller]
    pub fn assert_redirect(&self, path: &str) {
        assert_eq!(self.status, StatusCode::FOUND, "{}", self.body);
        assert_eq!(self.location_path(), path, "Location: {}", self.location());
    }

    /// The `Set-Cookie` headers.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

impl Client {
    /// Sends a request with the client's cookies; keeps the cookies the response sets.
    pub async fn send(&mut self, mut req: Request<Body>) -> Resp {
        if !self.cookies.is_empty() && !req.headers().contains_key(http::header::COOKIE) {
            let header = self
                .cookies
                .iter()
                .map(|(k, c)| format!("{k}={}", c.value))
                .collect::<Vec<_>>()
                .join("; ");
            req.headers_mut()
                .insert(http::header::COOKIE, header.parse().unwrap());
        }
        if let Some(peer) = self.peer {
            req.extensions_mut().insert(ConnectInfo(peer));
        }
        let response = self.router.clone().oneshot(req).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        for line in headers.get_all(http::header::SET_COOKIE) {
            let line = line.to_str().unwrap().to_owned();
            let (pair, attrs) = line.split_once(';').unwrap_or((&line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let attrs_lower = attrs.to_ascii_lowercase();
            if attrs_lower.contains("max-age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(
                    name.to_owned(),
                    Cookie {
                        value: value.to_owned(),
                        persistent: attrs_lower.contains("max-age")
                            || attrs_lower.contains("expires"),
                        raw: line.clone(),
                    },
                );
            }
        }
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Resp {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// `GET path` with extra headers.
    pub async fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = Request::get(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// `POST path` with a form body (and the CSRF token, see [`Client`]).
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        self.post_form_with(path, fields, &[]).await
    }

    /// [`Client::post_form`] with extra headers (`Host`, `X-Forwarded-For`…).
    pub async fn post_form_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Resp {
        let token = match &self.token_page {
            Some(_) if !fields.iter().any(|(k, _)| *k == "csrf_token") => {
                Some(self.csrf_token().await)
            }
            _ => None,
        };
        let mut fields = fields.to_vec();
        if let Some(token) = &token {
            fields.push(("csrf_token", token));
        }
        let body = serde_urlencoded::to_string(&fields).unwrap();
        let mut req = Request::builder().method(Method::POST).uri(path).header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        );
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    /// `POST path` with a JSON body (and the `X-CSRFToken` header when it rides a cookie).
    pub async fn post_json(&mut self, path: &str, body: serde_json::Value) -> Resp {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(http::header::CONTENT_TYPE, "application/json");
        if self.token_page.is_some() && !self.cookies.is_empty() && body.get("csrf_token").is_none()
        {
            req = req.header("X-CSRFToken", self.csrf_token().await);
        }
        self.send(req.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// Loads the token page and reads the CSRF token its form holds; `GET /login` when the
    /// client has no token page.
    pub async fn csrf_token(&mut self) -> String {
        let page = self
            .token_page
            .clone()
            .unwrap_or_else(|| "/login".to_owned());
        let r = self.get(&page).await;
        assert_eq!(r.status, StatusCode::OK, "GET {page}: {}", r.body);
        csrf_token(&r.body)
    }

    /// The client with no CSRF token of its own: what a forged cross-site post sends, or a
    /// test that puts the token in itself.
    #[must_use]
    pub fn without_csrf(mut self) -> Client {
        self.token_page = None;
        self
    }

    /// Loads `page` for the CSRF token of each form or JSON post (see [`Client`]).
    #[must_use]
    pub fn with_token_page(mut self, page: &str) -> Client {
        self.token_page = Some(page.to_owned());
        self
    }

    /// A form login (with `remember=y` when asked).
    pub async fn login(&mut self, email: &str, password: &str, remember: bool) -> Resp {
        let mut fields = vec![("email", email), ("password", password)];
        if remember {
            fields.push(("remember", "y"));
        }
        self.post_form("/login", &fields).await
    }

    /// A JSON login; the auth token.
    pub async fn token(&mut self, email: &str, password: &str) -> String {
        let r = self
            .post_json(
                "/login",
                serde_json::json!({ "email": email, "password": password }),
            )
            .await;
        let data = r.json();
        assert_eq!(data["meta"]["code"], 200, "{data}");
        data["response"]["user"]["authentication_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Drops the browser-session cookies (keeps persistent ones), like closing the browser.
    pub fn clear_session_cookies(&mut self) {
        self.cookies.retain(|_, c| c.persistent);
    }
}

/// A `Basic` authorization header value.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

impl Mail {
    /// Parses a raw RFC 5322 message (as an SMTP server or a send-mail task receives it).
    pub fn from_raw(raw: &[u8]) -> Mail {
        Mail::parse(raw)
    }

    /// The token at the end of [`Mail::link`] (the last path segment).
    pub fn token(&self, prefix: &str) -> String {
        let path = self.link_path(prefix);
        let path = path.split(['?', '#']).next().unwrap_or("");
        path.rsplit('/').next().unwrap_or("").to_owned()
    }
}

impl TestApp {
    /// The mails to one address with this subject.
    pub fn mails_with(&self, to: &str, subject: &str) -> Vec<Mail> {
        self.mails_to(to)
            .into_iter()
            .filter(|m| m.subject == subject)
            .collect()
    }

    /// Whether the user's stored hash is one of `password`.
    pub async fn has_password(&self, email: &str, password: &str) -> bool {
        let stored = self.user(email).await.password.expect("a password");
        self.security
            .passwords()
            .verify(password, &stored)
            .await
            .expect("verify")
    }

    /// Marks a user confirmed now (as if they had followed their link).
    pub async fn confirm(&self, email: &str) {
        let user = self.user(email).await;
        self.security
            .datastore()
            .confirm_user(&user, chrono::Utc::now())
            .await
            .expect("confirm");
    }
}

/// Whether a page shows a flash `<li class="CATEGORY">MESSAGE</li>`.
pub fn has_flash(body: &str, category: &str, message: &str) -> bool {
    body.contains(&format!("<li class=\"{category}\">{message}</li>"))
}

/// A client for any router (e.g. an example app's).
pub fn client_for(router: Router) -> Client {
    Client {
        router,
        token_page: None,
        cookies: BTreeMap::new(),
        peer: None,
    }
}

/// The value of the `csrf_token` field of a page's form, or the `csrf_token` of a JSON answer.
pub fn csrf_token(body: &str) -> String {
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(body) {
        return json["response"]["csrf_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no csrf_token in {json}"))
            .to_owned();
    }
    let at = body.find("name=\"csrf_token\"").expect("csrf field");
    let rest = &body[at..];
    let start = rest.find("value=\"").expect("value") + 7;
    rest[start..start + rest[start..].find('"').expect("end of value")].to_owned()
}
