//! Refresh tokens (Flask-Security 5.9's `tokens.refresh`, `SECURITY_REFRESH_TOKEN`): `POST
//! SECURITY_REFRESH_TOKEN_URL` (JSON only: a form post is 400) with `{"refresh_token": …}`,
//! or, when `SECURITY_REFRESH_TOKEN_COOKIE_NAME` names a cookie, with that cookie only (as in
//! 5.9; the body is then not read, and the CSRF token is required), answers a new `authentication_token` and the family's
//! next refresh token (in `user.refresh_token`, or in the cookie). A refused token is 400 with
//! `REFRESH_TOKEN_INVALID` and its reason. See [`crate::web::revoke`] for the token itself.

use axum::response::Response;
use http::StatusCode;
use serde_json::json;

use super::context::{Ctx, FlowError, FlowForm, FlowResult, Input, Submitted};
use super::table::{Field, FieldType, Kind, Op, Routes};
use crate::config::{Config, SameSite};
use crate::messages::MessageKey;
use crate::store::model::SecurityUser;
use crate::web::response::{self, FormErrors};

/// 5.9's `RefreshTokenForm`.
pub(crate) struct RefreshForm {
    refresh_token: Option<String>,
}

impl FlowForm for RefreshForm {
    const PAGE: Option<crate::web::views::ViewName> = None;

    fn read(input: &Input) -> Self {
        RefreshForm {
            refresh_token: input.owned("refresh_token"),
        }
    }
}

/// The refresh token of the request's cookie, when the cookie is configured.
pub(crate) fn cookie_token<U: SecurityUser>(ctx: &Ctx<U>) -> Option<String> {
    let name = ctx.config().refresh_token_cookie_name.as_deref()?;
    let cookies = crate::web::identity::cookie_header(&ctx.parts);
    crate::web::session::read_cookie(&cookies, name)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Sets the refresh cookie (5.9's `set_refresh_token_cookie`), `Max-Age` the family's life.
pub(crate) fn set_cookie(config: &Config, response: &mut Response, token: &str) {
    let Some(name) = config.refresh_token_cookie_name.as_deref() else {
        return;
    };
    let attrs = &config.refresh_token_cookie;
    let max_age = i64::try_from(config.refresh_token_max_age.seconds()).unwrap_or(i64::MAX / 4);
    let cookie = cookie::Cookie::build((name.to_owned(), token.to_owned()))
        .path("/")
        .http_only(attrs.httponly)
        .secure(attrs.secure)
        .same_site(same_site(attrs.samesite))
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    append(response, &cookie);
}

/// Deletes the refresh cookie (5.9's `clear_refresh_token_cookie`).
pub(crate) fn clear_cookie(config: &Config, response: &mut Response) {
    let Some(name) = config.refresh_token_cookie_name.as_deref() else {
        return;
    };
    let attrs = &config.refresh_token_cookie;
    let cookie = cookie::Cookie::build((name.to_owned(), String::new()))
        .path("/")
        .http_only(attrs.httponly)
        .secure(attrs.secure)
        .same_site(same_site(attrs.samesite))
        .max_age(cookie::time::Duration::ZERO)
        .expires(cookie::time::OffsetDateTime::UNIX_EPOCH)
        .build();
    append(response, &cookie);
}

fn same_site(value: SameSite) -> cookie::SameSite {
    match value {
        SameSite::Lax => cookie::SameSite::Lax,
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::None => cookie::SameSite::None,
    }
}

fn append(response: &mut Response, cookie: &cookie::Cookie<'_>) {
    if let Ok(value) = http::HeaderValue::from_str(&cookie.to_string()) {
        response
            .headers_mut()
            .append(http::header::SET_COOKIE, value);
        response
            .headers_mut()
            .append(http::header::VARY, http::HeaderValue::from_static("Cookie"));
    }
}

/// 5.9's error answer: 400, `errors` and `field_errors.refresh_token`.
fn refused(message: String) -> Response {
    let mut errors = FormErrors::new();
    errors.insert("refresh_token".into(), vec![message]);
    response::json_error(
        StatusCode::BAD_REQUEST,
        response::error_payload(&[], &errors),
    )
}

/// `POST /refresh-token`.
async fn refresh<U: SecurityUser>(
    Submitted { ctx, form }: Submitted<U, RefreshForm>,
) -> FlowResult {
    if !ctx.json {
        return Err(FlowError::answer(response::bad_request(
            StatusCode::BAD_REQUEST,
            "The refresh token is accepted in a JSON body only",
            false,
            true,
        )));
    }
    let cookie_configured = ctx.config().refresh_token_cookie_name.is_some();
    let from_cookie = cookie_token(&ctx);
    let token = match &from_cookie {
        Some(token) => {
            // A cookie goes along with any request: the CSRF token proves the page asked.
            let csrf = ctx.sec.csrf();
            let given = ctx
                .input
                .text("csrf_token")
                .filter(|t| !t.is_empty())
                .or_else(|| crate::web::csrf::header_token(&ctx.parts));
            csrf.check(&ctx.session, given)
                .map_err(|err| FlowError::answer(csrf.refusal(err, true)))?;
            token.clone()
        }
        // With the cookie configured, only the cookie counts (5.9).
        None if cookie_configured => return Ok(refused("This field is required.".into())),
        None => match form.refresh_token.filter(|t| !t.trim().is_empty()) {
            Some(token) => token,
            None => return Ok(refused("This field is required.".into())),
        },
    };
    match ctx.sec.exchange_refresh_token(&token).await? {
        Ok(exchanged) => {
            let mut user = json!({
                "id": exchanged.found.user.id().to_string(),
                "authentication_token": exchanged.auth_token,
            });
            let cookie = ctx.config().refresh_token_cookie_name.is_some();
            if !cookie {
                user["refresh_token"] = json!(exchanged.refresh_token);
            }
            let mut answer = ctx.json_ok(json!({ "user": user }));
            if cookie {
                set_cookie(ctx.config(), &mut answer, &exchanged.refresh_token);
            }
            Ok(answer)
        }
        Err(reason) => {
            tracing::info!(reason = reason.name(), "security: refresh token refused");
            let message = ctx.msg(
                MessageKey::RefreshTokenInvalid,
                &[("reason", reason.name())],
            );
            Ok(refused(message))
        }
    }
}

/// Adds the refresh-token view.
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let mut fields = Vec::new();
    if config.refresh_token_cookie_name.is_none() {
        fields.push(Field::new(
            "refresh_token",
            FieldType::Text,
            true,
            "The refresh token.",
        ));
    }
    let op = Op::new(
        "refresh_token",
        "refresh",
        Kind::Form,
        "Exchanges a refresh token for a new authentication token (and a new refresh token).",
    )
    .fields(fields)
    .throttled();
    routes.add(
        http::Method::POST,
        &config.refresh_token_path(),
        op,
        refresh::<U>,
    );
}
