//! The start-up checks of a configuration ([`Config::validate`]): the rules 1.7.4 checks and
//! the port's own, each failure naming its key.

use super::{Config, ConfigError, SameSite, Secret};
use crate::password::Scheme;

/// 1.7.4's way of listing allowed values: `a, b and c`.
pub(super) fn english_list(items: &[&str]) -> String {
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
            if self.password_schemes[..i].contains(scheme) {
                return fail(
                    "SECURITY_PASSWORD_SCHEMES",
                    format!("`{scheme}` is listed twice"),
                );
            }
        }
        if let Some(i) = self
            .password_schemes
            .iter()
            .position(|s| *s == Scheme::Plaintext)
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
            .filter(|s| s.can_hash())
            .map(|s| s.name())
            .collect();
        if self.password_hash.is_verify_only() {
            return fail(
                "SECURITY_PASSWORD_HASH",
                format!(
                    "`{}` is only supported to verify existing passwords. Allowed values are {}",
                    self.password_hash,
                    english_list(&allowed)
                ),
            );
        }
        if !self.password_schemes.contains(&self.password_hash) {
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
            if scheme != "auto" && Scheme::from_name(scheme).is_none() {
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
        if self.openapi_url.is_some() && !cfg!(feature = "openapi") {
            return fail(
                "SECURITY_OPENAPI_URL",
                "serving the OpenAPI document needs the crate feature `openapi` of `security`"
                    .to_owned(),
            );
        }
        for (key, url, enabled) in self.routes() {
            if url.is_empty() && !enabled {
                // An optional URL that is not set (`SECURITY_OPENAPI_URL`).
                continue;
            }
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
            ("SECURITY_POST_VERIFY_URL", self.post_verify_url.as_ref()),
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

        // API keys: the prefix is the first part of `<prefix>_<id>_<secret>`.
        let prefix = &self.api_key_prefix;
        if prefix.is_empty()
            || prefix.len() > 32
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return fail(
                "SECURITY_API_KEY_PREFIX",
                format!(
                    "`{}` must be 1 to 32 letters, digits or `_`, e.g. `fsk`",
                    prefix.escape_debug()
                ),
            );
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
    fn routes(&self) -> [(&'static str, &str, bool); 11] {
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
            (
                "SECURITY_UNLOCK_URL",
                &self.unlock_url,
                self.lockable && self.unlock_strategy.mails(),
            ),
            (
                "SECURITY_VERIFY_URL",
                &self.verify_url,
                self.freshness.is_some(),
            ),
            ("SECURITY_API_KEYS_URL", &self.api_keys_url, self.api_keys),
            (
                "SECURITY_OPENAPI_URL",
                self.openapi_url.as_deref().unwrap_or(""),
                self.openapi_url.is_some(),
            ),
            ("SECURITY_STATIC_FOLDER_URL", &self.static_folder_url, true),
        ]
    }

    fn warn_insecure(&self) {
        if self.password_hash == Scheme::Plaintext {
            tracing::warn!(
                "SECURITY_PASSWORD_HASH=plaintext stores passwords in clear; use argon2 or bcrypt"
            );
        } else if self.password_hash != Scheme::Argon2
            && self.password_salt.as_ref().is_none_or(Secret::is_empty)
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
