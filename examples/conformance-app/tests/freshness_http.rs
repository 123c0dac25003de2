//! Flask-Security 5.9's freshness on the real `conformance-app serve`, over HTTP: `/fresh`,
//! the stale answers, `/verify`, and `SECURITY_FRESHNESS` negative.
//!
//! An authentication is aged the way the black-box suite ages it: a second server on the same
//! database and `SECRET_KEY` whose clock starts later (`CONFORMANCE_CLOCK_START`), so that the
//! session cookie and the token made by the first server are two days old there.

mod support;

use support::{App, PASSWORD, session_cookie};

const EMAIL: &str = "matt@lp.com";

const TWO_DAYS: i64 = 2 * 86_400;

#[test]
fn fresh_verify_and_the_stale_answers_over_http() {
    let app = App::new(&[]);
    app.create_user(EMAIL);
    let now = app.serve();
    let login = now.post_form("/login", &[], &format!("email={EMAIL}&password={PASSWORD}"));
    assert_eq!(login.status, 302, "{}", login.body);
    let cookie = session_cookie(&login).expect("a session");
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
    let later = app.serve_ahead(TWO_DAYS);
    let r = later.get("/fresh", &session);
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.header("location"), Some("/verify?next=/fresh"));
    let flashed = session_cookie(&r).expect("the flash is in the session");
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
    let verified = session_cookie(&r).expect("the session changed");
    let r = later.get("/fresh", &[("Cookie", verified.as_str())]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Reauthentication successful"), "{}", r.body);
}

#[test]
fn nobody_authenticated_gets_5_9s_decorator_answer() {
    let app = App::new(&[]);
    let server = app.serve();
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
    app.create_user(EMAIL);
    let now = app.serve();
    let login = now.post_form("/login", &[], &format!("email={EMAIL}&password={PASSWORD}"));
    let cookie = session_cookie(&login).expect("a session");
    let later = app.serve_ahead(TWO_DAYS);
    assert_eq!(
        later.get("/verify", &[("Cookie", cookie.as_str())]).status,
        404
    );
    let r = later.get("/fresh", &[("Cookie", cookie.as_str())]);
    assert_eq!(r.status, 200, "{}", r.body);
}
