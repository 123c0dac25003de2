//! The integration tests: the real router driven with `oneshot`, on SQLite, and on
//! PostgreSQL and MySQL when their URLs are set (`backend_tests!`).

mod auth;
mod compat;
mod customize;
mod datastore;
mod extractors;
mod flows;
mod mail;
mod review;
