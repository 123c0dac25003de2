//! Cost of hashing and verifying one password with each writable scheme, through the blocking
//! API (`Passwords::hash_blocking` / `Passwords::verify_blocking`), with the parameters used for
//! new hashes: argon2id m=19456 KiB t=2 p=1, bcrypt cost 12, pbkdf2_sha512 25000 rounds,
//! sha512_crypt 100000 rounds, and plaintext for reference.
//!
//! Run with `cargo bench -p security --bench hashing`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use security::password::{Passwords, Scheme};

const PASSWORD: &str = "correct horse battery staple";

fn bench_scheme(c: &mut Criterion, scheme: Scheme) {
    let passwords = Passwords::new(scheme, Some("bench-salt".to_owned()));
    let stored = passwords
        .hash_blocking(PASSWORD)
        .expect("a writable scheme hashes");
    let mut group = c.benchmark_group(scheme.name());
    if scheme != Scheme::Plaintext {
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(5));
    }
    group.bench_function("hash", |b| {
        b.iter(|| passwords.hash_blocking(black_box(PASSWORD)))
    });
    group.bench_function("verify", |b| {
        b.iter(|| passwords.verify_blocking(black_box(PASSWORD), black_box(&stored)))
    });
    group.finish();
}

fn hashing(c: &mut Criterion) {
    for scheme in [
        Scheme::Argon2,
        Scheme::Bcrypt,
        Scheme::Pbkdf2Sha512,
        Scheme::Sha512Crypt,
        Scheme::Plaintext,
    ] {
        bench_scheme(c, scheme);
    }
}

criterion_group!(benches, hashing);
criterion_main!(benches);
