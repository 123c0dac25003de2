//! Confirmation: the link in the welcome mail, expired, used and tampered links, resending
//! the instructions, and what an unconfirmed user may do.

use std::time::Duration;

use http::StatusCode;
use serde_json::json;

use security::Event;
use security_tests::{Backend, TestApp, backend_tests, basic};

use crate::common::*;

/// The path of the one link to `to` under `prefix` in a mail with `subject`.
fn only_link(app: &TestApp, to: &str, subject: &str, prefix: &str) -> String {
    let mails = app.mails_with(to, subject);
    assert_eq!(mails.len(), 1, "one {subject:?} mail to {to}: {mails:#?}");
    mails[0].link_path(prefix)
}

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
    // 1.7.4 re-sent confirmation instructions to an already confirmed user.
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
    assert!(
        !r.body.contains("Hello "),
        "a used link logs nobody in: {}",
        r.body
    );
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
    assert!(
        logged_in_as(&mut matt, "matt@lp.com").await,
        "the logged-in user stays"
    );
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
    // 1.7.4 ignored the e-mail digest, so a link sent to an old address confirmed a new one.
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
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "token auth of an unconfirmed user"
    );
    let r = app
        .client()
        .get_with(
            "/http",
            &[("Authorization", &basic("matt@lp.com", "password"))],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "basic auth of an unconfirmed user"
    );
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

backend_tests!(
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
    generic_resend_confirmation_answers_alike_and_sends_no_mail,
);
