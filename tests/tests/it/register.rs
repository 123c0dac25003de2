//! Registration: the form, validation, login on registration, the welcome mail, `next`,
//! and registration with confirmation.

use http::StatusCode;
use serde_json::json;

use security::Event;
use security_tests::{Backend, TestApp, backend_tests};

use crate::common::*;

const REGISTERABLE: &[(&str, &str)] = &[("SECURITY_REGISTERABLE", "true")];

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
        assert!(r.body.contains("Passwords do not match"), "{base:?}");
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
    // 1.7.4's RegisterForm reads its `next` field from `?next=` and validates it, as the login
    // view of this port does.
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
        "no authentication_token for a user who may not log in"
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
);
