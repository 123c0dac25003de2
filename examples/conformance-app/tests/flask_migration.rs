//! Migration from Flask-Security 1.7.4, black-box over real HTTP.
//!
//! Given a database written by the real Flask-Security 1.7.4 and its secrets
//! (`fixtures/flask-security-1.7.4/`, see its README), the conformance app must keep every
//! password working and, with `SECURITY_FLASK_COMPAT` on (the app's default), accept the
//! tokens, cookies and e-mailed links the Flask app handed out, as far as the port's safer
//! policy allows:
//!
//! - passwords: every user logs in with their password iff active and confirmed; legacy hashes
//!   are re-hashed to the configured scheme on login (never HMACed twice), and the user 1.7.4's
//!   double-HMAC bug locked out is rescued (compat only);
//! - auth tokens and remember cookies: accepted while the password is unchanged, for active and
//!   confirmed users; a remember cookie is swapped for this library's cookies;
//! - session cookies: accepted on every use, for existing active confirmed users, swapped for
//!   this library's session, refused once that session logs out and after Flask's 31 days;
//! - confirmation, reset and passwordless links: within their lifetimes, bound as tightly as
//!   their payload allows (a reset link dies with the password it was issued for, a login link
//!   works once), expired ones send new mail;
//! - with the switch off, no Flask token, cookie or link is taken (passwords still verify).
//!
//! Everything is driven by the fixture files (`users.json`, `tokens.json`, `secrets.json`), not
//! by lists in this file, so another database made the same way fits too (set
//! `FLASK_FIXTURE_DIR` to use one). Each test starts its own `conformance-app serve` on a copy of
//! `app.db` (the fixture itself is never written), with an in-test SMTP sink, and speaks plain
//! HTTP/1.1 without following redirects. Every mismatch of a test is collected into one
//! assertion message naming the fixture entries; no response anywhere may be a 5xx.

mod support;

use support::encode;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde::Deserialize;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Fixture files

fn fixture_dir() -> PathBuf {
    match std::env::var_os("FLASK_FIXTURE_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/flask-security-1.7.4"),
    }
}

/// One row of `user` as `users.json` describes it.
#[derive(Clone, Debug, Deserialize)]
struct FixtureUser {
    id: i64,
    email: String,
    password: Option<String>,
    scheme: Option<String>,
    active: bool,
    confirmed: bool,
    stored_password: Option<String>,
    password_verifies: bool,
    json_login_1_7_4: Value,
    #[serde(default)]
    double_hmac: bool,
    #[serde(default)]
    previous_passwords: Vec<String>,
}

/// A user deleted after tokens were issued to them (absent from `app.db`).
#[derive(Clone, Debug, Deserialize)]
struct DeletedUser {
    id: i64,
    email: String,
    password: Option<String>,
}

#[derive(Deserialize)]
struct UsersFile {
    users: Vec<FixtureUser>,
    #[serde(default)]
    deleted_users: Vec<DeletedUser>,
}

/// One entry of `tokens.json`.
#[derive(Clone, Debug, Deserialize)]
struct FixtureToken {
    name: String,
    kind: String,
    user_id: i64,
    email: String,
    value: String,
    valid: bool,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    link: Option<String>,
}

#[derive(Deserialize)]
struct TokensFile {
    tokens: Vec<FixtureToken>,
}

impl FixtureToken {
    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// The path to request: the path of the e-mailed link, else `<route>/<value>`.
    fn path(&self, route: &str) -> String {
        match &self.link {
            Some(link) => path_of(link),
            None => format!("{route}/{}", self.value),
        }
    }

    /// `name (valid|invalid: reason [flags])`, for messages.
    fn label(&self) -> String {
        let state = if self.valid {
            "valid".to_owned()
        } else {
            format!("invalid: {}", self.reason.as_deref().unwrap_or("?"))
        };
        if self.flags.is_empty() {
            format!("{} ({state})", self.name)
        } else {
            format!("{} ({state}, flags {})", self.name, self.flags.join(","))
        }
    }
}

struct Fixture {
    secrets: Value,
    users: Vec<FixtureUser>,
    deleted: Vec<DeletedUser>,
    tokens: Vec<FixtureToken>,
}

impl Fixture {
    fn load() -> Fixture {
        let dir = fixture_dir();
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        };
        let secrets: Value = serde_json::from_str(&read("secrets.json")).expect("secrets.json");
        let users: UsersFile = serde_json::from_str(&read("users.json")).expect("users.json");
        let tokens: TokensFile = serde_json::from_str(&read("tokens.json")).expect("tokens.json");
        Fixture {
            secrets,
            users: users.users,
            deleted: users.deleted_users,
            tokens: tokens.tokens,
        }
    }

    fn secret(&self, key: &str) -> String {
        match &self.secrets[key] {
            Value::String(s) => s.clone(),
            other => panic!("secrets.json: `{key}` is not a string: {other}"),
        }
    }

    fn made_at_unix(&self) -> i64 {
        self.secrets["made_at_unix"]
            .as_i64()
            .expect("secrets.json: made_at_unix")
    }

    /// A clock a minute after the fixture was made: every token is within its lifetime.
    fn fresh_clock(&self) -> i64 {
        self.made_at_unix() + 60
    }

    fn user(&self, id: i64) -> Option<&FixtureUser> {
        self.users.iter().find(|u| u.id == id)
    }

    fn tokens(&self, kind: &str) -> Vec<&FixtureToken> {
        let found: Vec<&FixtureToken> = self.tokens.iter().filter(|t| t.kind == kind).collect();
        assert!(!found.is_empty(), "tokens.json has no `{kind}`");
        found
    }

    /// The token's user exists and may sign in now (active and confirmed in `users.json`).
    fn user_may_sign_in(&self, token: &FixtureToken) -> bool {
        self.user(token.user_id)
            .is_some_and(|u| u.active && u.confirmed)
    }
}

/// What a hash of the configured scheme starts with, when the test knows it.
fn hash_prefix(scheme: &str) -> Option<&'static str> {
    match scheme {
        // passlib 1.6.2 writes and reads `$2a$`; cost 12 is its default.
        "bcrypt" => Some("$2a$12$"),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// SMTP sink

#[derive(Clone, Debug)]
struct Mail {
    to: Vec<String>,
}

/// A minimal SMTP server: answers 220/250/354/221 and keeps every message's recipients.
struct SmtpSink {
    port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let port = listener.local_addr().expect("sink address").port();
        let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let store = Arc::clone(&mails);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let store = Arc::clone(&store);
                thread::spawn(move || {
                    let _ = serve_smtp(stream, &store);
                });
            }
        });
        SmtpSink { port, mails }
    }

    fn count_to(&self, email: &str) -> usize {
        let email = email.to_lowercase();
        self.mails
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to.contains(&email))
            .count()
    }

    /// Waits (a little) until more than `before` mails reached `email`.
    fn mail_arrived(&self, email: &str, before: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            if self.count_to(email) > before {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve_smtp(stream: TcpStream, store: &Mutex<Vec<Mail>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    out.write_all(b"220 sink ESMTP\r\n")?;
    let mut to = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        let upper = text.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            out.write_all(b"250 sink\r\n")?;
        } else if upper.starts_with("MAIL FROM") || upper == "RSET" {
            to.clear();
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("RCPT TO") {
            let address = text
                .split_once('<')
                .and_then(|(_, rest)| rest.split_once('>'))
                .map(|(address, _)| address.to_owned())
                .unwrap_or_default();
            to.push(address.to_lowercase());
            out.write_all(b"250 OK\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 go ahead\r\n")?;
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line)? == 0 {
                    return Ok(());
                }
                if line == b".\r\n" || line == b".\n" {
                    break;
                }
            }
            store.lock().unwrap().push(Mail {
                to: std::mem::take(&mut to),
            });
            out.write_all(b"250 queued\r\n")?;
        } else if upper == "QUIT" {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"250 OK\r\n")?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The server under test

#[derive(Clone, Copy)]
struct Options {
    /// `SECURITY_FLASK_COMPAT`: on is the app's default (the variable is left unset), off is
    /// `SECURITY_FLASK_COMPAT=false`.
    compat: bool,
    /// `SECURITY_PASSWORDLESS`.
    passwordless: bool,
    /// `CONFORMANCE_CLOCK_START` (unix seconds).
    clock_start: i64,
}

impl Options {
    /// Compat on, passwordless off, the clock just after the fixtures were made.
    fn fresh(fx: &Fixture) -> Options {
        Options {
            compat: true,
            passwordless: false,
            clock_start: fx.fresh_clock(),
        }
    }
}

struct Server {
    child: Child,
    port: u16,
    db_url: String,
    sink: SmtpSink,
    log: PathBuf,
    /// Every 5xx answer seen, as `METHOD path → status`.
    server_errors: Mutex<Vec<String>>,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Server {
    fn start(fx: &Fixture, options: Options) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("app.db");
        std::fs::copy(fixture_dir().join("app.db"), &db).expect("copy app.db");
        let sink = SmtpSink::start();
        let port = free_port();
        let db_url = format!("sqlite://{}?mode=rwc", db.display());
        let flag = |on: bool| if on { "true" } else { "false" }.to_owned();
        let mut env: Vec<(String, String)> = vec![
            ("PORT".into(), port.to_string()),
            ("DATABASE_URL".into(), db_url.clone()),
            ("SECURITY_CONFIRMABLE".into(), flag(true)),
            ("SECURITY_RECOVERABLE".into(), flag(true)),
            ("SECURITY_CHANGEABLE".into(), flag(true)),
            ("SECURITY_TRACKABLE".into(), flag(true)),
            ("SECURITY_REGISTERABLE".into(), flag(true)),
            ("SECURITY_PASSWORDLESS".into(), flag(options.passwordless)),
            ("WTF_CSRF_ENABLED".into(), flag(false)),
            ("MAIL_SERVER".into(), "127.0.0.1".into()),
            ("MAIL_PORT".into(), sink.port.to_string()),
            (
                "CONFORMANCE_CLOCK_START".into(),
                options.clock_start.to_string(),
            ),
            (
                "RUST_LOG".into(),
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            ),
        ];
        if !options.compat {
            // On is the app's default (it stands in for a Flask app): only "off" is said.
            env.push(("SECURITY_FLASK_COMPAT".into(), flag(false)));
        }
        for key in [
            "SECRET_KEY",
            "SECURITY_PASSWORD_SALT",
            "SECURITY_PASSWORD_HASH",
            "SECURITY_REMEMBER_SALT",
            "SECURITY_CONFIRM_SALT",
            "SECURITY_RESET_SALT",
            "SECURITY_LOGIN_SALT",
        ] {
            env.push((key.into(), fx.secret(key)));
        }
        let log = dir.path().join("server.log");
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_conformance-app"))
            .arg("serve")
            .env_clear()
            .envs(env)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start conformance-app serve");
        let mut server = Server {
            child,
            port,
            db_url,
            sink,
            log,
            server_errors: Mutex::new(Vec::new()),
            _dir: dir,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "conformance-app exited at start-up ({status}):\n{}",
                    self.log_text()
                );
            }
            if http(self.port, "GET", "/", &[], &[]).is_ok() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "conformance-app did not answer GET / within 30 s:\n{}",
                    self.log_text()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn client(&self) -> Client<'_> {
        Client {
            server: self,
            jar: BTreeMap::new(),
        }
    }

    /// A fresh client holding only these cookies.
    fn client_with(&self, cookies: &[(&str, &str)]) -> Client<'_> {
        let mut client = self.client();
        for (name, value) in cookies {
            client.jar.insert((*name).to_owned(), (*value).to_owned());
        }
        client
    }

    /// One text value (column `v`) of the first row of a query on the server's database.
    fn query_text(&self, sql: &str) -> Option<String> {
        let url = self.db_url.clone();
        let sql = sql.to_owned();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(async move {
            let db = Database::connect(&url)
                .await
                .expect("open the test database");
            let row = db
                .query_one_raw(Statement::from_string(DbBackend::Sqlite, sql.clone()))
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let value = row.and_then(|r| r.try_get::<Option<String>>("", "v").ok().flatten());
            let _ = db.close().await;
            value
        })
    }

    /// The `user.password` column now.
    fn stored_password(&self, id: i64) -> Option<String> {
        self.query_text(&format!(
            "SELECT CAST(password AS TEXT) AS v FROM \"user\" WHERE id = {id}"
        ))
    }

    /// `user.confirmed_at` is set now.
    fn is_confirmed(&self, id: i64) -> bool {
        self.query_text(&format!(
            "SELECT CAST(confirmed_at AS TEXT) AS v FROM \"user\" WHERE id = {id}"
        ))
        .is_some()
    }

    /// A JSON `POST /login` in a fresh client.
    fn json_login(&self, email: &str, password: &str) -> LoginOutcome {
        let mut client = self.client();
        let response = client.post_json("/login", &json!({"email": email, "password": password}));
        let body: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
        let ok = response.status == 200 && body["meta"]["code"] == 200;
        LoginOutcome {
            ok,
            status: response.status,
            body,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct LoginOutcome {
    ok: bool,
    status: u16,
    body: Value,
}

impl LoginOutcome {
    fn errors(&self) -> &Value {
        &self.body["response"]["errors"]
    }

    fn brief(&self) -> String {
        format!(
            "HTTP {} meta.code {} errors {}",
            self.status, self.body["meta"]["code"], self.body["response"]["errors"]
        )
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 client

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

#[derive(Debug)]
struct SetCookie {
    name: String,
    value: String,
    removed: bool,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn location(&self) -> Option<String> {
        self.header("location").map(path_of)
    }

    fn set_cookies(&self) -> Vec<SetCookie> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| parse_set_cookie(v))
            .collect()
    }

    /// The value this response sets for a cookie (not a deletion).
    fn new_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .rev()
            .find(|c| c.name == name)
            .filter(|c| !c.removed)
            .map(|c| c.value)
    }

    fn text(&self) -> String {
        html_unescape(&self.body)
    }

    fn says(&self, message: &str) -> bool {
        self.text().contains(message)
    }

    fn names(&self, email: &str) -> bool {
        self.text().contains(&format!("Hello {email}"))
    }

    /// `status → location [flashes] (Hello …)` for messages.
    fn brief(&self) -> String {
        let mut out = self.status.to_string();
        if let Some(location) = self.header("location") {
            out.push_str(&format!(" → {location}"));
        }
        let text = self.text();
        let flashes: Vec<&str> = text
            .split("<li class=\"")
            .skip(1)
            .filter_map(|s| s.split_once("\">").map(|(_, rest)| rest))
            .filter_map(|s| s.split_once("</li>").map(|(msg, _)| msg))
            .filter(|m| !m.contains('<'))
            .collect();
        if !flashes.is_empty() {
            out.push_str(&format!(" flashes {flashes:?}"));
        }
        if let Some(start) = text.find("Hello ") {
            let hello: String = text[start..].chars().take_while(|c| *c != '<').collect();
            out.push_str(&format!(" ({hello})"));
        }
        out
    }
}

fn parse_set_cookie(header: &str) -> Option<SetCookie> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.trim().split_once('=')?;
    let value = value.trim().trim_matches('"').to_owned();
    let mut removed = value.is_empty();
    for attribute in parts {
        let attribute = attribute.trim().to_ascii_lowercase();
        if let Some(age) = attribute.strip_prefix("max-age=") {
            removed |= age.trim().parse::<i64>().is_ok_and(|a| a <= 0);
        }
        if let Some(expires) = attribute.strip_prefix("expires=") {
            removed |= expires.contains("1970");
        }
    }
    Some(SetCookie {
        name: name.trim().to_owned(),
        value,
        removed,
    })
}

/// The path (and query) of a URL or path.
fn path_of(url: &str) -> String {
    match url.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(i) => rest[i..].to_owned(),
            None => "/".to_owned(),
        },
        None => url.to_owned(),
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// One request on its own connection (`Connection: close`).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         User-Agent: flask-migration-test/1.0\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" || !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        let mut body = Vec::new();
        let mut at = 0;
        while let Some(eol) = rest[at..].windows(2).position(|w| w == b"\r\n") {
            let size_text = String::from_utf8_lossy(&rest[at..at + eol]).to_string();
            let size_text = size_text.split(';').next().unwrap_or("").trim().to_owned();
            let size = usize::from_str_radix(&size_text, 16).map_err(|_| bad("chunk size"))?;
            at += eol + 2;
            if size == 0 || at + size > rest.len() {
                break;
            }
            body.extend_from_slice(&rest[at..at + size]);
            at += size + 2;
        }
        body
    } else {
        let length = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(rest.len())
            .min(rest.len());
        rest[..length].to_vec()
    };
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A browser-like client: a cookie jar, no redirects followed unless asked.
struct Client<'s> {
    server: &'s Server,
    jar: BTreeMap<String, String>,
}

impl Client<'_> {
    fn send(
        &mut self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Response {
        let mut headers: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        if !self.jar.is_empty() {
            let cookie = self
                .jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            headers.push(("Cookie".into(), cookie));
        }
        let bytes = match body {
            Some((content_type, bytes)) => {
                headers.push(("Content-Type".into(), content_type.to_owned()));
                bytes
            }
            None => Vec::new(),
        };
        let response = http(self.server.port, method, path, &headers, &bytes)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if response.status >= 500 {
            self.server
                .server_errors
                .lock()
                .unwrap()
                .push(format!("{method} {path} → {}", response.status));
        }
        for cookie in response.set_cookies() {
            if cookie.removed {
                self.jar.remove(&cookie.name);
            } else {
                self.jar.insert(cookie.name, cookie.value);
            }
        }
        response
    }

    fn get(&mut self, path: &str) -> Response {
        self.send("GET", path, &[], None)
    }

    fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.send("GET", path, headers, None)
    }

    fn post_json(&mut self, path: &str, body: &Value) -> Response {
        self.send(
            "POST",
            path,
            &[],
            Some(("application/json", body.to_string().into_bytes())),
        )
    }

    fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(
            "POST",
            path,
            &[],
            Some(("application/x-www-form-urlencoded", body.into_bytes())),
        )
    }

    /// GETs the redirect target of a response (the response itself when it is no redirect).
    fn follow(&mut self, response: Response) -> Response {
        match response.location() {
            Some(location) if (300..400).contains(&response.status) => self.get(&location),
            _ => response,
        }
    }

    /// `GET /profile`: the user this client is signed in as, if any.
    fn signed_in_as(&mut self, email: &str) -> bool {
        let response = self.get("/profile");
        response.status == 200 && response.names(email)
    }
}

// ---------------------------------------------------------------------------------------------
// Collecting mismatches

struct Report {
    title: &'static str,
    problems: Vec<String>,
}

impl Report {
    fn new(title: &'static str) -> Report {
        Report {
            title,
            problems: Vec::new(),
        }
    }

    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.problems.push(problem());
        }
    }

    /// Panics with every mismatch and every 5xx the server gave.
    fn finish(mut self, server: &Server) {
        let errors = server.server_errors.lock().unwrap().clone();
        for error in &errors {
            self.problems.push(format!("server error: {error}"));
        }
        if self.problems.is_empty() {
            return;
        }
        let mut message = format!(
            "{}: {} mismatch(es)\n  - {}",
            self.title,
            self.problems.len(),
            self.problems.join("\n  - ")
        );
        if !errors.is_empty() {
            let log = server.log_text();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            message.push_str(&format!("\nserver log (tail):\n{}", tail.join("\n")));
        }
        panic!("{message}");
    }
}

// ---------------------------------------------------------------------------------------------
// Shared checks

/// Policy of an auth token and a remember cookie: 1.7.4 took it, and the user is (and was when
/// it was issued) active and confirmed.
/// The flags say what the user was when 1.7.4 issued the token; the account as it is now
/// decides (a token handed out at registration works once the address is confirmed).
fn auth_token_accepted(fx: &Fixture, token: &FixtureToken) -> bool {
    token.valid && fx.user_may_sign_in(token)
}

/// `GET /token` with the token in the header and in the query string.
fn check_auth_tokens(server: &Server, fx: &Fixture, report: &mut Report, compat: bool) {
    for token in fx.tokens("auth_token") {
        let expected = compat && auth_token_accepted(fx, token);
        let query = format!("/token?auth_token={}", encode(&token.value));
        let by_header = server
            .client()
            .get_with("/token", &[("Authentication-Token", &token.value)]);
        let by_query = server.client().get(&query);
        for (how, response) in [("header", by_header), ("query", by_query)] {
            let accepted = response.status == 200
                && response.says("Token Authentication")
                && response.names(&token.email);
            let refused = response.status == 401;
            report.check(if expected { accepted } else { refused }, || {
                format!(
                    "auth_token {} by {how}: expected {}, got {}",
                    token.label(),
                    if expected {
                        format!("200 naming {}", token.email)
                    } else {
                        "401".into()
                    },
                    response.brief()
                )
            });
        }
    }
}

/// A refusal of `login_required`: 302 to the login page with `next`.
fn is_login_redirect(response: &Response) -> bool {
    response.status == 302
        && response
            .location()
            .is_some_and(|l| l.starts_with("/login") && l.contains("next="))
}

/// Every fixture session cookie and remember cookie is refused.
fn check_cookies_refused(server: &Server, fx: &Fixture, report: &mut Report, why: &str) {
    for (kind, cookie) in [
        ("session_cookie", "session"),
        ("remember_cookie", "remember_token"),
    ] {
        for token in fx.tokens(kind) {
            let response = server
                .client_with(&[(cookie, &token.value)])
                .get("/profile");
            report.check(is_login_redirect(&response), || {
                format!(
                    "{kind} {} ({why}): expected 302 to /login?next=…, got {}",
                    token.label(),
                    response.brief()
                )
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Passwords

/// The outcome of the JSON login of each user with their password, the wrong ones, and the
/// re-hash. `compat` decides only the double-HMAC rescue.
fn check_passwords(server: &Server, fx: &Fixture, report: &mut Report, compat: bool) {
    let final_scheme = fx.secret("SECURITY_PASSWORD_HASH");
    for user in &fx.users {
        // Wrong passwords first, while every legacy hash is still in place.
        let mut wrong: Vec<String> = user.previous_passwords.clone();
        match &user.password {
            Some(p) => {
                wrong.push(format!("{p}x"));
                if p.trim() != p {
                    wrong.push(p.trim().to_owned());
                }
            }
            None => wrong.push("some-password".to_owned()),
        }
        for bad in &wrong {
            let outcome = server.json_login(&user.email, bad);
            report.check(!outcome.ok, || {
                format!(
                    "password of {}: the wrong password {bad:?} was accepted",
                    user.email
                )
            });
        }
        let Some(password) = &user.password else {
            continue;
        };
        let verifies = user.password_verifies || (compat && user.double_hmac);
        let expected = user.active && user.confirmed && verifies;
        let outcome = server.json_login(&user.email, password);
        report.check(outcome.ok == expected, || {
            format!(
                "password of {} (scheme {}, active {}, confirmed {}, verifies in 1.7.4 {}, \
                 double_hmac {}): expected {}, got {}",
                user.email,
                user.scheme.as_deref().unwrap_or("none"),
                user.active,
                user.confirmed,
                user.password_verifies,
                user.double_hmac,
                if expected { "success" } else { "refusal" },
                outcome.brief()
            )
        });
        if !expected && verifies && user.json_login_1_7_4.is_object() && !outcome.ok {
            let want = &user.json_login_1_7_4["errors"];
            report.check(outcome.errors() == want, || {
                format!(
                    "password of {}: expected the errors {want} (as 1.7.4), got {}",
                    user.email,
                    outcome.brief()
                )
            });
        }
        if !(expected && outcome.ok) {
            continue;
        }
        let stored = server.stored_password(user.id);
        let migrated = user.scheme.as_deref() != Some(final_scheme.as_str()) || user.double_hmac;
        if migrated {
            let prefix = hash_prefix(&final_scheme);
            let fits = stored.as_deref().is_some_and(|s| {
                Some(s) != user.stored_password.as_deref()
                    && prefix.is_none_or(|prefix| s.starts_with(prefix))
            });
            report.check(fits, || {
                format!(
                    "password of {} (scheme {}{}): after login the stored hash should be a new \
                     {final_scheme} hash ({}), got {stored:?}",
                    user.email,
                    user.scheme.as_deref().unwrap_or("none"),
                    if user.double_hmac {
                        ", double HMAC"
                    } else {
                        ""
                    },
                    prefix.unwrap_or("changed")
                )
            });
        }
        let again = server.json_login(&user.email, password);
        report.check(again.ok, || {
            format!(
                "password of {}: the second login (after the first re-hashed {}) failed: {}",
                user.email,
                user.scheme.as_deref().unwrap_or("none"),
                again.brief()
            )
        });
    }
    for user in &fx.deleted {
        let password = user.password.as_deref().unwrap_or("some-password");
        let outcome = server.json_login(&user.email, password);
        report.check(!outcome.ok, || {
            format!("deleted user {} could log in", user.email)
        });
    }
}

/// Policy 1 (compat on): every user with a password logs in iff active && confirmed &&
/// (1.7.4 verifies it || double-HMAC rescue); disabled/unconfirmed users get 1.7.4's errors;
/// wrong, previous and trimmed passwords never work; a legacy or double-HMAC hash becomes a
/// `$2a$12$` bcrypt hash at login and the same password works again.
#[test]
fn passwords_keep_working_and_are_rehashed_once() {
    let fx = Fixture::load();
    let server = Server::start(&fx, Options::fresh(&fx));
    let mut report = Report::new("passwords (compat on)");
    check_passwords(&server, &fx, &mut report, true);
    report.finish(&server);
}

/// Compat off: passwords still verify for everyone 1.7.4 verified (not the double-HMAC user),
/// and no Flask auth token, remember cookie, session cookie, confirmation or reset link works.
#[test]
fn without_compat_passwords_verify_but_flask_tokens_are_refused() {
    let fx = Fixture::load();
    let server = Server::start(
        &fx,
        Options {
            compat: false,
            ..Options::fresh(&fx)
        },
    );
    let mut report = Report::new("SECURITY_FLASK_COMPAT=false");
    check_auth_tokens(&server, &fx, &mut report, false);
    check_cookies_refused(&server, &fx, &mut report, "compat off");
    for token in fx.tokens("confirm_token") {
        let mut client = server.client();
        let first = client.get(&token.path("/confirm"));
        let page = client.follow(first);
        let still = fx
            .user(token.user_id)
            .is_none_or(|u| u.confirmed == server.is_confirmed(u.id));
        report.check(
            !page.says("Thank you. Your email has been confirmed.") && still,
            || {
                format!(
                    "confirm_token {} (compat off): expected no confirmation, got {}",
                    token.label(),
                    page.brief()
                )
            },
        );
        report.check(!client.signed_in_as(&token.email), || {
            format!(
                "confirm_token {} (compat off): the link logged {} in",
                token.label(),
                token.email
            )
        });
    }
    for token in fx.tokens("reset_token") {
        let response = server.client().get(&token.path("/reset"));
        report.check(response.status == 302, || {
            format!(
                "reset_token {} (compat off): expected 302 (invalid), got {}",
                token.label(),
                response.brief()
            )
        });
    }
    check_passwords(&server, &fx, &mut report, false);
    report.finish(&server);
}

// ---------------------------------------------------------------------------------------------
// 2. Auth tokens

/// Policy 2: `GET /token` with `Authentication-Token: <value>` or `?auth_token=<value>` answers
/// 200 naming the user iff 1.7.4 took the token and the user is now active and confirmed;
/// else 401 (tampered, other key, wrong salt, password changed/reset/re-hashed, deleted user).
#[test]
fn flask_auth_tokens_authenticate_while_the_password_is_unchanged() {
    let fx = Fixture::load();
    let server = Server::start(&fx, Options::fresh(&fx));
    let mut report = Report::new("auth tokens (compat on)");
    check_auth_tokens(&server, &fx, &mut report, true);
    check_deleted_users_everywhere(&server, &fx, &mut report);
    report.finish(&server);
}

/// Policy 9: every token, cookie or link of a deleted user (`users.json` `deleted_users`) is
/// refused wherever it is presented: as an auth token (also on `auth_required`), as a remember
/// or session cookie, as a confirmation or reset link. (Each kind's own test covers its usual
/// place too; no answer may be a 5xx.)
fn check_deleted_users_everywhere(server: &Server, fx: &Fixture, report: &mut Report) {
    let deleted: HashSet<i64> = fx.deleted.iter().map(|u| u.id).collect();
    let tokens: Vec<&FixtureToken> = fx
        .tokens
        .iter()
        .filter(|t| deleted.contains(&t.user_id))
        .collect();
    report.check(deleted.is_empty() || !tokens.is_empty(), || {
        "tokens.json has no token of a deleted user".into()
    });
    for token in tokens {
        let value = token.value.as_str();
        for path in ["/token", "/multi_auth"] {
            let response = server
                .client()
                .get_with(path, &[("Authentication-Token", value)]);
            report.check(response.status == 401, || {
                format!(
                    "deleted user's {} as Authentication-Token on {path}: expected 401, got {}",
                    token.label(),
                    response.brief()
                )
            });
        }
        for cookie in ["remember_token", "session"] {
            let response = server.client_with(&[(cookie, value)]).get("/profile");
            report.check(is_login_redirect(&response), || {
                format!(
                    "deleted user's {} as the {cookie} cookie: expected 302 to /login, got {}",
                    token.label(),
                    response.brief()
                )
            });
        }
        let mut client = server.client();
        let confirm = client.get(&format!("/confirm/{value}"));
        let page = client.follow(confirm);
        report.check(
            !page.says(CONFIRMED) && !client.signed_in_as(&token.email),
            || {
                format!(
                    "deleted user's {} as a confirmation link: expected a refusal, got {}",
                    token.label(),
                    page.brief()
                )
            },
        );
        let reset = server.client().get(&format!("/reset/{value}"));
        report.check(reset.status == 302, || {
            format!(
                "deleted user's {} as a reset link: expected 302 (invalid), got {}",
                token.label(),
                reset.brief()
            )
        });
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Remember cookies

/// Policy 3: a fresh client holding only a Flask `remember_token` gets `/profile` iff the
/// token is valid and its user is and was active and confirmed; the answer then sets this
/// library's session cookie and a different remember cookie, which work on their own.
/// Refused → 302 to /login?next=….
#[test]
fn flask_remember_cookies_are_swapped_for_our_cookies() {
    let fx = Fixture::load();
    let server = Server::start(&fx, Options::fresh(&fx));
    let mut report = Report::new("remember cookies (compat on)");
    for token in fx.tokens("remember_cookie") {
        let expected = auth_token_accepted(&fx, token);
        let response = server
            .client_with(&[("remember_token", &token.value)])
            .get("/profile");
        if !expected {
            report.check(is_login_redirect(&response), || {
                format!(
                    "remember_cookie {}: expected 302 to /login?next=…, got {}",
                    token.label(),
                    response.brief()
                )
            });
            continue;
        }
        let accepted =
            response.status == 200 && response.says("Profile Page") && response.names(&token.email);
        report.check(accepted, || {
            format!(
                "remember_cookie {}: expected 200 Profile Page naming {}, got {}",
                token.label(),
                token.email,
                response.brief()
            )
        });
        if !accepted {
            continue;
        }
        let session = response.new_cookie("session");
        let remember = response.new_cookie("remember_token");
        report.check(session.is_some(), || {
            format!(
                "remember_cookie {}: the answer sets no session cookie ({:?})",
                token.label(),
                response.set_cookies()
            )
        });
        report.check(
            remember.as_deref().is_some_and(|r| r != token.value),
            || {
                format!(
                    "remember_cookie {}: the answer does not replace remember_token with a \
                     new value ({:?})",
                    token.label(),
                    response.set_cookies()
                )
            },
        );
        if let (Some(session), Some(remember)) = (&session, &remember) {
            let both = server
                .client_with(&[("session", session), ("remember_token", remember)])
                .signed_in_as(&token.email);
            report.check(both, || {
                format!(
                    "remember_cookie {}: the new session + remember cookies do not sign {} in",
                    token.label(),
                    token.email
                )
            });
            let alone = server
                .client_with(&[("remember_token", remember)])
                .signed_in_as(&token.email);
            report.check(alone, || {
                format!(
                    "remember_cookie {}: the new remember cookie alone does not sign {} in",
                    token.label(),
                    token.email
                )
            });
        }
    }
    report.finish(&server);
}

// ---------------------------------------------------------------------------------------------
// 4. Session cookies

/// Policy 4: a fresh client holding only a Flask `session` cookie is signed in iff the cookie
/// is valid and its user exists and is active and confirmed, as Flask would sign it in: every
/// time, so that a page's parallel requests and a browser that did not keep the replacement
/// are not logged out. The answer sets this library's session cookie (a different value),
/// which keeps working. `GET /` with such a cookie names the user too. Refused → 302. Once a
/// session taken over from a cookie logs out, that cookie is refused.
#[test]
fn flask_session_cookies_are_accepted_until_logout_and_swapped() {
    let fx = Fixture::load();
    let server = Server::start(&fx, Options::fresh(&fx));
    let mut report = Report::new("session cookies (compat on)");
    let mut accepted_cookies: Vec<(&str, String, String)> = Vec::new();
    let mut tried_index = false;
    for token in fx.tokens("session_cookie") {
        let expected = token.valid && !token.has("user_inactive") && fx.user_may_sign_in(token);
        let what = token.label();
        let mut client = server.client_with(&[("session", &token.value)]);
        if !expected {
            let index = client.get("/");
            report.check(index.status == 200 && !index.says("Hello "), || {
                format!(
                    "session_cookie {what}: GET / expected 200 naming nobody, got {}",
                    index.brief()
                )
            });
            let response = server
                .client_with(&[("session", &token.value)])
                .get("/profile");
            report.check(is_login_redirect(&response), || {
                format!(
                    "session_cookie {what}: expected 302 to /login?next=…, got {}",
                    response.brief()
                )
            });
            continue;
        }
        // The first accepted cookie goes to the unprotected index page, the others to
        // /profile.
        let (path, body) = if tried_index {
            ("/profile", "Profile Page")
        } else {
            tried_index = true;
            ("/", "Home Page")
        };
        let response = client.get(path);
        let accepted =
            response.status == 200 && response.says(body) && response.names(&token.email);
        report.check(accepted, || {
            format!(
                "session_cookie {what}: GET {path} expected 200 naming {}, got {}",
                token.email,
                response.brief()
            )
        });
        if !accepted {
            continue;
        }
        let ours = response.new_cookie("session");
        report.check(ours.as_deref().is_some_and(|s| s != token.value), || {
            format!(
                "session_cookie {what}: GET {path} sets no new session cookie ({:?})",
                response.set_cookies()
            )
        });
        // Replayed, as by a parallel request: signed in again.
        let replay = server
            .client_with(&[("session", &token.value)])
            .signed_in_as(&token.email);
        report.check(replay, || {
            format!(
                "session_cookie {what}: a second use does not sign {} in",
                token.email
            )
        });
        if let Some(ours) = ours {
            let works = server
                .client_with(&[("session", &ours)])
                .signed_in_as(&token.email);
            report.check(works, || {
                format!(
                    "session_cookie {what}: our new session cookie does not sign {} in",
                    token.email
                )
            });
            accepted_cookies.push((token.value.as_str(), ours, what));
        }
    }
    report.check(tried_index, || {
        "no session cookie was accepted at all".into()
    });
    // Each taken-over session logs out; the Flask cookie it came from is refused from then on.
    for (flask, ours, what) in accepted_cookies {
        let logout = server.client_with(&[("session", &ours)]).get("/logout");
        report.check(logout.status == 302, || {
            format!("session_cookie {what}: logout answered {}", logout.brief())
        });
        let response = server.client_with(&[("session", flask)]).get("/profile");
        report.check(is_login_redirect(&response), || {
            format!(
                "session_cookie {what} replayed after its session logged out: expected 302 to \
                 /login, got {}",
                response.brief()
            )
        });
    }
    report.finish(&server);
}

// ---------------------------------------------------------------------------------------------
// 5. Confirmation links

const CONFIRMED: &str = "Thank you. Your email has been confirmed.";
const ALREADY_CONFIRMED: &str = "Your email has already been confirmed.";
const INVALID_CONFIRMATION: &str = "Invalid confirmation token.";

/// Policy 5: `GET /confirm/<token>` of a valid link of a user unconfirmed at that moment
/// confirms them (`confirmed_at` set), flashes CONFIRMED and signs them in; a valid link of a
/// user who is confirmed already (a used link) flashes ALREADY_CONFIRMED (or, as the contract
/// allows, INVALID_CONFIRMATION_TOKEN) and signs nobody in; an invalid link (wrong salt)
/// flashes INVALID_CONFIRMATION_TOKEN. Every valid link opened again afterwards signs nobody
/// in.
#[test]
fn flask_confirmation_links_confirm_once() {
    let fx = Fixture::load();
    let server = Server::start(&fx, Options::fresh(&fx));
    let mut report = Report::new("confirmation links (compat on)");
    let mut confirmed: HashMap<i64, bool> = fx.users.iter().map(|u| (u.id, u.confirmed)).collect();
    for token in fx.tokens("confirm_token") {
        let mut client = server.client();
        let first = client.get(&token.path("/confirm"));
        let was_redirect = first.status == 302;
        let page = client.follow(first);
        let user = fx.user(token.user_id);
        let now_confirmed = user.is_some_and(|u| server.is_confirmed(u.id));
        let signed_in = client.signed_in_as(&token.email);
        let before = confirmed.get(&token.user_id).copied();
        match (token.valid, user, before) {
            (true, Some(user), Some(false)) => {
                report.check(was_redirect && page.says(CONFIRMED), || {
                    format!(
                        "confirm_token {}: expected 302 then \"{CONFIRMED}\", got {}",
                        token.label(),
                        page.brief()
                    )
                });
                report.check(now_confirmed, || {
                    format!(
                        "confirm_token {}: {} is still unconfirmed",
                        token.label(),
                        user.email
                    )
                });
                report.check(signed_in == user.active, || {
                    format!(
                        "confirm_token {}: expected {} to be signed in: {}, was {signed_in}",
                        token.label(),
                        user.email,
                        user.active
                    )
                });
                confirmed.insert(user.id, true);
            }
            (true, Some(_), _) => {
                report.check(
                    was_redirect
                        && (page.says(ALREADY_CONFIRMED) || page.says(INVALID_CONFIRMATION))
                        && !page.says(CONFIRMED),
                    || {
                        format!(
                            "confirm_token {} of a confirmed user: expected 302 then \
                             \"{ALREADY_CONFIRMED}\", got {}",
                            token.label(),
                            page.brief()
                        )
                    },
                );
                report.check(!signed_in, || {
                    format!(
                        "confirm_token {} of a confirmed user signed {} in",
                        token.label(),
                        token.email
                    )
                });
            }
            _ => {
                report.check(was_redirect && page.says(INVALID_CONFIRMATION), || {
                    format!(
                        "confirm_token {}: expected 302 then \"{INVALID_CONFIRMATION}\", got {}",
                        token.label(),
                        page.brief()
                    )
                });
                report.check(!signed_in, || {
                    format!("confirm_token {} signed {} in", token.label(), token.email)
                });
                if let Some(user) = user {
                    report.check(now_confirmed == confirmed[&user.id], || {
                        format!(
                            "confirm_token {}: changed the confirmation of {}",
                            token.label(),
                            user.email
                        )
                    });
                }
            }
        }
    }
    for token in fx.tokens("confirm_token") {
        if !token.valid {
            continue;
        }
        let mut client = server.client();
        let first = client.get(&token.path("/confirm"));
        let page = client.follow(first);
        report.check(
            !page.says(CONFIRMED) && !client.signed_in_as(&token.email),
            || {
                format!(
                    "confirm_token {} opened again: expected no confirmation and no sign-in, \
                     got {}",
                    token.label(),
                    page.brief()
                )
            },
        );
    }
    report.finish(&server);
}

// ---------------------------------------------------------------------------------------------
// 6. Reset links

const INVALID_RESET: &str = "Invalid reset password token.";

/// Policy 6: `GET /reset/<token>` renders the "Reset password" form iff the link is valid and
/// was not used (a used link was issued for a password that has changed since). The flow
/// checks no `active` flag on GET, so links of inactive users show the form too (as 1.7.4).
/// Else 302 to the forgot-password page with "Invalid reset password token.". Then one valid
/// link of an active confirmed user resets the password by POST; the link is dead afterwards,
/// and only the new password logs in.
#[test]
fn flask_reset_links_work_once_and_die_with_the_password() {
    let fx = Fixture::load();
    let server = Server::start(&fx, Options::fresh(&fx));
    let mut report = Report::new("reset links (compat on)");
    for token in fx.tokens("reset_token") {
        let expected =
            token.valid && !token.has("already_used") && fx.user(token.user_id).is_some();
        let mut client = server.client();
        let response = client.get(&token.path("/reset"));
        if expected {
            let form = response.status == 200
                && response.says("<h1>Reset password</h1>")
                && response.says("name=\"password_confirm\"");
            report.check(form, || {
                format!(
                    "reset_token {}: expected 200 with the reset form, got {}",
                    token.label(),
                    response.brief()
                )
            });
        } else {
            let to_forgot = response.status == 302
                && response
                    .location()
                    .is_some_and(|l| l.split('?').next() == Some("/reset"));
            let page = client.follow(response);
            report.check(to_forgot && page.says(INVALID_RESET), || {
                format!(
                    "reset_token {}: expected 302 to /reset then \"{INVALID_RESET}\", got {}",
                    token.label(),
                    page.brief()
                )
            });
        }
    }
    let chosen = fx.tokens("reset_token").into_iter().find(|t| {
        t.valid
            && t.flags.is_empty()
            && fx
                .user(t.user_id)
                .is_some_and(|u| u.active && u.confirmed && u.password.is_some())
    });
    let Some(token) = chosen else {
        report.check(false, || {
            "no valid reset link of an active confirmed user".into()
        });
        report.finish(&server);
        return;
    };
    let user = fx.user(token.user_id).expect("the chosen user");
    let old = user.password.clone().expect("a password");
    let new = format!("{old}-reset-by-the-port");
    let mut client = server.client();
    let response = client.post_form(
        &token.path("/reset"),
        &[("password", &new), ("password_confirm", &new)],
    );
    let reset = response.status == 302
        && response
            .location()
            .is_some_and(|l| !l.starts_with("/reset"));
    report.check(reset, || {
        format!(
            "POST reset_token {}: expected 302 away from /reset, got {}",
            token.label(),
            response.brief()
        )
    });
    report.check(client.signed_in_as(&user.email), || {
        format!(
            "POST reset_token {}: {} is not signed in afterwards",
            token.label(),
            user.email
        )
    });
    let mut again = server.client();
    let second = again.get(&token.path("/reset"));
    let page = again.follow(second);
    report.check(page.says(INVALID_RESET), || {
        format!(
            "reset_token {} after its use: expected \"{INVALID_RESET}\", got {}",
            token.label(),
            page.brief()
        )
    });
    let second_post = server.client().post_form(
        &token.path("/reset"),
        &[
            ("password", "yet-another-pw"),
            ("password_confirm", "yet-another-pw"),
        ],
    );
    report.check(
        second_post.status == 302
            && second_post
                .location()
                .is_some_and(|l| l.split('?').next() == Some("/reset")),
        || {
            format!(
                "POST reset_token {} a second time: expected 302 to /reset (invalid), got {}",
                token.label(),
                second_post.brief()
            )
        },
    );
    let with_new = server.json_login(&user.email, &new);
    report.check(with_new.ok, || {
        format!(
            "{} cannot log in with the new password: {}",
            user.email,
            with_new.brief()
        )
    });
    let with_old = server.json_login(&user.email, &old);
    report.check(!with_old.ok, || {
        format!("{} can still log in with the old password", user.email)
    });
    report.finish(&server);
}

// ---------------------------------------------------------------------------------------------
// 7. Passwordless login links

const INVALID_LOGIN: &str = "Invalid login token.";

/// Policy 7 (`SECURITY_PASSWORDLESS=true`): `GET /login/<token>` signs the user in (302, then
/// `/profile` answers 200) iff the link is valid and the user active and confirmed; a link
/// works once ("Invalid login token." the second time); a wrong-salt link is refused.
#[test]
fn flask_login_links_sign_in_once() {
    let fx = Fixture::load();
    let server = Server::start(
        &fx,
        Options {
            passwordless: true,
            ..Options::fresh(&fx)
        },
    );
    let mut report = Report::new("passwordless login links (compat on)");
    let mut used: HashSet<&str> = HashSet::new();
    for token in fx.tokens("login_token") {
        let replay = used.contains(token.value.as_str());
        let expected = token.valid && fx.user_may_sign_in(token) && !replay;
        let mut client = server.client();
        let response = client.get(&token.path("/login"));
        let redirected = response.status == 302;
        let to_login = response
            .location()
            .is_some_and(|l| l.split('?').next() == Some("/login"));
        let page = client.follow(response);
        let signed_in = client.signed_in_as(&token.email);
        if expected {
            report.check(redirected && !to_login && signed_in, || {
                format!(
                    "login_token {}: expected a sign-in of {}, got {} (signed in: {signed_in})",
                    token.label(),
                    token.email,
                    page.brief()
                )
            });
            used.insert(token.value.as_str());
        } else {
            report.check(redirected && to_login && !signed_in, || {
                format!(
                    "login_token {}{}: expected 302 to /login and no sign-in, got {} (signed \
                     in: {signed_in})",
                    token.label(),
                    if replay { " (replay)" } else { "" },
                    page.brief()
                )
            });
            if !token.valid || replay {
                report.check(page.says(INVALID_LOGIN), || {
                    format!(
                        "login_token {}: expected \"{INVALID_LOGIN}\", got {}",
                        token.label(),
                        page.brief()
                    )
                });
            }
        }
    }
    for token in fx.tokens("login_token") {
        if !used.remove(token.value.as_str()) {
            continue;
        }
        let mut client = server.client();
        let response = client.get(&token.path("/login"));
        let page = client.follow(response);
        let signed_in = client.signed_in_as(&token.email);
        report.check(page.says(INVALID_LOGIN) && !signed_in, || {
            format!(
                "login_token {} used a second time: expected \"{INVALID_LOGIN}\", got {} \
                 (signed in: {signed_in})",
                token.label(),
                page.brief()
            )
        });
    }
    report.finish(&server);
}

// ---------------------------------------------------------------------------------------------
// 8. Expiry

/// Policy 8: 32 days after the fixture was made every Flask session cookie is refused (Flask's
/// 31 days), confirmation/reset/login links are expired (no confirmation, no reset form, no
/// sign-in) and a new mail is sent for every one that is still bound to its user (confirmation
/// only for users who still need it), while auth tokens of valid users still work (1.7.4's
/// never expire).
#[test]
fn after_32_days_only_flask_auth_tokens_still_work() {
    let fx = Fixture::load();
    let server = Server::start(
        &fx,
        Options {
            passwordless: true,
            clock_start: fx.made_at_unix() + 32 * 24 * 3600,
            ..Options::fresh(&fx)
        },
    );
    let mut report = Report::new("32 days later (compat on)");
    check_auth_tokens(&server, &fx, &mut report, true);
    for token in fx.tokens("session_cookie") {
        let response = server
            .client_with(&[("session", &token.value)])
            .get("/profile");
        report.check(is_login_redirect(&response), || {
            format!(
                "session_cookie {} after 32 days: expected 302 to /login, got {}",
                token.label(),
                response.brief()
            )
        });
    }
    for token in fx.tokens("confirm_token") {
        let user = fx.user(token.user_id);
        let before = server.sink.count_to(&token.email);
        let mut client = server.client();
        let response = client.get(&token.path("/confirm"));
        let page = client.follow(response);
        let unconfirmed = user.is_some_and(|u| !u.confirmed);
        report.check(
            !page.says(CONFIRMED)
                && !client.signed_in_as(&token.email)
                && (!unconfirmed || !server.is_confirmed(token.user_id)),
            || {
                format!(
                    "confirm_token {} after 32 days: expected no confirmation and no sign-in, \
                     got {}",
                    token.label(),
                    page.brief()
                )
            },
        );
        if token.valid && unconfirmed {
            report.check(server.sink.mail_arrived(&token.email, before), || {
                format!(
                    "confirm_token {} after 32 days: no new confirmation mail to {}",
                    token.label(),
                    token.email
                )
            });
        } else if !token.valid {
            report.check(server.sink.count_to(&token.email) == before, || {
                format!(
                    "confirm_token {} (invalid) after 32 days sent mail to {}",
                    token.label(),
                    token.email
                )
            });
        }
    }
    for token in fx.tokens("reset_token") {
        let before = server.sink.count_to(&token.email);
        let response = server.client().get(&token.path("/reset"));
        let expired = response.status == 302
            && response
                .location()
                .is_some_and(|l| l.split('?').next() == Some("/reset"));
        report.check(expired, || {
            format!(
                "reset_token {} after 32 days: expected 302 to /reset, got {}",
                token.label(),
                response.brief()
            )
        });
        if token.valid && !token.has("already_used") && fx.user(token.user_id).is_some() {
            report.check(server.sink.mail_arrived(&token.email, before), || {
                format!(
                    "reset_token {} after 32 days: no new reset mail to {}",
                    token.label(),
                    token.email
                )
            });
        } else if !token.valid {
            report.check(server.sink.count_to(&token.email) == before, || {
                format!(
                    "reset_token {} (invalid) after 32 days sent mail to {}",
                    token.label(),
                    token.email
                )
            });
        }
    }
    for token in fx.tokens("login_token") {
        let before = server.sink.count_to(&token.email);
        let mut client = server.client();
        let response = client.get(&token.path("/login"));
        let to_login = response.status == 302
            && response
                .location()
                .is_some_and(|l| l.split('?').next() == Some("/login"));
        let signed_in = client.signed_in_as(&token.email);
        report.check(to_login && !signed_in, || {
            format!(
                "login_token {} after 32 days: expected 302 to /login and no sign-in, got {} \
                 (signed in: {signed_in})",
                token.label(),
                response.brief()
            )
        });
        if token.valid && fx.user(token.user_id).is_some() {
            report.check(server.sink.mail_arrived(&token.email, before), || {
                format!(
                    "login_token {} after 32 days: no new login mail to {}",
                    token.label(),
                    token.email
                )
            });
        } else {
            report.check(server.sink.count_to(&token.email) == before, || {
                format!(
                    "login_token {} (invalid) after 32 days sent mail to {}",
                    token.label(),
                    token.email
                )
            });
        }
    }
    report.finish(&server);
}
