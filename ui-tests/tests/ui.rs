//! Compile-pass and compile-fail tests of the `security` macros.
//!
//! Each `.stderr` is generated with `TRYBUILD=overwrite cargo test -p security-ui-tests` and then
//! reviewed; the messages depend on the compiler version (see the crate's `Cargo.toml`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/pass/*.rs");
    t.compile_fail("tests/fail/*.rs");
}
