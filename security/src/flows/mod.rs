//! The security views (Flask-Security's `views.py`), one flow per module, each with a GET
//! handler (the page) and a POST handler (the form), and what they share ([`context`]):
//! reading form or JSON input, CSRF, rendering pages, the JSON envelope, redirects and links.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::middleware::Next;
use axum::response::Response;
use http::Request;

use crate::config::Config;
use crate::events::Event;
use crate::mail::{EmailKind, MailError};
use crate::store::model::SecurityUser;
use crate::tokens::links::Link;
use crate::web::request::has_json_body;
use crate::web::runtime::Runtime;
use context::Failure;
use table::Routes;

pub(crate) mod api_keys;
pub(crate) mod change;
pub(crate) mod change_email;
pub(crate) mod change_username;
pub(crate) mod confirm;
pub(crate) mod context;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod passwordless;
pub(crate) mod recover;
pub(crate) mod register;
pub(crate) mod table;
pub(crate) mod unlock;
pub(crate) mod verify;
// Sessions and tokens: sign out everywhere, refresh tokens.
pub(crate) mod refresh;
pub(crate) mod sessions;

/// The table of the enabled views at the configured URLs: the router and the list of what was
/// registered on it (which the OpenAPI document describes), built together.
pub(crate) fn table<U: SecurityUser>(config: &Config) -> Routes<U> {
    let mut routes = Routes::new();
    logout::routes(&mut routes, config);
    if config.passwordless {
        passwordless::routes(&mut routes, config);
    } else {
        login::routes(&mut routes, config);
    }
    if config.registerable {
        register::routes(&mut routes, config);
    }
    if config.recoverable {
        recover::routes(&mut routes, config);
    }
    if config.changeable {
        change::routes(&mut routes, config);
    }
    if config.confirmable {
        confirm::routes(&mut routes, config);
    }
    if config.lockable && config.unlock_strategy.mails() {
        unlock::routes(&mut routes, config);
    }
    if config.freshness.is_some() {
        verify::routes(&mut routes, config);
    }
    if config.change_email {
        change_email::routes(&mut routes, config);
    }
    // API keys (`SECURITY_API_KEYS`).
    if config.api_keys {
        api_keys::routes(&mut routes, config);
    }
    if config.change_username {
        change_username::routes(&mut routes, config);
    }
    if config.sign_out_everywhere {
        sessions::routes(&mut routes, config);
    }
    if config.refresh_token {
        refresh::routes(&mut routes, config);
    }
    // The default pages' stylesheet (`SECURITY_STATIC_FOLDER_URL`).
    routes.add(
        http::Method::GET,
        &config.stylesheet_path(),
        table::Op::new(
            "stylesheet",
            "static",
            table::Kind::Asset,
            "The default pages' stylesheet (`?v=` names its version: cached for a year).",
        ),
        crate::web::views::serve_stylesheet,
    );
    // Last: the document describes every route above, and itself.
    #[cfg(feature = "openapi")]
    crate::openapi::routes(&mut routes, config);
    routes
}

/// The enabled views at the configured URLs.
pub(crate) fn router<U: SecurityUser, S: Clone + Send + Sync + 'static>(
    security: Runtime<U>,
) -> Router<S> {
    let config = security.config().clone();
    let (router, _) = table::<U>(&config).finish();
    let headers = Arc::new(response_headers(&config));
    let failures = security.clone();
    router
        .with_state(security)
        .layer(axum::middleware::from_fn(
            move |req: Request<Body>, next: Next| {
                let sec = failures.clone();
                async move { render_failure(&sec, req, next).await }
            },
        ))
        .layer(axum::middleware::map_response(move |response: Response| {
            let headers = Arc::clone(&headers);
            async move { with_headers(response, &headers) }
        }))
}

/// A view that failed with [`context::FlowError`] left a [`Failure`] on its response: answer it
/// in the client's format (JSON for a JSON request, else a page, with a flash for a mail that
/// could not be queued).
async fn render_failure<U: SecurityUser>(
    sec: &Runtime<U>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let json = has_json_body(&parts);
    let session = crate::web::scope::session(&parts).cloned();
    let mut response = next.run(Request::from_parts(parts, body)).await;
    match response.extensions_mut().remove::<Failure>() {
        Some(failure) => failure.render(sec.config(), json, session.as_ref()),
        None => response,
    }
}

/// `SECURITY_RESPONSE_HEADERS`, parsed.
pub(crate) fn response_headers(config: &Config) -> Vec<(http::HeaderName, http::HeaderValue)> {
    config
        .response_headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                http::HeaderName::from_bytes(name.as_bytes()).ok()?,
                http::HeaderValue::from_str(value).ok()?,
            ))
        })
        .collect()
}

/// `SECURITY_RESPONSE_HEADERS` on an answer of a security view (a header the view set itself
/// stays).
pub(crate) fn with_headers(
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

/// A new link of `link` for `user`: its absolute URL under `base` (scheme and host), and its
/// token.
pub(crate) fn new_link<U: SecurityUser>(
    sec: &Runtime<U>,
    link: Link,
    user: &U,
    base: &str,
) -> (String, String) {
    let token = sec.make_link(link, user);
    (format!("{base}{}/{token}", link.path(sec.config())), token)
}

/// Mails `user` a new link of `link`, under `base` (scheme and host), in its flow's
/// instructions mail (1.7.4's `send_reset_password_instructions`,
/// `send_confirmation_instructions`, `send_login_instructions`), and emits the flow's event.
pub(crate) async fn send_link<U: SecurityUser>(
    sec: Runtime<U>,
    link: Link,
    user: U,
    base: String,
) -> Result<(), MailError> {
    let (url, token) = new_link(&sec, link, &user, &base);
    let kind = match link {
        Link::Reset => EmailKind::ResetInstructions,
        Link::Confirm => EmailKind::ConfirmationInstructions,
        Link::Login => EmailKind::LoginInstructions,
        Link::Unlock => EmailKind::UnlockInstructions,
    };
    if !sec.send_mail(kind, &user, Some(url)).await? {
        // Over the mail limit: answered as sent, and nothing was.
        return Ok(());
    }
    sec.emit(match link {
        Link::Reset => Event::ResetPasswordInstructionsSent { user, token },
        Link::Confirm => Event::ConfirmInstructionsSent { user, token },
        Link::Login => Event::LoginInstructionsSent {
            user,
            login_token: token,
        },
        Link::Unlock => return Ok(()),
    });
    Ok(())
}
