// `#[roles_required()]` needs roles.

use security::roles_required;

#[roles_required()]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
