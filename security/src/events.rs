//! Signals (Flask-Security's `signals.py`, plus Flask-Login's login/logout signals).
//!
//! Every event goes to a broadcast channel; subscribe from async code with
//! [`crate::Security::subscribe`]:
//!
//! ```no_run
//! # async fn example(security: security::Security<impl security::SecurityUser>) {
//! use security::Event;
//!
//! let mut events = security.subscribe();
//! tokio::spawn(async move {
//!     while let Ok(event) = events.recv().await {
//!         if let Event::UserRegistered { user, .. } = event {
//!             println!("welcome {}", security::SecurityUser::email(&user));
//!         }
//!     }
//! });
//! # }
//! ```
//!
//! The payloads are 1.7.4's signals' keyword arguments. A slow subscriber that falls more than
//! the channel's capacity behind loses the oldest events (`RecvError::Lagged`), never blocks a
//! request.

/// Something that happened to an account.
///
/// Its `Debug` output names the event and the user's id and address; it never shows the
/// user's password hash or the tokens an event carries.
#[derive(Clone)]
#[non_exhaustive]
pub enum Event<U> {
    /// A user logged in (form, JSON, registration, confirmation, reset, passwordless link).
    UserLoggedIn {
        /// The user.
        user: U,
    },
    /// A user logged out.
    UserLoggedOut {
        /// The user.
        user: U,
    },
    /// A user registered (`user_registered`).
    UserRegistered {
        /// The new user.
        user: U,
        /// The confirmation token, when confirmation is on.
        confirm_token: Option<String>,
    },
    /// A user confirmed their address, the first time only (`user_confirmed`).
    UserConfirmed {
        /// The user.
        user: U,
    },
    /// Confirmation instructions were sent (`confirm_instructions_sent`).
    ConfirmInstructionsSent {
        /// The user.
        user: U,
        /// The confirmation token of the mail.
        token: String,
    },
    /// Passwordless login instructions were sent (`login_instructions_sent`).
    LoginInstructionsSent {
        /// The user.
        user: U,
        /// The login token of the mail.
        login_token: String,
    },
    /// A user reset their password (`password_reset`).
    PasswordReset {
        /// The user.
        user: U,
    },
    /// A user changed their password (`password_changed`).
    PasswordChanged {
        /// The user.
        user: U,
    },
    /// Password reset instructions were sent (`reset_password_instructions_sent`).
    ResetPasswordInstructionsSent {
        /// The user.
        user: U,
        /// The reset token of the mail.
        token: String,
    },
    /// A credential was presented and was wrong, or was refused because the account is
    /// locked (Flask-Security 5.9's `user_failed_authn`).
    AuthenticationFailed {
        /// The account, when the identity named one.
        user: Option<U>,
        /// How the credential was presented.
        mechanism: AuthMechanism,
        /// The client's address (as login tracking stores it).
        client: String,
    },
    /// An account was locked after repeated failures (`SECURITY_LOCKABLE`).
    AccountLocked {
        /// The account.
        user: U,
        /// When the lock ends by itself (`None` without the `time` unlock strategy).
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// A locked account was unlocked.
    AccountUnlocked {
        /// The account.
        user: U,
        /// How.
        reason: UnlockReason,
    },
    /// Change-email instructions were sent to a new address (Flask-Security 5.9's
    /// `change_email_instructions_sent`).
    ChangeEmailInstructionsSent {
        /// The user (with the address it still has).
        user: U,
        /// The address asked for, which the mail went to.
        new_email: String,
        /// The token of the mailed link.
        token: String,
    },
    /// A user's e-mail address changed (Flask-Security 5.9's `change_email_confirmed`; also
    /// after `users set-email`).
    EmailChanged {
        /// The user, with the new address.
        user: U,
        /// The address it had before.
        old_email: String,
    },
    // --- API keys (`SECURITY_API_KEYS`) ---
    /// A user created an API key (the key itself is never in an event).
    ApiKeyCreated {
        /// The owner.
        user: U,
        /// The key's public lookup id.
        id: String,
        /// The key's name.
        name: String,
    },
    /// An API key was revoked (by its owner, the `api-keys revoke` command, or
    /// [`crate::Security::revoke_all_api_keys`]).
    ApiKeyRevoked {
        /// The owner.
        user: U,
        /// The key's public lookup id.
        id: String,
        /// The key's name.
        name: String,
    },
    /// A user changed their username (Flask-Security 5.9's `username_changed`).
    UsernameChanged {
        /// The user, with the new username.
        user: U,
        /// The username before the change (`None`: there was none).
        old_username: Option<String>,
    },
    /// Sessions, remember cookies and tokens of an account were ended all at once (sign out
    /// everywhere, `users revoke-sessions`, `users reset-access`, revoke all tokens).
    SessionsRevoked {
        /// The account (as it is after the revocation).
        user: U,
        /// Why.
        reason: RevocationReason,
        /// Whether a session stays: the re-issued one of the request that asked (sign out
        /// everywhere), or every one ([`RevocationReason::RevokeTokens`] ends tokens only).
        kept_current: bool,
    },
}

/// Why the sessions and tokens of an account were ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevocationReason {
    /// The user asked to be signed out everywhere else (`SECURITY_SIGN_OUT_EVERYWHERE_URL`).
    SignOutEverywhere,
    /// `users revoke-sessions` or [`crate::Security::revoke_sessions`].
    RevokeSessions,
    /// `users reset-access` or [`crate::Security::reset_access`]: sessions, tokens and
    /// refresh tokens.
    ResetAccess,
    /// [`crate::Security::revoke_tokens`]: the authentication and refresh tokens only (a model
    /// with `fs_token_uniquifier`).
    RevokeTokens,
}

impl RevocationReason {
    /// `sign-out-everywhere`, `revoke-sessions`, `reset-access` or `revoke-tokens`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::SignOutEverywhere => "sign-out-everywhere",
            RevocationReason::RevokeSessions => "revoke-sessions",
            RevocationReason::ResetAccess => "reset-access",
            RevocationReason::RevokeTokens => "revoke-tokens",
        }
    }
}

/// How a credential was presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMechanism {
    /// A password on the login form or its JSON.
    Password,
    /// HTTP Basic authentication.
    Basic,
    /// A request for a passwordless login link.
    Passwordless,
    /// A password on the re-authentication form (`/verify`).
    Verify,
}

impl AuthMechanism {
    /// `password`, `basic`, `passwordless` or `verify`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMechanism::Password => "password",
            AuthMechanism::Basic => "basic",
            AuthMechanism::Passwordless => "passwordless",
            AuthMechanism::Verify => "verify",
        }
    }
}

/// How a locked account was unlocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnlockReason {
    /// The unlock link mailed when it locked.
    Link,
    /// A completed password reset.
    PasswordReset,
    /// The application (the `users unlock` command, [`crate::Security::unlock_user`]).
    Admin,
}

impl UnlockReason {
    /// `link`, `password-reset` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            UnlockReason::Link => "link",
            UnlockReason::PasswordReset => "password-reset",
            UnlockReason::Admin => "admin",
        }
    }
}

impl<U> Event<U> {
    /// The blinker name of the signal in Flask-Security (or Flask-Login).
    pub fn name(&self) -> &'static str {
        match self {
            Event::UserLoggedIn { .. } => "logged-in",
            Event::UserLoggedOut { .. } => "logged-out",
            Event::UserRegistered { .. } => "user-registered",
            Event::UserConfirmed { .. } => "user-confirmed",
            Event::ConfirmInstructionsSent { .. } => "confirm-instructions-sent",
            Event::LoginInstructionsSent { .. } => "login-instructions-sent",
            Event::PasswordReset { .. } => "password-reset",
            Event::PasswordChanged { .. } => "password-changed",
            Event::ResetPasswordInstructionsSent { .. } => "password-reset-instructions-sent",
            Event::AuthenticationFailed { .. } => "user-failed-authn",
            Event::AccountLocked { .. } => "account-locked",
            Event::AccountUnlocked { .. } => "account-unlocked",
            Event::ChangeEmailInstructionsSent { .. } => "change-email-instructions-sent",
            Event::EmailChanged { .. } => "change-email-confirmed",
            Event::ApiKeyCreated { .. } => "api-key-created",
            Event::ApiKeyRevoked { .. } => "api-key-revoked",
            Event::UsernameChanged { .. } => "username-changed",
            Event::SessionsRevoked { .. } => "sessions-revoked",
        }
    }

    /// The user the event is about (`None` for a failed authentication that named no
    /// account).
    pub fn user(&self) -> Option<&U> {
        Some(match self {
            Event::UserLoggedIn { user }
            | Event::UserLoggedOut { user }
            | Event::UserRegistered { user, .. }
            | Event::UserConfirmed { user }
            | Event::ConfirmInstructionsSent { user, .. }
            | Event::LoginInstructionsSent { user, .. }
            | Event::PasswordReset { user }
            | Event::PasswordChanged { user }
            | Event::ResetPasswordInstructionsSent { user, .. }
            | Event::AccountLocked { user, .. }
            | Event::AccountUnlocked { user, .. }
            | Event::ChangeEmailInstructionsSent { user, .. }
            | Event::EmailChanged { user, .. }
            | Event::ApiKeyCreated { user, .. }
            | Event::ApiKeyRevoked { user, .. }
            | Event::UsernameChanged { user, .. }
            | Event::SessionsRevoked { user, .. } => user,
            Event::AuthenticationFailed { user, .. } => return user.as_ref(),
        })
    }
}

impl<U: crate::store::model::SecurityUser> std::fmt::Debug for Event<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::crypto::redact::Redacted;
        use crate::store::model::UserRef;
        let mut d = f.debug_struct(self.name());
        d.field("user", &self.user().map(UserRef));
        match self {
            Event::UserRegistered { confirm_token, .. } => {
                d.field("confirm_token", &Redacted(confirm_token.as_deref()));
            }
            Event::ConfirmInstructionsSent { token, .. }
            | Event::ResetPasswordInstructionsSent { token, .. }
            | Event::LoginInstructionsSent {
                login_token: token, ..
            } => {
                d.field("token", &Redacted(Some(token)));
            }
            Event::AuthenticationFailed {
                mechanism, client, ..
            } => {
                d.field("mechanism", mechanism).field("client", client);
            }
            Event::AccountLocked { until, .. } => {
                d.field("until", until);
            }
            Event::AccountUnlocked { reason, .. } => {
                d.field("reason", reason);
            }
            Event::ChangeEmailInstructionsSent {
                new_email, token, ..
            } => {
                d.field("new_email", new_email)
                    .field("token", &Redacted(Some(token)));
            }
            Event::EmailChanged { old_email, .. } => {
                d.field("old_email", old_email);
            }
            Event::ApiKeyCreated { id, name, .. } | Event::ApiKeyRevoked { id, name, .. } => {
                d.field("id", id).field("name", name);
            }
            Event::UsernameChanged { old_username, .. } => {
                d.field("old_username", old_username);
            }
            Event::SessionsRevoked {
                reason,
                kept_current,
                ..
            } => {
                d.field("reason", reason)
                    .field("kept_current", kept_current);
            }
            _ => {}
        }
        d.finish()
    }
}
