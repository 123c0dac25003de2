//! Password recovery (`recoverable.py`, `views.forgot_password`, `views.reset_password`,
//! spec §5.4–5.5).
//!
//! The reset token is `[id, digest]` signed with `SECURITY_RESET_SALT`; the digest binds it to
//! the user's address and current password hash under a server key, so a reset (or any
//! password change) makes every earlier link of that user invalid, and a new account that
//! reuses the row id cannot use it. An expired link really sends new instructions, as its
//! message says. The JSON answer of the forgot view names no user. With
//! `SECURITY_RETURN_GENERIC_RESPONSES`, an unknown address is answered as a known one, and
//! the mail is queued after the answer, so that its time tells nothing either.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use http::Request;

use super::{Ctx, TokenStatus};
use crate::compat::LegacyPayload;
use crate::config::Config;
use crate::events::Event;
use crate::mail::{EmailKind, MailError};
use crate::messages::MessageKey;
use crate::store::model::SecurityUser;
use crate::web::response::FormErrors;
use crate::web::runtime::Runtime;
use crate::web::views::ViewName;

fn digest<U: SecurityUser>(sec: &Runtime<U>, user: &U) -> String {
    sec.bind(
        "reset",
        user,
        &[&user.email().to_lowercase(), user.password().unwrap_or("")],
    )
}

/// A reset token bound to the user's current password.
pub(crate) fn make_token<U: SecurityUser>(sec: &Runtime<U>, user: &U) -> String {
    let id = user.id().to_string();
    sec.tokens()
        .reset
        .dumps(&[&id, &digest(sec, user)], sec.now())
}

/// The absolute reset link of a token, under `base` (scheme and host).
pub(crate) fn link<U: SecurityUser>(sec: &Runtime<U>, base: &str, token: &str) -> String {
    format!("{base}{}/{token}", sec.config().reset_path())
}

/// Sends reset instructions (`send_reset_password_instructions`), with links under `base`.
async fn send_instructions<U: SecurityUser>(
    sec: Runtime<U>,
    user: U,
    base: String,
) -> Result<(), MailError> {
    let token = make_token(&sec, &user);
    let link = link(&sec, &base, &token);
    sec.send_mail(EmailKind::ResetInstructions, &user, Some(link))
        .await?;
    sec.emit(Event::ResetPasswordInstructionsSent { user, token });
    Ok(())
}

/// `GET|POST /reset`: forgot password.
async fn forgot_password<U: SecurityUser>(
    State(sec): State<Runtime<U>>,
    req: Request<Body>,
) -> Response {
    let ctx = match Ctx::read(sec, req).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    if ctx.parts.method != http::Method::POST {
        return ctx
            .page(ViewName::ForgotPassword, Vec::new(), FormErrors::new())
            .await;
    }
    let mut errors = FormErrors::new();
    let (email, valid) = ctx.email_field(&mut errors);
    let typed = email.clone().unwrap_or_default();
    let mut user = None;
    let mut refusal = None;
    if let Some(email) = &email {
        match ctx.sec.datastore().get_user(email).await {
            Ok(Some(found)) => {
                if valid && ctx.sec.needs_confirmation(&found) {
                    refusal = Some(MessageKey::ConfirmationRequired);
                }
                user = Some(found);
            }
            Ok(None) => refusal = Some(MessageKey::UserDoesNotExist),
            Err(err) => return ctx.internal(err),
        }
    }
    let generic = ctx.config().return_generic_responses;
    match refusal {
        // Whether the account exists is never told: a malformed address gets its format
        // error alone, a well-formed one the answer of a sent mail.
        Some(_) if generic && errors.is_empty() => {
            ctx.decoy();
            return sent(&ctx, &typed).await;
        }
        Some(_) if generic => {}
        Some(key) => ctx.error(&mut errors, "email", key, &[]),
        None => {}
    }
    let Some(user) = user.filter(|_| errors.is_empty()) else {
        if ctx.json {
            return ctx.json_errors(&errors);
        }
        return ctx
            .page(ViewName::ForgotPassword, vec![("email", typed)], errors)
            .await;
    };
    let task = send_instructions(ctx.sec.clone(), user, ctx.link_base());
    if let Err(response) = ctx.deliver(generic, task).await {
        return response;
    }
    sent(&ctx, &typed).await
}

async fn sent<U: SecurityUser>(ctx: &Ctx<U>, typed: &str) -> Response {
    if ctx.json {
        return ctx.json_ok(serde_json::json!({}));
    }
    ctx.flash(MessageKey::PasswordResetRequest, &[("email", typed)]);
    ctx.page(ViewName::ForgotPassword, Vec::new(), FormErrors::new())
        .await
}

/// `GET|POST /reset/<token>`.
async fn reset_password<U: SecurityUser>(
    State(sec): State<Runtime<U>>,
    Path(token): Path<String>,
    req: Request<Body>,
) -> Response {
    let ctx = match Ctx::read(sec, req).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    if let Err(response) = ctx.anonymous_only().await {
        return response;
    }
    let forgot = ctx.config().reset_path();
    let within = ctx.config().reset_password_within.seconds();
    let status = ctx
        .token_status(
            &ctx.sec.tokens().reset,
            &token,
            within,
            digest,
            LegacyPayload::PasswordDigest,
        )
        .await;
    let user = match status {
        Err(response) => return response,
        Ok(TokenStatus::Invalid) => {
            ctx.flash(MessageKey::InvalidResetPasswordToken, &[]);
            return ctx.redirect(&forgot);
        }
        Ok(TokenStatus::Expired(user)) => {
            let task = send_instructions(ctx.sec.clone(), user.clone(), ctx.link_base());
            if let Err(response) = ctx.deliver(false, task).await {
                return response;
            }
            ctx.flash(
                MessageKey::PasswordResetExpired,
                &[
                    ("email", user.email()),
                    ("within", ctx.config().reset_password_within.text()),
                ],
            );
            return ctx.redirect(&forgot);
        }
        Ok(TokenStatus::Valid(user)) => user,
    };
    let token_for_page = token.clone();
    if ctx.parts.method != http::Method::POST {
        return ctx
            .page_with(
                ViewName::ResetPassword,
                Vec::new(),
                FormErrors::new(),
                |view| {
                    view.reset_password_token = Some(token_for_page);
                },
            )
            .await;
    }
    let mut errors = FormErrors::new();
    let password = ctx.new_password(&mut errors, "password", &[user.email()]);
    ctx.retype(&mut errors, "password_confirm", "password");
    let Some(password) = password.filter(|_| errors.is_empty()) else {
        return ctx
            .page_with(ViewName::ResetPassword, Vec::new(), errors, |view| {
                view.reset_password_token = Some(token_for_page);
            })
            .await;
    };
    let datastore = ctx.sec.datastore();
    let hash = match ctx.sec.passwords().hash(&password).await {
        Ok(hash) => hash,
        Err(err) => return ctx.internal(err),
    };
    // The link is bound to the old password: only one use can replace it, even when two
    // requests race with the same link.
    match datastore
        .replace_password_hash(&user, user.password(), Some(hash))
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            ctx.flash(MessageKey::InvalidResetPasswordToken, &[]);
            return ctx.redirect(&forgot);
        }
        Err(err) => return ctx.internal(err),
    }
    ctx.sec.invalidate(&user.id());
    let user = match datastore.find_user_by_id(&user.id()).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            ctx.flash(MessageKey::InvalidResetPasswordToken, &[]);
            return ctx.redirect(&forgot);
        }
        Err(err) => return ctx.internal(err),
    };
    if let Err(err) = ctx.sec.password_changed(&user).await {
        return ctx.internal(err);
    }
    let config = ctx.config();
    let mut mail_failed = false;
    if config.send_password_reset_notice_email {
        mail_failed = ctx
            .sec
            .send_mail(EmailKind::ResetNotice, &user, None)
            .await
            .is_err();
    }
    ctx.sec.emit(Event::PasswordReset { user: user.clone() });
    let ip = ctx.ip();
    match ctx.sec.login_user(&ctx.session, &user, None, &ip).await {
        // Only claim a login that happened (B17).
        Ok(true) => ctx.flash(MessageKey::PasswordReset, &[]),
        Ok(false) => {}
        Err(err) => return ctx.internal(err),
    }
    if mail_failed {
        return ctx.mail_failed();
    }
    let target = config
        .post_reset_view
        .clone()
        .unwrap_or_else(|| config.post_login_view.clone());
    ctx.redirect(&target)
}

/// Adds the recovery views.
pub(crate) fn routes<U: SecurityUser>(
    router: Router<Runtime<U>>,
    config: &Config,
) -> Router<Runtime<U>> {
    let path = config.reset_path();
    router
        .route(&path, get(forgot_password::<U>).post(forgot_password::<U>))
        .route(
            &format!("{path}/{{token}}"),
            get(reset_password::<U>).post(reset_password::<U>),
        )
}
