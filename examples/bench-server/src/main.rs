//! The server of the load benchmark (`bench/load.sh`): the same trivial handler bare and behind
//! each guard, on an SQLite file database seeded with one admin user.
//!
//! Environment: `SECRET_KEY` (required, as for any app), `PORT` (default 8080), `BENCH_DB` (the
//! SQLite file, default a fresh file in the temp directory), every `SECURITY_*` key
//! (`SECURITY_IDENTITY_CACHE_TTL` in particular), `RUST_LOG` (default `warn`, on stderr),
//! `BENCH_DB_OPTS` (connection experiments, see [`connect`]; default SeaORM's defaults),
//! `BENCH_USERS` (admins seeded, default 1; `/x-batch` cycles through them),
//! `BENCH_DIAG=1` (adds the diagnostic routes `/x-load`, `/x-sqlx`, `/x-held`, `/x-batch`: see `diag`).
//!
//! Routes: `/bare`, `/nolayer` (the same handler on a router without the security layer),
//! `/session` (`#[login_required]`), `/token` (`#[auth_token_required]`),
//! `/basic` (`#[http_auth_required]`), `/roles` (`#[roles_required("admin")]`), all answering
//! the same static string, `/hash`, one argon2id verification of the seeded password, and the
//! security views (`security.router()`: `POST /login` with a JSON body is the login benchmark;
//! set `WTF_CSRF_ENABLED=false` for it, and the brute-force keys to measure their cost).
//!
//! On start it prints, one line each on stdout: `SESSION_COOKIE=<Cookie header value>`,
//! `AUTH_TOKEN=<token>`, then `READY` once the socket is listening.

use std::io::Write;
use std::process::ExitCode;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use sea_orm::sqlx::SqlitePool;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Schema};
use security::NewUser;
use security::prelude::*;

/// Flask-Security's quick-start models.
mod entities {
    /// `user`.
    pub mod user {
        use sea_orm::entity::prelude::*;
        use security::SecurityUser;

        /// A user.
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
            /// Confirmation time.
            pub confirmed_at: Option<DateTimeUtc>,
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

type User = entities::user::Model;

/// The seeded user.
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "benchmark-password";
/// What every benchmarked route answers.
const BODY: &str = "Hello, bench";

async fn bare() -> &'static str {
    BODY
}

#[login_required]
async fn session() -> &'static str {
    BODY
}

#[auth_token_required]
async fn token() -> &'static str {
    BODY
}

#[http_auth_required]
async fn basic() -> &'static str {
    BODY
}

#[roles_required("admin")]
async fn roles() -> &'static str {
    BODY
}

/// What `/hash` verifies: the stored hash of the seeded password.
#[derive(Clone)]
struct HashState {
    security: Security<User>,
    stored: String,
}

/// One argon2id verification (the raw cost Basic auth pays per request).
async fn hash(State(state): State<HashState>) -> Result<&'static str, StatusCode> {
    match state
        .security
        .passwords()
        .verify(PASSWORD, &state.stored)
        .await
    {
        Ok(true) => Ok(BODY),
        Ok(false) => Err(StatusCode::UNAUTHORIZED),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

async fn create_tables(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
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
    security::schema::create_tables(db).await
}

/// Opens the database with SeaORM's defaults (as `Database::connect(url)` does), changed by
/// `BENCH_DB_OPTS`, a comma-separated list for experiments: `noping` (no connection test before
/// each acquire), `nolog` (no sqlx statement logging), `wal` (WAL journal), `pool=N` (at most N
/// connections; SeaORM's SQLite default is 1).
async fn connect(url: &str) -> Result<DatabaseConnection, String> {
    let mut options = ConnectOptions::new(url);
    let mut wal = false;
    let opts = std::env::var("BENCH_DB_OPTS").unwrap_or_default();
    for opt in opts.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        match opt {
            "noping" => {
                options.test_before_acquire(false);
            }
            "nolog" => {
                options.sqlx_logging(false);
            }
            "wal" => wal = true,
            _ => match opt.strip_prefix("pool=").map(str::parse::<u32>) {
                Some(Ok(n)) if n > 0 => {
                    options.max_connections(n);
                }
                _ => return Err(format!("unknown BENCH_DB_OPTS entry `{opt}`")),
            },
        }
    }
    let db = Database::connect(options)
        .await
        .map_err(|e| format!("cannot open the database `{url}`: {e}"))?;
    if wal {
        // Persistent in the file: every connection of the pool uses it.
        db.execute_unprepared("PRAGMA journal_mode=WAL")
            .await
            .map_err(|e| format!("cannot switch to WAL: {e}"))?;
    }
    Ok(db)
}

/// Diagnostic routes (no guard): where the cost of a guard's one query goes. Each does what a
/// guard's identity load does, a step less at a time.
mod diag {
    use std::collections::HashMap;
    use std::sync::Arc;

    use axum::extract::State;
    use axum::http::StatusCode;
    use sea_orm::sqlx::pool::PoolConnection;
    use sea_orm::sqlx::{self, Row, Sqlite, SqlitePool};
    use sea_orm::{
        ColumnTrait, DatabaseConnection, EntityTrait, JoinType, QueryFilter, QuerySelect,
        RelationDef,
    };
    use security::Security;
    use tokio::sync::Mutex;

    use super::{BODY, User};

    /// The query `Datastore::load_with_roles` sends (user, link, role in one join).
    const SQL: &str = r#"SELECT "user"."id", "user"."email", "user"."password", "user"."active", "user"."confirmed_at", "role"."id", "role"."name", "role"."description" FROM "user" LEFT JOIN "roles_users" ON "user"."id" = "roles_users"."user_id" LEFT JOIN "role" ON "roles_users"."role_id" = "role"."id" WHERE "user"."id" = ?"#;

    /// The handles the diagnostic routes use.
    #[derive(Clone)]
    pub(crate) struct Diag {
        pub(crate) security: Security<User>,
        pub(crate) pool: SqlitePool,
        pub(crate) held: Arc<Mutex<PoolConnection<Sqlite>>>,
        pub(crate) batcher: Arc<Batcher>,
        /// How many users `/x-batch` spreads its loads over (`BENCH_USERS`), round robin.
        pub(crate) users: i32,
        pub(crate) next: Arc<std::sync::atomic::AtomicI32>,
    }

    /// `/x-load`: `Datastore::load_with_roles` (SeaORM, then sqlx's pool), as a guard does.
    pub(crate) async fn load(State(d): State<Diag>) -> Result<&'static str, StatusCode> {
        match d.security.datastore().load_with_roles(&1).await {
            Ok(Some(found)) if found.has_role("admin") => Ok(BODY),
            _ => Err(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    fn check(rows: Result<Vec<sqlx::sqlite::SqliteRow>, sqlx::Error>) -> Result<(), StatusCode> {
        let rows = rows.map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        let admin = rows
            .iter()
            .any(|r| r.try_get::<Option<String>, _>(6).ok().flatten().as_deref() == Some("admin"));
        if admin {
            Ok(())
        } else {
            Err(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }

    /// `/x-sqlx`: the same SQL through sqlx's pool, without SeaORM.
    pub(crate) async fn pool(State(d): State<Diag>) -> Result<&'static str, StatusCode> {
        check(sqlx::query(SQL).bind(1).fetch_all(&d.pool).await).map(|()| BODY)
    }

    type Reply = tokio::sync::oneshot::Sender<Option<Vec<String>>>;

    /// A sketch of batched identity loads: the loads that arrive while a query runs wait, and
    /// the next query serves all of them (`WHERE id IN (..)`). Every load is served by a query
    /// that started after it arrived, so nothing is staler than with one query per request.
    #[derive(Default)]
    pub(crate) struct Batcher {
        state: std::sync::Mutex<BatchState>,
    }

    #[derive(Default)]
    struct BatchState {
        running: bool,
        waiting: Vec<(i32, Reply)>,
    }

    impl Batcher {
        /// The role names of user `id` (`None`: no such user), through the batch.
        async fn load(self: &Arc<Self>, db: &DatabaseConnection, id: i32) -> Option<Vec<String>> {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let start = {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                state.waiting.push((id, tx));
                !std::mem::replace(&mut state.running, true)
            };
            if start {
                let this = Arc::clone(self);
                let db = db.clone();
                tokio::spawn(async move { this.drive(db).await });
            }
            rx.await.ok().flatten()
        }

        async fn drive(&self, db: DatabaseConnection) {
            loop {
                let batch = {
                    let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    if state.waiting.is_empty() {
                        state.running = false;
                        return;
                    }
                    std::mem::take(&mut state.waiting)
                };
                let mut ids: Vec<i32> = batch.iter().map(|(id, _)| *id).collect();
                ids.sort_unstable();
                ids.dedup();
                let found = load_many(&db, ids).await.unwrap_or_default();
                for (id, reply) in batch {
                    let _ = reply.send(found.get(&id).cloned());
                }
            }
        }
    }

    /// Users and their role names, for many ids in one query (the batched `load_with_roles`).
    async fn load_many(
        db: &DatabaseConnection,
        ids: Vec<i32>,
    ) -> Result<HashMap<i32, Vec<String>>, sea_orm::DbErr> {
        use crate::entities::{role, roles_users, user};
        let link: RelationDef = user::Entity::belongs_to(roles_users::Entity)
            .from(user::Column::Id)
            .to(roles_users::Column::UserId)
            .into();
        let to_role: RelationDef = roles_users::Entity::belongs_to(role::Entity)
            .from(roles_users::Column::RoleId)
            .to(role::Column::Id)
            .into();
        let rows = user::Entity::find()
            .filter(user::Column::Id.is_in(ids))
            .join(JoinType::LeftJoin, link)
            .join(JoinType::LeftJoin, to_role)
            .select_also(role::Entity)
            .all(db)
            .await?;
        let mut out: HashMap<i32, Vec<String>> = HashMap::new();
        for (u, r) in rows {
            let roles = out.entry(u.id).or_default();
            if let Some(r) = r {
                roles.push(r.name);
            }
        }
        Ok(out)
    }

    /// `/x-batch`: the identity load through [`Batcher`] (SeaORM, sqlx's pool, defaults), for
    /// users 1..=`BENCH_USERS` in turn.
    pub(crate) async fn batch(State(d): State<Diag>) -> Result<&'static str, StatusCode> {
        let db = d.security.datastore().connection();
        let n = d.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match d.batcher.load(db, 1 + n.rem_euclid(d.users)).await {
            Some(roles) if roles.iter().any(|r| r == "admin") => Ok(BODY),
            _ => Err(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    /// `/x-held`: the same SQL on one connection held for good (no pool acquire or release).
    pub(crate) async fn held(State(d): State<Diag>) -> Result<&'static str, StatusCode> {
        let mut conn = d.held.lock().await;
        check(sqlx::query(SQL).bind(1).fetch_all(&mut **conn).await).map(|()| BODY)
    }
}

fn app(security: &Security<User>, stored: String, diag: Option<diag::Diag>) -> Router {
    let hash_state = HashState {
        security: security.clone(),
        stored,
    };
    let mut router = Router::new()
        .route("/bare", get(bare))
        .route("/session", get(session))
        .route("/token", get(token))
        .route("/basic", get(basic))
        .route("/roles", get(roles))
        .route("/hash", get(hash).with_state(hash_state))
        .merge(security.router());
    if let Some(diag) = diag {
        router = router.merge(
            Router::new()
                .route("/x-load", get(diag::load))
                .route("/x-sqlx", get(diag::pool))
                .route("/x-held", get(diag::held))
                .route("/x-batch", get(diag::batch))
                .with_state(diag),
        );
    }
    // `/nolayer`: the handler of `/bare` on a router without the security layer, merged after
    // the layer is applied, so that the pair measures what the layer costs an unguarded route.
    router
        .layer(security.layer())
        .merge(Router::new().route("/nolayer", get(bare)))
}

async fn run() -> Result<(), String> {
    let port: u16 = match std::env::var("PORT") {
        Ok(p) if !p.is_empty() => p.parse().map_err(|_| format!("invalid PORT `{p}`"))?,
        _ => 8080,
    };
    let path = match std::env::var("BENCH_DB") {
        Ok(p) if !p.is_empty() => std::path::PathBuf::from(p),
        _ => std::env::temp_dir().join(format!("bench-server-{}.db", std::process::id())),
    };
    // A fresh database every run: the seed is part of the set-up.
    remove_db(&path);
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let db = connect(&url).await?;
    create_tables(&db)
        .await
        .map_err(|e| format!("cannot create the tables: {e}"))?;

    let config = Config::from_env().map_err(|e| format!("configuration: {e}"))?;
    let security: Security<User> = Security::builder(db, config)
        .build()
        .await
        .map_err(|e| format!("configuration: {e}"))?;

    let store = security.datastore();
    store
        .create_role("admin", None)
        .await
        .map_err(|e| format!("cannot create the role: {e}"))?;
    let user = store
        .create_user(NewUser::new(EMAIL, Some(PASSWORD)).role("admin"))
        .await
        .map_err(|e| format!("cannot create the user: {e}"))?;
    let stored = user
        .password
        .clone()
        .ok_or("the seeded user has no password hash")?;
    // More admins for the diagnostic `/x-batch` route to spread its loads over.
    let users: i32 = match std::env::var("BENCH_USERS") {
        Ok(n) if !n.is_empty() => n
            .parse()
            .map_err(|_| format!("invalid BENCH_USERS `{n}`"))?,
        _ => 1,
    };
    for n in 2..=users {
        store
            .create_user_with_hash(
                NewUser::new(format!("bench{n}@example.com"), None).role("admin"),
                Some(stored.clone()),
            )
            .await
            .map_err(|e| format!("cannot create user {n}: {e}"))?;
    }

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    {
        let mut out = std::io::stdout().lock();
        let lines = format!(
            "SESSION_COOKIE={}\nAUTH_TOKEN={}\nREADY\n",
            security.session_cookie_for(&user),
            security.auth_token(&user)
        );
        out.write_all(lines.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| format!("stdout: {e}"))?;
    }
    let diag = if std::env::var("BENCH_DIAG").is_ok_and(|v| v == "1") {
        // A pool of its own for the held connection, so that the app's pool (one connection by
        // SeaORM's SQLite default) stays as the guards see it.
        let pool = SqlitePool::connect(&url)
            .await
            .map_err(|e| format!("diagnostic pool: {e}"))?;
        let held = pool
            .acquire()
            .await
            .map_err(|e| format!("diagnostic connection: {e}"))?;
        Some(diag::Diag {
            security: security.clone(),
            pool: security
                .datastore()
                .connection()
                .get_sqlite_connection_pool()
                .clone(),
            held: std::sync::Arc::new(tokio::sync::Mutex::new(held)),
            batcher: Default::default(),
            users: users.max(1),
            next: Default::default(),
        })
    } else {
        None
    };
    let served = serve::serve(
        listener,
        app(&security, stored, diag),
        serve::Timeouts::default(),
        shutdown(),
    )
    .await
    .map_err(|e| format!("server: {e}"));
    drop(security);
    remove_db(&path);
    served
}

/// Removes the SQLite file and its companions, if there.
fn remove_db(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
