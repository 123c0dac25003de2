//! Brute-force protection across a fleet, black-box over real HTTP: two `conformance-app serve`
//! processes with one `SECRET_KEY` and one shared counter store (the database, PostgreSQL here,
//! or Redis) must behave as one server. Failures spread over both lock the account on both; a
//! `login_failed` limit counts on both; one `users unlock` unlocks on both; the owner's device
//! cookie, issued by one, spares them on the other; fifty parallel failures are all counted and
//! lock the account exactly once. A dead Redis limits each process on its own and answers no
//! 5xx. The expected behaviour is in the CONTRACT's "Beyond 1.7.4" section. With the identity
//! cache on (`SECURITY_IDENTITY_CACHE_TTL`, 5 minutes), a password change on one server and a
//! `users deactivate` from the command line end the session on the other within seconds (the
//! invalidation channel: PostgreSQL `LISTEN/NOTIFY`, or Redis pub/sub when the counters are in
//! Redis), not after the TTL.
//!
//! The PostgreSQL, MySQL and Redis variants run when `SECURITY_TEST_POSTGRES_URL`,
//! `SECURITY_TEST_MYSQL_URL` or `SECURITY_TEST_REDIS_URL` is set (see `build.rs`), and are
//! reported as ignored otherwise. Each test makes its own database (dropped after it), its own
//! `SECRET_KEY` and user, so that tests sharing a Redis never share a counter.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use support::{App, PASSWORD, Response, Server, SmtpSink, encode, session_cookie, wait_until};

const LOCKED: &str = "Your account is locked.";
const UNLOCK_SUBJECT: &str = "Subject: Unlock instructions";

// ---------------------------------------------------------------------------------------------
// Where the fleet keeps its users and its counters

/// The shared store of a test.
#[derive(Clone, Copy, Debug)]
enum Store {
    /// Users and counters in one fresh PostgreSQL database (`SECURITY_THROTTLE_STORE=database`).
    Postgres,
    /// The same on MySQL.
    Mysql,
    /// Counters in Redis (`SECURITY_TEST_REDIS_URL`), users in one SQLite file.
    Redis,
}

impl Store {
    fn database(self) -> TestDb {
        match self {
            Store::Postgres => TestDb::on_server("SECURITY_TEST_POSTGRES_URL"),
            Store::Mysql => TestDb::on_server("SECURITY_TEST_MYSQL_URL"),
            Store::Redis => TestDb::sqlite(),
        }
    }

    /// `SECURITY_THROTTLE_STORE`.
    fn throttle_store(self) -> String {
        match self {
            Store::Postgres | Store::Mysql => "database".to_owned(),
            Store::Redis => env_url("SECURITY_TEST_REDIS_URL"),
        }
    }
}

fn env_url(var: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{var} is not set"))
}

/// A name no other test (in this or another process) uses.
fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The database the servers of one test share: a fresh database on the PostgreSQL or MySQL
/// server (dropped with this value: drop the servers first), or an SQLite file.
struct TestDb {
    url: String,
    rt: tokio::runtime::Runtime,
    conn: Option<DatabaseConnection>,
    /// The server's URL and the database's name, to drop it.
    made: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    }

    /// `CREATE DATABASE fleet_…` on the server that `var` names.
    fn on_server(var: &str) -> TestDb {
        let server = env_url(var);
        let name = format!("fleet_{}", unique());
        let rt = Self::runtime();
        let url = with_database(&server, &name);
        let conn = rt.block_on(async {
            let admin = Database::connect(&server)
                .await
                .unwrap_or_else(|e| panic!("connect to {var}: {e}"));
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
            let _ = admin.close().await;
            Database::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("connect to {name}: {e}"))
        });
        TestDb {
            url,
            rt,
            conn: Some(conn),
            made: Some((server, name)),
            _dir: None,
        }
    }

    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("app.db").display());
        let rt = Self::runtime();
        let conn = rt
            .block_on(Database::connect(&url))
            .expect("open the SQLite file");
        TestDb {
            url,
            rt,
            conn: Some(conn),
            made: None,
            _dir: Some(dir),
        }
    }

    /// Mails queued and not yet delivered (or given up on), every instance's.
    fn outbox_len(&self) -> i64 {
        let conn = self.conn.as_ref().expect("open");
        let sql = "SELECT COUNT(*) AS n FROM security_outbox";
        self.rt.block_on(async {
            let row = conn
                .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .expect("a row");
            row.try_get::<i64>("", "n").expect("a count")
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let conn = self.conn.take();
        let made = self.made.take();
        self.rt.block_on(async move {
            if let Some(conn) = conn {
                let _ = conn.close().await;
            }
            let Some((server, name)) = made else { return };
            let Ok(admin) = Database::connect(&server).await else {
                return;
            };
            // The servers were killed, but PostgreSQL may not have noticed their connections
            // closing yet: FORCE ends them.
            let drop = match admin.get_database_backend() {
                DbBackend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS {name}"),
            };
            if let Err(err) = admin.execute_unprepared(&drop).await {
                eprintln!("{drop}: {err}");
            }
            let _ = admin.close().await;
        });
    }
}

/// `url` naming the database `name` instead of its own (query kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[host_start..]
        .find('/')
        .map_or(base.len(), |i| host_start + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The app, its users and its answers

/// The app of a fleet on `db` and `store`, mailing to `sink`: a `SECRET_KEY` of its own, CSRF
/// off (the app's tests default), then `extra`.
fn fleet_app(store: Store, db: &TestDb, sink: &SmtpSink, extra: &[(&str, &str)]) -> App {
    let secret = format!("fleet-secret-{}", unique());
    let mail_port = sink.port.to_string();
    let throttle = store.throttle_store();
    let mut env = vec![
        ("SECRET_KEY", secret.as_str()),
        ("DATABASE_URL", db.url.as_str()),
        ("MAIL_PORT", mail_port.as_str()),
        ("SECURITY_THROTTLE_STORE", throttle.as_str()),
    ];
    env.extend_from_slice(extra);
    App::new(&env)
}

/// An address of its own for each test (tests may share a Redis).
fn user_email() -> String {
    format!("fleet-{}@lp.com", unique().replace('_', "-"))
}

/// A form `POST /login` from a client holding only `cookie` (a `Cookie` header), if any.
fn login(server: &Server, email: &str, password: &str, cookie: Option<&str>) -> Response {
    let form = format!("email={}&password={}", encode(email), encode(password));
    let headers: Vec<(&str, &str)> = cookie.map(|c| ("Cookie", c)).into_iter().collect();
    server.post_form("/login", &headers, &form)
}

/// Logged in: redirected to `SECURITY_POST_LOGIN_VIEW` (`/`).
fn logged_in(r: &Response) -> bool {
    r.status == 302 && r.location_path() == "/"
}

/// Refused because the account is locked: the login page again, with the message.
fn is_locked(r: &Response) -> bool {
    r.status == 200 && r.body.contains(LOCKED)
}

/// A wrong password's answer: the login page again, not locked, not throttled.
fn refused_not_locked(r: &Response) -> bool {
    r.status == 200 && !r.body.contains(LOCKED)
}

/// `status → location [messages]` of an answer, for assertion messages.
fn brief(r: &Response) -> String {
    let mut out = r.status.to_string();
    if let Some(location) = r.header("location") {
        out.push_str(&format!(" → {location}"));
    }
    if let Some(retry) = r.header("retry-after") {
        out.push_str(&format!(" (Retry-After {retry})"));
    }
    let messages: Vec<&str> = r
        .body
        .split("<li")
        .skip(1)
        .filter_map(|s| s.split_once('>').map(|(_, rest)| rest))
        .filter_map(|s| s.split_once("</li>").map(|(text, _)| text))
        .filter(|t| !t.contains('<'))
        .collect();
    if !messages.is_empty() {
        out.push_str(&format!(" {messages:?}"));
    }
    out
}

/// Logs in on `server` with the right password and returns the `Cookie` header of the device
/// cookie it issues (nothing else: the client is not logged in when it uses it).
fn device_cookie(server: &Server, email: &str) -> String {
    let r = login(server, email, PASSWORD, None);
    assert!(logged_in(&r), "the owner's first login: {}", brief(&r));
    let device = r
        .cookie("security_device")
        .unwrap_or_else(|| panic!("no device cookie on a login: {:?}", r.headers));
    format!("security_device={device}")
}

/// How many unlock mails the fleet sent, once every queued mail is delivered (the outbox is
/// empty) and at least one unlock mail arrived; within 10 s.
fn unlock_mails(db: &TestDb, sink: &SmtpSink) -> usize {
    let count = || {
        sink.mails()
            .iter()
            .filter(|m| m.contains(UNLOCK_SUBJECT))
            .count()
    };
    let delivered = wait_until(Duration::from_secs(10), || {
        count() > 0 && db.outbox_len() == 0
    });
    assert!(
        delivered,
        "no unlock mail delivered within 10 s ({} in the sink, {} queued)",
        count(),
        db.outbox_len()
    );
    count()
}

// ---------------------------------------------------------------------------------------------
// The scenarios, each run per store below

/// Failures spread over two servers lock the account on both; the owner's device cookie,
/// issued by A, spares them on both; one unlock mail; one `users unlock` unlocks on both.
fn the_lockout_is_shared(store: Store) {
    let db = store.database();
    let sink = SmtpSink::start();
    let lockout = [
        ("SECURITY_LOCKABLE", "true"),
        ("SECURITY_LOCK_MAXIMUM_ATTEMPTS", "4"),
    ];
    let app = fleet_app(store, &db, &sink, &lockout);
    let email = user_email();
    app.create_user(&email);
    let a = app.serve();
    let b = app.serve();
    let owner = device_cookie(&a, &email);

    for (n, (name, server)) in [("A", &a), ("A", &a), ("B", &b), ("B", &b)]
        .into_iter()
        .enumerate()
    {
        let r = login(server, &email, "wrong password", None);
        assert!(
            refused_not_locked(&r),
            "wrong password {} on {name}: {}",
            n + 1,
            brief(&r)
        );
    }
    for (name, server) in [("A", &a), ("B", &b)] {
        let r = login(server, &email, PASSWORD, None);
        assert!(
            is_locked(&r),
            "the right password on {name} after 2 failures on A and 2 on B \
             (SECURITY_LOCK_MAXIMUM_ATTEMPTS=4): {}",
            brief(&r)
        );
    }
    for (name, server) in [("B", &b), ("A", &a)] {
        let r = login(server, &email, PASSWORD, Some(&owner));
        assert!(
            logged_in(&r),
            "the owner's device cookie (from A) on {name} while locked: {}",
            brief(&r)
        );
    }
    assert_eq!(
        unlock_mails(&db, &sink),
        1,
        "one lock, one unlock mail, for the whole fleet"
    );

    let out = app.cli(&["users", "unlock", &email]);
    assert!(out.contains("has been unlocked"), "users unlock: {out}");
    for (name, server) in [("A", &a), ("B", &b)] {
        let r = login(server, &email, PASSWORD, None);
        assert!(
            logged_in(&r),
            "the right password on {name} after one `users unlock`: {}",
            brief(&r)
        );
    }
}

/// A `login_failed` limit per address counts the failures of both servers.
fn the_failure_limit_is_shared(store: Store) {
    let db = store.database();
    let sink = SmtpSink::start();
    let limits = [("SECURITY_RATE_LIMITS", r#"{"login_failed": "3/m/ip"}"#)];
    let app = fleet_app(store, &db, &sink, &limits);
    let email = user_email();
    app.create_user(&email);
    let a = app.serve();
    let b = app.serve();

    for (n, (name, server)) in [("A", &a), ("B", &b), ("A", &a)].into_iter().enumerate() {
        let r = login(server, &email, "wrong password", None);
        assert!(
            refused_not_locked(&r),
            "wrong password {} on {name}: {}",
            n + 1,
            brief(&r)
        );
    }
    for (name, server) in [("B", &b), ("A", &a)] {
        let r = login(server, &email, PASSWORD, None);
        assert!(
            r.status == 429 && r.header("retry-after").is_some(),
            "on {name} after 2 failures on A and 1 on B (3/m/ip): {}",
            brief(&r)
        );
    }
}

/// Two servers started at the same moment on an empty database both make (or find) the tables
/// and serve: a rolling start of a fleet needs no one to go first.
fn servers_start_together_on_an_empty_database(store: Store) {
    let db = store.database();
    let sink = SmtpSink::start();
    let app = fleet_app(store, &db, &sink, &[("SECURITY_LOCKABLE", "true")]);
    let mut a = app.start();
    let mut b = app.start();
    a.wait_listening();
    b.wait_listening();
    let email = user_email();
    app.create_user(&email);
    for (name, server) in [("A", &a), ("B", &b)] {
        let r = login(server, &email, PASSWORD, None);
        assert!(logged_in(&r), "a login on {name}: {}", brief(&r));
    }
}

/// Fifty wrong passwords at once on one server: exactly one lock (one unlock mail), and every
/// failure counted: the hard ceiling of 50 then refuses even the owner's device.
fn parallel_failures_lock_once_and_all_count(store: Store) {
    let db = store.database();
    let sink = SmtpSink::start();
    let lockout = [
        ("SECURITY_LOCKABLE", "true"),
        ("SECURITY_LOCK_MAXIMUM_ATTEMPTS", "20"),
        ("SECURITY_LOCK_HARD_CAP", "50/h"),
    ];
    let app = fleet_app(store, &db, &sink, &lockout);
    let email = user_email();
    app.create_user(&email);
    let server = app.serve();
    let owner = device_cookie(&server, &email);

    let answers: Vec<Response> = thread::scope(|s| {
        let attempts: Vec<_> = (0..50)
            .map(|_| s.spawn(|| login(&server, &email, "wrong password", None)))
            .collect();
        attempts
            .into_iter()
            .map(|t| t.join().expect("a login thread"))
            .collect()
    });
    let odd: Vec<String> = answers
        .iter()
        .filter(|r| r.status != 200)
        .map(brief)
        .collect();
    assert!(odd.is_empty(), "answers other than 200: {odd:?}");
    assert_eq!(
        unlock_mails(&db, &sink),
        1,
        "50 parallel failures with SECURITY_LOCK_MAXIMUM_ATTEMPTS=20: exactly one lock"
    );
    let r = login(&server, &email, PASSWORD, Some(&owner));
    assert!(
        is_locked(&r),
        "all 50 failures counted: the hard ceiling (50/h) refuses the owner's device too: {}",
        brief(&r)
    );
}

/// Polls `server`'s login-only `/profile` with `cookie` until it is refused (redirected to the
/// login page): how long that took, or `None` after `deadline`.
fn refused_within(server: &Server, cookie: &str, deadline: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        let r = server.get("/profile", &[("Cookie", cookie)]);
        if r.redirects_to_login() {
            return Some(start.elapsed());
        }
        assert_eq!(r.status, 200, "GET /profile: {}", brief(&r));
        // A short pause: the time measured is reported by bench/load.sh's fleet mode.
        thread::sleep(Duration::from_millis(1));
    }
    None
}

/// With a 5-minute identity cache on both servers, B drops its cached identity as soon as the
/// user changes elsewhere: a password change on A, then a `users deactivate` from the command
/// line (a third process), each end the session on B well within the TTL.
fn the_identity_cache_follows_changes_on_other_instances(store: Store) {
    const TTL: &str = "5 minutes";
    const DEADLINE: Duration = Duration::from_secs(5);
    let db = store.database();
    let sink = SmtpSink::start();
    let settings = [
        ("SECURITY_IDENTITY_CACHE_TTL", TTL),
        ("SECURITY_CHANGEABLE", "true"),
    ];
    let app = fleet_app(store, &db, &sink, &settings);
    let email = user_email();
    app.create_user(&email);
    let a = app.serve();
    let b = app.serve();

    // Logged in on A; B loads (and caches) the identity.
    let r = login(&a, &email, PASSWORD, None);
    assert!(logged_in(&r), "a login on A: {}", brief(&r));
    let old = session_cookie(&r).expect("a login sets the session cookie");
    for _ in 0..2 {
        let r = b.get("/profile", &[("Cookie", &old)]);
        assert_eq!(r.status, 200, "A's session on B: {}", brief(&r));
    }

    let new_password = "battery-staple-7";
    let form = format!(
        "password={}&new_password={}&new_password_confirm={}",
        encode(PASSWORD),
        encode(new_password),
        encode(new_password)
    );
    let r = a.post_form("/change", &[("Cookie", &old)], &form);
    assert_eq!(r.status, 302, "the password change on A: {}", brief(&r));
    let took = refused_within(&b, &old, DEADLINE).unwrap_or_else(|| {
        panic!(
            "B still accepts the session {DEADLINE:?} after the password change on A \
             (SECURITY_IDENTITY_CACHE_TTL={TTL}): the invalidation did not reach it\nB:\n{}",
            b.log()
        )
    });
    eprintln!("{store:?}: a password change on A reached B's identity cache in {took:?}");

    // Again from the command line, a process of its own that exits at once.
    let r = login(&a, &email, new_password, None);
    assert!(
        logged_in(&r),
        "a login on A with the new password: {}",
        brief(&r)
    );
    let session = session_cookie(&r).expect("a login sets the session cookie");
    for _ in 0..2 {
        let r = b.get("/profile", &[("Cookie", &session)]);
        assert_eq!(r.status, 200, "A's new session on B: {}", brief(&r));
    }
    let start = Instant::now();
    let out = app.cli(&["users", "deactivate", &email]);
    assert!(out.contains("deactivated"), "users deactivate: {out}");
    let took = refused_within(&b, &session, DEADLINE).unwrap_or_else(|| {
        panic!(
            "B still accepts the session {DEADLINE:?} after `users deactivate` \
             (SECURITY_IDENTITY_CACHE_TTL={TTL}): the invalidation did not reach it\nB:\n{}",
            b.log()
        )
    });
    eprintln!(
        "{store:?}: `users deactivate` reached B's identity cache {took:?} after the command \
         returned ({:?} with the command)",
        start.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
#[cfg_attr(
    not(security_test_postgres),
    ignore = "set SECURITY_TEST_POSTGRES_URL to run it on PostgreSQL"
)]
fn postgres_the_identity_cache_follows_changes_on_other_instances() {
    the_identity_cache_follows_changes_on_other_instances(Store::Postgres);
}

#[test]
#[cfg_attr(
    not(security_test_postgres),
    ignore = "set SECURITY_TEST_POSTGRES_URL to run it on PostgreSQL"
)]
fn postgres_two_servers_share_the_lockout() {
    the_lockout_is_shared(Store::Postgres);
}

#[test]
#[cfg_attr(
    not(security_test_postgres),
    ignore = "set SECURITY_TEST_POSTGRES_URL to run it on PostgreSQL"
)]
fn postgres_two_servers_share_the_failure_limit() {
    the_failure_limit_is_shared(Store::Postgres);
}

#[test]
#[cfg_attr(
    not(security_test_redis),
    ignore = "set SECURITY_TEST_REDIS_URL to run it on Redis"
)]
fn redis_two_servers_share_the_lockout() {
    the_lockout_is_shared(Store::Redis);
}

#[test]
#[cfg_attr(
    not(security_test_redis),
    ignore = "set SECURITY_TEST_REDIS_URL to run it on Redis"
)]
fn redis_two_servers_share_the_failure_limit() {
    the_failure_limit_is_shared(Store::Redis);
}

#[test]
#[cfg_attr(
    not(security_test_postgres),
    ignore = "set SECURITY_TEST_POSTGRES_URL to run it on PostgreSQL"
)]
fn postgres_two_servers_start_together_on_an_empty_database() {
    servers_start_together_on_an_empty_database(Store::Postgres);
}

#[test]
#[cfg_attr(
    not(security_test_mysql),
    ignore = "set SECURITY_TEST_MYSQL_URL to run it on MySQL"
)]
fn mysql_two_servers_start_together_on_an_empty_database() {
    servers_start_together_on_an_empty_database(Store::Mysql);
}

#[test]
#[cfg_attr(
    not(security_test_postgres),
    ignore = "set SECURITY_TEST_POSTGRES_URL to run it on PostgreSQL"
)]
fn postgres_parallel_failures_lock_once_and_all_count() {
    parallel_failures_lock_once_and_all_count(Store::Postgres);
}

#[test]
#[cfg_attr(
    not(security_test_mysql),
    ignore = "set SECURITY_TEST_MYSQL_URL to run it on MySQL"
)]
fn mysql_parallel_failures_lock_once_and_all_count() {
    parallel_failures_lock_once_and_all_count(Store::Mysql);
}

/// Redis down (nothing listens on port 1): the server starts, logins work, the `login` limit
/// holds in the process (fail open, the default), and nothing answers 5xx.
#[test]
fn a_dead_redis_still_limits_each_server() {
    let secret = format!("fleet-secret-{}", unique());
    let app = App::new(&[
        ("SECRET_KEY", &secret),
        ("SECURITY_THROTTLE_STORE", "redis://127.0.0.1:1/"),
        ("SECURITY_RATE_LIMITS", r#"{"login": "3/m/ip"}"#),
    ]);
    let email = user_email();
    app.create_user(&email);
    let server = app.serve();

    let page = server.get("/login", &[]);
    assert_eq!(page.status, 200, "GET /login: {}", brief(&page));
    let r = login(&server, &email, PASSWORD, None);
    assert!(logged_in(&r), "a login with Redis down: {}", brief(&r));
    for n in 2..=3 {
        let r = login(&server, &email, "wrong password", None);
        assert!(
            refused_not_locked(&r),
            "credential post {n} of 3: {}",
            brief(&r)
        );
    }
    let r = login(&server, &email, PASSWORD, None);
    assert!(
        r.status == 429 && r.header("retry-after").is_some(),
        "the 4th credential post (3/m/ip) with Redis down: {}\n{}",
        brief(&r),
        server.log()
    );
    let page = server.get("/", &[]);
    assert_eq!(page.status, 200, "GET / after: {}", brief(&page));
    assert!(
        server.log().contains("throttle store failed"),
        "the server did not say that the store failed:\n{}",
        server.log()
    );
}

#[test]
#[cfg_attr(
    not(security_test_redis),
    ignore = "set SECURITY_TEST_REDIS_URL to run it on Redis"
)]
fn redis_the_identity_cache_follows_changes_on_other_instances() {
    the_identity_cache_follows_changes_on_other_instances(Store::Redis);
}
