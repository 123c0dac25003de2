//! Passwordless login (`passwordless.py`, `views.send_login`, `views.token_login`, spec
//! §5.9–5.10).
//!
//! With `SECURITY_PASSWORDLESS` the login URL sends a login link instead of checking a
//! password. The token is `[id, digest]` signed with `SECURITY_LOGIN_SALT`, bound to the
//! account (address, password hash, uniquifier). Unlike 1.7.4 a link works once (S19: its
//! digest is recorded in `security_used_token`) and inactive users are refused (S12).

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
        "login",
        user,
        &[
            &user.email().to_lowercase(),
            user.password().unwrap_or(""),
            user.uniquifier().unwrap_or(""),
        ],
    )
}

/// A login token for the user: `[id, digest, nonce]`. The nonce makes every link distinct,
/// so that recording a used one never kills a newer one issued in the same second.
pub(crate) fn make_token<U: SecurityUser>(sec: &Runtime<U>, user: &U) -> String {
    let id = user.id().to_string();
    let nonce = crate::crypto::cookie_codec::random_token(12);
    sec.tokens()
        .login
        .dumps(&[&id, &digest(sec, user), &nonce], sec.now())
}

/// Sends login instructions (`send_login_instructions`), with links under `base`.
async fn send_instructions<U: SecurityUser>(
    sec: Runtime<U>,
    user: U,
    base: String,
) -> Result<(), MailError> {
    let token = make_token(&sec, &user);
    let link = format!("{base}{}/{token}", sec.config().login_path());
    sec.send_mail(EmailKind::LoginInstructions, &user, Some(link))
        .await?;
    sec.emit(Event::LoginInstructionsSent {
        user,
        login_token: token,
    });
    Ok(())
}

/// `GET|POST /login` with passwordless on: send a login link.
async fn send_login<U: SecurityUser>(
    State(sec): State<Runtime<U>>,
    req: Request<Body>,
) -> Response {
    let ctx = match Ctx::read(sec, req).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    if ctx.parts.method != http::Method::POST {
        return ctx
            .page(ViewName::SendLogin, Vec::new(), FormErrors::new())
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
                if valid && !found.active() {
                    refusal = Some(MessageKey::DisabledAccount);
                }
                user = Some(found);
            }
            Ok(None) => refusal = Some(MessageKey::UserDoesNotExist),
            Err(err) => return ctx.internal(err),
        }
    }
    let generic = ctx.config().return_generic_responses;
    match refusal {
        // Whether the account exists is never told (see the forgot-password view).
        Some(_) if generic && errors.is_empty() => {
            ctx.decoy();
            return sent(&ctx, &typed, None).await;
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
            .page(ViewName::SendLogin, vec![("email", typed)], errors)
            .await;
    };
    let task = send_instructions(ctx.sec.clone(), user.clone(), ctx.link_base());
    if let Err(response) = ctx.deliver(generic, task).await {
        return response;
    }
    let shown = (!generic).then_some(&user);
    sent(&ctx, &typed, shown).await
}

async fn sent<U: SecurityUser>(ctx: &Ctx<U>, typed: &str, user: Option<&U>) -> Response {
    if ctx.json {
        return ctx.json_ok(match user {
            Some(user) => ctx.user_json(user),
            None => serde_json::json!({}),
        });
    }
    ctx.flash(MessageKey::LoginEmailSent, &[("email", typed)]);
    ctx.page(ViewName::SendLogin, Vec::new(), FormErrors::new())
        .await
}

/// `GET /login/<token>`.
async fn token_login<U: SecurityUser>(
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
    let config = ctx.config();
    let login = config.login_path();
    let within = &config.login_within;
    let status = ctx
        .token_status(
            &ctx.sec.tokens().login,
            &token,
            within.seconds(),
            digest,
            LegacyPayload::IdOnly,
        )
        .await;
    let (user, expired) = match status {
        Ok(TokenStatus::Valid(user)) => (user, false),
        Ok(TokenStatus::Expired(user)) => (user, true),
        Ok(TokenStatus::Invalid) => return invalid(&ctx, &login),
        Err(response) => return response,
    };
    if expired {
        let task = send_instructions(ctx.sec.clone(), user.clone(), ctx.link_base());
        if let Err(response) = ctx.deliver(false, task).await {
            return response;
        }
        ctx.flash(
            MessageKey::LoginExpired,
            &[("email", user.email()), ("within", within.text())],
        );
        return ctx.redirect(&login);
    }
    if !user.active() {
        ctx.flash(MessageKey::DisabledAccount, &[]);
        return ctx.redirect(&login);
    }
    if ctx.sec.needs_confirmation(&user) {
        ctx.flash(MessageKey::ConfirmationRequired, &[]);
        return ctx.redirect(&login);
    }
    match ctx
        .sec
        .use_once(b"used-login-token", &token, within.seconds())
        .await
    {
        Ok(true) => {}
        Ok(false) => return invalid(&ctx, &login),
        Err(err) => return ctx.internal(err),
    }
    let ip = ctx.ip();
    match ctx.sec.login_user(&ctx.session, &user, None, &ip).await {
        Ok(true) => {}
        Ok(false) => return invalid(&ctx, &login),
        Err(err) => return ctx.internal(err),
    }
    ctx.flash(MessageKey::PasswordlessLoginSuccessful, &[]);
    ctx.post_redirect(&config.post_login_view.clone())
}

fn invalid<U: SecurityUser>(ctx: &Ctx<U>, login: &str) -> Response {
    ctx.flash(MessageKey::InvalidLoginToken, &[]);
    ctx.redirect(login)
}

/// Adds the passwordless views (the login URL sends links).
pub(crate) fn routes<U: SecurityUser>(
    router: Router<Runtime<U>>,
    config: &Config,
) -> Router<Runtime<U>> {
    let path = config.login_path();
    router
        .route(&path, get(send_login::<U>).post(send_login::<U>))
        .route(&format!("{path}/{{token}}"), get(token_login::<U>))
}
