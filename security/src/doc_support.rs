//! The entities of the documentation examples: the shipped [`crate::entities`], so that no
//! entity of the examples' own shows up in an app's compile errors (rustc lists the
//! implementations of a trait it finds in the build). Hidden from the docs; not part of the
//! API.

pub use crate::entities::{role, roles_users, user};

/// The user model of the examples.
pub use crate::entities::user::Model as User;
