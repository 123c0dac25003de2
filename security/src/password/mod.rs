//! Password hashing: the port of Flask-Security 1.7.4's `flask_security/utils.py` password
//! helpers (`get_hmac`, `encrypt_password`, `verify_password`, `verify_and_update_password`)
//! over the passlib 1.6.2 schemes they used, plus Argon2id for new hashes.
//!
//! This module holds [`Scheme`] (the one list of scheme names, which may hash and which only
//! verify) and [`Passwords`] (pre-hash, hash, verify, migrate, off the async threads). Each
//! scheme's format lives in its own file (`argon2.rs`, `bcrypt.rs`, `pbkdf2.rs`,
//! `sha_crypt.rs`, `des_crypt.rs`); the rules for new passwords are in [`policy`].
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
//! Every hash that 1.7.4 wrote verifies here; [`Scheme::identify`] reads a stored
//! value as passlib 1.6.2 does, except that `$2b$` is bcrypt and `$argon2…$` is argon2.
//! [`Passwords::verify_and_update`] re-hashes a verified password with the configured scheme,
//! fixing 1.7.4's double-HMAC bug (it re-hashed the HMAC, not the password, locking the user
//! out): the new hash is of the *original* password.
//!
//! # Threads
//!
//! Hashing is deliberately slow. The `async` methods run it on threads of its own, one per
//! permit, and at most a fixed number at a time (a semaphore whose permit is taken *before* the
//! work is handed over, so a burst of logins waits cheaply instead of piling up threads). On
//! Linux those threads run at a lower CPU priority ([`HashPriority`], by default the
//! `SCHED_IDLE` policy): under a flood of logins (or of wrong passwords) the async workers that
//! serve every other request keep the CPU, and the hashes take what is left; the memory they
//! hold stays within the permits times one hash's cost (each keeps one Argon2 buffer). The `*_blocking` methods do the same work on the
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
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha512};
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

mod argon2;
mod bcrypt;
mod des_crypt;
mod pbkdf2;
pub mod policy;
mod sha_crypt;

use self::argon2::{argon2_needs_update, default_argon2_params, hash_argon2, verify_argon2};
use self::bcrypt::{BCRYPT_COST, bcrypt_needs_update, hash_bcrypt, verify_bcrypt};
use self::pbkdf2::{
    PBKDF2_SHA256_PREFIX, PBKDF2_SHA512_PREFIX, Pbkdf2, hash_pbkdf2_sha256, hash_pbkdf2_sha512,
    verify_pbkdf2,
};
use self::sha_crypt::{
    SHA256_CRYPT_PREFIX, SHA512_CRYPT_PREFIX, hash_sha256_crypt, hash_sha512_crypt,
    verify_sha_crypt,
};

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
    /// Every scheme, in the order of `SECURITY_PASSWORD_SCHEMES`'s default (1.7.4's list with
    /// argon2 in front; plaintext, which matches anything, last). [`Scheme::can_hash`] says
    /// which may hash new passwords.
    pub const ALL: [Scheme; 8] = [
        Scheme::Argon2,
        Scheme::Bcrypt,
        Scheme::DesCrypt,
        Scheme::Pbkdf2Sha256,
        Scheme::Pbkdf2Sha512,
        Scheme::Sha256Crypt,
        Scheme::Sha512Crypt,
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

    /// Which scheme wrote a stored value, as passlib 1.6.2 identifies it, except
    /// that `$2b$` is bcrypt too and `$argon2id$`/`$argon2i$`/`$argon2d$` is Argon2.
    ///
    /// As in 1.7.4, anything unrecognised is plaintext, and a plaintext password that happens
    /// to be 13 characters of `[./0-9A-Za-z]` (e.g. `abcdefghijklm`) is taken for des_crypt.
    pub fn identify(stored: &str) -> Scheme {
        const BCRYPT: [&str; 5] = ["$2$", "$2a$", "$2b$", "$2x$", "$2y$"];
        const ARGON2: [&str; 3] = ["$argon2id$", "$argon2i$", "$argon2d$"];
        if BCRYPT.iter().any(|p| stored.starts_with(p)) {
            Scheme::Bcrypt
        } else if des_crypt::is_des_crypt(stored) {
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

    /// Whether this scheme is only recognised to verify (and then replace) stored hashes:
    /// `des_crypt`, which sees 8 characters of the password. The opposite of
    /// [`Scheme::can_hash`].
    pub fn is_verify_only(self) -> bool {
        !self.can_hash()
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

/// What a [`Passwords`] is made from; the builders change one part of it.
struct Settings {
    scheme: Scheme,
    salt: Option<String>,
    argon2: ::argon2::Params,
    bcrypt_cost: u32,
    permits: usize,
    priority: HashPriority,
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

/// How much lower than the process the hashing threads' CPU priority is with
/// [`HashPriority::Low`] (a nice value, Linux).
pub const HASH_NICE: i32 = 10;

/// The CPU priority of the hashing threads (`SECURITY_PASSWORD_HASH_PRIORITY`; Linux, elsewhere
/// they run as any thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HashPriority {
    /// The `SCHED_IDLE` policy (the default): a hash runs only on CPU time no other thread of
    /// the machine wants, and any request that arrives preempts it at once, so a flood of
    /// logins adds almost nothing to the latency of the other routes. On a server whose CPU is
    /// saturated by other work, logins wait until it is not.
    #[default]
    Idle,
    /// A nice value [`HASH_NICE`] above the process's: hashes get about a tenth of a busy CPU,
    /// and a request that arrives waits for the hash's time slice (a few milliseconds).
    Low,
    /// The process's own priority.
    Normal,
}

impl std::str::FromStr for HashPriority {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "idle" => Ok(HashPriority::Idle),
            "low" => Ok(HashPriority::Low),
            "normal" => Ok(HashPriority::Normal),
            other => Err(format!(
                "`{other}` is not a hashing priority; use idle, low or normal"
            )),
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The threads that hash: as many as there are permits, so that a permitted job never waits for
/// a thread. Written by hand (a dozen lines over a channel): a thread-pool crate would add a
/// dependency to set each thread's priority at start, which is all this needs.
struct HashPool {
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
}

impl HashPool {
    fn start(threads: usize, priority: HashPriority) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for n in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name(format!("security-hash-{n}"))
                .spawn(move || {
                    lower_priority(priority);
                    self::argon2::keep_memory_on_this_thread();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                            Ok(job) => job,
                            Err(_) => return,
                        };
                        job();
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "could not start a password hashing thread");
            }
        }
        HashPool {
            jobs: std::sync::Mutex::new(tx),
        }
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .map_err(|_| HashError::Cancelled)
    }
}

/// Lowers the calling thread's CPU priority to `priority`. On Linux the policy and the nice
/// value belong to each thread: this changes the calling thread only.
#[cfg(target_os = "linux")]
fn lower_priority(priority: HashPriority) {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let nice = |by: i32| {
        let tid = rustix::thread::gettid();
        let current = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
        rustix::process::setpriority_process(Some(tid), current + by)
    };
    let result = match priority {
        HashPriority::Normal => return,
        HashPriority::Low => nice(HASH_NICE).map_err(|err| err.to_string()),
        HashPriority::Idle => set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        )
        .map_err(|err| format!("{err:?}")),
    };
    if let Err(err) = result {
        tracing::warn!(
            error = %err,
            ?priority,
            "could not lower a password hashing thread's priority"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_priority: HashPriority) {}

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
    argon2: ::argon2::Params,
    bcrypt_cost: u32,
    permits: usize,
    /// The hashing threads' CPU priority.
    priority: HashPriority,
    /// Also accept `get_hmac(get_hmac(password))`: see [`Passwords::with_double_hmac_rescue`].
    rescue: bool,
    /// How passwords are normalised: see [`Passwords::with_normalization`].
    normalize: Normalization,
    semaphore: Arc<Semaphore>,
    /// The hashing threads, started on first use.
    pool: OnceLock<HashPool>,
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
            priority: HashPriority::default(),
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
            priority,
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
                priority,
                rescue,
                normalize,
                semaphore: Arc::new(Semaphore::new(permits)),
                pool: OnceLock::new(),
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
            priority: inner.priority,
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

    /// The CPU priority of the hashing threads (default [`HashPriority::Idle`]).
    ///
    /// ```
    /// use security::password::{HashPriority, Passwords, Scheme};
    ///
    /// let passwords = Passwords::new(Scheme::Argon2, None).with_priority(HashPriority::Low);
    /// ```
    #[must_use]
    pub fn with_priority(self, priority: HashPriority) -> Self {
        self.changed(|s| s.priority = priority)
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
        let params = ::argon2::Params::new(m_cost, t_cost, p_cost, None)
            .map_err(|e| HashError::Backend(e.to_string()))?;
        Ok(self.changed(|s| s.argon2 = params))
    }

    /// Also accepts the passwords that Flask-Security 1.7.4 locked out: when
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
    /// 1.7.4 quirk, kept: the pre-hash is decided by the **configured** scheme, not
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
    /// of the **original** password with the configured scheme.
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
    /// they cost what a real check costs (the answer's timing must not tell whether an account
    /// exists). The first call hashes the dummy password
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
            // it is a plaintext password of that shape (passlib's misidentification).
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

    /// Runs `f` on a hashing thread once a permit is free; the permit is held until `f` ends
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
        let (tx, rx) = tokio::sync::oneshot::channel();
        let pool = self
            .inner
            .pool
            .get_or_init(|| HashPool::start(self.inner.permits, self.inner.priority));
        pool.submit(Box::new(move || {
            let _permit = permit;
            #[cfg(test)]
            let _busy = this.inner.probe.enter();
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&this))) {
                Ok(done) => drop(tx.send(done)),
                Err(_) => tracing::error!("a password hashing task panicked"),
            }
        }))?;
        rx.await.map_err(|_| HashError::Cancelled)
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
        Scheme::Sha512Crypt => {
            verify_sha_crypt(secret, stored, ::sha_crypt::Algorithm::Sha512Crypt)
        }
        Scheme::Sha256Crypt => {
            verify_sha_crypt(secret, stored, ::sha_crypt::Algorithm::Sha256Crypt)
        }
        Scheme::DesCrypt => des_crypt::verify(secret, stored),
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

// A stored hash names its own cost. Verification refuses (as a wrong password) a hash that asks
// for more than these, so that one crafted or corrupted row cannot hold a hashing permit for
// minutes or hours, or allocate gigabytes. Each is far above what any scheme's defaults, past
// or present, write (passlib 1.7: pbkdf2_sha256 29000, sha512_crypt 656000; bcrypt 12).

/// Most PBKDF2 or SHA-crypt rounds verified (about 1.5 s for the slowest, sha512_crypt).
const MAX_ROUNDS: u64 = 2_000_000;

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

#[cfg(test)]
mod tests;

/// A Unicode normalisation form (`SECURITY_PASSWORD_NORMALIZE_FORM`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormalizeForm {
    /// Canonical composition.
    Nfc,
    /// Canonical decomposition.
    Nfd,
    /// Compatibility composition.
    Nfkc,
    /// Compatibility decomposition (5.9's default).
    Nfkd,
}

impl NormalizeForm {
    /// The form's name: `NFC`, `NFD`, `NFKC` or `NFKD`.
    pub fn as_str(self) -> &'static str {
        match self {
            NormalizeForm::Nfc => "NFC",
            NormalizeForm::Nfd => "NFD",
            NormalizeForm::Nfkc => "NFKC",
            NormalizeForm::Nfkd => "NFKD",
        }
    }

    /// `text` in this form.
    pub fn apply(self, text: &str) -> String {
        use unicode_normalization::UnicodeNormalization;
        match self {
            NormalizeForm::Nfc => text.nfc().collect(),
            NormalizeForm::Nfd => text.nfd().collect(),
            NormalizeForm::Nfkc => text.nfkc().collect(),
            NormalizeForm::Nfkd => text.nfkd().collect(),
        }
    }
}

impl std::str::FromStr for NormalizeForm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "NFC" => Ok(NormalizeForm::Nfc),
            "NFD" => Ok(NormalizeForm::Nfd),
            "NFKC" => Ok(NormalizeForm::Nfkc),
            "NFKD" => Ok(NormalizeForm::Nfkd),
            _ => Err(format!(
                "`{s}` is not a normalisation form; use NFC, NFD, NFKC, NFKD or none"
            )),
        }
    }
}
