//! What an app sees of the crate's extractors and start-up: typed rejections it can match,
//! `Option<CurrentUser<U>>`, the missing-layer answer, a layer that leaves large bodies to
//! the app, the switchable `OPTIONS` answer, and `build()` checking the runtime tables.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{Request, StatusCode};
use security::prelude::*;
use security::{Config, Rejection};
use security_tests::{Backend, TestApp, User, backend_tests};
use tower::ServiceExt;

async fn send(router: Router, request: Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

async fn who(user: Option<CurrentUser<User>>) -> String {
    match user {
        Some(user) => format!("user {}", user.email),
        None => "anonymous".to_owned(),
    }
}

/// An app's own answer to a refusal: it matches on the rejection.
async fn custom(user: Result<CurrentUser<User>, Rejection>) -> Response {
    match user {
        Ok(user) => format!("hello {}", user.email).into_response(),
        Err(Rejection::Unauthenticated { login_url, .. }) => (
            StatusCode::UNAUTHORIZED,
            format!("please log in at {login_url}"),
        )
            .into_response(),
        Err(other) => other.into_response(),
    }
}

async fn optional_user_and_matchable_rejections(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let router = Router::new()
        .route("/who", get(who))
        .route("/custom", get(custom))
        .layer(app.security.layer());
    let (status, _, body) = send(
        router.clone(),
        Request::get("/who").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
    let matt = app
        .security
        .datastore()
        .find_user_by_email("matt@lp.com")
        .await
        .unwrap()
        .unwrap();
    let cookie = app.security.session_cookie_for(&matt);
    let (status, _, body) = send(
        router.clone(),
        Request::get("/who")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "user matt@lp.com")
    );
    let (status, _, body) = send(
        router.clone(),
        Request::get("/custom?x=1").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, "please log in at /login?next=%2Fcustom%3Fx%3D1");
    let (status, _, body) = send(
        router,
        Request::get("/custom")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "hello matt@lp.com")
    );
}

async fn a_missing_layer_names_the_user_model_and_both_causes(backend: Backend) {
    let _app = TestApp::new(&backend, &[]).await;
    let router = Router::new().route("/who", get(who));
    let (status, _, body) = send(router, Request::get("/who").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body.contains("security_tests::entities::user::Model"),
        "{body}"
    );
    assert!(body.contains(".layer(security.layer())"), "{body}");
    assert!(body.contains("another user model"), "{body}");
}

async fn a_large_json_upload_reaches_the_app_untouched(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let router = Router::new()
        .route(
            "/upload",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
        // The app's own limit for this route (axum's default is 2 MiB).
        .layer(axum::extract::DefaultBodyLimit::max(8 * 1024 * 1024))
        .layer(app.security.layer());
    let huge = format!("{{\"data\": \"{}\"}}", "a".repeat(3 * 1024 * 1024));
    let length = huge.len();
    let (status, _, body) = send(
        router,
        Request::post("/upload")
            .header("content-type", "application/json")
            .header("content-length", length.to_string())
            .body(Body::from(huge))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, length.to_string());
}

#[login_required]
async fn guarded() -> &'static str {
    "the handler ran"
}

async fn the_options_answer_can_be_switched_off(backend: Backend) {
    for (automatic, expected) in [("true", StatusCode::OK), ("false", StatusCode::FOUND)] {
        let app = TestApp::new(&backend, &[("SECURITY_AUTOMATIC_OPTIONS", automatic)]).await;
        let router = Router::new()
            .route("/guarded", axum::routing::any(guarded))
            .layer(app.security.layer());
        let (status, headers, body) = send(
            router,
            Request::options("/guarded").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(status, expected, "SECURITY_AUTOMATIC_OPTIONS={automatic}");
        assert_ne!(body, "the handler ran");
        assert_eq!(
            headers.contains_key(http::header::ALLOW),
            automatic == "true",
            "{headers:?}"
        );
    }
}

async fn build_checks_that_the_runtime_tables_exist(backend: Backend) {
    let db = security_tests::TestDb::new(&backend).await;
    let config = || {
        Config::from_vars([
            ("SECRET_KEY", "test-secret-key-0123456789"),
            ("SECURITY_PASSWORDLESS", "true"),
            ("SERVER_NAME", "localhost"),
        ])
        .unwrap()
    };
    Security::<User>::builder(db.db.clone(), config())
        .build()
        .await
        .expect("every table is there");
    use sea_orm::ConnectionTrait;
    db.db
        .execute_unprepared("DROP TABLE security_used_token")
        .await
        .unwrap();
    let err = Security::<User>::builder(db.db.clone(), config())
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, security::Error::MissingTables { tables } if tables == &["security_used_token"]),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("security_used_token") && text.contains("create_tables"),
        "{text}"
    );
    // Without passwordless links (or Flask compatibility) that table is not needed.
    let mut config = config();
    config.passwordless = false;
    config.recoverable = true;
    Security::<User>::builder(db.db.clone(), config)
        .build()
        .await
        .expect("the table is not needed");
}

backend_tests!(
    optional_user_and_matchable_rejections,
    a_missing_layer_names_the_user_model_and_both_causes,
    a_large_json_upload_reaches_the_app_untouched,
    the_options_answer_can_be_switched_off,
    build_checks_that_the_runtime_tables_exist,
);
