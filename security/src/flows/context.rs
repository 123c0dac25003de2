//! What every security view shares, shaped as axum wants it: the request context and the
//! submitted form as extractors ([`Ctx`], [`Submitted`]), typed forms ([`FlowForm`]) over
//! WTForms' reading of the input ([`Input`]), and the error a view returns with `?`
//! ([`FlowError`]), which answers in the client's format.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use serde_json::{Value, json};

use crate::mail::MailError;
use crate::messages::MessageKey;
use crate::store::datastore::{DatastoreError, UserWithRoles};
use crate::store::model::SecurityUser;
use crate::web::limits::Throttled;
use crate::web::request::{has_json_body, link_base, trusted_hosts};
use crate::web::response::{self, FormErrors};
use crate::web::runtime::Runtime;
use crate::web::session::Session;
use crate::web::views::{Features, Urls, ViewContext, ViewName};

/// Why a view stopped early. Returned with `?` from the datastore, the hasher and the outbox
/// (the `From` impls); its [`IntoResponse`] leaves a marker that the views' router turns into
/// the answer in the client's format (a 500 or a 503 as JSON or as a page with a flash).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FlowError {
    /// The database failed.
    #[error("the datastore failed")]
    Datastore(#[from] DatastoreError),
    /// The database failed (a runtime table).
    #[error("the database failed")]
    Database(#[from] sea_orm::DbErr),
    /// Hashing or verifying a password failed.
    #[error("password hashing failed")]
    Password(#[from] crate::password::HashError),
    /// A page could not be rendered.
    #[error("a page could not be rendered")]
    Template(#[from] askama::Error),
    /// A mail could not be queued: the client is told (503).
    #[error("a mail could not be queued")]
    Mail(#[from] MailError),
    /// The throttle store failed (and fails closed).
    #[error("the throttle store failed")]
    Throttle(#[from] crate::throttle::ThrottleError),
    /// Another failure of the runtime.
    #[error("the security runtime failed")]
    Runtime(#[from] crate::Error),
    /// An answer decided before the view's work: a refused CSRF token, an unreadable body,
    /// the anonymous-only redirect, the login redirect.
    #[error("answered early")]
    Answer(Box<Response>),
}

impl FlowError {
    /// An answer decided before the view's work.
    pub(crate) fn answer(response: Response) -> Self {
        FlowError::Answer(Box::new(response))
    }
}

/// The marker [`FlowError`] leaves on its response for the views' router to render.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Failure {
    /// 500.
    Internal,
    /// 503: a mail could not be queued.
    Mail,
}

impl IntoResponse for FlowError {
    fn into_response(self) -> Response {
        let failure = match self {
            FlowError::Answer(response) => return *response,
            FlowError::Mail(err) => {
                tracing::error!(error = %err, "security: a mail could not be queued");
                Failure::Mail
            }
            other => {
                let source = std::error::Error::source(&other)
                    .map(ToString::to_string)
                    .unwrap_or_default();
                tracing::error!(error = %other, source, "security: view failed");
                Failure::Internal
            }
        };
        let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        response.extensions_mut().insert(failure);
        response
    }
}

impl Failure {
    /// The answer, in the client's format.
    pub(crate) fn render(
        self,
        config: &crate::config::Config,
        json: bool,
        session: Option<&Session>,
    ) -> Response {
        match self {
            Failure::Internal => response::bad_request(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
                json,
                true,
            ),
            Failure::Mail => {
                let message = config.messages.format(MessageKey::MailFailed, &[]);
                if json {
                    let mut r = response::json_envelope(
                        503,
                        json!({ "errors": { "email": [message] } }),
                        true,
                    );
                    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                    return r;
                }
                if config.flash_messages
                    && let Some(session) = session
                {
                    let category = config.messages.get(MessageKey::MailFailed).category.clone();
                    session.flash(category, message.clone());
                }
                response::bad_request(StatusCode::SERVICE_UNAVAILABLE, &message, false, true)
            }
        }
    }
}

/// What a view returns.
pub(crate) type FlowResult = Result<Response, FlowError>;

/// One submitted value: form fields are text; JSON keeps booleans apart.
#[derive(Clone, PartialEq)]
enum InputValue {
    Text(String),
    Bool(bool),
}

/// The submitted form or JSON object, read as WTForms reads a form: a field is absent or has
/// a text (JSON numbers as their text; `null`, arrays and objects as absent, so that they
/// fail as "not provided" and never crash). Its `Debug` output names the fields only: their
/// values are passwords and tokens.
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
    /// A text field.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        match self.fields.get(name)? {
            InputValue::Text(t) => Some(t),
            InputValue::Bool(true) => Some("true"),
            InputValue::Bool(false) => Some("false"),
        }
    }

    /// A text field as an owned value.
    pub(crate) fn owned(&self, name: &str) -> Option<String> {
        self.text(name).map(str::to_owned)
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

/// A view's typed form, read from the [`Input`] (missing and empty stay apart; checkboxes
/// as WTForms reads them).
pub(crate) trait FlowForm: Sized {
    /// The page of the view that accepts the form, when the form presents a credential (or
    /// asks for a mail): such a post is counted against the `login` rate limits before any
    /// other work, and a throttled one answers with this page. `None` for forms that present
    /// none (logout).
    const PAGE: Option<ViewName>;

    /// Reads the form's fields.
    fn read(input: &Input) -> Self;
}

/// A form without fields of its own (logout: only the CSRF token).
pub(crate) struct NoFields;

impl FlowForm for NoFields {
    const PAGE: Option<ViewName> = None;

    fn read(_: &Input) -> Self {
        NoFields
    }
}

/// A security view's request: the runtime, the request head, the session and the format.
/// Extracting it reads no body; [`Submitted`] does.
pub(crate) struct Ctx<U: SecurityUser> {
    pub sec: Runtime<U>,
    pub parts: Parts,
    pub session: Session,
    /// The request body is JSON: answer in JSON.
    pub json: bool,
    /// The submitted input (empty for a request that is not a post).
    pub input: Input,
}

impl<U: SecurityUser> FromRequest<Runtime<U>> for Ctx<U> {
    type Rejection = FlowError;

    async fn from_request(req: Request, sec: &Runtime<U>) -> Result<Self, FlowError> {
        let (parts, _) = req.into_parts();
        Ctx::new(sec.clone(), parts)
    }
}

/// A posted form: the context, the form read as `F`, after the body was read within
/// `SECURITY_MAX_BODY_SIZE` (JSON or form-encoded) and the CSRF token checked.
pub(crate) struct Submitted<U: SecurityUser, F> {
    pub ctx: Ctx<U>,
    pub form: F,
}

impl<U: SecurityUser, F: FlowForm + Send> FromRequest<Runtime<U>> for Submitted<U, F> {
    type Rejection = FlowError;

    async fn from_request(req: Request, sec: &Runtime<U>) -> Result<Self, FlowError> {
        let (parts, body) = req.into_parts();
        let mut ctx = Ctx::new(sec.clone(), parts)?;
        if let Some(page) = F::PAGE {
            let client = ctx.sec.client(&ctx.parts);
            if let Err(throttled) = ctx.sec.count_request(&client).await {
                return Err(FlowError::answer(ctx.too_many(page, throttled).await?));
            }
        }
        let limit = ctx.config().max_body_size;
        let bytes = crate::web::request::read_body(body, limit, ctx.json)
            .await
            .map_err(FlowError::answer)?;
        ctx.input = if ctx.json {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => Input::from_json(map),
                Ok(_) => return Err(ctx.bad_request("The JSON body must be an object")),
                Err(_) => return Err(ctx.bad_request("The request body is not valid JSON")),
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
                    FlowError::answer(response::bad_request(
                        StatusCode::BAD_REQUEST,
                        "The form could not be read",
                        false,
                        true,
                    ))
                })?
            } else {
                Vec::new()
            };
            Input::from_pairs(pairs)
        };
        ctx.check_csrf()?;
        let form = F::read(&ctx.input);
        Ok(Submitted { ctx, form })
    }
}

impl<U: SecurityUser> Ctx<U> {
    fn new(sec: Runtime<U>, parts: Parts) -> Result<Self, FlowError> {
        let session = crate::web::scope::session(&parts).cloned().ok_or_else(|| {
            FlowError::answer(crate::web::guard::Rejection::missing_layer::<U>().into_response())
        })?;
        let json = has_json_body(&parts);
        Ok(Ctx {
            sec,
            parts,
            session,
            json,
            input: Input::default(),
        })
    }

    fn bad_request(&self, message: &str) -> FlowError {
        FlowError::answer(response::bad_request(
            StatusCode::BAD_REQUEST,
            message,
            true,
            self.config().json_http_status_codes,
        ))
    }

    /// CSRF: every form post, and every JSON post that carries the session or the remember
    /// cookie, must carry the session's token (field `csrf_token` or header `X-CSRFToken`).
    /// A JSON post with neither cookie has nothing to ride: a JSON body cannot be sent
    /// cross-site without CORS.
    fn check_csrf(&self) -> Result<(), FlowError> {
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
        let key = self.sec.csrf();
        if remember_only && token.is_some() {
            // The remember cookie alone: the session beside it holds nobody, so its secret is
            // not the user's (another site may have set that session cookie, with a token it
            // knows). A safe request first restores the user's session.
            return Err(FlowError::answer(
                key.refusal(crate::web::csrf::CsrfError::NoSession, self.json),
            ));
        }
        key.check(&self.session, token)
            .map_err(|err| FlowError::answer(key.refusal(err, self.json)))
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
    pub(crate) async fn current_user(&self) -> Result<Option<Arc<UserWithRoles<U>>>, FlowError> {
        Ok(self.sec.session_identity(&self.parts).await?)
    }

    /// The user of the session, or the login redirect (the login-required guard).
    pub(crate) async fn require_user(&self) -> Result<Arc<UserWithRoles<U>>, FlowError> {
        self.current_user()
            .await?
            .ok_or_else(|| FlowError::answer(self.sec.login_redirect(&self.parts)))
    }

    /// The anonymous-only guard: an authenticated user is sent to the post-login view.
    pub(crate) async fn anonymous_only(&self) -> Result<(), FlowError> {
        if self.current_user().await?.is_some() {
            return Err(FlowError::answer(
                self.redirect(&self.config().post_login_view.clone()),
            ));
        }
        Ok(())
    }

    /// Validates a `next` value: the cleaned target, or `None` to refuse it.
    pub(crate) fn safe(&self, next: &str) -> Option<String> {
        let hosts = trusted_hosts(self.config(), &self.parts);
        let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
        crate::web::redirect::safe_next(next, &hosts)
    }

    /// A query parameter (the first of its name).
    pub(crate) fn query(&self, name: &str) -> Option<String> {
        let query = self.parts.uri.query()?;
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The request's `?next=`.
    pub(crate) fn query_next(&self) -> Option<String> {
        self.query("next").filter(|v| !v.trim().is_empty())
    }

    /// The `next` of the form (falling back to `?next=`), as 1.7.4's forms read it.
    pub(crate) fn form_next(&self) -> Option<String> {
        self.input
            .text("next")
            .filter(|v| !v.trim().is_empty())
            .map(str::to_owned)
            .or_else(|| self.query_next())
    }

    /// The redirect after login or registration: the first acceptable of the form's `next`,
    /// `?next=`, then the configured view.
    pub(crate) fn post_redirect(&self, default: &str) -> Response {
        let candidates = [self.input.owned("next"), self.query_next()];
        for candidate in candidates.into_iter().flatten() {
            if let Some(target) = self.safe(&candidate) {
                return self.redirect(&target);
            }
        }
        self.redirect(default)
    }

    /// A redirect to `view` (a `SECURITY_POST_*_VIEW` key's value), else to
    /// `SECURITY_POST_LOGIN_VIEW`.
    pub(crate) fn redirect_after(&self, view: Option<&str>) -> Response {
        self.redirect(view.unwrap_or(self.config().post_login_view.as_str()))
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

    /// The scheme and host of the links this request's mail holds.
    pub(crate) fn link_base(&self) -> String {
        link_base(self.config(), &self.parts)
    }

    /// In the enumeration-resistant mode, where there is no mail to send: the database work of
    /// one, after the answer (see `Outbox::enqueue_decoy`).
    pub(crate) fn decoy(&self) {
        let outbox = Arc::clone(self.sec.outbox());
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
    pub(crate) async fn deliver<F>(&self, background: bool, task: F) -> Result<(), FlowError>
    where
        F: std::future::Future<Output = Result<(), MailError>> + Send + 'static,
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
        Ok(task.await?)
    }

    /// A request refused by a rate limit: HTTP 429 with `Retry-After`; in JSON the error
    /// envelope with `retry_after`, in HTML `page` with the `TOO_MANY_REQUESTS` flash.
    pub(crate) async fn too_many(&self, page: ViewName, throttled: Throttled) -> FlowResult {
        let within = crate::messages::duration_text(throttled.retry_after);
        let message = self.msg(MessageKey::TooManyRequests, &[("within", &within)]);
        if self.json {
            return Ok(response::too_many_json(&message, throttled.retry_after));
        }
        self.flash(MessageKey::TooManyRequests, &[("within", &within)]);
        let mut answer = self.page(page, Vec::new(), FormErrors::new()).await?;
        *answer.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        answer
            .headers_mut()
            .insert(http::header::RETRY_AFTER, throttled.retry_after.into());
        Ok(answer)
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
    ) -> FlowResult {
        self.page_with(view, values, errors, |_| {}).await
    }

    /// [`Ctx::page`] with a last change to the context.
    pub(crate) async fn page_with(
        &self,
        view: ViewName,
        values: Vec<(&str, String)>,
        errors: FormErrors,
        adjust: impl FnOnce(&mut ViewContext),
    ) -> FlowResult {
        let user_email = self
            .current_user()
            .await?
            .map(|f| f.user.email().to_owned());
        let mut ctx = self.view_context(Some(view), view.title().to_owned(), user_email);
        ctx.values = values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        ctx.errors = errors;
        adjust(&mut ctx);
        let body = self
            .sec
            .templates()
            .render_page(view.template(self.config()), ctx)?;
        Ok(response::html(StatusCode::OK, body))
    }

    /// The URLs of the security views, as the pages link them.
    fn urls(&self) -> Urls {
        let config = self.config();
        Urls {
            login: config.login_path(),
            logout: config.logout_path(),
            register: config.register_path(),
            forgot_password: config.reset_path(),
            reset_password: self.parts.uri.path().to_owned(),
            change_password: config.change_path(),
            send_confirmation: config.confirm_path(),
            verify: crate::web::redirect::action_with_next(
                &config.verify_path(),
                self.query_next().as_deref(),
            ),
            change_email: config.change_email_path(),
            api_keys: config.api_keys_path(),
            change_username: config.change_username_path(),
            stylesheet: crate::web::views::stylesheet_url(config),
        }
    }

    /// The features the pages show links to.
    fn features(&self) -> Features {
        let config = self.config();
        Features {
            registerable: config.registerable,
            recoverable: config.recoverable,
            confirmable: config.confirmable,
            passwordless: config.passwordless,
            changeable: config.changeable,
            username: config.username_enable,
            username_required: config.username_required,
            change_email: config.change_email,
            api_keys: config.api_keys,
            change_username: config.change_username,
            logout_post: config
                .logout_methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case("POST")),
            login_by_email: !config.username_enable
                && config
                    .user_identity_attributes
                    .iter()
                    .all(|attribute| attribute == "email"),
        }
    }

    /// What every page's context has: the flashes (consumed), the CSRF token, the URLs, the
    /// features and the user's address.
    fn view_context(
        &self,
        view: Option<ViewName>,
        title: String,
        user_email: Option<String>,
    ) -> ViewContext {
        let csrf = self.sec.csrf();
        let csrf_token = csrf.issues_tokens().then(|| csrf.token_for(&self.session));
        ViewContext {
            view,
            title,
            flashes: self.session.take_flashes(),
            csrf_token,
            next: self.form_next(),
            urls: self.urls(),
            features: self.features(),
            user_email,
            ..ViewContext::default()
        }
    }

    /// A successful JSON answer; with CSRF on it carries the session's token as
    /// `csrf_token` (as Flask-Security 5.9's answers do), which a login has just renewed.
    pub(crate) fn json_ok(&self, mut body: Value) -> Response {
        let csrf = self.sec.csrf();
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
    pub(crate) async fn user_json_with_token(&self, user: &U) -> Result<Value, FlowError> {
        Ok(json!({ "user": {
            "id": user.id().to_string(),
            "authentication_token": self.sec.auth_token_for(user, None).await?,
        } }))
    }

    /// The text of a required field: `None` and a `*_NOT_PROVIDED` error when it is blank.
    pub(crate) fn required(
        &self,
        errors: &mut FormErrors,
        field: &str,
        value: Option<&str>,
        key: MessageKey,
    ) -> Option<String> {
        match value {
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
        value: Option<&str>,
        user_inputs: &[&str],
    ) -> Option<String> {
        let password = self.required(errors, field, value, MessageKey::PasswordNotProvided)?;
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
    pub(crate) fn retype(
        &self,
        errors: &mut FormErrors,
        field: &str,
        retyped: Option<&str>,
        password: Option<&str>,
    ) {
        if retyped.unwrap_or("") != password.unwrap_or("") {
            self.error(errors, field, MessageKey::RetypePasswordMismatch, &[]);
        }
    }

    /// An e-mail address field: required (`EMAIL_NOT_PROVIDED`), then the format check
    /// (`INVALID_EMAIL_ADDRESS`, not stopping). Returns the value when it was given.
    pub(crate) fn email_field(
        &self,
        errors: &mut FormErrors,
        value: Option<&str>,
    ) -> (Option<String>, bool) {
        let Some(email) = self.required(errors, "email", value, MessageKey::EmailNotProvided)
        else {
            return (None, false);
        };
        let valid = valid_email(&email);
        if !valid {
            self.error(errors, "email", MessageKey::InvalidEmailAddress, &[]);
        }
        (Some(email), valid)
    }
}

/// WTForms 2.0.1's e-mail check: `^.+@[^.].*\.[a-z]{2,10}$`, case-insensitive, where no part
/// may hold a line break (so an address can never inject mail headers).
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

/// An app's page in the default layout (an extractor): the stylesheet, the menu (what the
/// visitor may do, by the features that are on), the flashes, and a body the app gives.
///
/// ```no_run
/// use axum::response::Response;
/// use security::views::{Page, PageBody};
/// # type Model = security::doc_support::User;
///
/// async fn home(page: Page<Model>) -> Response {
///     let body = match page.user() {
///         Some(user) => PageBody::new().paragraph(&format!("Signed in as {}", user.email)),
///         None => PageBody::new().paragraph("Nobody is signed in."),
///     };
///     page.render("Home", body)
/// }
/// ```
pub struct Page<U: SecurityUser> {
    ctx: Ctx<U>,
    user: Option<Arc<UserWithRoles<U>>>,
}

impl<U: SecurityUser> std::fmt::Debug for Page<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("signed_in", &self.user.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync, U: SecurityUser> axum::extract::FromRequestParts<S> for Page<U> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let runtime = crate::web::scope::UserScope::<U>::of(parts)
            .map(|scope| scope.runtime.clone())
            .ok_or_else(|| crate::web::guard::Rejection::missing_layer::<U>().into_response())?;
        let ctx = Ctx::new(runtime, parts.clone()).map_err(IntoResponse::into_response)?;
        let user = ctx
            .current_user()
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Page { ctx, user })
    }
}

impl<U: SecurityUser> Page<U> {
    /// The user of the session, if someone is logged in.
    pub fn user(&self) -> Option<&U> {
        self.user.as_deref().map(|found| &found.user)
    }

    /// The URLs of the security views, for the app's links.
    pub fn urls(&self) -> Urls {
        self.ctx.urls()
    }

    /// The optional features that are on (which of those URLs are served).
    pub fn features(&self) -> Features {
        self.ctx.features()
    }

    /// The page: `title` as its `<title>` and `<h1>`, `body` under it, in the layout of the
    /// security views ([`APP_PAGE_TEMPLATE`](crate::views::APP_PAGE_TEMPLATE)). Consumes the
    /// session's flashes. A template that fails answers 500 (and is logged). The answer carries
    /// `SECURITY_RESPONSE_HEADERS` as the security views' do (not stored, not framed: the page
    /// names the user and holds the session's CSRF token).
    pub fn render(self, title: &str, body: crate::web::views::PageBody) -> Response {
        let email = self.user().map(|user| user.email().to_owned());
        let mut ctx = self.ctx.view_context(None, title.to_owned(), email);
        ctx.content = body.as_html().to_owned();
        let response = match self
            .ctx
            .sec
            .templates()
            .render_page(crate::web::views::APP_PAGE_TEMPLATE, ctx)
        {
            Ok(html) => response::html(StatusCode::OK, html),
            Err(err) => FlowError::from(err).into_response(),
        };
        let headers = crate::flows::response_headers(self.ctx.sec.config());
        crate::flows::with_headers(response, &headers)
    }
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
