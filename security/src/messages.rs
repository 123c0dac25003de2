//! The user-facing messages: Flask-Security 1.7.4's `SECURITY_MSG_*` table (`flask_security/core.py`).
//!
//! Every message is a text and a category (`success`, `info` or `error`). The same text is used
//! for flashes, form field errors and JSON errors. The texts are 1.7.4's, byte for byte (including
//! the typo "successfuly"), because clients and the conformance suite compare them. An app may
//! override any of them, in code with [`Messages::set`] or from the configuration with a
//! `SECURITY_MSG_<NAME>` key (see [`crate::config::Config::from_vars`]).
//!
//! Beside 1.7.4's keys, this port has its own: [`MessageKey::InvalidCredentials`],
//! [`MessageKey::CsrfMissing`], [`MessageKey::CsrfInvalid`], [`MessageKey::MailFailed`],
//! [`MessageKey::PasswordTooLong`], and Flask-Security 5.9's
//! [`MessageKey::PasswordTooSimple`], [`MessageKey::ReauthenticationRequired`] and
//! [`MessageKey::ReauthenticationSuccessful`].

/// Every `SECURITY_MSG_*` key of Flask-Security 1.7.4, plus the few this port adds.
///
/// The variant is the key without its prefix in camel case: `SECURITY_MSG_USER_DOES_NOT_EXIST`
/// is [`MessageKey::UserDoesNotExist`]; [`MessageKey::name`] gives back `USER_DOES_NOT_EXIST`.
/// Each variant's documentation quotes its default text and category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageKey {
    /// `You do not have permission to view this resource.` (error): a role check failed.
    Unauthorized,
    /// `Thank you. Confirmation instructions have been sent to %(email)s.` (success): after a
    /// registration that needs confirmation.
    ConfirmRegistration,
    /// `Thank you. Your email has been confirmed.` (success): after the first confirmation.
    EmailConfirmed,
    /// `Your email has already been confirmed.` (info).
    AlreadyConfirmed,
    /// `Invalid confirmation token.` (error).
    InvalidConfirmationToken,
    /// `%(email)s is already associated with an account.` (error): registration.
    EmailAlreadyAssociated,
    /// `Password does not match` (error): defined by 1.7.4, unused there.
    PasswordMismatch,
    /// `Passwords do not match` (error): the retype field differs.
    RetypePasswordMismatch,
    /// `Redirections outside the domain are forbidden` (error): a refused `next`.
    InvalidRedirect,
    /// `Instructions to reset your password have been sent to %(email)s.` (info).
    PasswordResetRequest,
    /// `You did not reset your password within %(within)s. New instructions have been sent to
    /// %(email)s.` (error).
    PasswordResetExpired,
    /// `Invalid reset password token.` (error).
    InvalidResetPasswordToken,
    /// `Email requires confirmation.` (error).
    ConfirmationRequired,
    /// `Confirmation instructions have been sent to %(email)s.` (info).
    ConfirmationRequest,
    /// `You did not confirm your email within %(within)s. New instructions to confirm your email
    /// have been sent to %(email)s.` (error).
    ConfirmationExpired,
    /// `You did not login within %(within)s. New instructions to login have been sent to
    /// %(email)s.` (error).
    LoginExpired,
    /// `Instructions to login have been sent to %(email)s.` (success): passwordless send.
    LoginEmailSent,
    /// `Invalid login token.` (error): passwordless token.
    InvalidLoginToken,
    /// `Account is disabled.` (error).
    DisabledAccount,
    /// `Email not provided` (error).
    EmailNotProvided,
    /// `Invalid email address` (error).
    InvalidEmailAddress,
    /// `Password not provided` (error).
    PasswordNotProvided,
    /// `No password is set for this user` (error).
    PasswordNotSet,
    /// `Password must be at least %(length)s characters` (error): 1.7.4's text with
    /// `SECURITY_PASSWORD_LENGTH_MIN` (6 by default) in place of its fixed 6.
    PasswordInvalidLength,
    /// `Specified user does not exist` (error).
    UserDoesNotExist,
    /// `Invalid password` (error).
    InvalidPassword,
    /// `You have successfuly logged in.` (success; 1.7.4's typo kept).
    PasswordlessLoginSuccessful,
    /// `You successfully reset your password and you have been logged in automatically.`
    /// (success).
    PasswordReset,
    /// `Your new password must be different than your previous password.` (error).
    PasswordIsTheSame,
    /// `You successfully changed your password.` (success).
    PasswordChange,
    /// `Please log in to access this page.` (info): `login_required` redirected to the login page.
    Login,
    /// `Please reauthenticate to access this page.` (info): a fresh login is needed.
    Refresh,
    /// `Invalid email or password` (error). **Port addition**: the one refusal given for an
    /// unknown user, a user without a password and a wrong password when
    /// `SECURITY_GENERIC_RESPONSES` is on (enumeration-resistant mode: the answer must not tell
    /// which accounts exist).
    InvalidCredentials,
    /// `CSRF token missing` (error). **Port addition**: Flask-WTF 0.10's text in 1.7.4.
    CsrfMissing,
    /// `CSRF token invalid` (error). **Port addition**, after Flask-WTF's wording.
    CsrfInvalid,
    /// `The email could not be sent. Please try again later.` (error). **Port addition**: the mail
    /// could not be queued for sending (1.7.4 answers HTTP 500).
    MailFailed,
    /// `Password must be at most %(length)s characters` (error). **Port addition**: a new
    /// password is longer than `SECURITY_PASSWORD_LENGTH_MAX`.
    PasswordTooLong,
    /// `Password not complex enough` (error): Flask-Security 5.9's refusal of a password the
    /// complexity checker scores too low (when zxcvbn gives no more specific warning).
    PasswordTooSimple,
    /// `Your account is locked.` (error). **Port addition**: a locked account (lockout) on a
    /// credential path; with generic responses the wrong-password answer is given instead.
    Locked,
    /// `Instructions to unlock your account have been sent to %(email)s.` (info). **Port
    /// addition**: the account just locked and its unlock link was mailed.
    UnlockSent,
    /// `Your account has been unlocked. Please log in.` (success). **Port addition**: an unlock
    /// link was used.
    Unlocked,
    /// `Invalid or expired unlock link.` (error). **Port addition**.
    UnlockInvalid,
    /// `Too many attempts. Please try again in %(within)s.` (error). **Port addition**: a rate
    /// limit refused the request (HTTP 429).
    TooManyRequests,
    /// `You must reauthenticate to access this endpoint` (error): Flask-Security 5.9's answer
    /// to a request whose authentication is not fresh enough (see `SECURITY_FRESHNESS`).
    ReauthenticationRequired,
    /// `Reauthentication successful` (info): Flask-Security 5.9's flash after the password was
    /// given again at `SECURITY_VERIFY_URL`.
    ReauthenticationSuccessful,
    /// `Input not appropriate for requested API` (error): Flask-Security 5.9's answer to a
    /// change-email link that is invalid, used, or whose new address was taken meanwhile.
    ApiError,
    /// `Confirmation must be completed within %(within)s. Please start over.` (error):
    /// Flask-Security 5.9's expired change-email link.
    ChangeEmailExpired,
    /// `Change of email address confirmed` (success): Flask-Security 5.9's change-email link
    /// was used.
    ChangeEmailConfirmed,
    /// `Instructions to confirm your new email address have been sent to %(email)s.`
    /// (success): Flask-Security 5.9's change-email request.
    ChangeEmailSent,
    // --- API keys (`SECURITY_API_KEYS`, port additions) ---
    /// `Invalid or expired API key.` (error). **Port addition**: a Bearer key that is malformed,
    /// unknown, revoked or expired, or whose user may not authenticate (401).
    ApiKeyInvalid,
    /// `API key %(name)s created. Copy it now: it will not be shown again.` (success). **Port
    /// addition**.
    ApiKeyCreated,
    /// `API key %(name)s revoked.` (info). **Port addition**.
    ApiKeyRevoked,
    /// `Give the key a name of at most %(length)s characters.` (error). **Port addition**: a
    /// blank or too long name.
    ApiKeyNameInvalid,
    /// `You already have an API key named %(name)s.` (error). **Port addition**.
    ApiKeyNameTaken,
    /// `Invalid expiry: give a duration such as "30 days" or a future date and time.` (error).
    /// **Port addition**: `expires_in` or `expires_at` unreadable or not in the future.
    ApiKeyExpiryInvalid,
    /// `No such API key.` (error). **Port addition**: revoking a key that is not the user's.
    ApiKeyNotFound,
    /// `You successfully changed your username` (success): Flask-Security 5.9, after
    /// `SECURITY_CHANGE_USERNAME_URL`.
    UsernameChange,
    /// `Username must be at least %(min)d characters and less than %(max)d characters`
    /// (error): Flask-Security 5.9.
    UsernameInvalidLength,
    /// `Username contains illegal characters` (error): Flask-Security 5.9, markup or blanks
    /// around the name.
    UsernameIllegalCharacters,
    /// `Username can contain only letters and numbers` (error): Flask-Security 5.9.
    UsernameDisallowedCharacters,
    /// `Username not provided` (error): Flask-Security 5.9, with `SECURITY_USERNAME_REQUIRED`.
    UsernameNotProvided,
    /// `%(username)s is already associated with an account.` (error): Flask-Security 5.9.
    UsernameAlreadyAssociated,
    /// `Refresh token is invalid (%(reason)s)` (error): Flask-Security 5.9's refusal of a
    /// refresh token; the reason is `INVALID`, `NOT_FOUND`, `GEN_MISMATCH`, `EXPIRED` or
    /// `REVOKED`.
    RefreshTokenInvalid,
    /// `You have been signed out of every other session.` (success). **Port addition**: the
    /// flash after `SECURITY_SIGN_OUT_EVERYWHERE_URL`.
    SignedOutEverywhere,
}

/// One row of the message table.
struct Entry {
    key: MessageKey,
    name: &'static str,
    text: &'static str,
    category: &'static str,
}

const fn entry(
    key: MessageKey,
    name: &'static str,
    text: &'static str,
    category: &'static str,
) -> Entry {
    Entry {
        key,
        name,
        text,
        category,
    }
}

/// The number of message keys.
const COUNT: usize = 64;

/// The message table (1.7.4's keys, texts and categories), in the declaration order of
/// [`MessageKey`]: row `i` is the variant whose discriminant is `i` (checked at compile time
/// below).
const TABLE: [Entry; COUNT] = {
    use MessageKey as K;
    [
        entry(
            K::Unauthorized,
            "UNAUTHORIZED",
            "You do not have permission to view this resource.",
            "error",
        ),
        entry(
            K::ConfirmRegistration,
            "CONFIRM_REGISTRATION",
            "Thank you. Confirmation instructions have been sent to %(email)s.",
            "success",
        ),
        entry(
            K::EmailConfirmed,
            "EMAIL_CONFIRMED",
            "Thank you. Your email has been confirmed.",
            "success",
        ),
        entry(
            K::AlreadyConfirmed,
            "ALREADY_CONFIRMED",
            "Your email has already been confirmed.",
            "info",
        ),
        entry(
            K::InvalidConfirmationToken,
            "INVALID_CONFIRMATION_TOKEN",
            "Invalid confirmation token.",
            "error",
        ),
        entry(
            K::EmailAlreadyAssociated,
            "EMAIL_ALREADY_ASSOCIATED",
            "%(email)s is already associated with an account.",
            "error",
        ),
        entry(
            K::PasswordMismatch,
            "PASSWORD_MISMATCH",
            "Password does not match",
            "error",
        ),
        entry(
            K::RetypePasswordMismatch,
            "RETYPE_PASSWORD_MISMATCH",
            "Passwords do not match",
            "error",
        ),
        entry(
            K::InvalidRedirect,
            "INVALID_REDIRECT",
            "Redirections outside the domain are forbidden",
            "error",
        ),
        entry(
            K::PasswordResetRequest,
            "PASSWORD_RESET_REQUEST",
            "Instructions to reset your password have been sent to %(email)s.",
            "info",
        ),
        entry(
            K::PasswordResetExpired,
            "PASSWORD_RESET_EXPIRED",
            "You did not reset your password within %(within)s. New instructions have been sent \
             to %(email)s.",
            "error",
        ),
        entry(
            K::InvalidResetPasswordToken,
            "INVALID_RESET_PASSWORD_TOKEN",
            "Invalid reset password token.",
            "error",
        ),
        entry(
            K::ConfirmationRequired,
            "CONFIRMATION_REQUIRED",
            "Email requires confirmation.",
            "error",
        ),
        entry(
            K::ConfirmationRequest,
            "CONFIRMATION_REQUEST",
            "Confirmation instructions have been sent to %(email)s.",
            "info",
        ),
        entry(
            K::ConfirmationExpired,
            "CONFIRMATION_EXPIRED",
            "You did not confirm your email within %(within)s. New instructions to confirm your \
             email have been sent to %(email)s.",
            "error",
        ),
        entry(
            K::LoginExpired,
            "LOGIN_EXPIRED",
            "You did not login within %(within)s. New instructions to login have been sent to \
             %(email)s.",
            "error",
        ),
        entry(
            K::LoginEmailSent,
            "LOGIN_EMAIL_SENT",
            "Instructions to login have been sent to %(email)s.",
            "success",
        ),
        entry(
            K::InvalidLoginToken,
            "INVALID_LOGIN_TOKEN",
            "Invalid login token.",
            "error",
        ),
        entry(
            K::DisabledAccount,
            "DISABLED_ACCOUNT",
            "Account is disabled.",
            "error",
        ),
        entry(
            K::EmailNotProvided,
            "EMAIL_NOT_PROVIDED",
            "Email not provided",
            "error",
        ),
        entry(
            K::InvalidEmailAddress,
            "INVALID_EMAIL_ADDRESS",
            "Invalid email address",
            "error",
        ),
        entry(
            K::PasswordNotProvided,
            "PASSWORD_NOT_PROVIDED",
            "Password not provided",
            "error",
        ),
        entry(
            K::PasswordNotSet,
            "PASSWORD_NOT_SET",
            "No password is set for this user",
            "error",
        ),
        entry(
            K::PasswordInvalidLength,
            "PASSWORD_INVALID_LENGTH",
            "Password must be at least %(length)s characters",
            "error",
        ),
        entry(
            K::UserDoesNotExist,
            "USER_DOES_NOT_EXIST",
            "Specified user does not exist",
            "error",
        ),
        entry(
            K::InvalidPassword,
            "INVALID_PASSWORD",
            "Invalid password",
            "error",
        ),
        entry(
            K::PasswordlessLoginSuccessful,
            "PASSWORDLESS_LOGIN_SUCCESSFUL",
            "You have successfuly logged in.",
            "success",
        ),
        entry(
            K::PasswordReset,
            "PASSWORD_RESET",
            "You successfully reset your password and you have been logged in automatically.",
            "success",
        ),
        entry(
            K::PasswordIsTheSame,
            "PASSWORD_IS_THE_SAME",
            "Your new password must be different than your previous password.",
            "error",
        ),
        entry(
            K::PasswordChange,
            "PASSWORD_CHANGE",
            "You successfully changed your password.",
            "success",
        ),
        entry(
            K::Login,
            "LOGIN",
            "Please log in to access this page.",
            "info",
        ),
        entry(
            K::Refresh,
            "REFRESH",
            "Please reauthenticate to access this page.",
            "info",
        ),
        entry(
            K::InvalidCredentials,
            "INVALID_CREDENTIALS",
            "Invalid email or password",
            "error",
        ),
        entry(
            K::CsrfMissing,
            "CSRF_MISSING",
            "CSRF token missing",
            "error",
        ),
        entry(
            K::CsrfInvalid,
            "CSRF_INVALID",
            "CSRF token invalid",
            "error",
        ),
        entry(
            K::MailFailed,
            "MAIL_FAILED",
            "The email could not be sent. Please try again later.",
            "error",
        ),
        entry(
            K::PasswordTooLong,
            "PASSWORD_TOO_LONG",
            "Password must be at most %(length)s characters",
            "error",
        ),
        entry(
            K::PasswordTooSimple,
            "PASSWORD_TOO_SIMPLE",
            "Password not complex enough",
            "error",
        ),
        entry(K::Locked, "LOCKED", "Your account is locked.", "error"),
        entry(
            K::UnlockSent,
            "UNLOCK_SENT",
            "Instructions to unlock your account have been sent to %(email)s.",
            "info",
        ),
        entry(
            K::Unlocked,
            "UNLOCKED",
            "Your account has been unlocked. Please log in.",
            "success",
        ),
        entry(
            K::UnlockInvalid,
            "UNLOCK_INVALID",
            "Invalid or expired unlock link.",
            "error",
        ),
        entry(
            K::TooManyRequests,
            "TOO_MANY_REQUESTS",
            "Too many attempts. Please try again in %(within)s.",
            "error",
        ),
        entry(
            K::ReauthenticationRequired,
            "REAUTHENTICATION_REQUIRED",
            "You must reauthenticate to access this endpoint",
            "error",
        ),
        entry(
            K::ReauthenticationSuccessful,
            "REAUTHENTICATION_SUCCESSFUL",
            "Reauthentication successful",
            "info",
        ),
        entry(
            K::ApiError,
            "API_ERROR",
            "Input not appropriate for requested API",
            "error",
        ),
        entry(
            K::ChangeEmailExpired,
            "CHANGE_EMAIL_EXPIRED",
            "Confirmation must be completed within %(within)s. Please start over.",
            "error",
        ),
        entry(
            K::ChangeEmailConfirmed,
            "CHANGE_EMAIL_CONFIRMED",
            "Change of email address confirmed",
            "success",
        ),
        entry(
            K::ChangeEmailSent,
            "CHANGE_EMAIL_SENT",
            "Instructions to confirm your new email address have been sent to %(email)s.",
            "success",
        ),
        // API keys (`SECURITY_API_KEYS`).
        entry(
            K::ApiKeyInvalid,
            "API_KEY_INVALID",
            "Invalid or expired API key.",
            "error",
        ),
        entry(
            K::ApiKeyCreated,
            "API_KEY_CREATED",
            "API key %(name)s created. Copy it now: it will not be shown again.",
            "success",
        ),
        entry(
            K::ApiKeyRevoked,
            "API_KEY_REVOKED",
            "API key %(name)s revoked.",
            "info",
        ),
        entry(
            K::ApiKeyNameInvalid,
            "API_KEY_NAME_INVALID",
            "Give the key a name of at most %(length)s characters.",
            "error",
        ),
        entry(
            K::ApiKeyNameTaken,
            "API_KEY_NAME_TAKEN",
            "You already have an API key named %(name)s.",
            "error",
        ),
        entry(
            K::ApiKeyExpiryInvalid,
            "API_KEY_EXPIRY_INVALID",
            "Invalid expiry: give a duration such as \"30 days\" or a future date and time.",
            "error",
        ),
        entry(
            K::ApiKeyNotFound,
            "API_KEY_NOT_FOUND",
            "No such API key.",
            "error",
        ),
        entry(
            K::UsernameChange,
            "USERNAME_CHANGE",
            "You successfully changed your username",
            "success",
        ),
        entry(
            K::UsernameInvalidLength,
            "USERNAME_INVALID_LENGTH",
            "Username must be at least %(min)d characters and less than %(max)d characters",
            "error",
        ),
        entry(
            K::UsernameIllegalCharacters,
            "USERNAME_ILLEGAL_CHARACTERS",
            "Username contains illegal characters",
            "error",
        ),
        entry(
            K::UsernameDisallowedCharacters,
            "USERNAME_DISALLOWED_CHARACTERS",
            "Username can contain only letters and numbers",
            "error",
        ),
        entry(
            K::UsernameNotProvided,
            "USERNAME_NOT_PROVIDED",
            "Username not provided",
            "error",
        ),
        entry(
            K::UsernameAlreadyAssociated,
            "USERNAME_ALREADY_ASSOCIATED",
            "%(username)s is already associated with an account.",
            "error",
        ),
        entry(
            K::RefreshTokenInvalid,
            "REFRESH_TOKEN_INVALID",
            "Refresh token is invalid (%(reason)s)",
            "error",
        ),
        entry(
            K::SignedOutEverywhere,
            "SIGNED_OUT_EVERYWHERE",
            "You have been signed out of every other session.",
            "success",
        ),
    ]
};

// Row `i` of the table must describe the variant with discriminant `i`, so that a key indexes
// its row directly.
const _: () = {
    let mut i = 0;
    while i < COUNT {
        assert!(
            TABLE[i].key as usize == i,
            "TABLE is out of MessageKey order"
        );
        i += 1;
    }
};

const ALL_KEYS: [MessageKey; COUNT] = {
    let mut out = [MessageKey::Unauthorized; COUNT];
    let mut i = 0;
    while i < COUNT {
        out[i] = TABLE[i].key;
        i += 1;
    }
    out
};

impl MessageKey {
    /// Every key, in declaration order (1.7.4's keys first, then the port's own).
    pub const ALL: &'static [MessageKey] = &ALL_KEYS;

    /// The key's name without the `SECURITY_MSG_` prefix, e.g. `"UNAUTHORIZED"`.
    pub fn name(self) -> &'static str {
        TABLE[self as usize].name
    }

    /// The key named `name` (without the `SECURITY_MSG_` prefix, exact upper-case spelling), or
    /// `None` when there is no such key.
    pub fn from_name(name: &str) -> Option<Self> {
        TABLE.iter().find(|e| e.name == name).map(|e| e.key)
    }

    /// The default message of this key (1.7.4's text and category, or the port's for its own
    /// keys).
    pub fn default_message(self) -> Message {
        let e = &TABLE[self as usize];
        Message::new(e.text, e.category)
    }
}

impl std::fmt::Display for MessageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One message: its text (which may hold `%(email)s` and `%(within)s` placeholders) and its
/// category (`success`, `info`, `error`, or whatever an override says), which becomes the flash
/// category and the CSS class of the rendered flash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The text, with Python `%(name)s` placeholders.
    pub text: String,
    /// The category: `success`, `info` or `error` for the defaults.
    pub category: String,
}

impl Message {
    /// A message with this text and category.
    pub fn new(text: impl Into<String>, category: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            category: category.into(),
        }
    }
}

/// The message table: 1.7.4's defaults, overridable per key.
///
/// ```
/// # use security::messages::{MessageKey, Messages};
/// let mut messages = Messages::default();
/// assert_eq!(messages.get(MessageKey::InvalidPassword).text, "Invalid password");
/// messages.set(MessageKey::InvalidPassword, "Wrong password", "danger");
/// assert_eq!(messages.get(MessageKey::InvalidPassword).category, "danger");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Messages {
    /// One message per key, indexed by the key's discriminant.
    table: Vec<Message>,
}

impl Default for Messages {
    fn default() -> Self {
        Self {
            table: MessageKey::ALL
                .iter()
                .map(|k| k.default_message())
                .collect(),
        }
    }
}

impl Messages {
    /// The message of `key` (its override, or the default).
    pub fn get(&self, key: MessageKey) -> &Message {
        &self.table[key as usize]
    }

    /// Overrides the message of `key`.
    pub fn set(&mut self, key: MessageKey, text: impl Into<String>, category: impl Into<String>) {
        self.table[key as usize] = Message::new(text, category);
    }

    /// Puts the default message of `key` back.
    pub fn reset(&mut self, key: MessageKey) {
        self.table[key as usize] = key.default_message();
    }

    /// The text of `key` with its Python `%(name)s` placeholders filled from `args`
    /// (1.7.4 uses only `email` and `within`).
    ///
    /// A placeholder whose name is not in `args` is left as it is; `%%` becomes `%`; any other
    /// `%` is kept. Values are inserted verbatim (escaping is the renderer's job).
    ///
    /// ```
    /// # use security::messages::{MessageKey, Messages};
    /// let text = Messages::default().format(
    ///     MessageKey::ConfirmationExpired,
    ///     &[("email", "matt@lp.com"), ("within", "5 days")],
    /// );
    /// assert_eq!(
    ///     text,
    ///     "You did not confirm your email within 5 days. New instructions to confirm your \
    ///      email have been sent to matt@lp.com."
    /// );
    /// ```
    pub fn format(&self, key: MessageKey, args: &[(&str, &str)]) -> String {
        format_python(&self.get(key).text, args)
    }
}

/// A number of seconds as Flask-Security 5.9 writes a duration in its messages: whole units
/// from days down to seconds, `N unit(s)`, the two largest joined by ` and ` (67 →
/// `1 minute and 7 seconds`).
///
/// ```
/// use security::messages::duration_text;
/// assert_eq!(duration_text(67), "1 minute and 7 seconds");
/// assert_eq!(duration_text(2), "2 seconds");
/// assert_eq!(duration_text(7_200), "2 hours");
/// assert_eq!(duration_text(90_061), "1 day and 1 hour");
/// ```
pub fn duration_text(seconds: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    let mut rest = seconds;
    let mut parts = Vec::new();
    for (size, name) in UNITS {
        let n = rest / size;
        rest %= size;
        if n > 0 {
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        return "0 seconds".to_owned();
    }
    parts.truncate(2);
    parts.join(" and ")
}

/// Python's `text % dict` for the `%(name)s`, `%(name)d` and `%%` forms only.
fn format_python(text: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("%%") {
            out.push('%');
            rest = after;
            continue;
        }
        // `%(name)s`, and `%(name)d` (5.9's lengths), whose values are given as text.
        if let Some(inner) = tail.strip_prefix("%(")
            && let Some((name, after)) = inner
                .split_once(")s")
                .filter(|(name, _)| !name.contains(')'))
                .or_else(|| inner.split_once(")d"))
            && let Some((_, value)) = args.iter().find(|(n, _)| *n == name)
        {
            out.push_str(value);
            rest = after;
            continue;
        }
        out.push('%');
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1.7.4's message table, copied independently of `TABLE`: key, text, category.
    const SPEC: &[(&str, &str, &str)] = &[
        (
            "UNAUTHORIZED",
            "You do not have permission to view this resource.",
            "error",
        ),
        (
            "CONFIRM_REGISTRATION",
            "Thank you. Confirmation instructions have been sent to %(email)s.",
            "success",
        ),
        (
            "EMAIL_CONFIRMED",
            "Thank you. Your email has been confirmed.",
            "success",
        ),
        (
            "ALREADY_CONFIRMED",
            "Your email has already been confirmed.",
            "info",
        ),
        (
            "INVALID_CONFIRMATION_TOKEN",
            "Invalid confirmation token.",
            "error",
        ),
        (
            "EMAIL_ALREADY_ASSOCIATED",
            "%(email)s is already associated with an account.",
            "error",
        ),
        ("PASSWORD_MISMATCH", "Password does not match", "error"),
        (
            "RETYPE_PASSWORD_MISMATCH",
            "Passwords do not match",
            "error",
        ),
        (
            "INVALID_REDIRECT",
            "Redirections outside the domain are forbidden",
            "error",
        ),
        (
            "PASSWORD_RESET_REQUEST",
            "Instructions to reset your password have been sent to %(email)s.",
            "info",
        ),
        (
            "PASSWORD_RESET_EXPIRED",
            "You did not reset your password within %(within)s. New instructions have been sent to %(email)s.",
            "error",
        ),
        (
            "INVALID_RESET_PASSWORD_TOKEN",
            "Invalid reset password token.",
            "error",
        ),
        (
            "CONFIRMATION_REQUIRED",
            "Email requires confirmation.",
            "error",
        ),
        (
            "CONFIRMATION_REQUEST",
            "Confirmation instructions have been sent to %(email)s.",
            "info",
        ),
        (
            "CONFIRMATION_EXPIRED",
            "You did not confirm your email within %(within)s. New instructions to confirm your email have been sent to %(email)s.",
            "error",
        ),
        (
            "LOGIN_EXPIRED",
            "You did not login within %(within)s. New instructions to login have been sent to %(email)s.",
            "error",
        ),
        (
            "LOGIN_EMAIL_SENT",
            "Instructions to login have been sent to %(email)s.",
            "success",
        ),
        ("INVALID_LOGIN_TOKEN", "Invalid login token.", "error"),
        ("DISABLED_ACCOUNT", "Account is disabled.", "error"),
        ("EMAIL_NOT_PROVIDED", "Email not provided", "error"),
        ("INVALID_EMAIL_ADDRESS", "Invalid email address", "error"),
        ("PASSWORD_NOT_PROVIDED", "Password not provided", "error"),
        (
            "PASSWORD_NOT_SET",
            "No password is set for this user",
            "error",
        ),
        (
            "PASSWORD_INVALID_LENGTH",
            "Password must be at least %(length)s characters",
            "error",
        ),
        (
            "USER_DOES_NOT_EXIST",
            "Specified user does not exist",
            "error",
        ),
        ("INVALID_PASSWORD", "Invalid password", "error"),
        (
            "PASSWORDLESS_LOGIN_SUCCESSFUL",
            "You have successfuly logged in.",
            "success",
        ),
        (
            "PASSWORD_RESET",
            "You successfully reset your password and you have been logged in automatically.",
            "success",
        ),
        (
            "PASSWORD_IS_THE_SAME",
            "Your new password must be different than your previous password.",
            "error",
        ),
        (
            "PASSWORD_CHANGE",
            "You successfully changed your password.",
            "success",
        ),
        ("LOGIN", "Please log in to access this page.", "info"),
        (
            "REFRESH",
            "Please reauthenticate to access this page.",
            "info",
        ),
    ];

    #[test]
    fn every_1_7_4_message_has_its_text_and_category() {
        let messages = Messages::default();
        assert_eq!(SPEC.len(), 32);
        for (name, text, category) in SPEC {
            let key = MessageKey::from_name(name).unwrap_or_else(|| panic!("no key {name}"));
            assert_eq!(messages.get(key), &Message::new(*text, *category), "{name}");
        }
    }

    #[test]
    fn port_messages_have_their_text_and_category() {
        let m = Messages::default();
        let check = |k, text: &str| assert_eq!(m.get(k), &Message::new(text, "error"));
        check(MessageKey::InvalidCredentials, "Invalid email or password");
        check(MessageKey::CsrfMissing, "CSRF token missing");
        check(MessageKey::CsrfInvalid, "CSRF token invalid");
        check(
            MessageKey::MailFailed,
            "The email could not be sent. Please try again later.",
        );
    }

    #[test]
    fn reauthentication_messages_are_5_9s() {
        let m = Messages::default();
        assert_eq!(
            m.get(MessageKey::ReauthenticationRequired),
            &Message::new("You must reauthenticate to access this endpoint", "error")
        );
        assert_eq!(
            m.get(MessageKey::ReauthenticationSuccessful),
            &Message::new("Reauthentication successful", "info")
        );
        assert_eq!(
            MessageKey::from_name("REAUTHENTICATION_REQUIRED"),
            Some(MessageKey::ReauthenticationRequired)
        );
    }

    #[test]
    fn names_round_trip_and_are_unique() {
        assert_eq!(MessageKey::ALL.len(), COUNT);
        for (i, key) in MessageKey::ALL.iter().enumerate() {
            assert_eq!(*key as usize, i);
            assert_eq!(MessageKey::from_name(key.name()), Some(*key));
            assert_eq!(key.to_string(), key.name());
        }
        assert_eq!(MessageKey::UserDoesNotExist.name(), "USER_DOES_NOT_EXIST");
        assert_eq!(MessageKey::from_name("user_does_not_exist"), None);
        assert_eq!(MessageKey::from_name("NOPE"), None);
    }

    #[test]
    fn format_fills_email_and_within() {
        let m = Messages::default();
        assert_eq!(
            m.format(MessageKey::ConfirmRegistration, &[("email", "matt@lp.com")]),
            "Thank you. Confirmation instructions have been sent to matt@lp.com."
        );
        assert_eq!(
            m.format(
                MessageKey::LoginExpired,
                &[("within", "1 days"), ("email", "joe@lp.com")]
            ),
            "You did not login within 1 days. New instructions to login have been sent to \
             joe@lp.com."
        );
    }

    #[test]
    fn format_leaves_unknown_placeholders_and_collapses_double_percent() {
        assert_eq!(
            format_python(
                "%(email)s and %(other)s, 100%% sure, 5% off %(",
                &[("email", "a@b")]
            ),
            "a@b and %(other)s, 100% sure, 5% off %("
        );
        assert_eq!(format_python("%(email)", &[("email", "x")]), "%(email)");
        assert_eq!(format_python("%(email)s%(email)s", &[("email", "é")]), "éé");
        assert_eq!(format_python("", &[]), "");
        // A value is never re-scanned for placeholders.
        assert_eq!(
            format_python("%(email)s", &[("email", "%(within)s")]),
            "%(within)s"
        );
    }

    #[test]
    fn set_and_reset_override_one_key() {
        let mut m = Messages::default();
        m.set(MessageKey::Login, "Log in, %(email)s", "warning");
        assert_eq!(
            m.get(MessageKey::Login),
            &Message::new("Log in, %(email)s", "warning")
        );
        assert_eq!(m.format(MessageKey::Login, &[("email", "x")]), "Log in, x");
        assert_eq!(m.get(MessageKey::Refresh).category, "info");
        m.reset(MessageKey::Login);
        assert_eq!(m, Messages::default());
    }
}
