//! Usernames (Flask-Security 5.9's `SECURITY_USERNAME_ENABLE`, its `test_registerable`
//! username tests and `test_change_username`): registration and login by username, 5.9's
//! rules, case- and NFKD-insensitive matching, `/change-username` (fresh, CSRF, mail, event),
//! a race between two registrations of one name, the CLI, and nothing changed when off.

use http::StatusCode;
use serde_json::{Value, json};

use security::{DatastoreError, Event, NewUser, SecurityUser};
use security_tests::{Backend, Client, Resp, TestApp, backend_tests};

use crate::common::*;

const ENABLED: &[(&str, &str)] = &[
    ("SECURITY_USERNAME_ENABLE", "true"),
    ("SECURITY_REGISTERABLE", "true"),
];

const CHANGE: &[(&str, &str)] = &[
    ("SECURITY_USERNAME_ENABLE", "true"),
    ("SECURITY_CHANGE_USERNAME", "true"),
    (
        "SECURITY_POST_CHANGE_USERNAME_VIEW",
        "/post_change_username",
    ),
];

const PASSWORD: &str = "awesome sunset";
const JSON: (&str, &str) = ("Accept", "application/json");

const INVALID_LENGTH: &str = "Username must be at least 4 characters and less than 32 characters";
const ILLEGAL: &str = "Username contains illegal characters";
const DISALLOWED: &str = "Username can contain only letters and numbers";
const NOT_PROVIDED: &str = "Username not provided";
const CHANGED: &str = "You successfully changed your username";
const CHANGED_SUBJECT: &str = "Your username has been changed";

fn taken(name: &str) -> String {
    format!("{name} is already associated with an account.")
}

async fn register_json(c: &mut Client, email: &str, username: Option<&str>) -> Resp {
    let mut body = json!({"email": email, "password": PASSWORD, "password_confirm": PASSWORD});
    if let Some(username) = username {
        body["username"] = json!(username);
    }
    c.post_json("/register", body).await
}

async fn login_json(app: &TestApp, username: &str) -> Resp {
    app.client()
        .post_json(
            "/login",
            json!({"username": username, "password": PASSWORD}),
        )
        .await
}

/// The first error of `field` in a 1.7.4-shaped JSON answer (`errors: {field: [..]}`).
fn field_error(r: &Resp, field: &str) -> String {
    r.json()["response"]["errors"][field][0]
        .as_str()
        .unwrap_or_else(|| panic!("no error on {field}: {}", r.body))
        .to_owned()
}

async fn stored_username(app: &TestApp, email: &str) -> Option<String> {
    app.user(email).await.username().map(str::to_owned)
}

async fn logged_in_matt(app: &TestApp) -> Client {
    let mut c = app.client();
    c.login("matt@lp.com", "password", false)
        .await
        .assert_redirect("/");
    c
}

// --- registration and login ------------------------------------------------------------------

async fn register_and_log_in_by_username(backend: Backend) {
    let app = TestApp::new(&backend, ENABLED).await;
    let mut c = app.client();
    let page = c.get("/register").await;
    assert!(has_field(&page.body, "username"), "{}", page.body);
    assert!(has_field(&c.get("/login").await.body, "username"));
    let r = c
        .post_form(
            "/register",
            &[
                ("email", "dude@lp.com"),
                ("username", "Dude"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    assert_eq!(
        stored_username(&app, "dude@lp.com").await.as_deref(),
        Some("dude")
    );
    // HTML login by username (any case).
    let mut c = app.client();
    let r = c
        .post_form("/login", &[("username", "DUDE"), ("password", PASSWORD)])
        .await;
    r.assert_redirect("/");
    assert!(logged_in_as(&mut c, "dude@lp.com").await);
    // JSON login by username, then by e-mail.
    let r = login_json(&app, "dude").await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
    let r = app
        .client()
        .post_json(
            "/login",
            json!({"email": "dude@lp.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
    // The e-mail field takes only an address now.
    let r = app
        .client()
        .post_json("/login", json!({"email": "dude", "password": PASSWORD}))
        .await;
    assert_eq!(field_error(&r, "email"), "Invalid email address");
    // Neither identity: nobody.
    let r = app
        .client()
        .post_json("/login", json!({"username": "", "password": PASSWORD}))
        .await;
    assert_eq!(field_error(&r, ""), "Specified user does not exist");
    // Wrong password, unknown name.
    let r = app
        .client()
        .post_json(
            "/login",
            json!({"username": "dude", "password": "wrong one"}),
        )
        .await;
    assert_eq!(field_error(&r, "password"), "Invalid password");
    let r = login_json(&app, "nobodyhere").await;
    assert_eq!(field_error(&r, "username"), "Specified user does not exist");
}

async fn usernames_match_ignoring_case_and_compatibility_forms(backend: Backend) {
    let app = TestApp::new(&backend, ENABLED).await;
    let r = register_json(&mut app.client(), "dude@lp.com", Some("Imnumber\u{2160}")).await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
    // Stored in its folded form.
    assert_eq!(
        stored_username(&app, "dude@lp.com").await.as_deref(),
        Some("imnumberi")
    );
    for typed in [
        "Imnumber\u{2160}",
        "ImnumberI",
        "IMNUMBERi",
        "imnumber\u{2170}",
    ] {
        let r = login_json(&app, typed).await;
        assert_eq!(r.json()["meta"]["code"], 200, "{typed}: {}", r.body);
    }
    // Another spelling of the name is taken.
    let r = register_json(&mut app.client(), "other@lp.com", Some("IMNUMBERI")).await;
    assert_eq!(field_error(&r, "username"), taken("IMNUMBERI"));
    // With no normalisation, the compatibility form is another name.
    let app = TestApp::new(
        &backend,
        &vars(ENABLED, &[("SECURITY_USERNAME_NORMALIZE_FORM", "none")]),
    )
    .await;
    let r = register_json(&mut app.client(), "dude@lp.com", Some("Imnumber\u{2160}")).await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
    assert_eq!(
        login_json(&app, "ImnumberI").await.json()["meta"]["code"],
        400
    );
    assert_eq!(
        login_json(&app, "IMNUMBER\u{2160}").await.json()["meta"]["code"],
        200
    );
}

async fn registration_refuses_bad_usernames_and_writes_nothing(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &vars(ENABLED, &[("SECURITY_USERNAME_REQUIRED", "true")]),
    )
    .await;
    let cases: [(Option<&str>, String); 7] = [
        (Some("dud"), INVALID_LENGTH.into()),
        (
            Some("howlongcanIbebeforeyoucomplainIsupposereallyreallylong"),
            INVALID_LENGTH.into(),
        ),
        (Some("hi <script>doing evil</script>"), ILLEGAL.into()),
        (Some(" dude"), ILLEGAL.into()),
        (Some("hi there?"), DISALLOWED.into()),
        (None, NOT_PROVIDED.into()),
        (Some("MATT"), taken("MATT")),
    ];
    for (username, message) in cases {
        let r = register_json(&mut app.client(), "dude@lp.com", username).await;
        assert_eq!(r.json()["meta"]["code"], 400, "{username:?}: {}", r.body);
        assert_eq!(field_error(&r, "username"), message, "{username:?}");
        let found = app
            .security
            .datastore()
            .find_user_by_email("dude@lp.com")
            .await
            .unwrap();
        assert!(found.is_none(), "{username:?} created the user");
    }
    // HTML: the page again, with the error at the field.
    let r = app
        .client()
        .post_form(
            "/register",
            &[
                ("email", "dude@lp.com"),
                ("username", "hi there?"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(DISALLOWED), "{}", r.body);
    // Not required: an empty username is none.
    let app = TestApp::new(&backend, ENABLED).await;
    let r = register_json(&mut app.client(), "justemail@lp.com", Some("")).await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
    assert_eq!(stored_username(&app, "justemail@lp.com").await, None);
}

/// Two registrations (and many creations) of one name at once: one wins, every other gets the
/// form error (the datastore's `DuplicateUsername`), never a 500.
async fn racing_registrations_of_one_username_give_one_account(backend: Backend) {
    let app = TestApp::new(&backend, ENABLED).await;
    for round in 0..4 {
        let name = format!("Racer{round}");
        let (mut a, mut b) = (app.client(), app.client());
        let (email_a, email_b) = (format!("a{round}@lp.com"), format!("b{round}@lp.com"));
        let upper = name.to_uppercase();
        let (first, second) = tokio::join!(
            register_json(&mut a, &email_a, Some(&name)),
            register_json(&mut b, &email_b, Some(&upper)),
        );
        let code = |r: &Resp| r.json()["meta"]["code"].as_u64();
        let mut codes = [code(&first), code(&second)];
        codes.sort();
        assert_eq!(
            codes,
            [Some(200), Some(400)],
            "{}\n{}",
            first.body,
            second.body
        );
        let loser = if code(&first) == Some(200) {
            &second
        } else {
            &first
        };
        assert!(
            field_error(loser, "username").ends_with("is already associated with an account."),
            "{}",
            loser.body
        );
    }
    // The datastore itself, many at once.
    let store = app.security.datastore();
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_user(
                        NewUser::new(format!("c{n}@lp.com"), None)
                            .field("username", if n % 2 == 0 { "Crowd" } else { "CROWD" }),
                    )
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(DatastoreError::DuplicateUsername { .. }) => {}
            Err(other) => panic!("not a duplicate: {other:?}"),
        }
    }
    assert_eq!(created, 1);
}

// --- change username -------------------------------------------------------------------------

async fn change_username_validates_mails_and_emits(backend: Backend) {
    let app = TestApp::new(&backend, CHANGE).await;
    let mut events = app.security.subscribe();
    let mut c = logged_in_matt(&app).await;
    let page = c.get("/change-username").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<h1>Change Username</h1>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Current username is: matt"),
        "{}",
        page.body
    );
    assert!(has_field(&page.body, "username"));
    let r = c.post_form("/change-username", &[("username", "me")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(INVALID_LENGTH), "{}", r.body);
    let r = c
        .post_form("/change-username", &[("username", "<b>markup</b>")])
        .await;
    assert!(r.body.contains(ILLEGAL), "{}", r.body);
    let r = c
        .post_form("/change-username", &[("username", "joe")])
        .await;
    assert!(r.body.contains(INVALID_LENGTH), "{}", r.body);
    let r = c
        .post_form("/change-username", &[("username", "Dave")])
        .await;
    assert!(
        r.body.contains(&taken("Dave")),
        "another's name: {}",
        r.body
    );
    assert_eq!(
        stored_username(&app, "matt@lp.com").await.as_deref(),
        Some("matt")
    );
    assert!(app.mails_with("matt@lp.com", CHANGED_SUBJECT).is_empty());

    let r = c
        .post_form("/change-username", &[("username", "memynewusername")])
        .await;
    r.assert_redirect("/post_change_username");
    assert_flash(&c.get("/change-username").await.body, "success", CHANGED);
    assert_eq!(
        stored_username(&app, "matt@lp.com").await.as_deref(),
        Some("memynewusername")
    );
    let mails = app.mails_with("matt@lp.com", CHANGED_SUBJECT);
    assert_eq!(mails.len(), 1);
    assert!(mails[0].text.contains("Your username has been changed"));
    let changed: Vec<_> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            Event::UsernameChanged { user, old_username } => {
                Some((user.username().map(str::to_owned), old_username))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        changed,
        [(Some("memynewusername".to_owned()), Some("matt".to_owned()))]
    );
    // The new name logs in, the old one does not.
    let r = app
        .client()
        .post_json(
            "/login",
            json!({"username": "memynewusername", "password": "password"}),
        )
        .await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
    let r = app
        .client()
        .post_json(
            "/login",
            json!({"username": "matt", "password": "password"}),
        )
        .await;
    assert_eq!(r.json()["meta"]["code"], 400);
    // The current name again: taken (5.9).
    let r = c
        .post_form("/change-username", &[("username", "memynewusername")])
        .await;
    assert!(r.body.contains(&taken("memynewusername")), "{}", r.body);
    // Empty clears it (not required).
    let r = c.post_form("/change-username", &[("username", "")]).await;
    r.assert_redirect("/post_change_username");
    assert_eq!(stored_username(&app, "matt@lp.com").await, None);
    assert_eq!(app.mails_with("matt@lp.com", CHANGED_SUBJECT).len(), 2);
}

async fn change_username_in_json(backend: Backend) {
    let app = TestApp::new(&backend, CHANGE).await;
    let r = app
        .client()
        .get_with("/change-username", &[("Content-Type", "application/json")])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let mut c = app.client();
    let r = c
        .post_json(
            "/login",
            json!({"email": "matt@lp.com", "password": "password"}),
        )
        .await;
    assert_eq!(r.json()["meta"]["code"], 200);
    let r = c.get_with("/change-username", &[JSON]).await;
    assert_eq!(
        r.json()["response"]["current_username"],
        "matt",
        "{}",
        r.body
    );
    let r = c
        .post_json("/change-username", json!({"username": "my"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["response"]["field_errors"]["username"],
        json!([INVALID_LENGTH])
    );
    assert_eq!(r.json()["response"]["errors"], json!([INVALID_LENGTH]));
    let r = c
        .post_json("/change-username", json!({"username": "memyjsonusername"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.json()["response"]["user"]["id"],
        Value::String(app.user("matt@lp.com").await.id.to_string())
    );
    let r = c.get_with("/change-username", &[JSON]).await;
    assert_eq!(r.json()["response"]["current_username"], "memyjsonusername");
}

async fn change_username_can_require_a_username(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &vars(CHANGE, &[("SECURITY_USERNAME_REQUIRED", "true")]),
    )
    .await;
    let mut c = logged_in_matt(&app).await;
    let r = c
        .post_json("/change-username", json!({"username": ""}))
        .await;
    assert_eq!(
        r.json()["response"]["field_errors"]["username"],
        json!([NOT_PROVIDED])
    );
    assert_eq!(
        stored_username(&app, "matt@lp.com").await.as_deref(),
        Some("matt")
    );
}

async fn change_username_needs_a_fresh_authentication(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &vars(
            CHANGE,
            &[
                ("SECURITY_FRESHNESS", "10 minutes"),
                ("SECURITY_FRESHNESS_GRACE_PERIOD", "0 seconds"),
            ],
        ),
    )
    .await;
    let mut c = logged_in_matt(&app).await;
    app.clock.advance(11 * 60);
    let r = c.get("/change-username").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), "/verify?next=/change-username");
    let r = c
        .post_form("/change-username", &[("username", "freshname")])
        .await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(r.location().starts_with("/verify"), "{}", r.location());
    let r = c.get_with("/change-username", &[JSON]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["response"]["reauth_required"], true);
    assert_eq!(
        stored_username(&app, "matt@lp.com").await.as_deref(),
        Some("matt")
    );
    // After re-authenticating, the change goes through.
    c.post_form("/verify", &[("password", "password")]).await;
    let r = c
        .post_form("/change-username", &[("username", "freshname")])
        .await;
    r.assert_redirect("/post_change_username");
}

async fn change_username_needs_the_csrf_token(backend: Backend) {
    let app = TestApp::new(&backend, CHANGE).await;
    let c = logged_in_matt(&app).await;
    let mut forged = c.without_csrf();
    let r = forged
        .post_form("/change-username", &[("username", "forgedname")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = forged
        .post_json("/change-username", json!({"username": "forgedname"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(
        stored_username(&app, "matt@lp.com").await.as_deref(),
        Some("matt")
    );
    assert!(app.mails_with("matt@lp.com", CHANGED_SUBJECT).is_empty());
}

// --- the CLI, and usernames off --------------------------------------------------------------

async fn the_cli_normalises_and_validates_usernames(backend: Backend) {
    use security::cli::{Command, UsersCommand, run};
    let app = TestApp::new(&backend, ENABLED).await;
    let create = |email: &str, username: &str| {
        Command::Users(UsersCommand::Create {
            email: email.into(),
            password: None,
            username: Some(username.into()),
            active: true,
            inactive: false,
        })
    };
    run(&app.security, create("roman@lp.com", "Roman\u{2160}"))
        .await
        .unwrap();
    assert_eq!(
        stored_username(&app, "roman@lp.com").await.as_deref(),
        Some("romani")
    );
    // Short names are the forms' concern (1.7.4's fixtures have `joe`).
    run(&app.security, create("bob@lp.com", "bob"))
        .await
        .unwrap();
    for (email, name) in [
        ("evil@lp.com", "<script>x</script>"),
        ("space@lp.com", "hi there"),
        ("dup@lp.com", "ROMANI"),
    ] {
        let err = run(&app.security, create(email, name)).await.unwrap_err();
        assert!(err.to_string().contains(name) || !err.to_string().is_empty());
        let found = app
            .security
            .datastore()
            .find_user_by_email(email)
            .await
            .unwrap();
        assert!(found.is_none(), "{name} was accepted");
    }
}

async fn without_usernames_nothing_changes(backend: Backend) {
    let app = TestApp::new(&backend, &[("SECURITY_REGISTERABLE", "true")]).await;
    let mut c = app.client();
    // (The login's address field says `autocomplete="username"` to password managers.)
    assert!(!c.get("/register").await.body.contains("name=\"username\""));
    assert!(!c.get("/login").await.body.contains("name=\"username\""));
    let r = app
        .client()
        .post_json(
            "/login",
            json!({"username": "matt", "password": "password"}),
        )
        .await;
    assert_eq!(field_error(&r, "email"), "Email not provided");
    assert_eq!(
        c.get("/change-username").await.status,
        StatusCode::NOT_FOUND
    );
    // A username in a registration is ignored.
    let r = register_json(&mut app.client(), "dude@lp.com", Some("dude")).await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
    assert_eq!(stored_username(&app, "dude@lp.com").await, None);
}

backend_tests!(
    register_and_log_in_by_username,
    usernames_match_ignoring_case_and_compatibility_forms,
    registration_refuses_bad_usernames_and_writes_nothing,
    racing_registrations_of_one_username_give_one_account,
    change_username_validates_mails_and_emits,
    change_username_in_json,
    change_username_can_require_a_username,
    change_username_needs_a_fresh_authentication,
    change_username_needs_the_csrf_token,
    the_cli_normalises_and_validates_usernames,
    without_usernames_nothing_changes,
);
