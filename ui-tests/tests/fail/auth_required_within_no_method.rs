// A window without a method to authenticate with.

use security::auth_required;

#[auth_required(within = "5 minutes")]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
