//! Unlocking a locked account from the link mailed when it locked (`SECURITY_LOCKABLE` with the
//! `email` or `both` unlock strategy; Devise's `unlock_instructions`).
//!
//! The link (`<SECURITY_UNLOCK_URL>/<token>`) is bound to the account and to the lock it was
//! mailed for: it works once (`security_used_token`), within `SECURITY_UNLOCK_WITHIN`, and only
//! while that lock holds (a link of an earlier lock cannot end a later one). Opening it logs
//! nobody in: it ends the lock, and the owner logs in with their password.

use axum::extract::Path;

use super::context::{Ctx, FlowResult};
use super::table::{Kind, Op, Routes};
use crate::config::Config;
use crate::events::UnlockReason;
use crate::messages::MessageKey;
use crate::store::model::SecurityUser;
use crate::tokens::links::{Link, LinkStatus};

/// `GET <unlock_url>/<token>`.
async fn unlock<U: SecurityUser>(Path(token): Path<String>, ctx: Ctx<U>) -> FlowResult {
    let login = ctx.config().login_path();
    let user = match ctx.sec.unlock_link_status(&token).await? {
        LinkStatus::Valid(user) => user,
        LinkStatus::Expired(_) | LinkStatus::Invalid => {
            ctx.flash(MessageKey::UnlockInvalid, &[]);
            return Ok(ctx.redirect(&login));
        }
    };
    if !ctx.sec.use_link_once(Link::Unlock, &token).await? {
        ctx.flash(MessageKey::UnlockInvalid, &[]);
        return Ok(ctx.redirect(&login));
    }
    ctx.sec.unlock_account(&user, UnlockReason::Link).await?;
    ctx.flash(MessageKey::Unlocked, &[]);
    Ok(ctx.redirect(&login))
}

/// Adds the unlock view.
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let link = Op::new(
        "unlock",
        "unlock",
        Kind::Link,
        "The mailed unlock link: ends the account's lockout.",
    )
    .param("token");
    routes.add(
        http::Method::GET,
        &format!("{}/{{token}}", config.unlock_path()),
        link,
        unlock::<U>,
    );
}
