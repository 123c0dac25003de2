//! What an adversarial review of the release found, one test (or a few) per finding, each on
//! SQLite, PostgreSQL and MySQL where a database is involved. Each failed before its fix.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use security::prelude::*;
use security_tests::{ADMIN_ACTION, Backend, Client, TestApp, User, backend_tests, csrf_token};

fn request(method: Method, path: &str) -> http::request::Builder {
    Request::builder().method(method).uri(path)
}

/// A second instance of the app on the same database and secret.
async fn other_instance(app: &TestApp, vars: &[(&str, &str)]) -> (Security<User>, Router) {
    let mut config = app.security.config().clone();
    let extra = Config::from_vars(vars.iter().copied()).unwrap();
    if extra.identity_cache_ttl.is_some() {
        config.identity_cache_ttl = extra.identity_cache_ttl;
    }
    let other = Security::<User>::builder(app.db.db.clone(), config)
        .build()
        .await
        .unwrap();
    let router = security_tests::router(&other);
    (other, router)
}

// --- 1. OPTIONS never runs a guarded handler --------------------------------------------------

async fn options_never_runs_a_guarded_handler(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    for path in ["/any_admin", "/options_admin"] {
        let r = app
            .client()
            .send(request(Method::OPTIONS, path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(!r.body.contains(ADMIN_ACTION), "{path}: the handler ran");
        assert!(r.body.is_empty(), "{path}: {}", r.body);
        assert!(r.headers.get("allow").is_some(), "{path}");
        // Other methods of `any` are guarded as before.
        let r = app.client().post_form(path, &[]).await;
        assert!(!r.body.contains(ADMIN_ACTION), "{path}: {}", r.body);
    }
    // Not even for an admin: OPTIONS is answered without the handler (Flask's automatic
    // answer), whoever asks.
    let mut admin = app.client();
    admin.login("matt@lp.com", "password", false).await;
    let r = admin
        .send(
            request(Method::OPTIONS, "/any_admin")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(!r.body.contains(ADMIN_ACTION));
    assert_eq!(admin.get("/any_admin").await.body, ADMIN_ACTION);
    // A guarded fallback too.
    #[roles_required("admin")]
    async fn fallback() -> &'static str {
        ADMIN_ACTION
    }
    let router = Router::new().fallback(fallback).layer(app.security.layer());
    let response = router
        .oneshot(
            request(Method::OPTIONS, "/anything")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(body.is_empty());
    // A route that does not list OPTIONS still gets Flask's automatic answer.
    let r = app
        .client()
        .send(
            request(Method::OPTIONS, "/admin")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["allow"].to_str().unwrap().contains("OPTIONS"));
    assert!(!r.body.contains("Admin Page"));
}

// --- 3. Logout ends the session and the remember cookie everywhere -----------------------------

/// `Cookie` header value of a client's cookies.
fn cookie_header(c: &Client) -> String {
    c.cookies
        .iter()
        .map(|(k, v)| format!("{k}={}", v.value))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn status_on(router: &Router, path: &str, cookie: &str) -> StatusCode {
    router
        .clone()
        .oneshot(
            Request::get(path)
                .header("cookie", cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
}

async fn logout_ends_the_session_and_remember_cookie_everywhere(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let (_other, other_router) = other_instance(&app, &[]).await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", true).await;
    let session = c.cookies["session"].value.clone();
    let remember = c.cookies["remember_token"].value.clone();
    // Copies, made before the logout.
    let session_copy = format!("session={session}");
    let remember_copy = format!("remember_token={remember}");
    assert_eq!(
        status_on(&other_router, "/profile", &session_copy).await,
        StatusCode::OK
    );
    assert_eq!(
        status_on(&other_router, "/profile", &remember_copy).await,
        StatusCode::OK
    );
    c.get("/logout").await.assert_redirect("/");
    for router in [&app.router, &other_router] {
        assert_eq!(
            status_on(router, "/profile", &session_copy).await,
            StatusCode::FOUND,
            "a copied session cookie after logout"
        );
        assert_eq!(
            status_on(router, "/profile", &remember_copy).await,
            StatusCode::FOUND,
            "a copied remember cookie after logout"
        );
    }
    // A remember cookie is not an authentication token.
    let r = app
        .client()
        .get_with("/token", &[("Authentication-Token", &remember)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Other sessions of the user go on.
    let mut other_device = app.client();
    other_device.login("matt@lp.com", "password", false).await;
    let mut third = app.client();
    third.login("matt@lp.com", "password", false).await;
    third.get("/logout").await;
    assert_eq!(other_device.get("/profile").await.status, StatusCode::OK);
    // A logout by POST ends the session as well.
    let mut d = app.client();
    d.login("matt@lp.com", "password", false).await;
    let copy = cookie_header(&d);
    d.post_form("/logout", &[]).await.assert_redirect("/");
    assert_eq!(
        status_on(&app.router, "/profile", &copy).await,
        StatusCode::FOUND
    );
}

async fn a_session_made_from_a_copied_remember_cookie_ends_at_the_owners_logout(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let (_other, other_router) = other_instance(&app, &[]).await;
    let mut owner = app.client();
    owner.login("matt@lp.com", "password", true).await;
    // The attacker turns a copy of the remember cookie into a session of their own.
    let remember = owner.cookies["remember_token"].value.clone();
    let minted = other_router
        .clone()
        .oneshot(
            Request::get("/profile")
                .header("cookie", format!("remember_token={remember}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(minted.status(), StatusCode::OK);
    let session = minted
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("session="))
        .unwrap();
    let session = session.split(';').next().unwrap().to_owned();
    assert_eq!(
        status_on(&app.router, "/profile", &session).await,
        StatusCode::OK
    );
    // The owner logs out: the cookie ends, and so does every session made from it.
    owner.get("/logout").await;
    for router in [&app.router, &other_router] {
        assert_eq!(
            status_on(router, "/profile", &session).await,
            StatusCode::FOUND
        );
    }
}

async fn csrf_is_not_taken_from_a_session_beside_a_remember_cookie(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("WTF_CSRF_ENABLED", "true"),
            ("SECURITY_CSRF_PROTECT", "true"),
            ("SECURITY_CHANGEABLE", "true"),
        ],
    )
    .await;
    let mut victim = app.client();
    victim.login("matt@lp.com", "password", true).await;
    let remember = victim.cookies["remember_token"].value.clone();
    // The attacker's own anonymous session, and its token, planted beside the victim's
    // remember cookie (cookie tossing).
    let mut attacker = app.client();
    let token = csrf_token(&attacker.get("/login").await.body);
    let planted = format!(
        "session={}; remember_token={remember}",
        attacker.cookies["session"].value
    );
    for (path, body) in [
        ("/app_post", "x=1".to_owned()),
        (
            "/change",
            "password=password&new_password=stolen1&new_password_confirm=stolen1".to_owned(),
        ),
    ] {
        let r = app
            .client()
            .send(
                request(Method::POST, path)
                    .header("cookie", &planted)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("X-CSRFToken", &token)
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
    }
    // The password is unchanged.
    let matt = app.user("matt@lp.com").await;
    assert!(
        app.security
            .passwords()
            .verify_and_update("password", matt.password.as_deref().unwrap())
            .await
            .unwrap()
            .ok
    );
}

async fn logout_with_the_identity_cache(backend: Backend) {
    let app = TestApp::new(&backend, &[("SECURITY_IDENTITY_CACHE_TTL", "2 seconds")]).await;
    let (_other, other_router) =
        other_instance(&app, &[("SECURITY_IDENTITY_CACHE_TTL", "2 seconds")]).await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", false).await;
    let copy = cookie_header(&c);
    // Both instances have the identity cached.
    assert_eq!(
        status_on(&app.router, "/profile", &copy).await,
        StatusCode::OK
    );
    assert_eq!(
        status_on(&other_router, "/profile", &copy).await,
        StatusCode::OK
    );
    c.get("/logout").await;
    // Never accepted again on the instance that logged out...
    assert_eq!(
        status_on(&app.router, "/profile", &copy).await,
        StatusCode::FOUND
    );
    // ...and on the other once its entry expires (polled, with a deadline well past the TTL).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if status_on(&other_router, "/profile", &copy).await == StatusCode::FOUND {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still accepted past the TTL"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// --- 6. A deleted account's session is not the next account's --------------------------------

async fn a_deleted_accounts_session_is_not_the_next_accounts(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let store = app.security.datastore();
    // An account without a password (and the test model has no uniquifier): what the
    // fingerprint had left was the id.
    let gone = store
        .create_user(passwordless("gone@lp.com"))
        .await
        .unwrap();
    let cookie = app.security.session_cookie_for(&gone);
    let token = app.security.auth_token(&gone);
    assert_eq!(
        status_on(&app.router, "/profile", &cookie).await,
        StatusCode::OK
    );
    store.delete_user(&gone).await.unwrap();
    // A new account under the same id (SQLite hands out the highest deleted rowid again).
    let next = store
        .create_user(passwordless("next@lp.com").field("id", gone.id))
        .await
        .unwrap();
    assert_eq!(next.id, gone.id);
    assert_eq!(
        status_on(&app.router, "/profile", &cookie).await,
        StatusCode::FOUND
    );
    let r = app
        .client()
        .get_with("/token", &[("Authentication-Token", &token)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// A new user without a password.
fn passwordless(email: &str) -> security::NewUser {
    security::NewUser::new(email, None)
}

// --- 7. CSRF for the app's own routes ---------------------------------------------------------

async fn apps_can_require_csrf_on_their_own_routes(backend: Backend) {
    let app = TestApp::new(&backend, &[("WTF_CSRF_ENABLED", "true")]).await;
    let mut c = app.client().without_csrf();
    let token = csrf_token(&c.get("/login").await.body);
    // The header extractor.
    let r = c
        .send(
            request(Method::POST, "/csrf_header")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("CSRF token missing"), "{}", r.body);
    let r = c
        .send(
            request(Method::POST, "/csrf_header")
                .header("X-CSRFToken", "1.AAAA")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .send(
            request(Method::POST, "/csrf_header")
                .header("X-CSRFToken", &token)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The form extractor.
    let r = c.post_form("/csrf_form", &[("name", "x")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c
        .post_form("/csrf_form", &[("name", "x"), ("csrf_token", &token)])
        .await;
    assert_eq!(r.body, "Renamed to x");
    // Another session's token is refused.
    let other = csrf_token(&app.client().get("/login").await.body);
    let r = c
        .post_form("/csrf_form", &[("name", "x"), ("csrf_token", &other)])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

async fn csrf_protect_covers_every_cookie_authenticated_unsafe_request(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("WTF_CSRF_ENABLED", "true"),
            ("SECURITY_CSRF_PROTECT", "true"),
            ("SECURITY_CHANGEABLE", "true"),
        ],
    )
    .await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", true)
        .await
        .assert_redirect("/");
    // The login renewed the session's CSRF secret: the app's pages get the new token.
    let token = csrf_token(&c.get("/change").await.body);
    for method in [Method::POST, Method::PUT] {
        let r = c
            .send(
                request(method.clone(), "/app_post")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{method}: {}", r.body);
        assert!(!r.body.contains("Posted by"));
    }
    let r = c
        .send(
            request(Method::POST, "/app_post")
                .header("X-CSRFToken", &token)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.body, "Posted by matt@lp.com");
    let r = c
        .post_form("/app_post", &[("csrf_token", &token), ("x", "1")])
        .await;
    assert_eq!(r.body, "Posted by matt@lp.com");
    // The remember cookie alone needs the token too.
    let mut remembered = c.clone();
    remembered.clear_session_cookies();
    let r = remembered
        .send(
            request(Method::POST, "/app_post")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // A request without cookies (a token client) is not a browser riding a session.
    let auth = app.client().token("matt@lp.com", "password").await;
    let r = app
        .client()
        .send(
            request(Method::POST, "/token")
                .header("Authentication-Token", &auth)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Safe methods pass.
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);
}

async fn a_json_change_by_the_remember_cookie_needs_the_csrf_token(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("WTF_CSRF_ENABLED", "true"),
            ("SECURITY_CHANGEABLE", "true"),
        ],
    )
    .await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", true).await;
    let mut remembered = c.clone().without_csrf();
    remembered.clear_session_cookies();
    let r = remembered
        .post_json(
            "/change",
            json!({"password": "password", "new_password": "new password",
                   "new_password_confirm": "new password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(
        r.json()["response"]["errors"]["csrf_token"],
        json!(["CSRF token missing"])
    );
    // The password is unchanged.
    app.client().token("matt@lp.com", "password").await;
}

// --- 8. Stacked guards agree on one identity ---------------------------------------------------

async fn stacked_guards_agree_on_one_identity(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let admin_token = app.client().token("matt@lp.com", "password").await;
    let editor_token = app.client().token("joe@lp.com", "password").await;
    // `#[roles_required("admin")]` above `#[auth_token_required]`: the roles are the token's
    // user's, whoever the session is.
    let mut joe = app.client();
    joe.login("joe@lp.com", "password", false).await;
    let r = joe
        .get_with(
            "/roles_then_token",
            &[("Authentication-Token", &admin_token)],
        )
        .await;
    assert_eq!(r.body, "Token Admin matt@lp.com");
    let mut matt = app.client();
    matt.login("matt@lp.com", "password", false).await;
    let r = matt
        .get_with(
            "/roles_then_token",
            &[("Authentication-Token", &editor_token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(!r.body.contains("Token Admin"));
    // Two mechanisms that name two users: refused.
    let r = matt
        .get_with(
            "/session_and_token",
            &[("Authentication-Token", &editor_token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = matt
        .get_with(
            "/session_and_token",
            &[("Authentication-Token", &admin_token)],
        )
        .await;
    assert_eq!(r.body, "Session and Token matt@lp.com");
}

// --- 9. A re-hash at login that loses to a reset fails the login -------------------------------

async fn a_rehash_racing_a_reset_never_binds_the_session_to_the_new_password(backend: Backend) {
    // Passwords stored under plaintext are re-hashed to argon2 at login.
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_PASSWORD_HASH", "argon2"),
            ("SECURITY_PASSWORD_SALT", "salt"),
            ("SECURITY_RECOVERABLE", "true"),
        ],
    )
    .await;
    let store = app.security.datastore();
    for trial in 0..12 {
        let email = format!("race{trial}@lp.com");
        let user = store
            .create_user_with_hash(
                security::NewUser::new(email.clone(), None),
                Some("old password".to_owned()),
            )
            .await
            .unwrap();
        let link = {
            app.client().post_form("/reset", &[("email", &email)]).await;
            app.mails_to(&email)[0].link_path("/reset/")
        };
        let mut login = app.client();
        let mut reset = app.client();
        let (logged_in, reset_answer) = tokio::join!(
            login.login(&email, "old password", false),
            reset.post_form(
                &link,
                &[
                    ("password", "new password"),
                    ("password_confirm", "new password")
                ],
            ),
        );
        let now = store.find_user_by_id(&user.id).await.unwrap().unwrap();
        let reset_won = reset_answer.status == StatusCode::FOUND
            && app
                .security
                .passwords()
                .verify_and_update("new password", now.password.as_deref().unwrap_or_default())
                .await
                .unwrap()
                .ok;
        if logged_in.status == StatusCode::FOUND && reset_won {
            // The login used the old password: its session must not outlive the reset.
            assert_eq!(
                login.get("/profile").await.status,
                StatusCode::FOUND,
                "trial {trial}: a session made with the old password survived the reset"
            );
        }
    }
}

// --- 10. No secret in Debug --------------------------------------------------------------------

async fn debug_output_holds_no_secret(backend: Backend) {
    let app = TestApp::new(&backend, &[("SECURITY_PASSWORD_HASH", "argon2")]).await;
    let store = app.security.datastore();
    let user = store
        .create_user(security::NewUser::new(
            "debug@lp.com",
            Some("hunter2-secret"),
        ))
        .await
        .unwrap();
    let hash = user.password.clone().unwrap();
    let loaded = store.load_with_roles(&user.id).await.unwrap().unwrap();
    let token = app.security.auth_token(&user);
    let mut formatted = vec![
        format!("{loaded:?}"),
        format!(
            "{:?}",
            security::NewUser::new("x@lp.com", Some("hunter2-secret"))
        ),
        format!(
            "{:?}",
            security::Event::ResetPasswordInstructionsSent {
                user: user.clone(),
                token: token.clone(),
            }
        ),
        format!("{:?}", security::Event::UserLoggedIn { user: user.clone() }),
        format!(
            "{:?}",
            security::mail::MailSettings {
                password: Some("hunter2-secret".into()),
                ..Default::default()
            }
        ),
        format!(
            "{:?}",
            security::views::EmailContext {
                link: Some(format!("http://localhost/reset/{token}")),
                ..Default::default()
            }
        ),
        format!("{:?}", security::CsrfToken(token.clone())),
    ];
    // The extractor the handlers get.
    #[login_required]
    async fn show(user: CurrentUser<User>) -> String {
        format!("{user:?} {:?}", Some(user.clone()))
    }
    let router = Router::new()
        .route("/show", axum::routing::get(show))
        .layer(app.security.layer());
    let response = router
        .oneshot(
            Request::get("/show")
                .header("cookie", app.security.session_cookie_for(&user))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    formatted.push(String::from_utf8_lossy(&body).into_owned());
    for text in formatted {
        for secret in [hash.as_str(), "hunter2-secret", token.as_str()] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(!text.is_empty());
    }
}

// --- 11. Headers of the security views ---------------------------------------------------------

async fn security_views_send_protective_headers(backend: Backend) {
    let app = TestApp::new(&backend, &[("SECURITY_RECOVERABLE", "true")]).await;
    for path in ["/login", "/reset"] {
        let r = app.client().get(path).await;
        assert_eq!(r.headers["cache-control"], "no-store", "{path}");
        assert_eq!(r.headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(r.headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(
            r.headers["content-security-policy"], "frame-ancestors 'none'",
            "{path}"
        );
    }
    // The JSON login answer, which holds a token.
    let r = app
        .client()
        .post_json(
            "/login",
            json!({"email": "matt@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(r.headers["cache-control"], "no-store");
    // The app's own routes are the app's business.
    assert!(
        app.client()
            .get("/")
            .await
            .headers
            .get("x-frame-options")
            .is_none()
    );
    // Configurable: changed, removed.
    let custom = TestApp::new(
        &backend,
        &[(
            "SECURITY_RESPONSE_HEADERS",
            r#"{"Referrer-Policy": "same-origin", "X-Frame-Options": ""}"#,
        )],
    )
    .await;
    let r = custom.client().get("/login").await;
    assert_eq!(r.headers["referrer-policy"], "same-origin");
    assert!(r.headers.get("x-frame-options").is_none());
    assert_eq!(r.headers["cache-control"], "no-store");
}

// --- 12. Logout by POST with CSRF -------------------------------------------------------------

async fn logout_by_post_needs_the_csrf_token(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("WTF_CSRF_ENABLED", "true"),
            ("SECURITY_LOGOUT_METHODS", "POST"),
            ("SECURITY_CHANGEABLE", "true"),
        ],
    )
    .await;
    let mut c = app.client();
    let token = csrf_token(&c.get("/login").await.body);
    c.post_form(
        "/login",
        &[
            ("email", "matt@lp.com"),
            ("password", "password"),
            ("csrf_token", &token),
        ],
    )
    .await
    .assert_redirect("/");
    // A cross-site link or form cannot log the user out.
    assert_eq!(
        c.get("/logout").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let mut forger = c.clone().without_csrf();
    assert_eq!(
        forger.post_form("/logout", &[]).await.status,
        StatusCode::BAD_REQUEST
    );
    let r = forger.post_json("/logout", json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);
    // The page's own form can.
    let token = csrf_token(&c.get("/change").await.body);
    c.post_form("/logout", &[("csrf_token", &token)])
        .await
        .assert_redirect("/");
    assert_eq!(c.get("/profile").await.status, StatusCode::FOUND);
}

async fn logout_by_post_answers_json_clients(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", false).await;
    let r = c.post_json("/logout", json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["meta"]["code"], 200);
    assert_eq!(c.get("/profile").await.status, StatusCode::FOUND);
}

// --- 13. Confirmation without the automatic login ----------------------------------------------

async fn confirmation_can_leave_the_login_to_the_user(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_REGISTERABLE", "true"),
            ("SECURITY_CONFIRMABLE", "true"),
            ("SECURITY_AUTO_LOGIN_AFTER_CONFIRM", "false"),
        ],
    )
    .await;
    let mut attacker = app.client();
    attacker
        .post_form(
            "/register",
            &[
                ("email", "attacker@lp.com"),
                ("password", "password"),
                ("password_confirm", "password"),
            ],
        )
        .await;
    let link = app.mails_to("attacker@lp.com")[0].link_path("/confirm/");
    // The victim opens the attacker's link: the account is confirmed, nobody is logged in.
    let mut victim = app.client();
    let r = victim.get(&link).await;
    r.assert_redirect("/login");
    assert!(app.user("attacker@lp.com").await.confirmed_at.is_some());
    assert_eq!(victim.get("/profile").await.status, StatusCode::FOUND);
    let r = victim.get("/").await;
    assert!(!r.body.contains("Hello attacker"), "{}", r.body);
}

// --- 14. Weak configuration --------------------------------------------------------------------

async fn weak_configuration_is_refused_or_followed(backend: Backend) {
    let db = security_tests::TestDb::new(&backend).await;
    let build = async |vars: &[(&str, &str)]| {
        let config = Config::from_vars(vars.iter().copied()).unwrap();
        Security::<User>::builder(db.db.clone(), config)
            .build()
            .await
    };
    let err = build(&[("SECRET_KEY", "x")]).await.unwrap_err().to_string();
    assert!(err.contains("SECRET_KEY") && err.contains("16"), "{err}");
    build(&[
        ("SECRET_KEY", "x"),
        ("SECURITY_ALLOW_WEAK_SECRET_KEY", "true"),
    ])
    .await
    .unwrap();
    // SESSION_COOKIE_SECURE makes the remember cookie Secure too, unless it is set itself.
    let app = TestApp::new(&backend, &[("SESSION_COOKIE_SECURE", "true")]).await;
    let r = app.client().login("matt@lp.com", "password", true).await;
    let cookies = r.set_cookies();
    let remember = cookies
        .iter()
        .find(|c| c.starts_with("remember_token="))
        .unwrap();
    assert!(remember.contains("; Secure"), "{remember}");
    let app = TestApp::new(
        &backend,
        &[
            ("SESSION_COOKIE_SECURE", "true"),
            ("REMEMBER_COOKIE_SECURE", "false"),
        ],
    )
    .await;
    let r = app.client().login("matt@lp.com", "password", true).await;
    let remember = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("remember_token="))
        .unwrap();
    assert!(!remember.contains("Secure"), "{remember}");
}

// --- 15. Flash messages cannot grow the cookie without bound ----------------------------------

async fn flashes_cannot_grow_the_session_cookie(backend: Backend) {
    let app = TestApp::new(&backend, &[("SECURITY_RECOVERABLE", "true")]).await;
    let mut c = app.client();
    for _ in 0..600 {
        c.get("/profile").await;
    }
    let cookie = &c.cookies["session"];
    assert!(cookie.raw.len() < 4096, "{} bytes", cookie.raw.len());
    let page = c.get("/login").await;
    let shown = page
        .body
        .matches("Please log in to access this page.")
        .count();
    assert_eq!(shown, security::session::MAX_FLASHES, "{}", page.body);
}

// --- 16. Addresses and passwords ---------------------------------------------------------------

const REGISTERABLE: &[(&str, &str)] = &[("SECURITY_REGISTERABLE", "true")];

async fn register(c: &mut Client, email: &str, password: &str) -> security_tests::Resp {
    c.post_json(
        "/register",
        json!({"email": email, "password": password, "password_confirm": password}),
    )
    .await
}

async fn addresses_compare_after_nfc_and_a_full_case_fold(backend: Backend) {
    let app = TestApp::new(&backend, REGISTERABLE).await;
    let store = app.security.datastore();
    // `ÄBC` precomposed, then `äbc` decomposed: one account.
    let r = register(&mut app.client(), "\u{c4}BC@lp.com", "password").await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
    for same in ["\u{e4}bc@lp.com", "a\u{308}bc@LP.com", "A\u{308}BC@lp.com"] {
        let r = register(&mut app.client(), same, "password").await;
        assert_eq!(r.json()["meta"]["code"], 400, "{same:?}: {}", r.body);
        let found = store.find_user_by_email(same).await.unwrap();
        assert_eq!(found.unwrap().email, "\u{c4}BC@lp.com", "{same:?}");
    }
    // A full fold: ß is ss.
    let r = register(&mut app.client(), "stra\u{df}e@lp.com", "password").await;
    assert_eq!(r.json()["meta"]["code"], 200);
    let r = register(&mut app.client(), "STRASSE@lp.com", "password").await;
    assert_eq!(r.json()["meta"]["code"], 400, "{}", r.body);
    // Login with another spelling finds the account.
    let r = app
        .client()
        .post_json(
            "/login",
            json!({"email": "a\u{308}bc@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
    // Different letters stay different accounts.
    let r = register(&mut app.client(), "abc@lp.com", "password").await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
}

async fn addresses_that_cannot_be_mailed_are_refused_before_anything_is_created(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_REGISTERABLE", "true"),
            ("SECURITY_RECOVERABLE", "true"),
        ],
    )
    .await;
    for bad in ["\"x\"@lp.com", "\"a b\"@lp.com", "x\"@lp.com"] {
        let r = register(&mut app.client(), bad, "password").await;
        assert_eq!(
            r.json()["response"]["errors"]["email"],
            json!(["Invalid email address"]),
            "{bad}"
        );
        assert!(
            app.security
                .datastore()
                .find_user_by_email(bad)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(app.mails().is_empty());
    let r = register(&mut app.client(), "x@lp.com", "password").await;
    assert_eq!(r.json()["meta"]["code"], 200);
}

async fn passwords_are_normalised_and_follow_the_policy(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_REGISTERABLE", "true"),
            ("SECURITY_PASSWORD_HASH", "argon2"),
            ("SECURITY_PASSWORD_LENGTH_MIN", "8"),
            ("SECURITY_PASSWORD_LENGTH_MAX", "20"),
        ],
    )
    .await;
    // Typed with a precomposed é, logged in with e + combining accent.
    let r = register(&mut app.client(), "nfkd@lp.com", "caf\u{e9} au lait").await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
    let r = app
        .client()
        .post_json(
            "/login",
            json!({"email": "nfkd@lp.com", "password": "cafe\u{301} au lait"}),
        )
        .await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
    let r = register(&mut app.client(), "short@lp.com", "1234567").await;
    assert_eq!(
        r.json()["response"]["errors"]["password"],
        json!(["Password must be at least 8 characters"])
    );
    let r = register(&mut app.client(), "long@lp.com", &"x".repeat(21)).await;
    assert_eq!(
        r.json()["response"]["errors"]["password"],
        json!(["Password must be at most 20 characters"])
    );
    // A hash of the password as typed (1.7.4 did not normalise) still verifies, and is
    // replaced by one of the normalised password.
    let typed = "caf\u{e9} typed";
    let store = app.security.datastore();
    let legacy = security::password::Passwords::new(security::password::Scheme::Argon2, None)
        .hash(typed)
        .await
        .unwrap();
    store
        .create_user_with_hash(
            security::NewUser::new("legacy@lp.com", None),
            Some(legacy.clone()),
        )
        .await
        .unwrap();
    let r = app
        .client()
        .post_json(
            "/login",
            json!({"email": "legacy@lp.com", "password": typed}),
        )
        .await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
    let user = app.user("legacy@lp.com").await;
    assert_ne!(user.password.as_deref(), Some(legacy.as_str()), "re-hashed");
    let r = app
        .client()
        .post_json(
            "/login",
            json!({"email": "legacy@lp.com", "password": typed}),
        )
        .await;
    assert_eq!(r.json()["meta"]["code"], 200);
}

async fn the_complexity_checker_refuses_guessable_passwords(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_REGISTERABLE", "true"),
            ("SECURITY_PASSWORD_COMPLEXITY_CHECKER", "zxcvbn"),
        ],
    )
    .await;
    let r = register(&mut app.client(), "weak@lp.com", "password").await;
    assert_eq!(r.json()["meta"]["code"], 400, "{}", r.body);
    assert!(r.json()["response"]["errors"]["password"].is_array());
    let r = register(
        &mut app.client(),
        "strong@lp.com",
        "correct horse battery staple 93!",
    )
    .await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
}

async fn nul_bytes_get_a_client_answer(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_RECOVERABLE", "true"),
            ("SECURITY_CONFIRMABLE", "true"),
        ],
    )
    .await;
    for path in ["/reset", "/confirm", "/login"] {
        for email in ["\u{0}", "joe\u{0}@lp.com"] {
            let r = app
                .client()
                .post_json(path, json!({"email": email, "password": "password"}))
                .await;
            assert!(
                r.status.is_client_error() || r.status == StatusCode::OK,
                "{path}: {}",
                r.status
            );
            assert_ne!(r.json()["meta"]["code"], 500, "{path}");
        }
    }
    let r = app
        .client()
        .get_with(
            "/http",
            &[(
                "Authorization",
                &security_tests::basic("joe\u{0}@lp.com", "password"),
            )],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

// --- 4. Enumeration-resistant registration -----------------------------------------------------

async fn generic_registration_answers_alike_and_mails_the_owner(backend: Backend) {
    for key in [
        "SECURITY_RETURN_GENERIC_RESPONSES",
        "SECURITY_GENERIC_RESPONSES",
    ] {
        let app = TestApp::new(
            &backend,
            &[
                ("SECURITY_REGISTERABLE", "true"),
                ("SECURITY_CONFIRMABLE", "true"),
                ("SECURITY_RECOVERABLE", "true"),
                (key, "true"),
            ],
        )
        .await;
        let new = register(&mut app.client(), "fresh@lp.com", "password").await;
        let taken = register(&mut app.client(), "MATT@lp.com", "password").await;
        assert_eq!(new.status, taken.status, "{key}");
        assert_eq!(
            new.answer()["response"],
            taken.answer()["response"],
            "{key}"
        );
        assert!(new.json()["response"].get("user").is_none(), "{}", new.body);
        // HTML: the same flash and redirect.
        let mut a = app.client();
        let mut b = app.client();
        let form = |email: &'static str| {
            [
                ("email", email),
                ("password", "password"),
                ("password_confirm", "password"),
            ]
        };
        let r1 = a.post_form("/register", &form("fresh2@lp.com")).await;
        let r2 = b.post_form("/register", &form("joe@lp.com")).await;
        assert_eq!(r1.status, r2.status);
        assert_eq!(r1.location(), r2.location());
        let p1 = a.get(&r1.location_path()).await.body;
        let p2 = b.get(&r2.location_path()).await.body;
        assert!(p1.contains("Confirmation instructions have been sent to fresh2@lp.com."));
        assert!(p2.contains("Confirmation instructions have been sent to joe@lp.com."));
        // The owner is told, with a reset link that works.
        let mails = app.mails_to("matt@lp.com");
        assert_eq!(mails.len(), 1, "{key}");
        assert!(
            mails[0].text.contains("already in our system"),
            "{:?}",
            mails[0]
        );
        let reset = mails[0].link_path("/reset/");
        assert_eq!(app.client().get(&reset).await.status, StatusCode::OK);
        // Still one account for the address, its password unchanged.
        let matt = app.user("matt@lp.com").await;
        assert!(
            app.security
                .passwords()
                .verify_and_update("password", matt.password.as_deref().unwrap())
                .await
                .unwrap()
                .ok
        );
        // Invalid input is still told.
        let r = register(&mut app.client(), "bogus", "password").await;
        assert_eq!(r.json()["meta"]["code"], 400);
    }
}

async fn generic_answers_to_malformed_addresses_tell_nothing_either(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_RECOVERABLE", "true"),
            ("SECURITY_CONFIRMABLE", "true"),
            ("SECURITY_RETURN_GENERIC_RESPONSES", "true"),
        ],
    )
    .await;
    // An account of an address that today's check refuses (1.7.4 let it in).
    app.security
        .datastore()
        .create_user(security::NewUser::new("legacy@localhost", Some("password")))
        .await
        .unwrap();
    for path in ["/reset", "/confirm"] {
        let taken = app
            .client()
            .post_json(path, json!({"email": "legacy@localhost"}))
            .await;
        let free = app
            .client()
            .post_json(path, json!({"email": "other@localhost"}))
            .await;
        assert_eq!(taken.status, free.status, "{path}");
        assert_eq!(taken.json()["response"], free.json()["response"], "{path}");
        assert_eq!(
            free.json()["response"]["errors"]["email"],
            json!(["Invalid email address"]),
            "{path}"
        );
    }
}

backend_tests!(
    options_never_runs_a_guarded_handler,
    logout_ends_the_session_and_remember_cookie_everywhere,
    logout_with_the_identity_cache,
    a_session_made_from_a_copied_remember_cookie_ends_at_the_owners_logout,
    csrf_is_not_taken_from_a_session_beside_a_remember_cookie,
    nul_bytes_get_a_client_answer,
    generic_answers_to_malformed_addresses_tell_nothing_either,
    a_deleted_accounts_session_is_not_the_next_accounts,
    apps_can_require_csrf_on_their_own_routes,
    csrf_protect_covers_every_cookie_authenticated_unsafe_request,
    a_json_change_by_the_remember_cookie_needs_the_csrf_token,
    stacked_guards_agree_on_one_identity,
    a_rehash_racing_a_reset_never_binds_the_session_to_the_new_password,
    debug_output_holds_no_secret,
    security_views_send_protective_headers,
    logout_by_post_needs_the_csrf_token,
    logout_by_post_answers_json_clients,
    confirmation_can_leave_the_login_to_the_user,
    weak_configuration_is_refused_or_followed,
    flashes_cannot_grow_the_session_cookie,
    addresses_compare_after_nfc_and_a_full_case_fold,
    addresses_that_cannot_be_mailed_are_refused_before_anything_is_created,
    passwords_are_normalised_and_follow_the_policy,
    the_complexity_checker_refuses_guessable_passwords,
    generic_registration_answers_alike_and_mails_the_owner,
);
