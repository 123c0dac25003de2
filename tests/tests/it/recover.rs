//! Recovery: forgot password, the reset link (once, expiry, tampering), the new password's
//! validation, the notice mail and the sessions a reset ends.

use std::time::Duration;

use http::StatusCode;
use serde_json::json;

use security::Event;
use security_tests::{Backend, TestApp, backend_tests};

use crate::common::*;

const RESET_NOTICE_SUBJECT: &str = "Your password has been reset";

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
    // the format check does not stop the chain: `bogus` gets both messages
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
        assert!(anonymous(&mut c).await, "an invalid link logs nobody in");
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
    assert_eq!(mails.len(), 2, "the new instructions are really sent");
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
        "no login is claimed for an inactive user: {}",
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
    // in 1.7.4 `%@lp.com` matched a stored address (LIKE) and the flash named it.
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

backend_tests!(
    concurrent_uses_of_one_reset_link_change_the_password_once,
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
    generic_forgot_password_answers_alike_and_sends_no_mail,
);
