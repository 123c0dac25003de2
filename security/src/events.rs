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
        }
    }

    /// The user the event is about.
    pub fn user(&self) -> &U {
        match self {
            Event::UserLoggedIn { user }
            | Event::UserLoggedOut { user }
            | Event::UserRegistered { user, .. }
            | Event::UserConfirmed { user }
            | Event::ConfirmInstructionsSent { user, .. }
            | Event::LoginInstructionsSent { user, .. }
            | Event::PasswordReset { user }
            | Event::PasswordChanged { user }
            | Event::ResetPasswordInstructionsSent { user, .. } => user,
        }
    }
}

impl<U: crate::store::model::SecurityUser> std::fmt::Debug for Event<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::crypto::redact::Redacted;
        use crate::store::model::UserRef;
        let mut d = f.debug_struct(self.name());
        d.field("user", &UserRef(self.user()));
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
            _ => {}
        }
        d.finish()
    }
}
