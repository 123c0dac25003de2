// A misspelt key: the message names the keys and the near one.

use security::auth_required;

#[auth_required("session", witin = "5 minutes")]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
