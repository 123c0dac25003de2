//! Password hashing: the port of Flask-Security 1.7.4's `flask_security/utils.py` password
//! helpers (`get_hmac`, `encrypt_password`, `verify_password`, `verify_and_update_password`)
//! over the passlib 1.6.2 schemes they used, plus Argon2id for new hashes.
//!
//! # The pre-hash (the HMAC "salt")
//!
//! Flask-Security never gives the password itself to a hashing scheme: it gives
//! [`Passwords::get_hmac`], the standard Base64 of `HMAC-SHA512(key = SECURITY_PASSWORD_SALT,
//! msg = password)` (88 ASCII characters). `SECURITY_PASSWORD_SALT` is therefore a server-wide
//! *pepper*, not a per-password salt (every scheme salts internally as well).
//!
//! - 1.7.4's schemes (`bcrypt`, `des_crypt`, `pbkdf2_*`, `sha*_crypt`) always hash and verify
//!   `get_hmac(password)`, so they **require** the salt: without one, hashing and verifying fail
//!   with [`HashError::MissingSalt`] (at hash/verify time, as in 1.7.4, not at construction).
//! - `argon2` (new in this port, and the default) hashes `get_hmac(password)` when a salt is
//!   configured and the raw password when none is.
//! - `plaintext` stores the raw password and compares it exactly (no trimming, so
//!   `"password "` is not `"password"`) in constant time.
//!
//! # Warning
//!
//! Changing `SECURITY_PASSWORD_SALT` later makes every existing hash unverifiable (every user is
//! locked out until their password is reset), exactly as in 1.7.4. Adding a salt to an argon2
//! deployment that had none has the same effect.
//!
//! # Migration from Flask-Security 1.7.4
//!
//! Every hash that 1.7.4 wrote verifies here (spec §9.6); [`Scheme::identify`] reads a stored
//! value as passlib 1.6.2 does, except that `$2b$` is bcrypt and `$argon2…$` is argon2.
//! [`Passwords::verify_and_update`] re-hashes a verified password with the configured scheme,
//! fixing 1.7.4's double-HMAC bug (spec §9.5, S14): the new hash is of the *original* password.
//!
//! # Threads
//!
//! Hashing is deliberately slow. The `async` methods run it with
//! [`tokio::task::spawn_blocking`] and at most a fixed number at a time (a semaphore whose
//! permit is taken *before* the blocking task is spawned, so a burst of logins waits cheaply
//! instead of piling up blocking threads). The `*_blocking` methods do the same work on the
//! calling thread, for the command line and benchmarks.
//!
//! # Example
//!
//! ```
//! use security::password::{Passwords, Scheme};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let passwords = Passwords::new(Scheme::Argon2, Some("pepper".to_owned()));
//! let stored = passwords.hash("correct horse").await?;
//! assert!(passwords.verify("correct horse", &stored).await?);
//! assert!(!passwords.verify("correct horse ", &stored).await?);
//! # Ok::<(), security::password::HashError>(())
//! # }).unwrap();
//! ```

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::{DecodePaddingMode, general_purpose::STANDARD_NO_PAD};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256, Sha512};
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

use crate::config::NormalizeForm;

/// A password hashing scheme (the values of `SECURITY_PASSWORD_HASH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Argon2id in PHC format (`$argon2id$v=19$m=19456,t=2,p=1$…`); the default for new hashes.
    Argon2,
    /// bcrypt, written as `$2a$12$…` (readable by 1.7.4's passlib).
    Bcrypt,
    /// passlib's `$pbkdf2-sha512$<rounds>$<salt>$<checksum>`.
    Pbkdf2Sha512,
    /// passlib's `$pbkdf2-sha256$…`.
    Pbkdf2Sha256,
    /// SHA-512-crypt, `$6$rounds=N$salt$checksum`.
    Sha512Crypt,
    /// SHA-256-crypt, `$5$…`.
    Sha256Crypt,
    /// Traditional DES crypt (13 characters, only 8 bytes of secret count); verify-only.
    DesCrypt,
    /// The password itself (1.7.4's default). Never use it for new deployments.
    Plaintext,
}

impl Scheme {
    /// Every scheme: the writable ones first, then the verify-only ones, then plaintext.
    pub const ALL: [Scheme; 8] = [
        Scheme::Argon2,
        Scheme::Bcrypt,
        Scheme::Pbkdf2Sha512,
        Scheme::Pbkdf2Sha256,
        Scheme::Sha512Crypt,
        Scheme::Sha256Crypt,
        Scheme::DesCrypt,
        Scheme::Plaintext,
    ];

    /// The configuration name (`SECURITY_PASSWORD_HASH` value), e.g. `"pbkdf2_sha512"`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Argon2 => "argon2",
            Scheme::Bcrypt => "bcrypt",
            Scheme::Pbkdf2Sha512 => "pbkdf2_sha512",
            Scheme::Pbkdf2Sha256 => "pbkdf2_sha256",
            Scheme::Sha512Crypt => "sha512_crypt",
            Scheme::Sha256Crypt => "sha256_crypt",
            Scheme::DesCrypt => "des_crypt",
            Scheme::Plaintext => "plaintext",
        }
    }

    /// The scheme with this configuration name (exact match, as [`Scheme::name`] spells it).
    pub fn from_name(name: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Which scheme wrote a stored value, as passlib 1.6.2 identifies it (spec §9.3), except
    /// that `$2b$` is bcrypt too and `$argon2id$`/`$argon2i$`/`$argon2d$` is Argon2.
    ///
    /// As in 1.7.4, anything unrecognised is plaintext, and a plaintext password that happens
    /// to be 13 characters of `[./0-9A-Za-z]` (e.g. `abcdefghijklm`) is taken for des_crypt.
    pub fn identify(stored: &str) -> Scheme {
        const BCRYPT: [&str; 5] = ["$2$", "$2a$", "$2b$", "$2x$", "$2y$"];
        const ARGON2: [&str; 3] = ["$argon2id$", "$argon2i$", "$argon2d$"];
        if BCRYPT.iter().any(|p| stored.starts_with(p)) {
            Scheme::Bcrypt
        } else if des::is_des_crypt(stored) {
            Scheme::DesCrypt
        } else if stored.starts_with(PBKDF2_SHA256_PREFIX) {
            Scheme::Pbkdf2Sha256
        } else if stored.starts_with(PBKDF2_SHA512_PREFIX) {
            Scheme::Pbkdf2Sha512
        } else if stored.starts_with(SHA256_CRYPT_PREFIX) {
            Scheme::Sha256Crypt
        } else if stored.starts_with(SHA512_CRYPT_PREFIX) {
            Scheme::Sha512Crypt
        } else if ARGON2.iter().any(|p| stored.starts_with(p)) {
            Scheme::Argon2
        } else {
            Scheme::Plaintext
        }
    }

    /// Whether this scheme may be configured for new hashes: argon2, bcrypt, pbkdf2_sha512,
    /// pbkdf2_sha256, sha512_crypt, sha256_crypt and plaintext. DES-crypt is verify-only, for
    /// migrated databases.
    pub fn can_hash(self) -> bool {
        matches!(
            self,
            Scheme::Argon2
                | Scheme::Bcrypt
                | Scheme::Pbkdf2Sha512
                | Scheme::Pbkdf2Sha256
                | Scheme::Sha512Crypt
                | Scheme::Sha256Crypt
                | Scheme::Plaintext
        )
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a password could not be hashed or verified. A wrong password is not an error: it is
/// `Ok(false)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The HMAC pre-hash is needed but `SECURITY_PASSWORD_SALT` is not set (Flask-Security's
    /// `RuntimeError`, adapted). `scheme` is the scheme that needs it: the configured one, or
    /// the one of a legacy stored hash.
    #[error(
        "the configuration value `SECURITY_PASSWORD_SALT` must be set when `SECURITY_PASSWORD_HASH` is `{scheme}`"
    )]
    MissingSalt {
        /// The name of the scheme that needs the salt.
        scheme: &'static str,
    },
    /// The hashing backend failed (no randomness, invalid parameters, verify-only scheme
    /// configured for new hashes).
    #[error("password hashing failed: {0}")]
    Backend(String),
    /// The blocking hashing task was cancelled or panicked.
    #[error("the password hashing task was cancelled")]
    Cancelled,
}

/// The outcome of [`Passwords::verify_and_update`].
#[derive(Clone, PartialEq, Eq)]
pub struct Verified {
    /// Whether the password matched the stored value.
    pub ok: bool,
    /// When the password matched but was stored with another scheme (or other argon2/bcrypt
    /// cost parameters) than the configured one: a new hash of the password, to be saved.
    pub new_hash: Option<String>,
}

impl fmt::Debug for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("ok", &self.ok)
            .field(
                "new_hash",
                &crate::redact::Redacted(self.new_hash.as_deref()),
            )
            .finish()
    }
}

impl Verified {
    const FAILED: Verified = Verified {
        ok: false,
        new_hash: None,
    };
}

/// Argon2id parameters for new hashes (OWASP: 19 MiB, 2 passes, 1 lane).
const ARGON2_M_COST: u32 = 19_456;
const ARGON2_T_COST: u32 = 2;
const ARGON2_P_COST: u32 = 1;
/// bcrypt cost for new hashes (passlib 1.6.2's default).
const BCRYPT_COST: u32 = 12;
/// PBKDF2-SHA512 rounds for new hashes. passlib 1.6.2 wrote 19000; 25000 is passlib 1.7's
/// default, still readable by 1.7.4 (the rounds are part of the stored string).
const PBKDF2_SHA512_ROUNDS: u32 = 25_000;
/// SHA-512-crypt rounds for new hashes (passlib 1.6.2's default).
const SHA512_CRYPT_ROUNDS: u32 = 100_000;
/// Rounds for new sha256_crypt hashes (passlib 1.6.2's default).
const SHA256_CRYPT_ROUNDS: u32 = 110_000;
/// Rounds for new pbkdf2_sha256 hashes (passlib 1.7's default; 1.6.2 wrote 20000).
const PBKDF2_SHA256_ROUNDS: u32 = 29_000;

const PBKDF2_SHA256_PREFIX: &str = "$pbkdf2-sha256$";
const PBKDF2_SHA512_PREFIX: &str = "$pbkdf2-sha512$";
const SHA256_CRYPT_PREFIX: &str = "$5$";
const SHA512_CRYPT_PREFIX: &str = "$6$";

/// What a [`Passwords`] is made from; the builders change one part of it.
struct Settings {
    scheme: Scheme,
    salt: Option<String>,
    argon2: argon2::Params,
    bcrypt_cost: u32,
    permits: usize,
    rescue: bool,
    normalize: Normalization,
}

/// How passwords are normalised (see [`Passwords::with_normalization`]).
#[derive(Clone, Copy, Debug, Default)]
struct Normalization {
    /// The form; `None`: passwords are taken as typed.
    form: Option<NormalizeForm>,
    /// Hash the typed form (checking both): see [`Passwords::with_typed_storage`].
    store_typed: bool,
}

/// What `dummy_verify` hashes once to get a hash of the configured cost.
const DUMMY_PASSWORD: &str = "dummy password for timing equalisation";

/// Hashes and verifies passwords off the async worker threads, with bounded concurrency.
///
/// A cheap [`Clone`] handle: clones share the configuration and the concurrency limit.
#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

struct Inner {
    scheme: Scheme,
    salt: Option<String>,
    argon2: argon2::Params,
    bcrypt_cost: u32,
    permits: usize,
    /// Also accept `get_hmac(get_hmac(password))`: see [`Passwords::with_double_hmac_rescue`].
    rescue: bool,
    /// How passwords are normalised: see [`Passwords::with_normalization`].
    normalize: Normalization,
    semaphore: Arc<Semaphore>,
    /// A hash of [`DUMMY_PASSWORD`] with the configured scheme, made on first use.
    dummy: OnceLock<String>,
    #[cfg(test)]
    probe: tests::Probe,
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passwords")
            .field("scheme", &self.inner.scheme)
            .field("salt", &self.inner.salt.as_ref().map(|_| "<redacted>"))
            .field("permits", &self.inner.permits)
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// `scheme` for new hashes (`SECURITY_PASSWORD_HASH`); `salt` is `SECURITY_PASSWORD_SALT`
    /// (an empty string counts as set, as in 1.7.4). At most
    /// [`std::thread::available_parallelism`] hashes run at a time.
    ///
    /// Nothing is checked here: a missing salt for a scheme that needs it, or a verify-only
    /// scheme (see [`Scheme::can_hash`]), makes hashing fail later with a [`HashError`]; check
    /// configuration at start-up.
    ///
    /// # Warning
    ///
    /// Changing `salt` later locks out every existing hash (see the module docs).
    pub fn new(scheme: Scheme, salt: Option<String>) -> Self {
        Self::from_settings(Settings {
            scheme,
            salt,
            argon2: default_argon2_params(),
            bcrypt_cost: BCRYPT_COST,
            permits: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            rescue: false,
            normalize: Normalization::default(),
        })
    }

    fn from_settings(settings: Settings) -> Self {
        let Settings {
            scheme,
            salt,
            argon2,
            bcrypt_cost,
            permits,
            rescue,
            normalize,
        } = settings;
        let permits = permits.max(1);
        Passwords {
            inner: Arc::new(Inner {
                scheme,
                salt,
                argon2,
                bcrypt_cost,
                permits,
                rescue,
                normalize,
                semaphore: Arc::new(Semaphore::new(permits)),
                dummy: OnceLock::new(),
                #[cfg(test)]
                probe: tests::Probe::default(),
            }),
        }
    }

    /// A new handle with the settings of this one, changed by `change` (its own concurrency
    /// limit and dummy hash).
    fn changed(&self, change: impl FnOnce(&mut Settings)) -> Self {
        let inner = &self.inner;
        let mut settings = Settings {
            scheme: inner.scheme,
            salt: inner.salt.clone(),
            argon2: inner.argon2.clone(),
            bcrypt_cost: inner.bcrypt_cost,
            permits: inner.permits,
            rescue: inner.rescue,
            normalize: inner.normalize,
        };
        change(&mut settings);
        Self::from_settings(settings)
    }

    /// At most `permits` hashes (and verifications) at a time; `0` counts as `1`.
    ///
    /// ```
    /// use security::password::{Passwords, Scheme};
    ///
    /// let passwords = Passwords::new(Scheme::Argon2, None).with_concurrency(2);
    /// ```
    #[must_use]
    pub fn with_concurrency(self, permits: usize) -> Self {
        self.changed(|s| s.permits = permits)
    }

    /// The Argon2id cost of new hashes: `m_cost` KiB of memory, `t_cost` passes, `p_cost`
    /// lanes (default: 19 MiB, 2 passes, 1 lane). A stored hash of another cost still
    /// verifies, and is replaced by one of this cost at the next login.
    ///
    /// ```
    /// use security::password::{Passwords, Scheme};
    ///
    /// let passwords = Passwords::new(Scheme::Argon2, None).with_argon2_cost(64, 1, 1).unwrap();
    /// let stored = passwords.hash_blocking("secret").unwrap();
    /// assert!(stored.contains("m=64,t=1,p=1"));
    /// ```
    ///
    /// # Errors
    ///
    /// [`HashError::Backend`] when Argon2 refuses the parameters (fewer than 8 KiB per lane,
    /// no pass or no lane).
    ///
    /// # Warning
    ///
    /// A lower cost makes a stolen hash cheaper to crack: lower it for tests only.
    pub fn with_argon2_cost(
        self,
        m_cost: u32,
        t_cost: u32,
        p_cost: u32,
    ) -> Result<Self, HashError> {
        let params = argon2::Params::new(m_cost, t_cost, p_cost, None)
            .map_err(|e| HashError::Backend(e.to_string()))?;
        Ok(self.changed(|s| s.argon2 = params))
    }

    /// Also accepts the passwords that Flask-Security 1.7.4 locked out (spec §9.5, S14): when
    /// 1.7.4 migrated a hash from one hashed scheme to another at login, it stored
    /// `new_scheme(get_hmac(get_hmac(password)))` (or, migrating to plaintext, the HMAC string
    /// itself), and refused the real password ever after. With the rescue on, a password that
    /// fails the normal check is tried once more in that shape; when it matches, the login
    /// succeeds and [`Verified::new_hash`] holds a correct hash of the password, so the next
    /// login is a normal one. Only someone who knows the password can match either shape.
    ///
    /// A failed check then costs two verifications, and so does [`Passwords::dummy_verify`],
    /// keeping the unknown-user path as slow as a wrong password. Turned on by
    /// `SECURITY_FLASK_COMPAT`.
    ///
    /// ```
    /// use security::password::{Passwords, Scheme};
    ///
    /// let passwords = Passwords::new(Scheme::Bcrypt, Some("salt".into())).with_double_hmac_rescue(true);
    /// ```
    #[must_use]
    pub fn with_double_hmac_rescue(self, on: bool) -> Self {
        self.changed(|s| s.rescue = on)
    }

    /// Puts every password in the Unicode normal form `form` before hashing or checking it
    /// (`SECURITY_PASSWORD_NORMALIZE_FORM`), so that one password typed on two keyboards (a
    /// precomposed `é` or `e` + combining accent) is one password.
    ///
    /// A stored hash of the password as typed (written before normalisation was on, e.g. by
    /// Flask-Security 1.7.4) still verifies: when the normalised password fails and differs
    /// from the typed one, the typed one is tried, and on success [`Verified::new_hash`] holds
    /// a hash of the normalised password. A failed check of such a password then costs two
    /// verifications, and so does [`Passwords::dummy_verify`] of it: the time depends on the
    /// password typed, never on whether the account exists.
    ///
    /// ```
    /// use security::config::NormalizeForm;
    /// use security::password::{Passwords, Scheme};
    ///
    /// let passwords = Passwords::new(Scheme::Plaintext, None).with_normalization(Some(NormalizeForm::Nfkd));
    /// let stored = passwords.hash_blocking("caf\u{e9}").unwrap();
    /// assert!(passwords.verify_and_update_blocking("cafe\u{301}", &stored).unwrap().ok);
    /// ```
    #[must_use]
    pub fn with_normalization(self, form: Option<NormalizeForm>) -> Self {
        self.changed(|s| s.normalize.form = form)
    }

    /// Hashes new passwords as typed, not normalised, while still checking both forms: what
    /// a Flask-Security 1.7.4 app running beside this one (`SECURITY_FLASK_COMPAT`) can verify,
    /// since 1.7.4 does not normalise. A hash of the typed form is then never replaced by one
    /// of the normalised form.
    #[must_use]
    pub fn with_typed_storage(self, on: bool) -> Self {
        self.changed(|s| s.normalize.store_typed = on)
    }

    /// `password` in the configured normal form (borrowed when it is already in it).
    fn normalized<'a>(&self, password: &'a str) -> Cow<'a, str> {
        match self.inner.normalize.form {
            Some(form) => {
                let normal = form.apply(password);
                if normal == password {
                    Cow::Borrowed(password)
                } else {
                    Cow::Owned(normal)
                }
            }
            None => Cow::Borrowed(password),
        }
    }

    /// The configured scheme for new hashes.
    pub fn scheme(&self) -> Scheme {
        self.inner.scheme
    }

    /// Flask-Security's `get_hmac`: standard Base64 (padded) of
    /// `HMAC-SHA512(key = SECURITY_PASSWORD_SALT, msg = password)`, 88 characters.
    ///
    /// # Errors
    ///
    /// [`HashError::MissingSalt`] when no salt is configured.
    pub fn get_hmac(&self, password: &str) -> Result<String, HashError> {
        match &self.inner.salt {
            Some(salt) => Ok(hmac_b64(salt, password)),
            None => Err(HashError::MissingSalt {
                scheme: self.inner.scheme.name(),
            }),
        }
    }

    /// Flask-Security's `encrypt_password`: a hash of `password` for storage, with the
    /// configured scheme, computed on a blocking thread (at most the configured number at a
    /// time).
    ///
    /// # Errors
    ///
    /// [`HashError::MissingSalt`] when the scheme needs `SECURITY_PASSWORD_SALT` and it is not
    /// set; [`HashError::Backend`] when the scheme is verify-only or the backend fails;
    /// [`HashError::Cancelled`] when the blocking task is cancelled.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_owned();
        self.run(move |this| this.hash_blocking(&password)).await?
    }

    /// The name Flask-Security gives [`Passwords::hash`].
    ///
    /// # Errors
    /// As [`Passwords::hash`].
    pub async fn encrypt_password(&self, password: &str) -> Result<String, HashError> {
        self.hash(password).await
    }

    /// The name Flask-Security gives [`Passwords::verify`].
    ///
    /// # Errors
    /// As [`Passwords::verify`].
    pub async fn verify_password(&self, password: &str, stored: &str) -> Result<bool, HashError> {
        self.verify(password, stored).await
    }

    /// The name Flask-Security gives [`Passwords::verify_and_update`].
    ///
    /// # Errors
    /// As [`Passwords::verify_and_update`].
    pub async fn verify_and_update_password(
        &self,
        password: &str,
        stored: &str,
    ) -> Result<Verified, HashError> {
        self.verify_and_update(password, stored).await
    }

    /// Flask-Security's `verify_password(password, stored)`.
    ///
    /// 1.7.4 quirk, kept: the pre-hash is decided by the **configured** scheme (spec §9.4), not
    /// by the stored one. With a hashed scheme configured, a plaintext stored value never
    /// verifies here; with `plaintext` configured, a hashed stored value never does. Logins use
    /// [`Passwords::verify_and_update`], which has no such quirk.
    ///
    /// An empty or unparseable stored value is `Ok(false)`.
    ///
    /// # Errors
    ///
    /// [`HashError::MissingSalt`] when the configured scheme needs the salt and it is not set;
    /// [`HashError::Cancelled`] when the blocking task is cancelled.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<bool, HashError> {
        let (password, stored) = (password.to_owned(), stored.to_owned());
        self.run(move |this| this.verify_blocking(&password, &stored))
            .await?
    }

    /// Flask-Security's `verify_and_update_password`, without 1.7.4's double-HMAC bug: the
    /// stored scheme is identified, the secret is `get_hmac(password)` unless the stored value
    /// is plaintext (or argon2 without a configured salt), and when it verifies with a scheme
    /// (or argon2/bcrypt cost parameters) other than the configured ones, `new_hash` is a hash
    /// of the **original** password with the configured scheme (spec §9.5).
    ///
    /// # Errors
    ///
    /// [`HashError::MissingSalt`] when the stored (or configured, for the re-hash) scheme needs
    /// the salt and it is not set; [`HashError::Backend`] when re-hashing fails;
    /// [`HashError::Cancelled`] when the blocking task is cancelled.
    pub async fn verify_and_update(
        &self,
        password: &str,
        stored: &str,
    ) -> Result<Verified, HashError> {
        let (password, stored) = (password.to_owned(), stored.to_owned());
        self.run(move |this| this.verify_and_update_blocking(&password, &stored))
            .await?
    }

    /// Does the work of one verification with the configured scheme against a fixed dummy hash
    /// and returns nothing. Call it on the "no such user" and "no password set" paths, so that
    /// they cost what a real check costs (spec S2). The first call hashes the dummy password
    /// instead (same cost).
    ///
    /// The cost is that of the *configured* scheme: in a database still full of legacy hashes
    /// of another cost, timing differences remain until users have logged in again.
    pub async fn dummy_verify(&self, password: &str) {
        let password = password.to_owned();
        // Cancellation of a dummy check is of no consequence.
        let _ = self
            .run(move |this| this.dummy_verify_blocking(&password))
            .await;
    }

    /// Does the work of hashing `password` and throws the hash away: a path that must cost
    /// what a registration costs without storing anything (an enumeration-resistant answer).
    pub async fn dummy_hash(&self, password: &str) {
        let password = password.to_owned();
        let _ = self
            .run(move |this| std::hint::black_box(this.hash_blocking(&password)))
            .await;
    }

    /// [`Passwords::hash`] on the calling thread (no concurrency limit), for the command line
    /// and benchmarks.
    ///
    /// # Errors
    ///
    /// As [`Passwords::hash`], without [`HashError::Cancelled`].
    pub fn hash_blocking(&self, password: &str) -> Result<String, HashError> {
        let scheme = self.inner.scheme;
        let password = if self.inner.normalize.store_typed {
            Cow::Borrowed(password)
        } else {
            self.normalized(password)
        };
        let secret = self.secret_for(scheme, &password)?;
        tracing::debug!(scheme = scheme.name(), "hashing a password");
        self.hash_secret(&secret)
    }

    /// [`Passwords::verify`] on the calling thread (no concurrency limit).
    ///
    /// # Errors
    ///
    /// As [`Passwords::verify`], without [`HashError::Cancelled`].
    pub fn verify_blocking(&self, password: &str, stored: &str) -> Result<bool, HashError> {
        if stored.is_empty() {
            return Ok(false);
        }
        let normal = self.normalized(password);
        let forms: &[&str] = if normal == password {
            &[password]
        } else {
            &[&normal, password]
        };
        for form in forms {
            let secret = self.secret_for(self.inner.scheme, form)?;
            if check(Scheme::identify(stored), secret.as_bytes(), stored) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// [`Passwords::verify_and_update`] on the calling thread (no concurrency limit).
    ///
    /// # Errors
    ///
    /// As [`Passwords::verify_and_update`], without [`HashError::Cancelled`].
    pub fn verify_and_update_blocking(
        &self,
        password: &str,
        stored: &str,
    ) -> Result<Verified, HashError> {
        let normal = self.normalized(password);
        let verified = self.verify_and_update_one(&normal, stored)?;
        if verified.ok || normal == password {
            return Ok(verified);
        }
        // Stored before normalisation was on (or beside Flask-Security): the password as typed.
        let typed = self.verify_and_update_one(password, stored)?;
        if !typed.ok || self.inner.normalize.store_typed {
            return Ok(typed);
        }
        tracing::info!("re-hashing a password stored before normalisation");
        Ok(Verified {
            ok: true,
            new_hash: Some(self.hash_blocking(&normal)?),
        })
    }

    /// One form of the password against the stored value (see
    /// [`Passwords::verify_and_update_blocking`]).
    fn verify_and_update_one(&self, password: &str, stored: &str) -> Result<Verified, HashError> {
        if stored.is_empty() {
            return Ok(Verified::FAILED);
        }
        let mut stored_scheme = Scheme::identify(stored);
        if stored_scheme == Scheme::DesCrypt && self.inner.salt.is_none() {
            // Thirteen characters of `[./0-9A-Za-z]` look like a DES-crypt hash, but without a
            // salt no DES-crypt hash can have been written (1.7.4 pre-hashed with the salt):
            // it is a plaintext password of that shape (spec §9.3's misidentification).
            stored_scheme = Scheme::Plaintext;
        }
        let secret = self.secret_for(stored_scheme, password)?;
        if !check(stored_scheme, secret.as_bytes(), stored) {
            if !self.rescued(stored_scheme, password, &secret, stored) {
                return Ok(Verified::FAILED);
            }
            tracing::info!(
                scheme = stored_scheme.name(),
                "accepted a password that Flask-Security 1.7.4 had hashed twice; re-hashing it"
            );
            return Ok(Verified {
                ok: true,
                new_hash: Some(self.hash_blocking(password)?),
            });
        }
        let new_hash = if self.needs_update(stored_scheme, stored) {
            tracing::info!(
                from = stored_scheme.name(),
                to = self.inner.scheme.name(),
                "re-hashing a password with the configured scheme"
            );
            Some(self.hash_blocking(password)?)
        } else {
            None
        };
        Ok(Verified { ok: true, new_hash })
    }

    /// The double-HMAC rescue (see [`Passwords::with_double_hmac_rescue`]), after the normal
    /// check of `secret` (the secret for `scheme`, from `password`) failed.
    fn rescued(&self, scheme: Scheme, password: &str, secret: &str, stored: &str) -> bool {
        let (true, Some(salt)) = (self.inner.rescue, &self.inner.salt) else {
            return false;
        };
        match scheme {
            // 1.7.4 never wrote Argon2.
            Scheme::Argon2 => false,
            // Hashed, then switched to plaintext: the HMAC string was stored as the password.
            Scheme::Plaintext => {
                constant_time_eq(hmac_b64(salt, password).as_bytes(), stored.as_bytes())
            }
            _ => check(scheme, hmac_b64(salt, secret).as_bytes(), stored),
        }
    }

    fn dummy_verify_blocking(&self, password: &str) {
        let normal = self.normalized(password);
        self.dummy_verify_one(&normal);
        if normal != password {
            // A wrong password for a real user is tried as typed too.
            self.dummy_verify_one(password);
        }
    }

    fn dummy_verify_one(&self, password: &str) {
        let scheme = self.inner.scheme;
        let secret = self
            .secret_for(scheme, password)
            .unwrap_or(Cow::Borrowed(password));
        if let Some(dummy) = self.inner.dummy.get() {
            std::hint::black_box(check(scheme, secret.as_bytes(), dummy));
            if self.inner.rescue {
                // A wrong password for a real user costs the rescue attempt too.
                std::hint::black_box(self.rescued(scheme, password, &secret, dummy));
            }
            return;
        }
        let dummy_secret = self
            .secret_for(scheme, DUMMY_PASSWORD)
            .unwrap_or(Cow::Borrowed(DUMMY_PASSWORD));
        match self.hash_secret(&dummy_secret) {
            Ok(hash) => {
                let _ = self.inner.dummy.set(hash);
            }
            Err(err) => tracing::warn!(
                scheme = scheme.name(),
                error = %err,
                "could not make the dummy hash for timing equalisation"
            ),
        }
    }

    /// Runs `f` on a blocking thread once a permit is free; the permit is held until `f` ends
    /// (even if the caller's future is dropped meanwhile).
    async fn run<T, F>(&self, f: F) -> Result<T, HashError>
    where
        F: FnOnce(&Passwords) -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.inner.semaphore)
            .acquire_owned()
            .await
            .map_err(|_| HashError::Cancelled)?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            #[cfg(test)]
            let _busy = this.inner.probe.enter();
            f(&this)
        })
        .await
        .map_err(|err| {
            if err.is_panic() {
                tracing::error!("a password hashing task panicked");
            }
            HashError::Cancelled
        })
    }

    /// The secret given to `scheme` for `password`: raw for plaintext, the HMAC for 1.7.4's
    /// schemes (salt required), the HMAC for argon2 when a salt is configured.
    fn secret_for<'a>(&self, scheme: Scheme, password: &'a str) -> Result<Cow<'a, str>, HashError> {
        match (&self.inner.salt, scheme) {
            (_, Scheme::Plaintext) | (None, Scheme::Argon2) => Ok(Cow::Borrowed(password)),
            (Some(salt), _) => Ok(Cow::Owned(hmac_b64(salt, password))),
            (None, _) => Err(HashError::MissingSalt {
                scheme: scheme.name(),
            }),
        }
    }

    /// Hashes an already pre-hashed secret with the configured scheme.
    fn hash_secret(&self, secret: &str) -> Result<String, HashError> {
        let secret = secret.as_bytes();
        match self.inner.scheme {
            Scheme::Plaintext => Ok(String::from_utf8_lossy(secret).into_owned()),
            Scheme::Argon2 => hash_argon2(secret, &self.inner.argon2),
            Scheme::Bcrypt => hash_bcrypt(secret, self.inner.bcrypt_cost),
            Scheme::Pbkdf2Sha512 => hash_pbkdf2_sha512(secret),
            Scheme::Sha512Crypt => hash_sha512_crypt(secret),
            Scheme::Sha256Crypt => hash_sha256_crypt(secret),
            Scheme::Pbkdf2Sha256 => hash_pbkdf2_sha256(secret),
            scheme @ Scheme::DesCrypt => Err(HashError::Backend(format!(
                "`{scheme}` is verify-only; configure `argon2`, `bcrypt`, `pbkdf2_sha512` or `sha512_crypt`"
            ))),
        }
    }

    /// Whether a verified value stored with `stored_scheme` should be re-hashed.
    fn needs_update(&self, stored_scheme: Scheme, stored: &str) -> bool {
        if stored_scheme != self.inner.scheme {
            return true;
        }
        match stored_scheme {
            Scheme::Argon2 => argon2_needs_update(stored, &self.inner.argon2),
            Scheme::Bcrypt => bcrypt_needs_update(stored, self.inner.bcrypt_cost),
            _ => false,
        }
    }
}

/// `base64(HMAC-SHA512(key, msg))`, padded standard alphabet.
fn hmac_b64(key: &str, msg: &str) -> String {
    let mut mac =
        Hmac::<Sha512>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(msg.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Verifies `secret` against `stored` with `scheme`; anything unparseable is `false`.
fn check(scheme: Scheme, secret: &[u8], stored: &str) -> bool {
    match scheme {
        Scheme::Plaintext => constant_time_eq(secret, stored.as_bytes()),
        Scheme::Argon2 => verify_argon2(secret, stored),
        Scheme::Bcrypt => verify_bcrypt(secret, stored),
        Scheme::Pbkdf2Sha512 => verify_pbkdf2(secret, stored, Pbkdf2::Sha512),
        Scheme::Pbkdf2Sha256 => verify_pbkdf2(secret, stored, Pbkdf2::Sha256),
        Scheme::Sha512Crypt => verify_sha_crypt(secret, stored, sha_crypt::Algorithm::Sha512Crypt),
        Scheme::Sha256Crypt => verify_sha_crypt(secret, stored, sha_crypt::Algorithm::Sha256Crypt),
        Scheme::DesCrypt => des::verify(secret, stored),
    }
}

/// Exact equality that takes the same time whatever the contents and lengths: compares the
/// SHA-512 digests in constant time.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    Sha512::digest(a)
        .as_slice()
        .ct_eq(Sha512::digest(b).as_slice())
        .into()
}

fn random_bytes<const N: usize>() -> Result<[u8; N], HashError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|err| HashError::Backend(format!("no randomness for the salt: {err}")))?;
    Ok(bytes)
}

fn backend(err: impl fmt::Display) -> HashError {
    HashError::Backend(err.to_string())
}

// --- argon2 -------------------------------------------------------------------------------

fn default_argon2_params() -> argon2::Params {
    argon2::Params::new(ARGON2_M_COST, ARGON2_T_COST, ARGON2_P_COST, None)
        .expect("the OWASP argon2 parameters are valid")
}

fn argon2_context(params: &argon2::Params) -> argon2::Argon2<'static> {
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    )
}

fn hash_argon2(secret: &[u8], params: &argon2::Params) -> Result<String, HashError> {
    use argon2::PasswordHasher as _;
    let salt = random_bytes::<16>()?;
    argon2_context(params)
        .hash_password_with_salt(secret, &salt)
        .map(|hash| hash.to_string())
        .map_err(backend)
}

// --- cost ceilings -----------------------------------------------------------------------
//
// A stored hash names its own cost. Verification refuses (as a wrong password) a hash that asks
// for more than these, so that one crafted or corrupted row cannot hold a hashing permit for
// minutes or hours, or allocate gigabytes. Each is far above what any scheme's defaults, past
// or present, write (passlib 1.7: pbkdf2_sha256 29000, sha512_crypt 656000; bcrypt 12).

/// Most PBKDF2 or SHA-crypt rounds verified (about 1.5 s for the slowest, sha512_crypt).
const MAX_ROUNDS: u64 = 2_000_000;
/// Highest bcrypt cost verified (2^15 rounds, about 1.6 s).
const MAX_BCRYPT_COST: u32 = 15;
/// Most Argon2 memory verified, in KiB (256 MiB), and most passes and lanes.
const MAX_ARGON2_M_KIB: u32 = 256 * 1024;
const MAX_ARGON2_T: u32 = 16;
const MAX_ARGON2_P: u32 = 16;

/// Logs a stored hash refused for its cost (never the hash itself).
fn too_costly(scheme: &str, what: &str, value: u64) -> bool {
    tracing::warn!(
        scheme,
        what,
        value,
        "a stored password hash asks for more work than this library verifies; refused"
    );
    false
}

fn verify_argon2(secret: &[u8], stored: &str) -> bool {
    use argon2::PasswordVerifier as _;
    let Some(params) = argon2::PasswordHash::new(stored)
        .ok()
        .and_then(|hash| argon2::Params::try_from(&hash).ok())
    else {
        return false;
    };
    if params.m_cost() > MAX_ARGON2_M_KIB {
        return too_costly("argon2", "m", params.m_cost().into());
    }
    if params.t_cost() > MAX_ARGON2_T || params.p_cost() > MAX_ARGON2_P {
        return too_costly("argon2", "t,p", params.t_cost().max(params.p_cost()).into());
    }
    // The algorithm, version and parameters come from the stored string.
    argon2::Argon2::default()
        .verify_password(secret, stored)
        .is_ok()
}

fn argon2_needs_update(stored: &str, params: &argon2::Params) -> bool {
    let Ok(hash) = argon2::PasswordHash::new(stored) else {
        return true;
    };
    let Ok(stored_params) = argon2::Params::try_from(&hash) else {
        return true;
    };
    hash.algorithm.as_str() != argon2::ARGON2ID_IDENT.as_str()
        || hash.version != Some(argon2::Version::V0x13.into())
        || stored_params.m_cost() != params.m_cost()
        || stored_params.t_cost() != params.t_cost()
        || stored_params.p_cost() != params.p_cost()
}

// --- bcrypt -------------------------------------------------------------------------------

/// bcrypt reads at most 72 bytes of key (so only 72 of the 88 HMAC characters count, as with
/// 1.7.4's py-bcrypt). The crate truncates too; doing it here keeps that visible.
fn bcrypt_key(secret: &[u8]) -> &[u8] {
    &secret[..secret.len().min(72)]
}

fn hash_bcrypt(secret: &[u8], cost: u32) -> Result<String, HashError> {
    let parts = bcrypt::hash_with_result(bcrypt_key(secret), cost).map_err(backend)?;
    // `$2a$`: the ident passlib 1.6.2 writes and reads (it takes `$2b$` for plaintext).
    Ok(parts.format_for_version(bcrypt::Version::TwoA))
}

fn verify_bcrypt(secret: &[u8], stored: &str) -> bool {
    // `$2?$NN$…`: the cost follows the ident.
    let cost = stored.split('$').nth(2).and_then(|c| c.parse::<u32>().ok());
    match cost {
        Some(cost) if cost > MAX_BCRYPT_COST => return too_costly("bcrypt", "cost", cost.into()),
        Some(_) => {}
        None => return false,
    }
    if let Some(rest) = stored.strip_prefix("$2$") {
        // The original `$2$` bcrypt does not append a NUL to the key. Blowfish's key schedule
        // reads exactly 72 bytes of the key repeated cyclically, so that key is equivalent to
        // its first 72 cyclic bytes, which the `$2a$` code uses as they are (no NUL at 72).
        let key: Vec<u8> = if secret.is_empty() {
            vec![0; 72]
        } else {
            secret.iter().copied().cycle().take(72).collect()
        };
        return bcrypt::verify(&key, &format!("$2a${rest}")).unwrap_or(false);
    }
    // `$2a$`, `$2b$`, `$2x$` and `$2y$` compute the same for the ASCII HMAC secret.
    bcrypt::verify(bcrypt_key(secret), stored).unwrap_or(false)
}

fn bcrypt_needs_update(stored: &str, cost: u32) -> bool {
    // `$2$` and `$2x$` are legacy/buggy variants: move them to `$2a$`.
    let Some(rest) = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|p| stored.strip_prefix(p))
    else {
        return true;
    };
    rest.get(..2).and_then(|c| c.parse::<u32>().ok()) != Some(cost)
}

// --- pbkdf2 -------------------------------------------------------------------------------

/// passlib's "adapted base64": standard alphabet, `.` instead of `+`, no padding.
const AB64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fn ab64_encode(bytes: &[u8]) -> String {
    STANDARD_NO_PAD.encode(bytes).replace('+', ".")
}

fn ab64_decode(text: &str) -> Option<Vec<u8>> {
    AB64.decode(text.replace('.', "+")).ok()
}

#[derive(Clone, Copy)]
enum Pbkdf2 {
    Sha256,
    Sha512,
}

impl Pbkdf2 {
    fn prefix(self) -> &'static str {
        match self {
            Pbkdf2::Sha256 => PBKDF2_SHA256_PREFIX,
            Pbkdf2::Sha512 => PBKDF2_SHA512_PREFIX,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Pbkdf2::Sha256 => 32,
            Pbkdf2::Sha512 => 64,
        }
    }

    fn derive(self, secret: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
        match self {
            Pbkdf2::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(secret, salt, rounds, out),
            Pbkdf2::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(secret, salt, rounds, out),
        }
    }
}

fn hash_pbkdf2_sha512(secret: &[u8]) -> Result<String, HashError> {
    let salt = random_bytes::<16>()?;
    let mut key = [0u8; 64];
    Pbkdf2::Sha512.derive(secret, &salt, PBKDF2_SHA512_ROUNDS, &mut key);
    Ok(format!(
        "{PBKDF2_SHA512_PREFIX}{PBKDF2_SHA512_ROUNDS}${}${}",
        ab64_encode(&salt),
        ab64_encode(&key)
    ))
}

fn hash_pbkdf2_sha256(secret: &[u8]) -> Result<String, HashError> {
    let salt = random_bytes::<16>()?;
    let mut key = [0u8; 32];
    Pbkdf2::Sha256.derive(secret, &salt, PBKDF2_SHA256_ROUNDS, &mut key);
    Ok(format!(
        "{PBKDF2_SHA256_PREFIX}{PBKDF2_SHA256_ROUNDS}${}${}",
        ab64_encode(&salt),
        ab64_encode(&key)
    ))
}

fn hash_sha256_crypt(secret: &[u8]) -> Result<String, HashError> {
    use sha_crypt::PasswordHasher as _;
    let salt = random_bytes::<12>()?;
    let params = sha_crypt::Params::new(SHA256_CRYPT_ROUNDS).map_err(backend)?;
    sha_crypt::ShaCrypt::new(sha_crypt::Algorithm::Sha256Crypt, params)
        .hash_password_with_salt(secret, &salt)
        .map(|hash| hash.to_string())
        .map_err(backend)
}

/// `$pbkdf2-<digest>$<rounds>$<salt ab64>$<checksum ab64>`
fn verify_pbkdf2(secret: &[u8], stored: &str, kind: Pbkdf2) -> bool {
    let parse = || {
        let mut fields = stored.strip_prefix(kind.prefix())?.split('$');
        let rounds = fields.next()?.parse::<u32>().ok().filter(|&r| r > 0)?;
        let salt = ab64_decode(fields.next()?)?;
        let checksum = ab64_decode(fields.next()?)?;
        (fields.next().is_none() && checksum.len() == kind.key_len())
            .then_some((rounds, salt, checksum))
    };
    let Some((rounds, salt, checksum)) = parse() else {
        return false;
    };
    if u64::from(rounds) > MAX_ROUNDS {
        return too_costly(kind.prefix(), "rounds", rounds.into());
    }
    let mut key = vec![0u8; kind.key_len()];
    kind.derive(secret, &salt, rounds, &mut key);
    key.ct_eq(&checksum).into()
}

// --- sha-crypt ----------------------------------------------------------------------------

fn hash_sha512_crypt(secret: &[u8]) -> Result<String, HashError> {
    use sha_crypt::PasswordHasher as _;
    // 12 random bytes are the 16 salt characters glibc and passlib use (longer would be cut).
    let salt = random_bytes::<12>()?;
    let params = sha_crypt::Params::new(SHA512_CRYPT_ROUNDS).map_err(backend)?;
    sha_crypt::ShaCrypt::new(sha_crypt::Algorithm::Sha512Crypt, params)
        .hash_password_with_salt(secret, &salt)
        .map(|hash| hash.to_string())
        .map_err(backend)
}

/// Verifies glibc SHA-crypt, normalising the stored string as glibc reads it first: an absent
/// `rounds=` is 5000, rounds are clamped to 1000..=999999999, the salt is cut at 16 characters.
fn verify_sha_crypt(secret: &[u8], stored: &str, algorithm: sha_crypt::Algorithm) -> bool {
    use sha_crypt::PasswordVerifier as _;
    // "$5$" or "$6$"
    let prefix = format!("${}$", algorithm.to_str());
    let normalise = || {
        let rest = stored.strip_prefix(prefix.as_str())?;
        let (rounds, rest) = match rest.strip_prefix("rounds=") {
            Some(rest) => {
                let (rounds, rest) = rest.split_once('$')?;
                let rounds = rounds.parse::<u64>().ok()?.clamp(1_000, 999_999_999);
                if rounds > MAX_ROUNDS {
                    too_costly(algorithm.to_str(), "rounds", rounds);
                    return None;
                }
                (rounds, rest)
            }
            None => (5_000, rest),
        };
        let (salt, checksum) = rest.split_once('$')?;
        let salt = salt.get(..salt.len().min(16))?;
        Some(format!("{prefix}rounds={rounds}${salt}${checksum}"))
    };
    let Some(normalised) = normalise() else {
        return false;
    };
    sha_crypt::ShaCrypt::from(algorithm)
        .verify_password(secret, normalised.as_str())
        .is_ok()
}

// --- des_crypt ----------------------------------------------------------------------------

/// Traditional (V7 Unix) DES crypt, verification only: the key is the first 8 bytes of the
/// secret (7 bits each), the 2-character salt permutes the expansion table, and 25 DES
/// encryptions of a zero block make the 11-character checksum. Written bit by bit after the
/// FIPS 46 tables: slow by DES standards (tens of microseconds), which does not matter here.
mod des {
    use subtle::ConstantTimeEq as _;

    const ALPHABET: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// Whether `stored` is 13 characters of `[./0-9A-Za-z]` (passlib's des_crypt identity).
    pub(super) fn is_des_crypt(stored: &str) -> bool {
        stored.len() == 13 && stored.bytes().all(|b| value(b).is_some())
    }

    pub(super) fn verify(secret: &[u8], stored: &str) -> bool {
        if !is_des_crypt(stored) {
            return false;
        }
        let stored = stored.as_bytes();
        crypt(secret, [stored[0], stored[1]])
            .as_slice()
            .ct_eq(stored)
            .into()
    }

    fn value(c: u8) -> Option<u8> {
        ALPHABET.iter().position(|&a| a == c).map(|i| i as u8)
    }

    // FIPS 46-3 tables, 1-based bit positions.
    const IP: [u8; 64] = [
        58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14,
        6, 64, 56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11,
        3, 61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
    ];
    const FP: [u8; 64] = [
        40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31, 38, 6, 46, 14, 54, 22, 62,
        30, 37, 5, 45, 13, 53, 21, 61, 29, 36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19,
        59, 27, 34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
    ];
    const PC1_C: [u8; 28] = [
        57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3,
        60, 52, 44, 36,
    ];
    const PC1_D: [u8; 28] = [
        63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29, 21, 13,
        5, 28, 20, 12, 4,
    ];
    const SHIFTS: [u8; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];
    const PC2: [u8; 48] = [
        14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41,
        52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
    ];
    /// The expansion table (a salt permutes a copy).
    pub(super) const E: [u8; 48] = [
        32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17, 16, 17,
        18, 19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
    ];
    const P: [u8; 32] = [
        16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9,
        19, 13, 30, 6, 22, 11, 4, 25,
    ];
    const S: [[u8; 64]; 8] = [
        [
            14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6,
            12, 11, 9, 5, 3, 8, 4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2,
            4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13,
        ],
        [
            15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0,
            1, 10, 6, 9, 11, 5, 0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1,
            3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9,
        ],
        [
            10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8,
            5, 14, 12, 11, 15, 1, 13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13,
            0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,
        ],
        [
            7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7,
            2, 12, 1, 10, 14, 9, 10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6,
            10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14,
        ],
        [
            2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0,
            15, 10, 3, 9, 8, 6, 4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7,
            1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3,
        ],
        [
            12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1,
            13, 14, 0, 11, 3, 8, 9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12,
            9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13,
        ],
        [
            4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3,
            5, 12, 2, 15, 8, 6, 1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8,
            1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12,
        ],
        [
            13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5,
            6, 11, 0, 14, 9, 2, 7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7,
            4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
        ],
    ];

    /// One bit per byte, most significant first (bit 1 of FIPS 46 is index 0).
    pub(super) type Bits64 = [u8; 64];
    type Subkeys = [[u8; 48]; 16];

    pub(super) fn key_schedule(key: &Bits64) -> Subkeys {
        let mut c = PC1_C.map(|p| key[usize::from(p) - 1]);
        let mut d = PC1_D.map(|p| key[usize::from(p) - 1]);
        let mut subkeys = [[0u8; 48]; 16];
        for (subkey, &shift) in subkeys.iter_mut().zip(&SHIFTS) {
            c.rotate_left(usize::from(shift));
            d.rotate_left(usize::from(shift));
            *subkey = PC2.map(|p| {
                let p = usize::from(p) - 1;
                if p < 28 { c[p] } else { d[p - 28] }
            });
        }
        subkeys
    }

    /// DES encryption of one block with the (possibly salt-permuted) expansion table `e`.
    pub(super) fn encrypt(block: &Bits64, subkeys: &Subkeys, e: &[u8; 48]) -> Bits64 {
        let permuted = IP.map(|p| block[usize::from(p) - 1]);
        let mut l: [u8; 32] = permuted[..32].try_into().expect("32 bits");
        let mut r: [u8; 32] = permuted[32..].try_into().expect("32 bits");
        for subkey in subkeys {
            let mut expanded = [0u8; 48];
            for (i, x) in expanded.iter_mut().enumerate() {
                *x = r[usize::from(e[i]) - 1] ^ subkey[i];
            }
            let mut substituted = [0u8; 32];
            for (s, six) in expanded.chunks_exact(6).enumerate() {
                let row = (six[0] << 1) | six[5];
                let col = (six[1] << 3) | (six[2] << 2) | (six[3] << 1) | six[4];
                let v = S[s][usize::from(row * 16 + col)];
                for k in 0..4 {
                    substituted[4 * s + k] = (v >> (3 - k)) & 1;
                }
            }
            let f = P.map(|p| substituted[usize::from(p) - 1]);
            let mut next_r = [0u8; 32];
            for i in 0..32 {
                next_r[i] = l[i] ^ f[i];
            }
            l = r;
            r = next_r;
        }
        let mut preoutput = [0u8; 64];
        preoutput[..32].copy_from_slice(&r);
        preoutput[32..].copy_from_slice(&l);
        FP.map(|p| preoutput[usize::from(p) - 1])
    }

    /// `crypt(3)` with a 2-character salt from [`ALPHABET`]; returns the 13-character result.
    fn crypt(secret: &[u8], salt: [u8; 2]) -> [u8; 13] {
        // Key: 7 bits of each of the first 8 bytes (up to a NUL, as C strings end), parity 0.
        let mut key = [0u8; 64];
        for (i, &c) in secret.iter().take_while(|&&c| c != 0).take(8).enumerate() {
            for j in 0..7 {
                key[8 * i + j] = (c >> (6 - j)) & 1;
            }
        }
        let subkeys = key_schedule(&key);
        // Salt bit `6 * i + j` (bit j of character i) swaps expansion outputs k and k + 24.
        let mut e = E;
        for (i, &c) in salt.iter().enumerate() {
            let v = value(c).unwrap_or(0);
            for j in 0..6 {
                if (v >> j) & 1 == 1 {
                    e.swap(6 * i + j, 6 * i + j + 24);
                }
            }
        }
        let mut block = [0u8; 64];
        for _ in 0..25 {
            block = encrypt(&block, &subkeys, &e);
        }
        let mut out = [0u8; 13];
        out[..2].copy_from_slice(&salt);
        for (i, o) in out[2..].iter_mut().enumerate() {
            let mut c = 0usize;
            for j in 0..6 {
                let bit = 6 * i + j;
                c = (c << 1) | usize::from(block.get(bit).copied().unwrap_or(0));
            }
            *o = ALPHABET[c];
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_des_shaped_plaintext_password_verifies_without_a_salt() {
        let p = super::Passwords::new(super::Scheme::Plaintext, None);
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

    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

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

    /// Appendix A.2: stored hashes of `password` with `PASSWORD_SALT = "salty"`.
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
        // Adapted from A.2: passlib 1.6.2 calls `$2b$` plaintext; here it is bcrypt.
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
        // bcrypt (A.2) → sha512_crypt: 1.7.4 stored sha512_crypt(get_hmac(get_hmac(p))).
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
        let weak = argon2::Params::new(8 * 1024, 1, 1, None).unwrap();
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
            sha_crypt::Algorithm::Sha512Crypt
        ));
        assert!(verify_sha_crypt(
            secret,
            "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
            sha_crypt::Algorithm::Sha512Crypt
        ));
        // Salt longer than 16 characters is cut, as glibc does.
        assert!(verify_sha_crypt(
            secret,
            "$6$rounds=10000$saltstringsaltstring$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
            sha_crypt::Algorithm::Sha512Crypt
        ));
        assert!(verify_sha_crypt(
            secret,
            "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
            sha_crypt::Algorithm::Sha256Crypt
        ));
        // rounds=10 is clamped to 1000 (the spec's vector; libxcrypt now refuses it).
        assert!(verify_sha_crypt(
            b"the minimum number is still observed",
            "$5$rounds=10$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC",
            sha_crypt::Algorithm::Sha256Crypt
        ));
        assert!(!verify_sha_crypt(
            b"Hello world.",
            "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
            sha_crypt::Algorithm::Sha256Crypt
        ));
    }

    #[test]
    fn des_block_cipher_known_answer() {
        fn bits(x: u64) -> des::Bits64 {
            std::array::from_fn(|i| ((x >> (63 - i)) & 1) as u8)
        }
        let subkeys = des::key_schedule(&bits(0x1334_5779_9BBC_DFF1));
        let out = des::encrypt(&bits(0x0123_4567_89AB_CDEF), &subkeys, &des::E);
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
            assert!(des::verify(secret, stored), "{stored}");
            let mut wrong = secret.to_vec();
            wrong.push(b'x');
            if secret.len() < 8 {
                assert!(!des::verify(&wrong, stored), "{stored}");
            } else {
                // Only 8 bytes count.
                assert!(des::verify(&wrong, stored), "{stored}");
            }
        }
        // 1.7.4's own: des_crypt(get_hmac("password")) with salt "salty".
        let hmac = salty(Scheme::DesCrypt).get_hmac("password").unwrap();
        assert!(des::verify(hmac.as_bytes(), "GYxgJCs3j6jpA"));
        assert!(des::verify(&hmac.as_bytes()[..8], "GYxgJCs3j6jpA"));
        assert!(!des::verify(&hmac.as_bytes()[..7], "GYxgJCs3j6jpA"));
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
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/flask-security-1.7.4");
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
}
