// Guards go on handler functions.

use security::login_required;

#[login_required]
pub struct Handler;

fn main() {
    let _ = Handler;
}
