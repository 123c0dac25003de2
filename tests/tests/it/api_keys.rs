//! API keys (`SECURITY_API_KEYS`): creating (fresh, shown once, digest at rest), listing,
//! revoking, Bearer authentication of `"api_key"` routes only (never fresh, never the account
//! views), refusals of malformed keys without a query, revoked and expired keys, events and the
//! command line.

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{Value, json};

use security::schema::api_key;
use security::{CurrentUser, Event, auth_required};
use security_tests::{Backend, Client, TestApp, User, backend_tests};

use crate::common::{assert_flash, drain};

const ON: &[(&str, &str)] = &[
    ("SECURITY_API_KEYS", "true"),
    ("SECURITY_CHANGEABLE", "true"),
];

const INVALID: &str = "Invalid or expired API key.";

#[auth_required("api_key")]
async fn api(user: CurrentUser<User>) -> String {
    format!("API {}", user.email)
}

#[auth_required("token", "api_key")]
async fn token_or_key(user: CurrentUser<User>) -> String {
    format!("Token or key {}", user.email)
}

#[auth_required("api_key", "session", within = "1 hours")]
async fn api_fresh() -> &'static str {
    "Fresh API"
}

/// The test app with `vars`, plus routes guarded with `"api_key"`.
async fn app_with(backend: &Backend, vars: &[(&str, &str)]) -> TestApp {
    let mut app = TestApp::new(backend, vars).await;
    app.router = Router::new()
        .route("/api", get(api))
        .route("/token_or_key", get(token_or_key))
        .route("/api_fresh", get(api_fresh))
        .layer(app.security.layer())
        .merge(security_tests::router(&app.security));
    app
}

async fn app(backend: &Backend) -> TestApp {
    app_with(backend, ON).await
}

async fn logged_in(app: &TestApp, email: &str) -> Client {
    let mut c = app.client();
    let r = c.login(email, "password", false).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    c
}

/// Creates a key in JSON; its answer's `api_key` object.
async fn create(c: &mut Client, body: Value) -> Value {
    let r = c.post_json("/api-keys", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.answer()["response"]["api_key"].clone()
}

async fn bearer(app: &TestApp, path: &str, key: &str) -> security_tests::Resp {
    app.client()
        .get_with(path, &[("Authorization", &format!("Bearer {key}"))])
        .await
}

async fn bearer_json(app: &TestApp, path: &str, key: &str) -> security_tests::Resp {
    app.client()
        .get_with(
            path,
            &[
                ("Authorization", &format!("Bearer {key}")),
                ("Accept", "application/json"),
            ],
        )
        .await
}

async fn rows(app: &TestApp) -> Vec<api_key::Model> {
    api_key::Entity::find().all(&app.db.db).await.expect("rows")
}

async fn created_is_shown_once_listed_without_secret_and_stored_as_a_digest(backend: Backend) {
    let app = app(&backend).await;
    let mut events = app.security.subscribe();
    let mut c = logged_in(&app, "matt@lp.com").await;
    let created = create(&mut c, json!({ "name": "ci", "expires_in": "30 days" })).await;
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("fsk_{id}_")), "{key}");
    assert_eq!(created["name"], "ci");
    assert_eq!(created["start"], format!("fsk_{id}"));
    assert!(created["expires_at"].is_string(), "{created}");

    // The list: the key's name and start, never the key.
    let r = c
        .get_with("/api-keys", &[("Accept", "application/json")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = r.answer()["response"]["api_keys"].clone();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["name"], "ci");
    assert_eq!(list[0]["id"], id.as_str());
    let secret = &key[4 + 16 + 1..];
    assert!(!r.body.contains(secret), "{}", r.body);
    // The HTML list neither.
    let page = c.get("/api-keys").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("ci") && !page.body.contains(secret),
        "{}",
        page.body
    );

    // At rest: a digest, no part of the secret.
    let stored = rows(&app).await;
    assert_eq!(stored.len(), 1);
    let row = &stored[0];
    assert_eq!(row.id, id);
    assert_eq!(row.user_id, app.user("matt@lp.com").await.id.to_string());
    for column in [&row.id, &row.name, &row.digest, &row.user_id] {
        assert!(
            !column.contains(secret) && !column.contains(&key),
            "{column}"
        );
    }
    assert_ne!(row.digest, secret);

    let created_events: Vec<_> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            Event::ApiKeyCreated { user, id, name } => Some((user.email, id, name)),
            _ => None,
        })
        .collect();
    assert_eq!(
        created_events,
        [("matt@lp.com".to_owned(), id, "ci".to_owned())]
    );
}

async fn a_key_authenticates_only_routes_that_name_api_key(backend: Backend) {
    let app = app(&backend).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    let key = create(&mut c, json!({ "name": "ci" })).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = bearer(&app, "/api", &key).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::OK, "API matt@lp.com")
    );
    let r = bearer(&app, "/token_or_key", &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Session-only, token-only and the other mechanisms' routes.
    let r = bearer(&app, "/profile", &key).await;
    assert_eq!(r.status, StatusCode::FOUND, "login_required: {}", r.body);
    assert!(r.location().starts_with("/login"), "{}", r.location());
    for path in ["/token", "/multi_auth", "/http"] {
        let r = bearer(&app, path, &key).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {}", r.body);
    }
    // The account views read the session only.
    for path in ["/change", "/verify", "/api-keys"] {
        let r = bearer(&app, path, &key).await;
        assert_eq!(r.status, StatusCode::FOUND, "{path}: {}", r.body);
        assert!(
            r.location().starts_with("/login"),
            "{path}: {}",
            r.location()
        );
    }
    let mut keyed = app.client();
    let r = keyed
        .send(
            http::Request::post("/api-keys")
                .header("Authorization", format!("Bearer {key}"))
                .header("Content-Type", "application/json")
                .body(axum::body::Body::from(
                    json!({ "name": "more" }).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_ne!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(rows(&app).await.len(), 1, "no key made with a key");

    // Never fresh: a `within` route refuses it (and the session beside it is fresh).
    let r = bearer_json(&app, "/api_fresh", &key).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(r.json()["response"]["reauth_required"], true, "{}", r.body);
    let r = c.get("/api_fresh").await;
    assert_eq!(r.status, StatusCode::OK, "the session is fresh: {}", r.body);
}

async fn creating_needs_a_fresh_authentication(backend: Backend) {
    let app = app(&backend).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    app.clock.advance(2 * 86_400);
    let r = c.post_json("/api-keys", json!({ "name": "ci" })).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(r.json()["response"]["reauth_required"], true);
    let r = c.post_form("/api-keys", &[("name", "ci")]).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), "/verify?next=/api-keys");
    assert!(rows(&app).await.is_empty());
    // Verified again: created.
    let r = c.post_form("/verify", &[("password", "password")]).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    create(&mut c, json!({ "name": "ci" })).await;
}

async fn malformed_keys_are_refused_without_a_query(backend: Backend) {
    let app = app(&backend).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    let key = create(&mut c, json!({ "name": "ci" })).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    // Without the table, any query for a key fails (500): a refusal that answers 401 made none.
    app.db
        .db
        .execute_unprepared("DROP TABLE security_api_key")
        .await
        .expect("drop");
    let last = key.chars().last().unwrap();
    let wrong_checksum = format!(
        "{}{}",
        &key[..key.len() - 1],
        if last == 'a' { 'b' } else { 'a' }
    );
    let wrong_prefix = format!("ghp{}", &key[3..]);
    for bad in [
        wrong_prefix.as_str(),
        wrong_checksum.as_str(),
        "fsk_short",
        "not a key",
    ] {
        let r = bearer_json(&app, "/api", bad).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad}: {}", r.body);
        assert_eq!(
            r.json()["response"]["errors"],
            json!([INVALID]),
            "{}",
            r.body
        );
        let r = bearer(&app, "/api", bad).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (StatusCode::UNAUTHORIZED, INVALID)
        );
        assert!(
            r.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    // A well-formed key is looked up: here the missing table is an error (never a panic).
    let r = bearer(&app, "/api", &key).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
}

async fn revoked_expired_and_deactivated_keys_are_refused(backend: Backend) {
    let app = app(&backend).await;
    let mut events = app.security.subscribe();
    let mut c = logged_in(&app, "matt@lp.com").await;
    let a = create(&mut c, json!({ "name": "a" })).await;
    let b = create(&mut c, json!({ "name": "b", "expires_in": "1 hours" })).await;
    let (a_key, b_key) = (a["key"].as_str().unwrap(), b["key"].as_str().unwrap());
    assert_eq!(bearer(&app, "/api", a_key).await.status, StatusCode::OK);
    assert_eq!(bearer(&app, "/api", b_key).await.status, StatusCode::OK);

    let id = a["id"].as_str().unwrap();
    let r = c
        .post_json(&format!("/api-keys/{id}/revoke"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.answer()["response"]["api_key"]["revoked_at"].is_string());
    let r = bearer_json(&app, "/api", a_key).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "revoked: {}", r.body);
    assert_eq!(r.json()["response"]["errors"], json!([INVALID]));
    let revoked: Vec<_> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            Event::ApiKeyRevoked { id, name, .. } => Some((id, name)),
            _ => None,
        })
        .collect();
    assert_eq!(revoked, [(id.to_owned(), "a".to_owned())]);
    // A revoked key's name may be used again.
    create(&mut c, json!({ "name": "a" })).await;

    // Expired, by the app's clock.
    app.clock.advance(3_601);
    let r = bearer(&app, "/api", b_key).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "expired: {}", r.body);

    // A key stops working when its user is deactivated.
    let mut c = logged_in(&app, "joe@lp.com").await;
    let joe_key = create(&mut c, json!({ "name": "j" })).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(bearer(&app, "/api", &joe_key).await.status, StatusCode::OK);
    let joe = app.user("joe@lp.com").await;
    app.security
        .datastore()
        .deactivate_user(&joe)
        .await
        .expect("deactivate");
    app.security.forget_identity(&joe.id);
    let r = bearer(&app, "/api", &joe_key).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "inactive: {}", r.body);
}

async fn another_users_key_cannot_be_revoked(backend: Backend) {
    let app = app(&backend).await;
    let mut matt = logged_in(&app, "matt@lp.com").await;
    let created = create(&mut matt, json!({ "name": "ci" })).await;
    let (id, key) = (
        created["id"].as_str().unwrap(),
        created["key"].as_str().unwrap(),
    );
    let mut joe = logged_in(&app, "joe@lp.com").await;
    let r = joe
        .post_json(&format!("/api-keys/{id}/revoke"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(r.json()["response"]["errors"], json!(["No such API key."]));
    let r = joe.post_form(&format!("/api-keys/{id}/revoke"), &[]).await;
    assert_eq!(r.status, StatusCode::FOUND);
    let page = joe.get("/api-keys").await;
    assert_flash(&page.body, "error", "No such API key.");
    assert!(rows(&app).await[0].revoked_at.is_none());
    assert_eq!(bearer(&app, "/api", key).await.status, StatusCode::OK);
    // Without CSRF, a session's revoke is refused.
    let r = matt
        .clone()
        .without_csrf()
        .post_form(&format!("/api-keys/{id}/revoke"), &[])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(rows(&app).await[0].revoked_at.is_none());
}

async fn bad_input_is_a_form_error_and_changes_nothing(backend: Backend) {
    let app = app(&backend).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    create(&mut c, json!({ "name": "ci" })).await;
    for (body, field, message) in [
        (
            json!({ "name": " " }),
            "name",
            "Give the key a name of at most 64 characters.",
        ),
        (
            json!({ "name": "x".repeat(65) }),
            "name",
            "Give the key a name of at most 64 characters.",
        ),
        (
            json!({ "name": "ci" }),
            "name",
            "You already have an API key named ci.",
        ),
        (
            json!({ "name": "new", "expires_in": "soon" }),
            "expires_in",
            "Invalid expiry: give a duration such as \"30 days\" or a future date and time.",
        ),
        (
            json!({ "name": "new", "expires_at": "2001-01-01T00:00:00Z" }),
            "expires_at",
            "Invalid expiry: give a duration such as \"30 days\" or a future date and time.",
        ),
    ] {
        let r = c.post_json("/api-keys", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        let response = &r.json()["response"];
        assert_eq!(
            response["field_errors"][field],
            json!([message]),
            "{}",
            r.body
        );
        assert_eq!(response["errors"], json!([message]));
    }
    let r = c
        .post_form("/api-keys", &[("name", "ci"), ("expires_in", "")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("You already have an API key named ci."),
        "{}",
        r.body
    );
    assert_eq!(rows(&app).await.len(), 1, "nothing written");
}

async fn the_page_creates_shows_once_and_revokes(backend: Backend) {
    let app = app(&backend).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    let page = c.get("/api-keys").await;
    assert!(page.body.contains("name=\"api_key_form\""), "{}", page.body);
    let r = c
        .post_form("/api-keys", &[("name", "deploy"), ("expires_in", "7 days")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_flash(
        &r.body,
        "success",
        "API key deploy created. Copy it now: it will not be shown again.",
    );
    let row = rows(&app).await.remove(0);
    let start = format!("fsk_{}_", row.id);
    let shown = r.body.split(&start).nth(1).expect("the key is shown");
    let key = format!("{start}{}", &shown[..38]);
    assert_eq!(bearer(&app, "/api", &key).await.status, StatusCode::OK);
    let again = c.get("/api-keys").await;
    assert!(!again.body.contains(&key), "shown once only");
    let r = c
        .post_form(&format!("/api-keys/{}/revoke", row.id), &[])
        .await;
    assert_eq!(r.status, StatusCode::FOUND);
    let page = c.get("/api-keys").await;
    assert_flash(&page.body, "info", "API key deploy revoked.");
    assert_eq!(
        bearer(&app, "/api", &key).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn last_use_is_recorded_at_most_once_a_minute(backend: Backend) {
    let app = app(&backend).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    let key = create(&mut c, json!({ "name": "ci" })).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(rows(&app).await[0].last_used_at, None);
    bearer(&app, "/api", &key).await;
    let first = rows(&app).await[0].last_used_at.expect("recorded");
    app.clock.advance(30);
    bearer(&app, "/api", &key).await;
    assert_eq!(rows(&app).await[0].last_used_at, Some(first), "not again");
    app.clock.advance(31);
    bearer(&app, "/api", &key).await;
    assert!(rows(&app).await[0].last_used_at.unwrap() >= first + 60);
}

async fn cli_lists_and_revokes_and_revoke_all_ends_every_key(backend: Backend) {
    use security::cli::{ApiKeysCommand, Command, run};
    let app = app(&backend).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    let one = create(&mut c, json!({ "name": "one" })).await;
    let two = create(&mut c, json!({ "name": "two" })).await;
    let out = run(
        &app.security,
        Command::ApiKeys(ApiKeysCommand::List {
            email: "matt@lp.com".into(),
        }),
    )
    .await
    .expect("list");
    assert!(out.contains("one") && out.contains("two"), "{out}");
    assert!(!out.contains(one["key"].as_str().unwrap()), "{out}");
    let out = run(
        &app.security,
        Command::ApiKeys(ApiKeysCommand::Revoke {
            email: "matt@lp.com".into(),
            key: "one".into(),
        }),
    )
    .await
    .expect("revoke");
    assert!(out.contains("has been revoked"), "{out}");
    let bad = bearer(&app, "/api", one["key"].as_str().unwrap()).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let err = run(
        &app.security,
        Command::ApiKeys(ApiKeysCommand::Revoke {
            email: "matt@lp.com".into(),
            key: "one".into(),
        }),
    )
    .await
    .expect_err("already revoked");
    assert_eq!(err.to_string(), "no such API key");
    // By id too.
    let two_id = two["id"].as_str().unwrap();
    assert!(
        app.security
            .revoke_api_key(&app.user("matt@lp.com").await, two_id)
            .await
            .is_ok()
    );
    let three = create(&mut c, json!({ "name": "three" })).await;
    let revoked = app
        .security
        .revoke_all_api_keys(&app.user("matt@lp.com").await)
        .await
        .expect("revoke all");
    assert_eq!(revoked.len(), 1);
    let r = bearer(&app, "/api", three["key"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // `users reset-access` ends the keys with everything else.
    let four = create(&mut c, json!({ "name": "four" })).await;
    let key = four["key"].as_str().unwrap();
    assert_eq!(bearer(&app, "/api", key).await.status, StatusCode::OK);
    run(
        &app.security,
        Command::Users(security::cli::UsersCommand::ResetAccess {
            email: "matt@lp.com".into(),
        }),
    )
    .await
    .expect("reset-access");
    assert_eq!(
        bearer(&app, "/api", key).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn off_by_default(backend: Backend) {
    let app = app_with(&backend, &[]).await;
    let mut c = logged_in(&app, "matt@lp.com").await;
    assert_eq!(c.get("/api-keys").await.status, StatusCode::NOT_FOUND);
    let r = c.post_json("/api-keys", json!({ "name": "ci" })).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = bearer(
        &app,
        "/api",
        "fsk_0000000000000000_00000000000000000000000000000000000000",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        !security::schema::needed_tables(&security::Config::default())
            .contains(&"security_api_key")
    );
    // Nothing to revoke, and no table needed to say so.
    app.db
        .db
        .execute_unprepared("DROP TABLE security_api_key")
        .await
        .expect("drop");
    let none = app
        .security
        .revoke_all_api_keys(&app.user("matt@lp.com").await)
        .await
        .expect("no table, no keys");
    assert!(none.is_empty());
}

backend_tests!(
    created_is_shown_once_listed_without_secret_and_stored_as_a_digest,
    a_key_authenticates_only_routes_that_name_api_key,
    creating_needs_a_fresh_authentication,
    malformed_keys_are_refused_without_a_query,
    revoked_expired_and_deactivated_keys_are_refused,
    another_users_key_cannot_be_revoked,
    bad_input_is_a_form_error_and_changes_nothing,
    the_page_creates_shows_once_and_revokes,
    last_use_is_recorded_at_most_once_a_minute,
    cli_lists_and_revokes_and_revoke_all_ends_every_key,
    off_by_default,
);
