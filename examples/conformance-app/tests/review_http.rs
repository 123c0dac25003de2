//! The security review's findings, checked black-box over real HTTP.
//!
//! The review found problems that only show between processes and sockets, not in the
//! library's in-process tests: a weak `SECRET_KEY` was accepted, a forged `Host` header went
//! into mailed links, logout left a copied session or remember cookie working on another server
//! process, security views could be cached and framed, a half-open connection was kept forever,
//! and a generic answer waited for (and so revealed, by its timing) a mail to a slow relay. Each
//! test here starts the real `conformance-app serve` (its own temporary directory, SQLite file,
//! port and SMTP sink), seeds users with the app's CLI, and speaks plain HTTP/1.1 over a
//! `TcpStream` without following redirects. The expected behaviour is in the CONTRACT's
//! "Beyond 1.7.4" section.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_conformance-app");
const SECRET_KEY: &str = "review-http-secret-key-0123456789";
const PASSWORD: &str = "correct-horse-9";

// ---------------------------------------------------------------------------------------------
// The app: one temporary directory and SQLite file, its environment, its server processes

struct App {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl App {
    /// The base environment, then `extra` (a later key wins).
    fn new(extra: &[(&str, &str)]) -> App {
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

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        command
    }

    /// `conformance-app users create EMAIL --password …`.
    fn create_user(&self, email: &str) {
        let out = self
            .command(&["users", "create", email, "--password", PASSWORD])
            .output()
            .expect("run conformance-app users create");
        assert!(
            out.status.success(),
            "users create {email}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `conformance-app serve` on a free port, its stdout and stderr in `serve-<port>.log`.
    fn spawn(&self, port: u16) -> (Child, PathBuf) {
        let log = self.dir.path().join(format!("serve-{port}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let child = self
            .command(&["serve"])
            .env("PORT", port.to_string())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("start conformance-app serve");
        (child, log)
    }

    /// A server answering `GET /`.
    fn serve(&self) -> Server {
        let port = free_port();
        let (child, log) = self.spawn(port);
        let mut server = Server { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("serve exited at start-up ({status}):\n{}", server.log());
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not listen within 30 s:\n{}",
                server.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A running `serve`, killed on drop.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        request(self.port, "GET", path, headers, b"")
    }

    fn post_form(&self, path: &str, headers: &[(&str, &str)], form: &str) -> Response {
        let mut headers = headers.to_vec();
        headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        request(self.port, "POST", path, &headers, form.as_bytes())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Polls `done` every 50 ms until it holds or `limit` has passed; whether it held.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
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
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value this response sets for the cookie `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next()?.trim().split_once('='))
            .filter(|(n, v)| *n == name && !v.is_empty())
            .map(|(_, v)| v.to_owned())
            .next_back()
    }

    /// A 302 whose `Location` path is `/login` (with or without a query).
    fn redirects_to_login(&self) -> bool {
        let location = self.header("location").unwrap_or("");
        let path = match location.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => location,
        };
        self.status == 302 && (path == "/login" || path.starts_with("/login?"))
    }
}

/// Sends one request (`Connection: close`; `Host: 127.0.0.1:<port>` unless `headers` has one).
fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
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
struct SmtpSink {
    port: u16,
    mails: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    fn start() -> SmtpSink {
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
    fn first_mail(&self) -> String {
        let arrived = wait_until(Duration::from_secs(10), || {
            !self.mails.lock().unwrap().is_empty()
        });
        assert!(arrived, "no mail reached the SMTP sink within 10 s");
        self.mails.lock().unwrap()[0].clone()
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

/// A relay that accepts connections and never sends a byte (the sockets stay open); its port
/// and how many connections it accepted.
fn hanging_relay() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the hanging relay");
    let port = listener.local_addr().expect("relay address").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, accepted)
}

/// Quoted-printable decoding (soft line breaks and `=XX`), if the message uses it.
fn decode_mail(raw: &str) -> String {
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

// ---------------------------------------------------------------------------------------------
// The findings

#[test]
fn a_short_secret_key_stops_the_server() {
    let app = App::new(&[("SECRET_KEY", "short")]);
    let (mut child, log) = app.spawn(free_port());
    let mut status = None;
    wait_until(Duration::from_secs(30), || {
        status = child.try_wait().expect("poll serve");
        status.is_some()
    });
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("serve with SECRET_KEY=short still runs after 30 s");
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!status.success(), "serve exited with {status}:\n{output}");
    assert!(
        output.contains("SECRET_KEY"),
        "serve's stderr does not mention SECRET_KEY:\n{output}"
    );

    let weak = App::new(&[
        ("SECRET_KEY", "short"),
        ("SECURITY_ALLOW_WEAK_SECRET_KEY", "true"),
    ]);
    let server = weak.serve();
    let home = server.get("/", &[]);
    assert_eq!(home.status, 200, "GET / with a weak key allowed: {home:?}");
}

#[test]
fn a_forged_host_never_makes_a_mailed_link() {
    let sink = SmtpSink::start();
    let mail_port = sink.port.to_string();
    let app = App::new(&[("SECURITY_RECOVERABLE", "true"), ("MAIL_PORT", &mail_port)]);
    app.create_user("joe@lp.com");
    let server = app.serve();

    let forgot = server.post_form("/reset", &[("Host", "evil.example")], "email=joe%40lp.com");
    assert_eq!(
        forgot.status, 200,
        "POST /reset with Host: evil.example: {forgot:?}"
    );

    let mail = decode_mail(&sink.first_mail());
    let links: Vec<&str> = mail
        .split(|c: char| c.is_whitespace() || "\"'<>".contains(c))
        .filter(|word| word.contains("/reset/"))
        .collect();
    let expected = format!("http://127.0.0.1:{}/reset/", server.port);
    assert!(!links.is_empty(), "no reset link in the mail:\n{mail}");
    for link in &links {
        assert!(
            link.starts_with(&expected),
            "reset link {link} does not start with {expected}:\n{mail}"
        );
    }
    assert!(
        !mail.contains("evil.example"),
        "the mail names the forged host:\n{mail}"
    );
}

#[test]
fn logout_ends_a_copied_session_on_another_server_process() {
    let app = App::new(&[]);
    app.create_user("joe@lp.com");
    let a = app.serve();
    let b = app.serve();

    let form = format!("email=joe%40lp.com&password={PASSWORD}&remember=y");
    let login = a.post_form("/login", &[], &form);
    assert_eq!(login.status, 302, "POST /login on A: {login:?}");
    let session = format!(
        "session={}",
        login.cookie("session").expect("a session cookie")
    );
    let remember = format!(
        "remember_token={}",
        login.cookie("remember_token").expect("a remember cookie")
    );

    for cookie in [&session, &remember] {
        let profile = b.get("/profile", &[("Cookie", cookie)]);
        assert_eq!(
            profile.status, 200,
            "GET /profile on B with {cookie}: {profile:?}"
        );
    }

    let both = format!("{session}; {remember}");
    let logout = a.get("/logout", &[("Cookie", &both)]);
    assert_eq!(logout.status, 302, "GET /logout on A: {logout:?}");

    for cookie in [&session, &remember] {
        for (name, server) in [("A", &a), ("B", &b)] {
            let profile = server.get("/profile", &[("Cookie", cookie)]);
            assert!(
                profile.redirects_to_login(),
                "GET /profile on {name} after logout with the copied {cookie}: {profile:?}"
            );
        }
    }
}

#[test]
fn security_views_send_protective_headers() {
    let app = App::new(&[]);
    let server = app.serve();

    let login = server.get("/login", &[]);
    assert_eq!(login.status, 200, "GET /login: {login:?}");
    for (name, value) in [
        ("Cache-Control", "no-store"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    ] {
        assert_eq!(login.header(name), Some(value), "GET /login: {name}");
    }
    let csp = login.header("Content-Security-Policy").unwrap_or("");
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "GET /login: Content-Security-Policy `{csp}`"
    );

    let home = server.get("/", &[]);
    assert_eq!(home.status, 200, "GET /: {home:?}");
    assert_eq!(
        home.header("X-Frame-Options"),
        None,
        "GET / is the app's page"
    );
}

#[test]
fn a_half_open_connection_is_closed() {
    let app = App::new(&[]);
    let server = app.serve();

    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .expect("send half a request");
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let closed_after = loop {
        let left = Duration::from_secs(20).saturating_sub(started.elapsed());
        assert!(
            !left.is_zero(),
            "the half-open connection is still open after 20 s"
        );
        stream.set_read_timeout(Some(left)).expect("read timeout");
        match stream.read(&mut buf) {
            // A 408 or similar may come first; what counts is that the server closes.
            Ok(n) if n > 0 => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            _ => break started.elapsed(),
        }
    };
    assert!(
        closed_after <= Duration::from_secs(15),
        "the server closed the half-open connection only after {closed_after:?}"
    );
}

#[test]
fn generic_answers_do_not_wait_for_a_hanging_relay() {
    let (relay_port, accepted) = hanging_relay();
    let relay_port = relay_port.to_string();
    let app = App::new(&[
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_RETURN_GENERIC_RESPONSES", "true"),
        ("MAIL_PORT", &relay_port),
    ]);
    app.create_user("joe@lp.com");
    let server = app.serve();

    let mut answers = Vec::new();
    for email in ["joe@lp.com", "nobody@lp.com"] {
        let body = format!(r#"{{"email": "{email}"}}"#);
        let started = Instant::now();
        let answer = request(
            server.port,
            "POST",
            "/reset",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "POST /reset for {email} took {took:?} (the relay never answers): {answer:?}"
        );
        answers.push((answer.status, answer.body));
    }
    assert_eq!(
        answers[0], answers[1],
        "a known and an unknown address get different answers"
    );
    // The test means something only if a mail to joe was really on its way to the relay.
    assert!(
        wait_until(Duration::from_secs(10), || accepted.load(Ordering::SeqCst)
            > 0),
        "the app never connected to the relay:\n{}",
        server.log()
    );
}

#[test]
fn logout_by_get_follows_the_logout_methods_setting() {
    let app = App::new(&[("SECURITY_LOGOUT_METHODS", "POST")]);
    let server = app.serve();

    let get = server.get("/logout", &[]);
    assert_eq!(get.status, 405, "GET /logout: {get:?}");
    let post = request(server.port, "POST", "/logout", &[], b"");
    assert_eq!(post.status, 302, "POST /logout: {post:?}");
}
