//! `SECURITY_FLASK_COMPAT`: what a running Flask-Security 1.7.4 app handed out keeps working
//! during a cut-over, each thing only as long as 1.7.4's own rules (or stricter ones) allow,
//! and nothing of it without the switch. The tokens are made here exactly as 1.7.4 makes them
//! (itsdangerous formats); the conformance app's `flask_migration` tests replay the real fixtures.

use http::StatusCode;
use md5::{Digest, Md5};
use serde_json::json;

use security::SecurityUser;
use security::token::{Clock, Serializer, SystemClock, dump_flask_session};
use security_tests::{Backend, Client, Cookie, TestApp, backend_tests, has_flash};

const SECRET: &str = "test-secret-key-0123456789";
const COMPAT: (&str, &str) = ("SECURITY_FLASK_COMPAT", "true");

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What 1.7.4's `user.get_auth_token()` returns (also its remember cookie).
fn flask_auth_token(id: &str, stored_password: &str) -> String {
    Serializer::new(SECRET, "remember-salt")
        .dumps(&[id, &md5_hex(stored_password)], SystemClock.now())
}

fn with_cookie(mut client: Client, name: &str, value: &str) -> Client {
    client.cookies.insert(
        name.to_owned(),
        Cookie {
            value: value.to_owned(),
            raw: String::new(),
            persistent: false,
        },
    );
    client
}

async fn token_status(app: &TestApp, token: &str) -> StatusCode {
    app.client()
        .get_with("/token", &[("Authentication-Token", token)])
        .await
        .status
}

async fn flask_auth_tokens_need_the_switch_and_the_same_password(backend: Backend) {
    let off = TestApp::new(&backend, &[]).await;
    let matt = off.user("matt@lp.com").await;
    let token = flask_auth_token(&matt.id().to_string(), matt.password().unwrap());
    assert_eq!(token_status(&off, &token).await, StatusCode::UNAUTHORIZED);

    let app = TestApp::new(&backend, &[COMPAT]).await;
    let matt = app.user("matt@lp.com").await;
    let token = flask_auth_token(&matt.id().to_string(), matt.password().unwrap());
    assert_eq!(token_status(&app, &token).await, StatusCode::OK);
    let query = format!("/token?auth_token={token}");
    assert_eq!(app.client().get(&query).await.status, StatusCode::OK);
    // Another user's digest, or a token signed with another salt, gets nobody in.
    let joe = app.user("joe@lp.com").await;
    let forged = Serializer::new(SECRET, "remember-salt").dumps(
        &[&joe.id().to_string(), &md5_hex("not joe's password")],
        SystemClock.now(),
    );
    assert_eq!(token_status(&app, &forged).await, StatusCode::UNAUTHORIZED);
    let other_salt = Serializer::new(SECRET, "login-salt").dumps(
        &[&matt.id().to_string(), &md5_hex(matt.password().unwrap())],
        SystemClock.now(),
    );
    assert_eq!(
        token_status(&app, &other_salt).await,
        StatusCode::UNAUTHORIZED
    );
    // An inactive user's token is refused (1.7.4 accepted it; inactive users are refused on
    // every path).
    let tiya = app.user("tiya@lp.com").await;
    let inactive = flask_auth_token(&tiya.id().to_string(), tiya.password().unwrap());
    assert_eq!(
        token_status(&app, &inactive).await,
        StatusCode::UNAUTHORIZED
    );
    // A new password ends it, as in 1.7.4.
    app.security
        .datastore()
        .set_password(&matt, "another password")
        .await
        .unwrap();
    assert_eq!(token_status(&app, &token).await, StatusCode::UNAUTHORIZED);
}

async fn a_flask_remember_cookie_restores_the_session_and_is_replaced(backend: Backend) {
    let app = TestApp::new(&backend, &[COMPAT]).await;
    let matt = app.user("matt@lp.com").await;
    let flask = flask_auth_token(&matt.id().to_string(), matt.password().unwrap());
    let mut c = with_cookie(app.client(), "remember_token", &flask);
    let r = c.get("/profile").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Hello matt@lp.com"), "{}", r.body);
    let ours = c.cookies["remember_token"].clone();
    assert_ne!(ours.value, flask, "the Flask cookie is replaced");
    assert!(ours.persistent, "{}", ours.raw);
    assert!(c.cookies.contains_key("session"));
    // This library's cookie alone keeps the user in.
    let mut fresh = with_cookie(app.client(), "remember_token", &ours.value);
    assert_eq!(fresh.get("/profile").await.status, StatusCode::OK);

    let without = TestApp::new(&backend, &[]).await;
    let matt = without.user("matt@lp.com").await;
    let flask = flask_auth_token(&matt.id().to_string(), matt.password().unwrap());
    let mut c = with_cookie(without.client(), "remember_token", &flask);
    c.get("/profile").await.assert_redirect("/login");
}

/// A Flask session of a logged-in user, `age_seconds` old.
fn flask_session(user_id: &str, age_seconds: i64) -> String {
    dump_flask_session(
        &json!({
            "user_id": user_id,
            "_fresh": true,
            "_id": "0123456789abcdef0123456789abcdef",
            "_flashes": [["info", "Carried over from Flask."]],
        }),
        SECRET,
        SystemClock.now() - age_seconds,
    )
}

async fn a_flask_session_works_as_in_flask_until_logout(backend: Backend) {
    let app = TestApp::new(&backend, &[COMPAT]).await;
    let matt = app.user("matt@lp.com").await;
    let cookie = flask_session(&matt.id().to_string(), 60);
    // An unprotected page takes it over too: nobody is logged out by a page that does not ask.
    let mut c = with_cookie(app.client(), "session", &cookie);
    let r = c.get("/").await;
    assert!(r.body.contains("Hello matt@lp.com"), "{}", r.body);
    assert!(
        has_flash(&r.body, "info", "Carried over from Flask."),
        "{}",
        r.body
    );
    let ours = c.cookies["session"].value.clone();
    assert_ne!(ours, cookie);
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);
    // The page's parallel requests that still carry the Flask cookie, and a browser that did
    // not keep the replacement, are logged in as Flask would have them.
    for _ in 0..3 {
        let mut racer = with_cookie(app.client(), "session", &cookie);
        let r = racer.get("/profile").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains("Hello matt@lp.com"), "{}", r.body);
    }
    // A logout ends it, the Flask cookie included: every take-over of it is one session.
    c.get("/logout").await.assert_redirect("/");
    let mut copy = with_cookie(app.client(), "session", &cookie);
    copy.get("/profile").await.assert_redirect("/login");
}

async fn a_flask_session_ends_with_a_password_change(backend: Backend) {
    let app = TestApp::new(
        &backend,
        &[
            COMPAT,
            ("SECURITY_CHANGEABLE", "true"),
            ("SECURITY_RECOVERABLE", "true"),
        ],
    )
    .await;
    // Changed here, by the change view.
    let matt = app.user("matt@lp.com").await;
    let before = flask_session(&matt.id().to_string(), 60);
    let mut other = app.client();
    other.login("matt@lp.com", "password", false).await;
    let r = other
        .post_form(
            "/change",
            &[
                ("password", "password"),
                ("new_password", "new password"),
                ("new_password_confirm", "new password"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let mut c = with_cookie(app.client(), "session", &before);
    c.get("/profile").await.assert_redirect("/login");

    // Reset by a mailed link: Flask sessions signed before it end, on first use or not.
    let joe = app.user("joe@lp.com").await;
    let seen = flask_session(&joe.id().to_string(), 120);
    let unseen = flask_session(&joe.id().to_string(), 90);
    assert_eq!(
        with_cookie(app.client(), "session", &seen)
            .get("/profile")
            .await
            .status,
        StatusCode::OK
    );
    app.client()
        .post_form("/reset", &[("email", "joe@lp.com")])
        .await;
    let path = app.mails_to("joe@lp.com")[0].link_path("/reset/");
    app.client()
        .post_form(
            &path,
            &[
                ("password", "new password"),
                ("password_confirm", "new password"),
            ],
        )
        .await
        .assert_redirect("/");
    for cookie in [&seen, &unseen] {
        with_cookie(app.client(), "session", cookie)
            .get("/profile")
            .await
            .assert_redirect("/login");
    }

    // Changed elsewhere (the Flask app itself): seen as a new hash, it ends the sessions too.
    let dave = app.user("dave@lp.com").await;
    let cookie = flask_session(&dave.id().to_string(), 60);
    assert_eq!(
        with_cookie(app.client(), "session", &cookie)
            .get("/profile")
            .await
            .status,
        StatusCode::OK
    );
    app.security
        .datastore()
        .set_password(&dave, "changed by the Flask app")
        .await
        .unwrap();
    with_cookie(app.client(), "session", &cookie)
        .get("/profile")
        .await
        .assert_redirect("/login");
    // ...and a Flask session signed after the change works.
    let after = flask_session(&dave.id().to_string(), -2);
    assert_eq!(
        with_cookie(app.client(), "session", &after)
            .get("/profile")
            .await
            .status,
        StatusCode::OK
    );
}

async fn a_deleted_accounts_flask_session_is_not_the_next_accounts(backend: Backend) {
    let app = TestApp::new(&backend, &[COMPAT]).await;
    let store = app.security.datastore();
    let gone = store
        .create_user(security::NewUser::new("gone@lp.com", Some("password")))
        .await
        .unwrap();
    // Flask signed it for the account; this app never saw it before the account went.
    let cookie = flask_session(&gone.id().to_string(), 60);
    store.delete_user(&gone).await.unwrap();
    let next = store
        .create_user(security::NewUser::new("next@lp.com", Some("password")).field("id", gone.id()))
        .await
        .unwrap();
    assert_eq!(next.id(), gone.id());
    with_cookie(app.client(), "session", &cookie)
        .get("/profile")
        .await
        .assert_redirect("/login");
    // A Flask session of the new account, signed later, works.
    let later = flask_session(&next.id().to_string(), -2);
    assert_eq!(
        with_cookie(app.client(), "session", &later)
            .get("/profile")
            .await
            .status,
        StatusCode::OK
    );
}

async fn flask_sessions_that_1_7_4_or_this_library_would_refuse(backend: Backend) {
    let app = TestApp::new(&backend, &[COMPAT]).await;
    let matt = app.user("matt@lp.com").await;
    let tiya = app.user("tiya@lp.com").await;
    let id = matt.id().to_string();
    let refused = [
        (
            "older than PERMANENT_SESSION_LIFETIME",
            flask_session(&id, 32 * 86_400),
        ),
        ("inactive user", flask_session(&tiya.id().to_string(), 60)),
        ("no such user", flask_session("987654", 60)),
        (
            "another SECRET_KEY",
            dump_flask_session(&json!({"user_id": id}), "other", SystemClock.now()),
        ),
        (
            "anonymous",
            dump_flask_session(&json!({"_fresh": false}), SECRET, SystemClock.now()),
        ),
        ("not a cookie", "garbage.garbage.garbage".to_owned()),
    ];
    for (why, cookie) in refused {
        let mut c = with_cookie(app.client(), "session", &cookie);
        let r = c.get("/profile").await;
        assert_eq!(r.status, StatusCode::FOUND, "{why}: {}", r.body);
    }
    // Without the switch a Flask session is just an unreadable cookie.
    let off = TestApp::new(&backend, &[]).await;
    let matt = off.user("matt@lp.com").await;
    let cookie = flask_session(&matt.id().to_string(), 60);
    let mut c = with_cookie(off.client(), "session", &cookie);
    c.get("/profile").await.assert_redirect("/login");
}

const FLOWS: &[(&str, &str)] = &[
    COMPAT,
    ("SECURITY_CONFIRMABLE", "true"),
    ("SECURITY_LOGIN_WITHOUT_CONFIRMATION", "true"),
    ("SECURITY_RECOVERABLE", "true"),
];

async fn a_flask_confirmation_link_is_bound_to_the_address(backend: Backend) {
    let app = TestApp::new(&backend, FLOWS).await;
    let joe = app.user("joe@lp.com").await;
    let id = joe.id().to_string();
    let confirm = Serializer::new(SECRET, "confirm-salt");
    let stale = confirm.dumps(&[&id, &md5_hex("old@lp.com")], SystemClock.now());
    let mut c = app.client();
    c.get(&format!("/confirm/{stale}")).await;
    assert!(app.user("joe@lp.com").await.confirmed_at.is_none());
    let token = confirm.dumps(&[&id, &md5_hex("joe@lp.com")], SystemClock.now());
    let mut c = app.client();
    let r = c.get(&format!("/confirm/{token}")).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    assert!(app.user("joe@lp.com").await.confirmed_at.is_some());
    let page = c.get(&r.location_path()).await;
    assert!(
        page.body
            .contains("Thank you. Your email has been confirmed."),
        "{}",
        page.body
    );
    let off = TestApp::new(&backend, &FLOWS[1..]).await;
    let joe = off.user("joe@lp.com").await;
    let token = confirm.dumps(
        &[&joe.id().to_string(), &md5_hex("joe@lp.com")],
        SystemClock.now(),
    );
    off.client().get(&format!("/confirm/{token}")).await;
    assert!(off.user("joe@lp.com").await.confirmed_at.is_none());
}

async fn a_flask_reset_link_works_once(backend: Backend) {
    let app = TestApp::new(&backend, FLOWS).await;
    let joe = app.user("joe@lp.com").await;
    let link = format!(
        "/reset/{}",
        Serializer::new(SECRET, "reset-salt").dumps(
            &[&joe.id().to_string(), &md5_hex(joe.password().unwrap())],
            SystemClock.now(),
        )
    );
    let r = app.client().get(&link).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Reset password"), "{}", r.body);
    let new = [
        ("password", "brand new pw"),
        ("password_confirm", "brand new pw"),
    ];
    let mut c = app.client();
    let r = c.post_form(&link, &new).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let mut again = app.client();
    again.post_form(&link, &new).await.assert_redirect("/reset");
    let r = app
        .client()
        .post_json(
            "/login",
            json!({"email": "joe@lp.com", "password": "brand new pw"}),
        )
        .await;
    assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
}

async fn a_flask_login_link_works_once(backend: Backend) {
    let app = TestApp::new(&backend, &[COMPAT, ("SECURITY_PASSWORDLESS", "true")]).await;
    let joe = app.user("joe@lp.com").await;
    let link = format!(
        "/login/{}",
        Serializer::new(SECRET, "login-salt").dumps(&[&joe.id().to_string()], SystemClock.now())
    );
    let mut c = app.client();
    c.get(&link).await;
    let r = c.get("/profile").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut again = app.client();
    let r = again.get(&link).await;
    r.assert_redirect("/login");
    assert_eq!(again.get("/profile").await.status, StatusCode::FOUND);

    let off = TestApp::new(&backend, &[("SECURITY_PASSWORDLESS", "true")]).await;
    let joe = off.user("joe@lp.com").await;
    let link = format!(
        "/login/{}",
        Serializer::new(SECRET, "login-salt").dumps(&[&joe.id().to_string()], SystemClock.now())
    );
    let mut c = off.client();
    c.get(&link).await;
    assert_eq!(c.get("/profile").await.status, StatusCode::FOUND);
}

async fn a_password_that_1_7_4_hashed_twice_is_rescued(backend: Backend) {
    let vars = [
        ("SECURITY_PASSWORD_HASH", "pbkdf2_sha512"),
        ("SECURITY_PASSWORD_SALT", "salty"),
    ];
    for compat in [false, true] {
        let mut all = vars.to_vec();
        if compat {
            all.push(COMPAT);
        }
        let app = TestApp::new(&backend, &all).await;
        let passwords = app.security.passwords();
        let joe = app.user("joe@lp.com").await;
        // What 1.7.4 stored when it migrated joe's hash at a login (`get_hmac` applied twice).
        let twice = passwords
            .hash(&passwords.get_hmac("password").unwrap())
            .await
            .unwrap();
        app.security
            .datastore()
            .set_password_hash(&joe, Some(twice.clone()))
            .await
            .unwrap();
        let login = json!({"email": "joe@lp.com", "password": "password"});
        let r = app.client().post_json("/login", login.clone()).await;
        assert_eq!(r.json()["meta"]["code"] == 200, compat, "{}", r.body);
        let stored = app.user("joe@lp.com").await.password.unwrap();
        if compat {
            assert_ne!(stored, twice, "re-hashed");
            assert!(passwords.verify("password", &stored).await.unwrap());
            let r = app.client().post_json("/login", login).await;
            assert_eq!(r.json()["meta"]["code"], 200, "{}", r.body);
        } else {
            assert_eq!(stored, twice, "left alone");
        }
    }
}

backend_tests!(
    flask_auth_tokens_need_the_switch_and_the_same_password,
    a_flask_remember_cookie_restores_the_session_and_is_replaced,
    a_flask_session_works_as_in_flask_until_logout,
    a_flask_session_ends_with_a_password_change,
    a_deleted_accounts_flask_session_is_not_the_next_accounts,
    flask_sessions_that_1_7_4_or_this_library_would_refuse,
    a_flask_confirmation_link_is_bound_to_the_address,
    a_flask_reset_link_works_once,
    a_flask_login_link_works_once,
    a_password_that_1_7_4_hashed_twice_is_rescued,
);
