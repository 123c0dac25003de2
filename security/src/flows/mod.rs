//! The security views (Flask-Security's `views.py`), one flow per module, and what they share:
//! reading form or JSON input, CSRF, rendering pages, the JSON envelope, redirects and links.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::compat::LegacyPayload;
use crate::messages::MessageKey;
use crate::store::datastore::UserWithRoles;
use crate::store::model::SecurityUser;
use crate::web::request::{has_json_body, link_base, trusted_hosts};
use crate::web::response::{self, FormErrors};
use crate::web::runtime::Runtime;
use crate::web::session::Session;
use crate::web::views::{Features, Urls, ViewContext, ViewName};

pub(crate) mod change;
pub(crate) mod confirm;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod passwordless;
pub(crate) mod recover;
pub(crate) mod register;

/// The enabled views at the configured URLs (spec §5.0).
pub(crate) fn router<U: SecurityUser, S: Clone + Send + Sync + 'static>(
    security: Runtime<U>,
) -> Router<S> {
    let config = security.config().clone();
    let mut router: Router<Runtime<U>> = Router::new();
    router = logout::routes(router, &config);
    router = if config.passwordless {
        passwordless::routes(router, &config)
    } else {
        login::routes(router, &config)
    };
    if config.registerable {
        router = register::routes(router, &config);
    }
    if config.recoverable {
        router = recover::routes(router, &config);
    }
    if config.changeable {
        router = change::routes(router, &config);
    }
    if config.confirmable {
        router = confirm::routes(router, &config);
    }
    let headers: Arc<Vec<(http::HeaderName, http::HeaderValue)>> = Arc::new(
        config
            .response_headers
            .iter()
            .filter_map(|(name, value)| {
                Some((
                    http::HeaderName::from_bytes(name.as_bytes()).ok()?,
                    http::HeaderValue::from_str(value).ok()?,
                ))
            })
            .collect(),
    );
    router
        .with_state(security)
        .layer(axum::middleware::map_response(move |response: Response| {
            let headers = Arc::clone(&headers);
            async move { with_headers(response, &headers) }
        }))
}

/// `SECURITY_RESPONSE_HEADERS` on an answer of a security view (a header the view set itself
/// stays).
fn with_headers(
    mut response: Response,
    headers: &[(http::HeaderName, http::HeaderValue)],
) -> Response {
    for (name, value) in headers {
        response
            .headers_mut()
            .entry(name.clone())
            .or_insert_with(|| value.clone());
    }
    response
}

/// The state of a one-shot token (1.7.4's `get_token_status`), bound to the account it was
/// made for.
pub(crate) enum TokenStatus<U> {
    /// Signed, young enough, and its user still has the state it was bound to.
    Valid(U),
    /// Signed and bound, but older than its lifetime.
    Expired(U),
    /// Tampered, made for another purpose, or its user is gone or changed.
    Invalid,
}

/// One submitted value: form fields are text; JSON keeps booleans apart.
#[derive(Clone, PartialEq)]
pub(crate) enum InputValue {
    Text(String),
    Bool(bool),
}

/// The submitted form or JSON object (spec §1.4). Its `Debug` output names the fields only:
/// their values are passwords and tokens.
#[derive(Clone, Default)]
pub(crate) struct Input {
    fields: HashMap<String, InputValue>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.fields.keys().collect();
        names.sort();
        f.debug_struct("Input").field("fields", &names).finish()
    }
}

impl Input {
    /// A text field. JSON numbers are read as their text; JSON `null`, arrays and objects as
    /// absent (so they fail as "not provided", never crash: B2).
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        match self.fields.get(name)? {
            InputValue::Text(t) => Some(t),
            InputValue::Bool(true) => Some("true"),
            InputValue::Bool(false) => Some("false"),
        }
    }

    /// A checkbox: `None` when absent; a JSON boolean as itself; text is checked unless empty
    /// or `"false"` (WTForms' `BooleanField`).
    pub(crate) fn flag(&self, name: &str) -> Option<bool> {
        match self.fields.get(name)? {
            InputValue::Bool(b) => Some(*b),
            InputValue::Text(t) => Some(!(t.is_empty() || t.eq_ignore_ascii_case("false"))),
        }
    }

    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut fields = HashMap::new();
        for (k, v) in pairs {
            fields.entry(k).or_insert(InputValue::Text(v));
        }
        Input { fields }
    }

    fn from_json(map: serde_json::Map<String, Value>) -> Self {
        let fields = map
            .into_iter()
            .filter_map(|(k, v)| {
                let value = match v {
                    Value::String(s) => InputValue::Text(s),
                    Value::Bool(b) => InputValue::Bool(b),
                    Value::Number(n) => InputValue::Text(n.to_string()),
                    Value::Null | Value::Array(_) | Value::Object(_) => return None,
                };
                Some((k, value))
            })
            .collect();
        Input { fields }
    }
}

/// A security view's request: the runtime, the request head, the session and the input.
pub(crate) struct Ctx<U: SecurityUser> {
    pub sec: Runtime<U>,
    pub parts: Parts,
    pub session: Session,
    /// The request body is JSON: answer in JSON.
    pub json: bool,
    pub input: Input,
}

impl<U: SecurityUser> Ctx<U> {
    /// Reads the request: for POST the body (form or JSON, within the size limit) and the CSRF
    /// check. Bad input gets its answer here.
    pub(crate) async fn read(sec: Runtime<U>, req: Request<Body>) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let session = parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            axum::response::IntoResponse::into_response(crate::web::guard::MissingLayer)
        })?;
        let json = has_json_body(&parts);
        let http_status = sec.config().json_http_status_codes;
        let mut ctx = Ctx {
            sec,
            parts,
            session,
            json,
            input: Input::default(),
        };
        if ctx.parts.method != Method::POST {
            return Ok(ctx);
        }
        let limit = ctx.sec.config().max_body_size;
        let bytes = crate::web::request::read_body(body, limit, json).await?;
        if json {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => ctx.input = Input::from_json(map),
                Ok(_) => {
                    return Err(response::bad_request(
                        StatusCode::BAD_REQUEST,
                        "The JSON body must be an object",
                        true,
                        http_status,
                    ));
                }
                Err(_) => {
                    return Err(response::bad_request(
                        StatusCode::BAD_REQUEST,
                        "The request body is not valid JSON",
                        true,
                        http_status,
                    ));
                }
            }
        } else {
            let is_form = ctx
                .parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|v| v.starts_with("application/x-www-form-urlencoded"));
            let pairs: Vec<(String, String)> = if is_form {
                serde_urlencoded::from_bytes(&bytes).map_err(|_| {
                    response::bad_request(
                        StatusCode::BAD_REQUEST,
                        "The form could not be read",
                        false,
                        true,
                    )
                })?
            } else {
                Vec::new()
            };
            ctx.input = Input::from_pairs(pairs);
        }
        ctx.check_csrf()?;
        Ok(ctx)
    }

    /// CSRF: every form post, and every JSON post that carries the session or the remember
    /// cookie, must carry the session's token (field `csrf_token` or header `X-CSRFToken`).
    /// A JSON post with neither cookie has nothing to ride: a JSON body cannot be sent
    /// cross-site without CORS.
    fn check_csrf(&self) -> Result<(), Response> {
        let config = self.sec.config();
        if !config.csrf_enabled {
            return Ok(());
        }
        let cookies = crate::web::identity::cookie_header(&self.parts);
        let carries = |name: &str| crate::web::session::read_cookie(&cookies, name).is_some();
        let remembered = carries(&config.remember_cookie_name);
        if self.json && !carries(&config.session_cookie_name) && !remembered {
            return Ok(());
        }
        let remember_only = remembered && self.session.user_id().is_none();
        let token = self
            .input
            .text("csrf_token")
            .filter(|t| !t.is_empty())
            .or_else(|| crate::web::csrf::header_token(&self.parts));
        let key = &self.sec.csrf();
        if remember_only && token.is_some() {
            // The remember cookie alone: the session beside it holds nobody, so its secret is
            // not the user's (another site may have set that session cookie, with a token it
            // knows). A safe request first restores the user's session.
            return Err(key.refusal(crate::web::csrf::CsrfError::NoSession, self.json));
        }
        key.check(&self.session, token)
            .map_err(|err| key.refusal(err, self.json))
    }

    pub(crate) fn config(&self) -> &crate::config::Config {
        self.sec.config()
    }

    /// A message's text with its placeholders filled.
    pub(crate) fn msg(&self, key: MessageKey, args: &[(&str, &str)]) -> String {
        self.config().messages.format(key, args)
    }

    /// Flashes a message (when `SECURITY_FLASH_MESSAGES` is on).
    pub(crate) fn flash(&self, key: MessageKey, args: &[(&str, &str)]) {
        let config = self.config();
        if config.flash_messages {
            let category = config.messages.get(key).category.clone();
            self.session.flash(category, self.msg(key, args));
        }
    }

    /// Adds a message to a field's errors.
    pub(crate) fn error(
        &self,
        errors: &mut FormErrors,
        field: &str,
        key: MessageKey,
        args: &[(&str, &str)],
    ) {
        errors
            .entry(field.to_owned())
            .or_default()
            .push(self.msg(key, args));
    }

    /// The user of the session, if any.
    pub(crate) async fn current_user(&self) -> Result<Option<Arc<UserWithRoles<U>>>, Response> {
        self.sec
            .session_identity(&self.parts)
            .await
            .map_err(|e| self.internal(e))
    }

    /// The anonymous-only guard (spec §5.0): an authenticated user is sent to the post-login
    /// view.
    pub(crate) async fn anonymous_only(&self) -> Result<(), Response> {
        if self.current_user().await?.is_some() {
            return Err(self.redirect(&self.config().post_login_view.clone()));
        }
        Ok(())
    }

    /// An infrastructure failure: logged, answered as a 500 in the client's format.
    pub(crate) fn internal(&self, err: impl std::fmt::Display) -> Response {
        tracing::error!(error = %err, "security: view failed");
        response::bad_request(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            self.json,
            true,
        )
    }

    /// A mail that could not be sent: logged; the client is told.
    pub(crate) fn mail_failed(&self) -> Response {
        let message = self.msg(MessageKey::MailFailed, &[]);
        if self.json {
            let mut r =
                response::json_envelope(503, json!({ "errors": { "email": [message] } }), true);
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            r
        } else {
            self.flash(MessageKey::MailFailed, &[]);
            response::bad_request(StatusCode::SERVICE_UNAVAILABLE, &message, false, true)
        }
    }

    /// Validates a `next` value: the cleaned target, or `None` to refuse it.
    pub(crate) fn safe(&self, next: &str) -> Option<String> {
        let hosts = trusted_hosts(self.config(), &self.parts);
        let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
        crate::web::redirect::safe_next(next, &hosts)
    }

    /// The request's `?next=`.
    pub(crate) fn query_next(&self) -> Option<String> {
        let query = self.parts.uri.query()?;
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v)
            .filter(|v| !v.trim().is_empty())
    }

    /// The `next` of the form (falling back to `?next=`), as 1.7.4's forms read it.
    pub(crate) fn form_next(&self) -> Option<String> {
        self.input
            .text("next")
            .filter(|v| !v.trim().is_empty())
            .map(str::to_owned)
            .or_else(|| self.query_next())
    }

    /// The redirect after login or registration (spec §5.11): the first acceptable of the
    /// form's `next`, `?next=`, then the configured view.
    pub(crate) fn post_redirect(&self, default: &str) -> Response {
        let candidates = [
            self.input.text("next").map(str::to_owned),
            self.query_next(),
        ];
        for candidate in candidates.into_iter().flatten() {
            if let Some(target) = self.safe(&candidate) {
                return self.redirect(&target);
            }
        }
        self.redirect(default)
    }

    /// A 302 to a validated or configured target. Paths stay relative (never built from a
    /// `Host` header); with `SERVER_NAME` they are made absolute from it.
    pub(crate) fn redirect(&self, target: &str) -> Response {
        let location = if target.starts_with('/') || target.contains("://") {
            match (&self.config().server_name, target.starts_with('/')) {
                (Some(_), true) => crate::web::redirect::absolute_location(
                    &link_base(self.config(), &self.parts),
                    target,
                ),
                _ => target.to_owned(),
            }
        } else {
            format!("/{target}")
        };
        response::redirect(&location)
    }

    /// An absolute link for mail (`http://host/path`).
    pub(crate) fn link(&self, path: &str) -> String {
        format!("{}{}", link_base(self.config(), &self.parts), path)
    }

    /// Checks a one-shot token `[id, digest, …]`: signature and age with `serializer`, then
    /// that the user it names exists and that `digest(user)` (the account state the token was
    /// bound to) still matches, in constant time.
    ///
    /// With `SECURITY_FLASK_COMPAT`, the same link as Flask-Security 1.7.4 mailed it (same key
    /// and salt, payload shape `legacy`) is checked as tightly as its payload allows instead.
    pub(crate) async fn token_status(
        &self,
        serializer: &crate::tokens::serializer::Serializer,
        token: &str,
        within: u64,
        digest: impl Fn(&Runtime<U>, &U) -> String,
        legacy: LegacyPayload,
    ) -> Result<TokenStatus<U>, Response> {
        use crate::tokens::serializer::TokenError;
        let (payload, expired) = match serializer.loads(token, Some(within), self.sec.now()) {
            Ok(payload) => (payload, false),
            Err(TokenError::Expired { payload, .. }) => (payload, true),
            Err(TokenError::Invalid) => return Ok(TokenStatus::Invalid),
        };
        let compat = self.config().flask_compat;
        let Some(id) = payload.first().filter(|_| payload.len() >= 2 || compat) else {
            return Ok(TokenStatus::Invalid);
        };
        let Ok(id) = id.parse::<U::Id>() else {
            return Ok(TokenStatus::Invalid);
        };
        let user = match self.sec.datastore().find_user_by_id(&id).await {
            Ok(Some(user)) => user,
            Ok(None) => return Ok(TokenStatus::Invalid),
            Err(err) => return Err(self.internal(err)),
        };
        let ours = payload.get(1).is_some_and(|bound| {
            let expected = digest(&self.sec, &user);
            crate::crypto::cookie_codec::constant_time_eq(expected.as_bytes(), bound.as_bytes())
        });
        let legacy_ok = compat && legacy.matches(&payload, user.email(), user.password());
        if !(ours || legacy_ok) {
            return Ok(TokenStatus::Invalid);
        }
        Ok(if expired {
            TokenStatus::Expired(user)
        } else {
            TokenStatus::Valid(user)
        })
    }

    /// The scheme and host of the links this request's mail holds.
    pub(crate) fn link_base(&self) -> String {
        link_base(self.config(), &self.parts)
    }

    /// In the enumeration-resistant mode, where there is no mail to send: the database work of
    /// one, after the answer (see `Outbox::enqueue_decoy`).
    pub(crate) fn decoy(&self) {
        let outbox = std::sync::Arc::clone(&self.sec.outbox());
        let preparing = outbox.preparing();
        tokio::spawn(async move {
            if let Err(err) = outbox.enqueue_decoy().await {
                tracing::warn!(error = %err, "security: a decoy could not be queued");
            }
            drop(preparing);
        });
    }

    /// Runs a task that queues mail: now, its failure being the answer (a 503); or, with
    /// `background` (the enumeration-resistant mode), after the answer, so that neither the
    /// answer's time nor its status tells whether there was anything to send.
    pub(crate) async fn deliver<F>(&self, background: bool, task: F) -> Result<(), Response>
    where
        F: std::future::Future<Output = Result<(), crate::mail::MailError>> + Send + 'static,
    {
        if background {
            let preparing = self.sec.outbox().preparing();
            tokio::spawn(async move {
                if let Err(err) = task.await {
                    tracing::error!(error = %err, "security: a mail could not be queued");
                }
                drop(preparing);
            });
            return Ok(());
        }
        task.await.map_err(|_| self.mail_failed())
    }

    /// The client address for login tracking.
    pub(crate) fn ip(&self) -> String {
        self.sec.client_ip(&self.parts)
    }

    /// Renders a page: flashes (consumed), CSRF token, URLs, features, the current user.
    pub(crate) async fn page(
        &self,
        view: ViewName,
        values: Vec<(&str, String)>,
        errors: FormErrors,
    ) -> Response {
        self.page_with(view, values, errors, |_| {}).await
    }

    /// [`Ctx::page`] with a last change to the context.
    pub(crate) async fn page_with(
        &self,
        view: ViewName,
        values: Vec<(&str, String)>,
        errors: FormErrors,
        adjust: impl FnOnce(&mut ViewContext),
    ) -> Response {
        let config = self.config();
        let user_email = match self.current_user().await {
            Ok(found) => found.map(|f| f.user.email().to_owned()),
            Err(response) => return response,
        };
        let csrf = &self.sec.csrf();
        let csrf_token = csrf.issues_tokens().then(|| csrf.token_for(&self.session));
        let template = match view {
            ViewName::LoginUser => &config.login_user_template,
            ViewName::RegisterUser => &config.register_user_template,
            ViewName::ForgotPassword => &config.forgot_password_template,
            ViewName::ResetPassword => &config.reset_password_template,
            ViewName::ChangePassword => &config.change_password_template,
            ViewName::SendConfirmation => &config.send_confirmation_template,
            ViewName::SendLogin => &config.send_login_template,
        };
        let mut ctx = ViewContext {
            view: Some(view),
            title: view.title().to_owned(),
            flashes: self.session.take_flashes(),
            csrf_token,
            values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            errors,
            next: self.form_next(),
            urls: Urls {
                login: config.login_path(),
                logout: config.logout_path(),
                register: config.register_path(),
                forgot_password: config.reset_path(),
                reset_password: self.parts.uri.path().to_owned(),
                change_password: config.change_path(),
                send_confirmation: config.confirm_path(),
            },
            features: Features {
                registerable: config.registerable,
                recoverable: config.recoverable,
                confirmable: config.confirmable,
                passwordless: config.passwordless,
                changeable: config.changeable,
            },
            user_email,
            reset_password_token: None,
            extra_fields: Vec::new(),
            extra: Default::default(),
        };
        adjust(&mut ctx);
        match self.sec.templates().render_page(template, ctx) {
            Ok(body) => response::html(StatusCode::OK, body),
            Err(err) => self.internal(err),
        }
    }

    /// A successful JSON answer; with CSRF on it carries the session's token as
    /// `csrf_token` (as Flask-Security 5.9's answers do), which a login has just renewed.
    pub(crate) fn json_ok(&self, mut body: Value) -> Response {
        let csrf = &self.sec.csrf();
        if csrf.issues_tokens()
            && let Value::Object(map) = &mut body
        {
            map.insert(
                "csrf_token".to_owned(),
                Value::String(csrf.token_for(&self.session)),
            );
        }
        response::json_envelope(200, body, false)
    }

    /// A failed JSON answer with field errors.
    pub(crate) fn json_errors(&self, errors: &FormErrors) -> Response {
        response::json_errors(errors, self.config().json_http_status_codes)
    }

    /// `{"user": {"id": "<id>"}}`.
    pub(crate) fn user_json(&self, user: &U) -> Value {
        json!({ "user": { "id": user.id().to_string() } })
    }

    /// `{"user": {"id": "<id>", "authentication_token": "<token>"}}`.
    pub(crate) fn user_json_with_token(&self, user: &U) -> Value {
        json!({ "user": {
            "id": user.id().to_string(),
            "authentication_token": self.sec.auth_token(user),
        } })
    }

    /// The text of a required field: `None` and a `*_NOT_PROVIDED` error when it is blank.
    pub(crate) fn required(
        &self,
        errors: &mut FormErrors,
        field: &str,
        key: MessageKey,
    ) -> Option<String> {
        match self.input.text(field) {
            Some(v) if !v.trim().is_empty() => Some(v.to_owned()),
            _ => {
                self.error(errors, field, key, &[]);
                None
            }
        }
    }

    /// A new password: required (`PASSWORD_NOT_PROVIDED`, stopping there), then the password
    /// policy (`SECURITY_PASSWORD_LENGTH_MIN`/`_MAX`, the complexity checker, counted after
    /// `SECURITY_PASSWORD_NORMALIZE_FORM`). `user_inputs`: the account's own words, which the
    /// complexity checker counts against the password.
    pub(crate) fn new_password(
        &self,
        errors: &mut FormErrors,
        field: &str,
        user_inputs: &[&str],
    ) -> Option<String> {
        let password = self.required(errors, field, MessageKey::PasswordNotProvided)?;
        let config = self.config();
        let normal = crate::password_policy::normalize(config, &password);
        if let Err(problem) =
            crate::password_policy::check_new_password(config, &normal, user_inputs)
        {
            errors
                .entry(field.to_owned())
                .or_default()
                .push(problem.message(config));
            return None;
        }
        Some(password)
    }

    /// The retype check (`RETYPE_PASSWORD_MISMATCH`): exact equality.
    pub(crate) fn retype(&self, errors: &mut FormErrors, field: &str, other: &str) {
        let a = self.input.text(field).unwrap_or("");
        let b = self.input.text(other).unwrap_or("");
        if a != b {
            self.error(errors, field, MessageKey::RetypePasswordMismatch, &[]);
        }
    }

    /// An e-mail address field: required (`EMAIL_NOT_PROVIDED`), then the format check
    /// (`INVALID_EMAIL_ADDRESS`, not stopping). Returns the value when it was given.
    pub(crate) fn email_field(&self, errors: &mut FormErrors) -> (Option<String>, bool) {
        let Some(email) = self.required(errors, "email", MessageKey::EmailNotProvided) else {
            return (None, false);
        };
        let valid = valid_email(&email);
        if !valid {
            self.error(errors, "email", MessageKey::InvalidEmailAddress, &[]);
        }
        (Some(email), valid)
    }
}

/// WTForms 2.0.1's e-mail check (spec §4.1): `^.+@[^.].*\.[a-z]{2,10}$`, case-insensitive,
/// where no part may hold a line break (so an address can never inject mail headers).
pub fn valid_email(email: &str) -> bool {
    if email.contains(['\r', '\n', '\0', '"']) {
        return false;
    }
    // What 1.7.4's pattern lets through must also be a mailbox mail can be sent to (RFC 5321
    // lengths, no blanks or commas, no quoted local part), or the account would exist with no
    // way to reach it.
    if email.parse::<lettre::Address>().is_err()
        || email.parse::<lettre::message::Mailbox>().is_err()
    {
        return false;
    }
    email.char_indices().any(|(i, c)| {
        if c != '@' || i == 0 {
            return false;
        }
        let rest = &email[i + 1..];
        if rest.is_empty() || rest.starts_with('.') {
            return false;
        }
        let letters = rest
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        if !(2..=10).contains(&letters) || rest.len() < letters + 2 {
            return false;
        }
        rest.as_bytes()[rest.len() - letters - 1] == b'.'
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_format_is_wtforms_2_0_1() {
        for ok in [
            "matt@lp.com",
            "o'neil@lp.com",
            "%@lp.com",
            "x@y.z.museum",
            "MATT@LP.COM",
        ] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "bogus",
            "a@localhost",
            "a@b.c",
            "a@.com",
            "@lp.com",
            "a@b.toolongtldname",
            "matt@lp.com\r\nBcc: x@y.com",
            "matt@lp.com\n",
            "a@b.c0m",
            "a b@c.com",
            "a,b@lp.com",
            "a@b@lp.com",
            &format!("{}@lp.com", "x".repeat(300)),
        ] {
            assert!(!valid_email(bad), "{bad:?}");
        }
    }

    #[test]
    fn json_booleans_are_booleans() {
        let input = Input::from_json(
            serde_json::from_str::<serde_json::Map<String, Value>>(
                r#"{"remember": false, "email": 5, "password": null, "x": [1]}"#,
            )
            .unwrap(),
        );
        assert_eq!(input.flag("remember"), Some(false));
        assert_eq!(input.text("email"), Some("5"));
        assert_eq!(input.text("password"), None);
        assert_eq!(input.text("x"), None);
        let form = Input::from_pairs(vec![("remember".into(), "y".into())]);
        assert_eq!(form.flag("remember"), Some(true));
        let off = Input::from_pairs(vec![("remember".into(), "false".into())]);
        assert_eq!(off.flag("remember"), Some(false));
        assert_eq!(Input::default().flag("remember"), None);
    }
}
