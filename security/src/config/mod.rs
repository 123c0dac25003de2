//! Configuration: every `SECURITY_*` key of Flask-Security 1.7.4 (`flask_security/core.py`
//! `_default_config`), the few Flask / Flask-Login / Flask-WTF keys that change its behaviour, and
//! this port's own keys.
//!
//! # Where a configuration comes from
//! - [`Config::default()`]: 1.7.4's defaults, except where they are insecure (see below).
//! - [`Config::from_env()`] / [`Config::from_vars()`]: keys spelled as in Flask
//!   (`SECURITY_LOGIN_URL`, `SECRET_KEY`, …), values as text.
//! - [`Config::from_toml_file()`] / [`Config::from_toml_str()`]: the same key names as top-level
//!   TOML keys.
//! - In code: every field is public; load, then assign.
//!
//! Each `from_*` starts from [`Config::default()`] and does **not** validate: call
//! [`Config::validate()`] (the `Security` builder does) once every override is in place.
//!
//! # How values are spelled
//! | type | environment text | TOML |
//! |---|---|---|
//! | boolean | `true`/`false`, `1`/`0`, `yes`/`no` (any case) | `true`, or any of the texts |
//! | text | verbatim | a string |
//! | list | comma separated, items trimmed, empty items dropped (`email,username`) | an array of strings, or the text form |
//! | duration ([`Within`]) | `<integer> <unit>` (`5 days`, `10 minutes`) | the same string |
//! | number | decimal integer | an integer, or the text form |
//!
//! An unset **or empty** variable means the default. A malformed value is an error naming the key
//! ([`ConfigError::Invalid`]). Variables without the `SECURITY_` prefix that are not listed here
//! are ignored (the environment is full of them); an unknown `SECURITY_*` key is logged with
//! `tracing::warn!`, with the closest known key when one is near, and reported by
//! [`Config::from_vars_report()`].
//!
//! Messages: `SECURITY_MSG_<NAME>` (see [`MessageKey`]) is either plain text (the category stays
//! the default one) or a JSON array `["text", "category"]`; in TOML a native array works too. A
//! text that starts with `[` must therefore be written as such an array.
//!
//! # Where the port differs from 1.7.4 (and why)
//! - `SECURITY_PASSWORD_HASH` defaults to `argon2`, not `plaintext` (spec §15 S13); `argon2` is
//!   added in front of `SECURITY_PASSWORD_SCHEMES`; `des_crypt` (8 characters of the secret)
//!   still verifies stored hashes but cannot be chosen for new ones.
//! - `REMEMBER_COOKIE_HTTPONLY` defaults to true and `SESSION_COOKIE_SAMESITE` to `Lax` (S17).
//! - `LOGIN_DISABLED` defaults to false (Flask-Login 0.2 defaulted it to `TESTING`).
//! - Singular duration units (`1 day`) are accepted; 1.7.4 accepted them at start-up and then
//!   failed when the first token was checked.
//! - New keys: `SECURITY_TOKEN_MAX_AGE` (from 1.7.5), `SECURITY_JSON_HTTP_STATUS_CODES`,
//!   `SECURITY_GENERIC_RESPONSES`, `SECURITY_TRUSTED_PROXIES`, `SECURITY_IDENTITY_CACHE_TTL`,
//!   `SECURITY_ALLOWED_HOSTS`, `SECURITY_TOKEN_IN_QUERY`, `SECURITY_MAX_BODY_SIZE`,
//!   `SECURITY_FLASK_COMPAT`.
//! - Not read: `WTF_CSRF_SECRET_KEY` (CSRF tokens are keyed from `SECRET_KEY`),
//!   `SESSION_PROTECTION`, `JSONIFY_PRETTYPRINT_REGULAR`, `JSON_SORT_KEYS` and `TESTING` (their
//!   behaviour is fixed in the port).
//!
//! ```
//! # use security::config::Config;
//! let config = Config::from_vars([
//!     ("SECRET_KEY", "change me to a long random value"),
//!     ("SECURITY_REGISTERABLE", "true"),
//!     ("SECURITY_CONFIRM_EMAIL_WITHIN", "2 hours"),
//!     ("SECURITY_USER_IDENTITY_ATTRIBUTES", "email, username"),
//! ])?;
//! assert!(config.registerable);
//! assert_eq!(config.confirm_email_within.seconds(), 7200);
//! assert_eq!(config.user_identity_attributes, ["email", "username"]);
//! config.validate()?;
//! # Ok::<(), security::config::ConfigError>(())
//! ```

use std::fmt;
use std::path::Path;

use crate::messages::{MessageKey, Messages};

/// Password schemes that may hash new passwords (`SECURITY_PASSWORD_HASH`).
pub const HASH_SCHEMES: &[&str] = &[
    "argon2",
    "bcrypt",
    "pbkdf2_sha512",
    "pbkdf2_sha256",
    "sha512_crypt",
    "sha256_crypt",
    "plaintext",
];

/// Legacy schemes of 1.7.4 that are only recognised to verify (and then re-hash) stored
/// passwords; refused as `SECURITY_PASSWORD_HASH`: `des_crypt` sees 8 characters of the
/// secret (S13).
pub const VERIFY_ONLY_SCHEMES: &[&str] = &["des_crypt"];

/// The longest duration accepted: Python's `timedelta.max` (999999999 days), in seconds.
const MAX_SECONDS: u64 = 999_999_999 * 86_400;

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

// ---------------------------------------------------------------------------------------------
// Within
// ---------------------------------------------------------------------------------------------

/// A duration written as 1.7.4 writes it: `"<integer> <unit>"` (spec §2.6), e.g. `"5 days"`.
///
/// The unit is one of Python's `timedelta` keywords: `weeks`, `days`, `hours`, `minutes`,
/// `seconds`, `milliseconds`, `microseconds` (any case). The singular (`"1 day"`) is accepted
/// too; 1.7.4 accepted it at start-up and then failed when a token was checked.
///
/// The length is kept in whole seconds with sub-second parts dropped, as 1.7.4 computes a token's
/// max age (`"1 milliseconds"` is 0 s). The original text is kept for the `%(within)s` part of
/// the expiry messages, which repeats it verbatim.
///
/// ```
/// # use security::config::Within;
/// let w = Within::parse("5 days").unwrap();
/// assert_eq!((w.seconds(), w.text()), (432_000, "5 days"));
/// assert_eq!(w.to_string(), "5 days");
/// assert!(Within::parse("5 fortnights").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Within {
    text: String,
    seconds: u64,
}

impl Within {
    /// Parses `"<integer> <unit>"` (split on whitespace, exactly two parts, the integer
    /// non-negative).
    ///
    /// # Errors
    /// A text in any other shape, an unknown unit, or a duration longer than 999999999 days; the
    /// error says which.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.split_whitespace();
        let (Some(count), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "`{text}` is not a duration; write `<integer> <unit>`, e.g. `5 days`"
            ));
        };
        let count: u64 = count.parse().map_err(|_| {
            format!("`{count}` in `{text}` is not a whole number of units; e.g. `5 days`")
        })?;
        let unit_seconds: (u64, u64) = match unit.to_ascii_lowercase().as_str() {
            "weeks" | "week" => (604_800, 1),
            "days" | "day" => (86_400, 1),
            "hours" | "hour" => (3_600, 1),
            "minutes" | "minute" => (60, 1),
            "seconds" | "second" => (1, 1),
            "milliseconds" | "millisecond" => (1, 1_000),
            "microseconds" | "microsecond" => (1, 1_000_000),
            _ => {
                return Err(format!(
                    "unknown unit `{unit}` in `{text}`; use weeks, days, hours, minutes, seconds, \
                     milliseconds or microseconds"
                ));
            }
        };
        let (multiplier, divisor) = unit_seconds;
        let seconds = count
            .checked_mul(multiplier)
            .map(|s| s / divisor)
            .filter(|s| *s <= MAX_SECONDS)
            .ok_or_else(|| format!("`{text}` is longer than 999999999 days"))?;
        Ok(Self {
            text: text.to_owned(),
            seconds,
        })
    }

    /// A duration of `seconds` seconds, written `"<seconds> seconds"`.
    pub fn from_seconds(seconds: u64) -> Self {
        Self {
            text: format!("{seconds} seconds"),
            seconds,
        }
    }

    /// The length in whole seconds.
    pub fn seconds(&self) -> u64 {
        self.seconds
    }

    /// The text as configured (what `%(within)s` shows).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// A default value; the text is known to parse to `seconds` (checked by a unit test).
    fn known(text: &str, seconds: u64) -> Self {
        Self {
            text: text.to_owned(),
            seconds,
        }
    }
}

impl fmt::Display for Within {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

// ---------------------------------------------------------------------------------------------
// SameSite
// ---------------------------------------------------------------------------------------------

/// The `SameSite` attribute of a cookie (`SESSION_COOKIE_SAMESITE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// `SameSite=Lax`: sent on top-level navigations from other sites, not on their sub-requests
    /// or cross-site POSTs. The default.
    #[default]
    Lax,
    /// `SameSite=Strict`: never sent on requests started by another site.
    Strict,
    /// `SameSite=None`: sent on every request; browsers require `Secure` with it.
    None,
}

impl SameSite {
    /// The attribute value: `"Lax"`, `"Strict"` or `"None"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SameSite {
    type Err = String;

    /// `Lax`, `Strict` or `None`, in any case.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "lax" => Ok(SameSite::Lax),
            "strict" => Ok(SameSite::Strict),
            "none" => Ok(SameSite::None),
            _ => Err(format!(
                "`{s}` is not a SameSite value; use Lax, Strict or None"
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ConfigError
// ---------------------------------------------------------------------------------------------

/// Why a configuration could not be loaded or was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A key has a malformed value, or the configuration breaks a rule checked at start-up.
    #[error("invalid value for `{key}`: {reason}")]
    Invalid {
        /// The key, spelled as in the environment (`SECURITY_PASSWORD_HASH`).
        key: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// A configuration file could not be read or is not valid TOML.
    #[error("cannot read the configuration file `{path}`: {reason}")]
    File {
        /// The file's path.
        path: String,
        /// The I/O or TOML syntax error.
        reason: String,
    },
    /// A TOML text given to [`Config::from_toml_str`] is not valid TOML.
    #[error("the configuration is not valid TOML: {reason}")]
    Toml {
        /// The TOML syntax error.
        reason: String,
    },
}

impl ConfigError {
    fn invalid(key: &str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/// Every `SECURITY_*` key of Flask-Security 1.7.4 with its default (except the insecure ones),
/// the few non-`SECURITY_` keys that change behaviour, and this port's own keys.
///
/// A field is named after its key without the `SECURITY_` prefix, lower-cased
/// (`SECURITY_POST_LOGIN_VIEW` → `post_login_view`); the non-prefixed keys say their key in their
/// documentation. See the [module documentation](self) for loading and value syntax.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    // --- Secrets -------------------------------------------------------------------------------
    /// `SECRET_KEY` (Flask; no default). Signs every token, the session cookie and CSRF tokens;
    /// rotating it invalidates all of them. Empty means not set, which [`Config::validate`]
    /// refuses.
    pub secret_key: String,

    // --- Core (spec §2.1) ----------------------------------------------------------------------
    /// `SECURITY_BLUEPRINT_NAME`, default `"security"`: the name of the security views' group
    /// (Flask's endpoint names are `<name>.login` etc.).
    pub blueprint_name: String,
    /// `SECURITY_URL_PREFIX`, default none: a prefix for every security URL (`/auth` →
    /// `/auth/login`). A trailing `/` is ignored.
    pub url_prefix: Option<String>,
    /// `SECURITY_SUBDOMAIN`, default none: the subdomain the security views are served on
    /// (undocumented in 1.7.4's docs).
    pub subdomain: Option<String>,
    /// `SECURITY_FLASH_MESSAGES`, default `true`: whether to flash messages during security
    /// procedures; when false nothing is flashed, including the "please log in" message.
    pub flash_messages: bool,
    /// `SECURITY_PASSWORD_HASH`, default `"argon2"`: the scheme used to hash new passwords, one
    /// of [`HASH_SCHEMES`] (`argon2`, `bcrypt`, `pbkdf2_sha512`, `pbkdf2_sha256`,
    /// `sha512_crypt`, `sha256_crypt`, `plaintext`) that is also in `password_schemes`.
    ///
    /// **Differs from 1.7.4**, whose default is `plaintext` (spec §15 S13). The legacy
    /// [`VERIFY_ONLY_SCHEMES`] (`des_crypt`) is refused here: it is only recognised to verify
    /// stored hashes.
    pub password_hash: String,
    /// `SECURITY_PASSWORD_SALT`, default none: the HMAC key of the password pre-hash (spec §9.1).
    /// Required for every scheme but `plaintext`: hashing or verifying fails without it (as in
    /// 1.7.4, where it is checked on first use, not at start-up; [`Config::validate`] logs a
    /// warning).
    pub password_salt: Option<String>,
    /// `SECURITY_PASSWORD_SCHEMES`, default `argon2, bcrypt, des_crypt, pbkdf2_sha256,
    /// pbkdf2_sha512, sha256_crypt, sha512_crypt, plaintext`: the schemes recognised when
    /// verifying a stored hash, in identification order; `plaintext`, when present, must be
    /// last (undocumented in 1.7.4). **Port**: `argon2` added first.
    pub password_schemes: Vec<String>,
    /// `SECURITY_DEPRECATED_PASSWORD_SCHEMES`, default `auto`: schemes whose hashes are
    /// re-hashed with `password_hash` after a successful login; `auto` = every scheme but
    /// `password_hash` (passlib's meaning; undocumented in 1.7.4).
    pub deprecated_password_schemes: Vec<String>,
    /// `SECURITY_EMAIL_SENDER`, default `"no-reply@localhost"`: the `From` of every e-mail.
    pub email_sender: String,
    /// `SECURITY_TOKEN_AUTHENTICATION_KEY`, default `"auth_token"`: the query-string parameter
    /// (and JSON body key) read for token authentication.
    pub token_authentication_key: String,
    /// `SECURITY_TOKEN_AUTHENTICATION_HEADER`, default `"Authentication-Token"`: the HTTP header
    /// read for token authentication.
    pub token_authentication_header: String,
    /// `SECURITY_DEFAULT_HTTP_AUTH_REALM`, default `"Login Required"`: the realm of
    /// `http_auth_required` when none is given.
    pub default_http_auth_realm: String,
    /// `SECURITY_USER_IDENTITY_ATTRIBUTES`, default `email`: the user attributes searched (exact,
    /// case-insensitive comparison, in order) for the identifier typed at login, forgot-password,
    /// resend-confirmation and passwordless login.
    pub user_identity_attributes: Vec<String>,

    // --- URLs and redirect targets (spec §2.2) -------------------------------------------------
    /// `SECURITY_LOGIN_URL`, default `"/login"`: the login page (the passwordless send-login page
    /// when `passwordless`); the passwordless token link is `<login_url>/<token>`.
    pub login_url: String,
    /// `SECURITY_LOGOUT_URL`, default `"/logout"`: logout.
    pub logout_url: String,
    /// `SECURITY_REGISTER_URL`, default `"/register"`: registration.
    pub register_url: String,
    /// `SECURITY_RESET_URL`, default `"/reset"`: forgot password; the reset form is
    /// `<reset_url>/<token>`.
    pub reset_url: String,
    /// `SECURITY_CHANGE_URL`, default `"/change"`: change password.
    pub change_url: String,
    /// `SECURITY_CONFIRM_URL`, default `"/confirm"`: resend confirmation; the confirmation link
    /// is `<confirm_url>/<token>`.
    pub confirm_url: String,
    /// `SECURITY_POST_LOGIN_VIEW`, default `"/"`: where to go after login (without a valid
    /// `next`); also where an authenticated user is sent from anonymous-only pages. A path or
    /// URL (1.7.4 also accepted a Flask endpoint name).
    pub post_login_view: String,
    /// `SECURITY_POST_LOGOUT_VIEW`, default `"/"`: where to go after logout.
    pub post_logout_view: String,
    /// `SECURITY_CONFIRM_ERROR_VIEW`, default none: where to go after an invalid or expired
    /// confirmation token; none = the resend-confirmation page.
    pub confirm_error_view: Option<String>,
    /// `SECURITY_POST_REGISTER_VIEW`, default none: where to go after registration. None: the
    /// docs say `post_login_view`, 1.7.4's code goes to `/` (spec B8).
    pub post_register_view: Option<String>,
    /// `SECURITY_POST_CONFIRM_VIEW`, default none: where to go after confirmation; none =
    /// `post_login_view`.
    pub post_confirm_view: Option<String>,
    /// `SECURITY_POST_RESET_VIEW`, default none: where to go after a password reset; none =
    /// `post_login_view`.
    pub post_reset_view: Option<String>,
    /// `SECURITY_POST_CHANGE_VIEW`, default none: where to go after a password change; none =
    /// `post_login_view`.
    pub post_change_view: Option<String>,
    /// `SECURITY_UNAUTHORIZED_VIEW`, default none: where to go when a role check fails. None: the
    /// docs say HTTP 403, 1.7.4's code redirects to the `Referer` or `/` (spec B9).
    pub unauthorized_view: Option<String>,

    // --- Templates (spec §2.3) -----------------------------------------------------------------
    /// `SECURITY_FORGOT_PASSWORD_TEMPLATE`, default `"security/forgot_password.html"`: the
    /// forgot-password page.
    pub forgot_password_template: String,
    /// `SECURITY_LOGIN_USER_TEMPLATE`, default `"security/login_user.html"`: the login page.
    pub login_user_template: String,
    /// `SECURITY_REGISTER_USER_TEMPLATE`, default `"security/register_user.html"`: the
    /// registration page.
    pub register_user_template: String,
    /// `SECURITY_RESET_PASSWORD_TEMPLATE`, default `"security/reset_password.html"`: the reset
    /// password page.
    pub reset_password_template: String,
    /// `SECURITY_CHANGE_PASSWORD_TEMPLATE`, default `"security/change_password.html"`: the change
    /// password page.
    pub change_password_template: String,
    /// `SECURITY_SEND_CONFIRMATION_TEMPLATE`, default `"security/send_confirmation.html"`: the
    /// resend confirmation instructions page.
    pub send_confirmation_template: String,
    /// `SECURITY_SEND_LOGIN_TEMPLATE`, default `"security/send_login.html"`: the passwordless
    /// send-login page.
    pub send_login_template: String,

    // --- Feature flags (spec §2.4) -------------------------------------------------------------
    /// `SECURITY_CONFIRMABLE`, default `false`: users must confirm their e-mail address; adds the
    /// confirmation and resend-confirmation views at `confirm_url`.
    pub confirmable: bool,
    /// `SECURITY_REGISTERABLE`, default `false`: adds the registration view at `register_url`.
    pub registerable: bool,
    /// `SECURITY_RECOVERABLE`, default `false`: adds the forgot/reset password views at
    /// `reset_url`.
    pub recoverable: bool,
    /// `SECURITY_TRACKABLE`, default `false`: records login statistics (the user model needs the
    /// tracking fields).
    pub trackable: bool,
    /// `SECURITY_PASSWORDLESS`, default `false`: login by an e-mailed link instead of a password
    /// (experimental in 1.7.4); `login_url` becomes the send-login view.
    pub passwordless: bool,
    /// `SECURITY_CHANGEABLE`, default `false`: adds the change-password view at `change_url`.
    pub changeable: bool,

    // --- E-mail (spec §2.5) --------------------------------------------------------------------
    /// `SECURITY_EMAIL_SUBJECT_REGISTER`, default `"Welcome"`: subject of the welcome e-mail.
    pub email_subject_register: String,
    /// `SECURITY_EMAIL_SUBJECT_CONFIRM`, default `"Please confirm your email"`: subject of the
    /// confirmation e-mail.
    pub email_subject_confirm: String,
    /// `SECURITY_EMAIL_SUBJECT_PASSWORDLESS`, default `"Login instructions"`: subject of the
    /// passwordless login e-mail.
    pub email_subject_passwordless: String,
    /// `SECURITY_EMAIL_SUBJECT_PASSWORD_NOTICE`, default `"Your password has been reset"`: subject
    /// of the notice after a reset.
    pub email_subject_password_notice: String,
    /// `SECURITY_EMAIL_SUBJECT_PASSWORD_CHANGE_NOTICE`, default `"Your password has been
    /// changed"`: subject of the notice after a change.
    pub email_subject_password_change_notice: String,
    /// `SECURITY_EMAIL_SUBJECT_PASSWORD_RESET`, default `"Password reset instructions"`: subject
    /// of the reset-instructions e-mail.
    pub email_subject_password_reset: String,
    /// `SECURITY_SEND_REGISTER_EMAIL`, default `true`: send the welcome e-mail on registration.
    pub send_register_email: bool,
    /// `SECURITY_SEND_PASSWORD_CHANGE_EMAIL`, default `true`: send a notice after a password
    /// change.
    pub send_password_change_email: bool,
    /// `SECURITY_SEND_PASSWORD_RESET_NOTICE_EMAIL`, default `true`: send a notice after a
    /// password reset.
    pub send_password_reset_notice_email: bool,

    // --- Tokens, lifetimes, remember-me (spec §2.6) --------------------------------------------
    /// `SECURITY_CONFIRM_EMAIL_WITHIN`, default `"5 days"`: how long a confirmation link works.
    pub confirm_email_within: Within,
    /// `SECURITY_RESET_PASSWORD_WITHIN`, default `"5 days"`: how long a reset link works.
    pub reset_password_within: Within,
    /// `SECURITY_LOGIN_WITHIN`, default `"1 days"`: how long a passwordless login link works.
    pub login_within: Within,
    /// `SECURITY_LOGIN_WITHOUT_CONFIRMATION`, default `false`: with `confirmable`, lets
    /// unconfirmed users log in (and logs them in on registration).
    pub login_without_confirmation: bool,
    /// `SECURITY_CONFIRM_SALT`, default `"confirm-salt"`: salt of confirmation tokens.
    pub confirm_salt: String,
    /// `SECURITY_RESET_SALT`, default `"reset-salt"`: salt of reset tokens.
    pub reset_salt: String,
    /// `SECURITY_LOGIN_SALT`, default `"login-salt"`: salt of passwordless login tokens.
    pub login_salt: String,
    /// `SECURITY_REMEMBER_SALT`, default `"remember-salt"`: salt of the remember cookie **and**
    /// of authentication tokens.
    pub remember_salt: String,
    /// `SECURITY_CHANGE_SALT`, default `"change-salt"`: defined by 1.7.4 but never used
    /// (undocumented); kept for completeness.
    pub change_salt: String,
    /// `SECURITY_DEFAULT_REMEMBER_ME`, default `false`: the remember-me value of logins that do
    /// not state one. **Port**: also applied to `/login` when the `remember` field is absent
    /// (1.7.4 ignored it there, spec B7).
    pub default_remember_me: bool,
    /// `SECURITY_TOKEN_MAX_AGE` (from 1.7.5), default none: the maximum age of authentication
    /// tokens and remember cookies. `None` = they expire only when revoked (password change,
    /// "log out everywhere", `SECRET_KEY` rotation), as in 1.7.4. Integer seconds or a duration;
    /// `none` = no limit.
    pub token_max_age: Option<Within>,

    // --- Messages (spec §2.7, §3) --------------------------------------------------------------
    /// `SECURITY_MSG_<NAME>`: the message table, 1.7.4's texts and categories by default.
    pub messages: Messages,

    // --- Non-SECURITY keys (spec §2.8) ---------------------------------------------------------
    /// `LOGIN_DISABLED` (Flask-Login), default `false`: when true `login_required` lets everyone
    /// through (role, token and Basic guards are unaffected). **Differs**: Flask-Login 0.2
    /// defaulted it to `TESTING`.
    pub login_disabled: bool,
    /// `WTF_CSRF_ENABLED` (Flask-WTF), default `true`: a CSRF token is required on every
    /// state-changing POST of the security views, JSON included.
    pub csrf_enabled: bool,
    /// `WTF_CSRF_TIME_LIMIT` (Flask-WTF), default 3600: the lifetime of a CSRF token in seconds;
    /// `none` or `0` = no limit (as in Flask-WTF). A duration (`1 hours`) is accepted too.
    pub csrf_time_limit: Option<u64>,
    /// `REMEMBER_COOKIE_NAME` (Flask-Login), default `"remember_token"`: the remember cookie's
    /// name.
    pub remember_cookie_name: String,
    /// `REMEMBER_COOKIE_DURATION` (Flask-Login), default `"365 days"`: the remember cookie's
    /// lifetime. Integer seconds or a duration.
    pub remember_cookie_duration: Within,
    /// `REMEMBER_COOKIE_DOMAIN` (Flask-Login), default none (host-only): the remember cookie's
    /// `Domain`.
    pub remember_cookie_domain: Option<String>,
    /// `REMEMBER_COOKIE_SECURE` (Flask-Login), default none: mark the remember cookie
    /// `Secure`. Unset, it follows `SESSION_COOKIE_SECURE` (see
    /// [`Config::remember_cookie_is_secure`]), so that turning on `Secure` for the session does
    /// not leave the longer-lived cookie without it.
    pub remember_cookie_secure: Option<bool>,
    /// `REMEMBER_COOKIE_HTTPONLY` (Flask-Login), default `true`: mark the remember cookie
    /// `HttpOnly`. **Differs**: 1.7.4's Flask-Login left it readable by scripts (spec §15 S17).
    pub remember_cookie_httponly: bool,
    /// `SESSION_COOKIE_NAME` (Flask), default `"session"`: the session cookie's name.
    pub session_cookie_name: String,
    /// `SESSION_COOKIE_DOMAIN` (Flask), default none (host-only): the session cookie's `Domain`.
    pub session_cookie_domain: Option<String>,
    /// `SESSION_COOKIE_SECURE` (Flask), default `false`: mark the session cookie `Secure`. Turn
    /// on behind HTTPS.
    pub session_cookie_secure: bool,
    /// `SESSION_COOKIE_HTTPONLY` (Flask), default `true`: mark the session cookie `HttpOnly`.
    pub session_cookie_httponly: bool,
    /// `SESSION_COOKIE_SAMESITE` (Flask ≥ 1.0), default `Lax`: the cookies' `SameSite`
    /// attribute (`Lax`, `Strict` or `None`; `None` needs `session_cookie_secure`). **Differs**:
    /// 1.7.4's Flask set no `SameSite` (spec §15 S17).
    pub session_cookie_samesite: SameSite,
    /// `PERMANENT_SESSION_LIFETIME` (Flask), default `"31 days"`: the maximum age of a session,
    /// checked server-side from the time the session was issued. Integer seconds or a duration.
    pub permanent_session_lifetime: Within,
    /// `SERVER_NAME` (Flask), default none: the host (`host[:port]`) of absolute links when no
    /// request host is available (e-mails sent outside a request); when set, also the only host
    /// accepted for redirects besides `allowed_hosts`.
    pub server_name: Option<String>,
    /// `PREFERRED_URL_SCHEME` (Flask), default `"http"`: the scheme of absolute links in mail
    /// (behind trusted proxies, `X-Forwarded-Proto` wins).
    pub preferred_url_scheme: String,

    // --- The port's own keys -------------------------------------------------------------------
    /// `SECURITY_JSON_HTTP_STATUS_CODES` (**port addition**), default `false`: when true, a JSON
    /// error answers with the HTTP status equal to `meta.code` (400) instead of 1.7.4's 200
    /// (spec §15 B1); the envelope is the same either way.
    pub json_http_status_codes: bool,
    /// `SECURITY_RETURN_GENERIC_RESPONSES` (Flask-Security 5.9's key; this port's earlier
    /// `SECURITY_GENERIC_RESPONSES` is read as an alias), default `false`: the
    /// enumeration-resistant mode. Login answers one generic refusal
    /// ([`MessageKey::InvalidCredentials`]) for an unknown user, a user without a password and a
    /// wrong password; forgot-password, resend-confirmation and passwordless login answer as on
    /// success whether or not the account exists, with the mail queued after the answer, so
    /// that neither the status, the body nor the time tells; registration of a taken address
    /// answers as for a new one and mails the owner instead (5.9's `welcome_existing`), and no
    /// registration logs in (that alone would tell a free address from a taken one). Off by
    /// default to keep 1.7.4's messages.
    pub return_generic_responses: bool,
    /// `SECURITY_TRUSTED_PROXIES` (**port addition**), default `0`: how many reverse proxies in
    /// front of the app append to `X-Forwarded-For`. 0 = ignore the header and use the socket
    /// peer address; `n` = take the `n`-th address from the right (spec §15 S15).
    pub trusted_proxies: u8,
    /// `SECURITY_IDENTITY_CACHE_TTL` (**port addition**), default none: how long a loaded user
    /// (with roles) may be reused for the same session without reading the database again; none =
    /// load on every request (a deactivation or role change takes effect at once).
    pub identity_cache_ttl: Option<Within>,
    /// `SECURITY_ALLOWED_HOSTS` (**port addition**), default empty: hosts (`host[:port]`)
    /// accepted in absolute `next` URLs and in `Host` headers used to build absolute links. Empty
    /// = the request's own host is accepted only when it is a loopback address or equals
    /// `server_name`.
    pub allowed_hosts: Vec<String>,
    /// `SECURITY_TOKEN_IN_QUERY` (**port addition**), default `true`: accept the authentication
    /// token in the query string (`?auth_token=`), as 1.7.4 does. Query strings end up in logs;
    /// turn off to accept only the header and the JSON body (spec §15 S18).
    pub token_in_query: bool,
    /// `SECURITY_MAX_BODY_SIZE` (**port addition**), default 2 MiB (2097152): the largest request
    /// body the security views read, in bytes; larger bodies get HTTP 413.
    pub max_body_size: usize,
    /// `SECURITY_FLASK_COMPAT` (**port addition**), default `false`: also accept what a running
    /// Flask-Security 1.7.4 app with the same `SECRET_KEY` and salts handed out, for a cut-over
    /// without logging anyone out: its authentication tokens and remember cookies (while the
    /// password is unchanged), its session cookies (once, replaced by this library's session),
    /// its confirmation, reset and login links (within their lifetimes, each bound as tightly
    /// as its payload allows), and passwords that 1.7.4's scheme-migration bug hashed twice.
    /// Those formats rest on HMAC-SHA1 and MD5 digests of the password hash: turn this off once
    /// no Flask instance is left (see `docs/migrating-from-flask-security.md`).
    pub flask_compat: bool,
    /// `SECURITY_ALLOW_WEAK_SECRET_KEY` (**port addition**), default `false`: accept a
    /// `SECRET_KEY` shorter than 16 bytes. [`Config::validate`] refuses such a key otherwise;
    /// turn this on only to keep the key of an existing deployment during a migration (its
    /// sessions and links stay valid), then rotate it.
    pub allow_weak_secret_key: bool,
    /// `SECURITY_CSRF_PROTECT` (**port addition**, Flask-WTF's `CSRFProtect`), default `false`:
    /// every `POST`, `PUT`, `PATCH` and `DELETE` that carries the session or the remember
    /// cookie needs the CSRF token (form field `csrf_token` or header `X-CSRFToken`), on the
    /// app's own routes too, checked by `security.layer()`. Requests authenticated only by a
    /// token or HTTP Basic are not affected: a browser does not send those by itself. Without
    /// it, protect single handlers with the [`crate::csrf::CsrfChecked`] and
    /// [`crate::csrf::CsrfForm`] extractors.
    pub csrf_protect: bool,
    /// `SECURITY_RESPONSE_HEADERS` (**port addition**): headers added to every answer of the
    /// security views, as a JSON object `{"Header": "value"}` merged over the defaults; an empty
    /// value removes a default. Defaults: `Cache-Control: no-store` (the JSON login answer
    /// holds a token, the reset page a link), `Referrer-Policy: no-referrer` (the reset page's
    /// URL holds its token), `X-Frame-Options: DENY` and `Content-Security-Policy:
    /// frame-ancestors 'none'` (no framing, so no click-jacking of the forms), and
    /// `X-Content-Type-Options: nosniff`.
    pub response_headers: Vec<(String, String)>,
    /// `SECURITY_MAIL_RETRY_DELAY` (**port addition**), default `"30 seconds"`: mail is queued
    /// in the database (`security_outbox`) and sent in the background; a failed delivery is
    /// tried again after this delay, doubled at each attempt up to one hour.
    pub mail_retry_delay: Within,
    /// `SECURITY_MAIL_MAX_ATTEMPTS` (**port addition**), default 15 (about nine hours with the
    /// default delay): after this many failed deliveries a mail is kept in the outbox as failed
    /// (with its last error) and no longer tried.
    pub mail_max_attempts: u32,

    // --- Flask-Security 5.9's keys -------------------------------------------------------------
    /// `SECURITY_LOGOUT_METHODS` (5.9), default `GET, POST`: the methods the logout view
    /// answers. A `POST` needs the CSRF token (when CSRF is on), so it cannot be triggered from
    /// another site; `GET` is kept by default for 1.7.4's templates and links. Set `POST` alone
    /// when every logout link of the app is a form. An empty list serves no logout view.
    pub logout_methods: Vec<String>,
    /// `SECURITY_AUTO_LOGIN_AFTER_CONFIRM` (5.9), default `true` (1.7.4's behaviour; 5.9's
    /// default is `false`): the first use of a confirmation link logs its user in. A link logs
    /// in whoever opens it, so an attacker can log a victim into the attacker's account by
    /// making them open the attacker's link (login CSRF); turn this off when that matters (the
    /// user then logs in with the password).
    pub auto_login_after_confirm: bool,
    /// `SECURITY_PASSWORD_NORMALIZE_FORM` (5.9), default `NFKD`: the Unicode normalisation
    /// applied to every password before it is checked or hashed (`NFC`, `NFD`, `NFKC`, `NFKD`;
    /// `none` to keep passwords as typed), so that the same password typed on two keyboards
    /// matches. A stored hash of an unnormalised password (from 1.7.4) still verifies and is
    /// replaced by the normalised one at the next login. With `SECURITY_FLASK_COMPAT`, new
    /// hashes are of the password as typed (both forms are checked), so that a Flask-Security
    /// 1.7.4 app running beside this one, which does not normalise, verifies them.
    pub password_normalize_form: Option<NormalizeForm>,
    /// `SECURITY_PASSWORD_LENGTH_MIN` (5.9; default 6 as in 1.7.4, 5.9's is 8): the fewest
    /// characters (after normalisation) of a new password.
    pub password_length_min: usize,
    /// `SECURITY_PASSWORD_LENGTH_MAX` (**port addition**), default 128 (5.9's fixed limit): the
    /// most characters of a new password; a longer one gets its own message
    /// ([`MessageKey::PasswordTooLong`]).
    pub password_length_max: usize,
    /// `SECURITY_PASSWORD_COMPLEXITY_CHECKER` (5.9), default none: `zxcvbn` refuses new
    /// passwords whose zxcvbn score is below `zxcvbn_minimum_score` (needs the cargo feature
    /// `zxcvbn`; [`Config::validate`] says so otherwise).
    pub password_complexity_checker: Option<String>,
    /// `SECURITY_ZXCVBN_MINIMUM_SCORE` (5.9), default 3: the lowest zxcvbn score (0–4) a new
    /// password may have when the complexity checker is `zxcvbn`.
    pub zxcvbn_minimum_score: u8,
}

impl Default for Config {
    /// 1.7.4's defaults with the port's safe changes (see the fields).
    fn default() -> Self {
        let s = |v: &str| v.to_owned();
        Config {
            secret_key: String::new(),
            blueprint_name: s("security"),
            url_prefix: None,
            subdomain: None,
            flash_messages: true,
            password_hash: s("argon2"),
            password_salt: None,
            password_schemes: [
                "argon2",
                "bcrypt",
                "des_crypt",
                "pbkdf2_sha256",
                "pbkdf2_sha512",
                "sha256_crypt",
                "sha512_crypt",
                "plaintext",
            ]
            .map(s)
            .to_vec(),
            deprecated_password_schemes: vec![s("auto")],
            email_sender: s("no-reply@localhost"),
            token_authentication_key: s("auth_token"),
            token_authentication_header: s("Authentication-Token"),
            default_http_auth_realm: s("Login Required"),
            user_identity_attributes: vec![s("email")],
            login_url: s("/login"),
            logout_url: s("/logout"),
            register_url: s("/register"),
            reset_url: s("/reset"),
            change_url: s("/change"),
            confirm_url: s("/confirm"),
            post_login_view: s("/"),
            post_logout_view: s("/"),
            confirm_error_view: None,
            post_register_view: None,
            post_confirm_view: None,
            post_reset_view: None,
            post_change_view: None,
            unauthorized_view: None,
            forgot_password_template: s("security/forgot_password.html"),
            login_user_template: s("security/login_user.html"),
            register_user_template: s("security/register_user.html"),
            reset_password_template: s("security/reset_password.html"),
            change_password_template: s("security/change_password.html"),
            send_confirmation_template: s("security/send_confirmation.html"),
            send_login_template: s("security/send_login.html"),
            confirmable: false,
            registerable: false,
            recoverable: false,
            trackable: false,
            passwordless: false,
            changeable: false,
            email_subject_register: s("Welcome"),
            email_subject_confirm: s("Please confirm your email"),
            email_subject_passwordless: s("Login instructions"),
            email_subject_password_notice: s("Your password has been reset"),
            email_subject_password_change_notice: s("Your password has been changed"),
            email_subject_password_reset: s("Password reset instructions"),
            send_register_email: true,
            send_password_change_email: true,
            send_password_reset_notice_email: true,
            confirm_email_within: Within::known("5 days", 5 * 86_400),
            reset_password_within: Within::known("5 days", 5 * 86_400),
            login_within: Within::known("1 days", 86_400),
            login_without_confirmation: false,
            confirm_salt: s("confirm-salt"),
            reset_salt: s("reset-salt"),
            login_salt: s("login-salt"),
            remember_salt: s("remember-salt"),
            change_salt: s("change-salt"),
            default_remember_me: false,
            token_max_age: None,
            messages: Messages::default(),
            login_disabled: false,
            csrf_enabled: true,
            csrf_time_limit: Some(3600),
            remember_cookie_name: s("remember_token"),
            remember_cookie_duration: Within::known("365 days", 365 * 86_400),
            remember_cookie_domain: None,
            remember_cookie_secure: None,
            remember_cookie_httponly: true,
            session_cookie_name: s("session"),
            session_cookie_domain: None,
            session_cookie_secure: false,
            session_cookie_httponly: true,
            session_cookie_samesite: SameSite::Lax,
            permanent_session_lifetime: Within::known("31 days", 31 * 86_400),
            server_name: None,
            preferred_url_scheme: s("http"),
            json_http_status_codes: false,
            return_generic_responses: false,
            trusted_proxies: 0,
            identity_cache_ttl: None,
            allowed_hosts: Vec::new(),
            token_in_query: true,
            max_body_size: 2 * 1024 * 1024,
            flask_compat: false,
            allow_weak_secret_key: false,
            csrf_protect: false,
            response_headers: default_response_headers(),
            mail_retry_delay: Within::known("30 seconds", 30),
            mail_max_attempts: 15,
            logout_methods: vec![s("GET"), s("POST")],
            auto_login_after_confirm: true,
            password_normalize_form: Some(NormalizeForm::Nfkd),
            password_length_min: 6,
            password_length_max: 128,
            password_complexity_checker: None,
            zxcvbn_minimum_score: 3,
        }
    }
}

use crate::redact::Redacted;

impl fmt::Debug for Config {
    /// Every field, with `secret_key` and `password_salt` redacted so that logging a
    /// configuration never leaks them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let Config {
            secret_key,
            blueprint_name,
            url_prefix,
            subdomain,
            flash_messages,
            password_hash,
            password_salt,
            password_schemes,
            deprecated_password_schemes,
            email_sender,
            token_authentication_key,
            token_authentication_header,
            default_http_auth_realm,
            user_identity_attributes,
            login_url,
            logout_url,
            register_url,
            reset_url,
            change_url,
            confirm_url,
            post_login_view,
            post_logout_view,
            confirm_error_view,
            post_register_view,
            post_confirm_view,
            post_reset_view,
            post_change_view,
            unauthorized_view,
            forgot_password_template,
            login_user_template,
            register_user_template,
            reset_password_template,
            change_password_template,
            send_confirmation_template,
            send_login_template,
            confirmable,
            registerable,
            recoverable,
            trackable,
            passwordless,
            changeable,
            email_subject_register,
            email_subject_confirm,
            email_subject_passwordless,
            email_subject_password_notice,
            email_subject_password_change_notice,
            email_subject_password_reset,
            send_register_email,
            send_password_change_email,
            send_password_reset_notice_email,
            confirm_email_within,
            reset_password_within,
            login_within,
            login_without_confirmation,
            confirm_salt,
            reset_salt,
            login_salt,
            remember_salt,
            change_salt,
            default_remember_me,
            token_max_age,
            messages,
            login_disabled,
            csrf_enabled,
            csrf_time_limit,
            remember_cookie_name,
            remember_cookie_duration,
            remember_cookie_domain,
            remember_cookie_secure,
            remember_cookie_httponly,
            session_cookie_name,
            session_cookie_domain,
            session_cookie_secure,
            session_cookie_httponly,
            session_cookie_samesite,
            permanent_session_lifetime,
            server_name,
            preferred_url_scheme,
            json_http_status_codes,
            return_generic_responses,
            trusted_proxies,
            identity_cache_ttl,
            allowed_hosts,
            token_in_query,
            max_body_size,
            flask_compat,
            allow_weak_secret_key,
            csrf_protect,
            response_headers,
            mail_retry_delay,
            mail_max_attempts,
            logout_methods,
            auto_login_after_confirm,
            password_normalize_form,
            password_length_min,
            password_length_max,
            password_complexity_checker,
            zxcvbn_minimum_score,
        } = self;
        let mut d = f.debug_struct("Config");
        d.field("secret_key", &Redacted(Some(secret_key)));
        macro_rules! fields {
            ($($name:ident),* $(,)?) => { $( d.field(stringify!($name), $name); )* };
        }
        fields!(
            blueprint_name,
            url_prefix,
            subdomain,
            flash_messages,
            password_hash
        );
        d.field("password_salt", &Redacted(password_salt.as_deref()));
        fields!(
            password_schemes,
            deprecated_password_schemes,
            email_sender,
            token_authentication_key,
            token_authentication_header,
            default_http_auth_realm,
            user_identity_attributes,
            login_url,
            logout_url,
            register_url,
            reset_url,
            change_url,
            confirm_url,
            post_login_view,
            post_logout_view,
            confirm_error_view,
            post_register_view,
            post_confirm_view,
            post_reset_view,
            post_change_view,
            unauthorized_view,
            forgot_password_template,
            login_user_template,
            register_user_template,
            reset_password_template,
            change_password_template,
            send_confirmation_template,
            send_login_template,
            confirmable,
            registerable,
            recoverable,
            trackable,
            passwordless,
            changeable,
            email_subject_register,
            email_subject_confirm,
            email_subject_passwordless,
            email_subject_password_notice,
            email_subject_password_change_notice,
            email_subject_password_reset,
            send_register_email,
            send_password_change_email,
            send_password_reset_notice_email,
            confirm_email_within,
            reset_password_within,
            login_within,
            login_without_confirmation,
            confirm_salt,
            reset_salt,
            login_salt,
            remember_salt,
            change_salt,
            default_remember_me,
            token_max_age,
            messages,
            login_disabled,
            csrf_enabled,
            csrf_time_limit,
            remember_cookie_name,
            remember_cookie_duration,
            remember_cookie_domain,
            remember_cookie_secure,
            remember_cookie_httponly,
            session_cookie_name,
            session_cookie_domain,
            session_cookie_secure,
            session_cookie_httponly,
            session_cookie_samesite,
            permanent_session_lifetime,
            server_name,
            preferred_url_scheme,
            json_http_status_codes,
            return_generic_responses,
            trusted_proxies,
            identity_cache_ttl,
            allowed_hosts,
            token_in_query,
            max_body_size,
            flask_compat,
            allow_weak_secret_key,
            csrf_protect,
            response_headers,
            mail_retry_delay,
            mail_max_attempts,
            logout_methods,
            auto_login_after_confirm,
            password_normalize_form,
            password_length_min,
            password_length_max,
            password_complexity_checker,
            zxcvbn_minimum_score,
        );
        d.finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Loading: one table of keys, shared by the environment and TOML
// ---------------------------------------------------------------------------------------------

/// One value before it is converted to its field's type: text (environment, TOML string) or a
/// native TOML value.
enum Raw<'a> {
    Text(&'a str),
    Bool(bool),
    Int(i64),
    List(Vec<String>),
}

impl Raw<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Raw::Text(_) => "text",
            Raw::Bool(_) => "a boolean",
            Raw::Int(_) => "an integer",
            Raw::List(_) => "an array",
        }
    }

    /// Text that means "use the default".
    fn is_empty(&self) -> bool {
        matches!(self, Raw::Text(s) if s.trim().is_empty())
    }
}

/// One configuration key: its name, the field it sets, and how.
struct Key {
    /// The key as spelled in the environment.
    name: &'static str,
    /// The field's name (checked against `name` by a unit test).
    #[cfg(test)]
    field: &'static str,
    /// Converts a value and stores it in the field.
    set: fn(&mut Config, Raw<'_>) -> Result<(), String>,
    /// Puts the field's default back (an empty value).
    reset: fn(&mut Config),
}

/// Builds the key table: `"KEY" => field: converter`, the converter being a function from
/// [`Raw`] to the field's type.
macro_rules! keys {
    ($($name:literal => $field:ident: $convert:ident,)*) => {
        &[$(Key {
            name: $name,
            #[cfg(test)]
            field: stringify!($field),
            set: |config, raw| {
                config.$field = $convert(raw)?;
                Ok(())
            },
            reset: |config| config.$field = Config::default().$field,
        },)*]
    };
}

/// Every key except the `SECURITY_MSG_*` family (handled by [`MessageKey::from_name`]).
static KEYS: &[Key] = keys! {
    "SECRET_KEY" => secret_key: text,
    "SECURITY_BLUEPRINT_NAME" => blueprint_name: text,
    "SECURITY_URL_PREFIX" => url_prefix: opt_text,
    "SECURITY_SUBDOMAIN" => subdomain: opt_text,
    "SECURITY_FLASH_MESSAGES" => flash_messages: boolean,
    "SECURITY_PASSWORD_HASH" => password_hash: text,
    "SECURITY_PASSWORD_SALT" => password_salt: opt_text,
    "SECURITY_PASSWORD_SCHEMES" => password_schemes: list,
    "SECURITY_DEPRECATED_PASSWORD_SCHEMES" => deprecated_password_schemes: list,
    "SECURITY_EMAIL_SENDER" => email_sender: text,
    "SECURITY_TOKEN_AUTHENTICATION_KEY" => token_authentication_key: text,
    "SECURITY_TOKEN_AUTHENTICATION_HEADER" => token_authentication_header: text,
    "SECURITY_DEFAULT_HTTP_AUTH_REALM" => default_http_auth_realm: text,
    "SECURITY_USER_IDENTITY_ATTRIBUTES" => user_identity_attributes: list,
    "SECURITY_LOGIN_URL" => login_url: text,
    "SECURITY_LOGOUT_URL" => logout_url: text,
    "SECURITY_REGISTER_URL" => register_url: text,
    "SECURITY_RESET_URL" => reset_url: text,
    "SECURITY_CHANGE_URL" => change_url: text,
    "SECURITY_CONFIRM_URL" => confirm_url: text,
    "SECURITY_POST_LOGIN_VIEW" => post_login_view: text,
    "SECURITY_POST_LOGOUT_VIEW" => post_logout_view: text,
    "SECURITY_CONFIRM_ERROR_VIEW" => confirm_error_view: opt_text,
    "SECURITY_POST_REGISTER_VIEW" => post_register_view: opt_text,
    "SECURITY_POST_CONFIRM_VIEW" => post_confirm_view: opt_text,
    "SECURITY_POST_RESET_VIEW" => post_reset_view: opt_text,
    "SECURITY_POST_CHANGE_VIEW" => post_change_view: opt_text,
    "SECURITY_UNAUTHORIZED_VIEW" => unauthorized_view: opt_text,
    "SECURITY_FORGOT_PASSWORD_TEMPLATE" => forgot_password_template: text,
    "SECURITY_LOGIN_USER_TEMPLATE" => login_user_template: text,
    "SECURITY_REGISTER_USER_TEMPLATE" => register_user_template: text,
    "SECURITY_RESET_PASSWORD_TEMPLATE" => reset_password_template: text,
    "SECURITY_CHANGE_PASSWORD_TEMPLATE" => change_password_template: text,
    "SECURITY_SEND_CONFIRMATION_TEMPLATE" => send_confirmation_template: text,
    "SECURITY_SEND_LOGIN_TEMPLATE" => send_login_template: text,
    "SECURITY_CONFIRMABLE" => confirmable: boolean,
    "SECURITY_REGISTERABLE" => registerable: boolean,
    "SECURITY_RECOVERABLE" => recoverable: boolean,
    "SECURITY_TRACKABLE" => trackable: boolean,
    "SECURITY_PASSWORDLESS" => passwordless: boolean,
    "SECURITY_CHANGEABLE" => changeable: boolean,
    "SECURITY_EMAIL_SUBJECT_REGISTER" => email_subject_register: text,
    "SECURITY_EMAIL_SUBJECT_CONFIRM" => email_subject_confirm: text,
    "SECURITY_EMAIL_SUBJECT_PASSWORDLESS" => email_subject_passwordless: text,
    "SECURITY_EMAIL_SUBJECT_PASSWORD_NOTICE" => email_subject_password_notice: text,
    "SECURITY_EMAIL_SUBJECT_PASSWORD_CHANGE_NOTICE" => email_subject_password_change_notice: text,
    "SECURITY_EMAIL_SUBJECT_PASSWORD_RESET" => email_subject_password_reset: text,
    "SECURITY_SEND_REGISTER_EMAIL" => send_register_email: boolean,
    "SECURITY_SEND_PASSWORD_CHANGE_EMAIL" => send_password_change_email: boolean,
    "SECURITY_SEND_PASSWORD_RESET_NOTICE_EMAIL" => send_password_reset_notice_email: boolean,
    "SECURITY_CONFIRM_EMAIL_WITHIN" => confirm_email_within: within,
    "SECURITY_RESET_PASSWORD_WITHIN" => reset_password_within: within,
    "SECURITY_LOGIN_WITHIN" => login_within: within,
    "SECURITY_LOGIN_WITHOUT_CONFIRMATION" => login_without_confirmation: boolean,
    "SECURITY_CONFIRM_SALT" => confirm_salt: text,
    "SECURITY_RESET_SALT" => reset_salt: text,
    "SECURITY_LOGIN_SALT" => login_salt: text,
    "SECURITY_REMEMBER_SALT" => remember_salt: text,
    "SECURITY_CHANGE_SALT" => change_salt: text,
    "SECURITY_DEFAULT_REMEMBER_ME" => default_remember_me: boolean,
    "SECURITY_TOKEN_MAX_AGE" => token_max_age: opt_duration,
    "LOGIN_DISABLED" => login_disabled: boolean,
    "WTF_CSRF_ENABLED" => csrf_enabled: boolean,
    "WTF_CSRF_TIME_LIMIT" => csrf_time_limit: opt_seconds,
    "REMEMBER_COOKIE_NAME" => remember_cookie_name: text,
    "REMEMBER_COOKIE_DURATION" => remember_cookie_duration: duration,
    "REMEMBER_COOKIE_DOMAIN" => remember_cookie_domain: opt_text,
    "REMEMBER_COOKIE_SECURE" => remember_cookie_secure: opt_boolean,
    "REMEMBER_COOKIE_HTTPONLY" => remember_cookie_httponly: boolean,
    "SESSION_COOKIE_NAME" => session_cookie_name: text,
    "SESSION_COOKIE_DOMAIN" => session_cookie_domain: opt_text,
    "SESSION_COOKIE_SECURE" => session_cookie_secure: boolean,
    "SESSION_COOKIE_HTTPONLY" => session_cookie_httponly: boolean,
    "SESSION_COOKIE_SAMESITE" => session_cookie_samesite: same_site,
    "PERMANENT_SESSION_LIFETIME" => permanent_session_lifetime: duration,
    "SERVER_NAME" => server_name: opt_text,
    "PREFERRED_URL_SCHEME" => preferred_url_scheme: text,
    "SECURITY_JSON_HTTP_STATUS_CODES" => json_http_status_codes: boolean,
    "SECURITY_RETURN_GENERIC_RESPONSES" => return_generic_responses: boolean,
    "SECURITY_TRUSTED_PROXIES" => trusted_proxies: proxy_count,
    "SECURITY_IDENTITY_CACHE_TTL" => identity_cache_ttl: opt_duration,
    "SECURITY_ALLOWED_HOSTS" => allowed_hosts: list,
    "SECURITY_TOKEN_IN_QUERY" => token_in_query: boolean,
    "SECURITY_MAX_BODY_SIZE" => max_body_size: byte_size,
    "SECURITY_FLASK_COMPAT" => flask_compat: boolean,
    "SECURITY_ALLOW_WEAK_SECRET_KEY" => allow_weak_secret_key: boolean,
    "SECURITY_CSRF_PROTECT" => csrf_protect: boolean,
    "SECURITY_RESPONSE_HEADERS" => response_headers: header_map,
    "SECURITY_MAIL_RETRY_DELAY" => mail_retry_delay: duration,
    "SECURITY_MAIL_MAX_ATTEMPTS" => mail_max_attempts: attempts,
    "SECURITY_LOGOUT_METHODS" => logout_methods: methods,
    "SECURITY_AUTO_LOGIN_AFTER_CONFIRM" => auto_login_after_confirm: boolean,
    "SECURITY_PASSWORD_NORMALIZE_FORM" => password_normalize_form: normalize_form,
    "SECURITY_PASSWORD_LENGTH_MIN" => password_length_min: length,
    "SECURITY_PASSWORD_LENGTH_MAX" => password_length_max: length,
    "SECURITY_PASSWORD_COMPLEXITY_CHECKER" => password_complexity_checker: opt_checker,
    "SECURITY_ZXCVBN_MINIMUM_SCORE" => zxcvbn_minimum_score: score,
};

/// Other names of keys: (alias, key). An alias sets the same field as its key.
const ALIASES: &[(&str, &str)] = &[(
    "SECURITY_GENERIC_RESPONSES",
    "SECURITY_RETURN_GENERIC_RESPONSES",
)];

const MSG_PREFIX: &str = "SECURITY_MSG_";

// --- Converters: one per field type ------------------------------------------------------------

fn boolean(raw: Raw<'_>) -> Result<bool, String> {
    match raw {
        Raw::Bool(b) => Ok(b),
        Raw::Int(0) => Ok(false),
        Raw::Int(1) => Ok(true),
        Raw::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(format!("`{s}` is not a boolean; use true or false")),
        },
        other => Err(format!(
            "expected a boolean (true or false), got {}",
            other.kind()
        )),
    }
}

fn text(raw: Raw<'_>) -> Result<String, String> {
    match raw {
        Raw::Text(s) => Ok(s.to_owned()),
        other => Err(format!("expected a string, got {}", other.kind())),
    }
}

fn opt_text(raw: Raw<'_>) -> Result<Option<String>, String> {
    text(raw).map(Some)
}

fn list(raw: Raw<'_>) -> Result<Vec<String>, String> {
    let items: Vec<String> = match raw {
        Raw::Text(s) => s.split(',').map(str::to_owned).collect(),
        Raw::List(items) => items,
        other => Err(format!(
            "expected a comma-separated list or an array of strings, got {}",
            other.kind()
        ))?,
    };
    Ok(items
        .iter()
        .map(|item| item.trim())
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect())
}

/// `SECURITY_*_WITHIN`: `<integer> <unit>` only, as 1.7.4.
fn within(raw: Raw<'_>) -> Result<Within, String> {
    match raw {
        Raw::Text(s) => Within::parse(s),
        other => Err(format!(
            "expected a duration such as \"5 days\", got {}",
            other.kind()
        )),
    }
}

fn non_negative(n: i64) -> Result<u64, String> {
    u64::try_from(n).map_err(|_| format!("`{n}` is negative"))
}

/// Flask's timedelta-or-seconds keys: integer seconds or `<integer> <unit>`.
fn duration(raw: Raw<'_>) -> Result<Within, String> {
    let seconds = |n: u64| {
        if n <= MAX_SECONDS {
            Ok(Within::from_seconds(n))
        } else {
            Err(format!("{n} seconds is longer than 999999999 days"))
        }
    };
    match raw {
        Raw::Int(n) => seconds(non_negative(n)?),
        Raw::Text(s) if !s.trim().is_empty() && s.trim().bytes().all(|b| b.is_ascii_digit()) => {
            seconds(
                s.trim()
                    .parse()
                    .map_err(|_| format!("`{s}` is too large"))?,
            )
        }
        Raw::Text(s) => Within::parse(s),
        other => Err(format!(
            "expected seconds or a duration such as \"5 days\", got {}",
            other.kind()
        )),
    }
}

fn is_none_word(raw: &Raw<'_>) -> bool {
    matches!(raw, Raw::Text(s) if s.trim().eq_ignore_ascii_case("none"))
}

/// An optional [`duration`]: `none` = no limit.
fn opt_duration(raw: Raw<'_>) -> Result<Option<Within>, String> {
    if is_none_word(&raw) {
        return Ok(None);
    }
    duration(raw).map(Some)
}

/// Flask-WTF's time limit: seconds (or a duration); `none` and `0` = no limit.
fn opt_seconds(raw: Raw<'_>) -> Result<Option<u64>, String> {
    Ok(opt_duration(raw)?.map(|w| w.seconds()).filter(|&s| s != 0))
}

/// A non-negative integer (native, or decimal text).
fn unsigned(raw: Raw<'_>) -> Result<u64, String> {
    match raw {
        Raw::Int(n) => non_negative(n),
        Raw::Text(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not a whole number (0 or more)")),
        other => Err(format!("expected an integer, got {}", other.kind())),
    }
}

/// `SECURITY_TRUSTED_PROXIES`.
fn proxy_count(raw: Raw<'_>) -> Result<u8, String> {
    u8::try_from(unsigned(raw)?).map_err(|_| "expected an integer from 0 to 255".to_owned())
}

/// `SECURITY_MAX_BODY_SIZE`.
fn byte_size(raw: Raw<'_>) -> Result<usize, String> {
    usize::try_from(unsigned(raw)?).map_err(|_| "too large for this platform".to_owned())
}

fn same_site(raw: Raw<'_>) -> Result<SameSite, String> {
    match raw {
        Raw::Text(s) => s.parse(),
        other => Err(format!(
            "expected Lax, Strict or None, got {}",
            other.kind()
        )),
    }
}

/// `REMEMBER_COOKIE_SECURE`: a boolean, or unset (follow the session cookie).
fn opt_boolean(raw: Raw<'_>) -> Result<Option<bool>, String> {
    boolean(raw).map(Some)
}

/// `SECURITY_MAIL_MAX_ATTEMPTS`: at least 1.
fn attempts(raw: Raw<'_>) -> Result<u32, String> {
    match u32::try_from(unsigned(raw)?) {
        Ok(0) | Err(_) => Err("expected a whole number from 1 to 4294967295".to_owned()),
        Ok(n) => Ok(n),
    }
}

/// `SECURITY_PASSWORD_LENGTH_*`: a number of characters.
fn length(raw: Raw<'_>) -> Result<usize, String> {
    usize::try_from(unsigned(raw)?).map_err(|_| "too large".to_owned())
}

/// `SECURITY_ZXCVBN_MINIMUM_SCORE`: 0 to 4.
fn score(raw: Raw<'_>) -> Result<u8, String> {
    match unsigned(raw)? {
        n @ 0..=4 => Ok(n as u8),
        n => Err(format!(
            "`{n}` is not a zxcvbn score; scores go from 0 to 4"
        )),
    }
}

/// `SECURITY_PASSWORD_COMPLEXITY_CHECKER`: `zxcvbn`, or `none`.
fn opt_checker(raw: Raw<'_>) -> Result<Option<String>, String> {
    if is_none_word(&raw) {
        return Ok(None);
    }
    match text(raw)?.trim() {
        "zxcvbn" => Ok(Some("zxcvbn".to_owned())),
        other => Err(format!(
            "unknown complexity checker `{other}`; the one known is `zxcvbn`"
        )),
    }
}

/// `SECURITY_PASSWORD_NORMALIZE_FORM`: `NFC`, `NFD`, `NFKC`, `NFKD` or `none`.
fn normalize_form(raw: Raw<'_>) -> Result<Option<NormalizeForm>, String> {
    if is_none_word(&raw) {
        return Ok(None);
    }
    text(raw)?.parse().map(Some)
}

/// `SECURITY_LOGOUT_METHODS`: a list of `GET` and `POST` (any case).
fn methods(raw: Raw<'_>) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for item in list(raw)? {
        let method = item.to_ascii_uppercase();
        if !matches!(method.as_str(), "GET" | "POST") {
            return Err(format!(
                "`{item}` is not a logout method; use GET and/or POST"
            ));
        }
        if !out.contains(&method) {
            out.push(method);
        }
    }
    Ok(out)
}

/// The headers the security views send unless configured otherwise.
fn default_response_headers() -> Vec<(String, String)> {
    [
        ("Cache-Control", "no-store"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", "frame-ancestors 'none'"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// `SECURITY_RESPONSE_HEADERS`: a JSON object merged over the defaults; `""` removes one.
fn header_map(raw: Raw<'_>) -> Result<Vec<(String, String)>, String> {
    let Raw::Text(s) = raw else {
        return Err(format!(
            "expected a JSON object such as {{\"Referrer-Policy\": \"same-origin\"}}, got {}",
            raw.kind()
        ));
    };
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(s)
        .map_err(|e| format!("expected a JSON object of header names to values: {e}"))?;
    let mut headers = default_response_headers();
    for (name, value) in map {
        let serde_json::Value::String(value) = value else {
            return Err(format!("the value of `{name}` must be a string"));
        };
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("`{name}` is not a header name"));
        }
        if http::HeaderValue::from_str(&value).is_err() {
            return Err(format!("the value of `{name}` is not a valid header value"));
        }
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        if !value.is_empty() {
            headers.push((name, value));
        }
    }
    Ok(headers)
}

/// `SECURITY_MSG_<NAME>`: plain text (default category) or `["text", "category"]`.
fn message(key: MessageKey, raw: Raw<'_>) -> Result<(String, String), String> {
    let default_category = || key.default_message().category;
    let pair = |items: Vec<String>| match <[String; 2]>::try_from(items) {
        Ok([text, category]) => Ok((text, category)),
        Err(items) => match <[String; 1]>::try_from(items) {
            Ok([text]) => Ok((text, default_category())),
            Err(_) => Err("expected [\"text\", \"category\"]".to_owned()),
        },
    };
    match raw {
        Raw::Text(s) if s.trim_start().starts_with('[') => {
            let items: Vec<String> = serde_json::from_str(s).map_err(|e| {
                format!(
                    "a message starting with `[` must be a JSON array [\"text\", \"category\"]: {e}"
                )
            })?;
            pair(items)
        }
        Raw::Text(s) => Ok((s.to_owned(), default_category())),
        Raw::List(items) => pair(items),
        other => Err(format!(
            "expected a text or [\"text\", \"category\"], got {}",
            other.kind()
        )),
    }
}

// --- Dispatch ----------------------------------------------------------------------------------

/// What a key name refers to.
enum Target {
    Field(&'static Key),
    Message(MessageKey),
    /// A `SECURITY_*` key that does not exist: reported.
    Unknown,
    /// Some other variable: ignored.
    Other,
}

fn target(name: &str) -> Target {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, key)| key);
    if let Some(key) = KEYS.iter().find(|k| k.name == name) {
        return Target::Field(key);
    }
    if let Some(key) = name
        .strip_prefix(MSG_PREFIX)
        .and_then(MessageKey::from_name)
    {
        return Target::Message(key);
    }
    if name.to_ascii_uppercase().starts_with("SECURITY_") {
        Target::Unknown
    } else {
        Target::Other
    }
}

/// The known key closest to `name` (at most 3 edits, ignoring case), to suggest for a typo.
fn suggest(name: &str) -> Option<String> {
    let name = name.to_ascii_uppercase();
    KEYS.iter()
        .map(|k| k.name.to_owned())
        .chain(
            MessageKey::ALL
                .iter()
                .map(|k| format!("{MSG_PREFIX}{}", k.name())),
        )
        .map(|known| (edit_distance(&name, &known), known))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, known)| known)
}

/// Levenshtein distance (keys are ASCII, so bytes are characters).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Collects a configuration from named values, reporting unknown `SECURITY_*` keys.
struct Loader {
    config: Config,
    unknown: Vec<String>,
}

impl Loader {
    fn new() -> Self {
        Self {
            config: Config::default(),
            unknown: Vec::new(),
        }
    }

    /// Applies one key. `raw` is only asked for when the key is known (TOML values of unknown
    /// keys may be of any type).
    fn apply<'a>(
        &mut self,
        name: &str,
        raw: impl FnOnce() -> Result<Raw<'a>, String>,
    ) -> Result<(), ConfigError> {
        let invalid = |reason| ConfigError::invalid(name, reason);
        match target(name) {
            Target::Field(key) => {
                let raw = raw().map_err(invalid)?;
                if raw.is_empty() {
                    (key.reset)(&mut self.config);
                    Ok(())
                } else {
                    (key.set)(&mut self.config, raw).map_err(invalid)
                }
            }
            Target::Message(key) => {
                let raw = raw().map_err(invalid)?;
                if raw.is_empty() {
                    self.config.messages.reset(key);
                } else {
                    let (text, category) = message(key, raw).map_err(invalid)?;
                    self.config.messages.set(key, text, category);
                }
                Ok(())
            }
            Target::Unknown => {
                match suggest(name) {
                    Some(known) => tracing::warn!(
                        key = name,
                        suggestion = %known,
                        "unknown configuration key `{name}` ignored; did you mean `{known}`?"
                    ),
                    None => {
                        tracing::warn!(key = name, "unknown configuration key `{name}` ignored")
                    }
                }
                self.unknown.push(name.to_owned());
                Ok(())
            }
            Target::Other => Ok(()),
        }
    }

    fn finish(self) -> (Config, Vec<String>) {
        (self.config, self.unknown)
    }
}

/// A TOML value as a [`Raw`] value.
fn from_toml(value: &toml::Value) -> Result<Raw<'_>, String> {
    match value {
        toml::Value::String(s) => Ok(Raw::Text(s)),
        toml::Value::Boolean(b) => Ok(Raw::Bool(*b)),
        toml::Value::Integer(n) => Ok(Raw::Int(*n)),
        toml::Value::Array(items) => items
            .iter()
            .map(|item| match item {
                toml::Value::String(s) => Ok(s.clone()),
                _ => Err("expected an array of strings".to_owned()),
            })
            .collect::<Result<_, _>>()
            .map(Raw::List),
        toml::Value::Float(_) => Err("a float is not accepted; use an integer or a string".into()),
        toml::Value::Datetime(_) => Err("a date is not accepted; use a string".into()),
        toml::Value::Table(_) => Err("a table is not accepted here".into()),
    }
}

impl Config {
    /// Reads a configuration from `(name, value)` pairs spelled as in the environment (see the
    /// [module documentation](self) for keys and value syntax), starting from
    /// [`Config::default()`]. Does not [validate](Config::validate).
    ///
    /// An empty value means the default. Unknown `SECURITY_*` keys are logged (`tracing::warn!`)
    /// with the closest known key; other variables are ignored.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first key whose value is malformed.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Self::from_vars_report(vars).map(|(config, _)| config)
    }

    /// [`Config::from_vars`], also returning the unknown `SECURITY_*` keys that were ignored (in
    /// the order met).
    ///
    /// # Errors
    /// As [`Config::from_vars`].
    pub fn from_vars_report<I, K, V>(vars: I) -> Result<(Config, Vec<String>), ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut loader = Loader::new();
        for (name, value) in vars {
            let value = value.as_ref();
            loader.apply(name.as_ref(), || Ok(Raw::Text(value)))?;
        }
        Ok(loader.finish())
    }

    /// [`Config::from_vars`] over the process environment. Variables whose name or value is not
    /// UTF-8 are ignored, unless the name is a configuration key.
    ///
    /// # Errors
    /// As [`Config::from_vars`]; also a configuration key whose value is not UTF-8.
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut vars = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            match value.into_string() {
                Ok(value) => vars.push((name.to_owned(), value)),
                Err(_) if !matches!(target(name), Target::Other) => {
                    return Err(ConfigError::invalid(name, "the value is not valid UTF-8"));
                }
                Err(_) => {}
            }
        }
        Self::from_vars(vars)
    }

    /// Reads a configuration from TOML text: top-level keys spelled as in the environment
    /// (`SECURITY_LOGIN_URL = "/login"`); TOML booleans, integers and arrays of strings are
    /// accepted natively and strings are read like environment text. Starts from
    /// [`Config::default()`]; does not [validate](Config::validate).
    ///
    /// ```
    /// # use security::config::Config;
    /// let config = Config::from_toml_str(r#"
    ///     SECRET_KEY = "change me to a long random value"
    ///     SECURITY_CONFIRMABLE = true
    ///     SECURITY_USER_IDENTITY_ATTRIBUTES = ["email", "username"]
    ///     SECURITY_LOGIN_WITHIN = "2 hours"
    ///     SECURITY_MSG_INVALID_PASSWORD = ["Wrong password", "danger"]
    /// "#)?;
    /// assert!(config.confirmable);
    /// assert_eq!(config.login_within.seconds(), 7200);
    /// # Ok::<(), security::config::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::Toml`] for a syntax error, [`ConfigError::Invalid`] for a malformed value.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        Self::toml_report(text)
            .map(|(config, _)| config)
            .map_err(|e| match e {
                TomlError::Syntax(reason) => ConfigError::Toml { reason },
                TomlError::Config(e) => e,
            })
    }

    /// [`Config::from_toml_str`] on the contents of the file at `path`.
    ///
    /// # Errors
    /// [`ConfigError::File`] when the file cannot be read or is not valid TOML,
    /// [`ConfigError::Invalid`] for a malformed value.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let file_error = |reason: String| ConfigError::File {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        Self::toml_report(&text)
            .map(|(config, _)| config)
            .map_err(|e| match e {
                TomlError::Syntax(reason) => file_error(format!("not valid TOML: {reason}")),
                TomlError::Config(e) => e,
            })
    }

    fn toml_report(text: &str) -> Result<(Config, Vec<String>), TomlError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| TomlError::Syntax(e.to_string()))?;
        let mut loader = Loader::new();
        for (name, value) in &table {
            loader
                .apply(name, || from_toml(value))
                .map_err(TomlError::Config)?;
        }
        Ok(loader.finish())
    }
}

enum TomlError {
    Syntax(String),
    Config(ConfigError),
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// Every scheme the hashing module recognises.
fn is_known_scheme(scheme: &str) -> bool {
    HASH_SCHEMES.contains(&scheme) || VERIFY_ONLY_SCHEMES.contains(&scheme)
}

/// 1.7.4's way of listing allowed values: `a, b and c`.
fn english_list(items: &[&str]) -> String {
    match items {
        [] => "none".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// An HTTP token (header and cookie names).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A `host` or `host:port` (no scheme, path, userinfo or blanks).
fn is_host(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(':')
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
}

impl Config {
    /// Checks the rules 1.7.4 checks at start-up, and the port's own.
    ///
    /// - `SECRET_KEY` is set.
    /// - `SECURITY_PASSWORD_HASH` is in `SECURITY_PASSWORD_SCHEMES` and may hash new passwords
    ///   (1.7.4's ValueError: "Invalid hash scheme 'x'. Allowed values are …"); every scheme is
    ///   known, `plaintext` comes last, and the deprecated schemes are `auto` or known schemes.
    /// - URLs start with a single `/`; redirect targets hold no control characters; header and
    ///   cookie names are HTTP tokens; the two cookies have different names; the token salts
    ///   differ from each other; the routes of the enabled features do not collide;
    ///   `SameSite=None` comes with `SESSION_COOKIE_SECURE`; hosts are `host[:port]`; the
    ///   identity attributes are names; `SECURITY_MAX_BODY_SIZE` is not 0.
    ///
    /// Insecure but allowed settings are logged with `tracing::warn!` (plaintext hashing, a
    /// missing `SECURITY_PASSWORD_SALT`, a short `SECRET_KEY`, `LOGIN_DISABLED`).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first key that breaks a rule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |key: &str, reason: String| Err(ConfigError::invalid(key, reason));

        if self.secret_key.is_empty() {
            return fail(
                "SECRET_KEY",
                "not set; it signs sessions and tokens: set a long random value".into(),
            );
        }

        // Password schemes.
        if self.password_schemes.is_empty() {
            return fail("SECURITY_PASSWORD_SCHEMES", "the list is empty".into());
        }
        for (i, scheme) in self.password_schemes.iter().enumerate() {
            if !is_known_scheme(scheme) {
                return fail(
                    "SECURITY_PASSWORD_SCHEMES",
                    format!(
                        "unknown scheme `{scheme}`; known schemes are {}",
                        english_list(&[HASH_SCHEMES, VERIFY_ONLY_SCHEMES].concat())
                    ),
                );
            }
            if self.password_schemes[..i].contains(scheme) {
                return fail(
                    "SECURITY_PASSWORD_SCHEMES",
                    format!("`{scheme}` is listed twice"),
                );
            }
        }
        if let Some(i) = self.password_schemes.iter().position(|s| s == "plaintext")
            && i + 1 != self.password_schemes.len()
        {
            return fail(
                "SECURITY_PASSWORD_SCHEMES",
                "`plaintext` must be the last scheme (it matches any stored value)".into(),
            );
        }
        let allowed: Vec<&str> = self
            .password_schemes
            .iter()
            .map(String::as_str)
            .filter(|s| HASH_SCHEMES.contains(s))
            .collect();
        if VERIFY_ONLY_SCHEMES.contains(&self.password_hash.as_str()) {
            return fail(
                "SECURITY_PASSWORD_HASH",
                format!(
                    "`{}` is only supported to verify existing passwords. Allowed values are {}",
                    self.password_hash,
                    english_list(&allowed)
                ),
            );
        }
        if !allowed.contains(&self.password_hash.as_str()) {
            return fail(
                "SECURITY_PASSWORD_HASH",
                format!(
                    "Invalid hash scheme '{}'. Allowed values are {}",
                    self.password_hash,
                    english_list(&allowed)
                ),
            );
        }
        for scheme in &self.deprecated_password_schemes {
            if scheme != "auto" && !is_known_scheme(scheme) {
                return fail(
                    "SECURITY_DEPRECATED_PASSWORD_SCHEMES",
                    format!("unknown scheme `{scheme}`; use `auto` or scheme names"),
                );
            }
        }

        // URLs and redirect targets.
        if let Some(prefix) = &self.url_prefix
            && (!prefix.starts_with('/') || !is_path(prefix))
        {
            return fail(
                "SECURITY_URL_PREFIX",
                format!("`{prefix}` must be a path starting with `/`, e.g. `/auth`"),
            );
        }
        for (key, url, enabled) in self.routes() {
            if !url.starts_with('/') || url.starts_with("//") || !is_path(url) {
                return fail(
                    key,
                    format!("`{url}` must be a path starting with a single `/`, e.g. `/login`"),
                );
            }
            let clash = self
                .routes()
                .into_iter()
                .take_while(|(other, _, _)| *other != key)
                .find(|(_, other_url, other_enabled)| {
                    enabled
                        && *other_enabled
                        && other_url.trim_end_matches('/') == url.trim_end_matches('/')
                });
            if let Some((other, _, _)) = clash {
                return fail(key, format!("`{url}` is also the URL of `{other}`"));
            }
        }
        let views = [
            ("SECURITY_POST_LOGIN_VIEW", Some(&self.post_login_view)),
            ("SECURITY_POST_LOGOUT_VIEW", Some(&self.post_logout_view)),
            (
                "SECURITY_CONFIRM_ERROR_VIEW",
                self.confirm_error_view.as_ref(),
            ),
            (
                "SECURITY_POST_REGISTER_VIEW",
                self.post_register_view.as_ref(),
            ),
            (
                "SECURITY_POST_CONFIRM_VIEW",
                self.post_confirm_view.as_ref(),
            ),
            ("SECURITY_POST_RESET_VIEW", self.post_reset_view.as_ref()),
            ("SECURITY_POST_CHANGE_VIEW", self.post_change_view.as_ref()),
            (
                "SECURITY_UNAUTHORIZED_VIEW",
                self.unauthorized_view.as_ref(),
            ),
        ];
        for (key, view) in views {
            if let Some(view) = view
                && (view.is_empty() || view.chars().any(|c| c.is_control() || c == ' '))
            {
                return fail(
                    key,
                    format!("`{}` is not a path or URL", view.escape_debug()),
                );
            }
        }

        // Names that go into headers, cookies and mail.
        if !is_token(&self.token_authentication_header) {
            return fail(
                "SECURITY_TOKEN_AUTHENTICATION_HEADER",
                format!(
                    "`{}` is not an HTTP header name",
                    self.token_authentication_header
                ),
            );
        }
        if self.token_authentication_key.is_empty() {
            return fail(
                "SECURITY_TOKEN_AUTHENTICATION_KEY",
                "must not be empty".into(),
            );
        }
        for (key, name) in [
            ("REMEMBER_COOKIE_NAME", &self.remember_cookie_name),
            ("SESSION_COOKIE_NAME", &self.session_cookie_name),
        ] {
            if !is_token(name) {
                return fail(key, format!("`{name}` is not a cookie name"));
            }
        }
        if self.remember_cookie_name == self.session_cookie_name {
            return fail(
                "REMEMBER_COOKIE_NAME",
                "must differ from SESSION_COOKIE_NAME".into(),
            );
        }
        for (key, domain) in [
            ("REMEMBER_COOKIE_DOMAIN", &self.remember_cookie_domain),
            ("SESSION_COOKIE_DOMAIN", &self.session_cookie_domain),
        ] {
            if let Some(domain) = domain
                && !is_host(domain.trim_start_matches('.'))
            {
                return fail(key, format!("`{domain}` is not a domain"));
            }
        }
        if self.session_cookie_samesite == SameSite::None && !self.session_cookie_secure {
            return fail(
                "SESSION_COOKIE_SAMESITE",
                "`None` requires SESSION_COOKIE_SECURE=true (browsers drop such cookies otherwise)"
                    .into(),
            );
        }
        if self.email_sender.trim().is_empty() || self.email_sender.contains(['\r', '\n']) {
            return fail(
                "SECURITY_EMAIL_SENDER",
                "must be one address on one line".into(),
            );
        }
        if self.default_http_auth_realm.contains(['"', '\r', '\n']) {
            return fail(
                "SECURITY_DEFAULT_HTTP_AUTH_REALM",
                "must not contain `\"` or line breaks".into(),
            );
        }
        if self.blueprint_name.is_empty() {
            return fail("SECURITY_BLUEPRINT_NAME", "must not be empty".into());
        }

        // Token salts: one kind of token must never pass for another.
        let salts = [
            ("SECURITY_CONFIRM_SALT", &self.confirm_salt),
            ("SECURITY_RESET_SALT", &self.reset_salt),
            ("SECURITY_LOGIN_SALT", &self.login_salt),
            ("SECURITY_REMEMBER_SALT", &self.remember_salt),
        ];
        for (i, (key, salt)) in salts.iter().enumerate() {
            if salt.is_empty() {
                return fail(key, "must not be empty".into());
            }
            if let Some((other, _)) = salts[..i].iter().find(|(_, s)| s == salt) {
                return fail(key, format!("must differ from {other}"));
            }
        }

        // Identity attributes, hosts, sizes.
        if self.user_identity_attributes.is_empty() {
            return fail(
                "SECURITY_USER_IDENTITY_ATTRIBUTES",
                "the list is empty; e.g. `email`".into(),
            );
        }
        if let Some(bad) = self.user_identity_attributes.iter().find(|a| {
            a.starts_with(|c: char| c.is_ascii_digit())
                || !a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }) {
            return fail(
                "SECURITY_USER_IDENTITY_ATTRIBUTES",
                format!("`{bad}` is not an attribute name"),
            );
        }
        if let Some(bad) = self.allowed_hosts.iter().find(|h| !is_host(h)) {
            return fail(
                "SECURITY_ALLOWED_HOSTS",
                format!("`{bad}` is not a host; write `example.com` or `example.com:8443`"),
            );
        }
        if let Some(server_name) = &self.server_name
            && !is_host(server_name)
        {
            return fail(
                "SERVER_NAME",
                format!("`{server_name}` is not a host; write `example.com` or `example.com:8443`"),
            );
        }
        if self.max_body_size == 0 {
            return fail("SECURITY_MAX_BODY_SIZE", "must be at least 1".into());
        }

        if self.secret_key.len() < 16 && !self.allow_weak_secret_key {
            return fail(
                "SECRET_KEY",
                format!(
                    "is {} bytes long; it signs every session, token and link, so use at least 16 \
                     random bytes (e.g. `openssl rand -hex 32`); to keep an existing short key \
                     during a migration, set SECURITY_ALLOW_WEAK_SECRET_KEY=true",
                    self.secret_key.len()
                ),
            );
        }
        if self.sends_links() && self.server_name.is_none() && self.allowed_hosts.is_empty() {
            return fail(
                "SERVER_NAME",
                "the enabled features mail links, which must name this site: set SERVER_NAME \
                 (e.g. `example.com`) or SECURITY_ALLOWED_HOSTS (e.g. \
                 `example.com,www.example.com`); a link is never built from a `Host` header \
                 that is not one of them"
                    .into(),
            );
        }
        if self.password_length_min == 0 {
            return fail("SECURITY_PASSWORD_LENGTH_MIN", "must be at least 1".into());
        }
        if self.password_length_max < self.password_length_min {
            return fail(
                "SECURITY_PASSWORD_LENGTH_MAX",
                format!(
                    "{} is less than SECURITY_PASSWORD_LENGTH_MIN ({})",
                    self.password_length_max, self.password_length_min
                ),
            );
        }
        if self.password_complexity_checker.as_deref() == Some("zxcvbn")
            && !cfg!(feature = "zxcvbn")
        {
            return fail(
                "SECURITY_PASSWORD_COMPLEXITY_CHECKER",
                "`zxcvbn` needs the cargo feature `zxcvbn` of `security`".into(),
            );
        }

        self.warn_insecure();
        Ok(())
    }

    /// Whether an enabled feature mails links (confirmation, reset, passwordless login).
    pub fn sends_links(&self) -> bool {
        self.confirmable || self.recoverable || self.passwordless
    }

    /// Whether the remember cookie is `Secure`: `REMEMBER_COOKIE_SECURE` when set, else
    /// `SESSION_COOKIE_SECURE`.
    pub fn remember_cookie_is_secure(&self) -> bool {
        self.remember_cookie_secure
            .unwrap_or(self.session_cookie_secure)
    }

    /// The security URLs: (key, url, whether its feature is on).
    fn routes(&self) -> [(&'static str, &str, bool); 6] {
        [
            ("SECURITY_LOGIN_URL", &self.login_url, true),
            ("SECURITY_LOGOUT_URL", &self.logout_url, true),
            (
                "SECURITY_REGISTER_URL",
                &self.register_url,
                self.registerable,
            ),
            ("SECURITY_RESET_URL", &self.reset_url, self.recoverable),
            ("SECURITY_CHANGE_URL", &self.change_url, self.changeable),
            ("SECURITY_CONFIRM_URL", &self.confirm_url, self.confirmable),
        ]
    }

    fn warn_insecure(&self) {
        if self.password_hash == "plaintext" {
            tracing::warn!(
                "SECURITY_PASSWORD_HASH=plaintext stores passwords in clear; use argon2 or bcrypt"
            );
        } else if self.password_hash != "argon2"
            && self.password_salt.as_deref().is_none_or(str::is_empty)
        {
            tracing::warn!(
                "SECURITY_PASSWORD_SALT is not set: hashing and verifying passwords with `{}` \
                 will fail until it is",
                self.password_hash
            );
        }
        if self.secret_key.len() < 16 {
            tracing::warn!(
                "SECRET_KEY is shorter than 16 bytes (allowed by SECURITY_ALLOW_WEAK_SECRET_KEY); \
                 rotate it to a long random value"
            );
        }
        if self.login_disabled {
            tracing::warn!("LOGIN_DISABLED=true: `login_required` lets everyone through");
        }
    }
}

/// Path characters: no blanks, controls, `\`, `?` or `#`.
fn is_path(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '\\' | '?' | '#'))
}

// ---------------------------------------------------------------------------------------------
// URL helpers
// ---------------------------------------------------------------------------------------------

impl Config {
    /// `url` with `url_prefix` in front (a trailing `/` of the prefix is ignored).
    fn prefixed(&self, url: &str) -> String {
        let prefix = self.url_prefix.as_deref().unwrap_or("");
        format!("{}{url}", prefix.trim_end_matches('/'))
    }

    /// The full path of the login view: `url_prefix` + `login_url` (`/login` by default).
    pub fn login_path(&self) -> String {
        self.prefixed(&self.login_url)
    }

    /// The full path of the logout view: `url_prefix` + `logout_url`.
    pub fn logout_path(&self) -> String {
        self.prefixed(&self.logout_url)
    }

    /// The full path of the registration view: `url_prefix` + `register_url`.
    pub fn register_path(&self) -> String {
        self.prefixed(&self.register_url)
    }

    /// The full path of the forgot-password view: `url_prefix` + `reset_url` (the reset form is
    /// this path + `/<token>`).
    pub fn reset_path(&self) -> String {
        self.prefixed(&self.reset_url)
    }

    /// The full path of the change-password view: `url_prefix` + `change_url`.
    pub fn change_path(&self) -> String {
        self.prefixed(&self.change_url)
    }

    /// The full path of the resend-confirmation view: `url_prefix` + `confirm_url` (the
    /// confirmation link is this path + `/<token>`).
    pub fn confirm_path(&self) -> String {
        self.prefixed(&self.confirm_url)
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(pairs.iter().copied())
    }

    fn valid() -> Config {
        Config {
            secret_key: "a secret key that is long enough".into(),
            ..Config::default()
        }
    }

    fn invalid_key(result: Result<impl fmt::Debug, ConfigError>) -> (String, String) {
        match result {
            Err(ConfigError::Invalid { key, reason }) => (key, reason),
            other => panic!("expected ConfigError::Invalid, got {other:?}"),
        }
    }

    // --- the key table ---

    #[test]
    fn key_table_names_match_fields_and_are_unique() {
        for (i, key) in KEYS.iter().enumerate() {
            if let Some(rest) = key.name.strip_prefix("SECURITY_") {
                assert_eq!(rest.to_ascii_lowercase(), key.field, "{}", key.name);
            }
            assert!(
                KEYS[..i]
                    .iter()
                    .all(|k| k.name != key.name && k.field != key.field),
                "{} twice",
                key.name
            );
        }
        // Every field but `messages` has exactly one key.
        assert_eq!(KEYS.len(), 97);
    }

    #[test]
    fn every_key_sets_its_field_and_an_empty_value_resets_it() {
        for key in KEYS {
            let changed = [
                "true",
                "false",
                "/x",
                "7 seconds",
                "Strict",
                "7",
                "2",
                "zxcvbn",
                "NFC",
                "POST",
                r#"{"X-A": "b"}"#,
            ]
            .into_iter()
            .find_map(|value| {
                let mut c = Config::default();
                (key.set)(&mut c, Raw::Text(value)).ok()?;
                (c != Config::default()).then_some(c)
            });
            let Some(mut c) = changed else {
                panic!("no sample value changes `{}`", key.name)
            };
            (key.reset)(&mut c);
            assert_eq!(c, Config::default(), "{}", key.name);
        }
    }

    #[test]
    fn non_prefixed_keys_map_to_their_fields() {
        let expected = [
            ("SECRET_KEY", "secret_key"),
            ("LOGIN_DISABLED", "login_disabled"),
            ("WTF_CSRF_ENABLED", "csrf_enabled"),
            ("WTF_CSRF_TIME_LIMIT", "csrf_time_limit"),
            ("REMEMBER_COOKIE_NAME", "remember_cookie_name"),
            ("REMEMBER_COOKIE_DURATION", "remember_cookie_duration"),
            ("REMEMBER_COOKIE_DOMAIN", "remember_cookie_domain"),
            ("REMEMBER_COOKIE_SECURE", "remember_cookie_secure"),
            ("REMEMBER_COOKIE_HTTPONLY", "remember_cookie_httponly"),
            ("SESSION_COOKIE_NAME", "session_cookie_name"),
            ("SESSION_COOKIE_DOMAIN", "session_cookie_domain"),
            ("SESSION_COOKIE_SECURE", "session_cookie_secure"),
            ("SESSION_COOKIE_HTTPONLY", "session_cookie_httponly"),
            ("SESSION_COOKIE_SAMESITE", "session_cookie_samesite"),
            ("PERMANENT_SESSION_LIFETIME", "permanent_session_lifetime"),
            ("SERVER_NAME", "server_name"),
            ("PREFERRED_URL_SCHEME", "preferred_url_scheme"),
        ];
        let non_prefixed: Vec<_> = KEYS
            .iter()
            .filter(|k| !k.name.starts_with("SECURITY_"))
            .map(|k| (k.name, k.field))
            .collect();
        assert_eq!(non_prefixed, expected);
    }

    // --- defaults (spec §2) ---

    #[test]
    fn core_defaults() {
        let c = Config::default();
        assert_eq!(c.secret_key, "");
        assert_eq!(c.blueprint_name, "security");
        assert_eq!(c.url_prefix, None);
        assert_eq!(c.subdomain, None);
        assert!(c.flash_messages);
        assert_eq!(c.password_hash, "argon2");
        assert_eq!(c.password_salt, None);
        assert_eq!(
            c.password_schemes,
            [
                "argon2",
                "bcrypt",
                "des_crypt",
                "pbkdf2_sha256",
                "pbkdf2_sha512",
                "sha256_crypt",
                "sha512_crypt",
                "plaintext"
            ]
        );
        assert_eq!(c.deprecated_password_schemes, ["auto"]);
        assert_eq!(c.email_sender, "no-reply@localhost");
        assert_eq!(c.token_authentication_key, "auth_token");
        assert_eq!(c.token_authentication_header, "Authentication-Token");
        assert_eq!(c.default_http_auth_realm, "Login Required");
        assert_eq!(c.user_identity_attributes, ["email"]);
    }

    #[test]
    fn url_and_view_defaults() {
        let c = Config::default();
        assert_eq!(
            [
                &c.login_url,
                &c.logout_url,
                &c.register_url,
                &c.reset_url,
                &c.change_url,
                &c.confirm_url
            ],
            [
                "/login",
                "/logout",
                "/register",
                "/reset",
                "/change",
                "/confirm"
            ]
        );
        assert_eq!(c.post_login_view, "/");
        assert_eq!(c.post_logout_view, "/");
        assert_eq!(
            [
                &c.confirm_error_view,
                &c.post_register_view,
                &c.post_confirm_view,
                &c.post_reset_view,
                &c.post_change_view,
                &c.unauthorized_view
            ],
            [&None::<String>; 6]
        );
    }

    #[test]
    fn template_defaults() {
        let c = Config::default();
        assert_eq!(c.forgot_password_template, "security/forgot_password.html");
        assert_eq!(c.login_user_template, "security/login_user.html");
        assert_eq!(c.register_user_template, "security/register_user.html");
        assert_eq!(c.reset_password_template, "security/reset_password.html");
        assert_eq!(c.change_password_template, "security/change_password.html");
        assert_eq!(
            c.send_confirmation_template,
            "security/send_confirmation.html"
        );
        assert_eq!(c.send_login_template, "security/send_login.html");
    }

    #[test]
    fn feature_flags_default_off() {
        let c = Config::default();
        assert!(
            !(c.confirmable
                || c.registerable
                || c.recoverable
                || c.trackable
                || c.passwordless
                || c.changeable)
        );
    }

    #[test]
    fn email_defaults() {
        let c = Config::default();
        assert_eq!(c.email_subject_register, "Welcome");
        assert_eq!(c.email_subject_confirm, "Please confirm your email");
        assert_eq!(c.email_subject_passwordless, "Login instructions");
        assert_eq!(
            c.email_subject_password_notice,
            "Your password has been reset"
        );
        assert_eq!(
            c.email_subject_password_change_notice,
            "Your password has been changed"
        );
        assert_eq!(
            c.email_subject_password_reset,
            "Password reset instructions"
        );
        assert!(c.send_register_email);
        assert!(c.send_password_change_email);
        assert!(c.send_password_reset_notice_email);
    }

    #[test]
    fn token_and_lifetime_defaults() {
        let c = Config::default();
        assert_eq!(c.confirm_email_within, Within::parse("5 days").unwrap());
        assert_eq!(c.reset_password_within, Within::parse("5 days").unwrap());
        assert_eq!(c.login_within, Within::parse("1 days").unwrap());
        assert!(!c.login_without_confirmation);
        assert_eq!(c.confirm_salt, "confirm-salt");
        assert_eq!(c.reset_salt, "reset-salt");
        assert_eq!(c.login_salt, "login-salt");
        assert_eq!(c.remember_salt, "remember-salt");
        assert_eq!(c.change_salt, "change-salt");
        assert!(!c.default_remember_me);
        assert_eq!(c.token_max_age, None);
        assert_eq!(c.messages, Messages::default());
    }

    #[test]
    fn non_security_and_port_defaults() {
        let c = Config::default();
        assert!(!c.login_disabled);
        assert!(c.csrf_enabled);
        assert_eq!(c.csrf_time_limit, Some(3600));
        assert_eq!(c.remember_cookie_name, "remember_token");
        assert_eq!(
            c.remember_cookie_duration,
            Within::parse("365 days").unwrap()
        );
        assert_eq!(c.remember_cookie_domain, None);
        assert_eq!(c.remember_cookie_secure, None);
        assert!(!c.remember_cookie_is_secure());
        assert!(c.remember_cookie_httponly);
        assert_eq!(c.session_cookie_name, "session");
        assert_eq!(c.session_cookie_domain, None);
        assert!(!c.session_cookie_secure);
        assert!(c.session_cookie_httponly);
        assert_eq!(c.session_cookie_samesite, SameSite::Lax);
        assert_eq!(
            c.permanent_session_lifetime,
            Within::parse("31 days").unwrap()
        );
        assert_eq!(c.server_name, None);
        assert!(!c.json_http_status_codes);
        assert!(!c.return_generic_responses);
        assert_eq!(c.trusted_proxies, 0);
        assert_eq!(c.identity_cache_ttl, None);
        assert!(c.allowed_hosts.is_empty());
        assert!(c.token_in_query);
        assert_eq!(c.max_body_size, 2_097_152);
    }

    // --- Within ---

    #[test]
    fn within_parses_1_7_4_durations() {
        let w = Within::parse("5 days").unwrap();
        assert_eq!((w.seconds(), w.text()), (432_000, "5 days"));
        assert_eq!(Within::parse("10 minutes").unwrap().seconds(), 600);
        assert_eq!(Within::parse("2 hours").unwrap().seconds(), 7200);
        assert_eq!(Within::parse("1 weeks").unwrap().seconds(), 604_800);
        assert_eq!(Within::parse("1 seconds").unwrap().seconds(), 1);
        assert_eq!(Within::parse("2500 milliseconds").unwrap().seconds(), 2);
        assert_eq!(Within::parse("3000000 microseconds").unwrap().seconds(), 3);
        let ms = Within::parse("1 milliseconds").unwrap();
        assert_eq!((ms.seconds(), ms.text()), (0, "1 milliseconds"));
        // Python's split(): any whitespace; the text is kept verbatim.
        let spaced = Within::parse(" 3  hours ").unwrap();
        assert_eq!((spaced.seconds(), spaced.text()), (10_800, " 3  hours "));
        assert_eq!(spaced.to_string(), " 3  hours ");
    }

    #[test]
    fn within_accepts_singular_units() {
        assert_eq!(Within::parse("1 day").unwrap().seconds(), 86_400);
        assert_eq!(Within::parse("1 Hour").unwrap().seconds(), 3600);
        assert_eq!(Within::parse("1 day").unwrap().text(), "1 day");
    }

    #[test]
    fn within_refuses_malformed_text() {
        for bad in [
            "bogus",
            "5 fortnights",
            "",
            "5",
            "days",
            "5 days ago",
            "-5 days",
            "1.5 days",
            "five days",
            "999999999999 weeks",
        ] {
            assert!(Within::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            Within::parse("5 fortnights")
                .unwrap_err()
                .contains("fortnights")
        );
        assert!(Within::parse("999999999 days").is_ok());
        assert!(Within::parse("1000000000 days").is_err());
    }

    #[test]
    fn within_from_seconds() {
        let w = Within::from_seconds(90);
        assert_eq!((w.seconds(), w.text()), (90, "90 seconds"));
        assert_eq!(Within::parse("90 seconds").unwrap(), w);
    }

    // --- from_vars ---

    #[test]
    fn from_vars_with_nothing_is_the_default() {
        let empty: [(&str, &str); 0] = [];
        assert_eq!(Config::from_vars(empty).unwrap(), Config::default());
    }

    #[test]
    fn from_vars_reads_every_type() {
        let c = vars(&[
            ("SECRET_KEY", "s3cr3t-0123456789abcdef"),
            ("SECURITY_CONFIRMABLE", "true"),
            ("SECURITY_REGISTERABLE", "YES"),
            ("SECURITY_FLASH_MESSAGES", "0"),
            ("SECURITY_LOGIN_URL", "/signin"),
            ("SECURITY_URL_PREFIX", "/auth"),
            ("SECURITY_POST_REGISTER_VIEW", "/post_register"),
            ("SECURITY_USER_IDENTITY_ATTRIBUTES", " email , username,, "),
            ("SECURITY_CONFIRM_EMAIL_WITHIN", "1 seconds"),
            ("SECURITY_TOKEN_MAX_AGE", "3600"),
            ("SECURITY_IDENTITY_CACHE_TTL", "5 seconds"),
            ("SECURITY_TRUSTED_PROXIES", "1"),
            ("SECURITY_MAX_BODY_SIZE", "1024"),
            ("SESSION_COOKIE_SAMESITE", "strict"),
            ("PERMANENT_SESSION_LIFETIME", "7200"),
            ("REMEMBER_COOKIE_DURATION", "30 days"),
            ("WTF_CSRF_TIME_LIMIT", "none"),
            ("WTF_CSRF_ENABLED", "false"),
            ("SERVER_NAME", "example.com"),
            (
                "SECURITY_ALLOWED_HOSTS",
                "example.com, api.example.com:8443",
            ),
        ])
        .unwrap();
        assert_eq!(c.secret_key, "s3cr3t-0123456789abcdef");
        assert!(c.confirmable && c.registerable && !c.flash_messages);
        assert_eq!(c.login_url, "/signin");
        assert_eq!(c.login_path(), "/auth/signin");
        assert_eq!(c.post_register_view.as_deref(), Some("/post_register"));
        assert_eq!(c.user_identity_attributes, ["email", "username"]);
        assert_eq!(c.confirm_email_within.seconds(), 1);
        assert_eq!(c.confirm_email_within.text(), "1 seconds");
        assert_eq!(c.token_max_age, Some(Within::from_seconds(3600)));
        assert_eq!(c.identity_cache_ttl.as_ref().map(Within::seconds), Some(5));
        assert_eq!(c.trusted_proxies, 1);
        assert_eq!(c.max_body_size, 1024);
        assert_eq!(c.session_cookie_samesite, SameSite::Strict);
        assert_eq!(c.permanent_session_lifetime.seconds(), 7200);
        assert_eq!(c.remember_cookie_duration.seconds(), 30 * 86_400);
        assert_eq!(c.csrf_time_limit, None);
        assert!(!c.csrf_enabled);
        assert_eq!(c.server_name.as_deref(), Some("example.com"));
        assert_eq!(c.allowed_hosts, ["example.com", "api.example.com:8443"]);
        c.validate().unwrap();
    }

    #[test]
    fn booleans_accept_the_usual_spellings() {
        for (text, expected) in [
            ("true", true),
            ("TRUE", true),
            ("True", true),
            ("1", true),
            ("yes", true),
            (" Yes ", true),
            ("false", false),
            ("False", false),
            ("0", false),
            ("no", false),
            ("NO", false),
        ] {
            let c = vars(&[("SECURITY_TRACKABLE", text)]).unwrap();
            assert_eq!(c.trackable, expected, "{text:?}");
        }
    }

    #[test]
    fn csrf_time_limit_spellings() {
        let limit = |v: &str| vars(&[("WTF_CSRF_TIME_LIMIT", v)]).unwrap().csrf_time_limit;
        assert_eq!(limit("60"), Some(60));
        assert_eq!(limit("None"), None);
        assert_eq!(limit("0"), None);
        assert_eq!(limit("2 hours"), Some(7200));
        assert_eq!(limit(""), Some(3600));
        assert_eq!(
            invalid_key(vars(&[("WTF_CSRF_TIME_LIMIT", "soon")])).0,
            "WTF_CSRF_TIME_LIMIT"
        );
    }

    #[test]
    fn empty_value_means_the_default() {
        let c = vars(&[
            ("SECURITY_LOGIN_URL", ""),
            ("SECURITY_CONFIRMABLE", ""),
            ("SECURITY_CONFIRM_EMAIL_WITHIN", "  "),
            ("SECURITY_USER_IDENTITY_ATTRIBUTES", ""),
            ("SECURITY_URL_PREFIX", ""),
            ("SECURITY_MSG_LOGIN", ""),
            ("SECURITY_TRUSTED_PROXIES", ""),
            ("SESSION_COOKIE_SAMESITE", ""),
            ("SECRET_KEY", ""),
        ])
        .unwrap();
        assert_eq!(c, Config::default());
        // An empty value after a set one puts the default back.
        let c = vars(&[("SECURITY_LOGIN_URL", "/in"), ("SECURITY_LOGIN_URL", "")]).unwrap();
        assert_eq!(c.login_url, "/login");
    }

    #[test]
    fn malformed_values_name_their_key() {
        for (key, value) in [
            ("SECURITY_CONFIRMABLE", "maybe"),
            ("LOGIN_DISABLED", "2"),
            ("SECURITY_RESET_PASSWORD_WITHIN", "bogus"),
            ("SECURITY_LOGIN_WITHIN", "5 fortnights"),
            ("SECURITY_LOGIN_WITHIN", "86400"),
            ("SECURITY_TRUSTED_PROXIES", "256"),
            ("SECURITY_TRUSTED_PROXIES", "-1"),
            ("SECURITY_MAX_BODY_SIZE", "2MB"),
            ("SESSION_COOKIE_SAMESITE", "sometimes"),
            ("PERMANENT_SESSION_LIFETIME", "forever"),
            ("SECURITY_TOKEN_MAX_AGE", "1 eon"),
            ("SECURITY_MSG_LOGIN", "[\"unterminated"),
        ] {
            let (k, reason) = invalid_key(vars(&[("SECURITY_LOGIN_URL", "/in"), (key, value)]));
            assert_eq!(k, key, "{key}={value}");
            assert!(!reason.is_empty());
        }
        let err = vars(&[("SECURITY_CONFIRMABLE", "maybe")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for `SECURITY_CONFIRMABLE`: `maybe` is not a boolean; use true or false"
        );
        let (_, reason) = invalid_key(vars(&[("SECURITY_TRUSTED_PROXIES", "300")]));
        assert_eq!(reason, "expected an integer from 0 to 255");
    }

    #[test]
    fn unknown_security_keys_are_reported_with_a_suggestion() {
        let (c, unknown) = Config::from_vars_report([
            ("SECURITY_CONFIRMABEL", "true"),
            ("SECURITY_LOGIN_URL", "/in"),
            ("SECURITY_FROBNICATE", "1"),
            ("security_registerable", "true"),
            ("SECURITY_MSG_NOT_A_MESSAGE", "x"),
            ("PATH", "/usr/bin"),
            ("HOME", "/root"),
            ("MAIL_SERVER", "localhost"),
        ])
        .unwrap();
        assert_eq!(
            unknown,
            [
                "SECURITY_CONFIRMABEL",
                "SECURITY_FROBNICATE",
                "security_registerable",
                "SECURITY_MSG_NOT_A_MESSAGE"
            ]
        );
        assert!(!c.confirmable && !c.registerable);
        assert_eq!(c.login_url, "/in");
        assert_eq!(
            suggest("SECURITY_CONFIRMABEL").as_deref(),
            Some("SECURITY_CONFIRMABLE")
        );
        assert_eq!(
            suggest("security_registerable").as_deref(),
            Some("SECURITY_REGISTERABLE")
        );
        assert_eq!(
            suggest("SECURITY_MSG_INVALID_PASWORD").as_deref(),
            Some("SECURITY_MSG_INVALID_PASSWORD")
        );
        assert_eq!(
            suggest("SECURITY_POST_LOGIN_VEIW").as_deref(),
            Some("SECURITY_POST_LOGIN_VIEW")
        );
        assert_eq!(suggest("SECURITY_FROBNICATE"), None);
    }

    #[test]
    fn edit_distance_is_levenshtein() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("CONFIRMABEL", "CONFIRMABLE"), 2);
    }

    #[test]
    fn message_overrides() {
        let c = vars(&[
            ("SECURITY_MSG_INVALID_PASSWORD", "Wrong password"),
            ("SECURITY_MSG_LOGIN", r#"["Sign in first", "warning"]"#),
            ("SECURITY_MSG_UNAUTHORIZED", r#"["[403] Forbidden"]"#),
            ("SECURITY_MSG_INVALID_CREDENTIALS", "Nope, %(email)s"),
        ])
        .unwrap();
        let m = &c.messages;
        assert_eq!(m.get(MessageKey::InvalidPassword).text, "Wrong password");
        assert_eq!(m.get(MessageKey::InvalidPassword).category, "error");
        assert_eq!(m.get(MessageKey::Login).text, "Sign in first");
        assert_eq!(m.get(MessageKey::Login).category, "warning");
        assert_eq!(m.get(MessageKey::Unauthorized).text, "[403] Forbidden");
        assert_eq!(m.get(MessageKey::Unauthorized).category, "error");
        assert_eq!(
            m.format(MessageKey::InvalidCredentials, &[("email", "a@b.c")]),
            "Nope, a@b.c"
        );
        assert_eq!(
            m.get(MessageKey::Refresh),
            Messages::default().get(MessageKey::Refresh)
        );
        let (key, _) = invalid_key(vars(&[("SECURITY_MSG_LOGIN", r#"["a", "b", "c"]"#)]));
        assert_eq!(key, "SECURITY_MSG_LOGIN");
    }

    // --- TOML ---

    #[test]
    fn toml_reads_native_values_and_strings() {
        let c = Config::from_toml_str(
            r#"
            SECRET_KEY = "from a file, long enough"
            SERVER_NAME = "example.com"
            SECURITY_CONFIRMABLE = true
            SECURITY_RECOVERABLE = "yes"
            SECURITY_USER_IDENTITY_ATTRIBUTES = ["email", " username "]
            SECURITY_PASSWORD_SCHEMES = "bcrypt, plaintext"
            SECURITY_PASSWORD_HASH = "bcrypt"
            SECURITY_TRUSTED_PROXIES = 2
            SECURITY_MAX_BODY_SIZE = 4096
            SECURITY_TOKEN_MAX_AGE = 86400
            SECURITY_LOGIN_WITHIN = "2 hours"
            PERMANENT_SESSION_LIFETIME = 600
            SECURITY_MSG_LOGIN = ["Sign in", "warning"]
            SECURITY_MSG_REFRESH = "Again please"
            SECURITY_POST_LOGIN_VIEW = ""
            DATABASE_URL = "sqlite::memory:"

            [some_app_section]
            anything = 1.5
            "#,
        )
        .unwrap();
        assert_eq!(c.secret_key, "from a file, long enough");
        assert!(c.confirmable && c.recoverable);
        assert_eq!(c.user_identity_attributes, ["email", "username"]);
        assert_eq!(c.password_schemes, ["bcrypt", "plaintext"]);
        assert_eq!(c.trusted_proxies, 2);
        assert_eq!(c.max_body_size, 4096);
        assert_eq!(c.token_max_age.as_ref().map(Within::seconds), Some(86_400));
        assert_eq!(c.login_within.seconds(), 7200);
        assert_eq!(c.permanent_session_lifetime.seconds(), 600);
        assert_eq!(c.messages.get(MessageKey::Login).category, "warning");
        assert_eq!(c.messages.get(MessageKey::Refresh).text, "Again please");
        assert_eq!(c.messages.get(MessageKey::Refresh).category, "info");
        assert_eq!(c.post_login_view, "/");
        c.validate().unwrap();
    }

    #[test]
    fn toml_refuses_wrong_types_naming_the_key() {
        for (text, key) in [
            ("SECURITY_CONFIRMABLE = 2", "SECURITY_CONFIRMABLE"),
            ("SECURITY_LOGIN_URL = true", "SECURITY_LOGIN_URL"),
            ("SECURITY_LOGIN_WITHIN = 5", "SECURITY_LOGIN_WITHIN"),
            (
                "SECURITY_USER_IDENTITY_ATTRIBUTES = [1, 2]",
                "SECURITY_USER_IDENTITY_ATTRIBUTES",
            ),
            ("SECURITY_TRUSTED_PROXIES = 1.5", "SECURITY_TRUSTED_PROXIES"),
            ("SECURITY_TRUSTED_PROXIES = -1", "SECURITY_TRUSTED_PROXIES"),
            ("SECURITY_MSG_LOGIN = 3", "SECURITY_MSG_LOGIN"),
        ] {
            assert_eq!(invalid_key(Config::from_toml_str(text)).0, key, "{text}");
        }
    }

    #[test]
    fn toml_reports_unknown_keys_and_syntax_errors() {
        let Ok((_, unknown)) = Config::toml_report("SECURITY_LOGIN_URLS = \"/x\"\nOTHER = 1")
        else {
            panic!("valid TOML refused");
        };
        assert_eq!(unknown, ["SECURITY_LOGIN_URLS"]);
        assert!(matches!(
            Config::from_toml_str("SECURITY_LOGIN_URL = "),
            Err(ConfigError::Toml { .. })
        ));
    }

    #[test]
    fn toml_file() {
        let dir = std::env::temp_dir().join(format!("security-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("security.toml");
        std::fs::write(&path, "SECURITY_CHANGEABLE = true\n").unwrap();
        assert!(Config::from_toml_file(&path).unwrap().changeable);
        std::fs::write(&path, "SECURITY_CHANGEABLE = \n").unwrap();
        let err = Config::from_toml_file(&path).unwrap_err();
        assert!(matches!(&err, ConfigError::File { reason, .. } if reason.contains("TOML")));
        std::fs::remove_dir_all(&dir).unwrap();
        let err = Config::from_toml_file(dir.join("missing.toml")).unwrap_err();
        assert!(matches!(err, ConfigError::File { .. }));
        assert!(err.to_string().contains("missing.toml"));
    }

    // --- validate ---

    #[test]
    fn default_with_a_secret_is_valid() {
        valid().validate().unwrap();
        assert_eq!(invalid_key(Config::default().validate()).0, "SECRET_KEY");
    }

    #[test]
    fn password_hash_must_be_a_hashing_scheme() {
        let with_hash = |hash: &str| Config {
            password_hash: hash.into(),
            ..valid()
        };
        for hash in HASH_SCHEMES {
            with_hash(hash).validate().unwrap();
        }
        let (key, reason) = invalid_key(with_hash("bogus").validate());
        assert_eq!(key, "SECURITY_PASSWORD_HASH");
        assert_eq!(
            reason,
            "Invalid hash scheme 'bogus'. Allowed values are argon2, bcrypt, pbkdf2_sha256, \
             pbkdf2_sha512, sha256_crypt, sha512_crypt and plaintext"
        );
        for legacy in VERIFY_ONLY_SCHEMES {
            let (key, reason) = invalid_key(with_hash(legacy).validate());
            assert_eq!(key, "SECURITY_PASSWORD_HASH");
            assert!(reason.contains("only supported to verify"), "{reason}");
        }
        // Must also be one of the configured schemes, as in 1.7.4.
        let c = Config {
            password_schemes: vec!["bcrypt".into(), "plaintext".into()],
            ..valid()
        };
        let (key, reason) = invalid_key(c.validate());
        assert_eq!(key, "SECURITY_PASSWORD_HASH");
        assert!(
            reason.ends_with("Allowed values are bcrypt and plaintext"),
            "{reason}"
        );
    }

    #[test]
    fn password_scheme_lists_are_checked() {
        let schemes = |list: &[&str]| Config {
            password_schemes: list.iter().map(|s| s.to_string()).collect(),
            ..valid()
        };
        let key_of = |c: Config| invalid_key(c.validate()).0;
        assert_eq!(key_of(schemes(&[])), "SECURITY_PASSWORD_SCHEMES");
        assert_eq!(
            key_of(schemes(&["argon2", "md5_crypt"])),
            "SECURITY_PASSWORD_SCHEMES"
        );
        assert_eq!(
            key_of(schemes(&["plaintext", "argon2"])),
            "SECURITY_PASSWORD_SCHEMES"
        );
        assert_eq!(
            key_of(schemes(&["argon2", "argon2"])),
            "SECURITY_PASSWORD_SCHEMES"
        );
        schemes(&["argon2", "des_crypt"]).validate().unwrap();
        let c = Config {
            deprecated_password_schemes: vec!["des_crypt".into(), "whatever".into()],
            ..valid()
        };
        assert_eq!(key_of(c), "SECURITY_DEPRECATED_PASSWORD_SCHEMES");
    }

    #[test]
    fn urls_and_names_are_checked() {
        let key_of = |c: Config| invalid_key(c.validate()).0;
        let c = |f: fn(&mut Config)| {
            let mut c = valid();
            f(&mut c);
            c
        };
        assert_eq!(
            key_of(c(|c| c.login_url = "login".into())),
            "SECURITY_LOGIN_URL"
        );
        assert_eq!(
            key_of(c(|c| c.logout_url = "//evil".into())),
            "SECURITY_LOGOUT_URL"
        );
        assert_eq!(
            key_of(c(|c| c.url_prefix = Some("auth".into()))),
            "SECURITY_URL_PREFIX"
        );
        assert_eq!(
            key_of(c(|c| c.post_login_view = "/a\r\nSet-Cookie: x".into())),
            "SECURITY_POST_LOGIN_VIEW"
        );
        assert_eq!(
            key_of(c(|c| {
                c.registerable = true;
                c.register_url = "/login".into();
            })),
            "SECURITY_REGISTER_URL"
        );
        // A disabled feature's URL may be anything that is a path.
        c(|c| c.register_url = "/login".into()).validate().unwrap();
        assert_eq!(
            key_of(c(|c| c.token_authentication_header = "Auth Token".into())),
            "SECURITY_TOKEN_AUTHENTICATION_HEADER"
        );
        assert_eq!(
            key_of(c(|c| c.remember_cookie_name = "session".into())),
            "REMEMBER_COOKIE_NAME"
        );
        assert_eq!(
            key_of(c(|c| c.session_cookie_samesite = SameSite::None)),
            "SESSION_COOKIE_SAMESITE"
        );
        c(|c| {
            c.session_cookie_samesite = SameSite::None;
            c.session_cookie_secure = true;
        })
        .validate()
        .unwrap();
        assert_eq!(
            key_of(c(|c| c.reset_salt = "confirm-salt".into())),
            "SECURITY_RESET_SALT"
        );
        assert_eq!(
            key_of(c(|c| c.user_identity_attributes = vec!["e mail".into()])),
            "SECURITY_USER_IDENTITY_ATTRIBUTES"
        );
        assert_eq!(
            key_of(c(|c| c.allowed_hosts = vec!["https://example.com".into()])),
            "SECURITY_ALLOWED_HOSTS"
        );
        assert_eq!(
            key_of(c(|c| c.server_name = Some("a/b".into()))),
            "SERVER_NAME"
        );
        assert_eq!(key_of(c(|c| c.max_body_size = 0)), "SECURITY_MAX_BODY_SIZE");
        assert_eq!(
            key_of(c(|c| c.email_sender = "a@b\r\nBcc: x@y".into())),
            "SECURITY_EMAIL_SENDER"
        );
        assert_eq!(
            key_of(c(|c| c.session_cookie_domain = Some("exa mple.com".into()))),
            "SESSION_COOKIE_DOMAIN"
        );
        c(|c| c.session_cookie_domain = Some(".example.com".into()))
            .validate()
            .unwrap();
    }

    // --- paths, Debug ---

    #[test]
    fn paths_apply_the_prefix() {
        let mut c = Config::default();
        assert_eq!(c.login_path(), "/login");
        assert_eq!(c.confirm_path(), "/confirm");
        c.url_prefix = Some("/auth/".into());
        assert_eq!(
            [
                c.login_path(),
                c.logout_path(),
                c.register_path(),
                c.reset_path(),
                c.change_path(),
                c.confirm_path()
            ],
            [
                "/auth/login",
                "/auth/logout",
                "/auth/register",
                "/auth/reset",
                "/auth/change",
                "/auth/confirm"
            ]
        );
        c.url_prefix = Some("/".into());
        assert_eq!(c.login_path(), "/login");
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = Config {
            password_salt: Some("pepper-value".into()),
            ..valid()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("long enough") && !shown.contains("pepper-value"));
        assert!(shown.contains("secret_key: \"<redacted>\""));
        assert!(shown.contains("password_salt: \"<redacted>\""));
        assert!(shown.contains("login_url: \"/login\""));
        assert!(format!("{:?}", Config::default()).contains("password_salt: None"));
    }

    #[test]
    fn same_site_round_trips() {
        for s in [SameSite::Lax, SameSite::Strict, SameSite::None] {
            assert_eq!(s.as_str().parse::<SameSite>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
        }
    }

    // --- the review's keys ---

    #[test]
    fn a_short_secret_key_is_refused_unless_allowed() {
        let short = Config {
            secret_key: "0123456789abcde".into(),
            ..valid()
        };
        let (key, reason) = invalid_key(short.validate());
        assert_eq!(key, "SECRET_KEY");
        assert!(reason.contains("16") && reason.contains("SECURITY_ALLOW_WEAK_SECRET_KEY"));
        Config {
            allow_weak_secret_key: true,
            ..short
        }
        .validate()
        .unwrap();
        Config {
            secret_key: "0123456789abcdef".into(),
            ..valid()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn features_that_mail_links_need_a_host() {
        for c in [
            Config {
                recoverable: true,
                ..valid()
            },
            Config {
                confirmable: true,
                ..valid()
            },
            Config {
                passwordless: true,
                ..valid()
            },
        ] {
            let (key, reason) = invalid_key(c.clone().validate());
            assert_eq!(key, "SERVER_NAME");
            assert!(reason.contains("SECURITY_ALLOWED_HOSTS"), "{reason}");
            Config {
                server_name: Some("example.com".into()),
                ..c.clone()
            }
            .validate()
            .unwrap();
            Config {
                allowed_hosts: vec!["example.com".into()],
                ..c
            }
            .validate()
            .unwrap();
        }
    }

    #[test]
    fn generic_responses_has_its_old_name_as_an_alias() {
        for key in [
            "SECURITY_RETURN_GENERIC_RESPONSES",
            "SECURITY_GENERIC_RESPONSES",
        ] {
            let (c, unknown) = Config::from_vars_report([(key, "true")]).unwrap();
            assert!(c.return_generic_responses, "{key}");
            assert!(unknown.is_empty(), "{key}");
        }
    }

    #[test]
    fn response_headers_merge_over_the_defaults() {
        let c = Config::from_vars([(
            "SECURITY_RESPONSE_HEADERS",
            r#"{"Referrer-Policy": "same-origin", "X-Frame-Options": "", "X-Extra": "1"}"#,
        )])
        .unwrap();
        let get = |name: &str| {
            c.response_headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("Referrer-Policy"), Some("same-origin"));
        assert_eq!(get("X-Frame-Options"), None);
        assert_eq!(get("Cache-Control"), Some("no-store"));
        assert_eq!(get("X-Extra"), Some("1"));
        for bad in [
            "not json",
            r#"{"Bad Name": "x"}"#,
            r#"{"X-A": 1}"#,
            r#"{"X-A": "line\nbreak"}"#,
        ] {
            let (key, _) = invalid_key(Config::from_vars([("SECURITY_RESPONSE_HEADERS", bad)]));
            assert_eq!(key, "SECURITY_RESPONSE_HEADERS", "{bad}");
        }
    }

    #[test]
    fn logout_methods_are_get_and_post() {
        let c = Config::from_vars([("SECURITY_LOGOUT_METHODS", "post, POST")]).unwrap();
        assert_eq!(c.logout_methods, ["POST"]);
        assert_eq!(Config::default().logout_methods, ["GET", "POST"]);
        let (key, _) = invalid_key(Config::from_vars([("SECURITY_LOGOUT_METHODS", "DELETE")]));
        assert_eq!(key, "SECURITY_LOGOUT_METHODS");
    }

    #[test]
    fn the_remember_cookie_follows_the_session_cookies_secure_flag() {
        let c = Config::from_vars([("SESSION_COOKIE_SECURE", "true")]).unwrap();
        assert!(c.remember_cookie_is_secure());
        let c = Config::from_vars([
            ("SESSION_COOKIE_SECURE", "true"),
            ("REMEMBER_COOKIE_SECURE", "false"),
        ])
        .unwrap();
        assert!(!c.remember_cookie_is_secure());
        let c = Config::from_vars([("REMEMBER_COOKIE_SECURE", "true")]).unwrap();
        assert!(c.remember_cookie_is_secure());
    }

    #[test]
    fn password_policy_keys() {
        let c = Config::from_vars([
            ("SECURITY_PASSWORD_NORMALIZE_FORM", "nfc"),
            ("SECURITY_PASSWORD_LENGTH_MIN", "8"),
            ("SECURITY_ZXCVBN_MINIMUM_SCORE", "4"),
        ])
        .unwrap();
        assert_eq!(c.password_normalize_form, Some(NormalizeForm::Nfc));
        assert_eq!(c.password_length_min, 8);
        assert_eq!(c.zxcvbn_minimum_score, 4);
        assert_eq!(Config::default().password_length_min, 6, "1.7.4's");
        assert_eq!(
            Config::default().password_normalize_form,
            Some(NormalizeForm::Nfkd),
            "5.9's"
        );
        let none = Config::from_vars([("SECURITY_PASSWORD_NORMALIZE_FORM", "none")]).unwrap();
        assert_eq!(none.password_normalize_form, None);
        for (key, bad) in [
            ("SECURITY_PASSWORD_NORMALIZE_FORM", "NFX"),
            ("SECURITY_ZXCVBN_MINIMUM_SCORE", "5"),
            ("SECURITY_PASSWORD_COMPLEXITY_CHECKER", "other"),
        ] {
            assert_eq!(invalid_key(Config::from_vars([(key, bad)])).0, key);
        }
        let (key, _) = invalid_key(
            Config {
                password_length_min: 10,
                password_length_max: 9,
                ..valid()
            }
            .validate(),
        );
        assert_eq!(key, "SECURITY_PASSWORD_LENGTH_MAX");
    }
}
