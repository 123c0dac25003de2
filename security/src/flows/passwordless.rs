//! Passwordless login (`passwordless.py`, `views.send_login`, `views.token_login`).
//!
//! With `SECURITY_PASSWORDLESS` the login URL sends a login link instead of checking a
//! password. When a login link is valid is told in [`crate::tokens::links`]: bound to the
//! account (address, password hash, uniquifier). Unlike 1.7.4 a link works once (its digest
//! is recorded in `security_used_token`) and inactive users are refused.

use axum::extract::Path;
use http::Method;

use super::context::{Ctx, FlowError, FlowForm, FlowResult, Input, Submitted};
use super::table::{Field, Kind, Op, Routes};
use crate::config::Config;
use crate::messages::MessageKey;
use crate::store::model::SecurityUser;
use crate::tokens::links::{Link, LinkStatus};
use crate::web::response::FormErrors;
use crate::web::views::ViewName;

/// 1.7.4's `PasswordlessLoginForm`.
pub(crate) struct SendLoginForm {
    email: Option<String>,
}

impl FlowForm for SendLoginForm {
    const PAGE: Option<ViewName> = Some(ViewName::SendLogin);

    fn read(input: &Input) -> Self {
        SendLoginForm {
            email: input.owned("email"),
        }
    }
}

/// `GET /login` with passwordless on: the page.
async fn send_login_page<U: SecurityUser>(ctx: Ctx<U>) -> FlowResult {
    ctx.page(ViewName::SendLogin, Vec::new(), FormErrors::new())
        .await
}

/// `POST /login` with passwordless on: send a login link.
async fn send_login<U: SecurityUser>(
    Submitted { ctx, form }: Submitted<U, SendLoginForm>,
) -> FlowResult {
    let mut errors = FormErrors::new();
    let (email, valid) = ctx.email_field(&mut errors, form.email.as_deref());
    let typed = email.clone().unwrap_or_default();
    let mut user = None;
    let mut refusal = None;
    if let Some(email) = &email {
        match ctx.sec.datastore().get_user(email).await? {
            Some(found) => {
                if valid && !found.active() {
                    refusal = Some(MessageKey::DisabledAccount);
                }
                user = Some(found);
            }
            None => refusal = Some(MessageKey::UserDoesNotExist),
        }
    }
    let generic = ctx.config().return_generic_responses;
    if let Some(found) = &user {
        // A locked account gets no login link from a client without its device cookie.
        let client = ctx.sec.client(&ctx.parts);
        match ctx.sec.before_credential(&client, Some(found)).await {
            Err(throttled) => return ctx.too_many(ViewName::SendLogin, throttled).await,
            Ok(standing) if standing.locked() && refusal.is_none() => {
                refusal = Some(MessageKey::Locked);
            }
            Ok(_) => {}
        }
    }
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
            return Ok(ctx.json_errors(&errors));
        }
        return ctx
            .page(ViewName::SendLogin, vec![("email", typed)], errors)
            .await;
    };
    let task = super::send_link(ctx.sec.clone(), Link::Login, user.clone(), ctx.link_base());
    ctx.deliver(generic, task).await?;
    let shown = (!generic).then_some(&user);
    sent(&ctx, &typed, shown).await
}

async fn sent<U: SecurityUser>(ctx: &Ctx<U>, typed: &str, user: Option<&U>) -> FlowResult {
    if ctx.json {
        return Ok(ctx.json_ok(match user {
            Some(user) => ctx.user_json(user),
            None => serde_json::json!({}),
        }));
    }
    ctx.flash(MessageKey::LoginEmailSent, &[("email", typed)]);
    ctx.page(ViewName::SendLogin, Vec::new(), FormErrors::new())
        .await
}

/// `GET /login/<token>`: log in from a mailed link.
async fn token_login<U: SecurityUser>(Path(token): Path<String>, ctx: Ctx<U>) -> FlowResult {
    ctx.anonymous_only().await?;
    let config = ctx.config();
    let login = config.login_path();
    let user = match ctx.sec.link_status(Link::Login, &token).await? {
        LinkStatus::Valid(user) => user,
        LinkStatus::Invalid => return Err(invalid(&ctx, &login)),
        LinkStatus::Expired(user) => {
            let task =
                super::send_link(ctx.sec.clone(), Link::Login, user.clone(), ctx.link_base());
            ctx.deliver(false, task).await?;
            ctx.flash(
                MessageKey::LoginExpired,
                &[
                    ("email", user.email()),
                    ("within", config.login_within.text()),
                ],
            );
            return Ok(ctx.redirect(&login));
        }
    };
    if !user.active() {
        ctx.flash(MessageKey::DisabledAccount, &[]);
        return Ok(ctx.redirect(&login));
    }
    if ctx.sec.needs_confirmation(&user) {
        ctx.flash(MessageKey::ConfirmationRequired, &[]);
        return Ok(ctx.redirect(&login));
    }
    if !ctx.sec.use_link_once(Link::Login, &token).await? {
        return Err(invalid(&ctx, &login));
    }
    let ip = ctx.ip();
    if !ctx.sec.login_user(&ctx.session, &user, None, &ip).await? {
        return Err(invalid(&ctx, &login));
    }
    ctx.flash(MessageKey::PasswordlessLoginSuccessful, &[]);
    Ok(ctx.post_redirect(&config.post_login_view.clone()))
}

fn invalid<U: SecurityUser>(ctx: &Ctx<U>, login: &str) -> FlowError {
    ctx.flash(MessageKey::InvalidLoginToken, &[]);
    FlowError::answer(ctx.redirect(login))
}

/// Adds the passwordless views (the login URL sends links).
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let path = config.login_path();
    let page = Op::new(
        "send_login_page",
        "passwordless",
        Kind::Page,
        "The page that mails a login link.",
    );
    routes.add(Method::GET, &path, page, send_login_page::<U>);
    let send = Op::new(
        "send_login",
        "passwordless",
        Kind::Form,
        "Mails a login link.",
    )
    .fields(vec![Field::account_email()])
    .throttled()
    .mails();
    routes.add(Method::POST, &path, send, send_login::<U>);
    let link = Op::new(
        "token_login",
        "passwordless",
        Kind::Link,
        "The mailed login link: logs in and redirects.",
    )
    .param("token");
    routes.add(
        Method::GET,
        &format!("{path}/{{token}}"),
        link,
        token_login::<U>,
    );
}
