//! Flask-Security 5.9's freshness on the real `conformance-app serve`, over HTTP: `/fresh`,
//! the stale answers, `/verify`, and `SECURITY_FRESHNESS` negative.
//!
//! An authentication is aged the way the black-box suite ages it: a second server on the same
//! database and `SECRET_KEY` whose clock starts later (`CONFORMANCE_CLOCK_START`), so that the
//! session cookie and the token made by the first server are two days old there.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_conformance-app");
const EMAIL: &str = "matt@lp.com";
const PASSWORD: &str = "password-of-matt";

/// One SQLite file and the environment every process of the test shares.
struct App {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl App {
    fn new(extra: &[(&str, &str)]) -> App {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("app.db");
        let mut env: Vec<(String, String)> = vec![
            (
                "SECRET_KEY".into(),
                "freshness-http-secret-0123456789".into(),
            ),
            (
                "DATABASE_URL".into(),
                format!("sqlite://{}?mode=rwc", db.display()),
            ),
            ("MAIL_SERVER".into(), "127.0.0.1".into()),
            ("MAIL_PORT".into(), "25".into()),
            ("WTF_CSRF_ENABLED".into(), "false".into()),
        ];
        env.extend(extra.iter().map(|(k, v)| ((*k).into(), (*v).into())));
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

    fn create_user(&self) {
        let out = self
            .command(&["users", "create", EMAIL, "--password", PASSWORD])
            .output()
            .expect("run users create");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A server whose clock starts `ahead` seconds from now.
    fn serve(&self, ahead: i64) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64;
        let log = self.dir.path().join(format!("serve-{port}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let child = self
            .command(&["serve"])
            .env("PORT", port.to_string())
            .env("CONFORMANCE_CLOCK_START", (now + ahead).to_string())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("start serve");
        let mut server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "serve exited ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "serve did not listen in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

/// A running server, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

    /// The `session` cookie this response sets, as a `Cookie` header value.
    fn session(&self) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next())
            .find(|pair| pair.starts_with("session=") && pair.len() > "session=".len())
            .map(str::to_owned)
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Server {
    /// One HTTP/1.1 request on its own connection; redirects are not followed.
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.port
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        stream.write_all(head.as_bytes()).expect("send");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Response {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request("GET", path, headers, "")
    }

    fn post_form(&self, path: &str, headers: &[(&str, &str)], form: &str) -> Response {
        let mut headers = headers.to_vec();
        headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        self.request("POST", path, &headers, form)
    }

    fn post_json(&self, path: &str, body: &serde_json::Value) -> Response {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            &body.to_string(),
        )
    }
}

const TWO_DAYS: i64 = 2 * 86_400;

#[test]
fn fresh_verify_and_the_stale_answers_over_http() {
    let app = App::new(&[]);
    app.create_user();
    let now = app.serve(0);
    let login = now.post_form("/login", &[], &format!("email={EMAIL}&password={PASSWORD}"));
    assert_eq!(login.status, 302, "{}", login.body);
    let cookie = login.session().expect("a session");
    let session = [("Cookie", cookie.as_str())];
    let r = now.get("/fresh", &session);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Fresh Only"), "{}", r.body);
    let r = now.get(
        "/fresh",
        &[("Cookie", cookie.as_str()), ("Accept", "application/json")],
    );
    assert_eq!(r.json(), serde_json::json!({"title": "Fresh Only"}));
    let token = now.post_json(
        "/login",
        &serde_json::json!({"email": EMAIL, "password": PASSWORD}),
    );
    let token = token.json()["response"]["user"]["authentication_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let r = now.post_form("/fresh", &[("Authentication-Token", token.as_str())], "");
    assert_eq!(r.status, 200, "POST too: {}", r.body);

    // Two days later (SECURITY_FRESHNESS is 24 hours by default).
    let later = app.serve(TWO_DAYS);
    let r = later.get("/fresh", &session);
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.header("location"), Some("/verify?next=/fresh"));
    let flashed = r.session().expect("the flash is in the session");
    let r = later.get(
        "/fresh",
        &[("Cookie", cookie.as_str()), ("Accept", "application/json")],
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["response"]["reauth_required"], true);
    assert_eq!(
        r.json()["response"]["errors"],
        serde_json::json!(["You must reauthenticate to access this endpoint"])
    );
    let r = later.get(
        "/fresh",
        &[
            ("Authentication-Token", token.as_str()),
            ("Accept", "application/json"),
        ],
    );
    assert_eq!(r.status, 401, "the token is two days old: {}", r.body);

    // The verify page, with the flash; the password makes the session fresh there.
    let page = later.get("/verify?next=/fresh", &[("Cookie", flashed.as_str())]);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<h1>Reauthenticate</h1>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("You must reauthenticate to access this endpoint"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("action=\"/verify?next=/fresh\""),
        "{}",
        page.body
    );
    let wrong = later.post_form(
        "/verify?next=/fresh",
        &[("Cookie", cookie.as_str())],
        "password=not-the-password",
    );
    assert_eq!(wrong.status, 200);
    assert!(wrong.body.contains("Invalid password"), "{}", wrong.body);
    let r = later.post_form(
        "/verify?next=/fresh",
        &[("Cookie", cookie.as_str())],
        &format!("password={PASSWORD}"),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.header("location"), Some("/fresh"));
    let verified = r.session().expect("the session changed");
    let r = later.get("/fresh", &[("Cookie", verified.as_str())]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Reauthentication successful"), "{}", r.body);
}

#[test]
fn nobody_authenticated_gets_5_9s_decorator_answer() {
    let app = App::new(&[]);
    let server = app.serve(0);
    let r = server.get("/fresh", &[]);
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.header("location").unwrap_or("");
    assert!(location.starts_with("/login?next="), "{location}");
    let r = server.get("/fresh", &[("Accept", "application/json")]);
    assert_eq!(r.status, 401, "{}", r.body);
    let r = server.get("/fresh", &[("Authentication-Token", "not-a-token")]);
    assert_eq!(r.status, 302, "{}", r.body);
    let r = server.get("/verify", &[]);
    assert_eq!(r.status, 302, "{}", r.body);
    assert!(
        r.header("location")
            .unwrap_or("")
            .starts_with("/login?next="),
        "{r:?}"
    );
}

#[test]
fn a_negative_freshness_serves_no_verify_and_every_handler_is_fresh() {
    let app = App::new(&[("SECURITY_FRESHNESS", "-1 minutes")]);
    app.create_user();
    let now = app.serve(0);
    let login = now.post_form("/login", &[], &format!("email={EMAIL}&password={PASSWORD}"));
    let cookie = login.session().expect("a session");
    let later = app.serve(TWO_DAYS);
    assert_eq!(
        later.get("/verify", &[("Cookie", cookie.as_str())]).status,
        404
    );
    let r = later.get("/fresh", &[("Cookie", cookie.as_str())]);
    assert_eq!(r.status, 200, "{}", r.body);
}
