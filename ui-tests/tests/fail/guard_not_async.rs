// Guards go on `async fn` handlers.

use security::login_required;

#[login_required]
fn handler() -> &'static str {
    "Hello"
}

fn main() {}
