// A duration that does not read: the message gives the form and the units.

use security::auth_required;

#[auth_required("session", within = "5 minuts")]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
