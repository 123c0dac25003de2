//! The handle an app holds.
pub use crate::web::runtime::{RegisterField, Security, SecurityBuilder};
