//! Password recovery (`recoverable.py`, `views.forgot_password`, `views.reset_password`).
//!
//! When a reset link is valid is told in [`crate::tokens::links`]: bound to the address and
//! the current password hash, so a reset (or any password change) makes every earlier link of
//! that user invalid. An expired link really sends new instructions, as its
//! message says. The JSON answer of the forgot view names no user. With
//! `SECURITY_RETURN_GENERIC_RESPONSES`, an unknown address is answered as a known one, and
//! the mail is queued after the answer, so that its time tells nothing either.

use axum::extract::Path;

use super::context::{Ctx, FlowError, FlowForm, FlowResult, Input, Submitted};
use super::table::{Field, FieldType, Kind, Op, Routes};
use crate::config::Config;
use crate::events::{Event, UnlockReason};
use crate::mail::EmailKind;
use crate::messages::MessageKey;
use crate::store::model::SecurityUser;
use crate::tokens::links::{Link, LinkStatus};
use crate::web::response::FormErrors;
use crate::web::views::ViewName;

/// 1.7.4's `ForgotPasswordForm`.
pub(crate) struct ForgotForm {
    email: Option<String>,
}

impl FlowForm for ForgotForm {
    const PAGE: Option<ViewName> = Some(ViewName::ForgotPassword);

    fn read(input: &Input) -> Self {
        ForgotForm {
            email: input.owned("email"),
        }
    }
}

/// 1.7.4's `ResetPasswordForm`.
pub(crate) struct ResetForm {
    password: Option<String>,
    password_confirm: Option<String>,
}

impl FlowForm for ResetForm {
    const PAGE: Option<ViewName> = Some(ViewName::ResetPassword);

    fn read(input: &Input) -> Self {
        ResetForm {
            password: input.owned("password"),
            password_confirm: input.owned("password_confirm"),
        }
    }
}

/// `GET /reset`: the forgot-password page.
async fn forgot_page<U: SecurityUser>(ctx: Ctx<U>) -> FlowResult {
    ctx.page(ViewName::ForgotPassword, Vec::new(), FormErrors::new())
        .await
}

/// `POST /reset`: send reset instructions.
async fn forgot_password<U: SecurityUser>(
    Submitted { ctx, form }: Submitted<U, ForgotForm>,
) -> FlowResult {
    let mut errors = FormErrors::new();
    let (email, valid) = ctx.email_field(&mut errors, form.email.as_deref());
    let typed = email.clone().unwrap_or_default();
    let mut user = None;
    let mut refusal = None;
    if let Some(email) = &email {
        match ctx.sec.datastore().get_user(email).await? {
            Some(found) => {
                if valid && ctx.sec.needs_confirmation(&found) {
                    refusal = Some(MessageKey::ConfirmationRequired);
                }
                user = Some(found);
            }
            None => refusal = Some(MessageKey::UserDoesNotExist),
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
            return Ok(ctx.json_errors(&errors));
        }
        return ctx
            .page(ViewName::ForgotPassword, vec![("email", typed)], errors)
            .await;
    };
    let task = super::send_link(ctx.sec.clone(), Link::Reset, user, ctx.link_base());
    ctx.deliver(generic, task).await?;
    sent(&ctx, &typed).await
}

async fn sent<U: SecurityUser>(ctx: &Ctx<U>, typed: &str) -> FlowResult {
    if ctx.json {
        return Ok(ctx.json_ok(serde_json::json!({})));
    }
    ctx.flash(MessageKey::PasswordResetRequest, &[("email", typed)]);
    ctx.page(ViewName::ForgotPassword, Vec::new(), FormErrors::new())
        .await
}

/// The user of a reset link. A link that is not valid is answered here: invalid, back to
/// the forgot-password page; expired, new instructions are sent, and back there too.
async fn link_user<U: SecurityUser>(ctx: &Ctx<U>, token: &str) -> Result<U, FlowError> {
    let forgot = ctx.config().reset_path();
    match ctx.sec.link_status(Link::Reset, token).await? {
        LinkStatus::Valid(user) => Ok(user),
        LinkStatus::Invalid => Err(invalid(ctx)),
        LinkStatus::Expired(user) => {
            let task =
                super::send_link(ctx.sec.clone(), Link::Reset, user.clone(), ctx.link_base());
            ctx.deliver(false, task).await?;
            ctx.flash(
                MessageKey::PasswordResetExpired,
                &[
                    ("email", user.email()),
                    ("within", ctx.config().reset_password_within.text()),
                ],
            );
            Err(FlowError::answer(ctx.redirect(&forgot)))
        }
    }
}

fn invalid<U: SecurityUser>(ctx: &Ctx<U>) -> FlowError {
    ctx.flash(MessageKey::InvalidResetPasswordToken, &[]);
    FlowError::answer(ctx.redirect(&ctx.config().reset_path()))
}

async fn reset_page_with<U: SecurityUser>(
    ctx: &Ctx<U>,
    token: String,
    errors: FormErrors,
) -> FlowResult {
    ctx.page_with(ViewName::ResetPassword, Vec::new(), errors, |view| {
        view.reset_password_token = Some(token);
    })
    .await
}

/// `GET /reset/<token>`: the new-password page.
async fn reset_page<U: SecurityUser>(Path(token): Path<String>, ctx: Ctx<U>) -> FlowResult {
    ctx.anonymous_only().await?;
    link_user(&ctx, &token).await?;
    reset_page_with(&ctx, token, FormErrors::new()).await
}

/// `POST /reset/<token>`: set the new password, log in.
async fn reset_password<U: SecurityUser>(
    Path(token): Path<String>,
    Submitted { ctx, form }: Submitted<U, ResetForm>,
) -> FlowResult {
    ctx.anonymous_only().await?;
    let user = link_user(&ctx, &token).await?;
    let mut errors = FormErrors::new();
    let password = ctx.new_password(
        &mut errors,
        "password",
        form.password.as_deref(),
        &[user.email()],
    );
    ctx.retype(
        &mut errors,
        "password_confirm",
        form.password_confirm.as_deref(),
        form.password.as_deref(),
    );
    let Some(password) = password.filter(|_| errors.is_empty()) else {
        return reset_page_with(&ctx, token, errors).await;
    };
    let datastore = ctx.sec.datastore();
    let hash = ctx.sec.passwords().hash(&password).await?;
    // The link is bound to the old password: only one use can replace it, even when two
    // requests race with the same link.
    if !datastore
        .replace_password_hash(&user, user.password(), Some(hash))
        .await?
    {
        return Err(invalid(&ctx));
    }
    ctx.sec.invalidate(&user.id());
    let Some(user) = datastore.find_user_by_id(&user.id()).await? else {
        return Err(invalid(&ctx));
    };
    ctx.sec.password_changed(&user).await?;
    // The owner proved it: a completed reset ends a lock (Devise's behaviour). The password is
    // set either way; a store failure only leaves the lock to end by itself.
    if let Err(err) = ctx
        .sec
        .unlock_account(&user, UnlockReason::PasswordReset)
        .await
    {
        tracing::warn!(error = %err, "security: a reset could not unlock its account");
    }
    let config = ctx.config();
    let mut mail_failed = None;
    if config.send_password_reset_notice_email {
        mail_failed = ctx
            .sec
            .send_mail(EmailKind::ResetNotice, &user, None)
            .await
            .err();
    }
    ctx.sec.emit(Event::PasswordReset { user: user.clone() });
    let ip = ctx.ip();
    // Only claim a login that happened.
    if ctx.sec.login_user(&ctx.session, &user, None, &ip).await? {
        ctx.flash(MessageKey::PasswordReset, &[]);
    }
    if let Some(err) = mail_failed {
        return Err(err.into());
    }
    Ok(ctx.redirect_after(config.post_reset_view.as_deref()))
}

/// Adds the recovery views.
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let path = config.reset_path();
    let page = Op::new(
        "forgot_password_page",
        "recover",
        Kind::Page,
        "The forgot-password page.",
    );
    routes.add(http::Method::GET, &path, page, forgot_page::<U>);
    let forgot = Op::new(
        "forgot_password",
        "recover",
        Kind::Form,
        "Mails a password reset link.",
    )
    .fields(vec![Field::account_email()])
    .throttled()
    .mails();
    routes.add(http::Method::POST, &path, forgot, forgot_password::<U>);
    let token = format!("{path}/{{token}}");
    let page = Op::new(
        "reset_password_page",
        "recover",
        Kind::Link,
        "The mailed reset link: the new-password page.",
    )
    .param("token");
    routes.add(http::Method::GET, &token, page, reset_page::<U>);
    let reset = Op::new(
        "reset_password",
        "recover",
        Kind::Form,
        "Sets a new password with the mailed token.",
    )
    .param("token")
    .fields(vec![
        Field::new("password", FieldType::Password, true, "The new password."),
        Field::new(
            "password_confirm",
            FieldType::Password,
            false,
            "The new password again.",
        ),
    ])
    .throttled()
    .mails();
    routes.add(http::Method::POST, &token, reset, reset_password::<U>);
}
