// Every mistake in the list is reported at once.

use security::roles_accepted;

#[roles_accepted(admin, "", "editor", "editor")]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
