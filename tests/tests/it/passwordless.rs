//! Passwordless login: the form, the mailed login link (once, expiry, tampering) and whom it
//! refuses.

use std::time::Duration;

use http::StatusCode;
use serde_json::json;

use security::Event;
use security_tests::{Backend, TestApp, backend_tests};

use crate::common::*;

const PASSWORDLESS: &[(&str, &str)] = &[("SECURITY_PASSWORDLESS", "true")];

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
    assert!(anonymous(&mut again).await, "a used link logs nobody in");
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
    assert!(
        !r.body.contains("successfuly logged in"),
        "no success flash for a refused link: {}",
        r.body
    );
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

backend_tests!(
    two_passwordless_links_of_one_second_are_distinct,
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
    generic_passwordless_answers_alike_and_sends_no_mail,
);
