//! Change of e-mail address (Flask-Security 5.9's `change_email.py`).
//!
//! Served at `SECURITY_CHANGE_EMAIL_URL` when `SECURITY_CHANGE_EMAIL` is on. A user
//! authenticated by session or token, and fresh (`SECURITY_FRESHNESS`; a stale one gets 5.9's
//! answer: a redirect to the verify view, or 401 with `reauth_required`), posts a new
//! address; a link goes to that address (`change_email_instructions`), and the stored address
//! changes only when the link is opened (no login needed), within
//! `SECURITY_CHANGE_EMAIL_WITHIN`, once, while the account is as it was when the link was made
//! and the new address is still free (see [`crate::tokens::change_email`]). The address is
//! then marked confirmed, the old address gets a notice (`SECURITY_SEND_CHANGE_EMAIL_NOTICE`,
//! a port addition), the identity cache entry is dropped on every instance, and
//! [`Event::EmailChanged`] is emitted.
//!
//! The account fingerprint that sessions, remember cookies and auth tokens are bound to names
//! the address, so they all end with the change, except the session of the browser that opens
//! the link when it is the user's (5.9 keeps the user logged in there). Pending reset,
//! confirmation and passwordless links are bound to the address too, and die.
//!
//! With `SECURITY_RETURN_GENERIC_RESPONSES`, an address that has an account gets the answer
//! of a free one and nothing is mailed (5.9's behaviour).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Path;
use axum::response::IntoResponse;
use http::StatusCode;
use serde_json::Value;

use super::context::{Ctx, FlowError, FlowForm, FlowResult, Input, Submitted};
use super::table::{Field, FieldType, Kind, Op, Routes};
use crate::config::Config;
use crate::events::Event;
use crate::mail::EmailKind;
use crate::messages::{MessageKey, duration_text};
use crate::store::datastore::{DatastoreError, UserWithRoles, canonical};
use crate::store::model::SecurityUser;
use crate::tokens::change_email::{self as token, ChangeEmailStatus};
use crate::web::guard::{Authenticator, Freshness, Method, Rejection, Requirement};
use crate::web::request::wants_json;
use crate::web::response::{self, FormErrors};
use crate::web::views::{EmailContext, ViewName};

/// 5.9's `ChangeEmailForm`: the new address.
pub(crate) struct ChangeEmailForm {
    email: Option<String>,
}

impl FlowForm for ChangeEmailForm {
    const PAGE: Option<ViewName> = Some(ViewName::ChangeEmail);

    fn read(input: &Input) -> Self {
        ChangeEmailForm {
            email: input.owned("email"),
        }
    }
}

/// The mechanisms 5.9's view accepts (`API_ENABLED_METHODS`: session and token).
const METHODS: &[Method] = &[Method::Session, Method::Token];

/// Whether to answer in JSON: a JSON body, or an `Accept` that asks for JSON.
fn json<U: SecurityUser>(ctx: &Ctx<U>) -> bool {
    ctx.json || wants_json(&ctx.parts)
}

/// The request's user, authenticated by session or token and fresh: 5.9's
/// `auth_required(within=FRESHNESS, grace=FRESHNESS_GRACE_PERIOD)`. Anonymous: the login
/// redirect (browser) or 401 (JSON); stale: the verify redirect or 401 `reauth_required`.
async fn fresh_user<U: SecurityUser>(ctx: &mut Ctx<U>) -> Result<Arc<UserWithRoles<U>>, FlowError> {
    let wants_json = json(ctx);
    let requirement = Requirement::AnyOf(METHODS, Some(Freshness::CONFIGURED));
    if let Err(rejection) = ctx.sec.check(&mut ctx.parts, requirement).await {
        if matches!(rejection, Rejection::Unauthorized { .. }) && !wants_json {
            return Err(FlowError::answer(ctx.sec.login_redirect(&ctx.parts)));
        }
        return Err(FlowError::answer(rejection.into_response()));
    }
    ctx.sec
        .request_identity(&mut ctx.parts)
        .await?
        .ok_or_else(|| FlowError::answer(ctx.sec.login_redirect(&ctx.parts)))
}

/// The JSON answer of the view: 5.9's `current_email` beside the user.
fn current_email_json<U: SecurityUser>(ctx: &Ctx<U>, user: &U) -> Value {
    let mut body = ctx.user_json(user);
    if let Value::Object(map) = &mut body {
        map.insert(
            "current_email".into(),
            Value::String(user.email().to_owned()),
        );
    }
    body
}

/// `GET /change-email`: the page, or in JSON the current address.
async fn change_email_page<U: SecurityUser>(mut ctx: Ctx<U>) -> FlowResult {
    let identity = fresh_user(&mut ctx).await?;
    if json(&ctx) {
        return Ok(ctx.json_ok(current_email_json(&ctx, &identity.user)));
    }
    ctx.page(ViewName::ChangeEmail, Vec::new(), FormErrors::new())
        .await
}

/// `POST /change-email {email}`: checks the address and mails the link to it.
async fn change_email<U: SecurityUser>(
    Submitted { mut ctx, form }: Submitted<U, ChangeEmailForm>,
) -> FlowResult {
    let identity = fresh_user(&mut ctx).await?;
    let user = &identity.user;
    let mut errors = FormErrors::new();
    let given = form.email.as_deref().map(str::trim);
    let (email, valid) = ctx.email_field(&mut errors, given);
    let Some(email) = email.filter(|_| valid) else {
        return form_failed(&ctx, errors, given.unwrap_or("")).await;
    };
    // The address the user has already is taken too (by them), as 5.9's unique-email check
    // sees it.
    let taken = canonical(&email) == canonical(user.email())
        || ctx
            .sec
            .datastore()
            .find_user_by_email(&email)
            .await?
            .is_some();
    if taken {
        if !ctx.config().return_generic_responses {
            ctx.error(
                &mut errors,
                "email",
                MessageKey::EmailAlreadyAssociated,
                &[("email", &email)],
            );
            return form_failed(&ctx, errors, &email).await;
        }
        // Answered as if sent, and nothing is: an address that has an account is not told
        // apart from a free one (nor is its owner bothered).
        ctx.decoy();
    } else {
        send_instructions(&ctx, user, &email).await?;
    }
    if json(&ctx) {
        return Ok(ctx.json_ok(current_email_json(&ctx, user)));
    }
    ctx.flash(MessageKey::ChangeEmailSent, &[("email", &email)]);
    ctx.page(ViewName::ChangeEmail, Vec::new(), FormErrors::new())
        .await
}

/// Mails the link that changes `user`'s address to `new_email`, to `new_email`, and emits
/// [`Event::ChangeEmailInstructionsSent`].
async fn send_instructions<U: SecurityUser>(
    ctx: &Ctx<U>,
    user: &U,
    new_email: &str,
) -> Result<(), FlowError> {
    let sec = &ctx.sec;
    let config = sec.config();
    let digest = |parts: &[&[u8]]| sec.keyed_digest(parts);
    let token = token::make(config, &digest, user, new_email, sec.now());
    let link = ctx.link(&format!("{}/{token}", config.change_email_path()));
    let mut extra = BTreeMap::new();
    extra.insert(
        "within".to_owned(),
        duration_text(config.change_email_within.seconds()),
    );
    extra.insert("new_email".to_owned(), new_email.to_owned());
    let mail = EmailContext {
        kind: Some(EmailKind::ChangeEmailInstructions),
        user_email: user.email().to_owned(),
        link: Some(link),
        extra,
        ..EmailContext::default()
    };
    if sec
        .send_mail_to(EmailKind::ChangeEmailInstructions, new_email, mail)
        .await?
    {
        sec.emit(Event::ChangeEmailInstructionsSent {
            user: user.clone(),
            new_email: new_email.to_owned(),
            token,
        });
    }
    Ok(())
}

/// The form's errors: 5.9's JSON error (400, `errors` and `field_errors`), or the page again
/// with the address given.
async fn form_failed<U: SecurityUser>(ctx: &Ctx<U>, errors: FormErrors, given: &str) -> FlowResult {
    if json(ctx) {
        return Ok(response::json_error(
            StatusCode::BAD_REQUEST,
            response::error_payload(&[], &errors),
        ));
    }
    ctx.page(
        ViewName::ChangeEmail,
        vec![("email", given.to_owned())],
        errors,
    )
    .await
}

/// `GET /change-email/<token>`: the mailed link (no login needed).
async fn confirm_change<U: SecurityUser>(Path(link): Path<String>, ctx: Ctx<U>) -> FlowResult {
    let sec = &ctx.sec;
    let config = sec.config();
    let datastore = sec.datastore();
    let now = sec.now();
    let digest = |parts: &[&[u8]]| sec.keyed_digest(parts);
    let (user, new_email) = match token::status(config, &digest, datastore, &link, now).await? {
        ChangeEmailStatus::Valid(user, new_email) => (user, new_email),
        ChangeEmailStatus::Expired => {
            let within = duration_text(config.change_email_within.seconds());
            return Ok(refused(&ctx, MessageKey::ChangeEmailExpired, &within));
        }
        ChangeEmailStatus::Invalid => return Ok(refused(&ctx, MessageKey::ApiError, "")),
    };
    // This browser's session, before the change ends it (its fingerprint names the address).
    let session_user = ctx
        .current_user()
        .await?
        .filter(|found| found.user.id() == user.id());
    let lifetime = i64::try_from(config.change_email_within.seconds()).unwrap_or(i64::MAX / 2);
    let expires_at = now.saturating_add(lifetime).saturating_add(1);
    let used = token::used_digest(&digest, &link);
    if !crate::store::schema::consume(datastore.connection(), used, expires_at, now).await? {
        return Ok(refused(&ctx, MessageKey::ApiError, ""));
    }
    match datastore
        .change_email(&user, &new_email, Some(sec.now_utc()))
        .await
    {
        Ok(true) => {}
        Ok(false) | Err(DatastoreError::DuplicateEmail { .. }) => {
            return Ok(refused(&ctx, MessageKey::ApiError, ""));
        }
        Err(err) => return Err(err.into()),
    }
    let old_email = user.email().to_owned();
    sec.invalidate(&user.id());
    let Some(changed) = datastore.find_user_by_id(&user.id()).await? else {
        return Ok(refused(&ctx, MessageKey::ApiError, ""));
    };
    tracing::info!(user = %changed.id(), "security: e-mail address changed");
    if session_user.is_some() {
        // This session goes on (and this browser's remember cookie), bound to the new address.
        sec.reissue_session(&ctx.session, &changed).await?;
    }
    if config.send_change_email_notice {
        notify_old_address(&ctx, &changed, &old_email).await;
    }
    sec.emit(Event::EmailChanged {
        user: changed,
        old_email,
    });
    ctx.flash(MessageKey::ChangeEmailConfirmed, &[]);
    Ok(ctx.redirect_after(config.post_change_email_view.as_deref()))
}

/// Tells the old address that the account's address changed (the new one masked), with a
/// link to reset the password when recoverable. The change is done: a notice that cannot be
/// queued is logged, not answered.
async fn notify_old_address<U: SecurityUser>(ctx: &Ctx<U>, user: &U, old_email: &str) {
    let config = ctx.config();
    let mut extra = BTreeMap::new();
    extra.insert("new_email".to_owned(), mask(user.email()));
    let mail = EmailContext {
        kind: Some(EmailKind::ChangeEmailNotice),
        user_email: old_email.to_owned(),
        link: config.recoverable.then(|| ctx.link(&config.reset_path())),
        extra,
        ..EmailContext::default()
    };
    if let Err(err) = ctx
        .sec
        .send_mail_to(EmailKind::ChangeEmailNotice, old_email, mail)
        .await
    {
        tracing::error!(user = %user.id(), error = %err, "security: the change-of-address notice could not be queued");
    }
}

/// An address with its local part masked: `m***@example.org`.
fn mask(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// A refused link: the message flashed, and a redirect to `SECURITY_CHANGE_EMAIL_ERROR_VIEW`
/// (else the change-email page).
fn refused<U: SecurityUser>(
    ctx: &Ctx<U>,
    key: MessageKey,
    within: &str,
) -> axum::response::Response {
    ctx.flash(key, &[("within", within)]);
    let config = ctx.config();
    let target = config
        .change_email_error_view
        .clone()
        .unwrap_or_else(|| config.change_email_path());
    ctx.redirect(&target)
}

/// Adds the change-email views.
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let path = config.change_email_path();
    let page = Op::new(
        "change_email_page",
        "change_email",
        Kind::Page,
        "The change-email page (JSON: the current address).",
    )
    .authenticated();
    routes.add(http::Method::GET, &path, page, change_email_page::<U>);
    let change = Op::new(
        "change_email",
        "change_email",
        Kind::Form,
        "Mails a confirmation link to a new address.",
    )
    .fields(vec![Field::new(
        "email",
        FieldType::Text,
        true,
        "The new e-mail address.",
    )])
    .authenticated()
    .throttled()
    .mails();
    routes.add(http::Method::POST, &path, change, change_email::<U>);
    let link = Op::new(
        "confirm_change_email",
        "change_email",
        Kind::Link,
        "The mailed link: makes the new address the account's.",
    )
    .param("token");
    routes.add(
        http::Method::GET,
        &format!("{path}/{{token}}"),
        link,
        confirm_change::<U>,
    );
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_the_local_part() {
        assert_eq!(mask("matt@lp.com"), "m***@lp.com");
        assert_eq!(mask("@lp.com"), "***@lp.com");
        assert_eq!(mask("nope"), "***");
    }
}
