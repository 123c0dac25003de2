//! Trybuild tests of the `security` macros: `tests/pass` must compile (and their `main` runs),
//! each case of `tests/fail` must fail with the error in its `.stderr`.
