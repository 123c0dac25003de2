//! Authentication: sessions, remember-me, the guards, token and Basic auth, CSRF, tracking
//! (the login and logout views, and the README's "Differences from Flask-Security 1.7.4").

use http::StatusCode;
use serde_json::json;

use security::testing::SignIn;
use security::{Event, SecurityUser};
use security_tests::{Backend, TestApp, backend_tests, basic, csrf_token};

fn has_field(body: &str, name: &str) -> bool {
    body.contains(&format!("name=\"{name}\""))
}

async fn login_page_has_the_form(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let r = app.client().get("/login?next=/page1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Login</h1>"), "{}", r.body);
    for field in ["email", "password", "remember", "next"] {
        assert!(has_field(&r.body, field), "{field}");
    }
    assert!(
        r.body.contains("value=\"/page1\""),
        "next is carried: {}",
        r.body
    );
    assert_eq!(r.headers["content-type"], "text/html; charset=utf-8");
}

async fn form_login_starts_a_session(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", false)
        .await
        .assert_redirect("/");
    let r = c.get("/").await;
    assert!(r.body.contains("Hello matt@lp.com"), "{}", r.body);
    let r = c.get("/profile").await;
    assert_eq!(r.status, StatusCode::OK);
    // a logged-in user is sent away from the login page
    c.get("/login").await.assert_redirect("/");
}

async fn login_honours_a_safe_next_and_refuses_others(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = app.client();
    c.post_form(
        "/login?next=/page1",
        &[("email", "matt@lp.com"), ("password", "password")],
    )
    .await
    .assert_redirect("/page1");
    for evil in [
        "http://google.com",
        "http:///google.com",
        "//evil.example",
        "\\\\evil.example",
        "/\\evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        " //evil.example",
        "/\t/evil.example",
        "http://localhost@evil.example/",
    ] {
        let mut c = app.client();
        let r = c
            .post_form(
                "/login",
                &[
                    ("email", "matt@lp.com"),
                    ("password", "password"),
                    ("next", evil),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{evil:?} must be refused");
        assert!(
            r.body
                .contains("Redirections outside the domain are forbidden"),
            "{evil:?}: {}",
            r.body
        );
        assert_eq!(
            c.get("/profile").await.status,
            StatusCode::FOUND,
            "{evil:?}"
        );
    }
}

async fn a_spoofed_host_never_yields_an_off_site_location(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = app.client();
    let r = c
        .post_form_with(
            "/login?next=http://evil.example/",
            &[("email", "matt@lp.com"), ("password", "password")],
            &[("host", "evil.example")],
        )
        .await;
    if r.status == StatusCode::FOUND {
        assert!(!r.location().contains("evil"), "{}", r.location());
    }
    let r = c
        .send(
            http::Request::get("/logout?next=//evil.example")
                .header("host", "evil.example")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(!r.location().contains("evil"), "{}", r.location());
}

async fn login_refusals_follow_1_7_4_order_and_messages(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    for (email, password, message) in [
        ("", "password", "Email not provided"),
        ("matt@lp.com", "", "Password not provided"),
        ("matt@lp.com", "   ", "Password not provided"),
        (
            "bogus@bogus.com",
            "password",
            "Specified user does not exist",
        ),
        ("matt@lp.com", "bogus", "Invalid password"),
        ("matt@lp.com", "password ", "Invalid password"),
        ("tiya@lp.com", "password", "Account is disabled."),
        (
            "jess@lp.com",
            "password",
            "No password is set for this user",
        ),
        ("1", "password", "Specified user does not exist"),
        ("%", "password", "Specified user does not exist"),
    ] {
        let mut c = app.client();
        let r = c.login(email, password, false).await;
        assert_eq!(r.status, StatusCode::OK, "{email}");
        assert!(
            r.body.contains(message),
            "{email}/{password}: expected {message}: {}",
            r.body
        );
        assert!(has_field(&r.body, "email") && has_field(&r.body, "password"));
        assert_eq!(c.get("/profile").await.status, StatusCode::FOUND);
    }
    // the inactive user is told only with the right password
    let r = app.client().login("tiya@lp.com", "wrong", false).await;
    assert!(r.body.contains("Invalid password"), "{}", r.body);
}

async fn generic_responses_hide_which_accounts_exist(backend: Backend) {
    let app = TestApp::new(&backend, &[("SECURITY_GENERIC_RESPONSES", "true")]).await;
    let mut answers = Vec::new();
    for (email, password) in [
        ("bogus@bogus.com", "password"),
        ("matt@lp.com", "bogus"),
        ("jess@lp.com", "password"),
    ] {
        let r = app
            .client()
            .post_json("/login", json!({"email": email, "password": password}))
            .await;
        answers.push(r.json()["response"]["errors"].clone());
    }
    assert_eq!(answers[0], json!({"email": ["Invalid email or password"]}));
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    let r = app
        .client()
        .post_json(
            "/login",
            json!({"email": "tiya@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(
        r.json()["response"]["errors"],
        json!({"email": ["Account is disabled."]})
    );
}

async fn json_login_answers_in_1_7_4_shape(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = app.client();
    let r = c
        .post_json(
            "/login",
            json!({"email": "matt@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/json");
    let data = r.json();
    assert_eq!(data["meta"]["code"], 200);
    let user = &data["response"]["user"];
    let matt = app.user("matt@lp.com").await;
    assert_eq!(user["id"], json!(matt.id.to_string()));
    assert!(
        user["authentication_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(
        r.body
            .starts_with("{\n  \"meta\": {\n    \"code\": 200\n  },"),
        "{}",
        r.body
    );
    assert_eq!(
        c.get("/profile").await.status,
        StatusCode::OK,
        "JSON login logs in too"
    );
}

async fn json_login_errors_use_the_envelope(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    for (body, field, message) in [
        (
            json!({"email": "matt@lp.com", "password": "junk"}),
            "password",
            "Invalid password",
        ),
        (
            json!({"email": "nobody@lp.com", "password": "x"}),
            "email",
            "Specified user does not exist",
        ),
        (
            json!({"email": "", "password": "x"}),
            "email",
            "Email not provided",
        ),
        (
            json!({"email": "matt@lp.com"}),
            "password",
            "Password not provided",
        ),
        (json!({}), "email", "Email not provided"),
        (
            json!({"email": 5, "password": "x"}),
            "email",
            "Specified user does not exist",
        ),
        (
            json!({"email": ["a"], "password": {"x": 1}}),
            "email",
            "Email not provided",
        ),
    ] {
        let r = app.client().post_json("/login", body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{body}");
        let data = r.json();
        assert_eq!(data["meta"]["code"], 400, "{body}");
        assert_eq!(
            data["response"]["errors"][field],
            json!([message]),
            "{body}: {data}"
        );
        assert!(data["response"].get("user").is_none());
    }
    let strict = TestApp::new(&backend, &[("SECURITY_JSON_HTTP_STATUS_CODES", "true")]).await;
    let r = strict
        .client()
        .post_json(
            "/login",
            json!({"email": "matt@lp.com", "password": "junk"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["meta"]["code"], 400);
}

async fn bad_bodies_get_client_errors(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = app.client();
    for body in ["{not json", "[1,2]", "42", "\"x\""] {
        let r = c
            .send(
                http::Request::post("/login")
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body))
                    .unwrap(),
            )
            .await;
        assert!(r.status.is_client_error(), "{body}: {}", r.status);
        assert_eq!(r.json()["meta"]["code"], 400);
    }
    // A JSON body beyond the limit is not the layer's business: it is not read for a token,
    // and the app's route answers (here the token guard: no token).
    let huge = format!("{{\"email\": \"{}\"}}", "a".repeat(3 * 1024 * 1024));
    let r = c
        .send(
            http::Request::post("/token")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(huge))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let form = format!("email={}", "a".repeat(3 * 1024 * 1024));
    let r = c
        .send(
            http::Request::post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(form))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

async fn remember_me_restores_the_session(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = app.client();
    let r = c.login("matt@lp.com", "password", true).await;
    let remember = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("remember_token="))
        .expect("remember cookie");
    assert!(
        remember.contains("Max-Age=") && remember.contains("HttpOnly"),
        "{remember}"
    );
    assert!(remember.contains("SameSite=Lax"), "{remember}");
    let session = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("session="))
        .expect("session cookie");
    assert!(
        !session.contains("Max-Age") && !session.contains("Expires"),
        "{session}"
    );
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
    c.clear_session_cookies();
    assert!(c.cookies.contains_key("remember_token"));
    let r = c.get("/profile").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Hello matt@lp.com"));
}

async fn without_remember_closing_the_browser_logs_out(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", false).await;
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);
    c.clear_session_cookies();
    assert_eq!(c.get("/profile").await.status, StatusCode::FOUND);
    // JSON `"remember": false` is false (1.7.4 took it as true)
    let mut c = app.client();
    c.post_json(
        "/login",
        json!({"email": "matt@lp.com", "password": "password", "remember": false}),
    )
    .await;
    assert!(!c.cookies.contains_key("remember_token"));
    // SECURITY_DEFAULT_REMEMBER_ME applies when the field is absent
    let app = TestApp::new(&backend, &[("SECURITY_DEFAULT_REMEMBER_ME", "true")]).await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", false).await;
    assert!(c.cookies.contains_key("remember_token"));
}

async fn logout_ends_the_session_and_forgets_remember_me(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", true).await;
    let remembered = c.cookies["remember_token"].value.clone();
    let r = c.get("/logout").await;
    r.assert_redirect("/");
    assert!(
        !c.cookies.contains_key("remember_token"),
        "cleared at logout"
    );
    assert_eq!(c.get("/profile").await.status, StatusCode::FOUND);
    c.clear_session_cookies();
    assert_eq!(c.get("/profile").await.status, StatusCode::FOUND);
    // logout's next is validated too (no open redirect off-site)
    c.get("/logout?next=/page1").await.assert_redirect("/page1");
    c.get("/logout?next=http://evil.example/")
        .await
        .assert_redirect("/");
    let _ = remembered;
}

async fn login_required_redirects_with_next_and_flash(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = app.client();
    let r = c.get("/profile?x=1&y=2").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(
        r.location()
            .starts_with("/login?next=%2Fprofile%3Fx%3D1%26y%3D2"),
        "{}",
        r.location()
    );
    let r = c.get("/").await;
    assert!(
        r.body.contains("Please log in to access this page."),
        "{}",
        r.body
    );
    // JSON clients get the same redirect (1.7.4)
    let r = c
        .get_with("/profile", &[("content-type", "application/json")])
        .await;
    assert_eq!(r.status, StatusCode::FOUND);
    // OPTIONS passes, answered as Flask does
    let r = c
        .send(
            http::Request::options("/profile")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["allow"].to_str().unwrap().contains("OPTIONS"));
    // no flash with SECURITY_FLASH_MESSAGES off
    let quiet = TestApp::new(&backend, &[("SECURITY_FLASH_MESSAGES", "false")]).await;
    let mut c = quiet.client();
    c.get("/profile").await;
    assert!(!c.get("/").await.body.contains("Please log in"));
}

async fn login_disabled_lets_login_required_through(backend: Backend) {
    let app = TestApp::new(&backend, &[("LOGIN_DISABLED", "true")]).await;
    let mut c = app.client();
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);
    assert_eq!(
        c.get("/admin").await.status,
        StatusCode::FORBIDDEN,
        "roles still apply"
    );
}

async fn roles_required_and_accepted(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let cases = [
        ("matt@lp.com", "/admin", true),
        ("joe@lp.com", "/admin", false),
        ("matt@lp.com", "/admin_and_editor", false),
        ("joe@lp.com", "/admin_and_editor", false),
        ("dave@lp.com", "/admin_and_editor", true),
        ("matt@lp.com", "/admin_or_editor", true),
        ("joe@lp.com", "/admin_or_editor", true),
        ("jill@lp.com", "/admin_or_editor", false),
    ];
    for (email, path, allowed) in cases {
        let mut c = app.client();
        c.login(email, "password", false).await;
        let r = c.get(path).await;
        if allowed {
            assert_eq!(r.status, StatusCode::OK, "{email} {path}");
        } else {
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{email} {path}");
            assert!(
                r.body
                    .contains("You do not have permission to view this resource.")
            );
            assert!(!r.body.contains("Page"));
        }
    }
    let r = app.client().get("/admin").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "anonymous");
    // a token is not a session: roles look at the session only, unless a token guard ran
    let token = app.client().token("matt@lp.com", "password").await;
    let r = app
        .client()
        .get_with("/admin", &[("Authentication-Token", &token)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .client()
        .get_with("/token_admin", &[("Authentication-Token", &token)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let joe = app.client().token("joe@lp.com", "password").await;
    let r = app
        .client()
        .get_with("/token_admin", &[("Authentication-Token", &joe)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn unauthorized_view_gets_a_redirect_and_flash(backend: Backend) {
    let app = TestApp::new(&backend, &[("SECURITY_UNAUTHORIZED_VIEW", "/page1")]).await;
    let mut c = app.client();
    c.login("joe@lp.com", "password", false).await;
    c.get("/admin").await.assert_redirect("/page1");
    let r = c.get("/").await;
    assert!(
        r.body
            .contains("You do not have permission to view this resource.")
    );
}

async fn token_auth_by_header_query_and_json(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let token = app.client().token("matt@lp.com", "password").await;
    let r = app
        .client()
        .get_with("/token", &[("Authentication-Token", &token)])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Token Authentication matt@lp.com"));
    let r = app
        .client()
        .get(&format!("/token?auth_token={token}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .client()
        .post_json("/token", json!({"auth_token": token}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for bad in ["X", "", &token[..token.len() - 2]] {
        let r = app
            .client()
            .get_with("/token", &[("Authentication-Token", bad)])
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad}");
        assert!(r.headers.get("www-authenticate").is_none());
        assert!(r.body.contains("<h1>Unauthorized</h1>"));
    }
    assert_eq!(
        app.client().get("/token").await.status,
        StatusCode::UNAUTHORIZED
    );
    // a bad query token defeats a good header (1.7.4's order)
    let r = app
        .client()
        .get_with("/token?auth_token=X", &[("Authentication-Token", &token)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // earlier tokens stay valid after a new login
    let second = app.client().token("matt@lp.com", "password").await;
    for t in [&token, &second] {
        let r = app
            .client()
            .get_with("/token", &[("Authentication-Token", t)])
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // a token does not start a session
    let mut c = app.client();
    c.get_with("/token", &[("Authentication-Token", &token)])
        .await;
    assert_eq!(c.get("/profile").await.status, StatusCode::FOUND);
    // query tokens can be switched off (a token in a URL leaks into logs and `Referer`)
    let strict = TestApp::new(&backend, &[("SECURITY_TOKEN_IN_QUERY", "false")]).await;
    let token = strict.client().token("matt@lp.com", "password").await;
    let r = strict
        .client()
        .get(&format!("/token?auth_token={token}"))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn tokens_carry_no_password_digest(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let token = app.client().token("matt@lp.com", "password").await;
    let payload = token.split('.').next().unwrap();
    use base64::Engine;
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let text = String::from_utf8(decoded).unwrap();
    let md5_of_password = "5f4dcc3b5aa765d61d8327deb882cf99";
    assert!(!text.contains(md5_of_password), "{text}");
    assert!(!text.contains("password"), "{text}");
}

async fn basic_auth(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let ok = basic("joe@lp.com", "password");
    let r = app
        .client()
        .get_with("/http", &[("Authorization", &ok)])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, "HTTP Authentication");
    let r = app
        .client()
        .get_with(
            "/http",
            &[("Authorization", &basic("JOE@lp.com", "password"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "address case ignored");
    for header in [
        None,
        Some(basic("bogus", "bogus")),
        Some(basic("joe@lp.com", "bogus")),
        Some(basic("jess@lp.com", "password")),
        Some(basic("tiya@lp.com", "password")),
        Some("Bearer xyz".to_owned()),
        Some("Basic !!!".to_owned()),
    ] {
        let mut c = app.client();
        let r = match &header {
            Some(h) => c.get_with("/http", &[("Authorization", h)]).await,
            None => c.get("/http").await,
        };
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{header:?}");
        assert_eq!(
            r.headers["www-authenticate"],
            "Basic realm=\"Login Required\""
        );
    }
    let r = app
        .client()
        .get_with(
            "/http_custom_realm",
            &[("Authorization", &basic("joe@lp.com", "x"))],
        )
        .await;
    assert_eq!(r.headers["www-authenticate"], "Basic realm=\"My Realm\"");
    let mut c = app.client();
    c.get_with("/http", &[("Authorization", &ok)]).await;
    assert_eq!(
        c.get("/profile").await.status,
        StatusCode::FOUND,
        "no session from Basic"
    );
    // a session alone does not pass Basic
    let mut c = app.client();
    c.login("joe@lp.com", "password", false).await;
    assert_eq!(c.get("/http").await.status, StatusCode::UNAUTHORIZED);
    let realm = TestApp::new(
        &backend,
        &[("SECURITY_DEFAULT_HTTP_AUTH_REALM", "Custom Realm")],
    )
    .await;
    let r = realm.client().get("/http").await;
    assert_eq!(
        r.headers["www-authenticate"],
        "Basic realm=\"Custom Realm\""
    );
}

async fn auth_required_accepts_any_listed_method(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let r = app
        .client()
        .get_with(
            "/multi_auth",
            &[("Authorization", &basic("joe@lp.com", "password"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("joe@lp.com"));
    let token = app.client().token("matt@lp.com", "password").await;
    let r = app
        .client()
        .get(&format!("/multi_auth?auth_token={token}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut c = app.client();
    c.login("dave@lp.com", "password", false).await;
    let r = c.get("/multi_auth").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("dave@lp.com"));
    assert_eq!(
        app.client().get("/multi_auth").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.client().get("/multi_auth?auth_token=X").await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn inactive_users_are_refused_on_every_path(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut session = app.client();
    session.login("joe@lp.com", "password", true).await;
    let mut remembered = session.clone();
    remembered.clear_session_cookies();
    let token = app.client().token("joe@lp.com", "password").await;
    assert_eq!(session.get("/profile").await.status, StatusCode::OK);

    let joe = app.user("joe@lp.com").await;
    app.security
        .datastore()
        .deactivate_user(&joe)
        .await
        .unwrap();

    assert_eq!(
        session.get("/profile").await.status,
        StatusCode::FOUND,
        "session"
    );
    assert_eq!(
        remembered.get("/profile").await.status,
        StatusCode::FOUND,
        "remember"
    );
    let r = app
        .client()
        .get_with("/token", &[("Authentication-Token", &token)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "token");
    let r = app
        .client()
        .post_json("/token", json!({"auth_token": token}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "token in JSON");
    let r = app
        .client()
        .get_with(
            "/http",
            &[("Authorization", &basic("joe@lp.com", "password"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "basic");
    let r = app
        .client()
        .get(&format!("/multi_auth?auth_token={token}"))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "auth_required");
    let r = app.client().login("joe@lp.com", "password", false).await;
    assert!(r.body.contains("Account is disabled."));
}

async fn a_password_change_ends_sessions_and_tokens_on_every_instance(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    // a second instance on the same database and secret
    let config = app.security.config().clone();
    let other = security::Security::<security_tests::User>::builder(app.db.db.clone(), config)
        .build()
        .await
        .unwrap();
    let other_router = security_tests::router(&other);

    let mut c = app.client();
    c.login("matt@lp.com", "password", true).await;
    let mut remembered = c.clone();
    remembered.clear_session_cookies();
    let token = app.client().token("matt@lp.com", "password").await;
    let cookie = c
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={}", v.value))
        .collect::<Vec<_>>()
        .join("; ");
    let on_other = |path: &str, cookie: &str, token: Option<&str>| {
        let mut req = http::Request::get(path).header("cookie", cookie);
        if let Some(t) = token {
            req = req.header("Authentication-Token", t);
        }
        let router = other_router.clone();
        let req = req.body(axum::body::Body::empty()).unwrap();
        async move {
            use tower::ServiceExt;
            router.oneshot(req).await.unwrap().status()
        }
    };
    assert_eq!(
        on_other("/profile", &cookie, None).await,
        StatusCode::OK,
        "stateless"
    );

    let matt = app.user("matt@lp.com").await;
    app.security
        .datastore()
        .set_password(&matt, "new password")
        .await
        .unwrap();

    assert_eq!(c.get("/profile").await.status, StatusCode::FOUND);
    assert_eq!(remembered.get("/profile").await.status, StatusCode::FOUND);
    assert_eq!(on_other("/profile", &cookie, None).await, StatusCode::FOUND);
    assert_eq!(
        on_other("/token", "", Some(&token)).await,
        StatusCode::UNAUTHORIZED
    );
}

async fn rotating_the_uniquifier_logs_out_everywhere(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", false).await;
    let token = app.client().token("matt@lp.com", "password").await;
    let matt = app.user("matt@lp.com").await;
    assert!(
        app.security
            .datastore()
            .rotate_uniquifier(&matt)
            .await
            .unwrap()
    );
    assert_eq!(c.get("/profile").await.status, StatusCode::FOUND);
    let r = app
        .client()
        .get_with("/token", &[("Authentication-Token", &token)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn login_gives_a_new_session_value(backend: Backend) {
    let app = TestApp::new(&backend, &[("WTF_CSRF_ENABLED", "true")]).await;
    let mut c = app.client();
    c.get("/login").await;
    let before = c.cookies["session"].value.clone();
    let page = c.get("/login").await;
    let token = csrf_token(&page.body);
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
    let after = c.cookies["session"].value.clone();
    assert_ne!(before, after);
    // the pre-login session value is no login
    let mut old = app.client();
    old.cookies.insert(
        "session".into(),
        security_tests::Cookie {
            value: before,
            raw: String::new(),
            persistent: false,
        },
    );
    assert_eq!(old.get("/profile").await.status, StatusCode::FOUND);
}

async fn unchanged_sessions_are_not_re_signed(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", false).await;
    c.get("/").await; // nothing pending
    let r = c.get("/profile").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.set_cookies().is_empty(), "{:?}", r.set_cookies());
    let r = app.client().get("/page1").await;
    assert!(
        r.set_cookies().is_empty(),
        "anonymous requests get no cookie"
    );
}

async fn secure_cookie_flags_are_configurable(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SESSION_COOKIE_SECURE", "true"),
            ("REMEMBER_COOKIE_SECURE", "true"),
            ("SESSION_COOKIE_NAME", "sid"),
            ("SESSION_COOKIE_SAMESITE", "Strict"),
        ],
    )
    .await;
    let r = app.client().login("matt@lp.com", "password", true).await;
    let cookies = r.set_cookies();
    assert!(
        cookies.iter().all(|c| c.contains("; Secure")),
        "{cookies:?}"
    );
    assert!(cookies.iter().any(|c| c.starts_with("sid=")), "{cookies:?}");
    assert!(
        cookies.iter().all(|c| c.contains("SameSite=Strict")),
        "{cookies:?}"
    );
}

async fn csrf_protects_forms_and_session_json(backend: Backend) {
    let app = TestApp::new(&backend, &[("WTF_CSRF_ENABLED", "true")]).await;
    let mut c = app.client().without_csrf();
    let page = c.get("/login").await;
    let token = csrf_token(&page.body);
    let r = c
        .post_form(
            "/login",
            &[("email", "matt@lp.com"), ("password", "password")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("CSRF token missing"), "{}", r.body);
    let r = c
        .post_form(
            "/login",
            &[
                ("email", "matt@lp.com"),
                ("password", "password"),
                ("csrf_token", "1.AAAA"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("CSRF token invalid"));
    assert_eq!(c.get("/profile").await.status, StatusCode::FOUND);
    // another session's token does not work
    let mut other = app.client();
    let other_token = csrf_token(&other.get("/login").await.body);
    let r = c
        .post_form(
            "/login",
            &[
                ("email", "matt@lp.com"),
                ("password", "password"),
                ("csrf_token", &other_token),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
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
    // a JSON post riding a session needs the header
    let r = c
        .post_json(
            "/login",
            json!({"email": "matt@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["response"]["errors"]["csrf_token"][0],
        "CSRF token missing"
    );
    // a JSON API client without a session cookie needs none
    let r = app
        .client()
        .post_json(
            "/login",
            json!({"email": "matt@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(r.json()["meta"]["code"], 200);
    // the header works
    let mut j = app.client();
    let t = csrf_token(&j.get("/login").await.body);
    let r = j
        .send(
            http::Request::post("/login")
                .header("content-type", "application/json")
                .header("X-CSRFToken", t)
                .body(axum::body::Body::from(
                    json!({"email": "matt@lp.com", "password": "password"}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
}

async fn tracking_records_logins_from_the_peer_address(backend: Backend) {
    let app = TestApp::new(&backend, &[("SECURITY_TRACKABLE", "true")]).await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", false).await;
    let mut c = app.client();
    c.peer = Some("10.1.2.3:5555".parse().unwrap());
    c.post_form_with(
        "/login",
        &[("email", "matt@lp.com"), ("password", "password")],
        &[("x-forwarded-for", "1.1.1.1, 2.2.2.2")],
    )
    .await
    .assert_redirect("/");
    let matt = app.user("matt@lp.com").await;
    assert_eq!(matt.last_login_ip.as_deref(), Some("untrackable"));
    assert_eq!(
        matt.current_login_ip.as_deref(),
        Some("10.1.2.3"),
        "X-Forwarded-For not trusted"
    );
    assert_eq!(matt.login_count, Some(2));
    assert!(matt.last_login_at.is_some() && matt.current_login_at >= matt.last_login_at);
    // behind one trusted proxy, its address for the client is used
    let proxied = TestApp::new(
        &backend,
        &[
            ("SECURITY_TRACKABLE", "true"),
            ("SECURITY_TRUSTED_PROXIES", "1"),
        ],
    )
    .await;
    let mut c = proxied.client();
    c.peer = Some("10.0.0.1:1".parse().unwrap());
    c.post_form_with(
        "/login",
        &[("email", "matt@lp.com"), ("password", "password")],
        &[("x-forwarded-for", "1.1.1.1, 2.2.2.2")],
    )
    .await
    .assert_redirect("/");
    assert_eq!(
        proxied
            .user("matt@lp.com")
            .await
            .current_login_ip
            .as_deref(),
        Some("2.2.2.2")
    );
    // Basic and token logins are not tracked
    let untracked = app.user("joe@lp.com").await;
    app.client()
        .get_with(
            "/http",
            &[("Authorization", &basic("joe@lp.com", "password"))],
        )
        .await;
    assert_eq!(
        app.user("joe@lp.com").await.login_count,
        untracked.login_count
    );
}

async fn login_and_logout_emit_events(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut events = app.security.subscribe();
    let mut c = app.client();
    c.login("matt@lp.com", "password", false).await;
    c.get("/logout").await;
    let first = events.recv().await.unwrap();
    assert!(matches!(&first, Event::UserLoggedIn { user } if user.email == "matt@lp.com"));
    let second = events.recv().await.unwrap();
    assert!(matches!(&second, Event::UserLoggedOut { user } if user.email == "matt@lp.com"));
}

async fn deleted_users_and_broken_cookies_are_anonymous(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut c = app.client();
    c.login("jill@lp.com", "password", true).await;
    let jill = app.user("jill@lp.com").await;
    app.security.datastore().delete_user(&jill).await.unwrap();
    let r = c.get("/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("Hello jill@lp.com"));
    for cookie in [
        "remember_token=None",
        "session=garbage",
        "session=v1.AAAA.BBBB; remember_token=x.y.z",
    ] {
        let r = app.client().get_with("/", &[("cookie", cookie)]).await;
        assert_eq!(r.status, StatusCode::OK, "{cookie}");
        assert!(!r.body.contains("Hello "));
        assert!(!r.body.contains("BadSignature"));
    }
}

async fn the_test_helper_signs_a_user_in(backend: Backend) {
    use tower::ServiceExt;
    let app = TestApp::new(&backend, &[]).await;
    let matt = app.user("matt@lp.com").await;
    let req = http::Request::get("/admin")
        .sign_in(&app.security, &matt)
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(
        app.router.clone().oneshot(req).await.unwrap().status(),
        StatusCode::OK
    );
    let req = http::Request::get("/token")
        .with_token(&app.security, &matt)
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(
        app.router.clone().oneshot(req).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(matt.email(), "matt@lp.com");
}

async fn disabled_feature_routes_do_not_exist(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    for path in [
        "/register",
        "/reset",
        "/reset/sometoken",
        "/change",
        "/confirm",
        "/confirm/sometoken",
        "/login/sometoken",
    ] {
        assert_eq!(
            app.client().get(path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // Logout answers GET and POST by default (SECURITY_LOGOUT_METHODS), only those listed
    // otherwise.
    let r = app.client().post_form("/logout", &[]).await;
    r.assert_redirect("/");
    let get_only = TestApp::new(&backend, &[("SECURITY_LOGOUT_METHODS", "GET")]).await;
    let r = get_only.client().post_form("/logout", &[]).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let post_only = TestApp::new(&backend, &[("SECURITY_LOGOUT_METHODS", "POST")]).await;
    let r = post_only.client().get("/logout").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

async fn urls_follow_the_configuration(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            ("SECURITY_URL_PREFIX", "/auth"),
            ("SECURITY_LOGIN_URL", "/custom_login"),
            ("SECURITY_LOGOUT_URL", "/custom_logout"),
            ("SECURITY_POST_LOGIN_VIEW", "/post_login"),
            ("SECURITY_POST_LOGOUT_VIEW", "/page1"),
        ],
    )
    .await;
    let mut c = app.client();
    assert_eq!(c.get("/login").await.status, StatusCode::NOT_FOUND);
    assert!(
        c.get("/auth/custom_login")
            .await
            .body
            .contains("<h1>Login</h1>")
    );
    c.post_form(
        "/auth/custom_login",
        &[("email", "matt@lp.com"), ("password", "password")],
    )
    .await
    .assert_redirect("/post_login");
    c.get("/auth/custom_logout").await.assert_redirect("/page1");
    let r = app.client().get("/profile").await;
    assert!(
        r.location().starts_with("/auth/custom_login?next="),
        "{}",
        r.location()
    );
}

async fn the_identity_cache_is_evicted_by_local_changes(backend: Backend) {
    let app = TestApp::new(&backend, &[("SECURITY_IDENTITY_CACHE_TTL", "60 seconds")]).await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", false).await;
    assert_eq!(c.get("/admin").await.status, StatusCode::OK);
    // CLI-style change through this instance's runtime
    let output = security::cli::run(
        &app.security,
        security::cli::Command::Roles(security::cli::RolesCommand::Remove {
            email: "matt@lp.com".into(),
            role: "admin".into(),
        }),
    )
    .await
    .unwrap();
    assert!(output.contains("removed"));
    assert_eq!(c.get("/admin").await.status, StatusCode::FORBIDDEN);
}

async fn concurrent_guarded_requests_each_get_their_own_user(backend: Backend) {
    use tower::ServiceExt;
    let app = TestApp::new(&backend, &[]).await;
    let mut tasks = Vec::new();
    for n in 0..60 {
        let (email, allowed) = [
            ("matt@lp.com", true),
            ("joe@lp.com", true),
            ("jill@lp.com", false),
            ("dave@lp.com", true),
        ][n % 4];
        let user = app.user(email).await;
        let req = http::Request::get("/admin_or_editor")
            .sign_in(&app.security, &user)
            .body(axum::body::Body::empty())
            .unwrap();
        let router = app.router.clone();
        tasks.push(tokio::spawn(async move {
            let response = router.oneshot(req).await.unwrap();
            let status = response.status();
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            (
                email,
                allowed,
                status,
                String::from_utf8_lossy(&body).into_owned(),
            )
        }));
    }
    for task in tasks {
        let (email, allowed, status, body) = task.await.unwrap();
        if allowed {
            assert_eq!(status, StatusCode::OK, "{email}");
            assert!(body.contains(&format!("Hello {email}")), "{email}: {body}");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{email}");
        }
    }
}

/// Every answer of the guarded routes in one scripted run: sessions and tokens of an admin and
/// of a user without roles, alone and together, by GET and OPTIONS, each request sent twice
/// (the second finds the identity cache warm), then again after a password change, a
/// deactivation, past the token's maximum age and past the session's lifetime, with the
/// cookies as they were first issued.
async fn guarded_answers(app: &TestApp) -> Vec<String> {
    const PATHS: [&str; 10] = [
        "/profile",
        "/admin",
        "/admin_and_editor",
        "/token",
        "/token_admin",
        "/multi_auth",
        "/roles_then_token",
        "/session_and_token",
        "/fresh",
        // A route of its own for OPTIONS: on the others, axum answers it before any guard.
        "/options_admin",
    ];
    let mut sessions = [app.client(), app.client(), app.client()];
    sessions[0].login("matt@lp.com", "password", false).await;
    sessions[1].login("jill@lp.com", "password", false).await;
    let tokens = [
        app.client().token("matt@lp.com", "password").await,
        app.client().token("jill@lp.com", "password").await,
    ];
    let mut answers = Vec::new();
    for phase in [
        "as issued",
        "password changed",
        "deactivated",
        "tokens too old",
        "sessions too old",
    ] {
        match phase {
            "password changed" => app.set_password("matt@lp.com", "new password").await,
            "deactivated" => {
                let deactivate = security::cli::UsersCommand::Deactivate {
                    email: "jill@lp.com".into(),
                };
                security::cli::run(&app.security, security::cli::Command::Users(deactivate))
                    .await
                    .unwrap();
            }
            // SECURITY_TOKEN_MAX_AGE is an hour; PERMANENT_SESSION_LIFETIME 31 days.
            "tokens too old" => app.clock.advance(2 * 3600),
            "sessions too old" => app.clock.advance(32 * 24 * 3600),
            _ => {}
        }
        for path in PATHS {
            // (session: matt, jill or none; token: matt's, jill's or none)
            for (session, token) in [(0, None), (1, None), (2, Some(0)), (2, Some(1))]
                .into_iter()
                .chain([(0, Some(1)), (1, Some(0)), (2, None)])
            {
                for (attempt, method) in [(0, "GET"), (1, "GET"), (2, "OPTIONS")] {
                    let mut request = http::Request::builder().method(method).uri(path);
                    if let Some(t) = token {
                        request = request.header("Authentication-Token", tokens[t].as_str());
                    }
                    let request = request.body(axum::body::Body::empty()).unwrap();
                    // The cookie as first issued, every time (a second tab, a copied
                    // cookie): a session refused once is still presented.
                    let r = sessions[session].clone().send(request).await;
                    let location = r
                        .headers
                        .get(http::header::LOCATION)
                        .map(|v| v.to_str().unwrap().to_owned());
                    answers.push(format!(
                        "{phase}, {method} {path}, session {session}, token {token:?}, #{attempt}: {} {location:?} {}",
                        r.status,
                        r.body_without_csrf()
                    ));
                }
            }
        }
    }
    answers
}

/// With the identity cache on, a guard whose user the cache holds answers without waiting
/// (`Authenticator::passes_cached`); it must decide exactly as the query does: the same
/// script gets the same answers from an app without the cache.
async fn the_identity_cache_changes_no_guards_answer(backend: Backend) {
    const MAX_AGE: (&str, &str) = ("SECURITY_TOKEN_MAX_AGE", "1 hours");
    let uncached = TestApp::new(&backend, &[MAX_AGE]).await;
    let cached = TestApp::new(
        &backend,
        &[MAX_AGE, ("SECURITY_IDENTITY_CACHE_TTL", "1000 days")],
    )
    .await;
    let (expected, got) = (
        guarded_answers(&uncached).await,
        guarded_answers(&cached).await,
    );
    assert_eq!(expected.len(), got.len());
    for (expected, got) in expected.iter().zip(&got) {
        assert_eq!(expected, got);
    }
    // The script reaches every kind of answer the guards give.
    for answer in [
        ": 200 OK",
        ": 302 Found",
        ": 401 Unauthorized",
        ": 403 Forbidden",
    ] {
        assert!(got.iter().any(|a| a.contains(answer)), "{answer}");
    }
}

/// A guard whose user the identity cache holds answers without the database: with the user
/// table gone, the warm guards still pass, and a user not cached gets the 500 of any database
/// failure.
#[tokio::test]
async fn a_warm_identity_cache_answers_without_the_database() {
    use sea_orm::ConnectionTrait as _;
    let app = TestApp::new(
        &Backend::Sqlite,
        &[("SECURITY_IDENTITY_CACHE_TTL", "1000 days")],
    )
    .await;
    let mut c = app.client();
    c.login("matt@lp.com", "password", false).await;
    let mut cold = app.client();
    cold.login("joe@lp.com", "password", false).await;
    let token = app.client().token("matt@lp.com", "password").await;
    let token_header = [("Authentication-Token", token.as_str())];
    let warm = [
        "/profile",
        "/admin",
        "/token",
        "/token_admin",
        "/multi_auth",
    ];
    for path in warm {
        let r = c.get_with(path, &token_header).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
    }
    app.db
        .db
        .execute_unprepared(r#"ALTER TABLE "user" RENAME TO "user_gone""#)
        .await
        .unwrap();
    for path in warm {
        let r = c.get_with(path, &token_header).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    }
    let r = cold.get("/profile").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
}

backend_tests!(
    the_identity_cache_changes_no_guards_answer,
    concurrent_guarded_requests_each_get_their_own_user,
    login_page_has_the_form,
    form_login_starts_a_session,
    login_honours_a_safe_next_and_refuses_others,
    a_spoofed_host_never_yields_an_off_site_location,
    login_refusals_follow_1_7_4_order_and_messages,
    generic_responses_hide_which_accounts_exist,
    json_login_answers_in_1_7_4_shape,
    json_login_errors_use_the_envelope,
    bad_bodies_get_client_errors,
    remember_me_restores_the_session,
    without_remember_closing_the_browser_logs_out,
    logout_ends_the_session_and_forgets_remember_me,
    login_required_redirects_with_next_and_flash,
    login_disabled_lets_login_required_through,
    roles_required_and_accepted,
    unauthorized_view_gets_a_redirect_and_flash,
    token_auth_by_header_query_and_json,
    tokens_carry_no_password_digest,
    basic_auth,
    auth_required_accepts_any_listed_method,
    inactive_users_are_refused_on_every_path,
    a_password_change_ends_sessions_and_tokens_on_every_instance,
    rotating_the_uniquifier_logs_out_everywhere,
    login_gives_a_new_session_value,
    unchanged_sessions_are_not_re_signed,
    secure_cookie_flags_are_configurable,
    csrf_protects_forms_and_session_json,
    tracking_records_logins_from_the_peer_address,
    login_and_logout_emit_events,
    deleted_users_and_broken_cookies_are_anonymous,
    the_test_helper_signs_a_user_in,
    disabled_feature_routes_do_not_exist,
    urls_follow_the_configuration,
    the_identity_cache_is_evicted_by_local_changes,
);

#[tokio::test]
async fn build_refuses_features_the_user_model_cannot_hold() {
    // The documentation's user model has `confirmed_at` but no tracking fields.
    let db = security_tests::TestDb::new(&Backend::Sqlite).await;
    let config = security::Config::from_vars([
        ("SECRET_KEY", "test-secret-key-0123456789"),
        ("SECURITY_TRACKABLE", "true"),
    ])
    .unwrap();
    let err = security::Security::<security::doc_support::User>::builder(db.db.clone(), config)
        .build()
        .await
        .unwrap_err()
        .to_string();
    for field in [
        "SECURITY_TRACKABLE",
        "last_login_at",
        "current_login_at",
        "last_login_ip",
        "current_login_ip",
        "login_count",
    ] {
        assert!(err.contains(field), "{field} missing from: {err}");
    }
    // An unknown scheme is refused as soon as the configuration is read.
    let err = security::Config::from_vars([
        ("SECRET_KEY", "test-secret-key-0123456789"),
        ("SECURITY_PASSWORD_HASH", "bogus"),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("SECURITY_PASSWORD_HASH"), "{err}");
}
