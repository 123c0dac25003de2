// `#[auth_required]` needs at least one method.

use security::auth_required;

#[auth_required]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
