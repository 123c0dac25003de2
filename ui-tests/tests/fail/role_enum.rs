// The derive goes on the role entity's `Model` struct, not on an enum.

use security::SecurityRole;

#[derive(SecurityRole)]
pub enum Role {
    Admin,
}

// A use site: the derive's error above is the only one, with no cascade from here.
fn is_role<R: security::SecurityRole>() {}

fn main() {
    is_role::<Role>();
}
