//! The table of configuration keys. Each entry declares one field of [`Config`] once: its
//! documentation, type and default, and the key (and converter) that sets it, so that the
//! struct, its `Default` and the list of keys read by the loaders cannot disagree.

use super::load::{
    Raw, attempts, boolean, byte_size, default_response_headers, duration, hash_priority,
    hash_scheme, header_map, length, list, methods, normalize_form, opt_boolean, opt_checker,
    opt_duration, opt_seconds, opt_secret, opt_text, proxy_count, same_site, schemes, score,
    secret, text, within,
};
use super::load::{account_limit, rate_limits, throttle_backend, unlock_strategy};
use super::load::{freshness, grace_period};
use super::tokens::{RefreshTokenCookie, cookie_name, refresh_cookie};
use super::{
    LimitScope, NormalizeForm, RateLimit, RateLimits, SameSite, Secret, ThrottleBackend,
    UnlockStrategy, Within,
};
#[cfg(doc)]
use crate::messages::MessageKey;
use crate::messages::Messages;
use crate::password::{HashPriority, Scheme};

/// One configuration key: its name, the field it sets, and how.
pub(super) struct Key {
    /// The key as spelled in the environment.
    pub(super) name: &'static str,
    /// The field's name (checked against `name` by a unit test).
    #[cfg(test)]
    pub(super) field: &'static str,
    /// Converts a value and stores it in the field.
    pub(super) set: fn(&mut Config, Raw<'_>) -> Result<(), String>,
    /// Puts the field's default back (an empty value).
    pub(super) reset: fn(&mut Config),
}

/// Declares [`Config`] from one table. An entry is
///
/// ```text
/// /// documentation
/// field: Type = default, "KEY" => converter;
/// ```
///
/// the converter being a function from [`Raw`] to `Type`; an entry without `"KEY" =>` is a
/// field that no single key sets (the messages). It generates the struct, `Default`, and
/// [`KEYS`].
macro_rules! config_keys {
    ($(
        $(#[$meta:meta])*
        $field:ident: $ty:ty = $default:expr $(, $key:literal => $convert:ident)?;
    )*) => {
        /// Every `SECURITY_*` key of Flask-Security 1.7.4 with its default (except the insecure
        /// ones), the few non-`SECURITY_` keys that change behaviour, and this port's own keys.
        ///
        /// A field is named after its key without the `SECURITY_` prefix, lower-cased
        /// (`SECURITY_POST_LOGIN_VIEW` → `post_login_view`); the non-prefixed keys say their key
        /// in their documentation. See the [module documentation](crate::config) for loading and
        /// value syntax.
        ///
        /// Secrets are [`Secret`]s, so that a configuration can be logged with `{:?}`.
        #[derive(Clone, Debug, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct Config {
            $(
                $(#[$meta])*
                pub $field: $ty,
            )*
        }

        impl Default for Config {
            /// 1.7.4's defaults with the port's safe changes (see the fields).
            fn default() -> Self {
                Config {
                    $($field: $default,)*
                }
            }
        }

        /// Every key except the `SECURITY_MSG_*` family (handled by
        /// [`MessageKey::from_name`](crate::messages::MessageKey::from_name)), in field order.
        pub(super) static KEYS: &[Key] = &[
            $($(
                Key {
                    name: $key,
                    #[cfg(test)]
                    field: stringify!($field),
                    set: |config, raw| {
                        config.$field = $convert(raw)?;
                        Ok(())
                    },
                    reset: |config| config.$field = $default,
                },
            )?)*
        ];
    };
}

config_keys! {
    // --- Secrets -------------------------------------------------------------------------------
    /// `SECRET_KEY` (Flask; no default). Signs every token, the session cookie and CSRF tokens;
    /// rotating it invalidates all of them. Empty means not set, which [`Config::validate`]
    /// refuses.
    secret_key: Secret = Secret::default(), "SECRET_KEY" => secret;

    // --- Core ------------------------------------------------------------------------------------
    /// `SECURITY_BLUEPRINT_NAME`, default `"security"`: the name of the security views' group
    /// (Flask's endpoint names are `<name>.login` etc.).
    blueprint_name: String = "security".into(), "SECURITY_BLUEPRINT_NAME" => text;
    /// `SECURITY_URL_PREFIX`, default none: a prefix for every security URL (`/auth` →
    /// `/auth/login`). A trailing `/` is ignored.
    url_prefix: Option<String> = None, "SECURITY_URL_PREFIX" => opt_text;
    /// `SECURITY_SUBDOMAIN`, default none: the subdomain the security views are served on
    /// (undocumented in 1.7.4's docs).
    subdomain: Option<String> = None, "SECURITY_SUBDOMAIN" => opt_text;
    /// `SECURITY_FLASH_MESSAGES`, default `true`: whether to flash messages during security
    /// procedures; when false nothing is flashed, including the "please log in" message.
    flash_messages: bool = true, "SECURITY_FLASH_MESSAGES" => boolean;
    /// `SECURITY_PASSWORD_HASH`, default `argon2`: the scheme used to hash new passwords, one
    /// that [can hash](Scheme::can_hash) (`argon2`, `bcrypt`, `pbkdf2_sha256`, `pbkdf2_sha512`,
    /// `sha256_crypt`, `sha512_crypt`, `plaintext`) and is also in `password_schemes`. An
    /// unknown name is refused when the configuration is read.
    ///
    /// **Differs from 1.7.4**, whose default is `plaintext`, which stores passwords in clear.
    /// The legacy `des_crypt` (only 8 characters of the password count) is refused by
    /// [`Config::validate`]: it is only recognised to verify stored hashes.
    password_hash: Scheme = Scheme::Argon2, "SECURITY_PASSWORD_HASH" => hash_scheme;
    /// `SECURITY_PASSWORD_SALT`, default none: the HMAC key of the password pre-hash (see
    /// [`crate::password`]), a secret.
    /// Required for every scheme but `plaintext`: hashing or verifying fails without it (as in
    /// 1.7.4, where it is checked on first use, not at start-up; [`Config::validate`] logs a
    /// warning).
    password_salt: Option<Secret> = None, "SECURITY_PASSWORD_SALT" => opt_secret;
    /// `SECURITY_PASSWORD_SCHEMES`, default `argon2, bcrypt, des_crypt, pbkdf2_sha256,
    /// pbkdf2_sha512, sha256_crypt, sha512_crypt, plaintext`: the schemes recognised when
    /// verifying a stored hash, in identification order; `plaintext`, when present, must be
    /// last (undocumented in 1.7.4). **Port**: `argon2` added first. An unknown name is
    /// refused when the configuration is read.
    password_schemes: Vec<Scheme> = Scheme::ALL.to_vec(), "SECURITY_PASSWORD_SCHEMES" => schemes;
    /// `SECURITY_DEPRECATED_PASSWORD_SCHEMES`, default `auto`: schemes whose hashes are
    /// re-hashed with `password_hash` after a successful login; `auto` = every scheme but
    /// `password_hash` (passlib's meaning; undocumented in 1.7.4).
    deprecated_password_schemes: Vec<String> = vec!["auto".into()],
        "SECURITY_DEPRECATED_PASSWORD_SCHEMES" => list;
    /// `SECURITY_EMAIL_SENDER`, default `"no-reply@localhost"`: the `From` of every e-mail.
    email_sender: String = "no-reply@localhost".into(), "SECURITY_EMAIL_SENDER" => text;
    /// `SECURITY_TOKEN_AUTHENTICATION_KEY`, default `"auth_token"`: the query-string parameter
    /// (and JSON body key) read for token authentication.
    token_authentication_key: String = "auth_token".into(),
        "SECURITY_TOKEN_AUTHENTICATION_KEY" => text;
    /// `SECURITY_TOKEN_AUTHENTICATION_HEADER`, default `"Authentication-Token"`: the HTTP header
    /// read for token authentication.
    token_authentication_header: String = "Authentication-Token".into(),
        "SECURITY_TOKEN_AUTHENTICATION_HEADER" => text;
    /// `SECURITY_DEFAULT_HTTP_AUTH_REALM`, default `"Login Required"`: the realm of
    /// `http_auth_required` when none is given.
    default_http_auth_realm: String = "Login Required".into(),
        "SECURITY_DEFAULT_HTTP_AUTH_REALM" => text;
    /// `SECURITY_USER_IDENTITY_ATTRIBUTES`, default `email`: the user attributes searched (exact,
    /// case-insensitive comparison, in order) for the identifier typed at login, forgot-password,
    /// resend-confirmation and passwordless login.
    user_identity_attributes: Vec<String> = vec!["email".into()],
        "SECURITY_USER_IDENTITY_ATTRIBUTES" => list;

    // --- URLs and redirect targets ---------------------------------------------------------------
    /// `SECURITY_LOGIN_URL`, default `"/login"`: the login page (the passwordless send-login page
    /// when `passwordless`); the passwordless token link is `<login_url>/<token>`.
    login_url: String = "/login".into(), "SECURITY_LOGIN_URL" => text;
    /// `SECURITY_LOGOUT_URL`, default `"/logout"`: logout.
    logout_url: String = "/logout".into(), "SECURITY_LOGOUT_URL" => text;
    /// `SECURITY_REGISTER_URL`, default `"/register"`: registration.
    register_url: String = "/register".into(), "SECURITY_REGISTER_URL" => text;
    /// `SECURITY_RESET_URL`, default `"/reset"`: forgot password; the reset form is
    /// `<reset_url>/<token>`.
    reset_url: String = "/reset".into(), "SECURITY_RESET_URL" => text;
    /// `SECURITY_CHANGE_URL`, default `"/change"`: change password.
    change_url: String = "/change".into(), "SECURITY_CHANGE_URL" => text;
    /// `SECURITY_CONFIRM_URL`, default `"/confirm"`: resend confirmation; the confirmation link
    /// is `<confirm_url>/<token>`.
    confirm_url: String = "/confirm".into(), "SECURITY_CONFIRM_URL" => text;
    /// `SECURITY_POST_LOGIN_VIEW`, default `"/"`: where to go after login (without a valid
    /// `next`); also where an authenticated user is sent from anonymous-only pages. A path or
    /// URL (1.7.4 also accepted a Flask endpoint name).
    post_login_view: String = "/".into(), "SECURITY_POST_LOGIN_VIEW" => text;
    /// `SECURITY_POST_LOGOUT_VIEW`, default `"/"`: where to go after logout.
    post_logout_view: String = "/".into(), "SECURITY_POST_LOGOUT_VIEW" => text;
    /// `SECURITY_CONFIRM_ERROR_VIEW`, default none: where to go after an invalid or expired
    /// confirmation token; none = the resend-confirmation page.
    confirm_error_view: Option<String> = None, "SECURITY_CONFIRM_ERROR_VIEW" => opt_text;
    /// `SECURITY_POST_REGISTER_VIEW`, default none: where to go after registration. None: the
    /// docs say `post_login_view`, 1.7.4's code goes to `/`.
    post_register_view: Option<String> = None, "SECURITY_POST_REGISTER_VIEW" => opt_text;
    /// `SECURITY_POST_CONFIRM_VIEW`, default none: where to go after confirmation; none =
    /// `post_login_view`.
    post_confirm_view: Option<String> = None, "SECURITY_POST_CONFIRM_VIEW" => opt_text;
    /// `SECURITY_POST_RESET_VIEW`, default none: where to go after a password reset; none =
    /// `post_login_view`.
    post_reset_view: Option<String> = None, "SECURITY_POST_RESET_VIEW" => opt_text;
    /// `SECURITY_POST_CHANGE_VIEW`, default none: where to go after a password change; none =
    /// `post_login_view`.
    post_change_view: Option<String> = None, "SECURITY_POST_CHANGE_VIEW" => opt_text;
    /// `SECURITY_UNAUTHORIZED_VIEW`, default none: where to go when a role check fails. None: the
    /// docs say HTTP 403, 1.7.4's code redirects to the `Referer` or `/`.
    unauthorized_view: Option<String> = None, "SECURITY_UNAUTHORIZED_VIEW" => opt_text;

    // --- Templates -------------------------------------------------------------------------------
    /// `SECURITY_STATIC_FOLDER_URL` (5.9), default `"/fs-static"`: where the security router
    /// serves the default pages' stylesheet (`<url_prefix><static_folder_url>/security.css`,
    /// with `?v=` and the first 8 hex digits of its SHA-256, so that a new release is fetched).
    static_folder_url: String = "/fs-static".into(), "SECURITY_STATIC_FOLDER_URL" => text;
    /// `SECURITY_FORGOT_PASSWORD_TEMPLATE`, default `"security/forgot_password.html"`: the
    /// forgot-password page.
    forgot_password_template: String = "security/forgot_password.html".into(),
        "SECURITY_FORGOT_PASSWORD_TEMPLATE" => text;
    /// `SECURITY_LOGIN_USER_TEMPLATE`, default `"security/login_user.html"`: the login page.
    login_user_template: String = "security/login_user.html".into(),
        "SECURITY_LOGIN_USER_TEMPLATE" => text;
    /// `SECURITY_REGISTER_USER_TEMPLATE`, default `"security/register_user.html"`: the
    /// registration page.
    register_user_template: String = "security/register_user.html".into(),
        "SECURITY_REGISTER_USER_TEMPLATE" => text;
    /// `SECURITY_RESET_PASSWORD_TEMPLATE`, default `"security/reset_password.html"`: the reset
    /// password page.
    reset_password_template: String = "security/reset_password.html".into(),
        "SECURITY_RESET_PASSWORD_TEMPLATE" => text;
    /// `SECURITY_CHANGE_PASSWORD_TEMPLATE`, default `"security/change_password.html"`: the change
    /// password page.
    change_password_template: String = "security/change_password.html".into(),
        "SECURITY_CHANGE_PASSWORD_TEMPLATE" => text;
    /// `SECURITY_SEND_CONFIRMATION_TEMPLATE`, default `"security/send_confirmation.html"`: the
    /// resend confirmation instructions page.
    send_confirmation_template: String = "security/send_confirmation.html".into(),
        "SECURITY_SEND_CONFIRMATION_TEMPLATE" => text;
    /// `SECURITY_SEND_LOGIN_TEMPLATE`, default `"security/send_login.html"`: the passwordless
    /// send-login page.
    send_login_template: String = "security/send_login.html".into(),
        "SECURITY_SEND_LOGIN_TEMPLATE" => text;

    // --- Feature flags ---------------------------------------------------------------------------
    /// `SECURITY_CONFIRMABLE`, default `false`: users must confirm their e-mail address; adds the
    /// confirmation and resend-confirmation views at `confirm_url`.
    confirmable: bool = false, "SECURITY_CONFIRMABLE" => boolean;
    /// `SECURITY_REGISTERABLE`, default `false`: adds the registration view at `register_url`.
    registerable: bool = false, "SECURITY_REGISTERABLE" => boolean;
    /// `SECURITY_RECOVERABLE`, default `false`: adds the forgot/reset password views at
    /// `reset_url`.
    recoverable: bool = false, "SECURITY_RECOVERABLE" => boolean;
    /// `SECURITY_TRACKABLE`, default `false`: records login statistics (the user model needs the
    /// tracking fields).
    trackable: bool = false, "SECURITY_TRACKABLE" => boolean;
    /// `SECURITY_PASSWORDLESS`, default `false`: login by an e-mailed link instead of a password
    /// (experimental in 1.7.4); `login_url` becomes the send-login view.
    passwordless: bool = false, "SECURITY_PASSWORDLESS" => boolean;
    /// `SECURITY_CHANGEABLE`, default `false`: adds the change-password view at `change_url`.
    changeable: bool = false, "SECURITY_CHANGEABLE" => boolean;

    // --- E-mail ----------------------------------------------------------------------------------
    /// `SECURITY_EMAIL_SUBJECT_REGISTER`, default `"Welcome"`: subject of the welcome e-mail.
    email_subject_register: String = "Welcome".into(), "SECURITY_EMAIL_SUBJECT_REGISTER" => text;
    /// `SECURITY_EMAIL_SUBJECT_CONFIRM`, default `"Please confirm your email"`: subject of the
    /// confirmation e-mail.
    email_subject_confirm: String = "Please confirm your email".into(),
        "SECURITY_EMAIL_SUBJECT_CONFIRM" => text;
    /// `SECURITY_EMAIL_SUBJECT_PASSWORDLESS`, default `"Login instructions"`: subject of the
    /// passwordless login e-mail.
    email_subject_passwordless: String = "Login instructions".into(),
        "SECURITY_EMAIL_SUBJECT_PASSWORDLESS" => text;
    /// `SECURITY_EMAIL_SUBJECT_PASSWORD_NOTICE`, default `"Your password has been reset"`: subject
    /// of the notice after a reset.
    email_subject_password_notice: String = "Your password has been reset".into(),
        "SECURITY_EMAIL_SUBJECT_PASSWORD_NOTICE" => text;
    /// `SECURITY_EMAIL_SUBJECT_PASSWORD_CHANGE_NOTICE`, default `"Your password has been
    /// changed"`: subject of the notice after a change.
    email_subject_password_change_notice: String = "Your password has been changed".into(),
        "SECURITY_EMAIL_SUBJECT_PASSWORD_CHANGE_NOTICE" => text;
    /// `SECURITY_EMAIL_SUBJECT_PASSWORD_RESET`, default `"Password reset instructions"`: subject
    /// of the reset-instructions e-mail.
    email_subject_password_reset: String = "Password reset instructions".into(),
        "SECURITY_EMAIL_SUBJECT_PASSWORD_RESET" => text;
    /// `SECURITY_SEND_REGISTER_EMAIL`, default `true`: send the welcome e-mail on registration.
    send_register_email: bool = true, "SECURITY_SEND_REGISTER_EMAIL" => boolean;
    /// `SECURITY_SEND_PASSWORD_CHANGE_EMAIL`, default `true`: send a notice after a password
    /// change.
    send_password_change_email: bool = true, "SECURITY_SEND_PASSWORD_CHANGE_EMAIL" => boolean;
    /// `SECURITY_SEND_PASSWORD_RESET_NOTICE_EMAIL`, default `true`: send a notice after a
    /// password reset.
    send_password_reset_notice_email: bool = true,
        "SECURITY_SEND_PASSWORD_RESET_NOTICE_EMAIL" => boolean;

    // --- Tokens, lifetimes, remember-me ----------------------------------------------------------
    /// `SECURITY_CONFIRM_EMAIL_WITHIN`, default `"5 days"`: how long a confirmation link works.
    confirm_email_within: Within = Within::known("5 days", 5 * 86_400),
        "SECURITY_CONFIRM_EMAIL_WITHIN" => within;
    /// `SECURITY_RESET_PASSWORD_WITHIN`, default `"5 days"`: how long a reset link works.
    reset_password_within: Within = Within::known("5 days", 5 * 86_400),
        "SECURITY_RESET_PASSWORD_WITHIN" => within;
    /// `SECURITY_LOGIN_WITHIN`, default `"1 days"`: how long a passwordless login link works.
    login_within: Within = Within::known("1 days", 86_400), "SECURITY_LOGIN_WITHIN" => within;
    /// `SECURITY_LOGIN_WITHOUT_CONFIRMATION`, default `false`: with `confirmable`, lets
    /// unconfirmed users log in (and logs them in on registration).
    login_without_confirmation: bool = false, "SECURITY_LOGIN_WITHOUT_CONFIRMATION" => boolean;
    /// `SECURITY_CONFIRM_SALT`, default `"confirm-salt"`: salt of confirmation tokens.
    confirm_salt: Secret = "confirm-salt".into(), "SECURITY_CONFIRM_SALT" => secret;
    /// `SECURITY_RESET_SALT`, default `"reset-salt"`: salt of reset tokens.
    reset_salt: Secret = "reset-salt".into(), "SECURITY_RESET_SALT" => secret;
    /// `SECURITY_LOGIN_SALT`, default `"login-salt"`: salt of passwordless login tokens.
    login_salt: Secret = "login-salt".into(), "SECURITY_LOGIN_SALT" => secret;
    /// `SECURITY_REMEMBER_SALT`, default `"remember-salt"`: salt of the remember cookie **and**
    /// of authentication tokens.
    remember_salt: Secret = "remember-salt".into(), "SECURITY_REMEMBER_SALT" => secret;
    /// `SECURITY_CHANGE_SALT`, default `"change-salt"`: defined by 1.7.4 but never used
    /// (undocumented); kept for completeness.
    change_salt: Secret = "change-salt".into(), "SECURITY_CHANGE_SALT" => secret;
    /// `SECURITY_DEFAULT_REMEMBER_ME`, default `false`: the remember-me value of logins that do
    /// not state one. **Port**: also applied to `/login` when the `remember` field is absent
    /// (1.7.4 ignored it there).
    default_remember_me: bool = false, "SECURITY_DEFAULT_REMEMBER_ME" => boolean;
    /// `SECURITY_TOKEN_MAX_AGE` (from 1.7.5), default none: the maximum age of authentication
    /// tokens and remember cookies. `None` = they expire only when revoked (password change,
    /// "log out everywhere", `SECRET_KEY` rotation), as in 1.7.4. Integer seconds or a duration;
    /// `none` = no limit.
    token_max_age: Option<Within> = None, "SECURITY_TOKEN_MAX_AGE" => opt_duration;

    // --- Messages --------------------------------------------------------------------------------
    /// `SECURITY_MSG_<NAME>`: the message table, 1.7.4's texts and categories by default.
    messages: Messages = Messages::default();

    // --- Non-SECURITY keys -----------------------------------------------------------------------
    /// `LOGIN_DISABLED` (Flask-Login), default `false`: when true `login_required` lets everyone
    /// through (role, token and Basic guards are unaffected). **Differs**: Flask-Login 0.2
    /// defaulted it to `TESTING`.
    login_disabled: bool = false, "LOGIN_DISABLED" => boolean;
    /// `WTF_CSRF_ENABLED` (Flask-WTF), default `true`: a CSRF token is required on every
    /// state-changing POST of the security views, JSON included.
    csrf_enabled: bool = true, "WTF_CSRF_ENABLED" => boolean;
    /// `WTF_CSRF_TIME_LIMIT` (Flask-WTF), default 3600: the lifetime of a CSRF token in seconds;
    /// `none` or `0` = no limit (as in Flask-WTF). A duration (`1 hours`) is accepted too.
    csrf_time_limit: Option<u64> = Some(3600), "WTF_CSRF_TIME_LIMIT" => opt_seconds;
    /// `REMEMBER_COOKIE_NAME` (Flask-Login), default `"remember_token"`: the remember cookie's
    /// name.
    remember_cookie_name: String = "remember_token".into(), "REMEMBER_COOKIE_NAME" => text;
    /// `REMEMBER_COOKIE_DURATION` (Flask-Login), default `"365 days"`: the remember cookie's
    /// lifetime. Integer seconds or a duration.
    remember_cookie_duration: Within = Within::known("365 days", 365 * 86_400),
        "REMEMBER_COOKIE_DURATION" => duration;
    /// `REMEMBER_COOKIE_DOMAIN` (Flask-Login), default none (host-only): the remember cookie's
    /// `Domain`.
    remember_cookie_domain: Option<String> = None, "REMEMBER_COOKIE_DOMAIN" => opt_text;
    /// `REMEMBER_COOKIE_SECURE` (Flask-Login), default none: mark the remember cookie
    /// `Secure`. Unset, it follows `SESSION_COOKIE_SECURE` (see
    /// [`Config::remember_cookie_is_secure`]), so that turning on `Secure` for the session does
    /// not leave the longer-lived cookie without it.
    remember_cookie_secure: Option<bool> = None, "REMEMBER_COOKIE_SECURE" => opt_boolean;
    /// `REMEMBER_COOKIE_HTTPONLY` (Flask-Login), default `true`: mark the remember cookie
    /// `HttpOnly`. **Differs**: 1.7.4's Flask-Login left it readable by scripts.
    remember_cookie_httponly: bool = true, "REMEMBER_COOKIE_HTTPONLY" => boolean;
    /// `SESSION_COOKIE_NAME` (Flask), default `"session"`: the session cookie's name.
    session_cookie_name: String = "session".into(), "SESSION_COOKIE_NAME" => text;
    /// `SESSION_COOKIE_DOMAIN` (Flask), default none (host-only): the session cookie's `Domain`.
    session_cookie_domain: Option<String> = None, "SESSION_COOKIE_DOMAIN" => opt_text;
    /// `SESSION_COOKIE_SECURE` (Flask), default `false`: mark the session cookie `Secure`. Turn
    /// on behind HTTPS.
    session_cookie_secure: bool = false, "SESSION_COOKIE_SECURE" => boolean;
    /// `SESSION_COOKIE_HTTPONLY` (Flask), default `true`: mark the session cookie `HttpOnly`.
    session_cookie_httponly: bool = true, "SESSION_COOKIE_HTTPONLY" => boolean;
    /// `SESSION_COOKIE_SAMESITE` (Flask ≥ 1.0), default `Lax`: the cookies' `SameSite`
    /// attribute (`Lax`, `Strict` or `None`; `None` needs `session_cookie_secure`). **Differs**:
    /// 1.7.4's Flask set no `SameSite`.
    session_cookie_samesite: SameSite = SameSite::Lax, "SESSION_COOKIE_SAMESITE" => same_site;
    /// `PERMANENT_SESSION_LIFETIME` (Flask), default `"31 days"`: the maximum age of a session,
    /// checked server-side from the time the session was issued. Integer seconds or a duration.
    permanent_session_lifetime: Within = Within::known("31 days", 31 * 86_400),
        "PERMANENT_SESSION_LIFETIME" => duration;
    /// `SERVER_NAME` (Flask), default none: the host (`host[:port]`) of absolute links when no
    /// request host is available (e-mails sent outside a request); when set, also the only host
    /// accepted for redirects besides `allowed_hosts`.
    server_name: Option<String> = None, "SERVER_NAME" => opt_text;
    /// `PREFERRED_URL_SCHEME` (Flask), default `"http"`: the scheme of absolute links in mail
    /// (behind trusted proxies, `X-Forwarded-Proto` wins).
    preferred_url_scheme: String = "http".into(), "PREFERRED_URL_SCHEME" => text;

    // --- The port's own keys -------------------------------------------------------------------
    /// `SECURITY_JSON_HTTP_STATUS_CODES` (**port addition**), default `false`: when true, a JSON
    /// error answers with the HTTP status equal to `meta.code` (400) instead of 1.7.4's 200
    /// (which clients cannot tell from a success by the status); the envelope is the same
    /// either way.
    json_http_status_codes: bool = false, "SECURITY_JSON_HTTP_STATUS_CODES" => boolean;
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
    return_generic_responses: bool = false, "SECURITY_RETURN_GENERIC_RESPONSES" => boolean;
    /// `SECURITY_TRUSTED_PROXIES` (**port addition**), default `0`: how many reverse proxies in
    /// front of the app append to `X-Forwarded-For`. 0 = ignore the header and use the socket
    /// peer address; `n` = take the `n`-th address from the right (the one
    /// the nearest trusted proxy saw), since a client can put anything on the left.
    trusted_proxies: u8 = 0, "SECURITY_TRUSTED_PROXIES" => proxy_count;
    /// `SECURITY_IDENTITY_CACHE_TTL` (**port addition**), default none: how long a loaded user
    /// (with roles) may be reused for the same session without reading the database again; none =
    /// load on every request (a deactivation or role change takes effect at once). A change that
    /// can end or narrow an identity (password change or reset, deactivation, deletion, role
    /// change, logout, lock, the command line, [`crate::Security::forget_identity`]) drops the
    /// entry at once on the instance that made it and, on PostgreSQL, on every instance
    /// (`NOTIFY security_identity` with the user's id; one listening connection per instance outside the app's pool,
    /// and the cache is cleared after that connection was lost), or, on another database with
    /// `SECURITY_THROTTLE_STORE` a Redis URL, on every instance through Redis pub/sub. On MySQL
    /// and SQLite without Redis there is no channel: another instance's change is seen only when
    /// the entry expires (a warning at start-up says so); an entry is never served past the TTL.
    identity_cache_ttl: Option<Within> = None, "SECURITY_IDENTITY_CACHE_TTL" => opt_duration;
    /// `SECURITY_ALLOWED_HOSTS` (**port addition**), default empty: hosts (`host[:port]`)
    /// accepted in absolute `next` URLs and in `Host` headers used to build absolute links. Empty
    /// = the request's own host is accepted only when it is a loopback address or equals
    /// `server_name`.
    allowed_hosts: Vec<String> = Vec::new(), "SECURITY_ALLOWED_HOSTS" => list;
    /// `SECURITY_TOKEN_IN_QUERY` (**port addition**), default `true`: accept the authentication
    /// token in the query string (`?auth_token=`), as 1.7.4 does. Query strings end up in logs;
    /// turn off to accept only the header and the JSON body.
    token_in_query: bool = true, "SECURITY_TOKEN_IN_QUERY" => boolean;
    /// `SECURITY_MAX_BODY_SIZE` (**port addition**), default 2 MiB (2097152): the largest request
    /// body the security views read, in bytes; larger bodies get HTTP 413.
    max_body_size: usize = 2 * 1024 * 1024, "SECURITY_MAX_BODY_SIZE" => byte_size;
    /// `SECURITY_FLASK_COMPAT` (**port addition**), default `false`: also accept what a running
    /// Flask-Security 1.7.4 app with the same `SECRET_KEY` and salts handed out, for a cut-over
    /// without logging anyone out: its authentication tokens and remember cookies (while the
    /// password is unchanged), its session cookies (once, replaced by this library's session),
    /// its confirmation, reset and login links (within their lifetimes, each bound as tightly
    /// as its payload allows), and passwords that 1.7.4's scheme-migration bug hashed twice.
    /// Those formats rest on HMAC-SHA1 and MD5 digests of the password hash: turn this off once
    /// no Flask instance is left (see `docs/migrating-from-flask-security.md`).
    flask_compat: bool = false, "SECURITY_FLASK_COMPAT" => boolean;
    /// `SECURITY_ALLOW_WEAK_SECRET_KEY` (**port addition**), default `false`: accept a
    /// `SECRET_KEY` shorter than 16 bytes. [`Config::validate`] refuses such a key otherwise;
    /// turn this on only to keep the key of an existing deployment during a migration (its
    /// sessions and links stay valid), then rotate it.
    allow_weak_secret_key: bool = false, "SECURITY_ALLOW_WEAK_SECRET_KEY" => boolean;
    /// `SECURITY_CSRF_PROTECT` (**port addition**, Flask-WTF's `CSRFProtect`), default `false`:
    /// every `POST`, `PUT`, `PATCH` and `DELETE` that carries the session or the remember
    /// cookie needs the CSRF token (form field `csrf_token` or header `X-CSRFToken`), on the
    /// app's own routes too, checked by `security.layer()`. Requests authenticated only by a
    /// token or HTTP Basic are not affected: a browser does not send those by itself. Without
    /// it, protect single handlers with the [`crate::csrf::CsrfChecked`] and
    /// [`crate::csrf::CsrfForm`] extractors.
    csrf_protect: bool = false, "SECURITY_CSRF_PROTECT" => boolean;
    /// `SECURITY_AUTOMATIC_OPTIONS` (**port addition**), default `true`: answer `OPTIONS` as
    /// Flask does, for every route behind `security.layer()`: a guarded handler is not run
    /// for it (200, empty, with an `Allow` header, no credentials asked), and a route that
    /// has no `OPTIONS` handler of its own answers 200 with `Allow` instead of 405. Turn it
    /// off to route `OPTIONS` as axum does (a CORS layer in front answers preflights either
    /// way); a guard then treats `OPTIONS` like any other method.
    automatic_options: bool = true, "SECURITY_AUTOMATIC_OPTIONS" => boolean;
    /// `SECURITY_RESPONSE_HEADERS` (**port addition**): headers added to every answer of the
    /// security views, as a JSON object `{"Header": "value"}` merged over the defaults; an empty
    /// value removes a default. Defaults: `Cache-Control: no-store` (the JSON login answer
    /// holds a token, the reset page a link), `Referrer-Policy: no-referrer` (the reset page's
    /// URL holds its token), `X-Frame-Options: DENY` and `Content-Security-Policy:
    /// frame-ancestors 'none'` (no framing, so no click-jacking of the forms), and
    /// `X-Content-Type-Options: nosniff`.
    response_headers: Vec<(String, String)> = default_response_headers(),
        "SECURITY_RESPONSE_HEADERS" => header_map;
    /// `SECURITY_MAIL_RETRY_DELAY` (**port addition**), default `"30 seconds"`: mail is queued
    /// in the database (`security_outbox`) and sent in the background; a failed delivery is
    /// tried again after this delay, doubled at each attempt up to one hour.
    mail_retry_delay: Within = Within::known("30 seconds", 30),
        "SECURITY_MAIL_RETRY_DELAY" => duration;
    /// `SECURITY_MAIL_MAX_ATTEMPTS` (**port addition**), default 15 (about nine hours with the
    /// default delay): after this many failed deliveries a mail is kept in the outbox as failed
    /// (with its last error) and no longer tried.
    mail_max_attempts: u32 = 15, "SECURITY_MAIL_MAX_ATTEMPTS" => attempts;

    // --- Flask-Security 5.9's keys -------------------------------------------------------------
    /// `SECURITY_LOGOUT_METHODS` (5.9), default `GET, POST`: the methods the logout view
    /// answers. A `POST` needs the CSRF token (when CSRF is on), so it cannot be triggered from
    /// another site; `GET` is kept by default for 1.7.4's templates and links. Set `POST` alone
    /// when every logout link of the app is a form. An empty list serves no logout view.
    logout_methods: Vec<String> = vec!["GET".into(), "POST".into()],
        "SECURITY_LOGOUT_METHODS" => methods;
    /// `SECURITY_AUTO_LOGIN_AFTER_CONFIRM` (5.9), default `true` (1.7.4's behaviour; 5.9's
    /// default is `false`): the first use of a confirmation link logs its user in. A link logs
    /// in whoever opens it, so an attacker can log a victim into the attacker's account by
    /// making them open the attacker's link (login CSRF); turn this off when that matters (the
    /// user then logs in with the password).
    auto_login_after_confirm: bool = true, "SECURITY_AUTO_LOGIN_AFTER_CONFIRM" => boolean;
    /// `SECURITY_PASSWORD_NORMALIZE_FORM` (5.9), default `NFKD`: the Unicode normalisation
    /// applied to every password before it is checked or hashed (`NFC`, `NFD`, `NFKC`, `NFKD`;
    /// `none` to keep passwords as typed), so that the same password typed on two keyboards
    /// matches. A stored hash of an unnormalised password (from 1.7.4) still verifies and is
    /// replaced by the normalised one at the next login. With `SECURITY_FLASK_COMPAT`, new
    /// hashes are of the password as typed (both forms are checked), so that a Flask-Security
    /// 1.7.4 app running beside this one, which does not normalise, verifies them.
    password_normalize_form: Option<NormalizeForm> = Some(NormalizeForm::Nfkd),
        "SECURITY_PASSWORD_NORMALIZE_FORM" => normalize_form;
    /// `SECURITY_PASSWORD_HASH_PRIORITY` (**port addition**), default `idle`: the CPU priority
    /// of the threads that hash and verify passwords (Linux). `idle` (the `SCHED_IDLE`
    /// policy): a hash runs on CPU time nothing else wants, so a flood of logins or of wrong
    /// passwords barely delays the other routes, but on a CPU saturated by other work logins
    /// wait until it is not; `low`: nice +10, hashes keep about a tenth of a busy CPU and
    /// other requests may wait a time slice (a few milliseconds) behind one; `normal`.
    password_hash_priority: HashPriority = HashPriority::Idle,
        "SECURITY_PASSWORD_HASH_PRIORITY" => hash_priority;
    /// `SECURITY_PASSWORD_LENGTH_MIN` (5.9; default 6 as in 1.7.4, 5.9's is 8): the fewest
    /// characters (after normalisation) of a new password.
    password_length_min: usize = 6, "SECURITY_PASSWORD_LENGTH_MIN" => length;
    /// `SECURITY_PASSWORD_LENGTH_MAX` (**port addition**), default 128 (5.9's fixed limit): the
    /// most characters of a new password; a longer one gets its own message
    /// ([`MessageKey::PasswordTooLong`]).
    password_length_max: usize = 128, "SECURITY_PASSWORD_LENGTH_MAX" => length;
    /// `SECURITY_PASSWORD_COMPLEXITY_CHECKER` (5.9), default none: `zxcvbn` refuses new
    /// passwords whose zxcvbn score is below `zxcvbn_minimum_score` (needs the cargo feature
    /// `zxcvbn`; [`Config::validate`] says so otherwise).
    password_complexity_checker: Option<String> = None,
        "SECURITY_PASSWORD_COMPLEXITY_CHECKER" => opt_checker;
    /// `SECURITY_ZXCVBN_MINIMUM_SCORE` (5.9), default 3: the lowest zxcvbn score (0–4) a new
    /// password may have when the complexity checker is `zxcvbn`.
    zxcvbn_minimum_score: u8 = 3, "SECURITY_ZXCVBN_MINIMUM_SCORE" => score;

    // --- Brute-force protection (port additions; all off unless set) --------------------------
    /// `SECURITY_RATE_LIMITS` (**port addition**), default none: limits in django-allauth's
    /// syntax, a JSON object from a limit name to comma-separated `COUNT/PERIOD/SCOPE` rules:
    /// `login` (every credential-accepting POST, per `ip`), `login_failed` (failed
    /// authentications, per `ip`, `key` = account and client, or `user` = account) and `mail`
    /// (mails the flows send, per `email`). E.g. `{"login": "30/m/ip", "login_failed":
    /// "10/m/ip,5/15m/key", "mail": "1/m/email,5/h/email"}`. Over a limit a request gets 429
    /// with `Retry-After`; over the `mail` limit it answers as if the mail had been sent, and
    /// sends nothing. `false` = none.
    rate_limits: RateLimits = RateLimits::default(), "SECURITY_RATE_LIMITS" => rate_limits;
    /// `SECURITY_THROTTLE_STORE` (**port addition**), default `database`: where the counters and
    /// locks live: `database` (the table `security_throttle` of the app's database, shared by
    /// every instance), a `redis://` URL (cargo feature `redis`), or `memory` (this process
    /// only: tests and single-instance apps).
    throttle_store: ThrottleBackend = ThrottleBackend::Database,
        "SECURITY_THROTTLE_STORE" => throttle_backend;
    /// `SECURITY_THROTTLE_FAIL_OPEN` (**port addition**), default `true`: when the store fails,
    /// count in this process's memory instead (and log a warning); `false` refuses the request
    /// with 429 instead.
    throttle_fail_open: bool = true, "SECURITY_THROTTLE_FAIL_OPEN" => boolean;
    /// `SECURITY_LOCKABLE` (**port addition**, Devise's `lockable`), default `false`: lock an
    /// account after `lock_maximum_attempts` consecutive failed authentications, for every
    /// client that has not logged in to it before (no device cookie of that account): its owner,
    /// on the devices they use, is not locked out by an attacker. A locked account gets no
    /// password check on any credential path (form and JSON login, Basic, passwordless).
    lockable: bool = false, "SECURITY_LOCKABLE" => boolean;
    /// `SECURITY_LOCK_MAXIMUM_ATTEMPTS` (**port addition**), default 20 (Devise's): consecutive
    /// failures (from clients without the account's device cookie) that lock the account.
    lock_maximum_attempts: u32 = 20, "SECURITY_LOCK_MAXIMUM_ATTEMPTS" => attempts;
    /// `SECURITY_LOCK_HARD_CAP` (**port addition**), default `100/h` (OWASP ASVS 2.2.1): failed
    /// authentications per account in a fixed window after which every client is refused, the
    /// device cookie's too, until the window ends or the account is unlocked.
    lock_hard_cap: RateLimit = RateLimit::parse_with_scope("100/h", LimitScope::User)
        .expect("a valid default"), "SECURITY_LOCK_HARD_CAP" => account_limit;
    /// `SECURITY_UNLOCK_STRATEGY` (**port addition**), default `both`: `email` (a single-use
    /// link mailed when the account locks), `time` (the lock ends after `unlock_in`) or both.
    /// A completed password reset and `users unlock EMAIL` always unlock.
    unlock_strategy: UnlockStrategy = UnlockStrategy::Both,
        "SECURITY_UNLOCK_STRATEGY" => unlock_strategy;
    /// `SECURITY_UNLOCK_IN` (**port addition**), default `1 hours`: how long the first lock
    /// lasts (with the `time` strategy); each further lock within a month lasts twice as long,
    /// up to `unlock_in_max`.
    unlock_in: Within = Within::known("1 hours", 3_600), "SECURITY_UNLOCK_IN" => duration;
    /// `SECURITY_UNLOCK_IN_MAX` (**port addition**), default `24 hours`: the longest lock.
    unlock_in_max: Within = Within::known("24 hours", 86_400),
        "SECURITY_UNLOCK_IN_MAX" => duration;
    /// `SECURITY_UNLOCK_WITHIN` (**port addition**), default `1 days`: how long an unlock link
    /// stays valid.
    unlock_within: Within = Within::known("1 days", 86_400), "SECURITY_UNLOCK_WITHIN" => within;
    /// `SECURITY_UNLOCK_URL` (**port addition**), default `/unlock`: the unlock link is
    /// `<unlock_url>/<token>`.
    unlock_url: String = "/unlock".into(), "SECURITY_UNLOCK_URL" => text;
    /// `SECURITY_UNLOCK_SALT` (**port addition**), default `unlock-salt`: the salt of unlock
    /// links.
    unlock_salt: Secret = Secret::from("unlock-salt"), "SECURITY_UNLOCK_SALT" => secret;
    /// `SECURITY_EMAIL_SUBJECT_UNLOCK` (**port addition**), default `Unlock instructions`.
    email_subject_unlock: String = "Unlock instructions".into(),
        "SECURITY_EMAIL_SUBJECT_UNLOCK" => text;
    /// `SECURITY_DEVICE_COOKIE_NAME` (**port addition**), default `security_device`: the signed
    /// cookie issued at each successful login that marks the browser as one the account was
    /// used from (it holds the account id and a random device id, no secret).
    device_cookie_name: String = "security_device".into(),
        "SECURITY_DEVICE_COOKIE_NAME" => text;
    /// `SECURITY_DEVICE_COOKIE_DURATION` (**port addition**), default `365 days`.
    device_cookie_duration: Within = Within::known("365 days", 31_536_000),
        "SECURITY_DEVICE_COOKIE_DURATION" => within;
    /// `SECURITY_FRESHNESS` (5.9), default `24 hours`: how recent the last primary
    /// authentication (a password checked at login or at `verify_url`, never a remember-me
    /// cookie) must be for a handler that asks for freshness with [`Fresh`] or
    /// `#[auth_required(.., within = ..)]`'s configured form. A negative duration (5.9's
    /// spelling, e.g. `-1 minutes`) or `none` turns freshness off (`None`): every handler is
    /// fresh and there is no `verify_url` view. Integer seconds or a duration.
    ///
    /// [`Fresh`]: crate::extract::Fresh
    freshness: Option<Within> = Some(Within::known("24 hours", 86_400)),
        "SECURITY_FRESHNESS" => freshness;
    /// `SECURITY_FRESHNESS_GRACE_PERIOD` (5.9), default `1 hours`: once a session passed a
    /// freshness check, further checks pass for this long (each passing check extends it), so
    /// that a multi-step change is not cut short. Keep it below `freshness`. Sessions only:
    /// a request authenticated by a token gets no grace period (5.9's documented rule). A
    /// negative duration counts as 0.
    freshness_grace_period: Within = Within::known("1 hours", 3_600),
        "SECURITY_FRESHNESS_GRACE_PERIOD" => grace_period;
    /// `SECURITY_FRESHNESS_ALLOW_AUTH_TOKEN` (5.9), default `true`: an authentication token
    /// counts as authenticated when it was issued (at login), so a recent token passes a
    /// freshness check; `false` makes token requests always stale (only a session that
    /// re-authenticates at `verify_url` is fresh).
    freshness_allow_auth_token: bool = true, "SECURITY_FRESHNESS_ALLOW_AUTH_TOKEN" => boolean;
    /// `SECURITY_VERIFY_URL` (5.9), default `"/verify"`: the re-authentication view (the
    /// password again), served when `freshness` is on; a stale browser request is sent there
    /// with `next`.
    verify_url: String = "/verify".into(), "SECURITY_VERIFY_URL" => text;
    /// `SECURITY_VERIFY_TEMPLATE` (5.9), default `"security/verify.html"`: the
    /// re-authentication page.
    verify_template: String = "security/verify.html".into(), "SECURITY_VERIFY_TEMPLATE" => text;
    /// `SECURITY_POST_VERIFY_URL` (5.9's documented name; its code reads
    /// `SECURITY_POST_VERIFY_VIEW`), default none: where to go after re-authenticating without
    /// a `next`; none = `post_login_view`.
    post_verify_url: Option<String> = None, "SECURITY_POST_VERIFY_URL" => opt_text;

    // --- Change of e-mail address (Flask-Security 5.9's `CHANGE_EMAIL`) ----------------------
    /// `SECURITY_CHANGE_EMAIL` (5.9), default `false`: the change-email view at
    /// `change_email_url`: a fresh user asks for a new address, a link goes to it, and the
    /// address changes when the link is opened.
    change_email: bool = false, "SECURITY_CHANGE_EMAIL" => boolean;
    /// `SECURITY_CHANGE_EMAIL_URL` (5.9), default `/change-email`; the mailed link is
    /// `<change_email_url>/<token>`.
    change_email_url: String = "/change-email".into(), "SECURITY_CHANGE_EMAIL_URL" => text;
    /// `SECURITY_CHANGE_EMAIL_WITHIN` (5.9), default `2 hours`: how long a change-email link
    /// stays valid.
    change_email_within: Within = Within::known("2 hours", 7_200),
        "SECURITY_CHANGE_EMAIL_WITHIN" => within;
    /// `SECURITY_CHANGE_EMAIL_SALT` (5.9), default `change-email-salt`: the salt of
    /// change-email links.
    change_email_salt: Secret = Secret::from("change-email-salt"),
        "SECURITY_CHANGE_EMAIL_SALT" => secret;
    /// `SECURITY_CHANGE_EMAIL_TEMPLATE` (5.9), default `security/change_email.html`.
    change_email_template: String = "security/change_email.html".into(),
        "SECURITY_CHANGE_EMAIL_TEMPLATE" => text;
    /// `SECURITY_CHANGE_EMAIL_SUBJECT` (5.9), default `Confirm your new email address`: the
    /// subject of the mail with the link, sent to the new address.
    change_email_subject: String = "Confirm your new email address".into(),
        "SECURITY_CHANGE_EMAIL_SUBJECT" => text;
    /// `SECURITY_POST_CHANGE_EMAIL_VIEW` (5.9), default none: where a confirmed change goes;
    /// none = `post_login_view`.
    post_change_email_view: Option<String> = None,
        "SECURITY_POST_CHANGE_EMAIL_VIEW" => opt_text;
    /// `SECURITY_CHANGE_EMAIL_ERROR_VIEW` (5.9), default none: where a refused link goes;
    /// none = the change-email page.
    change_email_error_view: Option<String> = None,
        "SECURITY_CHANGE_EMAIL_ERROR_VIEW" => opt_text;
    /// `SECURITY_SEND_CHANGE_EMAIL_NOTICE` (**port addition**), default `true`: when a change
    /// is confirmed, tell the old address (the new one shown masked, `m***@example.org`).
    send_change_email_notice: bool = true, "SECURITY_SEND_CHANGE_EMAIL_NOTICE" => boolean;
    /// `SECURITY_EMAIL_SUBJECT_CHANGE_EMAIL_NOTICE` (**port addition**), default `Your email
    /// address has been changed`: the subject of the notice to the old address.
    email_subject_change_email_notice: String = "Your email address has been changed".into(),
        "SECURITY_EMAIL_SUBJECT_CHANGE_EMAIL_NOTICE" => text;
    // --- API keys (port additions; off unless set) ---------------------------------------------
    /// `SECURITY_API_KEYS` (**port addition**), default `false`: users create named API keys at
    /// `api_keys_url` (each shown once), and a key sent as `Authorization: Bearer …`
    /// authenticates the handlers guarded with `#[auth_required("api_key", ..)]`, and only
    /// those. Needs the table `security_api_key`.
    api_keys: bool = false, "SECURITY_API_KEYS" => boolean;
    /// `SECURITY_API_KEYS_URL` (**port addition**), default `/api-keys`: the list (GET) and
    /// create (POST) view; `<api_keys_url>/<id>/revoke` revokes a key.
    api_keys_url: String = "/api-keys".into(), "SECURITY_API_KEYS_URL" => text;
    /// `SECURITY_API_KEY_PREFIX` (**port addition**), default `fsk`: the first part of every
    /// key (`fsk_<id>_<secret>`), so that secret scanners can recognise a leaked one. Keys
    /// made under another prefix stop working when it changes.
    api_key_prefix: String = "fsk".into(), "SECURITY_API_KEY_PREFIX" => text;
    /// `SECURITY_API_KEYS_TEMPLATE` (**port addition**), default `security/api_keys.html`: the
    /// page that lists, creates and revokes the user's keys.
    api_keys_template: String = "security/api_keys.html".into(),
        "SECURITY_API_KEYS_TEMPLATE" => text;
    // --- Usernames (Flask-Security 5.9) ----------------------------------------------------------
    /// `SECURITY_USERNAME_ENABLE` (5.9), default `false`: usernames. The user model needs a
    /// `username` field (under a unique index); the login form gets a `username` field (its
    /// `email` field then takes only an e-mail address), registration a `username` field, and
    /// `username` is added to `user_identity_attributes` when it is not there.
    username_enable: bool = false, "SECURITY_USERNAME_ENABLE" => boolean;
    /// `SECURITY_USERNAME_REQUIRED` (5.9), default `false`: registration and the change view
    /// refuse an empty username (`USERNAME_NOT_PROVIDED`).
    username_required: bool = false, "SECURITY_USERNAME_REQUIRED" => boolean;
    /// `SECURITY_USERNAME_MIN_LENGTH` (5.9), default `4`: the shortest username, in characters
    /// of its normal form.
    username_min_length: usize = 4, "SECURITY_USERNAME_MIN_LENGTH" => length;
    /// `SECURITY_USERNAME_MAX_LENGTH` (5.9), default `32`: the longest username.
    username_max_length: usize = 32, "SECURITY_USERNAME_MAX_LENGTH" => length;
    /// `SECURITY_USERNAME_NORMALIZE_FORM` (5.9), default `NFKD`: the Unicode form usernames
    /// are normalised to before they are checked, stored and compared; `none`: as typed.
    username_normalize_form: Option<NormalizeForm> = Some(NormalizeForm::Nfkd),
        "SECURITY_USERNAME_NORMALIZE_FORM" => normalize_form;
    /// `SECURITY_CHANGE_USERNAME` (5.9), default `false`: the change-username view (a fresh
    /// authentication required).
    change_username: bool = false, "SECURITY_CHANGE_USERNAME" => boolean;
    /// `SECURITY_CHANGE_USERNAME_URL` (5.9), default `"/change-username"`.
    change_username_url: String = "/change-username".into(), "SECURITY_CHANGE_USERNAME_URL" => text;
    /// `SECURITY_CHANGE_USERNAME_TEMPLATE` (5.9), default `"security/change_username.html"`.
    change_username_template: String = "security/change_username.html".into(),
        "SECURITY_CHANGE_USERNAME_TEMPLATE" => text;
    /// `SECURITY_POST_CHANGE_USERNAME_VIEW` (5.9), default none: where to go after a change;
    /// none = `post_login_view`.
    post_change_username_view: Option<String> = None,
        "SECURITY_POST_CHANGE_USERNAME_VIEW" => opt_text;
    /// `SECURITY_SEND_USERNAME_CHANGE_EMAIL` (5.9), default `true`: mail the user a notice of
    /// the change (`change_username_notice`).
    send_username_change_email: bool = true, "SECURITY_SEND_USERNAME_CHANGE_EMAIL" => boolean;
    /// `SECURITY_EMAIL_SUBJECT_USERNAME_CHANGE_NOTICE` (5.9), default
    /// `"Your username has been changed"`.
    email_subject_username_change_notice: String = "Your username has been changed".into(),
        "SECURITY_EMAIL_SUBJECT_USERNAME_CHANGE_NOTICE" => text;
    // --- Sessions and tokens (5.9's refresh tokens; sign out everywhere) -----------------------
    /// `SECURITY_SIGN_OUT_EVERYWHERE` (**port addition**), default `false`: serve
    /// `sign_out_everywhere_url`, where a logged-in user (fresh authentication, CSRF) ends
    /// every other session, remember cookie, authentication token and refresh token of the
    /// account; the current session is re-issued and stays.
    sign_out_everywhere: bool = false, "SECURITY_SIGN_OUT_EVERYWHERE" => boolean;
    /// `SECURITY_SIGN_OUT_EVERYWHERE_URL` (**port addition**), default
    /// `"/sign-out-everywhere"`.
    sign_out_everywhere_url: String = "/sign-out-everywhere".into(),
        "SECURITY_SIGN_OUT_EVERYWHERE_URL" => text;
    /// `SECURITY_REFRESH_TOKEN` (5.9), default `false`: a JSON login also returns a refresh
    /// token (in `user.refresh_token`, or in the `refresh_token_cookie_name` cookie), which
    /// `refresh_token_url` exchanges for a new authentication token and a new refresh token.
    refresh_token: bool = false, "SECURITY_REFRESH_TOKEN" => boolean;
    /// `SECURITY_REFRESH_TOKEN_URL` (5.9), default `"/refresh-token"` (POST, JSON only).
    refresh_token_url: String = "/refresh-token".into(), "SECURITY_REFRESH_TOKEN_URL" => text;
    /// `SECURITY_REFRESH_TOKEN_SALT` (5.9), default `"refresh-token-salt"`.
    refresh_token_salt: Secret = "refresh-token-salt".into(),
        "SECURITY_REFRESH_TOKEN_SALT" => secret;
    /// `SECURITY_REFRESH_TOKEN_MAX_AGE` (5.9), default `90 days`: the life of a refresh-token
    /// family from the login that started it (rotation does not extend it).
    refresh_token_max_age: Within = Within::known("90 days", 7_776_000),
        "SECURITY_REFRESH_TOKEN_MAX_AGE" => duration;
    /// `SECURITY_REFRESH_TOKEN_MAX_IDLE` (5.9), default `7 days`: a refresh token not used for
    /// this long expires (`EXPIRED`).
    refresh_token_max_idle: Within = Within::known("7 days", 604_800),
        "SECURITY_REFRESH_TOKEN_MAX_IDLE" => duration;
    /// `SECURITY_REFRESH_TOKEN_COOKIE_NAME` (5.9), default `"fs_refresh"`: the cookie the
    /// refresh token travels in; `none` = in the JSON body (`user.refresh_token` of the
    /// answers, `refresh_token` of the requests).
    refresh_token_cookie_name: Option<String> = Some("fs_refresh".into()),
        "SECURITY_REFRESH_TOKEN_COOKIE_NAME" => cookie_name;
    /// `SECURITY_REFRESH_TOKEN_COOKIE` (5.9), default
    /// `{"samesite": "Strict", "httponly": true, "secure": true}`: the refresh cookie's
    /// attributes, a JSON object.
    refresh_token_cookie: RefreshTokenCookie = RefreshTokenCookie::default(),
        "SECURITY_REFRESH_TOKEN_COOKIE" => refresh_cookie;
    // --- OpenAPI (port addition; off unless set) -----------------------------------------------
    /// `SECURITY_OPENAPI_URL` (**port addition**), default none: when set (a path such as
    /// `/openapi.json`, under `url_prefix` as every security URL), the security router serves
    /// the OpenAPI 3.1 document of its own routes there (`GET`, `application/json`; see
    /// `Security::openapi`). Needs the crate feature `openapi`.
    openapi_url: Option<String> = None, "SECURITY_OPENAPI_URL" => opt_text;
}

/// Other names of keys: (alias, key). An alias sets the same field as its key.
pub(super) const ALIASES: &[(&str, &str)] = &[(
    "SECURITY_GENERIC_RESPONSES",
    "SECURITY_RETURN_GENERIC_RESPONSES",
)];
