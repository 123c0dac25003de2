//! The one-shot tokens of the flows: each works for its own purpose only.

use http::StatusCode;

use security_tests::{Backend, TestApp, backend_tests};

use crate::common::*;

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

backend_tests!(tokens_work_for_their_own_purpose_only,);
