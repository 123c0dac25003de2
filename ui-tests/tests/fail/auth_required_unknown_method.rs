// An unknown method: the message lists the methods.

use security::auth_required;

#[auth_required("token", "cookie")]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
