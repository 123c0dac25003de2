// `grace` alone extends nothing.

use security::auth_required;

#[auth_required("session", grace = "1 hour")]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
