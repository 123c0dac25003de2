// 5.9 wrote minutes as a number; here the duration is text.

use security::auth_required;

#[auth_required("session", within = 5)]
async fn handler() -> &'static str {
    "Hello"
}

fn main() {
    let _app: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
}
