// Guards go on free handler functions, not methods.

use security::login_required;

pub struct Api;

impl Api {
    #[login_required]
    pub async fn handler(&self) -> &'static str {
        "Hello"
    }
}

fn main() {
    let _ = Api.handler();
}
