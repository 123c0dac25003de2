// `within` given twice.

use security::auth_required;

#[auth_required("session", within = "5 minutes", within = "1 hour")]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
