//! The application's data: the user and role models the derives implement (`model`), the
//! datastore over SeaORM (`datastore`), the runtime-owned tables (`schema`), and the batched,
//! cached identity look-up the guards use (`loader`, `cache`), and the channel that tells
//! the other instances which cached identities to drop (`bus`).

pub(crate) mod api_keys;
pub(crate) mod bus;
pub(crate) mod cache;
pub mod datastore;
pub mod entities;
pub(crate) mod held;
pub(crate) mod loader;
pub mod model;
pub mod schema;
pub(crate) mod sessions;
