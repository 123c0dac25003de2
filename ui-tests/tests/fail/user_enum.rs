// The derive goes on the entity's `Model` struct, not on an enum.

use security::SecurityUser;

#[derive(SecurityUser)]
pub enum Model {
    Admin,
    Member,
}

// A use site: the derive's error above is the only one, with no cascade from here.
async fn profile(_user: security::CurrentUser<Model>) {}

fn main() {
    let _ = axum::Router::<()>::new().route("/", axum::routing::get(profile));
}
