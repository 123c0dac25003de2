//! What the account-flow tests share: the feature switches, the mail subjects, and helpers
//! that register, log in, read a mailed link or tamper with it.

use http::StatusCode;
use serde_json::json;
use tokio::sync::broadcast::Receiver;

use security::Event;
use security_tests::{Client, Resp, TestApp, User, has_flash};

pub(crate) const CONFIRMABLE: &[(&str, &str)] = &[
    ("SECURITY_REGISTERABLE", "true"),
    ("SECURITY_CONFIRMABLE", "true"),
];

pub(crate) const RECOVERABLE: &[(&str, &str)] = &[("SECURITY_RECOVERABLE", "true")];

pub(crate) const NEW: &str = "new@lp.com";

pub(crate) const WELCOME: &str = "Welcome";

pub(crate) const CONFIRM_SUBJECT: &str = "Please confirm your email";

pub(crate) const RESET_SUBJECT: &str = "Password reset instructions";

pub(crate) const LOGIN_SUBJECT: &str = "Login instructions";

pub(crate) fn vars<'a>(
    base: &[(&'a str, &'a str)],
    more: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(more).copied().collect()
}

pub(crate) fn has_field(body: &str, name: &str) -> bool {
    body.contains(&format!("name=\"{name}\""))
}

#[track_caller]
pub(crate) fn assert_flash(body: &str, category: &str, message: &str) {
    assert!(
        has_flash(body, category, message),
        "expected the {category} flash {message:?} in:\n{body}"
    );
}

/// The events received so far.
pub(crate) fn drain(events: &mut Receiver<Event<User>>) -> Vec<Event<User>> {
    let mut out = Vec::new();
    while let Ok(event) = events.try_recv() {
        out.push(event);
    }
    out
}

/// A form registration with the password `password`.
pub(crate) async fn register(c: &mut Client, email: &str) -> Resp {
    c.post_form(
        "/register",
        &[
            ("email", email),
            ("password", "password"),
            ("password_confirm", "password"),
        ],
    )
    .await
}

/// Whether the client's session is a login (the profile page answers).
pub(crate) async fn logged_in_as(c: &mut Client, email: &str) -> bool {
    let r = c.get("/").await;
    r.body.contains(&format!("Hello {email}"))
}

pub(crate) async fn anonymous(c: &mut Client) -> bool {
    c.get("/profile").await.status == StatusCode::FOUND
}

/// The token path with the first character of its signature changed (a character whose six
/// bits all count, unlike the last one).
pub(crate) fn tamper(path: &str) -> String {
    let at = path.rfind('.').expect("a signed token") + 1;
    let old = path[at..].chars().next().expect("a signature");
    let new = if old == 'A' { 'B' } else { 'A' };
    format!("{}{new}{}", &path[..at], &path[at + 1..])
}

/// Asks for a reset link for `email`; its path.
pub(crate) async fn reset_link(app: &TestApp, email: &str) -> String {
    let r = app.client().post_form("/reset", &[("email", email)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mails = app.mails_with(email, RESET_SUBJECT);
    mails.last().expect("a reset mail").link_path("/reset/")
}

pub(crate) async fn reset_with(c: &mut Client, path: &str, password: &str) -> Resp {
    c.post_form(
        path,
        &[("password", password), ("password_confirm", password)],
    )
    .await
}

pub(crate) async fn send_login_link(app: &TestApp, email: &str) -> String {
    let r = app.client().post_form("/login", &[("email", email)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.mails_with(email, LOGIN_SUBJECT)
        .last()
        .expect("a login mail")
        .link_path("/login/")
}

pub(crate) const GENERIC: (&str, &str) = ("SECURITY_GENERIC_RESPONSES", "true");

/// The answers to `post(email)` for a real account and for others are alike (addresses
/// aside), and only the real account gets mail.
pub(crate) async fn assert_alike(
    app: &TestApp,
    path: &str,
    good: &str,
    others: &[&str],
    subject: &str,
) {
    let html = |r: Resp, email: &str| (r.status, r.body_without_csrf().replace(email, "ADDRESS"));
    let expected_html = html(app.client().post_form(path, &[("email", good)]).await, good);
    let expected_json = app
        .client()
        .post_json(path, json!({"email": good}))
        .await
        .answer();
    assert_eq!(expected_json["meta"]["code"], 200);
    assert_eq!(
        app.mails_with(good, subject).len(),
        2,
        "the real one is sent"
    );
    for other in others {
        let answer = html(
            app.client().post_form(path, &[("email", other)]).await,
            other,
        );
        assert_eq!(answer, expected_html, "{path} {other}");
        let answer = app
            .client()
            .post_json(path, json!({"email": other}))
            .await
            .answer();
        assert_eq!(answer, expected_json, "{path} {other}");
        assert!(
            app.mails_to(other).is_empty(),
            "{path}: no mail to {other}: {:#?}",
            app.mails_to(other)
        );
    }
}
