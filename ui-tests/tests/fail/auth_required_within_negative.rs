// A negative window checks nothing: the message says to remove it.

use security::auth_required;

#[auth_required("token", within = "-1 minutes")]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
