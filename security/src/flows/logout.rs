//! Logout (`views.logout`): ends the session and the remember-me cookie, then
//! redirects to a validated `?next=` (1.7.4 did not validate it) or `SECURITY_POST_LOGOUT_VIEW`.
//!
//! Unlike 1.7.4, a logout ends the session and the remember-me cookie on every instance, not
//! only in this browser: a copy of either is refused afterwards (`security_revocation`). The
//! methods are `SECURITY_LOGOUT_METHODS` (Flask-Security 5.9's key; `GET, POST` by default):
//! a `POST` carries the CSRF token, so another site cannot log a visitor out; a JSON `POST`
//! gets 5.9's JSON answer. With `SECURITY_REFRESH_TOKEN`, the refresh token of a JSON body's
//! `refresh_token` and of the refresh cookie is revoked, and the cookie deleted.

use super::context::{Ctx, FlowResult, NoFields, Submitted};
use super::table::{Field, FieldType, Kind, Op, Routes};
use crate::config::Config;
use crate::events::Event;
use crate::store::model::SecurityUser;

/// `GET /logout`.
async fn logout_get<U: SecurityUser>(ctx: Ctx<U>) -> FlowResult {
    logout(ctx, false).await
}

/// `POST /logout` (with the CSRF token).
async fn logout_post<U: SecurityUser>(Submitted { ctx, .. }: Submitted<U, NoFields>) -> FlowResult {
    logout(ctx, true).await
}

async fn logout<U: SecurityUser>(ctx: Ctx<U>, posted: bool) -> FlowResult {
    let user = ctx.current_user().await?;
    let cookies = crate::web::identity::cookie_header(&ctx.parts);
    let remember = crate::web::session::read_cookie(&cookies, &ctx.config().remember_cookie_name);
    ctx.sec.revoke_session(&ctx.session, remember).await?;
    // 5.9: a refresh token in the body, or the refresh cookie, is revoked with the logout.
    let refresh_cookie = super::refresh::cookie_token(&ctx);
    if ctx.config().refresh_token {
        let given = ctx.input.owned("refresh_token").filter(|t| !t.is_empty());
        for token in given.iter().chain(refresh_cookie.iter()) {
            ctx.sec.revoke_refresh_token(token).await?;
        }
    }
    ctx.session.logout();
    if let Some(found) = user {
        ctx.sec.emit(Event::UserLoggedOut {
            user: found.user.clone(),
        });
    }
    let mut answer = if ctx.json && posted {
        ctx.json_ok(serde_json::json!({}))
    } else {
        match ctx.query_next().and_then(|next| ctx.safe(&next)) {
            Some(target) => ctx.redirect(&target),
            None => ctx.redirect(&ctx.config().post_logout_view.clone()),
        }
    };
    if refresh_cookie.is_some() {
        super::refresh::clear_cookie(ctx.config(), &mut answer);
    }
    Ok(answer)
}

/// Adds the logout view, for the methods of `SECURITY_LOGOUT_METHODS`.
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let path = config.logout_path();
    for method in &config.logout_methods {
        if method == "GET" {
            let op = Op::new(
                "logout_get",
                "logout",
                Kind::Link,
                "Logs out and redirects.",
            );
            routes.add(http::Method::GET, &path, op, logout_get::<U>);
        } else {
            let mut fields = Vec::new();
            if config.refresh_token {
                fields.push(Field::new(
                    "refresh_token",
                    FieldType::Text,
                    false,
                    "A refresh token to revoke too.",
                ));
            }
            let op = Op::new(
                "logout",
                "logout",
                Kind::Form,
                "Logs out (JSON: an empty answer).",
            )
            .fields(fields);
            routes.add(http::Method::POST, &path, op, logout_post::<U>);
        }
    }
}
