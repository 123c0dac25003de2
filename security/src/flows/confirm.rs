//! E-mail confirmation (`confirmable.py`, `views.send_confirmation`, `views.confirm_email`).
//!
//! When a confirmation link is valid is told in [`crate::tokens::links`]: bound to the
//! address it was sent to. Unlike 1.7.4, a link that was used already logs nobody in,
//! and a link opened in another user's session never replaces that user; an expired link of
//! a confirmed user sends nothing. With `SECURITY_AUTO_LOGIN_AFTER_CONFIRM` off (Flask-Security
//! 5.9's key), a link logs nobody in: then nobody can be logged into someone else's account by
//! opening that account's link.

use axum::extract::Path;

use super::context::{Ctx, FlowError, FlowForm, FlowResult, Input, NoFields, Submitted};
use super::table::{Field, Kind, Op, Routes};
use crate::config::Config;
use crate::events::Event;
use crate::messages::MessageKey;
use crate::store::model::SecurityUser;
use crate::tokens::links::{Link, LinkStatus};
use crate::web::response::FormErrors;
use crate::web::views::ViewName;

/// 1.7.4's `SendConfirmationForm`.
pub(crate) struct SendConfirmationForm {
    email: Option<String>,
}

impl FlowForm for SendConfirmationForm {
    const PAGE: Option<ViewName> = Some(ViewName::SendConfirmation);

    fn read(input: &Input) -> Self {
        SendConfirmationForm {
            email: input.owned("email"),
        }
    }
}

/// `GET /confirm`: the page (the address from `?email=`).
async fn send_confirmation_page<U: SecurityUser>(ctx: Ctx<U>) -> FlowResult {
    let email = ctx.query("email").unwrap_or_default();
    ctx.page(
        ViewName::SendConfirmation,
        vec![("email", email)],
        FormErrors::new(),
    )
    .await
}

/// `POST /confirm`: resend confirmation instructions.
async fn send_confirmation<U: SecurityUser>(
    Submitted { ctx, form }: Submitted<U, SendConfirmationForm>,
) -> FlowResult {
    let mut errors = FormErrors::new();
    let (email, valid) = ctx.email_field(&mut errors, form.email.as_deref());
    let mut user = None;
    let mut refusal = None;
    if let Some(email) = &email {
        match ctx.sec.datastore().get_user(email).await? {
            Some(found) => {
                if valid && found.confirmed_at().is_some() {
                    refusal = Some(MessageKey::AlreadyConfirmed);
                }
                user = Some(found);
            }
            None => refusal = Some(MessageKey::UserDoesNotExist),
        }
    }
    let typed = email.clone().unwrap_or_default();
    let generic = ctx.config().return_generic_responses;
    match refusal {
        // Whether the account exists is never told (see the forgot-password view).
        Some(_) if generic && errors.is_empty() => {
            ctx.decoy();
            return answer_sent(&ctx, &typed, None).await;
        }
        Some(_) if generic => {}
        Some(key) => ctx.error(&mut errors, "email", key, &[("email", &typed)]),
        None => {}
    }
    let Some(user) = user.filter(|_| errors.is_empty()) else {
        return failed(&ctx, errors, &typed).await;
    };
    let task = super::send_link(
        ctx.sec.clone(),
        Link::Confirm,
        user.clone(),
        ctx.link_base(),
    );
    ctx.deliver(generic, task).await?;
    let shown = (!generic).then_some(&user);
    answer_sent(&ctx, &typed, shown).await
}

async fn answer_sent<U: SecurityUser>(ctx: &Ctx<U>, typed: &str, user: Option<&U>) -> FlowResult {
    if ctx.json {
        return Ok(ctx.json_ok(match user {
            Some(user) => ctx.user_json(user),
            None => serde_json::json!({}),
        }));
    }
    ctx.flash(MessageKey::ConfirmationRequest, &[("email", typed)]);
    ctx.page(
        ViewName::SendConfirmation,
        vec![("email", typed.to_owned())],
        FormErrors::new(),
    )
    .await
}

async fn failed<U: SecurityUser>(ctx: &Ctx<U>, errors: FormErrors, typed: &str) -> FlowResult {
    if ctx.json {
        return Ok(ctx.json_errors(&errors));
    }
    ctx.page(
        ViewName::SendConfirmation,
        vec![("email", typed.to_owned())],
        errors,
    )
    .await
}

/// `GET /confirm/<token>`: confirm the address (a link opened from a mail).
async fn confirm_email<U: SecurityUser>(Path(token): Path<String>, ctx: Ctx<U>) -> FlowResult {
    confirm(ctx, &token).await
}

/// `POST /confirm/<token>`: the same, posted (with the CSRF token).
async fn confirm_email_posted<U: SecurityUser>(
    Path(token): Path<String>,
    Submitted { ctx, .. }: Submitted<U, NoFields>,
) -> FlowResult {
    confirm(ctx, &token).await
}

async fn confirm<U: SecurityUser>(ctx: Ctx<U>, token: &str) -> FlowResult {
    let config = ctx.config();
    let error_view = config
        .confirm_error_view
        .clone()
        .unwrap_or_else(|| config.confirm_path());
    let within = &config.confirm_email_within;
    let user = match ctx.sec.link_status(Link::Confirm, token).await? {
        LinkStatus::Valid(user) => user,
        LinkStatus::Invalid => return Err(invalid(&ctx, &error_view)),
        LinkStatus::Expired(user) => {
            if user.confirmed_at().is_none() {
                let task = super::send_link(
                    ctx.sec.clone(),
                    Link::Confirm,
                    user.clone(),
                    ctx.link_base(),
                );
                ctx.deliver(false, task).await?;
            }
            ctx.flash(
                MessageKey::ConfirmationExpired,
                &[("email", user.email()), ("within", within.text())],
            );
            return Ok(ctx.redirect(&error_view));
        }
    };
    // Without the automatic login, on to the login page (5.9), unless a view is configured.
    let target = config.post_confirm_view.clone().unwrap_or_else(|| {
        if config.auto_login_after_confirm {
            config.post_login_view.clone()
        } else {
            config.login_path()
        }
    });
    if !ctx
        .sec
        .datastore()
        .confirm_user(&user, ctx.sec.now_utc())
        .await?
    {
        // A used link: it logs nobody in.
        ctx.flash(MessageKey::AlreadyConfirmed, &[]);
        return Ok(ctx.redirect(&target));
    }
    ctx.sec.invalidate(&user.id());
    ctx.sec.emit(Event::UserConfirmed { user: user.clone() });
    if ctx.current_user().await?.is_none() && config.auto_login_after_confirm {
        // The first confirmation logs the user in, as in 1.7.4 (unless
        // `SECURITY_AUTO_LOGIN_AFTER_CONFIRM` is off); a session of another user is never
        // replaced.
        let Some(reloaded) = ctx.sec.datastore().find_user_by_id(&user.id()).await? else {
            return Err(invalid(&ctx, &error_view));
        };
        let ip = ctx.ip();
        ctx.sec
            .login_user(&ctx.session, &reloaded, None, &ip)
            .await?;
    }
    ctx.flash(MessageKey::EmailConfirmed, &[]);
    Ok(ctx.redirect(&target))
}

fn invalid<U: SecurityUser>(ctx: &Ctx<U>, error_view: &str) -> FlowError {
    ctx.flash(MessageKey::InvalidConfirmationToken, &[]);
    FlowError::answer(ctx.redirect(error_view))
}

/// Adds the confirmation views.
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let path = config.confirm_path();
    let page = Op::new(
        "send_confirmation_page",
        "confirm",
        Kind::Page,
        "The page that mails a new confirmation link.",
    );
    routes.add(http::Method::GET, &path, page, send_confirmation_page::<U>);
    let send = Op::new(
        "send_confirmation",
        "confirm",
        Kind::Form,
        "Mails a new confirmation link.",
    )
    .fields(vec![Field::account_email()])
    .throttled()
    .mails();
    routes.add(http::Method::POST, &path, send, send_confirmation::<U>);
    let token = format!("{path}/{{token}}");
    let link = Op::new(
        "confirm_email",
        "confirm",
        Kind::Link,
        "The mailed confirmation link: confirms and redirects.",
    )
    .param("token");
    routes.add(http::Method::GET, &token, link, confirm_email::<U>);
    let posted = Op::new(
        "confirm_email_posted",
        "confirm",
        Kind::Form,
        "Confirms with the mailed token (JSON clients).",
    )
    .param("token");
    routes.add(
        http::Method::POST,
        &token,
        posted,
        confirm_email_posted::<U>,
    );
}
