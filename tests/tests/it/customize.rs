//! The customisation example (`examples/custom-views`): own templates, context processors,
//! extra registration fields, a message of the app's own.

use axum::Router;
use custom_views::entities::{role, roles_users, user};
use http::StatusCode;
use sea_orm::{ConnectionTrait, Database, Schema};
use security::NewUser;
use security::mail::FileTransport;
use security_tests::Client;

struct App {
    security: security::Security<custom_views::User>,
    router: Router,
    mail: tempfile::TempDir,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/custom.db?mode=rwc", dir.path().display());
    let db = Database::connect(&url).await.unwrap();
    let schema = Schema::new(db.get_database_backend());
    for mut table in [
        schema.create_table_from_entity(user::Entity),
        schema.create_table_from_entity(role::Entity),
        schema.create_table_from_entity(roles_users::Entity),
    ] {
        db.execute(table.if_not_exists()).await.unwrap();
    }
    security::schema::create_tables(&db).await.unwrap();
    let mail = tempfile::tempdir().unwrap();
    let config = security::Config::from_vars([
        ("SECRET_KEY", "test-secret-key-0123456789"),
        ("SECURITY_ALLOWED_HOSTS", "localhost"),
    ])
    .unwrap();
    let security = custom_views::security(db, config, FileTransport::new(mail.path()))
        .await
        .unwrap();
    security
        .datastore()
        .create_user(
            NewUser::new("ann@example.com", Some("password"))
                .field("first_name", "Ann")
                .field("last_name", "Smith"),
        )
        .await
        .unwrap();
    let router = Router::new()
        .merge(security.router())
        .layer(security.layer());
    App {
        security,
        router,
        mail,
        _dir: dir,
    }
}

/// A client that reads the CSRF token from the example's login page.
fn client(app: &App) -> Client {
    security_tests::client_for(app.router.clone()).with_token_page("/login")
}

#[tokio::test]
async fn the_app_login_template_replaces_the_default_and_sees_both_processors() {
    let app = app().await;
    let r = client(&app).get("/login").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Sign in to Example Site"), "{}", r.body);
    assert!(r.body.contains("Welcome back"), "{}", r.body);
    assert!(r.body.contains("Your e-mail"));
}

#[tokio::test]
async fn an_app_message_replaces_the_default_text() {
    let app = app().await;
    let r = client(&app).login("ann@example.com", "wrong", false).await;
    assert!(r.body.contains("That password is not right"), "{}", r.body);
    assert!(!r.body.contains("Invalid password"));
}

#[tokio::test]
async fn extra_registration_fields_are_shown_validated_and_stored() {
    let app = app().await;
    let mut c = client(&app);
    let page = c.get("/register").await;
    assert!(page.body.contains("name=\"first_name\""), "{}", page.body);
    assert!(page.body.contains("Last Name"));
    let r = c
        .post_form(
            "/register",
            &[
                ("email", "bob@example.com"),
                ("password", "password"),
                ("password_confirm", "password"),
                ("last_name", "Jones"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("First name not provided"), "{}", r.body);
    let store = app.security.datastore();
    assert!(
        store
            .find_user_by_email("bob@example.com")
            .await
            .unwrap()
            .is_none()
    );
    let r = c
        .post_form(
            "/register",
            &[
                ("email", "bob@example.com"),
                ("password", "password"),
                ("password_confirm", "password"),
                ("first_name", "Bob"),
                ("last_name", "Jones"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let bob = store
        .find_user_by_email("bob@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (bob.first_name.as_str(), bob.last_name.as_str()),
        ("Bob", "Jones")
    );
    // JSON registration validates them too
    let r = client(&app)
        .post_json(
            "/register",
            serde_json::json!({"email": "cy@example.com", "password": "password"}),
        )
        .await;
    let data = r.json();
    assert_eq!(data["meta"]["code"], 400);
    assert_eq!(
        data["response"]["errors"]["first_name"][0],
        "First name not provided"
    );
}

#[tokio::test]
async fn the_app_reset_mail_replaces_the_default_and_sees_the_mail_processor() {
    let app = app().await;
    let mut c = client(&app);
    c.post_form("/reset", &[("email", "ann@example.com")]).await;
    app.security.flush_mail().await.unwrap();
    let files: Vec<_> = std::fs::read_dir(app.mail.path()).unwrap().collect();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read(files[0].as_ref().unwrap().path()).unwrap();
    let parsed = mailparse::parse_mail(&raw).unwrap();
    let bodies: Vec<String> = parsed
        .subparts
        .iter()
        .map(|p| p.get_body().unwrap())
        .collect();
    let all = bodies.join("\n");
    assert!(all.contains("Hello from Example Site!"), "{all}");
    assert!(all.contains("choose a new password"), "{all}");
    let link = all
        .split_whitespace()
        .find(|w| w.starts_with("http") && w.contains("/reset/"))
        .expect("a reset link");
    let path = &link[link.find("/reset/").unwrap()..];
    let r = c.get(path).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Reset password</h1>"));
}
