//! E-mail confirmation (`confirmable.py`, `views.send_confirmation`, `views.confirm_email`,
//! spec §5.7–5.8).
//!
//! The token is `[id, digest]` signed with `SECURITY_CONFIRM_SALT`, where the digest binds it
//! to the address it was sent to. Unlike 1.7.4, a link that was used already logs nobody in,
//! and a link opened in another user's session never replaces that user; an expired link of
//! a confirmed user sends nothing. With `SECURITY_AUTO_LOGIN_AFTER_CONFIRM` off (Flask-Security
//! 5.9's key), a link logs nobody in: then nobody can be logged into someone else's account by
//! opening that account's link.

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
    sec.bind("confirm", user, &[&user.email().to_lowercase()])
}

/// A confirmation token for the user's current address.
pub(crate) fn make_token<U: SecurityUser>(sec: &Runtime<U>, user: &U) -> String {
    let id = user.id().to_string();
    sec.tokens()
        .confirm
        .dumps(&[&id, &digest(sec, user)], sec.now())
}

/// The absolute confirmation link of a token, under `base` (scheme and host).
pub(crate) fn link<U: SecurityUser>(sec: &Runtime<U>, base: &str, token: &str) -> String {
    format!("{base}{}/{token}", sec.config().confirm_path())
}

/// Sends confirmation instructions (`send_confirmation_instructions`), with links under
/// `base`.
async fn send_instructions<U: SecurityUser>(
    sec: Runtime<U>,
    user: U,
    base: String,
) -> Result<(), MailError> {
    let token = make_token(&sec, &user);
    let link = link(&sec, &base, &token);
    sec.send_mail(EmailKind::ConfirmationInstructions, &user, Some(link))
        .await?;
    sec.emit(Event::ConfirmInstructionsSent { user, token });
    Ok(())
}

/// `GET|POST /confirm`: resend confirmation instructions.
async fn send_confirmation<U: SecurityUser>(
    State(sec): State<Runtime<U>>,
    req: Request<Body>,
) -> Response {
    let ctx = match Ctx::read(sec, req).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    if ctx.parts.method != http::Method::POST {
        let email = ctx
            .parts
            .uri
            .query()
            .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "email"))
            .map(|(_, v)| v)
            .unwrap_or_default();
        return ctx
            .page(
                ViewName::SendConfirmation,
                vec![("email", email)],
                FormErrors::new(),
            )
            .await;
    }
    let mut errors = FormErrors::new();
    let (email, valid) = ctx.email_field(&mut errors);
    let mut user = None;
    let mut refusal = None;
    if let Some(email) = &email {
        match ctx.sec.datastore().get_user(email).await {
            Ok(Some(found)) => {
                if valid && found.confirmed_at().is_some() {
                    refusal = Some(MessageKey::AlreadyConfirmed);
                }
                user = Some(found);
            }
            Ok(None) => refusal = Some(MessageKey::UserDoesNotExist),
            Err(err) => return ctx.internal(err),
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
    if !errors.is_empty() {
        return failed(&ctx, errors, &typed).await;
    }
    let Some(user) = user else {
        return failed(&ctx, errors, &typed).await;
    };
    let task = send_instructions(ctx.sec.clone(), user.clone(), ctx.link_base());
    if let Err(response) = ctx.deliver(generic, task).await {
        return response;
    }
    let shown = (!generic).then_some(&user);
    answer_sent(&ctx, &typed, shown).await
}

async fn answer_sent<U: SecurityUser>(ctx: &Ctx<U>, typed: &str, user: Option<&U>) -> Response {
    if ctx.json {
        return ctx.json_ok(match user {
            Some(user) => ctx.user_json(user),
            None => serde_json::json!({}),
        });
    }
    ctx.flash(MessageKey::ConfirmationRequest, &[("email", typed)]);
    ctx.page(
        ViewName::SendConfirmation,
        vec![("email", typed.to_owned())],
        FormErrors::new(),
    )
    .await
}

async fn failed<U: SecurityUser>(ctx: &Ctx<U>, errors: FormErrors, typed: &str) -> Response {
    if ctx.json {
        return ctx.json_errors(&errors);
    }
    ctx.page(
        ViewName::SendConfirmation,
        vec![("email", typed.to_owned())],
        errors,
    )
    .await
}

/// `GET|POST /confirm/<token>`.
async fn confirm_email<U: SecurityUser>(
    State(sec): State<Runtime<U>>,
    Path(token): Path<String>,
    req: Request<Body>,
) -> Response {
    let ctx = match Ctx::read(sec, req).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let config = ctx.config();
    let error_view = config
        .confirm_error_view
        .clone()
        .unwrap_or_else(|| config.confirm_path());
    let within = &config.confirm_email_within;
    let status = ctx
        .token_status(
            &ctx.sec.tokens().confirm,
            &token,
            within.seconds(),
            digest,
            LegacyPayload::EmailDigest,
        )
        .await;
    let (user, expired) = match status {
        Ok(TokenStatus::Valid(user)) => (user, false),
        Ok(TokenStatus::Expired(user)) => (user, true),
        Ok(TokenStatus::Invalid) => return invalid(&ctx, &error_view),
        Err(response) => return response,
    };
    if expired {
        if user.confirmed_at().is_none() {
            let task = send_instructions(ctx.sec.clone(), user.clone(), ctx.link_base());
            if let Err(response) = ctx.deliver(false, task).await {
                return response;
            }
        }
        ctx.flash(
            MessageKey::ConfirmationExpired,
            &[("email", user.email()), ("within", within.text())],
        );
        return ctx.redirect(&error_view);
    }
    // Without the automatic login, on to the login page (5.9), unless a view is configured.
    let target = config.post_confirm_view.clone().unwrap_or_else(|| {
        if config.auto_login_after_confirm {
            config.post_login_view.clone()
        } else {
            config.login_path()
        }
    });
    let confirmed = match ctx
        .sec
        .datastore()
        .confirm_user(&user, ctx.sec.now_utc())
        .await
    {
        Ok(confirmed) => confirmed,
        Err(err) => return ctx.internal(err),
    };
    if !confirmed {
        // A used link: it logs nobody in (S9).
        ctx.flash(MessageKey::AlreadyConfirmed, &[]);
        return ctx.redirect(&target);
    }
    ctx.sec.invalidate(&user.id());
    ctx.sec.emit(Event::UserConfirmed { user: user.clone() });
    let current = match ctx.current_user().await {
        Ok(current) => current,
        Err(response) => return response,
    };
    if current.is_none() && config.auto_login_after_confirm {
        // The first confirmation logs the user in, as in 1.7.4 (unless
        // `SECURITY_AUTO_LOGIN_AFTER_CONFIRM` is off); a session of another user is never
        // replaced.
        let reloaded = match ctx.sec.datastore().find_user_by_id(&user.id()).await {
            Ok(Some(reloaded)) => reloaded,
            Ok(None) => return invalid(&ctx, &error_view),
            Err(err) => return ctx.internal(err),
        };
        let ip = ctx.ip();
        if let Err(err) = ctx.sec.login_user(&ctx.session, &reloaded, None, &ip).await {
            return ctx.internal(err);
        }
    }
    ctx.flash(MessageKey::EmailConfirmed, &[]);
    ctx.redirect(&target)
}

fn invalid<U: SecurityUser>(ctx: &Ctx<U>, error_view: &str) -> Response {
    ctx.flash(MessageKey::InvalidConfirmationToken, &[]);
    ctx.redirect(error_view)
}

/// Adds the confirmation views.
pub(crate) fn routes<U: SecurityUser>(
    router: Router<Runtime<U>>,
    config: &Config,
) -> Router<Runtime<U>> {
    let path = config.confirm_path();
    router
        .route(
            &path,
            get(send_confirmation::<U>).post(send_confirmation::<U>),
        )
        .route(
            &format!("{path}/{{token}}"),
            get(confirm_email::<U>).post(confirm_email::<U>),
        )
}
