//! Brute-force protection over HTTP: the lockout (untrusted clients only, the hard ceiling,
//! unlock by link, reset, time and the command line), the rate limits (per request, per
//! failure, per account and client, per mailed address), their 429 answers, and who the
//! client is (`X-Forwarded-For` only from trusted proxies). Each runs on SQLite, PostgreSQL and
//! MySQL with the default store (the app's database); the lockout again on Redis.

use std::net::SocketAddr;
use std::sync::Arc;

use http::StatusCode;
use serde_json::json;

use crate::common::{GENERIC, RECOVERABLE, drain, reset_with, vars};
use security::{AuthMechanism, Event, UnlockReason};
use security_tests::{Backend, Client, Resp, TestApp, TestClock, backend_tests, basic, has_flash};

const UNLOCK_SUBJECT: &str = "Unlock instructions";
const LOCKED: &str = "Your account is locked.";

async fn app(backend: &Backend, more: &[(&str, &str)]) -> TestApp {
    TestApp::new(backend, more).await
}

async fn app_with_clock(backend: &Backend, more: &[(&str, &str)]) -> (TestApp, TestClock) {
    let app = TestApp::new(backend, more).await;
    let clock = app.clock.clone();
    (app, clock)
}

fn lockable(attempts: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("SECURITY_LOCKABLE", "true"),
        ("SECURITY_LOCK_MAXIMUM_ATTEMPTS", attempts),
    ]
}

/// A client at `ip` (the socket peer address).
fn client_at(app: &TestApp, ip: &str) -> Client {
    let mut c = app.client();
    c.peer = Some(SocketAddr::new(ip.parse().unwrap(), 40_000));
    c
}

async fn login(c: &mut Client, email: &str, password: &str) -> Resp {
    c.post_form("/login", &[("email", email), ("password", password)])
        .await
}

fn logged_in(r: &Resp) -> bool {
    r.status == StatusCode::FOUND && r.location_path() == "/"
}

/// `n` wrong passwords for `email`, each from a new client without cookies.
async fn fail(app: &TestApp, email: &str, n: usize) {
    for _ in 0..n {
        let r = login(&mut client_at(app, "10.0.0.9"), email, "wrong password").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
}

async fn lockout_refuses_the_right_password(backend: Backend) {
    lockout_with_store(&backend, "database").await;
}

/// The lockout on `store`: after the threshold the right password is refused, the user row is
/// unchanged, one unlock mail went out, and the link unlocks once.
async fn lockout_with_store(backend: &Backend, store: &str) {
    let mut v = lockable("3");
    v.push(("SECURITY_THROTTLE_STORE", store));
    let app = app(backend, &v).await;
    let mut events = app.security.subscribe();
    let before = app.user("joe@lp.com").await;
    fail(&app, "joe@lp.com", 2).await;
    assert!(
        logged_in(&login(&mut client_at(&app, "10.0.0.9"), "joe@lp.com", "password").await),
        "two failures do not lock, and a success clears them"
    );
    fail(&app, "joe@lp.com", 3).await;
    let r = login(&mut client_at(&app, "10.0.0.9"), "joe@lp.com", "password").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(LOCKED), "{}", r.body);
    let r = login(&mut client_at(&app, "10.0.0.7"), "joe@lp.com", "password").await;
    assert!(
        r.body.contains(LOCKED),
        "every client without a device cookie"
    );
    let after = app.user("joe@lp.com").await;
    assert_eq!(before.password, after.password, "the user row is unchanged");
    assert_eq!(before.active, after.active);
    let mails = app.mails_with("joe@lp.com", UNLOCK_SUBJECT);
    assert_eq!(mails.len(), 1, "one unlock mail per lock");
    let events = drain(&mut events);
    let locked: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::AccountLocked { .. }))
        .collect();
    assert_eq!(locked.len(), 1);
    let failed = events
        .iter()
        .filter(|e| {
            matches!(e, Event::AuthenticationFailed { user: Some(u), mechanism: AuthMechanism::Password, client }
                if u.email == "joe@lp.com" && client == "10.0.0.9")
        })
        .count();
    assert_eq!(failed, 2 + 3 + 1, "every wrong or refused password");

    // The link unlocks, once.
    let link = mails[0].link_path("/unlock/");
    let r = app.client().get(&link).await;
    assert_eq!(r.status, StatusCode::FOUND);
    let mut c = client_at(&app, "10.0.0.9");
    let r = c.get(&link).await;
    let page = c.get(&r.location_path()).await;
    assert!(has_flash(
        &page.body,
        "error",
        "Invalid or expired unlock link."
    ));
    assert!(logged_in(
        &login(&mut client_at(&app, "10.0.0.9"), "joe@lp.com", "password").await
    ));
}

async fn locked_answers_like_a_wrong_password_in_generic_mode(backend: Backend) {
    let v = vars(&lockable("2"), &[GENERIC]);
    let app = app(&backend, &v).await;
    fail(&app, "joe@lp.com", 2).await;
    let right = login(&mut client_at(&app, "10.0.0.9"), "joe@lp.com", "password").await;
    let wrong = login(&mut client_at(&app, "10.0.0.9"), "joe@lp.com", "other").await;
    assert_eq!(right.status, wrong.status);
    assert_eq!(right.body_without_csrf(), wrong.body_without_csrf());
    let shape = |r: &Resp| {
        let mut names: Vec<String> = r
            .set_cookies()
            .iter()
            .map(|c| c.split('=').next().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(shape(&right), shape(&wrong));
    assert_eq!(
        json_login(&mut client_at(&app, "10.0.0.9"), "password").await,
        json_login(&mut client_at(&app, "10.0.0.9"), "nope").await
    );
}

async fn json_login(c: &mut Client, password: &str) -> serde_json::Value {
    c.post_json(
        "/login",
        json!({"email": "joe@lp.com", "password": password}),
    )
    .await
    .answer()
}

async fn the_owners_device_is_spared(backend: Backend) {
    let app = app(&backend, &lockable("3")).await;
    let mut owner = client_at(&app, "10.0.0.1");
    assert!(logged_in(
        &login(&mut owner, "joe@lp.com", "password").await
    ));
    assert!(owner.cookies.contains_key("security_device"));
    owner.get("/logout").await;
    let mut other = client_at(&app, "10.0.0.2");
    assert!(logged_in(
        &login(&mut other, "matt@lp.com", "password").await
    ));
    other.get("/logout").await;
    fail(&app, "joe@lp.com", 3).await;
    let r = login(&mut client_at(&app, "10.0.0.9"), "joe@lp.com", "password").await;
    assert!(r.body.contains(LOCKED));
    assert!(
        logged_in(&login(&mut owner, "joe@lp.com", "password").await),
        "a browser that logged in to the account before is not locked out"
    );
    let r = login(&mut other, "joe@lp.com", "password").await;
    assert!(
        r.body.contains(LOCKED),
        "another account's device cookie does not help"
    );
    let mut forged = client_at(&app, "10.0.0.9");
    let device = owner.cookies["security_device"].value.clone();
    let tampered = format!("{}x", &device[..device.len() - 1]);
    forged.cookies.insert(
        "security_device".into(),
        owner.cookies["security_device"].clone(),
    );
    forged.cookies.get_mut("security_device").unwrap().value = tampered;
    let r = login(&mut forged, "joe@lp.com", "password").await;
    assert!(r.body.contains(LOCKED), "a tampered device cookie is none");
}

async fn the_hard_ceiling_holds_for_every_client(backend: Backend) {
    let v = vars(&lockable("100"), &[("SECURITY_LOCK_HARD_CAP", "4/h")]);
    let app = app(&backend, &v).await;
    let mut owner = client_at(&app, "10.0.0.1");
    assert!(logged_in(
        &login(&mut owner, "joe@lp.com", "password").await
    ));
    owner.get("/logout").await;
    for _ in 0..4 {
        let r = login(&mut owner, "joe@lp.com", "wrong").await;
        assert!(!r.body.contains(LOCKED));
    }
    let r = login(&mut owner, "joe@lp.com", "password").await;
    assert!(
        r.body.contains(LOCKED),
        "the ceiling spares no device: {}",
        r.body
    );
    security::cli::run(
        &app.security,
        security::cli::Command::Users(security::cli::UsersCommand::Unlock {
            email: "joe@lp.com".into(),
        }),
    )
    .await
    .expect("users unlock");
    assert!(logged_in(
        &login(&mut owner, "joe@lp.com", "password").await
    ));
}

async fn an_unlock_link_of_an_earlier_lock_is_refused(backend: Backend) {
    let app = app(&backend, &lockable("2")).await;
    fail(&app, "joe@lp.com", 2).await;
    let first = app.mails_with("joe@lp.com", UNLOCK_SUBJECT)[0].link_path("/unlock/");
    let joe = app.user("joe@lp.com").await;
    assert!(app.security.unlock_user(&joe).await.unwrap());
    assert!(
        !app.security.unlock_user(&joe).await.unwrap(),
        "not locked any more"
    );
    fail(&app, "joe@lp.com", 2).await;
    let mut c = app.client();
    let r = c.get(&first).await;
    let page = c.get(&r.location_path()).await;
    assert!(has_flash(
        &page.body,
        "error",
        "Invalid or expired unlock link."
    ));
    let r = login(&mut client_at(&app, "10.0.0.9"), "joe@lp.com", "password").await;
    assert!(r.body.contains(LOCKED), "still locked");
    let second = app.mails_with("joe@lp.com", UNLOCK_SUBJECT);
    assert_eq!(second.len(), 2);
    let r = c.get(&second[1].link_path("/unlock/")).await;
    let page = c.get(&r.location_path()).await;
    assert!(has_flash(
        &page.body,
        "success",
        "Your account has been unlocked. Please log in."
    ));
}

async fn a_completed_reset_unlocks(backend: Backend) {
    let v = vars(&lockable("2"), RECOVERABLE);
    let app = app(&backend, &v).await;
    let mut events = app.security.subscribe();
    fail(&app, "joe@lp.com", 2).await;
    let link = crate::common::reset_link(&app, "joe@lp.com").await;
    let r = reset_with(&mut app.client(), &link, "new password").await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    assert!(logged_in(
        &login(
            &mut client_at(&app, "10.0.0.9"),
            "joe@lp.com",
            "new password"
        )
        .await
    ));
    assert!(drain(&mut events).iter().any(|e| matches!(
        e,
        Event::AccountUnlocked {
            reason: UnlockReason::PasswordReset,
            ..
        }
    )));
}

async fn a_time_lock_ends_and_the_next_lasts_twice_as_long(backend: Backend) {
    let v = vars(
        &lockable("2"),
        &[
            ("SECURITY_UNLOCK_STRATEGY", "time"),
            ("SECURITY_UNLOCK_IN", "60 seconds"),
            ("SECURITY_UNLOCK_IN_MAX", "1000 seconds"),
        ],
    );
    let (app, clock) = app_with_clock(&backend, &v).await;
    fail(&app, "joe@lp.com", 2).await;
    assert!(
        app.mails_with("joe@lp.com", UNLOCK_SUBJECT).is_empty(),
        "time only: no mail"
    );
    let right = |app: &TestApp| {
        let mut c = client_at(app, "10.0.0.9");
        async move { login(&mut c, "joe@lp.com", "password").await }
    };
    assert!(right(&app).await.body.contains(LOCKED));
    clock.advance(61);
    assert!(logged_in(&right(&app).await), "the first lock lasted 60 s");
    fail(&app, "joe@lp.com", 2).await;
    clock.advance(61);
    assert!(
        right(&app).await.body.contains(LOCKED),
        "the second lasts 120 s"
    );
    clock.advance(60);
    assert!(logged_in(&right(&app).await));
}

async fn an_email_lock_lasts_until_its_link_is_used(backend: Backend) {
    let v = vars(
        &lockable("2"),
        &[
            ("SECURITY_UNLOCK_STRATEGY", "email"),
            ("SECURITY_UNLOCK_WITHIN", "60 days"),
        ],
    );
    let (app, clock) = app_with_clock(&backend, &v).await;
    fail(&app, "joe@lp.com", 2).await;
    clock.advance(40 * 86_400);
    let r = login(&mut client_at(&app, "10.0.0.9"), "joe@lp.com", "password").await;
    assert!(r.body.contains(LOCKED), "no time unlock");
    let link = app.mails_with("joe@lp.com", UNLOCK_SUBJECT)[0].link_path("/unlock/");
    let mut c = app.client();
    let r = c.get(&link).await;
    let page = c.get(&r.location_path()).await;
    assert!(has_flash(
        &page.body,
        "success",
        "Your account has been unlocked. Please log in."
    ));
    assert!(logged_in(
        &login(&mut client_at(&app, "10.0.0.9"), "joe@lp.com", "password").await
    ));
}

async fn failures_per_account_and_client_spare_other_clients(backend: Backend) {
    let v = [("SECURITY_RATE_LIMITS", r#"{"login_failed": "3/15m/key"}"#)];
    let app = app(&backend, &v).await;
    let mut a = client_at(&app, "10.0.0.1");
    for _ in 0..3 {
        assert_eq!(
            login(&mut a, "joe@lp.com", "wrong").await.status,
            StatusCode::OK
        );
    }
    let r = login(&mut a, "joe@lp.com", "password").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert!(
        r.body.contains("Too many attempts. Please try again in"),
        "{}",
        r.body
    );
    assert!(r.body.contains("name=\"email\""), "the form again");
    let r = a
        .post_json(
            "/login",
            json!({"email": "joe@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"));
    let body = r.json();
    assert_eq!(body["meta"]["code"], 429);
    assert!(body["response"]["retry_after"].as_u64().unwrap() >= 1);
    assert!(
        body["response"]["errors"][""][0]
            .as_str()
            .unwrap()
            .starts_with("Too many")
    );
    assert!(
        logged_in(&login(&mut client_at(&app, "10.0.0.2"), "joe@lp.com", "password").await),
        "another client is not throttled for that account"
    );
    assert!(
        logged_in(&login(&mut a, "matt@lp.com", "password").await),
        "nor is the client for another account"
    );
}

async fn requests_per_address_are_limited_before_any_work(backend: Backend) {
    let v = vars(
        &[("SECURITY_RATE_LIMITS", r#"{"login": "3/m/ip"}"#)],
        &[("SECURITY_REGISTERABLE", "true")],
    );
    let (app, clock) = app_with_clock(&backend, &v).await;
    let mut c = client_at(&app, "10.0.0.1");
    for _ in 0..3 {
        assert_eq!(
            login(&mut c, "joe@lp.com", "wrong").await.status,
            StatusCode::OK
        );
    }
    let r = login(&mut c, "joe@lp.com", "password").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r = c
        .post_form(
            "/register",
            &[
                ("email", "x@lp.com"),
                ("password", "password"),
                ("password_confirm", "password"),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "every credential POST counts"
    );
    assert!(
        app.security
            .datastore()
            .find_user_by_email("x@lp.com")
            .await
            .unwrap()
            .is_none(),
        "a throttled request does nothing"
    );
    assert_eq!(
        c.get("/login").await.status,
        StatusCode::OK,
        "pages are not counted"
    );
    assert!(logged_in(
        &login(&mut client_at(&app, "10.0.0.2"), "joe@lp.com", "password").await
    ));
    clock.advance(61);
    assert!(
        logged_in(&login(&mut c, "joe@lp.com", "password").await),
        "the window ended"
    );
}

async fn forwarded_for_counts_only_from_trusted_proxies(backend: Backend) {
    let limits = ("SECURITY_RATE_LIMITS", r#"{"login_failed": "2/m/ip"}"#);
    let app = app(&backend, &[limits]).await;
    let mut c = client_at(&app, "10.0.0.1");
    assert_eq!(post(&mut c, "1.1.1.1").await, StatusCode::OK);
    assert_eq!(post(&mut c, "2.2.2.2").await, StatusCode::OK);
    assert_eq!(
        post(&mut c, "3.3.3.3").await,
        StatusCode::TOO_MANY_REQUESTS,
        "a spoofed X-Forwarded-For changes nothing"
    );
    let app = app_trusting_one_proxy(&backend, limits).await;
    let mut proxy = client_at(&app, "10.0.0.1");
    for forwarded in [
        "1.1.1.1",
        "9.9.9.9, 2.2.2.2",
        "3.3.3.3",
        "2001:db8::1",
        "2001:db8::2",
    ] {
        assert_eq!(
            post(&mut proxy, forwarded).await,
            StatusCode::OK,
            "{forwarded}"
        );
    }
    assert_eq!(
        post(&mut proxy, "2001:db8::3").await,
        StatusCode::TOO_MANY_REQUESTS,
        "IPv6 counts by its /64"
    );
}

async fn post(c: &mut Client, forwarded: &str) -> StatusCode {
    let fields = [("email", "nobody@lp.com"), ("password", "x")];
    c.post_form_with("/login", &fields, &[("X-Forwarded-For", forwarded)])
        .await
        .status
}

async fn app_trusting_one_proxy(backend: &Backend, limits: (&str, &str)) -> TestApp {
    app(backend, &[limits, ("SECURITY_TRUSTED_PROXIES", "1")]).await
}

async fn mail_to_one_address_is_limited(backend: Backend) {
    let v = vars(
        RECOVERABLE,
        &[("SECURITY_RATE_LIMITS", r#"{"mail": "2/h/email"}"#)],
    );
    let app = app(&backend, &v).await;
    let mut answers = Vec::new();
    for _ in 0..3 {
        let r = app
            .client()
            .post_form("/reset", &[("email", "joe@lp.com")])
            .await;
        answers.push((r.status, r.body_without_csrf()));
    }
    assert_eq!(answers[2], answers[1], "the third answers as if sent");
    assert_eq!(
        app.mails_with("joe@lp.com", crate::common::RESET_SUBJECT)
            .len(),
        2,
        "and sends nothing"
    );
    app.client()
        .post_form("/reset", &[("email", "matt@lp.com")])
        .await;
    assert_eq!(
        app.mails_with("matt@lp.com", crate::common::RESET_SUBJECT)
            .len(),
        1
    );
}

async fn basic_auth_is_locked_and_throttled(backend: Backend) {
    let v = vars(
        &lockable("2"),
        &[("SECURITY_RATE_LIMITS", r#"{"login_failed": "3/m/ip"}"#)],
    );
    let app = app(&backend, &v).await;
    let get = |app: &TestApp, password: &'static str| {
        let mut c = client_at(app, "10.0.0.5");
        async move {
            c.get_with(
                "/http",
                &[("Authorization", &basic("joe@lp.com", password))],
            )
            .await
        }
    };
    assert_eq!(get(&app, "password").await.status, StatusCode::OK);
    for _ in 0..2 {
        assert_eq!(get(&app, "wrong").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        get(&app, "password").await.status,
        StatusCode::UNAUTHORIZED,
        "locked: Basic gets no password check"
    );
    assert_eq!(
        get(&app, "password").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let r = get(&app, "password").await;
    assert!(r.headers.contains_key("retry-after"));
}

async fn passwordless_is_locked_too(backend: Backend) {
    let v = vars(&lockable("2"), &[("SECURITY_PASSWORDLESS", "true")]);
    let app = app(&backend, &v).await;
    let joe = app.user("joe@lp.com").await;
    // Failures by Basic (the passwordless login form takes no password).
    for _ in 0..2 {
        let mut c = client_at(&app, "10.0.0.5");
        c.get_with("/http", &[("Authorization", &basic("joe@lp.com", "wrong"))])
            .await;
    }
    let r = app
        .client()
        .post_form("/login", &[("email", "joe@lp.com")])
        .await;
    assert!(r.body.contains(LOCKED), "{}", r.body);
    assert!(
        app.mails_with("joe@lp.com", crate::common::LOGIN_SUBJECT)
            .is_empty()
    );
    assert!(app.security.unlock_user(&joe).await.unwrap());
    app.client()
        .post_form("/login", &[("email", "joe@lp.com")])
        .await;
    assert_eq!(
        app.mails_with("joe@lp.com", crate::common::LOGIN_SUBJECT)
            .len(),
        1
    );
}

async fn parallel_failures_lose_no_count(backend: Backend) {
    let v = vars(&lockable("20"), &[("SECURITY_LOCK_HARD_CAP", "50/h")]);
    let app = app(&backend, &v).await;
    let mut owner = client_at(&app, "10.0.0.1");
    assert!(logged_in(
        &login(&mut owner, "joe@lp.com", "password").await
    ));
    owner.get("/logout").await;
    let mut events = app.security.subscribe();
    // Tasks on the runtime's threads, so that the failures overlap (the fleet tests of the
    // conformance app do it with real hashes, where every failure reads its counters before
    // any is counted).
    let attempts: Vec<_> = (0..50)
        .map(|i| {
            let mut c = client_at(&app, &format!("10.1.0.{i}"));
            tokio::spawn(async move { login(&mut c, "joe@lp.com", "wrong").await.status })
        })
        .collect();
    for attempt in attempts {
        assert_eq!(attempt.await.unwrap(), StatusCode::OK);
    }
    let locks = drain(&mut events)
        .into_iter()
        .filter(|e| matches!(e, Event::AccountLocked { .. }))
        .count();
    assert_eq!(locks, 1, "exactly one lock");
    assert_eq!(app.mails_with("joe@lp.com", UNLOCK_SUBJECT).len(), 1);
    let r = login(&mut owner, "joe@lp.com", "password").await;
    assert!(
        r.body.contains(LOCKED),
        "all 50 failures were counted: the ceiling of 50 holds even for the owner's device"
    );
}

backend_tests!(
    lockout_refuses_the_right_password,
    locked_answers_like_a_wrong_password_in_generic_mode,
    the_owners_device_is_spared,
    the_hard_ceiling_holds_for_every_client,
    an_unlock_link_of_an_earlier_lock_is_refused,
    a_completed_reset_unlocks,
    a_time_lock_ends_and_the_next_lasts_twice_as_long,
    an_email_lock_lasts_until_its_link_is_used,
    failures_per_account_and_client_spare_other_clients,
    requests_per_address_are_limited_before_any_work,
    forwarded_for_counts_only_from_trusted_proxies,
    mail_to_one_address_is_limited,
    basic_auth_is_locked_and_throttled,
    passwordless_is_locked_too,
    parallel_failures_lose_no_count,
);

/// The lockout with its counters in Redis (`SECURITY_TEST_REDIS_URL`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(security_test_redis),
    ignore = "set SECURITY_TEST_REDIS_URL to run it on Redis"
)]
async fn lockout_on_redis() {
    let url = std::env::var("SECURITY_TEST_REDIS_URL").expect("SECURITY_TEST_REDIS_URL");
    lockout_with_store(&Backend::Sqlite, &url).await;
}

/// Redis down: with fail-open (the default) the limits still hold in this process and nothing
/// answers 5xx; with fail-closed a credential post is refused with 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_store_still_limits_in_process() {
    let dead = ("SECURITY_THROTTLE_STORE", "redis://127.0.0.1:1/");
    let limits = ("SECURITY_RATE_LIMITS", r#"{"login_failed": "2/m/ip"}"#);
    let open = app(&Backend::Sqlite, &[dead, limits]).await;
    let mut c = client_at(&open, "10.0.0.1");
    for _ in 0..2 {
        assert_eq!(
            login(&mut c, "joe@lp.com", "wrong").await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        login(&mut c, "joe@lp.com", "password").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert!(logged_in(
        &login(&mut client_at(&open, "10.0.0.2"), "joe@lp.com", "password").await
    ));
    let closed = ("SECURITY_THROTTLE_FAIL_OPEN", "false");
    let shut = app(&Backend::Sqlite, &[dead, limits, closed]).await;
    let r = login(&mut client_at(&shut, "10.0.0.1"), "joe@lp.com", "password").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
}

/// Nothing configured: no counter is kept, no device cookie is issued, the throttle table is
/// not needed.
#[tokio::test]
async fn off_by_default() {
    let app = app(&Backend::Sqlite, &[]).await;
    let mut c = app.client();
    for _ in 0..30 {
        assert_eq!(
            login(&mut c, "joe@lp.com", "wrong").await.status,
            StatusCode::OK
        );
    }
    assert!(logged_in(&login(&mut c, "joe@lp.com", "password").await));
    assert!(!c.cookies.contains_key("security_device"));
    let tables = security::schema::needed_tables(app.security.config());
    assert!(!tables.contains(&"security_throttle"), "{tables:?}");
}

/// Counts the calls the policy makes on its store; fails its reads and hits while `down`.
#[derive(Clone, Default)]
struct Counting {
    inner: Arc<security::throttle::MemoryStore>,
    calls: Arc<std::sync::Mutex<Vec<&'static str>>>,
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl Counting {
    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut self.calls.lock().unwrap())
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), security::throttle::ThrottleError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(security::throttle::ThrottleError::Redis("down".into()));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl security::throttle::ThrottleStore for Counting {
    async fn hit(
        &self,
        key: &security::throttle::ThrottleKey,
        window: u32,
        now: i64,
    ) -> Result<security::throttle::Tally, security::throttle::ThrottleError> {
        self.calls.lock().unwrap().push("hit");
        self.check()?;
        self.inner.hit(key, window, now).await
    }
    async fn get(
        &self,
        key: &security::throttle::ThrottleKey,
        now: i64,
    ) -> Result<Option<security::throttle::Tally>, security::throttle::ThrottleError> {
        self.calls.lock().unwrap().push("get");
        self.inner.get(key, now).await
    }
    async fn get_many(
        &self,
        keys: &[security::throttle::ThrottleKey],
        now: i64,
    ) -> Result<Vec<Option<security::throttle::Tally>>, security::throttle::ThrottleError> {
        self.calls.lock().unwrap().push("get_many");
        self.check()?;
        self.inner.get_many(keys, now).await
    }
    async fn clear(
        &self,
        key: &security::throttle::ThrottleKey,
    ) -> Result<(), security::throttle::ThrottleError> {
        self.calls.lock().unwrap().push("clear");
        self.inner.clear(key).await
    }
    async fn lock_until(
        &self,
        key: &security::throttle::ThrottleKey,
        until: i64,
        now: i64,
    ) -> Result<security::throttle::Tally, security::throttle::ThrottleError> {
        self.calls.lock().unwrap().push("lock_until");
        self.inner.lock_until(key, until, now).await
    }
}

/// A login costs one read of the store (every counter that could refuse it at once); guarded
/// requests and pages cost nothing.
#[tokio::test]
async fn a_login_reads_the_store_once_and_other_requests_never() {
    let store = Counting::default();
    let s = store.clone();
    let v = vars(
        &lockable("5"),
        &[(
            "SECURITY_RATE_LIMITS",
            r#"{"login_failed": "10/m/ip,5/15m/key,50/h/user"}"#,
        )],
    );
    let app = TestApp::build(&Backend::Sqlite, &v, move |b| b.throttle_store(s)).await;
    let mut c = client_at(&app, "10.0.0.1");
    c.get("/login").await;
    store.take();
    assert!(logged_in(&login(&mut c, "joe@lp.com", "password").await));
    assert_eq!(store.take(), ["get_many"], "a clean login: one read");
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);
    c.get("/login").await;
    assert!(
        store.take().is_empty(),
        "no throttle work off the credential path"
    );
    c.get("/logout").await;
    login(&mut c, "joe@lp.com", "wrong").await;
    let failure = store.take();
    assert_eq!(failure[0], "get_many");
    assert!(
        failure[1..].iter().all(|call| *call == "hit"),
        "{failure:?}"
    );
    assert!(logged_in(&login(&mut c, "joe@lp.com", "password").await));
    let after_failure = store.take();
    assert_eq!(after_failure[0], "get_many");
    assert!(
        after_failure[1..].iter().all(|call| *call == "clear"),
        "{after_failure:?}"
    );
}

/// A counter seen over its limit is refused again without a read of the store for a second
/// (a flood of refused attempts costs the store one read a second, not one an attempt), with
/// the store's own `Retry-After`, for that account and client only; then the store is read
/// again, and the window's end still lets the client in.
#[tokio::test]
async fn a_refusal_is_repeated_without_the_store_for_a_second() {
    let store = Counting::default();
    let s = store.clone();
    let v = vars(
        &[],
        &[(
            "SECURITY_RATE_LIMITS",
            r#"{"login_failed": "3/m/key", "login": "100/m/ip"}"#,
        )],
    );
    let app = TestApp::build(&Backend::Sqlite, &v, move |b| b.throttle_store(s)).await;
    let mut c = client_at(&app, "10.0.0.1");
    for _ in 0..3 {
        assert_eq!(
            login(&mut c, "joe@lp.com", "wrong").await.status,
            StatusCode::OK
        );
    }
    store.take();
    let retry_after = |r: &Resp| {
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
        r.headers["retry-after"].to_str().unwrap().to_owned()
    };
    let first = retry_after(&login(&mut c, "joe@lp.com", "password").await);
    assert_eq!(store.take(), ["hit", "get_many"], "the store refuses first");
    for _ in 0..5 {
        let again = retry_after(&login(&mut c, "joe@lp.com", "password").await);
        assert_eq!(again, first, "the store's Retry-After");
    }
    assert_eq!(
        store.take(),
        ["hit"; 5],
        "the login limit, not over its limit, is still counted; the failure limit not read"
    );
    // The account typed otherwise is another attempt, but the same counter, remembered.
    retry_after(&login(&mut c, "JOE@lp.com", "password").await);
    assert_eq!(store.take(), ["hit"], "the counter's refusal, remembered");
    // Another account from that client, and that account from another client, are not
    // refused.
    let other_account = login(&mut c, "matt@lp.com", "wrong").await;
    assert_eq!(
        other_account.status,
        StatusCode::OK,
        "{}",
        other_account.body
    );
    let elsewhere = login(&mut client_at(&app, "10.0.0.2"), "joe@lp.com", "wrong").await;
    assert_eq!(elsewhere.status, StatusCode::OK, "{}", elsewhere.body);
    store.take();
    app.clock.advance(1);
    retry_after(&login(&mut c, "joe@lp.com", "password").await);
    assert_eq!(
        store.take(),
        ["hit", "get_many"],
        "read again after a second"
    );
    app.clock.advance(60);
    assert!(logged_in(&login(&mut c, "joe@lp.com", "password").await));
}

/// The `login` limit (every credential post) over its count is not hit again while its
/// refusal is remembered.
#[tokio::test]
async fn a_request_limit_over_its_count_is_not_hit_again_for_a_second() {
    let store = Counting::default();
    let s = store.clone();
    let v = vars(&[], &[("SECURITY_RATE_LIMITS", r#"{"login": "2/m/ip"}"#)]);
    let app = TestApp::build(&Backend::Sqlite, &v, move |b| b.throttle_store(s)).await;
    let mut c = client_at(&app, "10.0.0.1");
    for _ in 0..2 {
        assert_eq!(
            login(&mut c, "joe@lp.com", "wrong").await.status,
            StatusCode::OK
        );
    }
    store.take();
    for expected in [&["hit"][..], &[], &[]] {
        let r = login(&mut c, "joe@lp.com", "password").await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
        assert_eq!(store.take(), expected);
    }
    app.clock.advance(1);
    login(&mut c, "joe@lp.com", "password").await;
    assert_eq!(store.take(), ["hit"], "hit again after a second");
}

/// A store failure with `SECURITY_THROTTLE_FAIL_OPEN = false` refuses the attempt, and is not
/// remembered as a refusal: the store back, the same attempt goes through at once.
#[tokio::test]
async fn a_store_failure_is_not_remembered_as_a_refusal() {
    let store = Counting::default();
    let s = store.clone();
    let v = vars(
        &[],
        &[
            ("SECURITY_RATE_LIMITS", r#"{"login_failed": "5/m/key"}"#),
            ("SECURITY_THROTTLE_FAIL_OPEN", "false"),
        ],
    );
    let app = TestApp::build(&Backend::Sqlite, &v, move |b| b.throttle_store(s)).await;
    let mut c = client_at(&app, "10.0.0.1");
    store.set_down(true);
    let r = login(&mut c, "joe@lp.com", "password").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    store.set_down(false);
    assert!(logged_in(&login(&mut c, "joe@lp.com", "password").await));
}
