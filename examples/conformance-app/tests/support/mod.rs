//! What the black-box tests share: the app (its temporary directory, environment, CLI and
//! `serve` processes), a plain HTTP/1.1 client that does not follow redirects, and an SMTP sink.
//! Each test file uses a part of it.
#![allow(dead_code, reason = "each test file uses a part of the helpers")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_conformance-app");
/// The `SECRET_KEY` of an [`App`] unless it is given another.
pub const SECRET_KEY: &str = "review-http-secret-key-0123456789";
/// The password [`App::create_user`] gives.
pub const PASSWORD: &str = "correct-horse-9";

// ---------------------------------------------------------------------------------------------
// The app: one temporary directory and SQLite file, its environment, its server processes

pub struct App {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl App {
    /// The base environment, then `extra` (a later key wins).
    pub fn new(extra: &[(&str, &str)]) -> App {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("app.db");
        let mut env: Vec<(String, String)> = [
            ("SECRET_KEY", SECRET_KEY.to_owned()),
            (
                "DATABASE_URL",
                format!("sqlite://{}?mode=rwc", db.display()),
            ),
            ("MAIL_SERVER", "127.0.0.1".to_owned()),
            ("MAIL_PORT", "25".to_owned()),
            ("WTF_CSRF_ENABLED", "false".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        App { dir, env }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        command
    }

    /// `conformance-app ARGS…` (the CLI), which must succeed: its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self
            .command(args)
            .output()
            .unwrap_or_else(|e| panic!("run conformance-app {}: {e}", args.join(" ")));
        assert!(
            out.status.success(),
            "conformance-app {}: {}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `conformance-app users create EMAIL --password PASSWORD`.
    pub fn create_user(&self, email: &str) {
        self.cli(&["users", "create", email, "--password", PASSWORD]);
    }

    /// `conformance-app serve` on a free port, its stdout and stderr in `serve-<port>.log`.
    pub fn spawn(&self, port: u16) -> (Child, PathBuf) {
        self.spawn_with(port, &[])
    }

    fn spawn_with(&self, port: u16, env: &[(&str, &str)]) -> (Child, PathBuf) {
        let log = self.dir.path().join(format!("serve-{port}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let child = self
            .command(&["serve"])
            .envs(env.iter().copied())
            .env("PORT", port.to_string())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("start conformance-app serve");
        (child, log)
    }

    /// `serve` on a free port, listening.
    pub fn serve(&self) -> Server {
        let mut server = self.start();
        server.wait_listening();
        server
    }

    /// `serve` on a free port, not waited for (to start several at once, then wait for each).
    pub fn start(&self) -> Server {
        self.start_with(&[])
    }

    /// [`App::start`] with more environment for this process only (e.g. its clock).
    pub fn start_with(&self, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let (child, log) = self.spawn_with(port, env);
        Server { child, port, log }
    }

    /// `serve`, listening, whose clock starts `ahead` seconds from now
    /// (`CONFORMANCE_CLOCK_START`): what it issued ages that much for it.
    pub fn serve_ahead(&self, ahead: i64) -> Server {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let start = i64::try_from(now).expect("a date") + ahead;
        let mut server = self.start_with(&[("CONFORMANCE_CLOCK_START", &start.to_string())]);
        server.wait_listening();
        server
    }
}

/// A running `serve`, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Server {
    /// Waits until it listens; panics with its log when it exits first or takes over 30 s.
    pub fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("serve exited at start-up ({status}):\n{}", self.log());
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not listen within 30 s:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        request(self.port, "GET", path, headers, b"")
    }

    pub fn post_form(&self, path: &str, headers: &[(&str, &str)], form: &str) -> Response {
        let mut headers = headers.to_vec();
        headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        request(self.port, "POST", path, &headers, form.as_bytes())
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Response {
        let headers = [("Content-Type", "application/json")];
        request(
            self.port,
            "POST",
            path,
            &headers,
            body.to_string().as_bytes(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Polls `done` every 50 ms until it holds or `limit` has passed; whether it held.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 client: one request per connection, redirects not followed

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value this response sets for the cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next()?.trim().split_once('='))
            .filter(|(n, v)| *n == name && !v.is_empty())
            .map(|(_, v)| v.to_owned())
            .next_back()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The path (and query) of `Location`, empty without one.
    pub fn location_path(&self) -> &str {
        let location = self.header("location").unwrap_or("");
        match location.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => location,
        }
    }

    /// A 302 whose `Location` path is `/login` (with or without a query).
    pub fn redirects_to_login(&self) -> bool {
        let path = self.location_path();
        self.status == 302 && (path == "/login" || path.starts_with("/login?"))
    }
}

/// Sends one request (`Connection: close`; `Host: 127.0.0.1:<port>` unless `headers` has one).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method != "GET" || !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let send = || -> std::io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        Ok(raw)
    };
    let raw = send().unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    parse_response(&raw).unwrap_or_else(|| {
        panic!(
            "{method} {path}: not an HTTP response: {:?}",
            String::from_utf8_lossy(&raw)
        )
    })
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let mut body = Vec::new();
    if chunked {
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = String::from_utf8_lossy(&rest[..eol]);
            let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
            rest = &rest[eol + 2..];
            if size == 0 || size > rest.len() {
                break;
            }
            body.extend_from_slice(&rest[..size]);
            rest = rest.get(size + 2..).unwrap_or_default();
        }
    } else {
        body = rest.to_vec();
    }
    Some(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Mail relays

/// A minimal SMTP server keeping every message's raw DATA.
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let port = listener.local_addr().expect("sink address").port();
        let mails: Arc<Mutex<Vec<String>>> = Arc::default();
        let store = Arc::clone(&mails);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let store = Arc::clone(&store);
                thread::spawn(move || smtp_session(stream, &store));
            }
        });
        SmtpSink { port, mails }
    }

    /// The first message, waiting up to 10 s for it.
    pub fn first_mail(&self) -> String {
        let arrived = wait_until(Duration::from_secs(10), || {
            !self.mails.lock().unwrap().is_empty()
        });
        assert!(arrived, "no mail reached the SMTP sink within 10 s");
        self.mails.lock().unwrap()[0].clone()
    }

    /// Every message received so far.
    pub fn mails(&self) -> Vec<String> {
        self.mails.lock().unwrap().clone()
    }
}

fn smtp_session(stream: TcpStream, store: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    out.write_all(b"220 sink ESMTP\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command == "DATA" {
            out.write_all(b"354 go ahead\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line.trim_end_matches(['\r', '\n']) == "." {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            store.lock().unwrap().push(data);
            out.write_all(b"250 queued\r\n")?;
        } else if command == "QUIT" {
            return out.write_all(b"221 bye\r\n");
        } else {
            out.write_all(b"250 OK\r\n")?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers of the tests

/// Percent-encoding of a form value (everything but the unreserved characters).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The `session` cookie a response sets, as a `Cookie` header value.
pub fn session_cookie(r: &Response) -> Option<String> {
    r.cookie("session").map(|value| format!("session={value}"))
}

/// A raw mail with its quoted-printable soft breaks and `=XX` escapes undone, if it uses them.
pub fn decode_mail(raw: &str) -> String {
    if !raw.to_ascii_lowercase().contains("quoted-printable") {
        return raw.to_owned();
    }
    let bytes = raw.replace("=\r\n", "").replace("=\n", "").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(byte) if bytes[i] == b'=' => {
                out.push(byte);
                i += 3;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
