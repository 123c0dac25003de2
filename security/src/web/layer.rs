//! The tower layer in front of the app (`security.layer()`): reads the session and remember
//! cookies, gives each request its [`Session`], identity slot and the guards' runtime, and
//! writes the cookies back only when they changed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http::header::SET_COOKIE;
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_layer::Layer;
use tower_service::Service;

use crate::store::model::SecurityUser;
use crate::web::guard::AuthHandle;
use crate::web::identity::{JsonAuthToken, cookie_header};
use crate::web::request::has_json_body;
use crate::web::response;
use crate::web::runtime::Runtime;
use crate::web::scope::{RequestScope, UserScope};
use crate::web::session::{CookieSpec, RememberAction, Session, SessionState, read_cookies};

/// See [`Security::layer`](crate::Security::layer).
pub struct SecurityLayer<U: SecurityUser> {
    security: Runtime<U>,
    auth: AuthHandle,
}

impl<U: SecurityUser> Clone for SecurityLayer<U> {
    fn clone(&self) -> Self {
        SecurityLayer {
            security: self.security.clone(),
            auth: self.auth.clone(),
        }
    }
}

impl<U: SecurityUser> SecurityLayer<U> {
    pub(crate) fn new(security: Runtime<U>) -> Self {
        let auth = AuthHandle(Arc::new(security.clone()));
        SecurityLayer { security, auth }
    }
}

impl<S, U: SecurityUser> Layer<S> for SecurityLayer<U> {
    type Service = SecurityService<S, U>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityService {
            inner,
            security: self.security.clone(),
            auth: self.auth.clone(),
        }
    }
}

/// The service made by [`SecurityLayer`].
pub struct SecurityService<S, U: SecurityUser> {
    inner: S,
    security: Runtime<U>,
    auth: AuthHandle,
}

impl<S: Clone, U: SecurityUser> Clone for SecurityService<S, U> {
    fn clone(&self) -> Self {
        SecurityService {
            inner: self.inner.clone(),
            security: self.security.clone(),
            auth: self.auth.clone(),
        }
    }
}

impl<S, U> Service<Request<Body>> for SecurityService<S, U>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    U: SecurityUser,
{
    type Response = Response;
    type Error = S::Error;
    type Future = SecurityFuture<S::Future, S::Error, U>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        let security = self.security.clone();
        let config = security.config();
        let collect_json = json_body_to_read(&parts, &body, config.max_body_size);
        let session = open_session(&security, &self.auth, &mut parts);
        let csrf = config.csrf_protect
            && session.cookie_authenticated
            && crate::web::csrf::is_unsafe(&parts.method);
        let options = parts.method == Method::OPTIONS && config.automatic_options;

        if !collect_json && !csrf && !session.take_over {
            // Nothing to wait for before the app (most requests: no JSON body to read, no
            // CSRF check): the ready inner service is called now, without a clone of it.
            let future = self.inner.call(Request::from_parts(parts, body));
            return SecurityFuture {
                state: State::App {
                    future,
                    security,
                    session: session.session,
                    options,
                },
            };
        }

        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let future = Box::pin(async move {
            let config = security.config();
            let body = if collect_json {
                match read_json_body(body, config, &mut parts).await {
                    Ok(body) => body,
                    Err(refused) => return Ok(refused),
                }
            } else {
                body
            };
            let body = if csrf {
                match Box::pin(protect(
                    &security,
                    &session.session,
                    &parts,
                    body,
                    session.remember_only,
                ))
                .await
                {
                    Ok(body) => body,
                    Err(mut refused) => {
                        write_cookies(&security, &session.session, &mut refused);
                        return Ok(refused);
                    }
                }
            } else {
                body
            };
            if session.take_over
                && let Err(err) = Box::pin(security.session_identity(&parts)).await
            {
                tracing::warn!(error = %err, "could not check a Flask session cookie");
            }
            let response = inner.call(Request::from_parts(parts, body)).await?;
            Ok(finish(&security, &session.session, options, response))
        });
        SecurityFuture {
            state: State::Prepared { future },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`SecurityService`]: the app's answer, with the cookies that changed.
    ///
    /// A request with nothing to read or check before the app awaits the app's own future
    /// here, unboxed; the others (a JSON body to read, a CSRF token to check) run boxed.
    pub struct SecurityFuture<F, E, U: SecurityUser> {
        #[pin]
        state: State<F, E, U>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProjection]
    enum State<F, E, U: SecurityUser> {
        // The app's future, called at once, and what `finish` needs after it.
        App {
            #[pin]
            future: F,
            security: Runtime<U>,
            session: Session,
            options: bool,
        },
        // The body read or CSRF check, then the app and `finish`.
        Prepared { future: BoxFuture<'static, Result<Response, E>> },
    }
}

impl<F, E, U> Future for SecurityFuture<F, E, U>
where
    F: Future<Output = Result<Response, E>>,
    U: SecurityUser,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProjection::App {
                future,
                security,
                session,
                options,
            } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(finish(security, session, *options, response)))
            }
            StateProjection::Prepared { future } => future.as_mut().poll(cx),
        }
    }
}

/// Whether the layer reads the body before the app: a JSON body of a declared size within the
/// limit, on a method that carries one (it may hold the auth token, which then goes into the
/// request's extensions).
fn json_body_to_read(parts: &http::request::Parts, body: &Body, max_body_size: usize) -> bool {
    // The method first: most requests are reads, and it costs no header lookup.
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) || !has_json_body(parts)
    {
        return false;
    }
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| axum::body::HttpBody::size_hint(body).exact())
        .and_then(|length| usize::try_from(length).ok());
    declared.is_some_and(|length| length <= max_body_size)
}

/// Reads a JSON body (see [`json_body_to_read`]) and puts its auth token, if any, into the
/// request's extensions; a body over the limit or unreadable is refused.
async fn read_json_body(
    body: Body,
    config: &crate::config::Config,
    parts: &mut http::request::Parts,
) -> Result<Body, Response> {
    match Box::pin(Limited::new(body, config.max_body_size).collect()).await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            let key = config.token_authentication_key.as_str();
            if memchr_str(&bytes, key)
                && let Ok(serde_json::Value::Object(map)) =
                    serde_json::from_slice::<serde_json::Value>(&bytes)
                && let Some(serde_json::Value::String(token)) = map.get(key)
            {
                parts.extensions.insert(JsonAuthToken(token.clone()));
            }
            Ok(Body::from(bytes))
        }
        Err(err) => {
            let too_large = err.downcast_ref::<LengthLimitError>().is_some();
            let (status, message) = if too_large {
                (StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
            } else {
                (StatusCode::BAD_REQUEST, "Could not read the request body")
            };
            Err(response::bad_request(status, message, true, true))
        }
    }
}

/// The request's session as the layer opened it.
struct Opened {
    session: Session,
    /// A session with a user, a remember-me cookie or a Flask cookie to take over: an unsafe
    /// method then needs its CSRF token.
    cookie_authenticated: bool,
    /// Only a remember-me cookie authenticates (no session user).
    remember_only: bool,
    /// A Flask session cookie is to be checked and taken over.
    take_over: bool,
}

/// Decodes the session and remember-me cookies and gives the request its scopes.
fn open_session<U: SecurityUser>(
    security: &Runtime<U>,
    auth: &AuthHandle,
    parts: &mut http::request::Parts,
) -> Opened {
    let config = security.config();
    let cookies = cookie_header(parts);
    let [raw_session, remember_cookie] = read_cookies(
        &cookies,
        [&config.session_cookie_name, &config.remember_cookie_name],
    );
    let decoded = raw_session.and_then(|v| security.decode_session(v));
    let unreadable = raw_session.filter(|_| decoded.is_none());
    let flask_cookie = unreadable
        .filter(|_| config.flask_compat)
        .map(str::to_owned);
    let take_over = flask_cookie.is_some();
    let decoded_user = decoded.as_ref().is_some_and(|d| d.user_id.is_some());
    let has_remember = remember_cookie.is_some();
    let session = Session::new(SessionState {
        changed: unreadable.is_some() && !take_over,
        data: decoded.unwrap_or_default(),
        had_cookie: raw_session.is_some(),
        remember: RememberAction::Keep,
        had_remember_cookie: has_remember,
        flask_cookie,
        device_cookie: None,
    });
    drop(cookies);
    parts.extensions.insert(RequestScope {
        session: session.clone(),
        auth: auth.clone(),
        csrf: security.csrf().clone(),
        body_limit: config.max_body_size,
        user: UserScope::new_erased(security.clone()),
    });
    Opened {
        session,
        cookie_authenticated: decoded_user || has_remember || take_over,
        remember_only: !decoded_user && has_remember,
        take_over,
    }
}

/// The app's answer with the automatic OPTIONS answer and the cookies that changed.
fn finish<U: SecurityUser>(
    security: &Runtime<U>,
    session: &Session,
    options: bool,
    mut response: Response,
) -> Response {
    if options && response.status() == StatusCode::METHOD_NOT_ALLOWED {
        response = options_response(&response);
    }
    write_cookies(security, session, &mut response);
    response
}

async fn protect<U: SecurityUser>(
    security: &Runtime<U>,
    session: &Session,
    parts: &http::request::Parts,
    body: Body,
    remember_only: bool,
) -> Result<Body, Response> {
    let key = &security.csrf();
    let json = crate::web::request::wants_json(parts);
    let verify = |token: Option<&str>| match token {
        Some(_) if remember_only => Err(crate::web::csrf::CsrfError::NoSession),
        token => key.verify(session, token),
    };
    if let Some(token) = crate::web::csrf::header_token(parts) {
        return verify(Some(token))
            .map(|()| body)
            .map_err(|err| key.refusal(err, json));
    }
    if !crate::web::request::is_form(parts) {
        return Err(key.refusal(crate::web::csrf::CsrfError::Missing, json));
    }
    let bytes = crate::web::request::read_body(body, security.config().max_body_size, json).await?;
    let token = crate::web::csrf::form_token(&bytes);
    verify(token.as_deref())
        .map(|()| Body::from(bytes))
        .map_err(|err| key.refusal(err, json))
}

fn options_response(refused: &Response) -> Response {
    let mut allow = refused
        .headers()
        .get(http::header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !allow.split(',').any(|m| m.trim() == "OPTIONS") {
        if !allow.is_empty() {
            allow.push(',');
        }
        allow.push_str("OPTIONS");
    }
    let mut response = StatusCode::OK.into_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(http::header::ALLOW, value);
    }
    response
}

fn memchr_str(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn write_cookies<U: SecurityUser>(
    security: &Runtime<U>,
    session: &Session,
    response: &mut Response,
) {
    let config = security.config();
    let mut state = session.lock();
    let same_site = config.session_cookie_samesite;
    let mut headers: Vec<String> = Vec::new();
    if state.changed {
        let spec = CookieSpec {
            name: &config.session_cookie_name,
            domain: config.session_cookie_domain.as_deref(),
            secure: config.session_cookie_secure,
            http_only: config.session_cookie_httponly,
            same_site,
        };
        if state.data.is_empty() {
            if state.had_cookie {
                headers.push(spec.clear());
            }
        } else {
            let value = state.data_mut().encode_bounded(security.session_signer());
            headers.push(spec.set(&value, None));
        }
    }
    let remember = CookieSpec {
        name: &config.remember_cookie_name,
        domain: config.remember_cookie_domain.as_deref(),
        secure: config.remember_cookie_is_secure(),
        http_only: config.remember_cookie_httponly,
        same_site,
    };
    match &state.remember {
        RememberAction::Keep => {}
        RememberAction::Set(token) => {
            headers.push(remember.set(token, Some(config.remember_cookie_duration.seconds())))
        }
        RememberAction::Clear => {
            if state.had_remember_cookie {
                headers.push(remember.clear());
            }
        }
    }
    if let Some(device) = state.device_cookie.take() {
        let spec = CookieSpec {
            name: &config.device_cookie_name,
            domain: config.session_cookie_domain.as_deref(),
            secure: config.session_cookie_secure,
            http_only: true,
            same_site,
        };
        headers.push(spec.set(&device, Some(config.device_cookie_duration.seconds())));
    }
    for header in headers {
        match HeaderValue::from_str(&header) {
            Ok(value) => {
                response.headers_mut().append(SET_COOKIE, value);
            }
            Err(_) => {
                tracing::error!("security: could not encode a cookie header");
                *response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
                return;
            }
        }
    }
}
