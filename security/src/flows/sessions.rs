//! Sign out everywhere else (**port addition**, `SECURITY_SIGN_OUT_EVERYWHERE`): a `POST` to
//! `SECURITY_SIGN_OUT_EVERYWHERE_URL` by a logged-in user, with the CSRF token and a fresh
//! authentication (`SECURITY_FRESHNESS`, as `/verify` grants it), ends every other session,
//! remember cookie, authentication token and refresh token of the account on every instance
//! (see [`crate::web::revoke`]); the request's own session is re-issued and stays. The answer
//! is the user in JSON, or a redirect to `SECURITY_POST_LOGIN_VIEW` with the
//! `SIGNED_OUT_EVERYWHERE` flash.

use axum::response::IntoResponse;

use super::context::{FlowError, FlowResult, NoFields, Submitted};
use super::table::{Kind, Op, Routes};
use crate::config::Config;
use crate::events::RevocationReason;
use crate::messages::MessageKey;
use crate::store::model::SecurityUser;
use crate::web::guard::Freshness;
use crate::web::request::wants_json;

/// `POST /sign-out-everywhere`.
async fn sign_out_everywhere<U: SecurityUser>(
    Submitted { ctx, .. }: Submitted<U, NoFields>,
) -> FlowResult {
    let identity = ctx.require_user().await?;
    ctx.sec
        .check_fresh(&ctx.parts, Freshness::CONFIGURED)
        .map_err(|stale| FlowError::answer(stale.into_response()))?;
    let user = ctx
        .sec
        .revoke_everything(
            &identity.user,
            RevocationReason::SignOutEverywhere,
            Some(&ctx.session),
        )
        .await?
        .unwrap_or_else(|| identity.user.clone());
    if ctx.json || wants_json(&ctx.parts) {
        return Ok(ctx.json_ok(ctx.user_json(&user)));
    }
    ctx.flash(MessageKey::SignedOutEverywhere, &[]);
    Ok(ctx.redirect(&ctx.config().post_login_view.clone()))
}

/// Adds the sign-out-everywhere view.
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let op = Op::new(
        "sign_out_everywhere",
        "sessions",
        Kind::Form,
        "Ends every session, remember cookie and token of the user.",
    )
    .authenticated();
    routes.add(
        http::Method::POST,
        &config.sign_out_everywhere_path(),
        op,
        sign_out_everywhere::<U>,
    );
}
