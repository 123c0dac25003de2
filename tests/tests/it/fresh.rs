//! Re-authentication (Flask-Security 5.9's freshness, its `test_authn_freshness*` and
//! `test_verify_*`): how recent a session or token is, the grace period, the stale answer in
//! HTML and JSON, and `/verify`. The app's clock is moved forward to age an authentication.

use http::StatusCode;
use serde_json::{Value, json};

use security_tests::{Backend, Client, Cookie, Resp, TestApp, backend_tests, basic, client_for};

use crate::common::*;

const REQUIRED: &str = "You must reauthenticate to access this endpoint";
const SUCCESSFUL: &str = "Reauthentication successful";

/// A freshness of ten minutes with a grace period of five.
const TEN_MINUTES: &[(&str, &str)] = &[
    ("SECURITY_FRESHNESS", "10 minutes"),
    ("SECURITY_FRESHNESS_GRACE_PERIOD", "5 minutes"),
];

const MINUTE: i64 = 60;

const JSON: (&str, &str) = ("Accept", "application/json");

async fn logged_in(app: &TestApp, remember: bool) -> Client {
    let mut c = app.client();
    c.login("matt@lp.com", "password", remember)
        .await
        .assert_redirect("/");
    c
}

/// Whether `/fresh` lets the client through (a page), or sends it to verify (a redirect).
async fn fresh(c: &mut Client) -> bool {
    let r = c.get("/fresh").await;
    match r.status {
        StatusCode::OK => {
            assert!(r.body.contains("Fresh Only"), "{}", r.body);
            true
        }
        StatusCode::FOUND => {
            assert_eq!(r.location(), "/verify?next=/fresh");
            false
        }
        other => panic!("/fresh answered {other}: {}", r.body),
    }
}

async fn verify(c: &mut Client, path: &str, password: &str) -> Resp {
    c.post_form(path, &[("password", password)]).await
}

/// The JSON answer to a stale request: 5.9's `default_reauthn_handler`.
fn stale_json() -> Value {
    json!({
        "meta": {"code": 401},
        "response": {
            "errors": [REQUIRED],
            "reauth_required": true,
            "has_webauthn_verify_credential": false,
            "unified_signin_enabled": false,
            "oauth_enabled": false,
            "oauth_providers": [],
        }
    })
}

// --- how recent an authentication is ---------------------------------------------------------

async fn a_login_is_fresh(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = logged_in(&app, false).await;
    assert!(fresh(&mut c).await);
    let r = c.get_with("/fresh", &[JSON]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"title": "Fresh Only"}));
    let r = c.get("/fresh_minute").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // 5.9's default: 24 hours.
    app.clock.advance(23 * 60 * MINUTE);
    assert!(fresh(&mut c).await);
}

async fn a_session_older_than_the_freshness_is_sent_to_verify(backend: Backend) {
    let app = TestApp::new(&backend, TEN_MINUTES).await;
    let mut c = logged_in(&app, false).await;
    app.clock.advance(11 * MINUTE);
    let r = c.get("/fresh?a=1&b=2").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), "/verify?next=/fresh?a%3D1%26b%3D2");
    let page = c.get(&r.location()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<h1>Reauthenticate</h1>"),
        "{}",
        page.body
    );
    assert_flash(&page.body, "error", REQUIRED);
    assert!(
        page.body
            .contains("action=\"/verify?next=/fresh%3Fa%3D1%26b%3D2\""),
        "the form keeps next: {}",
        page.body
    );
    assert!(has_field(&page.body, "password"));
    // JSON: 401 and nothing flashed.
    let r = c.get_with("/fresh", &[JSON]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json(), stale_json());
    assert!(!c.get("/").await.body.contains(REQUIRED));
    // Still logged in: only freshness is missing.
    assert!(logged_in_as(&mut c, "matt@lp.com").await);
    // A handler that asks for nothing does not care.
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);
}

async fn a_passed_check_opens_a_grace_period(backend: Backend) {
    let app = TestApp::new(&backend, TEN_MINUTES).await;
    let mut c = logged_in(&app, false).await;
    app.clock.advance(8 * MINUTE);
    assert!(fresh(&mut c).await, "within ten minutes; grace until 13");
    app.clock.advance(4 * MINUTE);
    assert!(
        fresh(&mut c).await,
        "12 minutes: stale but for the grace period"
    );
    app.clock.advance(4 * MINUTE);
    assert!(
        fresh(&mut c).await,
        "16 minutes: the grace period was extended"
    );
    app.clock.advance(6 * MINUTE);
    assert!(!fresh(&mut c).await, "22 minutes: the grace period ran out");
    // A handler's own grace period of 0 gives none, but one that is running counts.
    let mut c = logged_in(&app, false).await;
    app.clock.advance(2 * MINUTE);
    assert_eq!(c.get("/fresh_minute").await.status, StatusCode::FOUND);
    assert!(fresh(&mut c).await, "opens a grace period of five minutes");
    assert_eq!(c.get("/fresh_minute").await.status, StatusCode::OK);
}

async fn within_zero_passes_only_in_a_grace_period(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = logged_in(&app, false).await;
    let r = c.get("/fresh_grace_only").await;
    assert_eq!(r.status, StatusCode::FOUND, "no grace period yet");
    assert_eq!(r.location(), "/verify?next=/fresh_grace_only");
    assert!(fresh(&mut c).await, "opens the configured grace period");
    let r = c.get("/fresh_grace_only").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Its own grace period (ten minutes) replaces the hour `/fresh` opened.
    app.clock.advance(9 * MINUTE);
    assert_eq!(c.get("/fresh_grace_only").await.status, StatusCode::OK);
    app.clock.advance(11 * MINUTE);
    assert_eq!(c.get("/fresh_grace_only").await.status, StatusCode::FOUND);
}

async fn a_token_is_as_fresh_as_its_issue_time(backend: Backend) {
    let app = TestApp::new(&backend, TEN_MINUTES).await;
    let token = app.client().token("matt@lp.com", "password").await;
    // A client that sends the token alone, no cookie.
    let mut c = client_for(app.router.clone());
    let header = ("Authentication-Token", token.as_str());
    let r = c.get_with("/fresh", &[header]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.clock.advance(8 * MINUTE);
    assert_eq!(c.get_with("/fresh", &[header]).await.status, StatusCode::OK);
    // No grace period for a token: at 12 minutes it is stale.
    app.clock.advance(4 * MINUTE);
    let r = c.get_with("/fresh", &[header]).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), "/verify?next=/fresh");
    let r = c.get_with("/fresh", &[header, JSON]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json(), stale_json());
    // Still a valid token for what asks for no freshness.
    assert_eq!(c.get_with("/token", &[header]).await.status, StatusCode::OK);
    // A new login is a new token, fresh again.
    let token = app.client().token("matt@lp.com", "password").await;
    let r = c
        .get_with("/fresh", &[("Authentication-Token", token.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn tokens_are_never_fresh_without_freshness_allow_auth_token(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[("SECURITY_FRESHNESS_ALLOW_AUTH_TOKEN", "false")],
    )
    .await;
    let token = app.client().token("matt@lp.com", "password").await;
    let mut c = client_for(app.router.clone());
    let r = c
        .get_with("/fresh", &[("Authentication-Token", token.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), "/verify?next=/fresh");
    // A session is unaffected.
    let mut c = logged_in(&app, false).await;
    assert!(fresh(&mut c).await);
}

async fn basic_credentials_are_always_fresh(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = client_for(app.router.clone());
    let auth = basic("matt@lp.com", "password");
    let r = c
        .get_with("/fresh_basic", &[("Authorization", auth.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, "Fresh Basic");
    let bad = basic("matt@lp.com", "wrong");
    let r = c
        .get_with("/fresh_basic", &[("Authorization", bad.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn a_negative_freshness_turns_it_off(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_FRESHNESS", "-1 minutes"),
            ("SECURITY_FRESHNESS_ALLOW_AUTH_TOKEN", "false"),
        ],
    )
    .await;
    let mut c = logged_in(&app, false).await;
    assert_eq!(c.get("/verify").await.status, StatusCode::NOT_FOUND);
    app.clock.advance(3 * 24 * 60 * MINUTE);
    assert!(fresh(&mut c).await);
    assert_eq!(c.get("/fresh_grace_only").await.status, StatusCode::OK);
    assert_eq!(c.get("/fresh_minute").await.status, StatusCode::OK);
    let token = app.client().token("matt@lp.com", "password").await;
    let r = client_for(app.router.clone())
        .get_with("/fresh", &[("Authentication-Token", token.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn a_session_restored_by_the_remember_cookie_is_stale_until_verify(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = logged_in(&app, true).await;
    assert!(fresh(&mut c).await);
    // The browser closes; the remember cookie logs it in again, without a credential.
    c.clear_session_cookies();
    assert!(c.cookies.contains_key("remember_token"));
    assert!(!fresh(&mut c).await);
    assert!(logged_in_as(&mut c, "matt@lp.com").await);
    let r = verify(&mut c, "/verify?next=/fresh", "password").await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    assert_eq!(r.location(), "/fresh");
    assert!(fresh(&mut c).await);
}

// --- /verify ---------------------------------------------------------------------------------

async fn verify_with_the_password_makes_the_session_fresh(backend: Backend) {
    let app = TestApp::new(&backend, TEN_MINUTES).await;
    let mut c = logged_in(&app, false).await;
    app.clock.advance(11 * MINUTE);
    assert!(!fresh(&mut c).await);
    let page = c.get("/verify?next=/fresh").await;
    let at = page.body.find("action=\"").expect("a form") + "action=\"".len();
    let action = &page.body[at..at + page.body[at..].find('"').unwrap()];
    assert_eq!(action, "/verify?next=/fresh");
    let r = verify(&mut c, action, "password").await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    assert_eq!(r.location(), "/fresh");
    let r = c.get("/fresh").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_flash(&r.body, "info", SUCCESSFUL);
    // Twenty minutes after the login, nine after the verification (the grace period of the
    // check above has run out): fresh by the verification's time.
    app.clock.advance(9 * MINUTE);
    assert_eq!(c.get("/fresh_minute").await.status, StatusCode::FOUND);
    assert!(fresh(&mut c).await);
}

async fn verify_in_json_answers_the_user(backend: Backend) {
    let app = TestApp::new(&backend, TEN_MINUTES).await;
    let mut c = logged_in(&app, false).await;
    let id = app.user("matt@lp.com").await.id.to_string();
    app.clock.advance(11 * MINUTE);
    let r = c.get_with("/verify", &[JSON]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.answer(),
        json!({"meta": {"code": 200}, "response": {
            "user": {"id": id},
            "has_webauthn_verify_credential": false,
            "oauth_enabled": false,
            "oauth_providers": [],
        }})
    );
    let r = c
        .post_json("/verify", json!({"password": "password"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.answer(),
        json!({"meta": {"code": 200}, "response": {"user": {"id": id}}})
    );
    assert!(r.json()["response"]["csrf_token"].is_string());
    let r = c.get_with("/fresh", &[JSON]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["title"], "Fresh Only");
}

async fn verify_refuses_a_wrong_password(backend: Backend) {
    let app = TestApp::new(&backend, TEN_MINUTES).await;
    let mut c = logged_in(&app, false).await;
    app.clock.advance(11 * MINUTE);
    let r = verify(&mut c, "/verify?next=/fresh", "not my password").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Reauthenticate</h1>"), "{}", r.body);
    assert!(r.body.contains("<li>Invalid password</li>"), "{}", r.body);
    assert!(
        r.body.contains("action=\"/verify?next=/fresh\""),
        "{}",
        r.body
    );
    assert!(!fresh(&mut c).await);
    // Exact comparison: no trimming.
    let r = verify(&mut c, "/verify", "password ").await;
    assert!(r.body.contains("<li>Invalid password</li>"), "{}", r.body);
    let r = c
        .post_json("/verify", json!({"password": "not my password"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!({"meta": {"code": 400}, "response": {
            "errors": ["Invalid password"],
            "field_errors": {"password": ["Invalid password"]},
        }})
    );
    let r = c.post_json("/verify", json!({"password": ""})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["response"]["field_errors"],
        json!({"password": ["Password not provided"]})
    );
    assert!(!fresh(&mut c).await);
    // A user without a password cannot verify with any.
    let mut jess = app.client();
    let user = app.user("jess@lp.com").await;
    let cookie = app.security.session_cookie_for(&user);
    let (name, value) = cookie.split_once('=').unwrap();
    jess.cookies.insert(
        name.to_owned(),
        Cookie {
            value: value.to_owned(),
            raw: cookie.clone(),
            persistent: false,
        },
    );
    assert!(logged_in_as(&mut jess, "jess@lp.com").await);
    let r = jess
        .post_json("/verify", json!({"password": "password"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["response"]["errors"], json!(["Invalid password"]));
}

async fn verify_refuses_an_off_site_next(backend: Backend) {
    let app = TestApp::new(&backend, TEN_MINUTES).await;
    let mut c = logged_in(&app, false).await;
    app.clock.advance(11 * MINUTE);
    for path in [
        "/verify?next=http://evil.com/",
        "/verify?next=//evil.com/",
        "/verify?next=/%5Cevil.com",
    ] {
        let r = verify(&mut c, path, "password").await;
        assert_eq!(r.status, StatusCode::OK, "{path}: refused, not redirected");
        assert!(
            r.body
                .contains("Redirections outside the domain are forbidden"),
            "{path}: {}",
            r.body
        );
        assert!(!fresh(&mut c).await, "{path}: not verified");
    }
    let r = c
        .post_form(
            "/verify",
            &[("password", "password"), ("next", "https://evil.com")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = c
        .post_json(
            "/verify?next=http://evil.com/",
            json!({"password": "password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["response"]["field_errors"],
        json!({"next": ["Redirections outside the domain are forbidden"]})
    );
    assert!(!fresh(&mut c).await);
    // This site, by path or by an allowed host, is fine.
    let r = verify(&mut c, "/verify?next=http://localhost/page1", "password").await;
    assert_eq!(r.location(), "http://localhost/page1");
}

async fn verify_goes_to_the_post_verify_url_without_next(backend: Backend) {
    let app = TestApp::new(&backend, &[("SECURITY_POST_LOGIN_VIEW", "/post_login")]).await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", false)
        .await
        .assert_redirect("/post_login");
    verify(&mut c, "/verify", "password")
        .await
        .assert_redirect("/post_login");
    let app = TestApp::new(&backend, &[("SECURITY_POST_VERIFY_URL", "/page1")]).await;
    let mut c = logged_in(&app, false).await;
    verify(&mut c, "/verify", "password")
        .await
        .assert_redirect("/page1");
}

async fn verify_needs_the_csrf_token(backend: Backend) {
    let app = TestApp::new(&backend, TEN_MINUTES).await;
    let mut c = logged_in(&app, false).await;
    app.clock.advance(11 * MINUTE);
    let mut forged = c.clone().without_csrf();
    let r = verify(&mut forged, "/verify?next=/fresh", "password").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("CSRF token missing"), "{}", r.body);
    let r = forged
        .post_json("/verify", json!({"password": "password"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    c.cookies = forged.cookies;
    assert!(!fresh(&mut c).await, "nothing was verified");
}

async fn verify_needs_a_login(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = app.client();
    let r = c.get("/verify").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), "/login?next=%2Fverify");
    let r = verify(&mut c, "/verify", "password").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(r.location().starts_with("/login?next="), "{}", r.location());
    // Anonymous `/fresh`: the login, not verify.
    let r = c.get("/fresh").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "auth_required's answer");
}

async fn a_verify_that_rehashes_keeps_the_session(backend: Backend) {
    // The same database served by a second instance whose hashes cost more: the password
    // verifies there with "another cost" and is re-hashed, as a login would re-hash it.
    let app = TestApp::new(&backend, &[]).await;
    let mut c = logged_in(&app, true).await;
    let before = app.user("matt@lp.com").await.password;
    let config = app.security.config().clone();
    let other = security::Security::<security_tests::User>::builder(app.db.db.clone(), config)
        .argon2_cost(16, 1, 1)
        .build()
        .await
        .unwrap();
    let mut c2 =
        client_for(security_tests::router(&other)).with_token_page(security_tests::TOKEN_PAGE);
    c2.cookies = c.cookies.clone();
    let r = verify(&mut c2, "/verify?next=/fresh", "password").await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    assert_ne!(app.user("matt@lp.com").await.password, before, "re-hashed");
    // This browser's session and remember cookie follow the new hash.
    let r = c2.get("/fresh").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    c2.clear_session_cookies();
    assert!(
        logged_in_as(&mut c2, "matt@lp.com").await,
        "remember cookie"
    );
    // The other session of the old hash ends, as after a login that re-hashes.
    assert!(anonymous(&mut c).await);
}

backend_tests!(
    a_login_is_fresh,
    a_session_older_than_the_freshness_is_sent_to_verify,
    a_passed_check_opens_a_grace_period,
    within_zero_passes_only_in_a_grace_period,
    a_token_is_as_fresh_as_its_issue_time,
    tokens_are_never_fresh_without_freshness_allow_auth_token,
    basic_credentials_are_always_fresh,
    a_negative_freshness_turns_it_off,
    a_session_restored_by_the_remember_cookie_is_stale_until_verify,
    verify_with_the_password_makes_the_session_fresh,
    verify_in_json_answers_the_user,
    verify_refuses_a_wrong_password,
    verify_refuses_an_off_site_next,
    verify_goes_to_the_post_verify_url_without_next,
    verify_needs_the_csrf_token,
    verify_needs_a_login,
    a_verify_that_rehashes_keeps_the_session,
);
