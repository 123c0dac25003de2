//! The default pages as a browser and a screen reader get them: every page of every flow has
//! its language, a viewport, the crate's stylesheet (served with caching headers), nothing a
//! strict `Content-Security-Policy` refuses, one `<main>` and one `<h1>`, and a label for each
//! input; a field's errors are tied to its input; flashes are in announced regions; an app
//! page renders in the same layout.

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;

use security::views::{Page, PageBody, STYLESHEET};
use security_tests::{Backend, Client, Resp, TestApp, User, client_for};

use crate::common::{RESET_SUBJECT, reset_link};

/// Every flow that has a page, on at once (passwordless aside: it replaces the login page).
const ALL: &[(&str, &str)] = &[
    ("SECURITY_REGISTERABLE", "true"),
    ("SECURITY_CONFIRMABLE", "true"),
    ("SECURITY_LOGIN_WITHOUT_CONFIRMATION", "true"),
    ("SECURITY_RECOVERABLE", "true"),
    ("SECURITY_CHANGEABLE", "true"),
    ("SECURITY_CHANGE_EMAIL", "true"),
    ("SECURITY_API_KEYS", "true"),
    ("SECURITY_USERNAME_ENABLE", "true"),
    ("SECURITY_USERNAME_REQUIRED", "true"),
    ("SECURITY_CHANGE_USERNAME", "true"),
    ("SECURITY_FRESHNESS", "10 minutes"),
];

/// The opening tags `<name …>` of a page.
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = html[from..].find(&open).map(|i| from + i) {
        let after = html[at + open.len()..].chars().next();
        let end = html[at..].find('>').map_or(html.len(), |i| at + i + 1);
        if matches!(after, Some(' ' | '>' | '\n' | '/')) {
            out.push(&html[at..end]);
        }
        from = end;
    }
    out
}

/// An attribute's value in an opening tag (`None`: absent; "" for a bare attribute).
fn attr(tag: &str, name: &str) -> Option<String> {
    for sep in [' ', '\n'] {
        let with_value = format!("{sep}{name}=\"");
        if let Some(at) = tag.find(&with_value) {
            let rest = &tag[at + with_value.len()..];
            return Some(rest[..rest.find('"').unwrap_or(rest.len())].to_owned());
        }
        for end in [" ", ">", "\n"] {
            if tag.contains(&format!("{sep}{name}{end}")) {
                return Some(String::new());
            }
        }
    }
    None
}

/// The input named `name` (by id).
#[track_caller]
fn input<'a>(html: &'a str, id: &str) -> &'a str {
    tags(html, "input")
        .into_iter()
        .find(|tag| attr(tag, "id").as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no input #{id} in:\n{html}"))
}

/// What every default page must have; returns the stylesheet's URL.
#[track_caller]
fn assert_page(what: &str, r: &Resp) -> String {
    let html = &r.body;
    assert_eq!(r.status, StatusCode::OK, "{what}: {html}");
    assert!(html.starts_with("<!DOCTYPE html>"), "{what}: {html}");
    assert!(html.contains("<html lang=\"en\">"), "{what}: no lang");
    assert!(
        html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"),
        "{what}: no viewport"
    );
    for refused in ["<script", "<style", " style=", "javascript:", " on"] {
        let found = if refused == " on" {
            // An inline event handler: ` onclick=`, ` onload=`, …
            tags(html, "input")
                .into_iter()
                .chain(tags(html, "form"))
                .chain(tags(html, "button"))
                .chain(tags(html, "a"))
                .chain(tags(html, "body"))
                .any(|tag| {
                    tag.split_whitespace()
                        .any(|part| part.starts_with("on") && part.contains('='))
                })
        } else {
            html.contains(refused)
        };
        assert!(!found, "{what}: `{refused}` breaks a strict CSP:\n{html}");
    }
    assert_eq!(tags(html, "main").len(), 1, "{what}: one <main>\n{html}");
    assert_eq!(tags(html, "h1").len(), 1, "{what}: one <h1>\n{html}");
    let sheets: Vec<_> = tags(html, "link")
        .into_iter()
        .filter(|tag| attr(tag, "rel").as_deref() == Some("stylesheet"))
        .collect();
    assert_eq!(sheets.len(), 1, "{what}: one stylesheet\n{html}");
    let href = attr(sheets[0], "href").expect("href");
    // Every input a person fills in has a label naming it, and ids are unique.
    let labels: Vec<String> = tags(html, "label")
        .into_iter()
        .filter_map(|tag| attr(tag, "for"))
        .collect();
    let mut ids = Vec::new();
    for tag in tags(html, "input") {
        if let Some(id) = attr(tag, "id") {
            assert!(!ids.contains(&id), "{what}: id {id} twice");
            ids.push(id);
        }
        let kind = attr(tag, "type").unwrap_or_default();
        if kind == "hidden" || kind == "submit" {
            continue;
        }
        let id = attr(tag, "id").unwrap_or_else(|| panic!("{what}: an input without id: {tag}"));
        assert!(
            labels.contains(&id),
            "{what}: no <label for=\"{id}\"> for {tag}"
        );
        assert!(
            attr(tag, "aria-invalid").is_none(),
            "{what}: {tag} is invalid before any post"
        );
    }
    href
}

#[track_caller]
fn assert_field(html: &str, id: &str, kind: &str, autocomplete: &str, required: bool) {
    let tag = input(html, id);
    assert_eq!(attr(tag, "type").as_deref(), Some(kind), "{tag}");
    assert_eq!(
        attr(tag, "autocomplete").as_deref(),
        Some(autocomplete),
        "{tag}"
    );
    assert_eq!(attr(tag, "required").is_some(), required, "{tag}");
}

async fn logged_in(app: &TestApp) -> Client {
    let mut c = app.client();
    let r = c.login("matt@lp.com", "password", false).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_default_page_is_labelled_styled_and_csp_clean() {
    let app = TestApp::new(&Backend::Sqlite, ALL).await;
    let mut anonymous = app.client();
    let reset = reset_link(&app, "joe@lp.com").await;
    let mut sheets = Vec::new();
    for path in ["/login", "/register", "/reset", "/confirm", reset.as_str()] {
        let r = anonymous.get(path).await;
        sheets.push(assert_page(path, &r));
        // Anonymous visitors get the ways in, not the ways out; the page's own is marked.
        let register = if path == "/register" {
            "<a href=\"/register\" aria-current=\"page\">Register</a>"
        } else {
            "<a href=\"/register\">Register</a>"
        };
        assert!(r.body.contains(register), "{path}: {}", r.body);
        let marked = usize::from(path != reset);
        assert_eq!(r.body.matches("aria-current").count(), marked, "{path}");
        assert!(!r.body.contains("Log out"), "{path}");
    }
    let mut user = logged_in(&app).await;
    for path in [
        "/change",
        "/change-email",
        "/api-keys",
        "/change-username",
        "/verify",
    ] {
        let r = user.get(path).await;
        sheets.push(assert_page(path, &r));
        assert!(r.body.contains("Signed in as matt@lp.com"), "{path}");
        assert!(r.body.contains("name=\"logout_form\""), "{path}");
    }
    let passwordless = TestApp::new(&Backend::Sqlite, &[("SECURITY_PASSWORDLESS", "true")]).await;
    let r = passwordless.client().get("/login").await;
    assert!(r.body.contains("name=\"send_login_form\""), "{}", r.body);
    sheets.push(assert_page("send_login", &r));
    assert_field(&r.body, "email", "email", "email", true);

    // The stylesheet every page links resolves.
    sheets.dedup();
    assert_eq!(sheets.len(), 1, "{sheets:?}");
    let r = anonymous.get(&sheets[0]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "text/css; charset=utf-8");
    assert_eq!(r.body, STYLESHEET);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_say_what_they_hold_to_browsers_and_password_managers() {
    let app = TestApp::new(&Backend::Sqlite, ALL).await;
    let mut c = app.client();
    // With usernames on, the login takes an address or a name, neither required alone.
    let login = c.get("/login").await.body;
    assert_field(&login, "email", "email", "email", false);
    assert_field(&login, "username", "text", "username", false);
    assert_field(&login, "password", "password", "current-password", true);
    let register = c.get("/register").await.body;
    assert_field(&register, "email", "email", "email", true);
    assert_field(&register, "username", "text", "username", true);
    assert_field(&register, "password", "password", "new-password", true);
    assert_field(
        &register,
        "password_confirm",
        "password",
        "new-password",
        true,
    );
    let forgot = c.get("/reset").await.body;
    assert_field(&forgot, "email", "email", "email", true);
    let mut user = logged_in(&app).await;
    let change = user.get("/change").await.body;
    assert_field(&change, "password", "password", "current-password", true);
    assert_field(&change, "new_password", "password", "new-password", true);
    assert_field(
        &change,
        "new_password_confirm",
        "password",
        "new-password",
        true,
    );
    let verify = user.get("/verify").await.body;
    assert_field(&verify, "password", "password", "current-password", true);

    // E-mail only: the login's identity field is an address a password manager fills.
    let plain = TestApp::new(&Backend::Sqlite, &[]).await;
    let login = plain.client().get("/login").await.body;
    assert_field(&login, "email", "email", "username", true);
    assert!(!login.contains("id=\"username\""), "{login}");
    // Another identity attribute: the same field takes a name, so it stays text.
    let names = TestApp::new(
        &Backend::Sqlite,
        &[("SECURITY_USER_IDENTITY_ATTRIBUTES", "email,username")],
    )
    .await;
    let login = names.client().get("/login").await.body;
    assert_field(&login, "email", "text", "username", true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_error_is_tied_to_its_input() {
    let app = TestApp::new(&Backend::Sqlite, ALL).await;
    let mut c = app.client();
    let r = c.login("matt@lp.com", "not the password", false).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let password = input(&r.body, "password");
    assert_eq!(attr(password, "aria-invalid").as_deref(), Some("true"));
    let described = attr(password, "aria-describedby").expect("aria-describedby");
    let list = tags(&r.body, "ul")
        .into_iter()
        .find(|tag| attr(tag, "id").as_deref() == Some(described.as_str()))
        .unwrap_or_else(|| panic!("no #{described} in:\n{}", r.body));
    let at = r.body.find(list).unwrap();
    let content = &r.body[at..at + r.body[at..].find("</ul>").unwrap()];
    assert!(content.contains("<li>Invalid password</li>"), "{content}");
    // The field without an error is not marked.
    let email = input(&r.body, "email");
    assert!(attr(email, "aria-invalid").is_none(), "{email}");
    assert!(attr(email, "aria-describedby").is_none(), "{email}");
    // Its value is kept, escaped; a password never is.
    assert_eq!(attr(email, "value").as_deref(), Some("matt@lp.com"));
    assert!(attr(password, "value").is_none(), "{password}");

    // Registration errors on two fields: each names its own list.
    let r = c
        .post_form(
            "/register",
            &[
                ("email", "not an address"),
                ("password", "password"),
                ("password_confirm", "other"),
            ],
        )
        .await;
    for id in ["email", "password_confirm"] {
        let tag = input(&r.body, id);
        assert_eq!(attr(tag, "aria-invalid").as_deref(), Some("true"), "{tag}");
        let target = format!("{id}-errors");
        assert_eq!(attr(tag, "aria-describedby"), Some(target.clone()));
        assert!(
            r.body
                .contains(&format!("<ul class=\"errors\" id=\"{target}\">")),
            "{}",
            r.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flashes_are_announced_by_category() {
    let app = TestApp::new(&Backend::Sqlite, ALL).await;
    let mut c = app.client();
    // An error flash: an invalid reset link.
    let r = c.get("/reset/not-a-token").await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let page = c.get(&r.location_path()).await.body;
    let alert = page.find("role=\"alert\"").expect(&page);
    let flash = page.find("<li class=\"error\">").expect(&page);
    assert!(alert < flash, "{page}");
    assert!(!page.contains("role=\"status\""), "{page}");
    // An informational one: instructions sent.
    let r = c.post_form("/reset", &[("email", "joe@lp.com")]).await;
    assert_eq!(app.mails_with("joe@lp.com", RESET_SUBJECT).len(), 1);
    let status = r.body.find("role=\"status\"").expect(&r.body);
    let flash = r.body.find("<li class=\"info\">").expect(&r.body);
    assert!(status < flash, "{}", r.body);
    assert!(!r.body.contains("role=\"alert\""), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stylesheet_is_cached_by_version_and_revalidated() {
    let app = TestApp::new(&Backend::Sqlite, &[]).await;
    let mut c = app.client();
    let version = security::views::stylesheet_version();
    assert_eq!(version.len(), 8);
    assert!(version.chars().all(|ch| ch.is_ascii_hexdigit()));
    let url = format!("/fs-static/security.css?v={version}");
    let r = c.get(&url).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "text/css; charset=utf-8");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(
        r.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = r.headers["etag"].to_str().unwrap().to_owned();
    let again = c.get_with(&url, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.headers["etag"], etag.as_str());
    let weak = c
        .get_with(&url, &[("if-none-match", &format!("\"x\", W/{etag}"))])
        .await;
    assert_eq!(weak.status, StatusCode::NOT_MODIFIED);
    let other = c.get_with(&url, &[("if-none-match", "\"x\"")]).await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(other.body, STYLESHEET);
    // Without the current version (an old link, a hand-typed URL): revalidated each time.
    for stale in [
        "/fs-static/security.css",
        "/fs-static/security.css?v=00000000",
    ] {
        let r = c.get(stale).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers["cache-control"], "public, no-cache");
    }

    // SECURITY_STATIC_FOLDER_URL moves it, under the URL prefix, and the pages follow.
    let moved = TestApp::new(
        &Backend::Sqlite,
        &[
            ("SECURITY_STATIC_FOLDER_URL", "/assets/"),
            ("SECURITY_URL_PREFIX", "/auth"),
        ],
    )
    .await;
    let mut c = moved.client();
    let login = c.get("/auth/login").await;
    let href = assert_page("prefixed login", &login);
    assert_eq!(href, format!("/auth/assets/security.css?v={version}"));
    assert_eq!(c.get(&href).await.status, StatusCode::OK);
    assert_eq!(
        c.get("/fs-static/security.css").await.status,
        StatusCode::NOT_FOUND
    );
}

/// An app page in the default layout, as the quick start's home page.
async fn home(page: Page<User>) -> Response {
    let body = match page.user() {
        Some(user) => PageBody::new()
            .paragraph(&format!("Hello {}", user.email))
            .links([("Profile", "/profile?a=1&b=2")]),
        None => PageBody::new()
            .paragraph("Nobody is logged in.")
            .links([("Log in", page.urls().login.as_str())]),
    };
    page.render("Home <page>", body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_page_renders_in_the_default_layout() {
    let app = TestApp::new(&Backend::Sqlite, ALL).await;
    let router = Router::new()
        .route("/home", get(home))
        .merge(app.security.router())
        .layer(app.security.layer());
    let mut c = client_for(router);
    let r = c.get("/home").await;
    assert_page("anonymous home", &r);
    assert!(
        r.body.contains("<h1>Home &#60;page&#62;</h1>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("<title>Home &#60;page&#62;</title>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<p>Nobody is logged in.</p>"), "{}", r.body);
    assert!(
        r.body.contains("<a href=\"/login\">Log in</a>"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("<a href=\"/register\">Register</a>"),
        "{}",
        r.body
    );
    // Logged in through the test app's client (whose token page the form post uses).
    c.cookies = logged_in(&app).await.cookies;
    let r = c.get("/home").await;
    assert_page("home", &r);
    assert!(r.body.contains("<p>Hello matt@lp.com</p>"), "{}", r.body);
    assert!(
        r.body
            .contains("<a href=\"/profile?a=1&amp;b=2\">Profile</a>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Signed in as matt@lp.com"), "{}", r.body);
    // It names the user and holds the session's CSRF token: not stored, not framed.
    let header = |name: &str| {
        r.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        header("cache-control").contains("no-store"),
        "{:?}",
        r.headers
    );
    assert_eq!(header("x-frame-options"), "DENY", "{:?}", r.headers);
    assert!(r.body.contains("<a href=\"/change\">Change password</a>"));
}

/// `SECURITY_STATIC_FOLDER_URL` is checked as the other URLs are: a path, not another view's.
#[test]
fn the_static_folder_url_is_checked_like_the_other_urls() {
    use security::Config;
    let check = |url: &'static str| {
        Config::from_vars([
            ("SECRET_KEY", "test-secret-key-0123456789"),
            ("SECURITY_STATIC_FOLDER_URL", url),
        ])
        .and_then(|c| c.validate().map(|_| c))
    };
    for bad in ["fs-static", "//cdn.example.com", "/login"] {
        let err = check(bad).unwrap_err();
        assert!(
            err.to_string().contains("SECURITY_STATIC_FOLDER_URL"),
            "{bad}: {err}"
        );
    }
    let config = check("/assets").unwrap();
    assert_eq!(config.stylesheet_path(), "/assets/security.css");
}
