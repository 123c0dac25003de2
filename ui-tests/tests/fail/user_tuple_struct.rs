// A SeaORM `Model` has named fields.

use security::SecurityUser;

#[derive(SecurityUser)]
pub struct Model(i32, String);

fn main() {}
