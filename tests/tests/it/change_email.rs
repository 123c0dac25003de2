//! Change of e-mail address (Flask-Security 5.9's `CHANGE_EMAIL`, its `test_change_email.py`,
//! and the port's stricter rules): the request mails a link to the new address only; the link
//! changes the address once, within its lifetime, only to the address it was mailed to, only
//! while the account and both addresses are as they were; the old address is told; the old
//! address's pending links die; a fresh authentication and CSRF are required; generic mode
//! hides taken addresses; `users set-email`.

use http::StatusCode;
use serde_json::json;

use security::Event;
use security::cli::{CliError, Command, UsersCommand};
use security::datastore::NewUser;
use security_tests::{Backend, Client, Resp, TestApp, backend_tests};

use crate::common::*;

const ON: (&str, &str) = ("SECURITY_CHANGE_EMAIL", "true");
const SUBJECT: &str = "Confirm your new email address";
const NOTICE: &str = "Your email address has been changed";
const CONFIRMED: &str = "Change of email address confirmed";
const API_ERROR: &str = "Input not appropriate for requested API";
const EXPIRED: &str = "Confirmation must be completed within 2 hours. Please start over.";
const REQUIRED: &str = "You must reauthenticate to access this endpoint";
const JSON: (&str, &str) = ("Accept", "application/json");
const MATT: &str = "matt@lp.com";
const HOUR: i64 = 3_600;

fn sent(email: &str) -> String {
    format!("Instructions to confirm your new email address have been sent to {email}.")
}

async fn app_with(backend: &Backend, more: &[(&str, &str)]) -> TestApp {
    TestApp::new(backend, &vars(&[ON], more)).await
}

async fn logged_in(app: &TestApp, email: &str) -> Client {
    let mut c = app.client();
    c.login(email, "password", false).await.assert_redirect("/");
    c
}

async fn request(c: &mut Client, email: &str) -> Resp {
    c.post_form("/change-email", &[("email", email)]).await
}

/// The path of the last change-email link mailed to `to`.
fn link(app: &TestApp, to: &str) -> String {
    app.mails_with(to, SUBJECT)
        .last()
        .unwrap_or_else(|| panic!("a change-email mail to {to}"))
        .link_path("/change-email/")
}

/// Opens a link that must be refused with `message`: a redirect to the change-email page,
/// the message flashed, the address unchanged.
async fn assert_refused(app: &TestApp, c: &mut Client, path: &str, message: &str) {
    let before = app.user(MATT).await;
    let r = c.get(path).await;
    r.assert_redirect("/change-email");
    assert_flash(&c.get("/").await.body, "error", message);
    let after = app.user(MATT).await;
    assert_eq!(after.email, before.email, "{path}");
    assert_eq!(after.confirmed_at, before.confirmed_at, "{path}");
}

// --- the request -----------------------------------------------------------------------------

async fn the_request_mails_the_new_address_only(backend: Backend) {
    let app = app_with(&backend, &[]).await;
    let mut c = logged_in(&app, MATT).await;
    let page = c.get("/change-email").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>Change Email</h1>"), "{}", page.body);
    assert!(has_field(&page.body, "email"));
    assert!(
        page.body.contains("action=\"/change-email\""),
        "{}",
        page.body
    );
    let r = request(&mut c, NEW).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_flash(&r.body, "success", &sent(NEW));
    let mails = app.mails();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert!(mail.to.contains(NEW), "{}", mail.to);
    assert_eq!(mail.subject, SUBJECT);
    assert!(
        mail.link("/change-email/")
            .starts_with("http://localhost/change-email/")
    );
    for part in [&mail.text, &mail.html] {
        assert!(part.contains("This link will expire in 2 hours."), "{part}");
        assert!(
            part.contains("Your currently registered email is matt@lp.com."),
            "{part}"
        );
    }
    // Nothing changes until the link is opened.
    assert_eq!(app.user(MATT).await.email, MATT);
    assert!(app.user(MATT).await.confirmed_at.is_none());
}

async fn bad_addresses_are_refused_in_html_and_json(backend: Backend) {
    let app = app_with(&backend, &[]).await;
    let mut c = logged_in(&app, MATT).await;
    for (email, message) in [
        ("not-an-address", "Invalid email address".to_owned()),
        ("", "Email not provided".to_owned()),
        (
            "joe@lp.com",
            "joe@lp.com is already associated with an account.".to_owned(),
        ),
        (
            "JOE@lp.com",
            "JOE@lp.com is already associated with an account.".to_owned(),
        ),
        (
            MATT,
            "matt@lp.com is already associated with an account.".to_owned(),
        ),
        (
            "Matt@LP.com",
            "Matt@LP.com is already associated with an account.".to_owned(),
        ),
    ] {
        let r = request(&mut c, email).await;
        assert_eq!(r.status, StatusCode::OK, "{email}");
        assert!(r.body.contains(&message), "{email}: {}", r.body);
        assert!(!r.body.contains(&sent(email)), "{email}");
        let r = c
            .post_json("/change-email", json!({ "email": email }))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{email}: {}", r.body);
        let answer = r.json();
        assert_eq!(answer["response"]["errors"], json!([message]), "{answer}");
        assert_eq!(
            answer["response"]["field_errors"]["email"],
            json!([message]),
            "{answer}"
        );
    }
    assert!(app.mails().is_empty(), "{:#?}", app.mails());
    assert_eq!(app.user(MATT).await.email, MATT);
}

async fn json_requests_answer_the_current_email(backend: Backend) {
    let app = app_with(&backend, &[]).await;
    let mut c = logged_in(&app, MATT).await;
    let r = c.get_with("/change-email", &[JSON]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.answer()["response"]["current_email"], MATT);
    let r = c.post_json("/change-email", json!({ "email": NEW })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.answer()["response"]["current_email"], MATT);
    assert_eq!(app.mails_with(NEW, SUBJECT).len(), 1);
    // An auth token (no session cookie, so no CSRF token either) works too.
    let token = app.client().token("joe@lp.com", "password").await;
    let mut t = app.client().without_csrf();
    let r = t
        .send(
            http::Request::post("/change-email")
                .header("Content-Type", "application/json")
                .header("Authentication-Token", &token)
                .body(axum::body::Body::from(
                    json!({"email": "joe2@lp.com"}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.answer()["response"]["current_email"], "joe@lp.com");
    assert_eq!(app.mails_with("joe2@lp.com", SUBJECT).len(), 1);
}

// --- the link --------------------------------------------------------------------------------

async fn the_link_changes_the_address_once(backend: Backend) {
    let app = app_with(&backend, &[("SECURITY_RECOVERABLE", "true")]).await;
    let mut events = app.security.subscribe();
    let mut c = logged_in(&app, MATT).await;
    let mut other_device = logged_in(&app, MATT).await;
    request(&mut c, NEW).await;
    let path = link(&app, NEW);
    let r = c.get(&path).await;
    r.assert_redirect("/");
    let home = c.get("/").await;
    assert_flash(&home.body, "success", CONFIRMED);
    let user = app.user(NEW).await;
    assert!(user.confirmed_at.is_some(), "the new address is confirmed");
    assert!(
        app.security
            .datastore()
            .find_user_by_email(MATT)
            .await
            .unwrap()
            .is_none()
    );
    // This browser stays logged in, with the new address; other sessions end (they are bound
    // to the old address).
    assert!(logged_in_as(&mut c, NEW).await);
    assert!(anonymous(&mut other_device).await);
    // The old address is told, the new one masked.
    let notices = app.mails_with(MATT, NOTICE);
    assert_eq!(notices.len(), 1, "{:#?}", app.mails());
    assert!(
        notices[0].text.contains("n***@lp.com"),
        "{}",
        notices[0].text
    );
    assert!(!notices[0].text.contains(NEW), "{}", notices[0].text);
    assert!(app.mails_with(NEW, NOTICE).is_empty());
    let changed: Vec<_> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            Event::EmailChanged { user, old_email } => Some((user.email, old_email)),
            _ => None,
        })
        .collect();
    assert_eq!(changed, vec![(NEW.to_owned(), MATT.to_owned())]);
    // Used once.
    let r = c.get(&path).await;
    r.assert_redirect("/change-email");
    assert_flash(&c.get("/").await.body, "error", API_ERROR);
    assert_eq!(app.user(NEW).await.email, NEW);
    // The user logs in with the new address only.
    let mut fresh = app.client();
    fresh
        .login(NEW, "password", false)
        .await
        .assert_redirect("/");
    let r = app.client().login(MATT, "password", false).await;
    assert_eq!(r.status, StatusCode::OK, "the old address logs nobody in");
}

async fn the_link_needs_no_login_and_changes_only_its_user(backend: Backend) {
    let app = app_with(&backend, &[("SECURITY_SEND_CHANGE_EMAIL_NOTICE", "false")]).await;
    let mut c = logged_in(&app, MATT).await;
    request(&mut c, NEW).await;
    let path = link(&app, NEW);
    // Opened by another user's browser: it changes the link's user, not the one logged in,
    // and does not log anyone in or out.
    let mut joe = logged_in(&app, "joe@lp.com").await;
    joe.get(&path).await.assert_redirect("/");
    assert_eq!(app.user(NEW).await.username.as_deref(), Some("matt"));
    assert!(logged_in_as(&mut joe, "joe@lp.com").await);
    // Anonymous.
    request(&mut logged_in(&app, "jill@lp.com").await, "jill2@lp.com").await;
    let path = link(&app, "jill2@lp.com");
    let mut anon = app.client();
    anon.get(&path).await.assert_redirect("/");
    assert!(anonymous(&mut anon).await);
    assert_eq!(
        app.user("jill2@lp.com").await.username.as_deref(),
        Some("jill")
    );
    assert!(app.mails_with(MATT, NOTICE).is_empty(), "the notice is off");
}

async fn an_expired_link_is_refused(backend: Backend) {
    let app = app_with(&backend, &[]).await;
    let mut c = logged_in(&app, MATT).await;
    request(&mut c, NEW).await;
    let path = link(&app, NEW);
    app.clock.advance(2 * HOUR + 1);
    // The user logs in again: the link, not the session, is too old.
    let mut c = logged_in(&app, MATT).await;
    assert_refused(&app, &mut c, &path, EXPIRED).await;
    // Configurable lifetime, in the mail and the message.
    let app = app_with(&backend, &[("SECURITY_CHANGE_EMAIL_WITHIN", "10 minutes")]).await;
    let mut c = logged_in(&app, MATT).await;
    request(&mut c, NEW).await;
    let mail = app.mails_with(NEW, SUBJECT).remove(0);
    assert!(
        mail.text.contains("This link will expire in 10 minutes."),
        "{}",
        mail.text
    );
    let path = link(&app, NEW);
    app.clock.advance(9 * 60);
    let ok = app.client().get(&path).await;
    ok.assert_redirect("/");
    assert_eq!(app.user(NEW).await.username.as_deref(), Some("matt"));
    let app = app_with(&backend, &[("SECURITY_CHANGE_EMAIL_WITHIN", "10 minutes")]).await;
    let mut c = logged_in(&app, MATT).await;
    request(&mut c, NEW).await;
    let path = link(&app, NEW);
    app.clock.advance(10 * 60 + 1);
    assert_refused(
        &app,
        &mut c,
        &path,
        "Confirmation must be completed within 10 minutes. Please start over.",
    )
    .await;
}

async fn bad_links_are_refused(backend: Backend) {
    let app = app_with(&backend, &[("SECURITY_RECOVERABLE", "true")]).await;
    let mut c = logged_in(&app, MATT).await;
    request(&mut c, NEW).await;
    let good = link(&app, NEW);
    let reset = reset_link(&app, MATT).await;
    let reset_token = reset.rsplit('/').next().unwrap().to_owned();
    for bad in [
        "/change-email/garbage".to_owned(),
        tamper(&good),
        good[..good.len() - 4].to_owned(),
        format!("{good}x"),
        // A token of another purpose.
        format!("/change-email/{reset_token}"),
    ] {
        assert_refused(&app, &mut c, &bad, API_ERROR).await;
    }
    // And the change-email token is no reset token.
    let token = good.rsplit('/').next().unwrap();
    let mut anon = app.client();
    anon.get(&format!("/reset/{token}"))
        .await
        .assert_redirect("/reset");
    // The good one still works.
    c.get(&good).await.assert_redirect("/");
    assert_eq!(app.user(NEW).await.username.as_deref(), Some("matt"));
}

async fn a_link_dies_when_its_address_is_taken_or_the_account_changes(backend: Backend) {
    let app = app_with(&backend, &[]).await;
    let mut c = logged_in(&app, MATT).await;
    request(&mut c, NEW).await;
    let path = link(&app, NEW);
    // Someone registers the new address before the click.
    app.security
        .datastore()
        .create_user(NewUser::new(NEW, Some("password")))
        .await
        .unwrap();
    assert_refused(&app, &mut c, &path, API_ERROR).await;
    // A password change made after the link was mailed.
    request(&mut c, "other@lp.com").await;
    let path = link(&app, "other@lp.com");
    app.set_password(MATT, "password").await;
    let mut c = logged_in(&app, MATT).await;
    assert_refused(&app, &mut c, &path, API_ERROR).await;
}

/// Two requests (first `a@`, then `victim@`): each link changes the address only to the one
/// it was mailed to (Devise's CVE-2026-32700 was a link not bound to its address), and once
/// one is used the other is dead (the account's address is no longer the one it was made
/// for).
async fn concurrent_requests_each_bind_their_own_address(backend: Backend) {
    let app = app_with(&backend, &[]).await;
    let mut c = logged_in(&app, MATT).await;
    request(&mut c, "a@lp.com").await;
    request(&mut c, "victim@lp.com").await;
    let first = link(&app, "a@lp.com");
    let second = link(&app, "victim@lp.com");
    assert_ne!(first, second);
    c.get(&first).await.assert_redirect("/");
    assert_eq!(app.user("a@lp.com").await.username.as_deref(), Some("matt"));
    let mut c = logged_in(&app, "a@lp.com").await;
    let r = c.get(&second).await;
    r.assert_redirect("/change-email");
    assert_flash(&c.get("/").await.body, "error", API_ERROR);
    assert!(
        app.security
            .datastore()
            .find_user_by_email("victim@lp.com")
            .await
            .unwrap()
            .is_none()
    );
    // The other order: the later link gives the later address.
    let app = app_with(&backend, &[]).await;
    let mut c = logged_in(&app, MATT).await;
    request(&mut c, "a@lp.com").await;
    request(&mut c, "b@lp.com").await;
    let first = link(&app, "a@lp.com");
    let second = link(&app, "b@lp.com");
    c.get(&second).await.assert_redirect("/");
    assert_eq!(app.user("b@lp.com").await.username.as_deref(), Some("matt"));
    assert_refused_for(&app, &first, "b@lp.com").await;
    // Changed back, the first link does not come back to life.
    let mut c = logged_in(&app, "b@lp.com").await;
    request(&mut c, MATT).await;
    c.get(&link(&app, MATT)).await.assert_redirect("/");
    let mut c = logged_in(&app, MATT).await;
    let r = c.get(&second).await;
    r.assert_redirect("/change-email");
    assert_eq!(app.user(MATT).await.username.as_deref(), Some("matt"));
}

/// Racing uses: the same link opened twice at once, and two links of one account opened at
/// once, change the address exactly once.
async fn racing_links_change_the_address_once(backend: Backend) {
    let app = app_with(&backend, &[("SECURITY_SEND_CHANGE_EMAIL_NOTICE", "false")]).await;
    let mut c = logged_in(&app, MATT).await;
    request(&mut c, NEW).await;
    let path = link(&app, NEW);
    let (mut one, mut two) = (app.client(), app.client());
    let (a, b) = tokio::join!(one.get(&path), two.get(&path));
    let mut places = vec![a.location(), b.location()];
    places.sort();
    assert_eq!(places, vec!["/".to_owned(), "/change-email".to_owned()]);
    assert_eq!(app.user(NEW).await.username.as_deref(), Some("matt"));

    let mut c = logged_in(&app, NEW).await;
    request(&mut c, "a@lp.com").await;
    request(&mut c, "b@lp.com").await;
    let (first, second) = (link(&app, "a@lp.com"), link(&app, "b@lp.com"));
    let (a, b) = tokio::join!(one.get(&first), two.get(&second));
    let won: Vec<_> = [("a@lp.com", a), ("b@lp.com", b)]
        .into_iter()
        .filter(|(_, r)| r.location() == "/")
        .map(|(email, _)| email)
        .collect();
    assert_eq!(won.len(), 1, "exactly one link wins");
    assert_eq!(app.user(won[0]).await.username.as_deref(), Some("matt"));
    let store = app.security.datastore();
    for other in ["a@lp.com", "b@lp.com", NEW] {
        if other != won[0] {
            assert!(
                store.find_user_by_email(other).await.unwrap().is_none(),
                "{other}"
            );
        }
    }
}

async fn assert_refused_for(app: &TestApp, path: &str, email: &str) {
    let mut c = logged_in(app, email).await;
    c.get(path).await.assert_redirect("/change-email");
    assert_flash(&c.get("/").await.body, "error", API_ERROR);
    assert_eq!(app.user(email).await.username.as_deref(), Some("matt"));
}

/// Reset and confirmation links mailed to the old address are bound to it: after the change
/// they are invalid.
async fn the_old_address_links_die(backend: Backend) {
    let app = app_with(
        &backend,
        &vars(
            CONFIRMABLE,
            &[
                ("SECURITY_RECOVERABLE", "true"),
                ("SECURITY_LOGIN_WITHOUT_CONFIRMATION", "true"),
            ],
        ),
    )
    .await;
    let reset = reset_link(&app, MATT).await;
    let r = app.client().post_form("/confirm", &[("email", MATT)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let confirm = app
        .mails_with(MATT, CONFIRM_SUBJECT)
        .last()
        .expect("a confirmation mail")
        .link_path("/confirm/");
    let mut c = logged_in(&app, MATT).await;
    request(&mut c, NEW).await;
    c.get(&link(&app, NEW)).await.assert_redirect("/");
    let mut anon = app.client();
    anon.get(&reset).await.assert_redirect("/reset");
    assert_flash(
        &anon.get("/reset").await.body,
        "error",
        "Invalid reset password token.",
    );
    let mut anon = app.client();
    anon.get(&confirm).await.assert_redirect("/confirm");
    assert_flash(
        &anon.get("/confirm").await.body,
        "error",
        "Invalid confirmation token.",
    );
    assert!(app.has_password(NEW, "password").await);
}

/// A passwordless login link mailed to the old address dies with it.
async fn the_old_address_login_links_die(backend: Backend) {
    let app = app_with(&backend, &[("SECURITY_PASSWORDLESS", "true")]).await;
    let pending = send_login_link(&app, MATT).await;
    let mut c = app.client();
    let used = send_login_link(&app, MATT).await;
    c.get(&used).await.assert_redirect("/");
    request(&mut c, NEW).await;
    c.get(&link(&app, NEW)).await.assert_redirect("/");
    assert!(logged_in_as(&mut c, NEW).await);
    let mut anon = app.client();
    anon.get(&pending).await.assert_redirect("/login");
    assert_flash(
        &anon.get("/login").await.body,
        "error",
        "Invalid login token.",
    );
    assert!(anonymous(&mut anon).await);
}

/// With the identity cache on, the change drops the user's cached identity here and, through
/// the invalidation channel (PostgreSQL), on the other instances: the sessions bound to the
/// old address end everywhere, not when the entry expires.
async fn the_change_drops_the_cached_identity_everywhere(backend: Backend) {
    const TTL: (&str, &str) = ("SECURITY_IDENTITY_CACHE_TTL", "60 seconds");
    let app = app_with(&backend, &[TTL]).await;
    let mut c = logged_in(&app, MATT).await;
    let other_device = logged_in(&app, MATT).await;
    let copy = cookie_header(&other_device);
    let (_other, other_router) = other_instance(&app).await;
    let bus = matches!(backend, Backend::Postgres(_));
    // Cached on both instances.
    assert_eq!(status_on(&app.router, &copy).await, StatusCode::OK);
    if bus {
        assert_eq!(status_on(&other_router, &copy).await, StatusCode::OK);
    }
    request(&mut c, NEW).await;
    c.get(&link(&app, NEW)).await.assert_redirect("/");
    assert_eq!(status_on(&app.router, &copy).await, StatusCode::FOUND);
    assert!(logged_in_as(&mut c, NEW).await);
    if bus {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while status_on(&other_router, &copy).await != StatusCode::FOUND {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the other instance still has the old identity"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

fn cookie_header(c: &Client) -> String {
    c.cookies
        .iter()
        .map(|(k, v)| format!("{k}={}", v.value))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `/profile` (login required) with these cookies, on a router.
async fn status_on(router: &axum::Router, cookie: &str) -> StatusCode {
    use tower::ServiceExt;
    router
        .clone()
        .oneshot(
            http::Request::get("/profile")
                .header("cookie", cookie)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
}

/// A second instance of the app on the same database, with the same configuration.
async fn other_instance(app: &TestApp) -> (security::Security<security_tests::User>, axum::Router) {
    let config = app.security.config().clone();
    let other = security::Security::<security_tests::User>::builder(app.db.db.clone(), config)
        .build()
        .await
        .unwrap();
    let router = security_tests::router(&other);
    (other, router)
}

// --- generic responses, CSRF, freshness ------------------------------------------------------

async fn generic_mode_answers_a_taken_address_as_a_free_one(backend: Backend) {
    for key in [
        "SECURITY_RETURN_GENERIC_RESPONSES",
        "SECURITY_GENERIC_RESPONSES",
    ] {
        let app = app_with(&backend, &[(key, "true")]).await;
        let mut c = logged_in(&app, MATT).await;
        let free = request(&mut c, NEW).await;
        let taken = request(&mut c, "joe@lp.com").await;
        assert_eq!(free.status, taken.status);
        assert_eq!(
            free.body_without_csrf().replace(NEW, "ADDRESS"),
            taken.body_without_csrf().replace("joe@lp.com", "ADDRESS"),
            "{key}"
        );
        let free = c.post_json("/change-email", json!({"email": NEW})).await;
        let taken = c
            .post_json("/change-email", json!({"email": "joe@lp.com"}))
            .await;
        assert_eq!(free.status, taken.status);
        assert_eq!(free.answer(), taken.answer(), "{key}");
        assert_eq!(app.mails_with(NEW, SUBJECT).len(), 2);
        assert!(app.mails_to("joe@lp.com").is_empty(), "{:#?}", app.mails());
        // An invalid address is still refused.
        let r = c.post_json("/change-email", json!({"email": "nope"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
}

async fn csrf_is_required(backend: Backend) {
    let app = app_with(&backend, &[]).await;
    let c = logged_in(&app, MATT).await;
    let mut c = c.without_csrf();
    let r = request(&mut c, NEW).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = c.post_json("/change-email", json!({"email": NEW})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(app.mails().is_empty());
}

async fn a_stale_or_missing_authentication_is_refused(backend: Backend) {
    let app = app_with(
        &backend,
        &[
            ("SECURITY_FRESHNESS", "10 minutes"),
            ("SECURITY_FRESHNESS_GRACE_PERIOD", "0 minutes"),
        ],
    )
    .await;
    let mut c = logged_in(&app, MATT).await;
    app.clock.advance(11 * 60);
    let r = request(&mut c, NEW).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), "/verify?next=/change-email");
    let r = c.get("/change-email").await;
    assert_eq!(r.location(), "/verify?next=/change-email");
    let r = c.post_json("/change-email", json!({"email": NEW})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.answer()["response"]["reauth_required"], true);
    assert_eq!(r.answer()["response"]["errors"], json!([REQUIRED]));
    assert!(app.mails().is_empty());
    // Verified again: fresh.
    c.post_form("/verify", &[("password", "password")])
        .await
        .assert_redirect("/");
    assert_eq!(request(&mut c, NEW).await.status, StatusCode::OK);
    assert_eq!(app.mails_with(NEW, SUBJECT).len(), 1);
    // Anonymous.
    let mut anon = app.client();
    let r = anon.get("/change-email").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(r.location().starts_with("/login?next="), "{}", r.location());
    let r = anon.get_with("/change-email", &[JSON]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// The messages are configurable like the others.
async fn the_messages_are_configurable(backend: Backend) {
    let app = app_with(
        &backend,
        &[
            ("SECURITY_MSG_CHANGE_EMAIL_SENT", "Look in %(email)s"),
            ("SECURITY_MSG_CHANGE_EMAIL_CONFIRMED", "All done"),
            ("SECURITY_MSG_API_ERROR", "No such luck"),
        ],
    )
    .await;
    let mut c = logged_in(&app, MATT).await;
    let r = request(&mut c, NEW).await;
    assert_flash(&r.body, "success", "Look in new@lp.com");
    let path = link(&app, NEW);
    c.get(&path).await.assert_redirect("/");
    assert_flash(&c.get("/").await.body, "success", "All done");
    c.get(&path).await.assert_redirect("/change-email");
    assert_flash(&c.get("/").await.body, "error", "No such luck");
}

async fn it_is_off_by_default(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = logged_in(&app, MATT).await;
    assert_eq!(c.get("/change-email").await.status, StatusCode::NOT_FOUND);
}

// --- the command line ------------------------------------------------------------------------

async fn set_email(app: &TestApp, old: &str, new: &str) -> Result<String, CliError> {
    let command = Command::Users(UsersCommand::SetEmail {
        old: old.to_owned(),
        new: new.to_owned(),
    });
    security::cli::run(&app.security, command).await
}

async fn the_cli_sets_an_address(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut events = app.security.subscribe();
    let mut c = logged_in(&app, MATT).await;
    let out = set_email(&app, MATT, NEW).await.unwrap();
    assert!(out.contains(NEW), "{out}");
    assert_eq!(app.user(NEW).await.username.as_deref(), Some("matt"));
    assert!(anonymous(&mut c).await, "the old sessions end");
    assert!(drain(&mut events).iter().any(|e| matches!(
        e,
        Event::EmailChanged { old_email, .. } if old_email == MATT
    )));
    for (old, new) in [
        (NEW, "joe@lp.com"),
        (NEW, "JOE@LP.COM"),
        (NEW, NEW),
        (NEW, "not an address"),
        (NEW, "nope"),
    ] {
        let err = set_email(&app, old, new).await.unwrap_err();
        assert!(matches!(err, CliError::Refused(_)), "{new}: {err}");
    }
    let err = set_email(&app, "nobody@lp.com", "x@lp.com")
        .await
        .unwrap_err();
    assert!(matches!(err, CliError::NoSuchUser(_)), "{err}");
    assert_eq!(
        app.user("joe@lp.com").await.username.as_deref(),
        Some("joe")
    );
    assert_eq!(app.user(NEW).await.username.as_deref(), Some("matt"));
}

backend_tests!(
    the_request_mails_the_new_address_only,
    bad_addresses_are_refused_in_html_and_json,
    json_requests_answer_the_current_email,
    the_link_changes_the_address_once,
    the_link_needs_no_login_and_changes_only_its_user,
    an_expired_link_is_refused,
    bad_links_are_refused,
    a_link_dies_when_its_address_is_taken_or_the_account_changes,
    concurrent_requests_each_bind_their_own_address,
    racing_links_change_the_address_once,
    the_old_address_links_die,
    the_old_address_login_links_die,
    the_change_drops_the_cached_identity_everywhere,
    generic_mode_answers_a_taken_address_as_a_free_one,
    csrf_is_required,
    a_stale_or_missing_authentication_is_refused,
    the_messages_are_configurable,
    it_is_off_by_default,
    the_cli_sets_an_address,
);
