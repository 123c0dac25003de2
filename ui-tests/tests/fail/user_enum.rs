// The derive goes on the entity's `Model` struct, not on an enum.

use security::SecurityUser;

#[derive(SecurityUser)]
pub enum Model {
    Admin,
    Member,
}

fn main() {}
