// One realm at most.

use security::http_auth_required;

#[http_auth_required("My Realm", "Other Realm")]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
