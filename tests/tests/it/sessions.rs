//! Ending every session of an account: sign out everywhere else (`SECURITY_SIGN_OUT_EVERYWHERE`,
//! fresh authentication and CSRF), `users revoke-sessions` and `users reset-access`, on a user
//! model with `fs_uniquifier` and on one without (the 1.7.4 schema: a per-account value in
//! `security_account_epoch`).

use axum::Router;
use http::StatusCode;
use serde_json::json;

use security::cli::{Command, UsersCommand};
use security::{Event, RevocationReason};
use security_tests::{Backend, Client, TestApp, backend_tests, client_for};

use crate::common::*;

const ON: &[(&str, &str)] = &[("SECURITY_SIGN_OUT_EVERYWHERE", "true")];

const URL: &str = "/sign-out-everywhere";

const DONE: &str = "You have been signed out of every other session.";

const MINUTE: i64 = 60;

async fn logged_in(app: &TestApp, remember: bool) -> Client {
    let mut c = app.client();
    c.login("matt@lp.com", "password", remember)
        .await
        .assert_redirect("/");
    c
}

/// Whether the token still authenticates.
async fn token_works(app: &TestApp, token: &str) -> bool {
    let mut c = client_for(app.router.clone());
    let r = c
        .get_with("/token", &[("Authentication-Token", token)])
        .await;
    match r.status {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => false,
        other => panic!("/token answered {other}: {}", r.body),
    }
}

/// A browser with a session, another with a remember cookie only, and a token: what a sign
/// out everywhere must end.
struct Others {
    session: Client,
    remembered: Client,
    token: String,
}

async fn others(app: &TestApp) -> Others {
    let session = logged_in(app, false).await;
    let mut remembered = logged_in(app, true).await;
    remembered.clear_session_cookies();
    assert!(logged_in_as(&mut remembered.clone(), "matt@lp.com").await);
    let token = app.client().token("matt@lp.com", "password").await;
    assert!(token_works(app, &token).await);
    Others {
        session,
        remembered,
        token,
    }
}

async fn all_ended(app: &TestApp, others: &mut Others) -> bool {
    anonymous(&mut others.session).await
        && anonymous(&mut others.remembered).await
        && !token_works(app, &others.token).await
}

async fn none_ended(app: &TestApp, others: &mut Others) -> bool {
    logged_in_as(&mut others.session, "matt@lp.com").await
        && logged_in_as(&mut others.remembered, "matt@lp.com").await
        && token_works(app, &others.token).await
}

fn revocations(events: Vec<Event<security_tests::User>>) -> Vec<(RevocationReason, bool)> {
    events
        .into_iter()
        .filter_map(|event| match event {
            Event::SessionsRevoked {
                reason,
                kept_current,
                ..
            } => Some((reason, kept_current)),
            _ => None,
        })
        .collect()
}

// --- sign out everywhere ---------------------------------------------------------------------

async fn signing_out_everywhere_ends_the_others_and_keeps_this_session(backend: Backend) {
    let app = TestApp::new(&backend, ON).await;
    let mut others = others(&app).await;
    let mut me = logged_in(&app, false).await;
    let mut events = app.security.subscribe();
    let r = me.post_form(URL, &[]).await;
    r.assert_redirect("/");
    assert_flash(&me.get("/").await.body, "success", DONE);
    assert!(logged_in_as(&mut me, "matt@lp.com").await, "this one stays");
    assert!(all_ended(&app, &mut others).await);
    assert_eq!(
        revocations(drain(&mut events)),
        vec![(RevocationReason::SignOutEverywhere, true)]
    );
    // A new login works as before, and the password did not change.
    let mut again = logged_in(&app, false).await;
    assert!(logged_in_as(&mut again, "matt@lp.com").await);
    assert!(token_works(&app, &app.client().token("matt@lp.com", "password").await).await);
    // Another account is untouched.
    let mut joe = app.client();
    joe.login("joe@lp.com", "password", false)
        .await
        .assert_redirect("/");
    me.post_form(URL, &[]).await.assert_redirect("/");
    assert!(logged_in_as(&mut joe, "joe@lp.com").await);
}

async fn the_remember_cookie_of_this_browser_is_reissued(backend: Backend) {
    let app = TestApp::new(&backend, ON).await;
    let mut me = logged_in(&app, true).await;
    let old = me
        .cookies
        .get("remember_token")
        .expect("remember")
        .value
        .clone();
    me.post_form(URL, &[]).await.assert_redirect("/");
    let new = me
        .cookies
        .get("remember_token")
        .expect("remember")
        .value
        .clone();
    assert_ne!(old, new, "re-issued");
    me.clear_session_cookies();
    assert!(
        logged_in_as(&mut me, "matt@lp.com").await,
        "the new one works"
    );
    // The old one does not.
    let mut stale = app.client();
    stale.cookies.insert(
        "remember_token".into(),
        security_tests::Cookie {
            value: old,
            persistent: true,
            raw: String::new(),
        },
    );
    assert!(anonymous(&mut stale).await);
}

async fn signing_out_everywhere_in_json(backend: Backend) {
    let app = TestApp::new(&backend, ON).await;
    let mut others = others(&app).await;
    let mut me = logged_in(&app, false).await;
    let r = me.post_json(URL, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let data = r.json();
    assert_eq!(data["meta"]["code"], 200);
    let id = app.user("matt@lp.com").await.id.to_string();
    assert_eq!(data["response"]["user"]["id"], json!(id));
    assert!(logged_in_as(&mut me, "matt@lp.com").await);
    assert!(all_ended(&app, &mut others).await);
}

async fn a_post_without_the_csrf_token_changes_nothing(backend: Backend) {
    let app = TestApp::new(&backend, ON).await;
    let mut others = others(&app).await;
    let mut me = logged_in(&app, false).await.without_csrf();
    let r = me.post_form(URL, &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = me.post_json(URL, json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(none_ended(&app, &mut others).await);
}

async fn a_stale_session_is_sent_to_verify_and_changes_nothing(backend: Backend) {
    let vars = vars(ON, &[("SECURITY_FRESHNESS", "10 minutes")]);
    let app = TestApp::new(&backend, &vars).await;
    let mut me = logged_in(&app, false).await;
    app.clock.advance(11 * MINUTE);
    let mut others = others(&app).await;
    let r = me.post_form(URL, &[]).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(
        r.location().starts_with("/verify?next="),
        "{}",
        r.location()
    );
    let r = me.post_json(URL, json!({})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(r.json()["response"]["reauth_required"], json!(true));
    assert!(none_ended(&app, &mut others).await);
    // After /verify it goes through.
    me.post_form("/verify", &[("password", "password")]).await;
    me.post_form(URL, &[]).await.assert_redirect("/");
    assert!(all_ended(&app, &mut others).await);
}

async fn anonymous_visitors_are_sent_to_log_in(backend: Backend) {
    let app = TestApp::new(&backend, ON).await;
    let mut c = app.client();
    let r = c.post_form(URL, &[]).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(r.location().starts_with("/login"), "{}", r.location());
}

async fn there_is_no_such_view_by_default(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut me = logged_in(&app, false).await;
    let mut others = others(&app).await;
    let r = me.post_form(URL, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(none_ended(&app, &mut others).await);
}

// --- the command line ------------------------------------------------------------------------

async fn cli(app: &TestApp, command: UsersCommand) -> String {
    security::cli::run(&app.security, Command::Users(command))
        .await
        .expect("command")
}

async fn reset_access_ends_everything_and_keeps_the_password(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut others = others(&app).await;
    let mut events = app.security.subscribe();
    let out = cli(
        &app,
        UsersCommand::ResetAccess {
            email: "matt@lp.com".into(),
        },
    )
    .await;
    assert_eq!(
        out,
        "User \"matt@lp.com\" authentication credentials have been reset.\n"
    );
    assert!(all_ended(&app, &mut others).await);
    assert_eq!(
        revocations(drain(&mut events)),
        vec![(RevocationReason::ResetAccess, false)]
    );
    let mut again = logged_in(&app, false).await;
    assert!(logged_in_as(&mut again, "matt@lp.com").await);
    let err = security::cli::run(
        &app.security,
        Command::Users(UsersCommand::ResetAccess {
            email: "nobody@lp.com".into(),
        }),
    )
    .await;
    assert!(err.is_err());
}

async fn revoke_sessions_ends_everything(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let mut others = others(&app).await;
    let mut events = app.security.subscribe();
    let out = cli(
        &app,
        UsersCommand::RevokeSessions {
            email: "matt@lp.com".into(),
        },
    )
    .await;
    assert!(out.contains("matt@lp.com"), "{out}");
    assert!(all_ended(&app, &mut others).await);
    assert_eq!(
        revocations(drain(&mut events)),
        vec![(RevocationReason::RevokeSessions, false)]
    );
}

async fn users_show_has_the_5_9_keys(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let out = cli(
        &app,
        UsersCommand::Show {
            email: "matt@lp.com".into(),
        },
    )
    .await;
    let shown: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(shown["tf_primary_method"], json!(null));
    assert_eq!(shown["tf_phone_number"], json!(null));
    assert_eq!(shown["mf_recovery_codes"], json!(0));
    assert_eq!(shown["webauthn"], json!([]));
}

// --- a model without fs_uniquifier -----------------------------------------------------------

type Plain = security::entities::user::Model;

/// The library's ready-made `user` entity (no `fs_uniquifier`) over the test app's table.
async fn plain(app: &TestApp, vars: &[(&str, &str)]) -> (security::Security<Plain>, Router) {
    let mut all: std::collections::BTreeMap<&str, &str> =
        security_tests::BASE_VARS.iter().copied().collect();
    all.extend(vars.iter().copied());
    let config = security::Config::from_vars(all).expect("config");
    let (m, t, p) = security_tests::TEST_ARGON2_COST;
    let security = security::Security::<Plain>::builder(app.db.db.clone(), config)
        .argon2_cost(m, t, p)
        .build()
        .await
        .expect("security");
    let router = Router::new()
        .merge(security.router())
        .layer(security.layer());
    (security, router)
}

/// Logged in as the plain model sees it: `/verify`'s page needs a login.
async fn plain_logged_in(c: &mut Client) -> bool {
    match c.get("/verify").await.status {
        StatusCode::OK => true,
        StatusCode::FOUND => false,
        other => panic!("/verify answered {other}"),
    }
}

async fn plain_login(router: &Router, remember: bool) -> Client {
    let mut c = client_for(router.clone()).with_token_page("/login");
    c.login("matt@lp.com", "password", remember)
        .await
        .assert_redirect("/");
    // Logged in, the login page redirects: the re-authentication page has a CSRF token too.
    c.with_token_page("/verify")
}

async fn without_a_uniquifier_a_per_account_value_ends_the_sessions(backend: Backend) {
    let app = TestApp::new(&backend, &[]).await;
    let (security, router) = plain(&app, ON).await;
    let mut other = plain_login(&router, false).await;
    let mut remembered = plain_login(&router, true).await;
    remembered.clear_session_cookies();
    assert!(plain_logged_in(&mut remembered.clone()).await);
    let token = client_for(router.clone())
        .token("matt@lp.com", "password")
        .await;
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
    assert!(works(token.clone()).await);
    let mut me = plain_login(&router, true).await;
    me.post_form(URL, &[]).await.assert_redirect("/");
    assert!(plain_logged_in(&mut me).await, "this session stays");
    me.clear_session_cookies();
    assert!(plain_logged_in(&mut me).await, "its remember cookie too");
    assert!(!plain_logged_in(&mut other).await);
    assert!(!plain_logged_in(&mut remembered).await);
    assert!(!works(token).await);
    // New logins and tokens work under the new value.
    let mut again = plain_login(&router, false).await;
    assert!(plain_logged_in(&mut again).await);
    let token = client_for(router.clone())
        .token("matt@lp.com", "password")
        .await;
    assert!(works(token.clone()).await);
    // reset-access ends them again; the password stays.
    let user = security
        .datastore()
        .find_user_by_email("matt@lp.com")
        .await
        .expect("db")
        .expect("user");
    security.reset_access(&user).await.expect("reset");
    assert!(!plain_logged_in(&mut again).await);
    assert!(!plain_logged_in(&mut me).await);
    assert!(!works(token).await);
    assert!(plain_logged_in(&mut plain_login(&router, false).await).await);
    // The model with fs_uniquifier on the same rows is not affected by the per-account value.
    let mut full = logged_in(&app, false).await;
    security.reset_access(&user).await.expect("reset");
    assert!(logged_in_as(&mut full, "matt@lp.com").await);
}

backend_tests!(
    signing_out_everywhere_ends_the_others_and_keeps_this_session,
    the_remember_cookie_of_this_browser_is_reissued,
    signing_out_everywhere_in_json,
    a_post_without_the_csrf_token_changes_nothing,
    a_stale_session_is_sent_to_verify_and_changes_nothing,
    anonymous_visitors_are_sent_to_log_in,
    there_is_no_such_view_by_default,
    reset_access_ends_everything_and_keeps_the_password,
    revoke_sessions_ends_everything,
    users_show_has_the_5_9_keys,
    without_a_uniquifier_a_per_account_value_ends_the_sessions,
);
