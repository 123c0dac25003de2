// A SeaORM `Model` has named fields.

use security::SecurityUser;

#[derive(SecurityUser)]
pub struct Model(i32, String);

// A use site: the derive's error above is the only one, with no cascade from here.
async fn profile(_user: security::CurrentUser<Model>) {}

fn main() {
    let _ = axum::Router::<()>::new().route("/", axum::routing::get(profile));
}
