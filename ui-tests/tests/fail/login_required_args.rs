// `#[login_required]` takes no arguments.

use security::login_required;

#[login_required("admin")]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
