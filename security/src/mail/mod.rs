//! E-mail (Flask-Security's `send_mail` over Flask-Mail), sent with lettre.
//!
//! Every mail is one multipart message with a `text/plain` and a `text/html` part rendered
//! from the `security/email/<name>.txt` / `.html` templates, from `SECURITY_EMAIL_SENDER` to
//! the user's stored address, with the configured subject. Sending is asynchronous: it never
//! blocks a worker thread. A [`MailTransport`] delivers it:
//!
//! - [`SmtpTransport`]: SMTP, plain, STARTTLS or TLS, with credentials (Flask-Mail's `MAIL_*`
//!   settings, see [`MailSettings`]);
//! - [`FileTransport`]: one `.eml` file per mail in a directory (development, tests);
//! - [`task`]: Flask-Security's `send_mail_task`: the app takes the built mail and sends it
//!   its own way (a queue, a background job).

pub(crate) mod outbox;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Why a mail could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// An address is not a valid mailbox (e.g. contains CR/LF).
    #[error("invalid e-mail address `{0}`")]
    Address(String),
    /// Building the message failed.
    #[error("cannot build the message: {0}")]
    Build(#[source] lettre::error::Error),
    /// The SMTP server refused or could not be reached, or the TLS set-up for it failed.
    #[error("SMTP delivery failed: {0}")]
    Smtp(#[source] lettre::transport::smtp::Error),
    /// The transport did not finish within the outbox's time limit.
    #[error("SMTP delivery failed: the delivery timed out")]
    TimedOut(#[source] tokio::time::error::Elapsed),
    /// Writing the mail file failed.
    #[error("writing the mail file failed: {0}")]
    File(#[source] lettre::transport::file::Error),
    /// The app's own send task failed.
    #[error("the send-mail task failed: {0}")]
    Task(String),
    /// Rendering a mail template failed.
    #[error("mail template error: {0}")]
    Template(#[source] askama::Error),
    /// The mail could not be queued in (or read from) the outbox table.
    #[error("the mail outbox failed: {0}")]
    Outbox(#[source] sea_orm::DbErr),
}

/// One e-mail, rendered, before it becomes a lettre [`Message`]. Its `Debug` output leaves
/// out the bodies, which may hold a link that logs in.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Which mail of Flask-Security's list this is.
    pub kind: EmailKind,
    /// The sender (`SECURITY_EMAIL_SENDER`).
    pub from: String,
    /// The recipient (the user's stored address).
    pub to: String,
    /// The subject (`SECURITY_EMAIL_SUBJECT_*`).
    pub subject: String,
    /// The `text/plain` body.
    pub text: String,
    /// The `text/html` body.
    pub html: String,
}

impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("kind", &self.kind)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text", &crate::crypto::redact::Redacted(Some(&self.text)))
            .field("html", &crate::crypto::redact::Redacted(Some(&self.html)))
            .finish()
    }
}

impl OutgoingMail {
    /// The lettre message: multipart/alternative with the text and HTML parts.
    ///
    /// # Errors
    /// An invalid sender or recipient address.
    pub fn message(&self) -> Result<Message, MailError> {
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|_| MailError::Address(self.from.clone()))?;
        let to: Mailbox = self
            .to
            .parse()
            .map_err(|_| MailError::Address(self.to.clone()))?;
        Message::builder()
            .from(from)
            .to(to)
            .subject(self.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                self.text.clone(),
                self.html.clone(),
            ))
            .map_err(MailError::Build)
    }
}

/// The mails of Flask-Security 1.7.4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EmailKind {
    /// `welcome`: after registration (with the confirmation link when confirmable).
    Welcome,
    /// `confirmation_instructions`: resend confirmation, expired confirmation link.
    ConfirmationInstructions,
    /// `login_instructions`: passwordless login link.
    LoginInstructions,
    /// `reset_instructions`: forgot password.
    ResetInstructions,
    /// `reset_notice`: after a reset.
    ResetNotice,
    /// `change_notice`: after a password change.
    ChangeNotice,
    /// `welcome_existing` (Flask-Security 5.9): with `SECURITY_RETURN_GENERIC_RESPONSES`, a
    /// registration of an address that has an account already; it goes to that address,
    /// with a reset link (when recoverable) and a confirmation link (when unconfirmed).
    WelcomeExisting,
    /// `unlock_instructions` (**port addition**): the account locked after repeated failed
    /// logins; the mail holds the unlock link.
    UnlockInstructions,
    /// `change_email_instructions` (Flask-Security 5.9): to the *new* address of a change of
    /// address, with the link that confirms it.
    ChangeEmailInstructions,
    /// `change_email_notice` (**port addition**): to the *old* address, once a change of
    /// address was confirmed.
    ChangeEmailNotice,
    /// `change_username_notice` (Flask-Security 5.9): after a username change.
    UsernameChangeNotice,
}

impl EmailKind {
    /// Every kind.
    pub const ALL: [EmailKind; 11] = [
        EmailKind::Welcome,
        EmailKind::ConfirmationInstructions,
        EmailKind::LoginInstructions,
        EmailKind::ResetInstructions,
        EmailKind::ResetNotice,
        EmailKind::ChangeNotice,
        EmailKind::WelcomeExisting,
        EmailKind::UnlockInstructions,
        EmailKind::ChangeEmailInstructions,
        EmailKind::ChangeEmailNotice,
        EmailKind::UsernameChangeNotice,
    ];

    /// The kind whose [`EmailKind::template_name`] is `name`.
    pub fn from_template_name(name: &str) -> Option<EmailKind> {
        EmailKind::ALL
            .into_iter()
            .find(|kind| kind.template_name() == name)
    }

    /// The template name (`security/email/<name>.txt` and `.html`).
    pub fn template_name(self) -> &'static str {
        match self {
            EmailKind::Welcome => "welcome",
            EmailKind::ConfirmationInstructions => "confirmation_instructions",
            EmailKind::LoginInstructions => "login_instructions",
            EmailKind::ResetInstructions => "reset_instructions",
            EmailKind::ResetNotice => "reset_notice",
            EmailKind::ChangeNotice => "change_notice",
            EmailKind::WelcomeExisting => "welcome_existing",
            EmailKind::UnlockInstructions => "unlock_instructions",
            EmailKind::ChangeEmailInstructions => "change_email_instructions",
            EmailKind::ChangeEmailNotice => "change_email_notice",
            EmailKind::UsernameChangeNotice => "change_username_notice",
        }
    }

    /// The template's full name: `security/email/<name>` (its `.txt` and `.html` parts).
    pub fn template(self) -> String {
        format!("security/email/{}", self.template_name())
    }

    /// The configuration key of the mail's subject.
    pub fn subject_key(self) -> &'static str {
        match self {
            EmailKind::Welcome | EmailKind::WelcomeExisting => "SECURITY_EMAIL_SUBJECT_REGISTER",
            EmailKind::ConfirmationInstructions => "SECURITY_EMAIL_SUBJECT_CONFIRM",
            EmailKind::LoginInstructions => "SECURITY_EMAIL_SUBJECT_PASSWORDLESS",
            EmailKind::ResetInstructions => "SECURITY_EMAIL_SUBJECT_PASSWORD_RESET",
            EmailKind::ResetNotice => "SECURITY_EMAIL_SUBJECT_PASSWORD_NOTICE",
            EmailKind::ChangeNotice => "SECURITY_EMAIL_SUBJECT_PASSWORD_CHANGE_NOTICE",
            EmailKind::UnlockInstructions => "SECURITY_EMAIL_SUBJECT_UNLOCK",
            EmailKind::ChangeEmailInstructions => "SECURITY_CHANGE_EMAIL_SUBJECT",
            EmailKind::ChangeEmailNotice => "SECURITY_EMAIL_SUBJECT_CHANGE_EMAIL_NOTICE",
            EmailKind::UsernameChangeNotice => "SECURITY_EMAIL_SUBJECT_USERNAME_CHANGE_NOTICE",
        }
    }

    /// The mail's subject: the value of its configuration key.
    pub fn subject(self, config: &crate::config::Config) -> &str {
        match self {
            EmailKind::Welcome | EmailKind::WelcomeExisting => &config.email_subject_register,
            EmailKind::ConfirmationInstructions => &config.email_subject_confirm,
            EmailKind::LoginInstructions => &config.email_subject_passwordless,
            EmailKind::ResetInstructions => &config.email_subject_password_reset,
            EmailKind::ResetNotice => &config.email_subject_password_notice,
            EmailKind::ChangeNotice => &config.email_subject_password_change_notice,
            EmailKind::UnlockInstructions => &config.email_subject_unlock,
            EmailKind::ChangeEmailInstructions => &config.change_email_subject,
            EmailKind::ChangeEmailNotice => &config.email_subject_change_email_notice,
            EmailKind::UsernameChangeNotice => &config.email_subject_username_change_notice,
        }
    }
}

/// Delivers rendered mail.
pub trait MailTransport: Send + Sync + 'static {
    /// Sends one mail.
    fn send(&self, mail: OutgoingMail) -> BoxFuture<'_, Result<(), MailError>>;
}

/// Flask-Mail's settings, read from `MAIL_*` variables.
#[derive(Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// `MAIL_SERVER` (default `localhost`).
    pub server: String,
    /// `MAIL_PORT` (default 25).
    pub port: u16,
    /// `MAIL_USE_TLS`: upgrade with STARTTLS (default false).
    pub use_tls: bool,
    /// `MAIL_USE_SSL`: implicit TLS (default false).
    pub use_ssl: bool,
    /// `MAIL_USERNAME`.
    pub username: Option<String>,
    /// `MAIL_PASSWORD`.
    pub password: Option<String>,
    /// `MAIL_TIMEOUT` in seconds (default 10).
    pub timeout: u64,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("server", &self.server)
            .field("port", &self.port)
            .field("use_tls", &self.use_tls)
            .field("use_ssl", &self.use_ssl)
            .field("username", &self.username)
            .field(
                "password",
                &crate::crypto::redact::Redacted(self.password.as_deref()),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            server: "localhost".into(),
            port: 25,
            use_tls: false,
            use_ssl: false,
            username: None,
            password: None,
            timeout: 10,
        }
    }
}

impl MailSettings {
    /// Reads `MAIL_SERVER`, `MAIL_PORT`, `MAIL_USE_TLS`, `MAIL_USE_SSL`, `MAIL_USERNAME`,
    /// `MAIL_PASSWORD`, `MAIL_TIMEOUT`; unset or empty means the default.
    ///
    /// # Errors
    /// A malformed value, naming its key.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, crate::config::ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let invalid = |key: &str, reason: &str| crate::config::ConfigError::Invalid {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        let flag = |key: &str, value: &str| match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(invalid(key, "expected true or false")),
        };
        let mut settings = MailSettings::default();
        for (key, value) in vars {
            let (key, value) = (key.as_ref(), value.as_ref().trim());
            if value.is_empty() {
                continue;
            }
            match key {
                "MAIL_SERVER" => settings.server = value.to_owned(),
                "MAIL_PORT" => {
                    settings.port = value.parse().map_err(|_| invalid(key, "expected a port"))?
                }
                "MAIL_USE_TLS" => settings.use_tls = flag(key, value)?,
                "MAIL_USE_SSL" => settings.use_ssl = flag(key, value)?,
                "MAIL_USERNAME" => settings.username = Some(value.to_owned()),
                "MAIL_PASSWORD" => settings.password = Some(value.to_owned()),
                "MAIL_TIMEOUT" => {
                    settings.timeout = value
                        .parse()
                        .map_err(|_| invalid(key, "expected seconds"))?
                }
                _ => {}
            }
        }
        Ok(settings)
    }

    /// [`MailSettings::from_vars`] over the process environment.
    ///
    /// # Errors
    /// A malformed value, naming its key.
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        Self::from_vars(std::env::vars())
    }
}

/// SMTP delivery through lettre's pooled async transport.
#[derive(Clone)]
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTransport").finish_non_exhaustive()
    }
}

impl SmtpTransport {
    /// A transport for the settings.
    ///
    /// # Errors
    /// TLS set-up failure for the server name.
    pub fn new(settings: &MailSettings) -> Result<Self, MailError> {
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.server.clone())
                .port(settings.port)
                .timeout(Some(Duration::from_secs(settings.timeout)));
        if settings.use_ssl || settings.use_tls {
            let params = TlsParameters::new(settings.server.clone()).map_err(MailError::Smtp)?;
            builder = builder.tls(if settings.use_ssl {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            });
        }
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(SmtpTransport {
            inner: builder.build(),
        })
    }
}

impl MailTransport for SmtpTransport {
    fn send(&self, mail: OutgoingMail) -> BoxFuture<'_, Result<(), MailError>> {
        Box::pin(async move {
            let message = mail.message()?;
            self.inner
                .send(message)
                .await
                .map(|_| ())
                .map_err(MailError::Smtp)
        })
    }
}

/// Writes each mail as an `.eml` file into a directory (lettre's file transport).
#[derive(Clone, Debug)]
pub struct FileTransport {
    dir: PathBuf,
    inner: lettre::AsyncFileTransport<Tokio1Executor>,
}

impl FileTransport {
    /// Writes into `dir` (which must exist).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        FileTransport {
            inner: lettre::AsyncFileTransport::new(&dir),
            dir,
        }
    }

    /// The directory the mails go to.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl MailTransport for FileTransport {
    fn send(&self, mail: OutgoingMail) -> BoxFuture<'_, Result<(), MailError>> {
        Box::pin(async move {
            let message = mail.message()?;
            self.inner
                .send(message)
                .await
                .map(|_| ())
                .map_err(MailError::File)
        })
    }
}

/// Flask-Security's `send_mail_task`: hands each built mail to the app's function instead of
/// sending it.
///
/// ```
/// let transport = security::mail::task(|mail: security::mail::OutgoingMail| async move {
///     // e.g. push to a job queue
///     println!("to {}: {}", mail.to, mail.subject);
///     Ok(())
/// });
/// # let _ = transport;
/// ```
pub fn task<F, Fut>(f: F) -> TaskTransport<F>
where
    F: Fn(OutgoingMail) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), MailError>> + Send + 'static,
{
    TaskTransport(f)
}

/// A [`MailTransport`] made by [`task`].
#[derive(Clone)]
pub struct TaskTransport<F>(F);

impl<F, Fut> MailTransport for TaskTransport<F>
where
    F: Fn(OutgoingMail) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), MailError>> + Send + 'static,
{
    fn send(&self, mail: OutgoingMail) -> BoxFuture<'_, Result<(), MailError>> {
        Box::pin((self.0)(mail))
    }
}

impl<T: MailTransport + ?Sized> MailTransport for Arc<T> {
    fn send(&self, mail: OutgoingMail) -> BoxFuture<'_, Result<(), MailError>> {
        (**self).send(mail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(to: &str) -> OutgoingMail {
        OutgoingMail {
            kind: EmailKind::Welcome,
            from: "no-reply@localhost".into(),
            to: to.into(),
            subject: "Welcome".into(),
            text: "Welcome!".into(),
            html: "<p>Welcome!</p>".into(),
        }
    }

    #[test]
    fn message_is_multipart_with_text_and_html() {
        let raw = String::from_utf8(mail("matt@lp.com").message().unwrap().formatted()).unwrap();
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
        assert!(raw.contains("Subject: Welcome"));
    }

    #[test]
    fn addresses_with_line_breaks_are_refused() {
        for evil in [
            "matt@lp.com\r\nBcc: evil@x.com",
            "matt@lp.com\nBcc: evil@x.com",
        ] {
            assert!(matches!(mail(evil).message(), Err(MailError::Address(_))));
        }
    }

    #[test]
    fn settings_read_flask_mail_names() {
        let s = MailSettings::from_vars([
            ("MAIL_SERVER", "smtp.example.com"),
            ("MAIL_PORT", "2525"),
            ("MAIL_USE_TLS", "true"),
            ("MAIL_USERNAME", "u"),
            ("MAIL_PASSWORD", "p"),
        ])
        .unwrap();
        assert_eq!(s.server, "smtp.example.com");
        assert_eq!(s.port, 2525);
        assert!(s.use_tls && !s.use_ssl);
        assert!(MailSettings::from_vars([("MAIL_PORT", "many")]).is_err());
        assert_eq!(
            MailSettings::from_vars([("MAIL_PORT", "")]).unwrap().port,
            25
        );
    }

    #[tokio::test]
    async fn file_transport_writes_an_eml_file() {
        let dir = tempfile::tempdir().unwrap();
        FileTransport::new(dir.path())
            .send(mail("joe@lp.com"))
            .await
            .unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1);
    }
}
