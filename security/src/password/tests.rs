//! Unit tests of hashing, verification, migration and the scheme formats.

use super::bcrypt::MAX_BCRYPT_COST;
use super::pbkdf2::{ab64_decode, ab64_encode};
use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[test]
fn a_des_shaped_plaintext_password_verifies_without_a_salt() {
    let p = Passwords::new(Scheme::Plaintext, None);
    let verified = p
        .verify_and_update_blocking("firstpassword", "firstpassword")
        .unwrap();
    assert!(verified.ok);
    assert!(
        !p.verify_and_update_blocking("other", "firstpassword")
            .unwrap()
            .ok
    );
}

/// Counts the blocking workers running at once, per `Passwords`.
#[derive(Default)]
pub(super) struct Probe {
    active: AtomicUsize,
    max: AtomicUsize,
}

pub(super) struct Busy<'a>(&'a Probe);

impl Probe {
    pub(super) fn enter(&self) -> Busy<'_> {
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        Busy(self)
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

const SALTY: &str = "salty";

fn salty(scheme: Scheme) -> Passwords {
    Passwords::new(scheme, Some(SALTY.to_owned()))
}

/// Reference hashes: what 1.7.4 stored for `password` with `PASSWORD_SALT = "salty"`.
const A2: [(Scheme, &str); 9] = [
    (
        Scheme::Bcrypt,
        "$2a$12$KZCEyioL/A4DpthN4X/nae1NEhqM8kqSEgazk/J8lUBdMAZ7Bzhym",
    ),
    (
        Scheme::Bcrypt,
        "$2a$12$Xg5AP3NUY5gZoMjoAnYsxePYg3uWQTn8d0z3OcZ8mqPTHokri6PIK",
    ),
    (Scheme::DesCrypt, "GYxgJCs3j6jpA"),
    (
        Scheme::Pbkdf2Sha256,
        "$pbkdf2-sha256$20000$Y4yRkjJGSAnhnFPK2XtP6Q$CMl7O8HUr57lIFG084.XM8Q2ue9IbUDtlegdTxJyy/k",
    ),
    (
        Scheme::Pbkdf2Sha512,
        "$pbkdf2-sha512$19000$USrF2HtPidHa2zvHuDdGiA$4qiYSItA/HgRcbYc/ArmebBNhBvuEpOsYGk20nd80Uyatj3Pj6/P4tLmvA3SmgVhe7gy.QLaerJew1lMLwCzWw",
    ),
    (
        Scheme::Pbkdf2Sha512,
        "$pbkdf2-sha512$19000$sLY25jwHAMDYuxfCOMfY.w$zb6EZungMmVaqifOnLgxAa7Um/jwMkzu2KDnd0VpAa05xo8.nciXc.y4B2qLIz1ho4mti/L7F8zxQDyCaaQ2SQ",
    ),
    (
        Scheme::Sha256Crypt,
        "$5$rounds=110000$Xetad1L9cZFyDoiM$ZdIAnneYIbtn7qwkLOAFoC6BZ1KWNniMta5zWJo5ED3",
    ),
    (
        Scheme::Sha512Crypt,
        "$6$rounds=100000$jEaF9glXdRaNjxbx$zcYSuOmZR4mrPioLuR9sOihEm2VFmog8OQtitxda3k0QfUXReAog3bjM6net4hvqi6pSHzFgyawoludzhx5gy0",
    ),
    (Scheme::Plaintext, "password"),
];

#[test]
fn get_hmac_matches_appendix_a1() {
    let pw = salty(Scheme::Bcrypt);
    assert_eq!(
        pw.get_hmac("password").unwrap(),
        "LYTHjl+tR4olwwoVwxtw0B7j24WOOffplRNnqK1Gtadg0qjHc13Sd/BtqlP30Xyk1Q/wrihfJipJfRghXNm7FA=="
    );
    assert_eq!(
        pw.get_hmac("pässwörd").unwrap(),
        "pLCd8coDF3JQUKkeguvhOiAr83tJXOgVD8RybZRDtAUYiK+xbPA8UWI//yinINYlOJ9s1p/j12PBvXJYzgInUw=="
    );
    assert_eq!(pw.get_hmac("").unwrap().len(), 88);
}

#[test]
fn get_hmac_without_salt_is_missing_salt() {
    let err = Passwords::new(Scheme::Bcrypt, None)
        .get_hmac("password")
        .unwrap_err();
    assert!(matches!(err, HashError::MissingSalt { scheme: "bcrypt" }));
    assert_eq!(
        err.to_string(),
        "the configuration value `SECURITY_PASSWORD_SALT` must be set when `SECURITY_PASSWORD_HASH` is `bcrypt`"
    );
}

#[test]
fn scheme_names_round_trip() {
    for scheme in Scheme::ALL {
        assert_eq!(Scheme::from_name(scheme.name()), Some(scheme));
        assert_eq!(scheme.to_string(), scheme.name());
    }
    assert_eq!(Scheme::from_name("md5_crypt"), None);
    assert_eq!(Scheme::from_name("BCRYPT"), None);
    let writable: Vec<_> = Scheme::ALL.into_iter().filter(|s| s.can_hash()).collect();
    assert_eq!(writable.len(), 7);
    assert!(!Scheme::DesCrypt.can_hash());
}

#[test]
fn appendix_a2_values_are_identified() {
    for (scheme, stored) in A2 {
        assert_eq!(Scheme::identify(stored), scheme, "{stored}");
    }
}

#[test]
fn identification_follows_passlib_except_2b_and_argon2() {
    let tail = "12$KZCEyioL/A4DpthN4X/nae1NEhqM8kqSEgazk/J8lUBdMAZ7Bzhym";
    // Adapted from `A2`: passlib 1.6.2 calls `$2b$` plaintext; here it is bcrypt.
    assert_eq!(Scheme::identify(&format!("$2b${tail}")), Scheme::Bcrypt);
    assert_eq!(Scheme::identify(&format!("$2y${tail}")), Scheme::Bcrypt);
    assert_eq!(Scheme::identify(&format!("$2x${tail}")), Scheme::Bcrypt);
    assert_eq!(Scheme::identify(&format!("$2${tail}")), Scheme::Bcrypt);
    assert_eq!(Scheme::identify("abcdefghijklm"), Scheme::DesCrypt);
    assert_eq!(Scheme::identify("abcdefghijkl"), Scheme::Plaintext);
    assert_eq!(Scheme::identify("abcdefghijkl!"), Scheme::Plaintext);
    assert_eq!(Scheme::identify("abcdefghijklmn"), Scheme::Plaintext);
    assert_eq!(Scheme::identify("$argon2id$v=19$…"), Scheme::Argon2);
    assert_eq!(Scheme::identify("$argon2i$v=19$…"), Scheme::Argon2);
    assert_eq!(Scheme::identify("$argon2d$v=19$…"), Scheme::Argon2);
    assert_eq!(Scheme::identify("$argon2$"), Scheme::Plaintext);
    assert_eq!(Scheme::identify("$1$md5crypt$x"), Scheme::Plaintext);
    assert_eq!(Scheme::identify(""), Scheme::Plaintext);
}

/// Runs `f` on its own thread per item, for the slow cost-12 cases.
fn in_parallel<T: Sync>(items: &[T], f: impl Fn(&T) + Sync) {
    std::thread::scope(|scope| {
        for item in items {
            let f = &f;
            scope.spawn(move || f(item));
        }
    });
}

#[test]
fn appendix_a2_hashes_verify_password_and_reject_near_misses() {
    // Configured argon2: verify_and_update chooses the secret by the stored scheme.
    let pw = salty(Scheme::Argon2);
    in_parallel(&A2, |&(scheme, stored)| {
        let ok = pw.verify_and_update_blocking("password", stored).unwrap();
        assert!(ok.ok, "{scheme}: {stored}");
        for wrong in ["Password", "password "] {
            let v = pw.verify_and_update_blocking(wrong, stored).unwrap();
            assert_eq!(v, Verified::FAILED, "{scheme} accepted {wrong:?}");
        }
    });
}

#[test]
fn verify_prehashes_by_the_configured_scheme() {
    // 1.7.4's verify_password quirk: bcrypt configured → HMAC secret for every stored value.
    let pw = salty(Scheme::Bcrypt);
    in_parallel(&A2, |&(scheme, stored)| {
        let expected = scheme != Scheme::Plaintext;
        assert_eq!(
            pw.verify_blocking("password", stored).unwrap(),
            expected,
            "{stored}"
        );
    });
    // plaintext configured → raw secret: only the plaintext value verifies.
    let plain = salty(Scheme::Plaintext);
    assert!(plain.verify_blocking("password", "password").unwrap());
    assert!(
        !plain
            .verify_blocking("password", "$pbkdf2-sha256$20000$Y4yRkjJGSAnhnFPK2XtP6Q$CMl7O8HUr57lIFG084.XM8Q2ue9IbUDtlegdTxJyy/k")
            .unwrap()
    );
}

#[test]
fn verify_with_a_configured_scheme_that_needs_a_salt_requires_it() {
    let pw = Passwords::new(Scheme::Sha512Crypt, None);
    assert!(matches!(
        pw.verify_blocking("password", A2[7].1),
        Err(HashError::MissingSalt {
            scheme: "sha512_crypt"
        })
    ));
    // A DES-shaped stored value without a salt cannot be a DES-crypt hash: it is compared
    // as plaintext (and so does not verify `password`).
    let pw = Passwords::new(Scheme::Argon2, None);
    assert!(
        !pw.verify_and_update_blocking("password", A2[2].1)
            .unwrap()
            .ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writable_schemes_round_trip() {
    for scheme in Scheme::ALL.into_iter().filter(|s| s.can_hash()) {
        let pw = salty(scheme);
        let stored = pw.hash("hunter2 ü").await.unwrap();
        assert_eq!(Scheme::identify(&stored), scheme, "{stored}");
        assert!(pw.verify("hunter2 ü", &stored).await.unwrap(), "{scheme}");
        assert!(!pw.verify("hunter2 u", &stored).await.unwrap(), "{scheme}");
        assert!(!pw.verify("hunter2 ü ", &stored).await.unwrap(), "{scheme}");
        let same = pw.verify_and_update("hunter2 ü", &stored).await.unwrap();
        assert_eq!(
            same,
            Verified {
                ok: true,
                new_hash: None
            },
            "{scheme}"
        );
    }
}

#[test]
fn new_hashes_have_the_documented_formats() {
    let argon = salty(Scheme::Argon2).hash_blocking("x").unwrap();
    assert!(
        argon.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{argon}"
    );

    let bcrypt = salty(Scheme::Bcrypt).hash_blocking("x").unwrap();
    assert!(bcrypt.starts_with("$2a$12$"), "{bcrypt}");
    assert_eq!(bcrypt.len(), 60);

    let pbkdf2 = salty(Scheme::Pbkdf2Sha512).hash_blocking("x").unwrap();
    let fields: Vec<_> = pbkdf2.split('$').collect();
    assert_eq!(fields[..3], ["", "pbkdf2-sha512", "25000"], "{pbkdf2}");
    assert_eq!((fields[3].len(), fields[4].len()), (22, 86), "{pbkdf2}");
    assert!(!pbkdf2.contains('+') && !pbkdf2.contains('='), "{pbkdf2}");

    let sha = salty(Scheme::Sha512Crypt).hash_blocking("x").unwrap();
    let fields: Vec<_> = sha.split('$').collect();
    assert_eq!(fields[..3], ["", "6", "rounds=100000"], "{sha}");
    assert_eq!((fields[3].len(), fields[4].len()), (16, 86), "{sha}");

    // The secret is the HMAC, for every 1.7.4 scheme.
    let pw = salty(Scheme::Pbkdf2Sha512);
    let secret = pw.get_hmac("x").unwrap();
    let fields: Vec<_> = pbkdf2.split('$').collect();
    let mut key = [0u8; 64];
    Pbkdf2::Sha512.derive(
        secret.as_bytes(),
        &ab64_decode(fields[3]).unwrap(),
        25_000,
        &mut key,
    );
    assert_eq!(ab64_encode(&key), fields[4]);
}

#[test]
fn verify_only_schemes_refuse_to_hash() {
    assert!(matches!(
        salty(Scheme::DesCrypt).hash_blocking("x"),
        Err(HashError::Backend(_))
    ));
}

#[test]
fn bcrypt_without_salt_is_missing_salt() {
    let pw = Passwords::new(Scheme::Bcrypt, None);
    assert!(matches!(
        pw.hash_blocking("password"),
        Err(HashError::MissingSalt { scheme: "bcrypt" })
    ));
    assert!(matches!(
        pw.verify_blocking("password", A2[0].1),
        Err(HashError::MissingSalt { scheme: "bcrypt" })
    ));
    assert!(matches!(
        pw.verify_and_update_blocking("password", A2[0].1),
        Err(HashError::MissingSalt { scheme: "bcrypt" })
    ));
}

#[test]
fn argon2_without_salt_hashes_the_raw_password() {
    let pw = Passwords::new(Scheme::Argon2, None);
    let stored = pw.hash_blocking("password").unwrap();
    assert!(pw.verify_blocking("password", &stored).unwrap());
    assert!(!pw.verify_blocking("Password", &stored).unwrap());
    // The raw password, not an HMAC: the argon2 crate alone verifies it.
    assert!(verify_argon2(b"password", &stored));
    // A salt (pepper) added later locks that hash out, as documented.
    assert!(
        !salty(Scheme::Argon2)
            .verify_blocking("password", &stored)
            .unwrap()
    );
    // With a salt, the secret is the HMAC.
    let peppered = salty(Scheme::Argon2).hash_blocking("password").unwrap();
    let hmac = salty(Scheme::Argon2).get_hmac("password").unwrap();
    assert!(verify_argon2(hmac.as_bytes(), &peppered));
    assert!(!verify_argon2(b"password", &peppered));
}

/// A hashing thread keeps one Argon2 buffer between hashes: whatever it held before (another
/// size, another algorithm, another password), each result equals the argon2 crate's own.
#[test]
fn argon2_in_kept_memory_agrees_with_the_reference() {
    use ::argon2::{
        Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version,
    };
    let reference = |algorithm, m_cost, password: &[u8]| {
        let params = Params::new(m_cost, 2, 1, None).unwrap();
        Argon2::new(algorithm, Version::V0x13, params)
            .hash_password_with_salt(password, b"saltsaltsalt1234")
            .unwrap()
            .to_string()
    };
    // Large, then small, then large again: the kept buffer grows, is used in part, is reused.
    let vectors = [
        (Algorithm::Argon2id, 19_456),
        (Algorithm::Argon2i, 64),
        (Algorithm::Argon2d, 8 * 1024),
        (Algorithm::Argon2id, 19_456),
    ];
    std::thread::spawn(move || {
        super::argon2::keep_memory_on_this_thread();
        for (algorithm, m_cost) in vectors {
            let stored = reference(algorithm, m_cost, b"correct horse");
            assert!(verify_argon2(b"correct horse", &stored), "{stored}");
            assert!(!verify_argon2(b"correct horsf", &stored), "{stored}");
            // A hash made in kept memory verifies with the crate alone.
            let ours = hash_argon2(b"battery staple", &default_argon2_params()).unwrap();
            let parsed = ::argon2::PasswordHash::new(&ours).unwrap();
            assert!(
                Argon2::default()
                    .verify_password(b"battery staple", &parsed)
                    .is_ok()
            );
            assert!(
                Argon2::default()
                    .verify_password(b"battery stapler", &parsed)
                    .is_err()
            );
        }
    })
    .join()
    .unwrap();
}

#[test]
fn plaintext_compares_exactly() {
    let pw = Passwords::new(Scheme::Plaintext, None);
    assert_eq!(pw.hash_blocking("password ").unwrap(), "password ");
    assert!(pw.verify_blocking("password ", "password ").unwrap());
    assert!(!pw.verify_blocking("password", "password ").unwrap());
    assert!(!pw.verify_blocking("password ", "password").unwrap());
    assert!(!pw.verify_blocking("Password", "password").unwrap());
    assert!(!pw.verify_blocking("passwor", "password").unwrap());
    assert!(pw.verify_blocking("pässwörd", "pässwörd").unwrap());
    assert!(!pw.verify_blocking("", "password").unwrap());
}

#[test]
fn empty_and_garbage_stored_values_do_not_verify() {
    let pw = salty(Scheme::Argon2);
    let garbage = [
        "",
        "$2a$12$",
        "$2a$12$KZCEyioL/A4DpthN4X/nae1NEhqM8kqSEgazk/J8lUBdMAZ7Bzhy",
        "$2a$99$KZCEyioL/A4DpthN4X/nae1NEhqM8kqSEgazk/J8lUBdMAZ7Bzhym",
        "$2a$12$KZCEyioL/A4DpthN4X/nae1NEhqM8kqSEgazk/J8lUBdMAZ7Bzhyé",
        "$2$",
        "$2$é",
        "$2b$xx$KZCEyioL/A4DpthN4X/nae1NEhqM8kqSEgazk/J8lUBdMAZ7Bzhym",
        "$pbkdf2-sha512$",
        "$pbkdf2-sha512$0$USrF2HtPidHa2zvHuDdGiA$4qiY",
        "$pbkdf2-sha512$19000$USrF2HtPidHa2zvHuDdGiA$4qiY",
        "$pbkdf2-sha512$19000$!!$!!",
        "$pbkdf2-sha512$x$y$z",
        "$pbkdf2-sha256$20000$Y4yRkjJGSAnhnFPK2XtP6Q$CMl7O8HUr57lIFG084$extra",
        "$5$",
        "$5$rounds=$salt$",
        "$6$",
        "$6$rounds=abc$salt$checksum",
        "$6$rounds=100000$jEaF9glXdRaNjxbx$",
        "$6$rounds=100000$jEaF9glXdRaNjxbx$é",
        "$6$rounds=1000$salt$too$many",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$garbage",
        "$argon2id$v=19$m=x,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
        "$argon2q$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        "GYxgJCs3j6jpB",
    ];
    for stored in garbage {
        assert!(!pw.verify_blocking("password", stored).unwrap(), "{stored}");
        assert_eq!(
            pw.verify_and_update_blocking("password", stored).unwrap(),
            Verified::FAILED,
            "{stored}"
        );
    }
    // An empty stored value fails even for an empty password, under plaintext.
    let plain = Passwords::new(Scheme::Plaintext, None);
    assert!(!plain.verify_blocking("", "").unwrap());
    assert_eq!(
        plain.verify_and_update_blocking("", "").unwrap(),
        Verified::FAILED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_is_migrated_to_argon2() {
    let pw = salty(Scheme::Argon2);
    let v = pw.verify_and_update("password", "password").await.unwrap();
    assert!(v.ok);
    let new_hash = v.new_hash.expect("plaintext is re-hashed");
    assert_eq!(Scheme::identify(&new_hash), Scheme::Argon2);
    let fresh = salty(Scheme::Argon2);
    assert!(fresh.verify("password", &new_hash).await.unwrap());
    assert_eq!(
        fresh
            .verify_and_update("password", &new_hash)
            .await
            .unwrap(),
        Verified {
            ok: true,
            new_hash: None
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_rehashes_the_original_password_not_the_hmac() {
    // bcrypt (`A2`) → sha512_crypt: 1.7.4 stored sha512_crypt(get_hmac(get_hmac(p))).
    let pw = salty(Scheme::Sha512Crypt);
    let v = pw.verify_and_update("password", A2[0].1).await.unwrap();
    assert!(v.ok);
    let new_hash = v.new_hash.expect("bcrypt is re-hashed");
    assert_eq!(Scheme::identify(&new_hash), Scheme::Sha512Crypt);
    let fresh = salty(Scheme::Sha512Crypt);
    assert!(fresh.verify("password", &new_hash).await.unwrap());
    let hmac = fresh.get_hmac("password").unwrap();
    assert!(!fresh.verify(&hmac, &new_hash).await.unwrap());
    // And the next login neither fails nor re-hashes again.
    assert_eq!(
        fresh
            .verify_and_update("password", &new_hash)
            .await
            .unwrap(),
        Verified {
            ok: true,
            new_hash: None
        }
    );
}

#[test]
fn same_scheme_and_failed_verification_do_not_rehash() {
    let pw = salty(Scheme::Pbkdf2Sha512);
    let same = pw.verify_and_update_blocking("password", A2[4].1).unwrap();
    assert_eq!(
        same,
        Verified {
            ok: true,
            new_hash: None
        }
    );
    let failed = pw.verify_and_update_blocking("Password", A2[6].1).unwrap();
    assert_eq!(failed, Verified::FAILED);
    let failed = pw
        .verify_and_update_blocking("Password", "password")
        .unwrap();
    assert_eq!(failed, Verified::FAILED);
}

#[test]
fn changed_cost_parameters_rehash() {
    let pw = salty(Scheme::Argon2);
    let secret = pw.get_hmac("password").unwrap();
    let weak = ::argon2::Params::new(8 * 1024, 1, 1, None).unwrap();
    let stored = hash_argon2(secret.as_bytes(), &weak).unwrap();
    let v = pw.verify_and_update_blocking("password", &stored).unwrap();
    assert!(v.ok);
    let new_hash = v.new_hash.expect("weaker argon2 parameters are re-hashed");
    assert!(new_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));

    let pw = salty(Scheme::Bcrypt);
    let secret = pw.get_hmac("password").unwrap();
    let stored = hash_bcrypt(secret.as_bytes(), 4).unwrap();
    let v = pw.verify_and_update_blocking("password", &stored).unwrap();
    assert!(v.ok);
    let new_hash = v.new_hash.expect("bcrypt cost 4 is re-hashed");
    assert!(new_hash.starts_with("$2a$12$"));

    assert!(!bcrypt_needs_update(A2[0].1, 12));
    assert!(!bcrypt_needs_update(&A2[0].1.replace("$2a$", "$2b$"), 12));
    assert!(bcrypt_needs_update(&A2[0].1.replace("$2a$", "$2x$"), 12));
    assert!(bcrypt_needs_update(A2[0].1, 13));
}

#[test]
fn bcrypt_accepts_every_ident() {
    let pw = salty(Scheme::Bcrypt);
    let secret = pw.get_hmac("password").unwrap();
    let stored = hash_bcrypt(secret.as_bytes(), 4).unwrap();
    let tail = stored.strip_prefix("$2a$").unwrap();
    for ident in ["$2a$", "$2b$", "$2x$", "$2y$", "$2$"] {
        let stored = format!("{ident}{tail}");
        assert!(pw.verify_blocking("password", &stored).unwrap(), "{stored}");
        assert!(
            !pw.verify_blocking("passwore", &stored).unwrap(),
            "{stored}"
        );
    }
}

#[test]
fn bcrypt_2_without_nul_equals_2a_for_short_keys() {
    // `$2$` skips the terminating NUL: for a short key it differs from `$2a$`, and equals
    // `$2a$` over the key repeated to 72 bytes.
    let short = b"abc";
    let a = hash_bcrypt(short, 4).unwrap();
    let tail = a.strip_prefix("$2a$").unwrap();
    assert!(verify_bcrypt(short, &a));
    assert!(!verify_bcrypt(short, &format!("$2${tail}")));
    let repeated: Vec<u8> = short.iter().copied().cycle().take(72).collect();
    let two = hash_bcrypt(&repeated, 4).unwrap();
    let tail = two.strip_prefix("$2a$").unwrap();
    assert!(verify_bcrypt(short, &format!("$2${tail}")));
}

#[test]
fn bcrypt_sees_only_72_bytes_of_the_secret() {
    let secret = salty(Scheme::Bcrypt).get_hmac("password").unwrap();
    let stored = hash_bcrypt(secret.as_bytes(), 4).unwrap();
    let mut other = secret.clone().into_bytes();
    other[80] ^= 1;
    assert!(verify_bcrypt(&other, &stored));
    other[71] ^= 1;
    assert!(!verify_bcrypt(&other, &stored));
}

#[test]
fn sha_crypt_reads_glibc_variants() {
    let secret = b"Hello world!";
    // glibc test vectors (crypt-sha512 / crypt-sha256 of Ulrich Drepper's spec).
    assert!(verify_sha_crypt(
        secret,
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
        ::sha_crypt::Algorithm::Sha512Crypt
    ));
    assert!(verify_sha_crypt(
        secret,
        "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
        ::sha_crypt::Algorithm::Sha512Crypt
    ));
    // Salt longer than 16 characters is cut, as glibc does.
    assert!(verify_sha_crypt(
        secret,
        "$6$rounds=10000$saltstringsaltstring$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
        ::sha_crypt::Algorithm::Sha512Crypt
    ));
    assert!(verify_sha_crypt(
        secret,
        "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
        ::sha_crypt::Algorithm::Sha256Crypt
    ));
    // rounds=10 is clamped to 1000 (the spec's vector; libxcrypt now refuses it).
    assert!(verify_sha_crypt(
        b"the minimum number is still observed",
        "$5$rounds=10$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC",
        ::sha_crypt::Algorithm::Sha256Crypt
    ));
    assert!(!verify_sha_crypt(
        b"Hello world.",
        "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
        ::sha_crypt::Algorithm::Sha256Crypt
    ));
}

#[test]
fn des_block_cipher_known_answer() {
    fn bits(x: u64) -> des_crypt::Bits64 {
        std::array::from_fn(|i| ((x >> (63 - i)) & 1) as u8)
    }
    let subkeys = des_crypt::key_schedule(&bits(0x1334_5779_9BBC_DFF1));
    let out = des_crypt::encrypt(&bits(0x0123_4567_89AB_CDEF), &subkeys, &des_crypt::E);
    assert_eq!(out, bits(0x85E8_1354_0F0A_B405));
}

#[test]
fn des_crypt_matches_glibc() {
    // Generated with glibc crypt(3) (perl's `crypt`).
    let vectors: [(&[u8], &str); 13] = [
        (b"", "..X8NBuQ4l6uQ"),
        (b"", "9/fPnaaPEtmu6"),
        (b"a", "zzJZ5PtvFqi9o"),
        (b"a", "A.nC.VkR2nNRQ"),
        (b"abcdefgh", "..dCr2UJOULd6"),
        (b"abcdefghXYZ", "zzcHgwjUppv8U"),
        (b"abcdefghXYZ", "A.TgHiSMECWeg"),
        (b"zz99..//", "9/QvW/GfdoC6A"),
        (b"zz99..//", "zz0vPsGrbzmFc"),
        ("été".as_bytes(), "../qnYtaCa/1Q"),
        ("été".as_bytes(), "zzAmT77Q0.pQs"),
        ("été".as_bytes(), "9/w1K15ZDSdDM"),
        (b"password", "abJnggxhB/yWI"),
    ];
    for (secret, stored) in vectors {
        assert!(des_crypt::verify(secret, stored), "{stored}");
        let mut wrong = secret.to_vec();
        wrong.push(b'x');
        if secret.len() < 8 {
            assert!(!des_crypt::verify(&wrong, stored), "{stored}");
        } else {
            // Only 8 bytes count.
            assert!(des_crypt::verify(&wrong, stored), "{stored}");
        }
    }
    // 1.7.4's own: des_crypt(get_hmac("password")) with salt "salty".
    let hmac = salty(Scheme::DesCrypt).get_hmac("password").unwrap();
    assert!(des_crypt::verify(hmac.as_bytes(), "GYxgJCs3j6jpA"));
    assert!(des_crypt::verify(&hmac.as_bytes()[..8], "GYxgJCs3j6jpA"));
    assert!(!des_crypt::verify(&hmac.as_bytes()[..7], "GYxgJCs3j6jpA"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_is_bounded_by_the_semaphore() {
    async fn max_workers(pw: &Passwords, jobs: usize) -> usize {
        let tasks: Vec<_> = (0..jobs)
            .map(|i| {
                let pw = pw.clone();
                tokio::spawn(async move { pw.hash(&format!("password {i}")).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        pw.inner.probe.max()
    }
    let one = salty(Scheme::Argon2).with_concurrency(1);
    assert_eq!(max_workers(&one, 4).await, 1);
    let two = salty(Scheme::Argon2).with_concurrency(2);
    assert!(max_workers(&two, 6).await <= 2);
    // Control: without a tight limit the workers do overlap, so the probe can see it.
    let many = salty(Scheme::Argon2).with_concurrency(6);
    assert!(max_workers(&many, 6).await > 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dummy_verify_does_the_configured_work() {
    let pw = salty(Scheme::Argon2);
    assert!(pw.inner.dummy.get().is_none());
    pw.dummy_verify("whatever").await;
    let dummy = pw
        .inner
        .dummy
        .get()
        .expect("first call makes the dummy hash");
    assert!(dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    // Real argon2 work (19 MiB, 2 passes) takes milliseconds on any machine; skipping it
    // would take microseconds. Load from other tests can only make this slower, so an
    // absolute floor does not flake where a comparison with a real check would.
    let started = Instant::now();
    pw.dummy_verify("whatever").await;
    let dummy_time = started.elapsed();
    assert!(
        dummy_time >= Duration::from_millis(1),
        "dummy_verify took {dummy_time:?}"
    );
    // Without a salt, a salted scheme still does the work (and does not panic).
    Passwords::new(Scheme::Pbkdf2Sha512, None)
        .dummy_verify("whatever")
        .await;
    Passwords::new(Scheme::Plaintext, None)
        .dummy_verify("whatever")
        .await;
}

#[test]
fn debug_output_hides_the_salt() {
    let debug = format!("{:?}", salty(Scheme::Bcrypt));
    assert!(!debug.contains(SALTY), "{debug}");
    assert!(debug.contains("Bcrypt"), "{debug}");
}

#[test]
fn double_hmac_rescue_is_off_by_default_and_covers_each_shape() {
    for scheme in [Scheme::Sha512Crypt, Scheme::Pbkdf2Sha256, Scheme::Bcrypt] {
        let app = salty(scheme);
        // What 1.7.4 stored when it migrated a hashed password to `scheme`.
        let stored = app
            .hash_blocking(&app.get_hmac("password").unwrap())
            .unwrap();
        assert!(
            !app.verify_and_update_blocking("password", &stored)
                .unwrap()
                .ok
        );
        let rescue = app.clone().with_double_hmac_rescue(true);
        let ok = rescue
            .verify_and_update_blocking("password", &stored)
            .unwrap();
        assert!(ok.ok, "{scheme}");
        let fixed = ok.new_hash.unwrap();
        assert!(app.verify_blocking("password", &fixed).unwrap(), "{scheme}");
        assert!(
            !rescue
                .verify_and_update_blocking("passwore", &stored)
                .unwrap()
                .ok
        );
    }
    // Hashed, then switched to plaintext: 1.7.4 stored the HMAC string itself.
    let app = salty(Scheme::Plaintext);
    let stored = app.get_hmac("password").unwrap();
    assert!(
        !app.verify_and_update_blocking("password", &stored)
            .unwrap()
            .ok
    );
    let rescue = app.clone().with_double_hmac_rescue(true);
    let ok = rescue
        .verify_and_update_blocking("password", &stored)
        .unwrap();
    assert_eq!(ok.new_hash.as_deref(), Some("password"));
    assert!(
        !rescue
            .verify_and_update_blocking("passwore", &stored)
            .unwrap()
            .ok
    );
}

#[test]
fn hashes_above_the_cost_ceilings_are_refused_without_work() {
    let secret = b"secret";
    let salt = b"0123456789abcdef";
    let stored = |rounds: u32| {
        let mut key = [0u8; 32];
        Pbkdf2::Sha256.derive(secret, salt, rounds, &mut key);
        format!(
            "$pbkdf2-sha256${rounds}${}${}",
            ab64_encode(salt),
            ab64_encode(&key)
        )
    };
    assert!(verify_pbkdf2(secret, &stored(1000), Pbkdf2::Sha256));
    // Above the ceiling the hash is refused before any work (whatever the checksum): this
    // would take minutes if it were honoured.
    let above = u32::try_from(MAX_ROUNDS).unwrap() + 1;
    let costly = stored(1000).replacen("1000", &above.to_string(), 1);
    assert!(!verify_pbkdf2(secret, &costly, Pbkdf2::Sha256));
    let bcrypt = hash_bcrypt(secret, 4).unwrap();
    assert!(verify_bcrypt(secret, &bcrypt));
    let costly = format!("$2a${}{}", MAX_BCRYPT_COST + 1, &bcrypt[6..]);
    assert!(!verify_bcrypt(secret, &costly));
}

/// The 1.7.4 migration fixtures: every user logs in (or not) as with 1.7.4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flask_security_1_7_4_fixture_users() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/flask-security-1.7.4");
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|err| panic!("cannot read the fixture {name}: {err}"))
    };
    let (users, secrets) = (read("users.json"), read("secrets.json"));
    let users: serde_json::Value = serde_json::from_str(&users).unwrap();
    let secrets: serde_json::Value = serde_json::from_str(&secrets).unwrap();
    let salt = secrets["SECURITY_PASSWORD_SALT"]
        .as_str()
        .unwrap()
        .to_owned();
    let configured = Scheme::from_name(secrets["SECURITY_PASSWORD_HASH"].as_str().unwrap())
        .expect("a known scheme");
    let app = Passwords::new(configured, Some(salt.clone()));

    let mut tasks = tokio::task::JoinSet::new();
    let mut checked = 0;
    for user in users["users"].as_array().unwrap() {
        let (Some(password), Some(stored)) =
            (user["password"].as_str(), user["stored_password"].as_str())
        else {
            continue;
        };
        checked += 1;
        let email = user["email"].as_str().unwrap().to_owned();
        let expected = user["password_verifies"].as_bool().unwrap();
        let scheme = Scheme::from_name(user["scheme"].as_str().unwrap()).unwrap();
        let double_hmac = user["history"]
            .to_string()
            .contains("get_hmac(get_hmac(password))");
        let (password, stored) = (password.to_owned(), stored.to_owned());
        let (app, salt) = (app.clone(), salt.clone());
        tasks.spawn(async move {
            assert_eq!(Scheme::identify(&stored), scheme, "{email}");
            // verify_password as 1.7.4 ran it in the era that wrote the hash.
            let era = Passwords::new(scheme, Some(salt));
            assert_eq!(
                era.verify(&password, &stored).await.unwrap(),
                expected,
                "{email}: verify"
            );
            // The login path under the final configuration.
            let login = app.verify_and_update(&password, &stored).await.unwrap();
            assert_eq!(login.ok, expected, "{email}: verify_and_update");
            assert_eq!(
                login.new_hash.is_some(),
                expected && scheme != configured,
                "{email}: re-hash"
            );
            let wrong = app
                .verify_and_update(&format!("{password}x"), &stored)
                .await
                .unwrap();
            assert_eq!(wrong, Verified::FAILED, "{email}: wrong password");
            if double_hmac {
                // The 1.7.4 bug, reproduced: the stored hash is of get_hmac(get_hmac(p)).
                let once = app.get_hmac(&password).unwrap();
                assert!(app.verify(&once, &stored).await.unwrap(), "{email}");
            }
            // With the rescue (SECURITY_FLASK_COMPAT), the double-HMAC user gets in too,
            // and leaves with a hash that verifies the normal way.
            let rescue = app.clone().with_double_hmac_rescue(true);
            let rescued = rescue.verify_and_update(&password, &stored).await.unwrap();
            assert_eq!(rescued.ok, expected || double_hmac, "{email}: rescue");
            if double_hmac {
                let fixed = rescued.new_hash.expect("a correct hash");
                let again = rescue.verify_and_update(&password, &fixed).await.unwrap();
                assert_eq!(
                    again,
                    Verified {
                        ok: true,
                        new_hash: None
                    },
                    "{email}"
                );
                assert!(app.verify(&password, &fixed).await.unwrap(), "{email}");
            }
            let wrong = rescue
                .verify_and_update(&format!("{password}x"), &stored)
                .await
                .unwrap();
            assert_eq!(
                wrong,
                Verified::FAILED,
                "{email}: wrong password, rescue on"
            );
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
    }
    assert!(checked >= 20, "only {checked} users with a password");
}

#[test]
fn typed_storage_hashes_what_was_typed_and_checks_both_forms() {
    let nfc = "p\u{e4}ssw\u{f6}rd";
    let nfd = "pa\u{308}sswo\u{308}rd";
    let normalising =
        Passwords::new(Scheme::Plaintext, None).with_normalization(Some(NormalizeForm::Nfkd));
    assert_eq!(normalising.hash_blocking(nfc).unwrap(), nfd);
    let typed = normalising.clone().with_typed_storage(true);
    let stored = typed.hash_blocking(nfc).unwrap();
    assert_eq!(stored, nfc, "what Flask-Security 1.7.4 would store");
    let verified = typed.verify_and_update_blocking(nfc, &stored).unwrap();
    assert!(verified.ok && verified.new_hash.is_none(), "{verified:?}");
    // The normalising runtime replaces the typed form at the next login.
    let verified = normalising
        .verify_and_update_blocking(nfc, &stored)
        .unwrap();
    assert!(verified.ok);
    assert_eq!(verified.new_hash.as_deref(), Some(nfd));
    assert!(!normalising.verify_blocking("wrong", &stored).unwrap());
}

/// The hashing threads run at the priority asked for: `SCHED_IDLE` by default, nice +10 with
/// `Low`, as the process otherwise.
#[cfg(target_os = "linux")]
#[test]
fn hashing_threads_run_at_the_configured_priority() {
    use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};
    let observe = |priority: HashPriority| {
        let pool = HashPool::start(1, priority);
        let (tx, rx) = std::sync::mpsc::channel();
        pool.submit(Box::new(move || {
            let tid = rustix::thread::gettid();
            let nice = rustix::process::getpriority_process(Some(tid)).unwrap();
            let policy = thread_priority::thread_schedule_policy().unwrap();
            tx.send((policy, nice)).unwrap();
        }))
        .unwrap();
        rx.recv().unwrap()
    };
    // A new thread starts with its creator's nice value.
    let base = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
    let other = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other);
    assert_eq!(HashPriority::default(), HashPriority::Idle);
    assert_eq!(
        observe(HashPriority::Idle).0,
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
    );
    assert_eq!(
        observe(HashPriority::Low),
        (other, (base + HASH_NICE).min(19))
    );
    assert_eq!(observe(HashPriority::Normal), (other, base));
}

#[test]
fn hashing_priorities_read_from_their_names() {
    assert_eq!("idle".parse(), Ok(HashPriority::Idle));
    assert_eq!(" LOW ".parse(), Ok(HashPriority::Low));
    assert_eq!("normal".parse(), Ok(HashPriority::Normal));
    assert!("realtime".parse::<HashPriority>().is_err());
}
