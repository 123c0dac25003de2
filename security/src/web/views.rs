//! Page and e-mail templates (Flask-Security's `templates/security/`), rendered with askama,
//! and how an app replaces them or adds to their context.
//!
//! Templates are registered by Flask-Security's file names (`security/login_user.html`,
//! `security/email/welcome`, …). The `SECURITY_*_TEMPLATE` settings pick a template by name, so
//! an app can register its own askama template under a new name and point the setting at it,
//! or register it under the default name to replace the built-in one:
//!
//! ```
//! use askama::Template;
//! use security::views::{Templates, ViewContext};
//!
//! #[derive(Template)]
//! #[template(source = "<h1>My login</h1>{{ ctx.extra(\"motd\") }}", ext = "html")]
//! struct MyLogin<'a> {
//!     ctx: &'a ViewContext,
//! }
//!
//! let mut templates = Templates::default();
//! templates.page("security/login_user.html", |ctx| MyLogin { ctx }.render());
//! templates.context_processor(|ctx| {
//!     ctx.extra.insert("motd".into(), "Welcome back".into());
//! });
//! # let _ = templates;
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use askama::Template;

pub use crate::flows::context::Page;

use crate::mail::EmailKind;
use crate::web::session::Flash;

/// The pages of Flask-Security 1.7.4, and those of 5.9 this port has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViewName {
    /// `security/login_user.html` (`SECURITY_LOGIN_USER_TEMPLATE`).
    LoginUser,
    /// `security/register_user.html` (`SECURITY_REGISTER_USER_TEMPLATE`).
    RegisterUser,
    /// `security/forgot_password.html` (`SECURITY_FORGOT_PASSWORD_TEMPLATE`).
    ForgotPassword,
    /// `security/reset_password.html` (`SECURITY_RESET_PASSWORD_TEMPLATE`).
    ResetPassword,
    /// `security/change_password.html` (`SECURITY_CHANGE_PASSWORD_TEMPLATE`).
    ChangePassword,
    /// `security/send_confirmation.html` (`SECURITY_SEND_CONFIRMATION_TEMPLATE`).
    SendConfirmation,
    /// `security/send_login.html` (`SECURITY_SEND_LOGIN_TEMPLATE`).
    SendLogin,
    /// `security/verify.html` (`SECURITY_VERIFY_TEMPLATE`, Flask-Security 5.9): the password
    /// again, for a fresh authentication.
    Verify,
    /// `security/change_email.html` (`SECURITY_CHANGE_EMAIL_TEMPLATE`, Flask-Security 5.9):
    /// ask for a new e-mail address.
    ChangeEmail,
    /// `security/api_keys.html` (`SECURITY_API_KEYS_TEMPLATE`, port addition): the user's API
    /// keys, a form to create one, and the key just created.
    ApiKeys,
    /// `security/change_username.html` (`SECURITY_CHANGE_USERNAME_TEMPLATE`, Flask-Security
    /// 5.9).
    ChangeUsername,
}

impl ViewName {
    /// The configuration key naming the page's template.
    pub fn config_key(self) -> &'static str {
        match self {
            ViewName::LoginUser => "SECURITY_LOGIN_USER_TEMPLATE",
            ViewName::RegisterUser => "SECURITY_REGISTER_USER_TEMPLATE",
            ViewName::ForgotPassword => "SECURITY_FORGOT_PASSWORD_TEMPLATE",
            ViewName::ResetPassword => "SECURITY_RESET_PASSWORD_TEMPLATE",
            ViewName::ChangePassword => "SECURITY_CHANGE_PASSWORD_TEMPLATE",
            ViewName::SendConfirmation => "SECURITY_SEND_CONFIRMATION_TEMPLATE",
            ViewName::SendLogin => "SECURITY_SEND_LOGIN_TEMPLATE",
            ViewName::Verify => "SECURITY_VERIFY_TEMPLATE",
            ViewName::ChangeEmail => "SECURITY_CHANGE_EMAIL_TEMPLATE",
            ViewName::ApiKeys => "SECURITY_API_KEYS_TEMPLATE",
            ViewName::ChangeUsername => "SECURITY_CHANGE_USERNAME_TEMPLATE",
        }
    }

    /// The template that renders the page: the value of its configuration key.
    pub fn template(self, config: &crate::config::Config) -> &str {
        match self {
            ViewName::LoginUser => &config.login_user_template,
            ViewName::RegisterUser => &config.register_user_template,
            ViewName::ForgotPassword => &config.forgot_password_template,
            ViewName::ResetPassword => &config.reset_password_template,
            ViewName::ChangePassword => &config.change_password_template,
            ViewName::SendConfirmation => &config.send_confirmation_template,
            ViewName::SendLogin => &config.send_login_template,
            ViewName::Verify => &config.verify_template,
            ViewName::ChangeEmail => &config.change_email_template,
            ViewName::ApiKeys => &config.api_keys_template,
            ViewName::ChangeUsername => &config.change_username_template,
        }
    }

    /// Every page.
    pub const ALL: [ViewName; 11] = [
        ViewName::LoginUser,
        ViewName::RegisterUser,
        ViewName::ForgotPassword,
        ViewName::ResetPassword,
        ViewName::ChangePassword,
        ViewName::SendConfirmation,
        ViewName::SendLogin,
        ViewName::Verify,
        ViewName::ChangeEmail,
        ViewName::ApiKeys,
        ViewName::ChangeUsername,
    ];

    /// The built-in template's name.
    pub fn default_template(self) -> &'static str {
        match self {
            ViewName::LoginUser => "security/login_user.html",
            ViewName::RegisterUser => "security/register_user.html",
            ViewName::ForgotPassword => "security/forgot_password.html",
            ViewName::ResetPassword => "security/reset_password.html",
            ViewName::ChangePassword => "security/change_password.html",
            ViewName::SendConfirmation => "security/send_confirmation.html",
            ViewName::SendLogin => "security/send_login.html",
            ViewName::Verify => "security/verify.html",
            ViewName::ChangeEmail => "security/change_email.html",
            ViewName::ApiKeys => "security/api_keys.html",
            ViewName::ChangeUsername => "security/change_username.html",
        }
    }

    /// The page title of the built-in template.
    pub fn title(self) -> &'static str {
        match self {
            ViewName::LoginUser | ViewName::SendLogin => "Login",
            ViewName::RegisterUser => "Register",
            ViewName::ForgotPassword => "Send password reset instructions",
            ViewName::ResetPassword => "Reset password",
            ViewName::ChangePassword => "Change password",
            ViewName::SendConfirmation => "Resend confirmation instructions",
            ViewName::Verify => "Reauthenticate",
            ViewName::ChangeEmail => "Change Email",
            ViewName::ApiKeys => "API keys",
            ViewName::ChangeUsername => "Change Username",
        }
    }
}

/// The URLs of the security views, for links and form actions.
#[derive(Clone, Debug, Default)]
pub struct Urls {
    /// Login (or send-login link, with passwordless).
    pub login: String,
    /// Logout.
    pub logout: String,
    /// Registration.
    pub register: String,
    /// Forgot password.
    pub forgot_password: String,
    /// The reset form's own URL (with its token), on the reset page.
    pub reset_password: String,
    /// Change password.
    pub change_password: String,
    /// Resend confirmation.
    pub send_confirmation: String,
    /// Re-authentication (Flask-Security 5.9's verify view), with the request's `?next=` (the
    /// verify page's form action).
    pub verify: String,
    /// Change of e-mail address (Flask-Security 5.9's change-email view).
    pub change_email: String,
    /// The API keys view (`SECURITY_API_KEYS_URL`).
    pub api_keys: String,
    /// Change username (Flask-Security 5.9).
    pub change_username: String,
    /// The default pages' stylesheet, with its `?v=` ([`stylesheet_url`]).
    pub stylesheet: String,
}

/// Which optional features are on (the menu shows links to them).
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    /// `SECURITY_REGISTERABLE`.
    pub registerable: bool,
    /// `SECURITY_RECOVERABLE`.
    pub recoverable: bool,
    /// `SECURITY_CONFIRMABLE`.
    pub confirmable: bool,
    /// `SECURITY_PASSWORDLESS`.
    pub passwordless: bool,
    /// `SECURITY_CHANGEABLE`.
    pub changeable: bool,
    /// `SECURITY_USERNAME_ENABLE` (Flask-Security 5.9): the login page has a `username` field.
    pub username: bool,
    /// `SECURITY_USERNAME_REQUIRED` (Flask-Security 5.9): the registration's `username` is
    /// required.
    pub username_required: bool,
    /// `SECURITY_CHANGE_EMAIL` (Flask-Security 5.9).
    pub change_email: bool,
    /// `SECURITY_API_KEYS`.
    pub api_keys: bool,
    /// `SECURITY_CHANGE_USERNAME` (Flask-Security 5.9).
    pub change_username: bool,
    /// `SECURITY_LOGOUT_METHODS` has `POST`: the menu logs out with a form that carries the
    /// CSRF token (else with a link).
    pub logout_post: bool,
    /// The login's `email` field takes only an e-mail address (no username, no other identity
    /// attribute), so the page gives it `type="email"`.
    pub login_by_email: bool,
}

/// An extra field of the registration form, added by the app.
#[derive(Clone, Debug)]
pub struct ExtraField {
    /// The form field (and user column) name.
    pub name: String,
    /// The label.
    pub label: String,
    /// The input type (`text`, `email`, …).
    pub kind: String,
}

/// What a page template gets.
#[derive(Clone, Default)]
pub struct ViewContext {
    /// The page.
    pub view: Option<ViewName>,
    /// The page title.
    pub title: String,
    /// Flashed messages to show (consumed by this page).
    pub flashes: Vec<Flash>,
    /// The CSRF token to put in the form (`None` when CSRF is off).
    pub csrf_token: Option<String>,
    /// The submitted values (never passwords), by field name.
    pub values: BTreeMap<String, String>,
    /// The validation errors, by field name.
    pub errors: BTreeMap<String, Vec<String>>,
    /// The `next` target carried through the form.
    pub next: Option<String>,
    /// The security URLs.
    pub urls: Urls,
    /// The optional features that are on.
    pub features: Features,
    /// The logged-in user's e-mail address.
    pub user_email: Option<String>,
    /// The reset token (reset page only).
    pub reset_password_token: Option<String>,
    /// The app's extra registration fields (registration page only).
    pub extra_fields: Vec<ExtraField>,
    /// Values added by context processors.
    pub extra: BTreeMap<String, String>,
    /// The user's API keys (API keys page only).
    pub api_keys: Vec<crate::web::api_keys::ApiKey>,
    /// The API key just created, shown this once (API keys page only).
    pub new_api_key: Option<String>,
    /// The body of an app's page in the default layout (HTML, already escaped: see
    /// [`PageBody`]); empty on the security views.
    pub content: String,
}

impl ViewContext {
    /// The submitted value of a field, or "".
    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    /// Whether a checkbox was checked.
    pub fn checked(&self, name: &str) -> bool {
        matches!(self.value(name), v if !v.is_empty() && v != "false")
    }

    /// The errors of a field.
    pub fn errors(&self, name: &str) -> &[String] {
        self.errors.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether this is the page of `view` (the menu marks its link `aria-current="page"`).
    pub fn is_view(&self, view: ViewName) -> bool {
        self.view == Some(view)
    }

    /// Whether a field has errors (its input gets `aria-invalid="true"` and an
    /// `aria-describedby` naming the list of its errors, `<name>-errors`).
    pub fn has_errors(&self, name: &str) -> bool {
        !self.errors(name).is_empty()
    }

    /// A value added by a context processor, or "".
    pub fn extra(&self, key: &str) -> &str {
        self.extra.get(key).map(String::as_str).unwrap_or("")
    }

    /// The flashes of category `error` (`errors: true`: shown with `role="alert"`), or the
    /// others (shown with `role="status"`).
    pub fn flashes_where(&self, errors: bool) -> Vec<&Flash> {
        self.flashes
            .iter()
            .filter(|flash| (flash.category == "error") == errors)
            .collect()
    }

    /// The `next` value for a hidden field.
    pub fn next_value(&self) -> &str {
        self.next.as_deref().unwrap_or("")
    }

    /// `?next=…` to carry `next` through a link, or "".
    pub fn next_query(&self) -> String {
        match &self.next {
            Some(next) if !next.is_empty() => format!(
                "?next={}",
                percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
            ),
            _ => String::new(),
        }
    }
}

/// What an e-mail template gets.
#[derive(Clone, Default)]
pub struct EmailContext {
    /// Which mail.
    pub kind: Option<EmailKind>,
    /// The user's stored address.
    pub user_email: String,
    /// The mail's link: `confirmation_link`, `login_link`, `reset_link`, or the reset page on
    /// the change notice when recoverable; `None` where 1.7.4 has none.
    pub link: Option<String>,
    /// `welcome_existing`: a link to reset the password (when recoverable).
    pub reset_link: Option<String>,
    /// `welcome_existing`: a link to confirm the address (when it is not confirmed yet).
    pub confirmation_link: Option<String>,
    /// Values added by mail context processors.
    pub extra: BTreeMap<String, String>,
}

impl std::fmt::Debug for ViewContext {
    /// The CSRF token and the reset token redacted (the URLs, which hold the latter, left out).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::crypto::redact::Redacted;
        f.debug_struct("ViewContext")
            .field("view", &self.view)
            .field("title", &self.title)
            .field("flashes", &self.flashes)
            .field("csrf_token", &Redacted(self.csrf_token.as_deref()))
            .field("values", &self.values)
            .field("errors", &self.errors)
            .field("next", &self.next)
            .field("features", &self.features)
            .field("user_email", &self.user_email)
            .field(
                "reset_password_token",
                &Redacted(self.reset_password_token.as_deref()),
            )
            .field("extra_fields", &self.extra_fields)
            .field("extra", &self.extra)
            .field("api_keys", &self.api_keys)
            .field("new_api_key", &Redacted(self.new_api_key.as_deref()))
            .field("content", &self.content.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for EmailContext {
    /// The links redacted: they log in or reset a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::crypto::redact::Redacted;
        f.debug_struct("EmailContext")
            .field("kind", &self.kind)
            .field("user_email", &self.user_email)
            .field("link", &Redacted(self.link.as_deref()))
            .field("reset_link", &Redacted(self.reset_link.as_deref()))
            .field(
                "confirmation_link",
                &Redacted(self.confirmation_link.as_deref()),
            )
            .field("extra", &self.extra)
            .finish()
    }
}

impl EmailContext {
    /// The link, or "".
    pub fn link_text(&self) -> &str {
        self.link.as_deref().unwrap_or("")
    }

    /// A value added by a context processor, or "".
    pub fn extra(&self, key: &str) -> &str {
        self.extra.get(key).map(String::as_str).unwrap_or("")
    }
}

/// The default pages' stylesheet, shipped in the crate and served by the security router at
/// [`Config::stylesheet_path`](crate::config::Config::stylesheet_path).
pub const STYLESHEET: &str = include_str!("../../static/security.css");

/// The template of an app's page in the default layout ([`Page`](crate::views::Page)): the
/// layout, the menu, the flashes, the title as the `<h1>` and [`ViewContext::content`].
/// Register another page under this name to change it.
pub const APP_PAGE_TEMPLATE: &str = "security/page.html";

/// The hex SHA-256 of [`STYLESHEET`], computed once.
fn stylesheet_digest() -> &'static str {
    static DIGEST: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use sha2::Digest;
        sha2::Sha256::digest(STYLESHEET.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    });
    &DIGEST
}

/// The stylesheet's version: the first 8 hex digits of its SHA-256 (its URL's `?v=`).
pub fn stylesheet_version() -> &'static str {
    &stylesheet_digest()[..8]
}

/// The stylesheet's URL, as the pages link it: its path and `?v=<version>`, so that a browser
/// that cached an older one fetches the new one.
pub fn stylesheet_url(config: &crate::config::Config) -> String {
    format!("{}?v={}", config.stylesheet_path(), stylesheet_version())
}

/// `GET <static_folder_url>/security.css`: the stylesheet, `text/css`, with an `ETag`
/// (answered 304 to a matching `If-None-Match`); cached for a year, immutable, when the
/// request names the current version (`?v=`), else revalidated on every use.
pub(crate) async fn serve_stylesheet(parts: http::request::Parts) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http::{HeaderValue, StatusCode, header};

    let etag = format!("\"{}\"", &stylesheet_digest()[..16]);
    let current = parts.uri.query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair == format!("v={}", stylesheet_version()))
    });
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "public, no-cache"
    };
    let matches = parts
        .headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag);
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            )],
            STYLESHEET,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

/// Whether a link target is a relative URL or an `http`, `https` or `mailto` one. A scheme is
/// what precedes the first `:` when no `/`, `?` or `#` comes before it; browsers ignore tabs
/// and newlines inside it and its case (`java\tscript:`, `JAVASCRIPT:`), so those are removed
/// before comparing.
fn safe_href(href: &str) -> bool {
    let cleaned: String = href
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    match cleaned.find([':', '/', '?', '#']) {
        Some(at) if cleaned[at..].starts_with(':') => {
            let scheme = cleaned[..at].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto")
        }
        _ => true,
    }
}

/// `text` with the characters that mean something in HTML (`& < > " '`) escaped, for text
/// put in a page or an attribute.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The body of an app's page in the default layout ([`Page`](crate::views::Page)): headings,
/// paragraphs and lists of links, whose text and URLs are escaped as they are added, and HTML
/// the app vouches for.
///
/// ```
/// use security::views::PageBody;
///
/// let body = PageBody::new()
///     .paragraph("Signed in as <matt@example.com>")
///     .links([("Change password", "/change"), ("Log out", "/logout")]);
/// assert!(body.as_html().contains("&lt;matt@example.com&gt;"));
/// assert!(body.as_html().contains(r#"<a href="/change">Change password</a>"#));
/// ```
#[derive(Clone, Debug, Default)]
pub struct PageBody {
    html: String,
}

impl PageBody {
    /// An empty body.
    pub fn new() -> Self {
        PageBody::default()
    }

    /// A second-level heading (the page's title is its only `<h1>`).
    pub fn heading(mut self, text: &str) -> Self {
        self.html
            .push_str(&format!("<h2>{}</h2>\n", escape_html(text)));
        self
    }

    /// A paragraph of text.
    pub fn paragraph(mut self, text: &str) -> Self {
        self.html
            .push_str(&format!("<p>{}</p>\n", escape_html(text)));
        self
    }

    /// A list of links: (text, URL) pairs. Nothing is added for an empty list. A URL with a
    /// scheme other than `http`, `https` or `mailto` (`javascript:`, `data:`, …) is replaced
    /// by `#`: a URL a user gave cannot run script when clicked.
    pub fn links<'a>(mut self, links: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let items: String = links
            .into_iter()
            .map(|(text, href)| {
                let href = if safe_href(href) { href } else { "#" };
                format!(
                    "  <li><a href=\"{}\">{}</a></li>\n",
                    escape_html(href),
                    escape_html(text)
                )
            })
            .collect();
        if !items.is_empty() {
            self.html
                .push_str(&format!("<ul class=\"fs-links\">\n{items}</ul>\n"));
        }
        self
    }

    /// HTML added as it is: the app answers for it (escape what it did not write with
    /// [`escape_html`]). A strict `Content-Security-Policy` refuses inline scripts and styles.
    pub fn trusted_html(mut self, html: &str) -> Self {
        self.html.push_str(html);
        self
    }

    /// The body's HTML.
    pub fn as_html(&self) -> &str {
        &self.html
    }
}

type PageFn = dyn Fn(&ViewContext) -> Result<String, askama::Error> + Send + Sync;
type EmailFn = dyn Fn(&EmailContext) -> Result<(String, String), askama::Error> + Send + Sync;
type ProcessorFn = dyn Fn(&mut ViewContext) + Send + Sync;
type MailProcessorFn = dyn Fn(&mut EmailContext) + Send + Sync;

/// The template registry: pages and e-mails by name, and context processors.
#[derive(Clone)]
pub struct Templates {
    pages: HashMap<String, Arc<PageFn>>,
    emails: HashMap<String, Arc<EmailFn>>,
    processors: Vec<Arc<ProcessorFn>>,
    view_processors: HashMap<ViewName, Vec<Arc<ProcessorFn>>>,
    mail_processors: Vec<Arc<MailProcessorFn>>,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templates")
            .field("pages", &self.pages.keys().collect::<Vec<_>>())
            .field("emails", &self.emails.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Default for Templates {
    fn default() -> Self {
        let mut t = Templates {
            pages: HashMap::new(),
            emails: HashMap::new(),
            processors: Vec::new(),
            view_processors: HashMap::new(),
            mail_processors: Vec::new(),
        };
        defaults::register(&mut t);
        t
    }
}

impl Templates {
    /// Registers (or replaces) a page template under `name`.
    pub fn page<F>(&mut self, name: impl Into<String>, render: F) -> &mut Self
    where
        F: Fn(&ViewContext) -> Result<String, askama::Error> + Send + Sync + 'static,
    {
        self.pages.insert(name.into(), Arc::new(render));
        self
    }

    /// Registers (or replaces) an e-mail template pair (text, HTML) under `name`, e.g.
    /// `security/email/reset_instructions`.
    pub fn email<F>(&mut self, name: impl Into<String>, render: F) -> &mut Self
    where
        F: Fn(&EmailContext) -> Result<(String, String), askama::Error> + Send + Sync + 'static,
    {
        self.emails.insert(name.into(), Arc::new(render));
        self
    }

    /// Adds a context processor that runs for every page (`@security.context_processor`).
    pub fn context_processor<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(&mut ViewContext) + Send + Sync + 'static,
    {
        self.processors.push(Arc::new(f));
        self
    }

    /// Adds a context processor for one page (`@security.login_context_processor`, …). It
    /// runs after the global ones.
    pub fn view_context_processor<F>(&mut self, view: ViewName, f: F) -> &mut Self
    where
        F: Fn(&mut ViewContext) + Send + Sync + 'static,
    {
        self.view_processors
            .entry(view)
            .or_default()
            .push(Arc::new(f));
        self
    }

    /// Adds a context processor for every e-mail (`@security.mail_context_processor`).
    pub fn mail_context_processor<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(&mut EmailContext) + Send + Sync + 'static,
    {
        self.mail_processors.push(Arc::new(f));
        self
    }

    /// Whether a page template is registered under `name`.
    pub fn has_page(&self, name: &str) -> bool {
        self.pages.contains_key(name)
    }

    /// Renders a page: runs the context processors, then the template registered under `name`.
    ///
    /// # Errors
    /// No template under `name`, or the template failed.
    pub fn render_page(&self, name: &str, mut ctx: ViewContext) -> Result<String, askama::Error> {
        for processor in &self.processors {
            processor(&mut ctx);
        }
        if let Some(view) = ctx.view {
            for processor in self.view_processors.get(&view).into_iter().flatten() {
                processor(&mut ctx);
            }
        }
        let render = self.pages.get(name).ok_or_else(|| missing(name))?;
        render(&ctx)
    }

    /// Renders an e-mail's (text, HTML) bodies.
    ///
    /// # Errors
    /// No template under `name`, or the template failed.
    pub fn render_email(
        &self,
        name: &str,
        mut ctx: EmailContext,
    ) -> Result<(String, String), askama::Error> {
        for processor in &self.mail_processors {
            processor(&mut ctx);
        }
        let render = self.emails.get(name).ok_or_else(|| missing(name))?;
        render(&ctx)
    }
}

fn missing(name: &str) -> askama::Error {
    askama::Error::Custom(format!("no template registered under `{name}`").into())
}

/// The built-in templates.
mod defaults {
    use super::*;

    macro_rules! pages {
        ($($ty:ident => $path:literal),* $(,)?) => {$(
            #[derive(Template)]
            #[template(path = $path)]
            struct $ty<'a> {
                ctx: &'a ViewContext,
            }
        )*
        pub(super) fn register_pages(t: &mut Templates) {
            $( t.page($path, |ctx| $ty { ctx }.render()); )*
        }};
    }

    pages! {
        AppPage => "security/page.html",
        LoginUser => "security/login_user.html",
        RegisterUser => "security/register_user.html",
        ForgotPassword => "security/forgot_password.html",
        ResetPassword => "security/reset_password.html",
        ChangePassword => "security/change_password.html",
        SendConfirmation => "security/send_confirmation.html",
        SendLogin => "security/send_login.html",
        Verify => "security/verify.html",
        ChangeEmail => "security/change_email.html",
        ApiKeys => "security/api_keys.html",
        ChangeUsername => "security/change_username.html",
    }

    macro_rules! emails {
        ($($text:ident: $text_path:literal, $html:ident: $html_path:literal => $name:literal),* $(,)?) => {$(
            #[derive(Template)]
            #[template(path = $text_path)]
            #[allow(dead_code)] // a template may use no variable
            struct $text<'a> {
                ctx: &'a EmailContext,
            }
            #[derive(Template)]
            #[template(path = $html_path)]
            #[allow(dead_code)] // a template may use no variable
            struct $html<'a> {
                ctx: &'a EmailContext,
            }
        )*
        pub(super) fn register_emails(t: &mut Templates) {
            $( t.email($name, |ctx| {
                Ok(($text { ctx }.render()?, $html { ctx }.render()?))
            }); )*
        }};
    }

    emails! {
        WelcomeText: "security/email/welcome.txt",
        WelcomeHtml: "security/email/welcome.html" => "security/email/welcome",
        ConfirmText: "security/email/confirmation_instructions.txt",
        ConfirmHtml: "security/email/confirmation_instructions.html"
            => "security/email/confirmation_instructions",
        LoginText: "security/email/login_instructions.txt",
        LoginHtml: "security/email/login_instructions.html" => "security/email/login_instructions",
        ResetText: "security/email/reset_instructions.txt",
        ResetHtml: "security/email/reset_instructions.html" => "security/email/reset_instructions",
        ResetNoticeText: "security/email/reset_notice.txt",
        ResetNoticeHtml: "security/email/reset_notice.html" => "security/email/reset_notice",
        ChangeNoticeText: "security/email/change_notice.txt",
        ChangeNoticeHtml: "security/email/change_notice.html" => "security/email/change_notice",
        WelcomeExistingText: "security/email/welcome_existing.txt",
        WelcomeExistingHtml: "security/email/welcome_existing.html"
            => "security/email/welcome_existing",
        UnlockText: "security/email/unlock_instructions.txt",
        UnlockHtml: "security/email/unlock_instructions.html"
            => "security/email/unlock_instructions",
        ChangeEmailText: "security/email/change_email_instructions.txt",
        ChangeEmailHtml: "security/email/change_email_instructions.html"
            => "security/email/change_email_instructions",
        ChangeEmailNoticeText: "security/email/change_email_notice.txt",
        ChangeEmailNoticeHtml: "security/email/change_email_notice.html"
            => "security/email/change_email_notice",
        ChangeUsernameNoticeText: "security/email/change_username_notice.txt",
        ChangeUsernameNoticeHtml: "security/email/change_username_notice.html"
            => "security/email/change_username_notice",
    }

    pub(super) fn register(t: &mut Templates) {
        register_pages(t);
        register_emails(t);
    }
}

/// The template name of an e-mail kind.
pub fn email_template(kind: EmailKind) -> String {
    kind.template()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(view: ViewName) -> ViewContext {
        ViewContext {
            view: Some(view),
            title: view.title().into(),
            csrf_token: Some("tok".into()),
            ..ViewContext::default()
        }
    }

    #[test]
    fn every_default_page_renders_its_heading_and_form_name() {
        let t = Templates::default();
        for (view, form) in [
            (ViewName::LoginUser, "login_user_form"),
            (ViewName::RegisterUser, "register_user_form"),
            (ViewName::ForgotPassword, "forgot_password_form"),
            (ViewName::ResetPassword, "reset_password_form"),
            (ViewName::ChangePassword, "change_password_form"),
            (ViewName::SendConfirmation, "send_confirmation_form"),
            (ViewName::SendLogin, "send_login_form"),
            (ViewName::Verify, "verify_form"),
            (ViewName::ChangeEmail, "change_email_form"),
            (ViewName::ApiKeys, "api_key_form"),
            (ViewName::ChangeUsername, "change_username_form"),
        ] {
            let html = t.render_page(view.default_template(), ctx(view)).unwrap();
            assert!(
                html.contains(&format!("<h1>{}</h1>", view.title())),
                "{html}"
            );
            assert!(html.contains(&format!("name=\"{form}\"")), "{html}");
            assert!(html.contains("name=\"csrf_token\""), "{html}");
        }
    }

    #[test]
    fn errors_and_flashes_are_shown_and_escaped() {
        let mut c = ctx(ViewName::LoginUser);
        c.errors.insert(
            "email".into(),
            vec!["<b>Specified</b> user does not exist".into()],
        );
        c.flashes.push(Flash {
            category: "error".into(),
            message: "Oops & co".into(),
        });
        c.values.insert("email".into(), "\"><script>".into());
        let html = Templates::default()
            .render_page("security/login_user.html", c)
            .unwrap();
        assert!(
            html.contains("Specified") && !html.contains("<b>Specified</b>"),
            "{html}"
        );
        assert!(
            html.contains("<li class=\"error\">Oops &#38; co</li>"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn the_stylesheet_follows_dark_mode_and_shows_focus() {
        assert!(STYLESHEET.contains("@media (prefers-color-scheme: dark)"));
        assert!(STYLESHEET.contains(":focus-visible"));
        assert_eq!(stylesheet_version().len(), 8);
        let config = crate::config::Config::from_vars([
            ("SECRET_KEY", "0123456789abcdef0123"),
            ("SECURITY_STATIC_FOLDER_URL", "static"),
        ])
        .unwrap();
        assert_eq!(
            stylesheet_url(&config),
            format!("/static/security.css?v={}", stylesheet_version())
        );
    }

    #[test]
    fn page_bodies_escape_what_they_are_given() {
        let body = PageBody::new()
            .heading("<h1>")
            .paragraph("a & b")
            .links([("\"x\"", "/p?a=1&b='2'")])
            .links([])
            .trusted_html("<hr>");
        assert_eq!(
            body.as_html(),
            "<h2>&lt;h1&gt;</h2>\n<p>a &amp; b</p>\n<ul class=\"fs-links\">\n  <li><a \
             href=\"/p?a=1&amp;b=&#39;2&#39;\">&quot;x&quot;</a></li>\n</ul>\n<hr>"
        );
    }

    #[test]
    fn page_links_refuse_script_urls() {
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
        ] {
            let html = PageBody::new().links([("x", bad)]).as_html().to_owned();
            assert!(html.contains("href=\"#\""), "{bad:?}: {html}");
        }
        for good in [
            "/profile",
            "profile?next=a:b",
            "#top",
            "https://example.com/a",
            "HTTP://example.com",
            "mailto:a@example.com",
            "//example.com/x",
        ] {
            assert!(safe_href(good), "{good:?}");
        }
    }

    #[test]
    fn processors_and_overrides_apply() {
        let mut t = Templates::default();
        t.context_processor(|c| {
            c.extra.insert("global".into(), "global".into());
        });
        t.view_context_processor(ViewName::LoginUser, |c| {
            c.extra.insert("foo".into(), "bar".into());
        });
        t.page("custom/login.html", |c| {
            Ok(format!("CUSTOM {} {}", c.extra("global"), c.extra("foo")))
        });
        let out = t
            .render_page("custom/login.html", ctx(ViewName::LoginUser))
            .unwrap();
        assert_eq!(out, "CUSTOM global bar");
        let other = t
            .render_page("custom/login.html", ctx(ViewName::RegisterUser))
            .unwrap();
        assert_eq!(other, "CUSTOM global ");
        assert!(
            t.render_page("nope.html", ctx(ViewName::LoginUser))
                .is_err()
        );
    }

    #[test]
    fn every_email_renders_both_parts_with_the_link() {
        let t = Templates::default();
        for kind in EmailKind::ALL {
            let link = Some("http://localhost/x/token".to_owned());
            let existing = kind == EmailKind::WelcomeExisting;
            let ctx = EmailContext {
                kind: Some(kind),
                user_email: "matt@lp.com".into(),
                link: (!existing).then(|| link.clone()).flatten(),
                reset_link: existing.then(|| link.clone()).flatten(),
                confirmation_link: None,
                extra: BTreeMap::new(),
            };
            let (text, html) = t.render_email(&email_template(kind), ctx).unwrap();
            assert!(
                !text.trim().is_empty() && !html.trim().is_empty(),
                "{kind:?}"
            );
            if !matches!(
                kind,
                EmailKind::ResetNotice | EmailKind::UsernameChangeNotice
            ) {
                assert!(
                    text.contains("http://localhost/x/token"),
                    "{kind:?}: {text}"
                );
                // As a button and as text (href and content): a client that shows no
                // button still shows the address.
                assert!(
                    html.matches("http://localhost/x/token").count() >= 3,
                    "{kind:?}: {html}"
                );
            }
            assert!(html.starts_with("<!DOCTYPE html>"), "{kind:?}: {html}");
            assert!(html.contains("<html lang=\"en\">"), "{kind:?}: {html}");
        }
    }
}

/// A validator of an extra registration field: the submitted text (trimmed) to the value to
/// store, or the error message to show next to the field.
pub type FieldValidator =
    Arc<dyn Fn(&str) -> Result<sea_orm::Value, String> + Send + Sync + 'static>;

/// An extra field of the registration form (first name, last name, …), stored on the user.
#[derive(Clone)]
pub struct RegisterField {
    pub(crate) spec: ExtraField,
    pub(crate) validate: FieldValidator,
}

impl std::fmt::Debug for RegisterField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterField")
            .field("name", &self.spec.name)
            .finish_non_exhaustive()
    }
}
