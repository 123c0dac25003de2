//! The OpenAPI document (`Security::openapi`, `SECURITY_OPENAPI_URL`): its (method, path) set
//! is the router's, observed by requesting the router itself, for several configurations; it
//! is an OpenAPI 3.1 document by structure; disabled views are absent, custom URLs present;
//! its security schemes follow the configuration; the served URL answers when set only.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use security::Config;
use security_tests::{Backend, TestApp};

/// An answer no security view gives: the router had no route for the path.
const NO_ROUTE: StatusCode = StatusCode::IM_A_TEAPOT;
/// An answer no security view gives: the path has a route, not for this method.
const NO_METHOD: StatusCode = StatusCode::LOOP_DETECTED;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

const EVERYTHING: &[(&str, &str)] = &[
    ("SECURITY_REGISTERABLE", "true"),
    ("SECURITY_RECOVERABLE", "true"),
    ("SECURITY_CHANGEABLE", "true"),
    ("SECURITY_CONFIRMABLE", "true"),
    ("SECURITY_LOCKABLE", "true"),
    ("SECURITY_FRESHNESS", "10 minutes"),
    ("SECURITY_CHANGE_EMAIL", "true"),
    ("SECURITY_API_KEYS", "true"),
    ("SECURITY_USERNAME_ENABLE", "true"),
    ("SECURITY_CHANGE_USERNAME", "true"),
    ("SECURITY_SIGN_OUT_EVERYWHERE", "true"),
    ("SECURITY_REFRESH_TOKEN", "true"),
    ("SECURITY_OPENAPI_URL", "/openapi.json"),
];

const CUSTOM: &[(&str, &str)] = &[
    ("SECURITY_URL_PREFIX", "/auth"),
    ("SECURITY_LOGIN_URL", "/sign-in"),
    ("SECURITY_LOGOUT_URL", "/sign-out"),
    ("SECURITY_REGISTERABLE", "true"),
    ("SECURITY_REGISTER_URL", "/sign-up"),
    ("SECURITY_RECOVERABLE", "true"),
    ("SECURITY_RESET_URL", "/forgot"),
    ("SECURITY_API_KEYS", "true"),
    ("SECURITY_API_KEYS_URL", "/keys"),
    ("SECURITY_OPENAPI_URL", "/api.json"),
];

/// Token-only clients: passwordless login, logout by POST only, no CSRF, the refresh token in
/// the JSON body, tokens never in the query string, API keys.
const TOKENS: &[(&str, &str)] = &[
    ("SECURITY_PASSWORDLESS", "true"),
    ("SECURITY_LOGOUT_METHODS", "POST"),
    ("WTF_CSRF_ENABLED", "false"),
    ("SECURITY_REFRESH_TOKEN", "true"),
    ("SECURITY_REFRESH_TOKEN_COOKIE_NAME", "none"),
    ("SECURITY_TOKEN_IN_QUERY", "false"),
    ("SECURITY_API_KEYS", "true"),
    ("SECURITY_SIGN_OUT_EVERYWHERE", "true"),
];

async fn app(vars: &[(&str, &str)]) -> TestApp {
    TestApp::new(&Backend::Sqlite, vars).await
}

fn document(app: &TestApp) -> Value {
    serde_json::from_str(&app.security.openapi_json()).expect("the document is JSON")
}

/// The document's (method, path) pairs, methods upper-case.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if METHODS.contains(&method.to_ascii_uppercase().as_str()) {
                out.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// The security router alone, with distinct answers for "no route" and "no such method".
fn security_only(app: &TestApp) -> Router {
    Router::new()
        .merge(app.security.router())
        .fallback(|| async { NO_ROUTE })
        .method_not_allowed_fallback(|| async { NO_METHOD })
        .layer(app.security.layer())
}

/// Every path a security view can have under `config`, with `x` for a parameter, and the
/// template the document would give it.
fn candidates(config: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |base: String| {
        out.push((base.clone(), base.clone()));
        out.push((format!("{base}/x"), format!("{base}/{{token}}")));
    };
    add(config.login_path());
    add(config.logout_path());
    add(config.register_path());
    add(config.reset_path());
    add(config.change_path());
    add(config.confirm_path());
    add(config.unlock_path());
    add(config.verify_path());
    add(config.change_email_path());
    add(config.change_username_path());
    add(config.sign_out_everywhere_path());
    add(config.refresh_token_path());
    let keys = config.api_keys_path();
    out.push((keys.clone(), keys.clone()));
    out.push((format!("{keys}/x"), format!("{keys}/{{id}}")));
    out.push((format!("{keys}/x/revoke"), format!("{keys}/{{id}}/revoke")));
    out.push(("/openapi.json".into(), "/openapi.json".into()));
    let stylesheet = config.stylesheet_path();
    out.push((stylesheet.clone(), stylesheet));
    if let Some(path) = config.openapi_path() {
        out.push((path.clone(), path));
    }
    out
}

/// The (method, template) pairs the router answers, found by requesting every candidate with
/// every method.
async fn routed(app: &TestApp) -> BTreeSet<(String, String)> {
    let router = security_only(app);
    let mut out = BTreeSet::new();
    for (path, template) in candidates(app.security.config()) {
        for method in METHODS {
            let request = Request::builder()
                .method(method)
                .uri(&path)
                .header("Content-Type", "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let status = router.clone().oneshot(request).await.unwrap().status();
            if status != NO_ROUTE && status != NO_METHOD {
                out.insert((method.to_owned(), template.clone()));
            }
        }
    }
    out
}

async fn assert_same_routes(vars: &[(&str, &str)]) -> (TestApp, Value) {
    let app = app(vars).await;
    let doc = document(&app);
    let documented = operations(&doc);
    assert!(!documented.is_empty());
    let routed = routed(&app).await;
    assert_eq!(
        documented, routed,
        "the document and the router disagree under {vars:?}"
    );
    (app, doc)
}

#[tokio::test]
async fn the_document_has_the_routes_of_the_router_by_default() {
    let (_, doc) = assert_same_routes(&[]).await;
    let ops = operations(&doc);
    assert!(ops.contains(&("POST".into(), "/login".into())));
    assert!(ops.contains(&("GET".into(), "/logout".into())));
    assert!(ops.contains(&("POST".into(), "/logout".into())));
    // `SECURITY_FRESHNESS` is on by default: the re-authentication view.
    assert!(ops.contains(&("POST".into(), "/verify".into())));
    // The default pages' stylesheet.
    assert!(ops.contains(&("GET".into(), "/fs-static/security.css".into())));
    assert_eq!(ops.len(), 7, "{ops:?}");
}

#[tokio::test]
async fn the_document_has_the_routes_of_the_router_with_every_feature() {
    let (_, doc) = assert_same_routes(EVERYTHING).await;
    let ops = operations(&doc);
    for (method, path) in [
        ("POST", "/register"),
        ("POST", "/reset/{token}"),
        ("GET", "/confirm/{token}"),
        ("GET", "/unlock/{token}"),
        ("POST", "/verify"),
        ("GET", "/change-email/{token}"),
        ("DELETE", "/api-keys/{id}"),
        ("POST", "/api-keys/{id}/revoke"),
        ("POST", "/change-username"),
        ("POST", "/sign-out-everywhere"),
        ("POST", "/refresh-token"),
        ("GET", "/openapi.json"),
    ] {
        assert!(
            ops.contains(&(method.into(), path.into())),
            "{method} {path} missing from {ops:?}"
        );
    }
}

#[tokio::test]
async fn the_document_has_the_routes_of_the_router_at_custom_urls() {
    let (_, doc) = assert_same_routes(CUSTOM).await;
    let paths: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        paths,
        BTreeSet::from([
            "/auth/sign-in",
            "/auth/sign-out",
            "/auth/sign-up",
            "/auth/fs-static/security.css",
            "/auth/verify",
            "/auth/forgot",
            "/auth/forgot/{token}",
            "/auth/keys",
            "/auth/keys/{id}",
            "/auth/keys/{id}/revoke",
            "/auth/api.json",
        ])
    );
}

#[tokio::test]
async fn the_document_has_the_routes_of_the_router_for_token_clients() {
    let (_, doc) = assert_same_routes(TOKENS).await;
    let ops = operations(&doc);
    assert!(!ops.contains(&("GET".into(), "/logout".into())));
    assert!(ops.contains(&("GET".into(), "/login/{token}".into())));
    // Without CSRF, no CSRF header nor field is described.
    let login = &doc["paths"]["/login"]["post"];
    assert!(login["parameters"].is_null(), "{login}");
    let body = &login["requestBody"]["content"]["application/json"]["schema"];
    assert!(body["properties"]["csrf_token"].is_null());
    assert_eq!(body["required"], serde_json::json!(["email"]));
    // The refresh token travels in the body.
    let refresh = &doc["paths"]["/refresh-token"]["post"]["requestBody"]["content"];
    assert_eq!(
        refresh["application/json"]["schema"]["required"],
        serde_json::json!(["refresh_token"])
    );
}

#[tokio::test]
async fn disabled_views_are_absent() {
    let app = app(&[]).await;
    let doc = document(&app);
    let paths = doc["paths"].as_object().unwrap();
    for absent in [
        "/register",
        "/reset",
        "/change",
        "/confirm",
        "/api-keys",
        "/refresh-token",
        "/openapi.json",
    ] {
        assert!(!paths.contains_key(absent), "{absent} is documented");
    }
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert!(!schemes.contains_key("api_key"));
    assert!(!schemes.contains_key("refresh_cookie"));
}

#[tokio::test]
async fn the_document_is_openapi_3_1() {
    let app = app(EVERYTHING).await;
    let doc = document(&app);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(
        doc["info"]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    // Parsed back by utoipa's own types.
    let parsed: security::utoipa::openapi::OpenApi =
        serde_json::from_value(doc.clone()).expect("utoipa reads it back");
    assert_eq!(
        parsed.paths.paths.len(),
        doc["paths"].as_object().unwrap().len()
    );
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(path.starts_with('/'), "{path}");
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().expect("an operationId");
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            let responses = op["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{method} {path} has no responses");
            for (status, response) in responses {
                assert!(status.parse::<u16>().is_ok(), "{status}");
                assert!(
                    response["description"].is_string(),
                    "{method} {path} {status}"
                );
            }
            // Every path parameter is declared.
            for segment in path.split('/') {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    let declared = op["parameters"].as_array().is_some_and(|ps| {
                        ps.iter().any(|p| {
                            p["name"] == name && p["in"] == "path" && p["required"] == true
                        })
                    });
                    assert!(declared, "{method} {path}: {name} is not declared");
                }
            }
            // Every `$ref` names a schema of the components.
            for content in responses.values().filter_map(|r| r["content"].as_object()) {
                for media in content.values() {
                    if let Some(target) = media["schema"]["$ref"].as_str() {
                        let name = target.strip_prefix("#/components/schemas/").unwrap();
                        assert!(doc["components"]["schemas"][name].is_object(), "{target}");
                    }
                }
            }
        }
    }
    // The forms: JSON and form-encoded, the fields as the views read them, CSRF.
    let change = &doc["paths"]["/change"]["post"];
    for media in ["application/json", "application/x-www-form-urlencoded"] {
        let schema = &change["requestBody"]["content"][media]["schema"];
        for field in [
            "password",
            "new_password",
            "new_password_confirm",
            "csrf_token",
        ] {
            assert!(schema["properties"][field].is_object(), "{media} {field}");
        }
    }
    assert!(
        change["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "X-CSRFToken" && p["in"] == "header")
    );
    // The answers of the login form, the guards and the rate limits.
    let login = &doc["paths"]["/login"]["post"]["responses"];
    for status in ["200", "302", "400", "429"] {
        assert!(login[status].is_object(), "login {status}");
    }
    assert!(login["429"]["headers"]["Retry-After"].is_object());
    for status in ["401", "403"] {
        assert!(change["responses"][status].is_object(), "change {status}");
    }
    let envelope = &doc["components"]["schemas"]["Envelope"];
    assert_eq!(
        envelope["required"],
        serde_json::json!(["meta", "response"])
    );
}

#[tokio::test]
async fn the_security_schemes_follow_the_config() {
    let app = app(&[
        ("SECURITY_API_KEYS", "true"),
        ("SECURITY_REFRESH_TOKEN", "true"),
        ("SESSION_COOKIE_NAME", "my_session"),
        ("SECURITY_TOKEN_AUTHENTICATION_HEADER", "X-Auth"),
        ("SECURITY_TOKEN_AUTHENTICATION_KEY", "tok"),
        ("SECURITY_REFRESH_TOKEN_COOKIE_NAME", "my_refresh"),
    ])
    .await;
    let doc = document(&app);
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "my_session");
    assert_eq!(schemes["token_header"]["in"], "header");
    assert_eq!(schemes["token_header"]["name"], "X-Auth");
    assert_eq!(schemes["token_query"]["in"], "query");
    assert_eq!(schemes["token_query"]["name"], "tok");
    assert_eq!(schemes["basic"]["scheme"], "basic");
    assert_eq!(schemes["api_key"]["scheme"], "bearer");
    assert_eq!(schemes["refresh_cookie"]["name"], "my_refresh");

    let app = self::app(&[("SECURITY_TOKEN_IN_QUERY", "false")]).await;
    let doc = document(&app);
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert!(!schemes.contains_key("token_query"));
    assert!(!schemes.contains_key("api_key"));
}

#[tokio::test]
async fn the_document_is_served_when_its_url_is_set() {
    let app = app(&[("SECURITY_OPENAPI_URL", "/openapi.json")]).await;
    let mut c = app.client();
    let r = c.get("/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/json");
    let served: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(served, document(&app));
    assert!(served["paths"]["/openapi.json"]["get"].is_object());

    let app = self::app(&[]).await;
    let r = app.client().get("/openapi.json").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[test]
fn the_url_is_checked_like_the_other_urls() {
    let vars = |url: &'static str| {
        [
            ("SECRET_KEY", "test-secret-key-0123456789"),
            ("SECURITY_OPENAPI_URL", url),
        ]
    };
    let err = Config::from_vars(vars("openapi.json"))
        .and_then(|c| c.validate().map(|_| c))
        .unwrap_err();
    assert!(err.to_string().contains("SECURITY_OPENAPI_URL"), "{err}");
    let err = Config::from_vars(vars("/login"))
        .and_then(|c| c.validate().map(|_| c))
        .unwrap_err();
    assert!(err.to_string().contains("SECURITY_OPENAPI_URL"), "{err}");
    let config = Config::from_vars(vars("/openapi.json")).unwrap();
    config.validate().unwrap();
    assert_eq!(config.openapi_path().as_deref(), Some("/openapi.json"));
}
