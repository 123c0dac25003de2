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
//! - `SECURITY_PASSWORD_HASH` defaults to `argon2`, not `plaintext` (passwords in clear);
//!   `argon2` is added in front of `SECURITY_PASSWORD_SCHEMES`; `des_crypt` (8 characters of
//!   the secret) still verifies stored hashes but cannot be chosen for new ones.
//! - `REMEMBER_COOKIE_HTTPONLY` defaults to true and `SESSION_COOKIE_SAMESITE` to `Lax`, so
//!   that scripts cannot read the remember cookie and other sites cannot post with the cookies.
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
//!
//! # Layout
//! The module's files: `keys.rs` (the table of keys: every field, its default and its key),
//! `load.rs` (reading the environment and TOML), `validate.rs` (the start-up checks),
//! `values.rs` ([`Within`], [`SameSite`], [`NormalizeForm`]) and `secret.rs` ([`Secret`]).

#[cfg(doc)]
use crate::messages::MessageKey;

mod keys;
mod load;
mod secret;
mod tokens;
mod validate;
mod values;

pub use keys::Config;
pub use secret::Secret;
pub use tokens::RefreshTokenCookie;
pub use values::{
    LimitScope, NormalizeForm, RateLimit, RateLimits, SameSite, ThrottleBackend, UnlockStrategy,
    Within,
};

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
    pub(crate) fn invalid(key: &str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

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

    /// The full path of the unlock view: `url_prefix` + `unlock_url` (its links add
    /// `/<token>`).
    pub fn unlock_path(&self) -> String {
        self.prefixed(self.unlock_url.trim_end_matches('/'))
    }

    /// The full path of the change-email view: `url_prefix` + `change_email_url` (its links
    /// are `<this>/<token>`).
    pub fn change_email_path(&self) -> String {
        self.prefixed(self.change_email_url.trim_end_matches('/'))
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

    /// The full path of the re-authentication view: `url_prefix` + `verify_url` (served when
    /// `freshness` is on).
    pub fn verify_path(&self) -> String {
        self.prefixed(&self.verify_url)
    }

    /// The full path of the API keys view: `url_prefix` + `api_keys_url` (`/api-keys` by
    /// default).
    pub fn api_keys_path(&self) -> String {
        self.prefixed(&self.api_keys_url)
    }

    /// The full path of the OpenAPI document: `url_prefix` + `openapi_url`, when that is set.
    pub fn openapi_path(&self) -> Option<String> {
        self.openapi_url.as_deref().map(|url| self.prefixed(url))
    }

    /// The full path of the change-username view (Flask-Security 5.9): `url_prefix` +
    /// `change_username_url`.
    pub fn change_username_path(&self) -> String {
        self.prefixed(&self.change_username_url)
    }

    /// The path of the default pages' stylesheet: `url_prefix` + `static_folder_url` +
    /// `/security.css` (without its `?v=`; see [`crate::views::stylesheet_url`]).
    pub fn stylesheet_path(&self) -> String {
        let folder = self.static_folder_url.trim_end_matches('/');
        if folder.starts_with('/') {
            self.prefixed(&format!("{folder}/security.css"))
        } else {
            self.prefixed(&format!("/{folder}/security.css"))
        }
    }
}

#[cfg(test)]
mod tests;
