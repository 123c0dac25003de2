// Freshness (Flask-Security 5.9): `within` and `grace` of `#[auth_required]` become seconds in
// the generated method list, and the `Fresh` extractor sits beside the guard like
// `CurrentUser`.

use axum::Router;
use axum::routing::{get, post};
use security::auth_required;
use security::extract::Fresh;
use security::guard::{Freshness, Method, MethodList};

type User = security::entities::user::Model;

#[auth_required("session", "token", within = "5 minutes", grace = "1 hour")]
async fn delete_account() -> &'static str {
    "Deleted"
}

// Singular units, and the configured grace period.
#[auth_required("session", within = "1 minute")]
async fn rename() -> &'static str {
    "Renamed"
}

// Only a grace period opened by an earlier check passes.
#[auth_required("session", within = "0 seconds", grace = "10 minutes")]
async fn step_two() -> &'static str {
    "Step two"
}

// `SECURITY_FRESHNESS`, with the user.
#[auth_required("token", "session")]
async fn change_email(user: Fresh<User>) -> String {
    user.email.clone()
}

fn main() {
    assert_eq!(
        <__security_methods_delete_account_0 as MethodList>::FRESHNESS,
        Some(Freshness::within_seconds(300).grace_seconds(3600))
    );
    assert_eq!(
        <__security_methods_delete_account_0 as MethodList>::METHODS,
        [Method::Session, Method::Token]
    );
    assert_eq!(
        <__security_methods_rename_0 as MethodList>::FRESHNESS,
        Some(Freshness::within_seconds(60))
    );
    assert_eq!(
        <__security_methods_step_two_0 as MethodList>::FRESHNESS,
        Some(Freshness::within_seconds(0).grace_seconds(600))
    );
    assert_eq!(
        <__security_methods_change_email_0 as MethodList>::FRESHNESS,
        None
    );

    let _app: Router = Router::new()
        .route("/delete", post(delete_account))
        .route("/rename", post(rename))
        .route("/step_two", post(step_two))
        .route("/change_email", get(change_email).post(change_email));
}
