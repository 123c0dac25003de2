//! The integration tests: the real router driven with `oneshot`, on SQLite, and on
//! PostgreSQL and MySQL when their URLs are set (`backend_tests!`).
//!
//! One module per account flow (`register`, `confirm`, `recover`, `change`, `passwordless`;
//! login and logout are in `auth`, beside the guards), with what they share in `common`.

mod api_keys;
mod auth;
mod change;
mod change_email;
mod common;
mod compat;
mod confirm;
mod customize;
mod datastore;
mod extractors;
mod fresh;
mod mail;
mod messages;
mod openapi;
mod pages;
mod passwordless;
mod recover;
mod refresh;
mod register;
mod review;
mod sessions;
mod throttle;
mod throttle_store;
mod tokens;
mod username;
