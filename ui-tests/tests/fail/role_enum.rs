// The derive goes on the role entity's `Model` struct, not on an enum.

use security::SecurityRole;

#[derive(SecurityRole)]
pub enum Role {
    Admin,
}

fn main() {}
