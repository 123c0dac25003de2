// `#[auth_token_required]` takes no arguments.

use security::auth_token_required;

#[auth_token_required(header = "X-Token")]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
