//! The account flows: registration, confirmation, recovery, change password, passwordless
//! login, the one-shot tokens, the enumeration-resistant mode and message overrides (spec §3,
//! §5.3–5.10, §6–§8 and the safety rules S1, S4, S7–S9, S12, S16, S19, B5, B6, B16, B17).

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};
use tokio::sync::broadcast::Receiver;

use security::Event;
use security_tests::{Backend, Client, Resp, TestApp, User, backend_tests, basic, has_flash};

const REGISTERABLE: &[(&str, &str)] = &[("SECURITY_REGISTERABLE", "true")];
const CONFIRMABLE: &[(&str, &str)] = &[
    ("SECURITY_REGISTERABLE", "true"),
    ("SECURITY_CONFIRMABLE", "true"),
];
const RECOVERABLE: &[(&str, &str)] = &[("SECURITY_RECOVERABLE", "true")];
const CHANGEABLE: &[(&str, &str)] = &[("SECURITY_CHANGEABLE", "true")];
const PASSWORDLESS: &[(&str, &str)] = &[("SECURITY_PASSWORDLESS", "true")];

const NEW: &str = "new@lp.com";

const WELCOME: &str = "Welcome";
const CONFIRM_SUBJECT: &str = "Please confirm your email";
const RESET_SUBJECT: &str = "Password reset instructions";
const RESET_NOTICE_SUBJECT: &str = "Your password has been reset";
const CHANGE_NOTICE_SUBJECT: &str = "Your password has been changed";
const LOGIN_SUBJECT: &str = "Login instructions";

fn vars<'a>(base: &[(&'a str, &'a str)], more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(more).copied().collect()
}

fn has_field(body: &str, name: &str) -> bool {
    body.contains(&format!("name=\"{name}\""))
}

#[track_caller]
fn assert_flash(body: &str, category: &str, message: &str) {
    assert!(
        has_flash(body, category, message),
        "expected the {category} flash {message:?} in:\n{body}"
    );
}

/// The events received so far.
fn drain(events: &mut Receiver<Event<User>>) -> Vec<Event<User>> {
    let mut out = Vec::new();
    while let Ok(event) = events.try_recv() {
        out.push(event);
    }
    out
}

/// A form registration with the password `password`.
async fn register(c: &mut Client, email: &str) -> Resp {
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
async fn logged_in_as(c: &mut Client, email: &str) -> bool {
    let r = c.get("/").await;
    r.body.contains(&format!("Hello {email}"))
}

async fn anonymous(c: &mut Client) -> bool {
    c.get("/profile").await.status == StatusCode::FOUND
}

/// The path of the one link to `to` under `prefix` in a mail with `subject`.
fn only_link(app: &TestApp, to: &str, subject: &str, prefix: &str) -> String {
    let mails = app.mails_with(to, subject);
    assert_eq!(mails.len(), 1, "one {subject:?} mail to {to}: {mails:#?}");
    mails[0].link_path(prefix)
}

/// The token path with the first character of its signature changed (a character whose six
/// bits all count, unlike the last one).
fn tamper(path: &str) -> String {
    let at = path.rfind('.').expect("a signed token") + 1;
    let old = path[at..].chars().next().expect("a signature");
    let new = if old == 'A' { 'B' } else { 'A' };
    format!("{}{new}{}", &path[..at], &path[at + 1..])
}

// --- Registration (§5.3) ------------------------------------------------------------------------

async fn register_page_has_the_form(backend: Backend) {
    let app = TestApp::new(&backend, REGISTERABLE).await;
    let r = app.client().get("/register?next=/page1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Register</h1>"), "{}", r.body);
    assert!(has_field(&r.body, "register_user_form"));
    for field in ["email", "password", "password_confirm", "next"] {
        assert!(has_field(&r.body, field), "{field}");
    }
    assert!(r.body.contains("value=\"/page1\""), "{}", r.body);
}

async fn registration_refuses_invalid_addresses_and_short_passwords(backend: Backend) {
    let app = TestApp::new(&backend, REGISTERABLE).await;
    let r = app
        .client()
        .post_json("/register", json!({"email": "bogus", "password": "pass"}))
        .await;
    assert_eq!(r.json()["meta"]["code"], 400);
    assert_eq!(
        r.json()["response"]["errors"],
        json!({
            "email": ["Invalid email address"],
            "password": ["Password must be at least 6 characters"],
        })
    );
    let r = app.client().post_json("/register", json!({})).await;
    assert_eq!(
        r.json()["response"]["errors"],
        json!({"email": ["Email not provided"], "password": ["Password not provided"]})
    );
    let long = "x".repeat(129);
    let r = app
        .client()
        .post_json("/register", json!({"email": NEW, "password": long}))
        .await;
    assert_eq!(
        r.json()["response"]["errors"],
        json!({"password": ["Password must be at most 128 characters"]}),
        "too long has its own message"
    );
    let mut c = app.client();
    let r = c
        .post_form(
            "/register",
            &[
                ("email", "bogus"),
                ("password", "pass"),
                ("password_confirm", "pass"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Invalid email address"), "{}", r.body);
    assert!(r.body.contains("Password must be at least 6 characters"));
    assert!(r.body.contains("value=\"bogus\""), "the address is kept");
    let store = app.security.datastore();
    assert!(store.find_user_by_email("bogus").await.unwrap().is_none());
    assert!(store.find_user_by_email(NEW).await.unwrap().is_none());
    assert!(anonymous(&mut c).await);
    assert!(app.mails().is_empty());
}

async fn registration_refuses_an_address_already_associated_in_any_case(backend: Backend) {
    let app = TestApp::new(&backend, REGISTERABLE).await;
    let r = app
        .client()
        .post_json(
            "/register",
            json!({"email": "MATT@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(r.json()["meta"]["code"], 400);
    assert_eq!(
        r.json()["response"]["errors"]["email"],
        json!(["MATT@lp.com is already associated with an account."])
    );
    let r = register(&mut app.client(), "matt@lp.com").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .contains("matt@lp.com is already associated with an account."),
        "{}",
        r.body
    );
    assert!(app.mails().is_empty());
}

async fn registration_requires_the_retyped_password_to_match(backend: Backend) {
    for base in [REGISTERABLE, CONFIRMABLE] {
        let app = TestApp::new(&backend, base).await;
        let r = app
            .client()
            .post_form(
                "/register",
                &[
                    ("email", NEW),
                    ("password", "password"),
                    ("password_confirm", "different"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{base:?}");
        assert!(r.body.contains("Passwords do not match"), "{base:?} (B16)");
        assert!(
            app.security
                .datastore()
                .find_user_by_email(NEW)
                .await
                .unwrap()
                .is_none()
        );
    }
    let app = TestApp::new(&backend, REGISTERABLE).await;
    let r = app
        .client()
        .post_json(
            "/register",
            json!({"email": NEW, "password": "password", "password_confirm": "other1"}),
        )
        .await;
    assert_eq!(
        r.json()["response"]["errors"],
        json!({"password_confirm": ["Passwords do not match"]})
    );
    let r = app
        .client()
        .post_json("/register", json!({"email": NEW, "password": "password"}))
        .await;
    assert_eq!(r.json()["meta"]["code"], 200, "JSON needs no retype field");
}

async fn registration_logs_the_new_user_in(backend: Backend) {
    let app = TestApp::new(&backend, REGISTERABLE).await;
    let mut c = app.client();
    register(&mut c, NEW).await.assert_redirect("/");
    assert!(logged_in_as(&mut c, NEW).await);
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);
    let user = app.user(NEW).await;
    assert!(user.active);
    assert!(app.has_password(NEW, "password").await);
    assert!(
        app.security
            .datastore()
            .user_roles(&user)
            .await
            .unwrap()
            .is_empty()
    );
    // a logged-in user is sent away from the registration page
    c.get("/register").await.assert_redirect("/");
}

async fn json_registration_answers_with_the_user_and_a_working_token(backend: Backend) {
    let app = TestApp::new(&backend, REGISTERABLE).await;
    let mut c = app.client();
    let r = c
        .post_json("/register", json!({"email": NEW, "password": "password"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let data = r.json();
    assert_eq!(data["meta"]["code"], 200, "{data}");
    let user = app.user(NEW).await;
    assert_eq!(data["response"]["user"]["id"], json!(user.id.to_string()));
    let token = data["response"]["user"]["authentication_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let r = app
        .client()
        .get_with("/token", &[("Authentication-Token", &token)])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(NEW));
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);
}

async fn registration_sends_the_welcome_mail(backend: Backend) {
    let app = TestApp::new(&backend, REGISTERABLE).await;
    register(&mut app.client(), NEW).await.assert_redirect("/");
    let mails = app.mails_to(NEW);
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail.subject, WELCOME);
    assert!(mail.text.contains("Welcome new@lp.com!"), "{}", mail.text);
    assert!(mail.html.contains("Welcome new@lp.com!"), "{}", mail.html);
    assert!(
        !mail.text.contains("/confirm"),
        "no confirmation link when not confirmable: {}",
        mail.text
    );
}

async fn send_register_email_false_sends_no_welcome_mail(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &vars(REGISTERABLE, &[("SECURITY_SEND_REGISTER_EMAIL", "false")]),
    )
    .await;
    let mut c = app.client();
    register(&mut c, NEW).await.assert_redirect("/");
    assert!(logged_in_as(&mut c, NEW).await);
    assert!(app.mails().is_empty(), "{:#?}", app.mails());
}

async fn registration_honours_a_safe_next_only(backend: Backend) {
    let app = TestApp::new(&backend, REGISTERABLE).await;
    app.client()
        .post_form(
            "/register",
            &[
                ("email", "one@lp.com"),
                ("password", "password"),
                ("password_confirm", "password"),
                ("next", "/page1"),
            ],
        )
        .await
        .assert_redirect("/page1");
    let mut c = app.client();
    c.post_form(
        "/register?next=/page1",
        &[
            ("email", "two@lp.com"),
            ("password", "password"),
            ("password_confirm", "password"),
        ],
    )
    .await
    .assert_redirect("/page1");
    let mut c = app.client();
    let r = c
        .post_form(
            "/register",
            &[
                ("email", "three@lp.com"),
                ("password", "password"),
                ("password_confirm", "password"),
                ("next", "http://evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "an unsafe next is refused");
    assert!(
        r.body
            .contains("Redirections outside the domain are forbidden"),
        "{}",
        r.body
    );
    assert!(
        app.security
            .datastore()
            .find_user_by_email("three@lp.com")
            .await
            .unwrap()
            .is_none()
    );
    // JSON registration ignores `next`
    let r = app
        .client()
        .post_json(
            "/register",
            json!({"email": "four@lp.com", "password": "password", "next": "http://evil.example/"}),
        )
        .await;
    assert_eq!(r.json()["meta"]["code"], 200);
}

async fn registration_refuses_an_unsafe_query_next(backend: Backend) {
    // 1.7.4's RegisterForm reads its `next` field from `?next=` and validates it (spec §5.3,
    // §5.11), as the login view of this port does.
    let app = TestApp::new(&backend, REGISTERABLE).await;
    let mut c = app.client();
    let r = c
        .post_form(
            "/register?next=http://evil.example/",
            &[
                ("email", NEW),
                ("password", "password"),
                ("password_confirm", "password"),
            ],
        )
        .await;
    if r.status == StatusCode::FOUND {
        assert!(!r.location().contains("evil"), "{}", r.location());
    }
    assert_eq!(r.status, StatusCode::OK, "refused like a bad form `next`");
    assert!(
        r.body
            .contains("Redirections outside the domain are forbidden"),
        "{}",
        r.body
    );
}

async fn post_register_view_is_where_registration_goes(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &vars(REGISTERABLE, &[("SECURITY_POST_REGISTER_VIEW", "/page1")]),
    )
    .await;
    register(&mut app.client(), NEW)
        .await
        .assert_redirect("/page1");
}

async fn registration_with_confirmation_does_not_log_in(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    let mut c = app.client();
    register(&mut c, NEW).await.assert_redirect("/");
    let r = c.get("/").await;
    assert_flash(
        &r.body,
        "success",
        "Thank you. Confirmation instructions have been sent to new@lp.com.",
    );
    assert!(!r.body.contains("Hello "), "{}", r.body);
    assert!(anonymous(&mut c).await);
    assert!(app.user(NEW).await.confirmed_at.is_none());
}

async fn json_registration_without_login_returns_no_token(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    let mut c = app.client();
    let r = c
        .post_json("/register", json!({"email": NEW, "password": "password"}))
        .await;
    let data = r.json();
    assert_eq!(data["meta"]["code"], 200, "{data}");
    let user = app.user(NEW).await;
    assert_eq!(
        data["response"]["user"],
        json!({"id": user.id.to_string()}),
        "no authentication_token for a user who may not log in (S12)"
    );
    assert!(anonymous(&mut c).await);
}

async fn registration_emits_user_registered_with_the_confirm_token(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    let mut events = app.security.subscribe();
    register(&mut app.client(), NEW).await;
    let token = drain(&mut events)
        .into_iter()
        .find_map(|e| match e {
            Event::UserRegistered {
                user,
                confirm_token,
            } => {
                assert_eq!(user.email, NEW);
                Some(confirm_token)
            }
            _ => None,
        })
        .expect("user_registered");
    let token = token.expect("a confirm token when confirmable");
    let mail = &app.mails_with(NEW, WELCOME)[0];
    assert_eq!(mail.token("/confirm/"), token);

    let plain = TestApp::new(&backend, REGISTERABLE).await;
    let mut events = plain.security.subscribe();
    register(&mut plain.client(), NEW).await;
    let registered: Vec<_> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            Event::UserRegistered { confirm_token, .. } => Some(confirm_token),
            _ => None,
        })
        .collect();
    assert_eq!(registered, vec![None]);
}

// --- Confirmation (§5.7–5.8) --------------------------------------------------------------------

async fn welcome_mail_carries_the_confirmation_link(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    register(&mut app.client(), NEW).await;
    let mails = app.mails_to(NEW);
    assert_eq!(mails.len(), 1, "only the welcome mail: {mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail.subject, WELCOME);
    assert!(
        mail.text
            .contains("You can confirm your email through the link below:"),
        "{}",
        mail.text
    );
    let link = mail.link("/confirm/");
    assert!(link.starts_with("http://localhost/confirm/"), "{link}");
    assert!(mail.text.contains(&link));
    assert!(
        mail.html.contains(&format!("href=\"{link}\"")),
        "{}",
        mail.html
    );
    assert!(mail.html.contains("Confirm my account"));
}

async fn confirmation_link_confirms_and_logs_in(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    let mut c = app.client();
    register(&mut c, NEW).await;
    c.get("/").await; // the registration flash
    let path = only_link(&app, NEW, WELCOME, "/confirm/");
    c.get(&path).await.assert_redirect("/");
    let r = c.get("/").await;
    assert_flash(
        &r.body,
        "success",
        "Thank you. Your email has been confirmed.",
    );
    assert!(r.body.contains("Hello new@lp.com"), "{}", r.body);
    assert!(app.user(NEW).await.confirmed_at.is_some());
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);
}

async fn expired_confirmation_link_sends_new_instructions(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &vars(
            CONFIRMABLE,
            &[("SECURITY_CONFIRM_EMAIL_WITHIN", "1 seconds")],
        ),
    )
    .await;
    register(&mut app.client(), NEW).await;
    let old = only_link(&app, NEW, WELCOME, "/confirm/");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut events = app.security.subscribe();
    let mut c = app.client();
    c.get(&old).await.assert_redirect("/confirm");
    let r = c.get("/confirm").await;
    assert_flash(
        &r.body,
        "error",
        "You did not confirm your email within 1 seconds. New instructions to confirm your email have been sent to new@lp.com.",
    );
    let new = only_link(&app, NEW, CONFIRM_SUBJECT, "/confirm/");
    assert_ne!(new, old);
    assert!(app.user(NEW).await.confirmed_at.is_none());
    assert!(anonymous(&mut c).await);
    assert!(
        drain(&mut events)
            .iter()
            .any(|e| matches!(e, Event::ConfirmInstructionsSent { user, .. } if user.email == NEW)),
        "confirm_instructions_sent"
    );
}

async fn expired_link_of_a_confirmed_user_sends_nothing(backend: Backend) {
    // B6: 1.7.4 re-sent confirmation instructions to an already confirmed user.
    let app = TestApp::new(
        &backend,
        &vars(
            CONFIRMABLE,
            &[("SECURITY_CONFIRM_EMAIL_WITHIN", "1 seconds")],
        ),
    )
    .await;
    register(&mut app.client(), NEW).await;
    let old = only_link(&app, NEW, WELCOME, "/confirm/");
    app.confirm(NEW).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.client().get(&old).await.assert_redirect("/confirm");
    assert!(app.mails_with(NEW, CONFIRM_SUBJECT).is_empty());
}

async fn invalid_confirmation_token_is_refused(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    register(&mut app.client(), NEW).await;
    let good = only_link(&app, NEW, WELCOME, "/confirm/");
    for bad in [
        "/confirm/garbage".to_owned(),
        tamper(&good),
        good[..good.len() - 4].to_owned(),
        format!("{good}x"),
    ] {
        let mut c = app.client();
        c.get(&bad).await.assert_redirect("/confirm");
        let r = c.get("/confirm").await;
        assert_flash(&r.body, "error", "Invalid confirmation token.");
        assert!(anonymous(&mut c).await, "{bad}");
    }
    assert!(app.user(NEW).await.confirmed_at.is_none());
    assert!(app.mails_with(NEW, CONFIRM_SUBJECT).is_empty());
}

async fn confirm_error_view_receives_bad_confirmation_links(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &vars(CONFIRMABLE, &[("SECURITY_CONFIRM_ERROR_VIEW", "/page1")]),
    )
    .await;
    let mut c = app.client();
    c.get("/confirm/garbage").await.assert_redirect("/page1");
    assert_flash(
        &c.get("/").await.body,
        "error",
        "Invalid confirmation token.",
    );
}

async fn resend_confirmation_sends_new_instructions(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    let r = app.client().get("/confirm?email=matt@lp.com").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Resend confirmation instructions</h1>"));
    assert!(r.body.contains("value=\"matt@lp.com\""), "{}", r.body);

    let mut c = app.client();
    let r = c.post_form("/confirm", &[("email", "matt@lp.com")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Resend confirmation instructions</h1>"));
    assert_flash(
        &r.body,
        "info",
        "Confirmation instructions have been sent to matt@lp.com.",
    );
    let mail = &app.mails_with("matt@lp.com", CONFIRM_SUBJECT)[0];
    assert!(
        mail.text
            .contains("Please confirm your email through the link below:")
    );
    c.get(&mail.link_path("/confirm/"))
        .await
        .assert_redirect("/");
    assert!(app.user("matt@lp.com").await.confirmed_at.is_some());

    let r = app
        .client()
        .post_json("/confirm", json!({"email": "joe@lp.com"}))
        .await;
    let joe = app.user("joe@lp.com").await;
    assert_eq!(
        r.answer(),
        json!({"meta": {"code": 200}, "response": {"user": {"id": joe.id.to_string()}}})
    );
    assert_eq!(app.mails_with("joe@lp.com", CONFIRM_SUBJECT).len(), 1);
}

async fn resend_confirmation_refuses_confirmed_and_unknown_addresses(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    app.confirm("matt@lp.com").await;
    let r = app
        .client()
        .post_form("/confirm", &[("email", "matt@lp.com")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Your email has already been confirmed."),
        "{}",
        r.body
    );
    let r = app
        .client()
        .post_json("/confirm", json!({"email": "matt@lp.com"}))
        .await;
    assert_eq!(r.json()["meta"]["code"], 400);
    assert_eq!(
        r.json()["response"]["errors"]["email"],
        json!(["Your email has already been confirmed."])
    );
    let r = app
        .client()
        .post_form("/confirm", &[("email", "nobody@lp.com")])
        .await;
    assert!(
        r.body.contains("Specified user does not exist"),
        "{}",
        r.body
    );
    let r = app
        .client()
        .post_json("/confirm", json!({"email": "nobody@lp.com"}))
        .await;
    assert_eq!(
        r.json()["response"]["errors"]["email"],
        json!(["Specified user does not exist"])
    );
    let r = app.client().post_json("/confirm", json!({})).await;
    assert_eq!(
        r.json()["response"]["errors"]["email"],
        json!(["Email not provided"])
    );
    assert!(app.mails().is_empty(), "{:#?}", app.mails());
}

async fn login_without_confirmation_lets_unconfirmed_users_in(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &vars(
            CONFIRMABLE,
            &[("SECURITY_LOGIN_WITHOUT_CONFIRMATION", "true")],
        ),
    )
    .await;
    let mut c = app.client();
    register(&mut c, NEW).await.assert_redirect("/");
    assert!(logged_in_as(&mut c, NEW).await);
    assert!(app.mails_with(NEW, WELCOME)[0].text.contains("/confirm/"));
    let mut c = app.client();
    c.login("matt@lp.com", "password", false)
        .await
        .assert_redirect("/");
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);
    let r = app
        .client()
        .post_json(
            "/register",
            json!({"email": "j@lp.com", "password": "password"}),
        )
        .await;
    assert!(
        r.json()["response"]["user"]["authentication_token"].is_string(),
        "logged in, so a token: {}",
        r.body
    );
}

async fn post_confirm_view_is_where_confirmation_goes(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &vars(CONFIRMABLE, &[("SECURITY_POST_CONFIRM_VIEW", "/page1")]),
    )
    .await;
    register(&mut app.client(), NEW).await;
    let path = only_link(&app, NEW, WELCOME, "/confirm/");
    app.client().get(&path).await.assert_redirect("/page1");
}

async fn a_used_confirmation_link_logs_nobody_in(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    register(&mut app.client(), NEW).await;
    let path = only_link(&app, NEW, WELCOME, "/confirm/");
    let mut first = app.client();
    first.get(&path).await.assert_redirect("/");
    assert!(logged_in_as(&mut first, NEW).await);
    let mut again = app.client();
    again.get(&path).await.assert_redirect("/");
    let r = again.get("/").await;
    assert_flash(&r.body, "info", "Your email has already been confirmed.");
    assert!(!r.body.contains("Hello "), "S9: {}", r.body);
    assert!(anonymous(&mut again).await);
    first.get("/logout").await;
    first.get(&path).await;
    assert!(anonymous(&mut first).await, "not after a logout either");
}

async fn a_confirmation_link_never_replaces_the_logged_in_user(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    app.confirm("matt@lp.com").await;
    let mut matt = app.client();
    matt.login("matt@lp.com", "password", false)
        .await
        .assert_redirect("/");
    register(&mut app.client(), NEW).await;
    let path = only_link(&app, NEW, WELCOME, "/confirm/");
    let r = matt.get(&path).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(logged_in_as(&mut matt, "matt@lp.com").await, "S9");
    assert!(app.user(NEW).await.confirmed_at.is_some());
}

async fn confirmation_link_of_a_deleted_user_is_invalid(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    register(&mut app.client(), NEW).await;
    let path = only_link(&app, NEW, WELCOME, "/confirm/");
    let user = app.user(NEW).await;
    app.security.datastore().delete_user(&user).await.unwrap();
    let mut c = app.client();
    let r = c.get(&path).await;
    r.assert_redirect("/confirm");
    assert_flash(
        &c.get("/confirm").await.body,
        "error",
        "Invalid confirmation token.",
    );
    assert!(anonymous(&mut c).await);
    // a new account under the same address does not inherit the link
    register(&mut app.client(), NEW).await;
    app.client().get(&path).await.assert_redirect("/confirm");
    assert!(app.user(NEW).await.confirmed_at.is_none());
}

async fn a_confirmation_link_is_bound_to_the_address_it_was_sent_to(backend: Backend) {
    // S8: 1.7.4 ignored the e-mail digest, so a link sent to an old address confirmed a new one.
    use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    register(&mut app.client(), NEW).await;
    let path = only_link(&app, NEW, WELCOME, "/confirm/");
    let mut user = app.user(NEW).await.into_active_model();
    user.email = Set("changed@lp.com".into());
    user.update(&app.db.db).await.unwrap();
    let mut c = app.client();
    c.get(&path).await.assert_redirect("/confirm");
    assert_flash(
        &c.get("/confirm").await.body,
        "error",
        "Invalid confirmation token.",
    );
    assert!(app.user("changed@lp.com").await.confirmed_at.is_none());
    assert!(anonymous(&mut c).await);
}

async fn unconfirmed_users_cannot_log_in(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    let mut c = app.client();
    let r = c.login("matt@lp.com", "password", false).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Email requires confirmation."),
        "{}",
        r.body
    );
    assert!(anonymous(&mut c).await);
    let r = app
        .client()
        .post_json(
            "/login",
            json!({"email": "matt@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(
        r.json()["response"]["errors"],
        json!({"email": ["Email requires confirmation."]})
    );
    // only someone who knows the password is told
    let r = app.client().login("matt@lp.com", "wrong1", false).await;
    assert!(r.body.contains("Invalid password"), "{}", r.body);
    app.confirm("matt@lp.com").await;
    app.client()
        .login("matt@lp.com", "password", false)
        .await
        .assert_redirect("/");
}

async fn unconfirmed_users_cannot_use_token_or_basic_auth(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    let matt = app.user("matt@lp.com").await;
    let token = app.security.auth_token(&matt);
    let r = app
        .client()
        .get_with("/token", &[("Authentication-Token", &token)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "token (S12)");
    let r = app
        .client()
        .get_with(
            "/http",
            &[("Authorization", &basic("matt@lp.com", "password"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "basic (S12)");
    app.confirm("matt@lp.com").await;
    let r = app
        .client()
        .get_with("/token", &[("Authentication-Token", &token)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "confirmed: the same token works");
    let r = app
        .client()
        .get_with(
            "/http",
            &[("Authorization", &basic("matt@lp.com", "password"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn confirmation_emits_its_events(backend: Backend) {
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    let mut events = app.security.subscribe();
    app.client()
        .post_form("/confirm", &[("email", "matt@lp.com")])
        .await;
    let mail = &app.mails_with("matt@lp.com", CONFIRM_SUBJECT)[0];
    let sent: Vec<String> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            Event::ConfirmInstructionsSent { user, token } => {
                assert_eq!(user.email, "matt@lp.com");
                Some(token)
            }
            _ => None,
        })
        .collect();
    assert_eq!(sent, vec![mail.token("/confirm/")]);
    let path = mail.link_path("/confirm/");
    app.client().get(&path).await;
    app.client().get(&path).await;
    let confirmed: Vec<String> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            Event::UserConfirmed { user } => Some(user.email),
            _ => None,
        })
        .collect();
    assert_eq!(confirmed, vec!["matt@lp.com".to_owned()], "first time only");
    // no confirm_instructions_sent at registration (the welcome mail carries the link)
    let app = TestApp::new(&backend, CONFIRMABLE).await;
    let mut events = app.security.subscribe();
    register(&mut app.client(), NEW).await;
    assert!(
        !drain(&mut events)
            .iter()
            .any(|e| matches!(e, Event::ConfirmInstructionsSent { .. }))
    );
}

// --- Recovery (§5.4–5.5) ------------------------------------------------------------------------

/// Asks for a reset link for `email`; its path.
async fn reset_link(app: &TestApp, email: &str) -> String {
    let r = app.client().post_form("/reset", &[("email", email)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mails = app.mails_with(email, RESET_SUBJECT);
    mails.last().expect("a reset mail").link_path("/reset/")
}

async fn reset_with(c: &mut Client, path: &str, password: &str) -> Resp {
    c.post_form(
        path,
        &[("password", password), ("password_confirm", password)],
    )
    .await
}

async fn forgot_password_sends_reset_instructions(backend: Backend) {
    let app = TestApp::new(&backend, RECOVERABLE).await;
    let r = app.client().get("/reset").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Send password reset instructions</h1>"));
    assert!(has_field(&r.body, "forgot_password_form"));
    let r = app
        .client()
        .post_form("/reset", &[("email", "joe@lp.com")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "the page again, no redirect");
    assert!(r.body.contains("<h1>Send password reset instructions</h1>"));
    assert_flash(
        &r.body,
        "info",
        "Instructions to reset your password have been sent to joe@lp.com.",
    );
    let mails = app.mails_to("joe@lp.com");
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.subject, RESET_SUBJECT);
    assert!(
        mail.text
            .contains("Click the link below to reset your password:")
    );
    assert!(
        mail.link("/reset/").starts_with("http://localhost/reset/"),
        "{mail:?}"
    );
    assert!(mail.html.contains("Click here to reset your password"));
}

async fn json_forgot_password_answers_with_no_user_data(backend: Backend) {
    let app = TestApp::new(&backend, RECOVERABLE).await;
    let mut c = app.client();
    let r = c.post_json("/reset", json!({"email": "joe@lp.com"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.answer(), json!({"meta": {"code": 200}, "response": {}}));
    assert_eq!(app.mails_with("joe@lp.com", RESET_SUBJECT).len(), 1);
    let r = c.get("/reset").await;
    assert!(
        !r.body.contains("Instructions to reset"),
        "no flash for JSON"
    );
}

async fn forgot_password_refuses_unknown_and_invalid_addresses(backend: Backend) {
    let app = TestApp::new(&backend, RECOVERABLE).await;
    // the format check does not stop the chain (spec §4.1): `bogus` gets both messages
    for (email, messages) in [
        ("nobody@lp.com", &["Specified user does not exist"][..]),
        (
            "bogus",
            &["Invalid email address", "Specified user does not exist"][..],
        ),
        ("", &["Email not provided"][..]),
    ] {
        let r = app.client().post_form("/reset", &[("email", email)]).await;
        assert_eq!(r.status, StatusCode::OK);
        for message in messages {
            assert!(r.body.contains(message), "{email}: {}", r.body);
        }
        assert!(!r.body.contains("Instructions to reset"));
        let r = app
            .client()
            .post_json("/reset", json!({"email": email}))
            .await;
        assert_eq!(r.json()["meta"]["code"], 400);
        assert_eq!(r.json()["response"]["errors"]["email"], json!(messages));
    }
    assert!(app.mails().is_empty());
}

async fn reset_link_sets_a_new_password_and_logs_in(backend: Backend) {
    let app = TestApp::new(&backend, RECOVERABLE).await;
    let path = reset_link(&app, "joe@lp.com").await;
    let mut c = app.client();
    let r = c.get(&path).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Reset password</h1>"), "{}", r.body);
    assert!(
        r.body.contains(&format!("action=\"{path}\"")),
        "posts back to the token URL: {}",
        r.body
    );
    reset_with(&mut c, &path, "newpassword")
        .await
        .assert_redirect("/");
    let r = c.get("/").await;
    assert_flash(
        &r.body,
        "success",
        "You successfully reset your password and you have been logged in automatically.",
    );
    assert!(r.body.contains("Hello joe@lp.com"));
    app.client()
        .login("joe@lp.com", "newpassword", false)
        .await
        .assert_redirect("/");
    let r = app.client().login("joe@lp.com", "password", false).await;
    assert!(r.body.contains("Invalid password"), "{}", r.body);
}

async fn reset_form_validates_the_new_password(backend: Backend) {
    let app = TestApp::new(&backend, RECOVERABLE).await;
    let path = reset_link(&app, "joe@lp.com").await;
    let mut c = app.client();
    let r = reset_with(&mut c, &path, "short").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Password must be at least 6 characters"));
    let r = c
        .post_form(
            &path,
            &[
                ("password", "newpassword"),
                ("password_confirm", "other123"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Passwords do not match"), "{}", r.body);
    let r = c.post_form(&path, &[]).await;
    assert!(r.body.contains("Password not provided"), "{}", r.body);
    assert!(anonymous(&mut c).await);
    app.client()
        .login("joe@lp.com", "password", false)
        .await
        .assert_redirect("/");
}

async fn reset_link_works_once(backend: Backend) {
    let app = TestApp::new(&backend, RECOVERABLE).await;
    let path = reset_link(&app, "joe@lp.com").await;
    reset_with(&mut app.client(), &path, "newpassword")
        .await
        .assert_redirect("/");
    for attempt in ["GET", "POST"] {
        let mut c = app.client();
        let r = if attempt == "GET" {
            c.get(&path).await
        } else {
            reset_with(&mut c, &path, "thirdpass3").await
        };
        r.assert_redirect("/reset");
        let r = c.get("/reset").await;
        assert_flash(&r.body, "error", "Invalid reset password token.");
        assert!(anonymous(&mut c).await, "S7");
    }
    app.client()
        .login("joe@lp.com", "newpassword", false)
        .await
        .assert_redirect("/");
}

async fn reset_link_issued_before_a_password_change_is_invalid(backend: Backend) {
    let app = TestApp::new(&backend, RECOVERABLE).await;
    let path = reset_link(&app, "joe@lp.com").await;
    let joe = app.user("joe@lp.com").await;
    app.security
        .datastore()
        .set_password(&joe, "changedpassword")
        .await
        .unwrap();
    let mut c = app.client();
    c.get(&path).await.assert_redirect("/reset");
    assert_flash(
        &c.get("/reset").await.body,
        "error",
        "Invalid reset password token.",
    );
    reset_with(&mut c, &path, "newpassword")
        .await
        .assert_redirect("/reset");
    app.client()
        .login("joe@lp.com", "changedpassword", false)
        .await
        .assert_redirect("/");
}

async fn expired_reset_link_sends_new_instructions(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &vars(
            RECOVERABLE,
            &[("SECURITY_RESET_PASSWORD_WITHIN", "1 seconds")],
        ),
    )
    .await;
    let path = reset_link(&app, "joe@lp.com").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut events = app.security.subscribe();
    let mut c = app.client();
    c.get(&path).await.assert_redirect("/reset");
    let r = c.get("/reset").await;
    assert_flash(
        &r.body,
        "error",
        "You did not reset your password within 1 seconds. New instructions have been sent to joe@lp.com.",
    );
    let mails = app.mails_with("joe@lp.com", RESET_SUBJECT);
    assert_eq!(mails.len(), 2, "B5: the new instructions are really sent");
    assert!(mails.iter().any(|m| m.link_path("/reset/") != path));
    assert!(
        drain(&mut events)
            .iter()
            .any(|e| matches!(e, Event::ResetPasswordInstructionsSent { .. }))
    );
    // an expired link changes nothing
    let r = reset_with(&mut app.client(), &path, "newpassword").await;
    r.assert_redirect("/reset");
    app.client()
        .login("joe@lp.com", "password", false)
        .await
        .assert_redirect("/");
}

async fn tampered_reset_token_is_invalid(backend: Backend) {
    let app = TestApp::new(&backend, RECOVERABLE).await;
    let path = reset_link(&app, "joe@lp.com").await;
    for bad in [
        tamper(&path),
        "/reset/garbage".to_owned(),
        path[..path.len() - 3].to_owned(),
    ] {
        let mut c = app.client();
        c.get(&bad).await.assert_redirect("/reset");
        assert_flash(
            &c.get("/reset").await.body,
            "error",
            "Invalid reset password token.",
        );
        reset_with(&mut c, &bad, "newpassword")
            .await
            .assert_redirect("/reset");
    }
    app.client()
        .login("joe@lp.com", "password", false)
        .await
        .assert_redirect("/");
}

async fn reset_notice_mail_follows_the_setting(backend: Backend) {
    let app = TestApp::new(&backend, RECOVERABLE).await;
    let path = reset_link(&app, "joe@lp.com").await;
    reset_with(&mut app.client(), &path, "newpassword").await;
    let notices = app.mails_with("joe@lp.com", RESET_NOTICE_SUBJECT);
    assert_eq!(notices.len(), 1);
    assert!(notices[0].text.contains("Your password has been reset"));

    let quiet = TestApp::new(
        &backend,
        &vars(
            RECOVERABLE,
            &[("SECURITY_SEND_PASSWORD_RESET_NOTICE_EMAIL", "false")],
        ),
    )
    .await;
    let path = reset_link(&quiet, "joe@lp.com").await;
    reset_with(&mut quiet.client(), &path, "newpassword")
        .await
        .assert_redirect("/");
    assert!(
        quiet
            .mails_with("joe@lp.com", RESET_NOTICE_SUBJECT)
            .is_empty()
    );
}

async fn reset_of_an_inactive_user_claims_no_login(backend: Backend) {
    let app = TestApp::new(&backend, RECOVERABLE).await;
    let path = reset_link(&app, "tiya@lp.com").await;
    let mut c = app.client();
    let r = reset_with(&mut c, &path, "newpassword").await;
    assert_eq!(r.status, StatusCode::FOUND);
    let r = c.get("/").await;
    assert!(
        !r.body.contains("you have been logged in automatically"),
        "B17: {}",
        r.body
    );
    assert!(!r.body.contains("Hello "));
    assert!(anonymous(&mut c).await);
    // the password did change
    let r = app
        .client()
        .login("tiya@lp.com", "newpassword", false)
        .await;
    assert!(r.body.contains("Account is disabled."), "{}", r.body);
}

async fn post_reset_view_is_where_reset_goes(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &vars(RECOVERABLE, &[("SECURITY_POST_RESET_VIEW", "/page1")]),
    )
    .await;
    let path = reset_link(&app, "joe@lp.com").await;
    reset_with(&mut app.client(), &path, "newpassword")
        .await
        .assert_redirect("/page1");
}

async fn reset_ends_the_users_other_sessions(backend: Backend) {
    let app = TestApp::new(&backend, RECOVERABLE).await;
    let mut session = app.client();
    session.login("joe@lp.com", "password", true).await;
    let mut remembered = session.clone();
    remembered.clear_session_cookies();
    let token = app.client().token("joe@lp.com", "password").await;
    assert_eq!(session.get("/profile").await.status, StatusCode::OK);
    assert_eq!(remembered.get("/profile").await.status, StatusCode::OK);

    let path = reset_link(&app, "joe@lp.com").await;
    let mut resetter = app.client();
    reset_with(&mut resetter, &path, "newpassword")
        .await
        .assert_redirect("/");
    assert_eq!(resetter.get("/profile").await.status, StatusCode::OK);

    let mut remembered = session.clone();
    remembered.clear_session_cookies();
    assert_eq!(session.get("/profile").await.status, StatusCode::FOUND);
    assert_eq!(remembered.get("/profile").await.status, StatusCode::FOUND);
    let r = app
        .client()
        .get_with("/token", &[("Authentication-Token", &token)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn forgot_password_requires_confirmation_when_confirmable(backend: Backend) {
    let app = TestApp::new(&backend, &vars(RECOVERABLE, CONFIRMABLE)).await;
    let r = app
        .client()
        .post_form("/reset", &[("email", "matt@lp.com")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Email requires confirmation."),
        "{}",
        r.body
    );
    let r = app
        .client()
        .post_json("/reset", json!({"email": "matt@lp.com"}))
        .await;
    assert_eq!(
        r.json()["response"]["errors"]["email"],
        json!(["Email requires confirmation."])
    );
    assert!(app.mails().is_empty());
    app.confirm("matt@lp.com").await;
    reset_link(&app, "matt@lp.com").await;
}

async fn forgot_password_never_discloses_another_address(backend: Backend) {
    // S3/S4: in 1.7.4 `%@lp.com` matched a stored address (LIKE) and the flash named it.
    let app = TestApp::new(&backend, RECOVERABLE).await;
    for probe in ["%@lp.com", "_att@lp.com", "%", "m%"] {
        let r = app.client().post_form("/reset", &[("email", probe)]).await;
        assert!(
            r.body.contains("Specified user does not exist"),
            "{probe}: {}",
            r.body
        );
        assert!(!r.body.contains("@lp.com</li>"), "{probe}: {}", r.body);
        for (email, ..) in security_tests::FIXTURE_USERS {
            assert!(!r.body.contains(email), "{probe} names {email}");
        }
    }
    assert!(app.mails().is_empty(), "{:#?}", app.mails());
    let generic = TestApp::new(&backend, &vars(RECOVERABLE, &[GENERIC])).await;
    let r = generic
        .client()
        .post_form("/reset", &[("email", "%@lp.com")])
        .await;
    assert_flash(
        &r.body,
        "info",
        "Instructions to reset your password have been sent to %@lp.com.",
    );
    assert!(generic.mails().is_empty());
}

async fn forgot_password_works_for_a_user_without_password(backend: Backend) {
    let app = TestApp::new(&backend, RECOVERABLE).await;
    assert!(app.user("jess@lp.com").await.password.is_none());
    let path = reset_link(&app, "jess@lp.com").await;
    let mut c = app.client();
    assert_eq!(c.get(&path).await.status, StatusCode::OK);
    reset_with(&mut c, &path, "firstpass1")
        .await
        .assert_redirect("/");
    assert!(logged_in_as(&mut c, "jess@lp.com").await);
    app.client()
        .login("jess@lp.com", "firstpass1", false)
        .await
        .assert_redirect("/");
}

async fn recovery_emits_its_events(backend: Backend) {
    let app = TestApp::new(&backend, RECOVERABLE).await;
    let mut events = app.security.subscribe();
    let path = reset_link(&app, "joe@lp.com").await;
    let tokens: Vec<String> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            Event::ResetPasswordInstructionsSent { user, token } => {
                assert_eq!(user.email, "joe@lp.com");
                Some(token)
            }
            _ => None,
        })
        .collect();
    assert_eq!(tokens, vec![path.trim_start_matches("/reset/").to_owned()]);
    reset_with(&mut app.client(), &path, "newpassword").await;
    let names: Vec<&str> = drain(&mut events).iter().map(|e| e.name()).collect();
    assert!(names.contains(&"password-reset"), "{names:?}");
    let reset_at = names.iter().position(|n| *n == "password-reset").unwrap();
    let login_at = names.iter().position(|n| *n == "logged-in").unwrap();
    assert!(reset_at < login_at, "before the automatic login: {names:?}");
}

// --- Change password (§5.6) ---------------------------------------------------------------------

async fn change(c: &mut Client, current: &str, new: &str, retype: &str) -> Resp {
    c.post_form(
        "/change",
        &[
            ("password", current),
            ("new_password", new),
            ("new_password_confirm", retype),
        ],
    )
    .await
}

async fn change_json(c: &mut Client, current: &str, new: &str, retype: &str) -> Value {
    c.post_json(
        "/change",
        json!({"password": current, "new_password": new, "new_password_confirm": retype}),
    )
    .await
    .answer()
}

async fn logged_in(app: &TestApp, email: &str) -> Client {
    let mut c = app.client();
    c.login(email, "password", false).await.assert_redirect("/");
    c
}

async fn change_password_requires_login(backend: Backend) {
    let app = TestApp::new(&backend, CHANGEABLE).await;
    let mut c = app.client();
    let r = c.get("/change").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(
        r.location().starts_with("/login?next=%2Fchange"),
        "{}",
        r.location()
    );
    assert_flash(
        &c.get("/").await.body,
        "info",
        "Please log in to access this page.",
    );
    let r = app
        .client()
        .post_json(
            "/change",
            json!({"password": "password", "new_password": "newpassword", "new_password_confirm": "newpassword"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FOUND, "JSON too (1.7.4)");
    let mut c = logged_in(&app, "matt@lp.com").await;
    let r = c.get("/change").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Change password</h1>"));
    for field in ["password", "new_password", "new_password_confirm"] {
        assert!(has_field(&r.body, field), "{field}");
    }
}

async fn change_password_refuses_a_wrong_current_password(backend: Backend) {
    let app = TestApp::new(&backend, CHANGEABLE).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    let r = change(&mut c, "notmypassword", "newpassword", "newpassword").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Invalid password"), "{}", r.body);
    let data = change_json(&mut c, "notmypassword", "newpassword", "newpassword").await;
    assert_eq!(data["meta"]["code"], 400);
    assert_eq!(
        data["response"]["errors"],
        json!({"password": ["Invalid password"]})
    );
    assert!(app.has_password("matt@lp.com", "password").await);
}

async fn change_password_refuses_the_same_password_exactly(backend: Backend) {
    let app = TestApp::new(&backend, CHANGEABLE).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    let data = change_json(&mut c, "password", "password", "password").await;
    assert_eq!(
        data["response"]["errors"],
        json!({"password": ["Your new password must be different than your previous password."]})
    );
    let r = change(&mut c, "password", "password", "password").await;
    assert!(
        r.body
            .contains("Your new password must be different than your previous password."),
        "{}",
        r.body
    );
    // S22: compared exactly, so a trailing space is a change
    change(&mut c, "password", "password ", "password ")
        .await
        .assert_redirect("/");
    app.client()
        .login("matt@lp.com", "password ", false)
        .await
        .assert_redirect("/");
    let r = app.client().login("matt@lp.com", "password", false).await;
    assert!(r.body.contains("Invalid password"), "{}", r.body);
}

async fn change_password_validates_the_new_password(backend: Backend) {
    let app = TestApp::new(&backend, CHANGEABLE).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    let data = change_json(&mut c, "password", "new", "newx").await;
    assert_eq!(
        data["response"]["errors"],
        json!({
            "new_password": ["Password must be at least 6 characters"],
            "new_password_confirm": ["Passwords do not match"],
        })
    );
    let data = change_json(&mut c, "password", "newpassword", "newpassword2").await;
    assert_eq!(
        data["response"]["errors"],
        json!({"new_password_confirm": ["Passwords do not match"]})
    );
    let data = change_json(&mut c, "", "", "").await;
    assert_eq!(
        data["response"]["errors"]["password"],
        json!(["Password not provided"])
    );
    assert_eq!(
        data["response"]["errors"]["new_password"],
        json!(["Password not provided"])
    );
    let r = change(&mut c, "password", "short", "short").await;
    assert!(r.body.contains("Password must be at least 6 characters"));
    assert!(app.has_password("matt@lp.com", "password").await);
}

async fn json_change_password_answers_with_the_user_id(backend: Backend) {
    let app = TestApp::new(&backend, CHANGEABLE).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    let data = change_json(&mut c, "password", "newpassword", "newpassword").await;
    let matt = app.user("matt@lp.com").await;
    assert_eq!(
        data,
        json!({"meta": {"code": 200}, "response": {"user": {"id": matt.id.to_string()}}})
    );
    assert!(app.has_password("matt@lp.com", "newpassword").await);
    let r = c.get("/").await;
    assert!(!r.body.contains("You successfully changed"), "HTML only");
}

async fn change_notice_mail_follows_the_setting(backend: Backend) {
    let app = TestApp::new(&backend, &vars(CHANGEABLE, RECOVERABLE)).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    change(&mut c, "password", "newpassword", "newpassword")
        .await
        .assert_redirect("/");
    let notices = app.mails_with("matt@lp.com", CHANGE_NOTICE_SUBJECT);
    assert_eq!(notices.len(), 1, "{:#?}", app.mails());
    let notice = &notices[0];
    assert!(notice.text.contains("Your password has been changed"));
    assert!(
        notice
            .text
            .contains("If you did not change your password, click the link below to reset it.")
    );
    assert_eq!(notice.link("/reset"), "http://localhost/reset");

    let plain = TestApp::new(&backend, CHANGEABLE).await;
    let mut c = logged_in(&plain, "matt@lp.com").await;
    change(&mut c, "password", "newpassword", "newpassword").await;
    let notice = &plain.mails_with("matt@lp.com", CHANGE_NOTICE_SUBJECT)[0];
    assert!(
        !notice.text.contains("/reset"),
        "no reset link without recovery: {}",
        notice.text
    );

    let quiet = TestApp::new(
        &backend,
        &vars(
            CHANGEABLE,
            &[("SECURITY_SEND_PASSWORD_CHANGE_EMAIL", "false")],
        ),
    )
    .await;
    let mut c = logged_in(&quiet, "matt@lp.com").await;
    change(&mut c, "password", "newpassword", "newpassword")
        .await
        .assert_redirect("/");
    assert!(quiet.mails().is_empty());
}

async fn password_change_flashes_and_goes_to_the_post_change_view(backend: Backend) {
    let app = TestApp::new(&backend, CHANGEABLE).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    change(&mut c, "password", "newpassword", "newpassword")
        .await
        .assert_redirect("/");
    assert_flash(
        &c.get("/").await.body,
        "success",
        "You successfully changed your password.",
    );
    let app = TestApp::new(
        &backend,
        &vars(CHANGEABLE, &[("SECURITY_POST_CHANGE_VIEW", "/page1")]),
    )
    .await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    change(&mut c, "password", "newpassword", "newpassword")
        .await
        .assert_redirect("/page1");
}

async fn password_change_keeps_this_session_and_ends_the_others(backend: Backend) {
    let app = TestApp::new(&backend, CHANGEABLE).await;
    let mut here = app.client();
    here.login("matt@lp.com", "password", true).await;
    let mut other = app.client();
    other.login("matt@lp.com", "password", true).await;
    let mut other_remembered = other.clone();
    other_remembered.clear_session_cookies();
    let token = app.client().token("matt@lp.com", "password").await;

    change(&mut here, "password", "newpassword", "newpassword")
        .await
        .assert_redirect("/");

    assert_eq!(here.get("/profile").await.status, StatusCode::OK, "S16");
    let mut here_remembered = here.clone();
    here_remembered.clear_session_cookies();
    assert_eq!(
        here_remembered.get("/profile").await.status,
        StatusCode::OK,
        "this browser's remember cookie goes on"
    );
    assert_eq!(other.get("/profile").await.status, StatusCode::FOUND);
    assert_eq!(
        other_remembered.get("/profile").await.status,
        StatusCode::FOUND
    );
    let r = app
        .client()
        .get_with("/token", &[("Authentication-Token", &token)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let fresh = app.client().token("matt@lp.com", "newpassword").await;
    let r = app
        .client()
        .get_with("/token", &[("Authentication-Token", &fresh)])
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn password_change_emits_password_changed(backend: Backend) {
    let app = TestApp::new(&backend, CHANGEABLE).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    let mut events = app.security.subscribe();
    change(&mut c, "password", "wrong12", "wrong12").await;
    change(&mut c, "password", "newpassword", "newpassword").await;
    let changed: Vec<String> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            Event::PasswordChanged { user } => Some(user.email),
            _ => None,
        })
        .collect();
    assert_eq!(changed, vec!["matt@lp.com".to_owned()]);
}

// --- Passwordless (§5.9–5.10) -------------------------------------------------------------------

async fn send_login_link(app: &TestApp, email: &str) -> String {
    let r = app.client().post_form("/login", &[("email", email)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.mails_with(email, LOGIN_SUBJECT)
        .last()
        .expect("a login mail")
        .link_path("/login/")
}

async fn passwordless_login_page_asks_for_the_address_only(backend: Backend) {
    let app = TestApp::new(&backend, PASSWORDLESS).await;
    let r = app.client().get("/login").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Login</h1>"), "{}", r.body);
    assert!(has_field(&r.body, "send_login_form"), "{}", r.body);
    assert!(has_field(&r.body, "email"));
    assert!(!has_field(&r.body, "password"), "{}", r.body);
    // a password is not a way in
    let mut c = app.client();
    c.login("matt@lp.com", "password", false).await;
    assert!(anonymous(&mut c).await);
}

async fn passwordless_send_mails_a_login_link(backend: Backend) {
    let app = TestApp::new(&backend, PASSWORDLESS).await;
    let r = app
        .client()
        .post_form("/login", &[("email", "matt@lp.com")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Login</h1>"));
    assert_flash(
        &r.body,
        "success",
        "Instructions to login have been sent to matt@lp.com.",
    );
    let mails = app.mails_with("matt@lp.com", LOGIN_SUBJECT);
    assert_eq!(mails.len(), 1);
    assert!(mails[0].text.contains("Welcome matt@lp.com!"));
    assert!(
        mails[0]
            .link("/login/")
            .starts_with("http://localhost/login/")
    );
    assert!(mails[0].html.contains("Login now"));
    let r = app
        .client()
        .post_json("/login", json!({"email": "joe@lp.com"}))
        .await;
    let joe = app.user("joe@lp.com").await;
    assert_eq!(
        r.answer(),
        json!({"meta": {"code": 200}, "response": {"user": {"id": joe.id.to_string()}}})
    );
    assert_eq!(app.mails_with("joe@lp.com", LOGIN_SUBJECT).len(), 1);
}

async fn passwordless_link_logs_in(backend: Backend) {
    let app = TestApp::new(&backend, PASSWORDLESS).await;
    let path = send_login_link(&app, "matt@lp.com").await;
    let mut c = app.client();
    c.get(&path).await.assert_redirect("/");
    let r = c.get("/").await;
    assert_flash(&r.body, "success", "You have successfuly logged in.");
    assert!(r.body.contains("Hello matt@lp.com"));
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);
}

async fn passwordless_link_works_once(backend: Backend) {
    let app = TestApp::new(&backend, PASSWORDLESS).await;
    let path = send_login_link(&app, "matt@lp.com").await;
    let mut first = app.client();
    first.get(&path).await.assert_redirect("/");
    assert_eq!(first.get("/profile").await.status, StatusCode::OK);
    let mut again = app.client();
    again.get(&path).await.assert_redirect("/login");
    assert_flash(
        &again.get("/login").await.body,
        "error",
        "Invalid login token.",
    );
    assert!(anonymous(&mut again).await, "S19");
    first.get("/logout").await;
    first.get(&path).await.assert_redirect("/login");
    assert!(anonymous(&mut first).await);
}

async fn expired_passwordless_link_sends_a_new_one(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &vars(PASSWORDLESS, &[("SECURITY_LOGIN_WITHIN", "1 seconds")]),
    )
    .await;
    let path = send_login_link(&app, "matt@lp.com").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut events = app.security.subscribe();
    let mut c = app.client();
    c.get(&path).await.assert_redirect("/login");
    let r = c.get("/login").await;
    assert_flash(
        &r.body,
        "error",
        "You did not login within 1 seconds. New instructions to login have been sent to matt@lp.com.",
    );
    assert!(anonymous(&mut c).await);
    let mails = app.mails_with("matt@lp.com", LOGIN_SUBJECT);
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().any(|m| m.link_path("/login/") != path));
    assert!(
        drain(&mut events)
            .iter()
            .any(|e| matches!(e, Event::LoginInstructionsSent { .. }))
    );
}

async fn invalid_passwordless_token_is_refused(backend: Backend) {
    let app = TestApp::new(&backend, PASSWORDLESS).await;
    let path = send_login_link(&app, "matt@lp.com").await;
    for bad in [
        "/login/garbage".to_owned(),
        tamper(&path),
        path[..path.len() - 3].to_owned(),
    ] {
        let mut c = app.client();
        c.get(&bad).await.assert_redirect("/login");
        assert_flash(&c.get("/login").await.body, "error", "Invalid login token.");
        assert!(anonymous(&mut c).await, "{bad}");
    }
    // the good one still works
    app.client().get(&path).await.assert_redirect("/");
}

async fn passwordless_refuses_inactive_and_unknown_users(backend: Backend) {
    let app = TestApp::new(&backend, PASSWORDLESS).await;
    for (email, messages) in [
        ("tiya@lp.com", &["Account is disabled."][..]),
        ("nobody@lp.com", &["Specified user does not exist"][..]),
        (
            "bogus",
            &["Invalid email address", "Specified user does not exist"][..],
        ),
        ("", &["Email not provided"][..]),
    ] {
        let r = app.client().post_form("/login", &[("email", email)]).await;
        assert_eq!(r.status, StatusCode::OK);
        for message in messages {
            assert!(r.body.contains(message), "{email}: {}", r.body);
        }
        let r = app
            .client()
            .post_json("/login", json!({"email": email}))
            .await;
        assert_eq!(
            r.json()["response"]["errors"]["email"],
            json!(messages),
            "{email}"
        );
    }
    assert!(app.mails().is_empty());
}

async fn passwordless_link_of_a_deactivated_user_is_refused(backend: Backend) {
    let app = TestApp::new(&backend, PASSWORDLESS).await;
    let path = send_login_link(&app, "joe@lp.com").await;
    let joe = app.user("joe@lp.com").await;
    app.security
        .datastore()
        .deactivate_user(&joe)
        .await
        .unwrap();
    let mut c = app.client();
    c.get(&path).await.assert_redirect("/login");
    let r = c.get("/").await;
    assert!(!r.body.contains("successfuly logged in"), "B17: {}", r.body);
    assert!(anonymous(&mut c).await);
}

async fn passwordless_link_honours_a_safe_next_only(backend: Backend) {
    let app = TestApp::new(&backend, PASSWORDLESS).await;
    let path = send_login_link(&app, "matt@lp.com").await;
    app.client()
        .get(&format!("{path}?next=/page1"))
        .await
        .assert_redirect("/page1");
    let path = send_login_link(&app, "joe@lp.com").await;
    let mut c = app.client();
    let r = c.get(&format!("{path}?next=http://evil.example/")).await;
    r.assert_redirect("/");
    assert!(!r.location().contains("evil"));
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);
}

async fn passwordless_send_emits_login_instructions_sent(backend: Backend) {
    let app = TestApp::new(&backend, PASSWORDLESS).await;
    let mut events = app.security.subscribe();
    let path = send_login_link(&app, "matt@lp.com").await;
    let sent: Vec<(String, String)> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            Event::LoginInstructionsSent { user, login_token } => Some((user.email, login_token)),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent,
        vec![(
            "matt@lp.com".to_owned(),
            path.trim_start_matches("/login/").to_owned()
        )]
    );
}

// --- Tokens (§8) --------------------------------------------------------------------------------

async fn tokens_work_for_their_own_purpose_only(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_CONFIRMABLE", "true"),
            ("SECURITY_LOGIN_WITHOUT_CONFIRMATION", "true"),
            ("SECURITY_RECOVERABLE", "true"),
            ("SECURITY_PASSWORDLESS", "true"),
        ],
    )
    .await;
    let reset = reset_link(&app, "matt@lp.com")
        .await
        .trim_start_matches("/reset/")
        .to_owned();
    app.client()
        .post_form("/confirm", &[("email", "matt@lp.com")])
        .await;
    let confirm = app.mails_with("matt@lp.com", CONFIRM_SUBJECT)[0].token("/confirm/");
    let login = send_login_link(&app, "matt@lp.com")
        .await
        .trim_start_matches("/login/")
        .to_owned();
    let matt = app.user("matt@lp.com").await;
    let auth = app.security.auth_token(&matt);

    for (token, purpose) in [(&reset, "reset"), (&login, "login"), (&auth, "auth")] {
        let mut c = app.client();
        c.get(&format!("/confirm/{token}"))
            .await
            .assert_redirect("/confirm");
        assert_flash(
            &c.get("/confirm").await.body,
            "error",
            "Invalid confirmation token.",
        );
        assert!(anonymous(&mut c).await, "{purpose} at /confirm");
    }
    assert!(app.user("matt@lp.com").await.confirmed_at.is_none());
    for (token, purpose) in [(&confirm, "confirm"), (&login, "login"), (&auth, "auth")] {
        let mut c = app.client();
        c.get(&format!("/reset/{token}"))
            .await
            .assert_redirect("/reset");
        reset_with(&mut c, &format!("/reset/{token}"), "hijacked")
            .await
            .assert_redirect("/reset");
        assert!(anonymous(&mut c).await, "{purpose} at /reset");
    }
    for (token, purpose) in [(&reset, "reset"), (&confirm, "confirm"), (&auth, "auth")] {
        let mut c = app.client();
        c.get(&format!("/login/{token}"))
            .await
            .assert_redirect("/login");
        assert_flash(&c.get("/login").await.body, "error", "Invalid login token.");
        assert!(anonymous(&mut c).await, "{purpose} at /login");
    }
    for (token, purpose) in [(&reset, "reset"), (&confirm, "confirm"), (&login, "login")] {
        let r = app
            .client()
            .get_with("/token", &[("Authentication-Token", token.as_str())])
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{purpose} as auth token"
        );
    }
    // each still works for its own purpose
    assert_eq!(
        app.client()
            .get_with("/token", &[("Authentication-Token", &auth)])
            .await
            .status,
        StatusCode::OK
    );
    app.client()
        .get(&format!("/login/{login}"))
        .await
        .assert_redirect("/");
    app.client()
        .get(&format!("/confirm/{confirm}"))
        .await
        .assert_redirect("/");
    assert!(app.user("matt@lp.com").await.confirmed_at.is_some());
    let mut c = app.client();
    assert_eq!(
        c.get(&format!("/reset/{reset}")).await.status,
        StatusCode::OK
    );
}

// --- Enumeration-resistant mode (S1, S4) --------------------------------------------------------

const GENERIC: (&str, &str) = ("SECURITY_GENERIC_RESPONSES", "true");

/// The answers to `post(email)` for a real account and for others are alike (addresses
/// aside), and only the real account gets mail.
async fn assert_alike(app: &TestApp, path: &str, good: &str, others: &[&str], subject: &str) {
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

async fn generic_forgot_password_answers_alike_and_sends_no_mail(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            GENERIC,
            ("SECURITY_RECOVERABLE", "true"),
            ("SECURITY_CONFIRMABLE", "true"),
        ],
    )
    .await;
    app.confirm("joe@lp.com").await;
    // matt is not confirmed: told nothing either
    assert_alike(
        &app,
        "/reset",
        "joe@lp.com",
        &["nobody@lp.com", "matt@lp.com"],
        RESET_SUBJECT,
    )
    .await;
}

async fn generic_resend_confirmation_answers_alike_and_sends_no_mail(backend: Backend) {
    let app = TestApp::new(&backend, &[GENERIC, ("SECURITY_CONFIRMABLE", "true")]).await;
    app.confirm("joe@lp.com").await;
    assert_alike(
        &app,
        "/confirm",
        "matt@lp.com",
        &["nobody@lp.com", "joe@lp.com"],
        CONFIRM_SUBJECT,
    )
    .await;
}

async fn generic_passwordless_answers_alike_and_sends_no_mail(backend: Backend) {
    let app = TestApp::new(&backend, &[GENERIC, ("SECURITY_PASSWORDLESS", "true")]).await;
    assert_alike(
        &app,
        "/login",
        "matt@lp.com",
        &["nobody@lp.com", "tiya@lp.com"],
        LOGIN_SUBJECT,
    )
    .await;
}

// --- Messages (§3) ------------------------------------------------------------------------------

async fn message_overrides_change_text_and_category(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_RECOVERABLE", "true"),
            ("SECURITY_REGISTERABLE", "true"),
            (
                "SECURITY_MSG_PASSWORD_RESET_REQUEST",
                r#"["Check your inbox, %(email)s", "warning"]"#,
            ),
            ("SECURITY_MSG_INVALID_EMAIL_ADDRESS", "That is no address"),
        ],
    )
    .await;
    let r = app
        .client()
        .post_form("/reset", &[("email", "joe@lp.com")])
        .await;
    assert_flash(&r.body, "warning", "Check your inbox, joe@lp.com");
    assert!(!r.body.contains("Instructions to reset"));
    let r = app
        .client()
        .post_json(
            "/register",
            json!({"email": "bogus", "password": "password"}),
        )
        .await;
    assert_eq!(
        r.json()["response"]["errors"]["email"],
        json!(["That is no address"])
    );
}

async fn concurrent_uses_of_one_reset_link_change_the_password_once(backend: Backend) {
    let app = TestApp::new(&backend, RECOVERABLE).await;
    let path = reset_link(&app, "joe@lp.com").await;
    let mut tasks = Vec::new();
    for n in 0..6 {
        let mut c = app.client();
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let password = format!("racepw{n:02}");
            let r = reset_with(&mut c, &path, &password).await;
            (r.status, r.location_path(), password)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (status, location, password) = task.await.unwrap();
        assert_eq!(status, StatusCode::FOUND);
        if location == "/" {
            winners.push(password);
        } else {
            assert_eq!(location, "/reset");
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    app.client()
        .login("joe@lp.com", &winners[0], false)
        .await
        .assert_redirect("/");
}

async fn two_passwordless_links_of_one_second_are_distinct(backend: Backend) {
    let app = TestApp::new(&backend, PASSWORDLESS).await;
    let first = send_login_link(&app, "matt@lp.com").await;
    let second = send_login_link(&app, "matt@lp.com").await;
    assert_ne!(first, second);
    let mut c = app.client();
    c.get(&first).await.assert_redirect("/");
    let mut d = app.client();
    d.get(&second).await.assert_redirect("/");
    assert_eq!(d.get("/profile").await.status, StatusCode::OK);
}

async fn addresses_mail_cannot_reach_are_refused_at_registration(backend: Backend) {
    let app = TestApp::new(&backend, REGISTERABLE).await;
    let long = format!("{}@lp.com", "x".repeat(300));
    for email in ["a b@lp.com", "a,b@lp.com", "a@b@lp.com", long.as_str()] {
        let r = app
            .client()
            .post_form(
                "/register",
                &[
                    ("email", email),
                    ("password", "password"),
                    ("password_confirm", "password"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{email}");
        assert!(
            r.body.contains("Invalid email address"),
            "{email}: {}",
            r.body
        );
        let store = app.security.datastore();
        assert!(
            store.find_user_by_email(email).await.unwrap().is_none(),
            "{email}"
        );
    }
}

backend_tests!(
    concurrent_uses_of_one_reset_link_change_the_password_once,
    two_passwordless_links_of_one_second_are_distinct,
    addresses_mail_cannot_reach_are_refused_at_registration,
    register_page_has_the_form,
    registration_refuses_invalid_addresses_and_short_passwords,
    registration_refuses_an_address_already_associated_in_any_case,
    registration_requires_the_retyped_password_to_match,
    registration_logs_the_new_user_in,
    json_registration_answers_with_the_user_and_a_working_token,
    registration_sends_the_welcome_mail,
    send_register_email_false_sends_no_welcome_mail,
    registration_honours_a_safe_next_only,
    registration_refuses_an_unsafe_query_next,
    post_register_view_is_where_registration_goes,
    registration_with_confirmation_does_not_log_in,
    json_registration_without_login_returns_no_token,
    registration_emits_user_registered_with_the_confirm_token,
    welcome_mail_carries_the_confirmation_link,
    confirmation_link_confirms_and_logs_in,
    expired_confirmation_link_sends_new_instructions,
    expired_link_of_a_confirmed_user_sends_nothing,
    invalid_confirmation_token_is_refused,
    confirm_error_view_receives_bad_confirmation_links,
    resend_confirmation_sends_new_instructions,
    resend_confirmation_refuses_confirmed_and_unknown_addresses,
    login_without_confirmation_lets_unconfirmed_users_in,
    post_confirm_view_is_where_confirmation_goes,
    a_used_confirmation_link_logs_nobody_in,
    a_confirmation_link_never_replaces_the_logged_in_user,
    confirmation_link_of_a_deleted_user_is_invalid,
    a_confirmation_link_is_bound_to_the_address_it_was_sent_to,
    unconfirmed_users_cannot_log_in,
    unconfirmed_users_cannot_use_token_or_basic_auth,
    confirmation_emits_its_events,
    forgot_password_sends_reset_instructions,
    json_forgot_password_answers_with_no_user_data,
    forgot_password_refuses_unknown_and_invalid_addresses,
    reset_link_sets_a_new_password_and_logs_in,
    reset_form_validates_the_new_password,
    reset_link_works_once,
    reset_link_issued_before_a_password_change_is_invalid,
    expired_reset_link_sends_new_instructions,
    tampered_reset_token_is_invalid,
    reset_notice_mail_follows_the_setting,
    reset_of_an_inactive_user_claims_no_login,
    post_reset_view_is_where_reset_goes,
    reset_ends_the_users_other_sessions,
    forgot_password_requires_confirmation_when_confirmable,
    forgot_password_never_discloses_another_address,
    forgot_password_works_for_a_user_without_password,
    recovery_emits_its_events,
    change_password_requires_login,
    change_password_refuses_a_wrong_current_password,
    change_password_refuses_the_same_password_exactly,
    change_password_validates_the_new_password,
    json_change_password_answers_with_the_user_id,
    change_notice_mail_follows_the_setting,
    password_change_flashes_and_goes_to_the_post_change_view,
    password_change_keeps_this_session_and_ends_the_others,
    password_change_emits_password_changed,
    passwordless_login_page_asks_for_the_address_only,
    passwordless_send_mails_a_login_link,
    passwordless_link_logs_in,
    passwordless_link_works_once,
    expired_passwordless_link_sends_a_new_one,
    invalid_passwordless_token_is_refused,
    passwordless_refuses_inactive_and_unknown_users,
    passwordless_link_of_a_deactivated_user_is_refused,
    passwordless_link_honours_a_safe_next_only,
    passwordless_send_emits_login_instructions_sent,
    tokens_work_for_their_own_purpose_only,
    generic_forgot_password_answers_alike_and_sends_no_mail,
    generic_resend_confirmation_answers_alike_and_sends_no_mail,
    generic_passwordless_answers_alike_and_sends_no_mail,
    message_overrides_change_text_and_category,
);
