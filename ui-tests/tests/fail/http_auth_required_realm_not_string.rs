// The realm is a string.

use security::http_auth_required;

#[http_auth_required(42)]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
