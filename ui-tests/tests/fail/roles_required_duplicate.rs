// A role listed twice: the error is on the second.

use security::roles_required;

#[roles_required("admin", "editor", "admin")]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
