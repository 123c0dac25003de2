//! Message overrides: `SECURITY_MSG_*` changes a message's text and flash category.

use serde_json::json;

use security_tests::{Backend, TestApp, backend_tests};

use crate::common::*;

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

backend_tests!(message_overrides_change_text_and_category,);
