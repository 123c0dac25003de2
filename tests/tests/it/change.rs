//! Change password: login required, the current password, the new password's validation,
//! the notice mail and the sessions a change ends.

use http::StatusCode;
use serde_json::{Value, json};

use security::Event;
use security_tests::{Backend, Client, Resp, TestApp, backend_tests};

use crate::common::*;

const CHANGEABLE: &[(&str, &str)] = &[("SECURITY_CHANGEABLE", "true")];

const CHANGE_NOTICE_SUBJECT: &str = "Your password has been changed";

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
    // compared exactly, so a trailing space is a change
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

    assert_eq!(
        here.get("/profile").await.status,
        StatusCode::OK,
        "this session stays"
    );
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

backend_tests!(
    change_password_requires_login,
    change_password_refuses_a_wrong_current_password,
    change_password_refuses_the_same_password_exactly,
    change_password_validates_the_new_password,
    json_change_password_answers_with_the_user_id,
    change_notice_mail_follows_the_setting,
    password_change_flashes_and_goes_to_the_post_change_view,
    password_change_keeps_this_session_and_ends_the_others,
    password_change_emits_password_changed,
);
