//! Turns on the PostgreSQL, MySQL and Redis variants of the black-box tests (`tests/fleet.rs`)
//! when their servers are configured, so that without a server those variants are reported as
//! ignored, never as passed: `cfg(security_test_postgres)` when `SECURITY_TEST_POSTGRES_URL` is
//! set and not empty, `cfg(security_test_mysql)` when `SECURITY_TEST_MYSQL_URL` is,
//! `cfg(security_test_redis)` when `SECURITY_TEST_REDIS_URL` is (as the `tests` crate does).

fn main() {
    for (var, cfg) in [
        ("SECURITY_TEST_POSTGRES_URL", "security_test_postgres"),
        ("SECURITY_TEST_MYSQL_URL", "security_test_mysql"),
        ("SECURITY_TEST_REDIS_URL", "security_test_redis"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
