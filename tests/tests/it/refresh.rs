//! Refresh tokens (Flask-Security 5.9's `SECURITY_REFRESH_TOKEN`, its `tests/test_tokens.py`):
//! in the JSON body or in a cookie, rotation on every use, idle and maximum age, the reuse of
//! an older token revoking its whole family, logout, password change and `reset-access`
//! ending them, two concurrent uses of one token; and `SECURITY_TOKEN_MAX_AGE`.

use http::StatusCode;
use serde_json::json;

use security_tests::{Backend, Client, Resp, TestApp, backend_tests, client_for};

use crate::common::*;

/// The token in the JSON body (5.9's `refresh_token_cookie_name=None`).
const BODY: &[(&str, &str)] = &[
    ("SECURITY_REFRESH_TOKEN", "true"),
    ("SECURITY_REFRESH_TOKEN_COOKIE_NAME", "none"),
];

const URL: &str = "/refresh-token";

const MINUTE: i64 = 60;

fn invalid(reason: &str) -> String {
    format!("Refresh token is invalid ({reason})")
}

/// A JSON login of a client without cookies: (auth token, refresh token).
async fn json_login(app: &TestApp) -> (String, String) {
    let mut c = client_for(app.router.clone());
    let r = c
        .post_json(
            "/login",
            json!({"email": "matt@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        !r.set_cookies().iter().any(|c| c.starts_with("fs_refresh=")),
        "no cookie when the token is in the body"
    );
    let user = &r.json()["response"]["user"];
    (
        user["authentication_token"].as_str().unwrap().to_owned(),
        user["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned(),
    )
}

async fn refresh(app: &TestApp, token: &str) -> Resp {
    client_for(app.router.clone())
        .post_json(URL, json!({ "refresh_token": token }))
        .await
}

/// A successful refresh: (auth token, refresh token).
#[track_caller]
fn refreshed(r: &Resp) -> (String, String) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let user = &r.json()["response"]["user"];
    (
        user["authentication_token"].as_str().unwrap().to_owned(),
        user["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// A refused refresh: 5.9's 400 with the message in `errors` and on the field.
#[track_caller]
fn refused(r: &Resp, message: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let data = r.json();
    assert_eq!(data["response"]["errors"], json!([message]), "{data}");
    assert_eq!(
        data["response"]["field_errors"]["refresh_token"],
        json!([message])
    );
}

async fn token_works(app: &TestApp, token: &str) -> bool {
    let r = client_for(app.router.clone())
        .get_with("/token", &[("Authentication-Token", token)])
        .await;
    match r.status {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => false,
        other => panic!("/token answered {other}: {}", r.body),
    }
}

// --- in the body ------------------------------------------------------------------------------

async fn a_refresh_token_rotates_on_every_use(backend: Backend) {
    let app = TestApp::new(&backend, BODY).await;
    let (_, first) = json_login(&app).await;
    let (auth, second) = refreshed(&refresh(&app, &first).await);
    assert_ne!(first, second);
    assert!(token_works(&app, &auth).await);
    let (auth, third) = refreshed(&refresh(&app, &second).await);
    assert!(token_works(&app, &auth).await);
    // Reusing an older one revokes the family: the newest dies too.
    refused(&refresh(&app, &first).await, &invalid("GEN_MISMATCH"));
    refused(&refresh(&app, &third).await, &invalid("REVOKED"));
    // Another family (another login) is not affected.
    let (_, other) = json_login(&app).await;
    refreshed(&refresh(&app, &other).await);
}

async fn bad_refresh_requests_are_refused(backend: Backend) {
    let app = TestApp::new(&backend, BODY).await;
    let (_, token) = json_login(&app).await;
    refused(&refresh(&app, "").await, "This field is required.");
    refused(&refresh(&app, "12345").await, &invalid("INVALID"));
    // A token of another purpose (an authentication token) is not a refresh token.
    let (auth, _) = json_login(&app).await;
    refused(&refresh(&app, &auth).await, &invalid("INVALID"));
    // JSON only: a form post is 400.
    let mut c = client_for(app.router.clone());
    let r = c.post_form(URL, &[("refresh_token", &token)]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // None of this used it up.
    refreshed(&refresh(&app, &token).await);
    // The view exists only with the feature.
    let off = TestApp::new(&backend, &[]).await;
    let r = client_for(off.router.clone())
        .post_json(URL, json!({"refresh_token": token}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = client_for(off.router.clone())
        .post_json(
            "/login",
            json!({"email": "matt@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(r.json()["response"]["user"].get("refresh_token"), None);
}

async fn an_idle_refresh_token_expires(backend: Backend) {
    let vars = vars(BODY, &[("SECURITY_REFRESH_TOKEN_MAX_IDLE", "1 hours")]);
    let app = TestApp::new(&backend, &vars).await;
    let (_, token) = json_login(&app).await;
    app.clock.advance(50 * MINUTE);
    let (_, token) = refreshed(&refresh(&app, &token).await);
    // Each use starts the idle time again.
    app.clock.advance(50 * MINUTE);
    let (_, token) = refreshed(&refresh(&app, &token).await);
    app.clock.advance(61 * MINUTE);
    refused(&refresh(&app, &token).await, &invalid("EXPIRED"));
}

async fn a_family_expires_at_its_maximum_age_whatever_its_use(backend: Backend) {
    let vars = vars(BODY, &[("SECURITY_REFRESH_TOKEN_MAX_AGE", "2 hours")]);
    let app = TestApp::new(&backend, &vars).await;
    let (_, mut token) = json_login(&app).await;
    for _ in 0..2 {
        app.clock.advance(50 * MINUTE);
        token = refreshed(&refresh(&app, &token).await).1;
    }
    app.clock.advance(21 * MINUTE);
    refused(&refresh(&app, &token).await, &invalid("EXPIRED"));
}

async fn logout_with_a_refresh_token_revokes_it(backend: Backend) {
    let app = TestApp::new(&backend, BODY).await;
    let (auth, token) = json_login(&app).await;
    let (_, other) = json_login(&app).await;
    let mut c = client_for(app.router.clone());
    let r = c
        .send(
            http::Request::post("/logout")
                .header("Content-Type", "application/json")
                .header("Authentication-Token", auth.as_str())
                .body(axum::body::Body::from(
                    json!({ "refresh_token": token }).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    refused(&refresh(&app, &token).await, &invalid("REVOKED"));
    // Only that one.
    refreshed(&refresh(&app, &other).await);
}

async fn a_password_change_ends_every_refresh_token(backend: Backend) {
    let vars = vars(BODY, &[("SECURITY_CHANGEABLE", "true")]);
    let app = TestApp::new(&backend, &vars).await;
    let (_, token) = json_login(&app).await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", false)
        .await
        .assert_redirect("/");
    let r = c
        .post_json(
            "/change",
            json!({"password": "password", "new_password": "awesome sunset", "new_password_confirm": "awesome sunset"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    refused(&refresh(&app, &token).await, &invalid("REVOKED"));
}

async fn reset_access_and_sign_out_everywhere_end_every_refresh_token(backend: Backend) {
    let vars = vars(BODY, &[("SECURITY_SIGN_OUT_EVERYWHERE", "true")]);
    let app = TestApp::new(&backend, &vars).await;
    let (_, token) = json_login(&app).await;
    let user = app.user("matt@lp.com").await;
    app.security.reset_access(&user).await.expect("reset");
    refused(&refresh(&app, &token).await, &invalid("REVOKED"));
    let (_, token) = json_login(&app).await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", false)
        .await
        .assert_redirect("/");
    c.post_form("/sign-out-everywhere", &[])
        .await
        .assert_redirect("/");
    refused(&refresh(&app, &token).await, &invalid("REVOKED"));
}

async fn two_concurrent_uses_of_one_token_cannot_both_succeed(backend: Backend) {
    let app = TestApp::new(&backend, BODY).await;
    for _ in 0..3 {
        let (_, token) = json_login(&app).await;
        let uses = (0..4).map(|_| {
            let app_router = app.router.clone();
            let token = token.clone();
            tokio::spawn(async move {
                client_for(app_router)
                    .post_json(URL, json!({ "refresh_token": token }))
                    .await
                    .status
            })
        });
        let statuses: Vec<StatusCode> = futures_util::future::join_all(uses)
            .await
            .into_iter()
            .map(|r| r.expect("task"))
            .collect();
        let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        assert!(ok <= 1, "{statuses:?}");
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST),
            "{statuses:?}"
        );
    }
}

// --- in a cookie ------------------------------------------------------------------------------

fn refresh_cookie(c: &Client) -> Option<String> {
    c.cookies.get("fs_refresh").map(|c| c.value.clone())
}

async fn the_cookie_variant_rotates_needs_csrf_and_logout_deletes_it(backend: Backend) {
    let app = TestApp::new(&backend, &[("SECURITY_REFRESH_TOKEN", "true")]).await;
    let mut c = app.client();
    let r = c
        .post_json(
            "/login",
            json!({"email": "matt@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["response"]["user"].get("refresh_token"), None);
    let line = r
        .set_cookies()
        .into_iter()
        .find(|l| l.starts_with("fs_refresh="))
        .expect("the refresh cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(line.contains(attr), "{attr} in {line}");
    }
    let first = refresh_cookie(&c).expect("kept");
    // Without the CSRF token the cookie is not enough.
    let r = c.clone().without_csrf().post_json(URL, json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // Nor is the cookie alone, without a session to hold a CSRF token (a cross-site post).
    let mut bare = client_for(app.router.clone());
    bare.cookies.insert(
        "fs_refresh".into(),
        security_tests::Cookie {
            value: first.clone(),
            persistent: true,
            raw: String::new(),
        },
    );
    let r = bare.post_json(URL, json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("CSRF"), "{}", r.body);
    // With it: a new auth token, and the cookie rotates.
    let r = c.post_json(URL, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let user = &r.json()["response"]["user"];
    assert_eq!(user.get("refresh_token"), None);
    assert!(token_works(&app, user["authentication_token"].as_str().unwrap()).await);
    let second = refresh_cookie(&c).expect("rotated");
    assert_ne!(first, second);
    // The cookie wins over a body.
    let r = c.post_json(URL, json!({"refresh_token": first})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let third = refresh_cookie(&c).expect("rotated");
    // Logout deletes the cookie and revokes its token.
    let r = c.post_form("/logout", &[]).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(refresh_cookie(&c), None);
    c.cookies.insert(
        "fs_refresh".into(),
        security_tests::Cookie {
            value: third,
            persistent: true,
            raw: String::new(),
        },
    );
    let r = c.post_json(URL, json!({})).await;
    refused(&r, &invalid("REVOKED"));
    // With the cookie configured, a token in the body is not read (5.9).
    let mut fresh = client_for(app.router.clone());
    let r = fresh
        .post_json(URL, json!({ "refresh_token": second }))
        .await;
    refused(&r, "This field is required.");
}

// --- SECURITY_TOKEN_MAX_AGE ---------------------------------------------------------------------

async fn token_max_age_limits_auth_tokens_and_refresh_renews_them(backend: Backend) {
    let vars = vars(BODY, &[("SECURITY_TOKEN_MAX_AGE", "10 minutes")]);
    let app = TestApp::new(&backend, &vars).await;
    let (auth, token) = json_login(&app).await;
    app.clock.advance(9 * MINUTE);
    assert!(token_works(&app, &auth).await);
    app.clock.advance(2 * MINUTE);
    assert!(!token_works(&app, &auth).await);
    let (auth, _) = refreshed(&refresh(&app, &token).await);
    assert!(token_works(&app, &auth).await);
}

async fn the_per_user_limit_and_token_max_age_the_shorter_wins(backend: Backend) {
    let vars = vars(BODY, &[("SECURITY_TOKEN_MAX_AGE", "10 minutes")]);
    let app = TestApp::build(&backend, &vars, |builder| {
        builder.token_expiry(|user: &security_tests::User| {
            Some(std::time::Duration::from_secs(
                if user.email == "matt@lp.com" {
                    5 * 60
                } else {
                    30 * 60
                },
            ))
        })
    })
    .await;
    let (matt, refresh_matt) = json_login(&app).await;
    let joe = app.client().token("joe@lp.com", "password").await;
    app.clock.advance(4 * MINUTE);
    assert!(token_works(&app, &matt).await);
    assert!(token_works(&app, &joe).await);
    app.clock.advance(2 * MINUTE);
    assert!(
        !token_works(&app, &matt).await,
        "matt's own limit: 5 minutes"
    );
    assert!(token_works(&app, &joe).await);
    app.clock.advance(5 * MINUTE);
    assert!(!token_works(&app, &joe).await, "TOKEN_MAX_AGE: 10 minutes");
    // A refresh gives matt a token good for five minutes again.
    let (matt, _) = refreshed(&refresh(&app, &refresh_matt).await);
    assert!(token_works(&app, &matt).await);
    app.clock.advance(6 * MINUTE);
    assert!(!token_works(&app, &matt).await);
}

// --- fs_token_uniquifier ------------------------------------------------------------------------

/// A user model with 5.9's `fs_token_uniquifier` (and no `fs_uniquifier`), in a table of its
/// own.
mod token_user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, security::SecurityUser)]
    #[sea_orm(table_name = "token_user")]
    #[security(
        role = security::entities::role::Entity,
        user_roles = security::entities::roles_users::Entity
    )]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(unique)]
        pub email: String,
        pub password: Option<String>,
        pub active: bool,
        pub fs_token_uniquifier: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

async fn with_fs_token_uniquifier_tokens_outlive_a_password_change(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let app = TestApp::new(&backend, &[]).await;
    let db = app.db.db.clone();
    let schema = sea_orm::Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(token_user::Entity))
        .await
        .expect("token_user");
    let mut all: std::collections::BTreeMap<&str, &str> =
        security_tests::BASE_VARS.iter().copied().collect();
    all.extend(BODY.iter().copied());
    all.insert("SECURITY_CHANGEABLE", "true");
    let config = security::Config::from_vars(all).expect("config");
    let (m, t, p) = security_tests::TEST_ARGON2_COST;
    let security = security::Security::<token_user::Model>::builder(db, config)
        .argon2_cost(m, t, p)
        .clock(app.clock.clone())
        .build()
        .await
        .expect("security");
    let store = security.datastore();
    store
        .create_user(security::datastore::NewUser::new(
            "tok@lp.com",
            Some("password"),
        ))
        .await
        .expect("user");
    let router = axum::Router::new()
        .merge(security.router())
        .layer(security.layer());
    let login = || async {
        let r = client_for(router.clone())
            .post_json(
                "/login",
                json!({"email": "tok@lp.com", "password": "password"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let user = &r.json()["response"]["user"];
        (
            user["authentication_token"].as_str().unwrap().to_owned(),
            user["refresh_token"].as_str().unwrap().to_owned(),
        )
    };
    let works = |token: String| {
        let security = security.clone();
        async move {
            security
                .user_from_auth_token(&token, None)
                .await
                .expect("db")
                .is_some()
        }
    };
    let refresh = |token: String| {
        let router = router.clone();
        async move {
            client_for(router)
                .post_json(URL, json!({ "refresh_token": token }))
                .await
        }
    };
    let (auth, token) = login().await;
    assert!(works(auth.clone()).await);
    let user = store
        .find_user_by_email("tok@lp.com")
        .await
        .expect("db")
        .expect("user");
    assert!(user.fs_token_uniquifier.is_some(), "set at the first token");
    // A browser session beside the tokens.
    let mut browser = client_for(router.clone()).with_token_page("/login");
    browser
        .login("tok@lp.com", "password", false)
        .await
        .assert_redirect("/");
    let mut browser = browser.with_token_page("/verify");
    let r = browser
        .post_form(
            "/change",
            &[
                ("password", "password"),
                ("new_password", "awesome sunset"),
                ("new_password_confirm", "awesome sunset"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    // The password change kept the tokens (5.9's `test_token_uniquifier`).
    assert!(works(auth.clone()).await);
    let (auth, token) = refreshed(&refresh(token).await);
    assert!(works(auth.clone()).await);
    // Revoking the tokens ends them and their refresh tokens, not the session.
    let user = store
        .find_user_by_email("tok@lp.com")
        .await
        .expect("db")
        .expect("user");
    assert!(security.revoke_tokens(&user).await.expect("revoke"));
    assert!(!works(auth).await);
    refused(&refresh(token).await, &invalid("REVOKED"));
    assert_eq!(browser.get("/verify").await.status, StatusCode::OK);
    // reset-access ends everything, the session too.
    let auth = client_for(router.clone())
        .token("tok@lp.com", "awesome sunset")
        .await;
    assert!(works(auth.clone()).await);
    security.reset_access(&user).await.expect("reset");
    assert!(!works(auth).await);
    assert_eq!(browser.get("/verify").await.status, StatusCode::FOUND);
}

async fn without_fs_token_uniquifier_revoke_tokens_does_nothing(backend: Backend) {
    let app = TestApp::new(&backend, BODY).await;
    let (auth, token) = json_login(&app).await;
    let user = app.user("matt@lp.com").await;
    assert!(!app.security.revoke_tokens(&user).await.expect("revoke"));
    assert!(token_works(&app, &auth).await);
    refreshed(&refresh(&app, &token).await);
}

backend_tests!(
    a_refresh_token_rotates_on_every_use,
    the_per_user_limit_and_token_max_age_the_shorter_wins,
    with_fs_token_uniquifier_tokens_outlive_a_password_change,
    without_fs_token_uniquifier_revoke_tokens_does_nothing,
    bad_refresh_requests_are_refused,
    an_idle_refresh_token_expires,
    a_family_expires_at_its_maximum_age_whatever_its_use,
    logout_with_a_refresh_token_revokes_it,
    a_password_change_ends_every_refresh_token,
    reset_access_and_sign_out_everywhere_end_every_refresh_token,
    two_concurrent_uses_of_one_token_cannot_both_succeed,
    the_cookie_variant_rotates_needs_csrf_and_logout_deletes_it,
    token_max_age_limits_auth_tokens_and_refresh_renews_them,
);
