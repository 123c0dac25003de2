//! Change username (Flask-Security 5.9's `change_username.py`, `ChangeUsernameForm`).
//!
//! Served at `SECURITY_CHANGE_USERNAME_URL` when `SECURITY_CHANGE_USERNAME` is on, to a user
//! whose session is fresh (`SECURITY_FRESHNESS`: a stale one is sent to re-authenticate, as
//! 5.9's `auth_required(within=FRESHNESS)` does; JSON gets 401). The new name is checked by 5.9's rules
//! ([`crate::username`]) and must be nobody's, the user's own current name included
//! (`USERNAME_ALREADY_ASSOCIATED`); an empty one clears the username unless
//! `SECURITY_USERNAME_REQUIRED` (`USERNAME_NOT_PROVIDED`). A success mails
//! `change_username_notice` (`SECURITY_SEND_USERNAME_CHANGE_EMAIL`), emits
//! [`Event::UsernameChanged`], and answers with a redirect to
//! `SECURITY_POST_CHANGE_USERNAME_VIEW` (else `SECURITY_POST_LOGIN_VIEW`) and the
//! `USERNAME_CHANGE` flash, or in JSON the user. The page's JSON has `current_username`.
//! Errors are 5.9's: the page again, or 400 with `errors` and `field_errors`.

use std::sync::Arc;

use axum::response::IntoResponse;
use http::StatusCode;
use serde_json::Value;

use super::context::{Ctx, FlowError, FlowForm, FlowResult, Input, Submitted};
use super::table::{Field, FieldType, Kind, Op, Routes};
use crate::config::Config;
use crate::events::Event;
use crate::guard::Freshness;
use crate::mail::EmailKind;
use crate::messages::MessageKey;
use crate::store::datastore::{DatastoreError, UserWithRoles};
use crate::store::model::SecurityUser;
use crate::web::request::wants_json;
use crate::web::response::{self, FormErrors};
use crate::web::views::ViewName;

/// 5.9's `ChangeUsernameForm`: the new username.
pub(crate) struct ChangeUsernameForm {
    username: Option<String>,
}

impl FlowForm for ChangeUsernameForm {
    // No credential is presented: not counted against the login rate limits.
    const PAGE: Option<ViewName> = None;

    fn read(input: &Input) -> Self {
        ChangeUsernameForm {
            username: input.owned("username"),
        }
    }
}

/// Whether to answer in JSON: a JSON body, or an `Accept` that asks for JSON.
fn json<U: SecurityUser>(ctx: &Ctx<U>) -> bool {
    ctx.json || wants_json(&ctx.parts)
}

/// The page's JSON: the user and `current_username`.
fn page_json<U: SecurityUser>(ctx: &Ctx<U>, user: &U) -> Value {
    let mut body = ctx.user_json(user);
    if let Value::Object(map) = &mut body {
        map.insert(
            "current_username".into(),
            user.username()
                .map_or(Value::Null, |n| Value::String(n.into())),
        );
    }
    body
}

/// The page, with the current username and, after a refused post, the errors.
async fn page<U: SecurityUser>(ctx: &Ctx<U>, user: &U, errors: FormErrors) -> FlowResult {
    let values = vec![
        (
            "current_username",
            user.username().unwrap_or_default().to_owned(),
        ),
        ("username", ctx.input.owned("username").unwrap_or_default()),
    ];
    ctx.page(ViewName::ChangeUsername, values, errors).await
}

/// 5.9's `auth_required(within=FRESHNESS)` on the view: the session's user, or the login
/// redirect (JSON: 401); an authentication that is not fresh enough gets the stale answer
/// (the verify view with `next`; JSON: 401 with `reauth_required`).
async fn fresh_user<U: SecurityUser>(ctx: &Ctx<U>) -> Result<Arc<UserWithRoles<U>>, FlowError> {
    let Some(identity) = ctx.current_user().await? else {
        if json(ctx) {
            return Err(FlowError::answer(response::unauthorized(
                None,
                true,
                ctx.config().json_http_status_codes,
            )));
        }
        return Err(FlowError::answer(ctx.sec.login_redirect(&ctx.parts)));
    };
    ctx.sec
        .check_fresh(&ctx.parts, Freshness::CONFIGURED)
        .map_err(|stale| FlowError::answer(stale.into_response()))?;
    Ok(identity)
}

/// `GET /change-username`: the page (fresh authentication required).
async fn change_username_page<U: SecurityUser>(ctx: Ctx<U>) -> FlowResult {
    let identity = fresh_user(&ctx).await?;
    let user = &identity.user;
    if json(&ctx) {
        return Ok(ctx.json_ok(page_json(&ctx, user)));
    }
    page(&ctx, user, FormErrors::new()).await
}

/// `POST /change-username`: the new username.
async fn change_username<U: SecurityUser>(
    Submitted { ctx, form }: Submitted<U, ChangeUsernameForm>,
) -> FlowResult {
    let identity = fresh_user(&ctx).await?;
    let user = &identity.user;
    let config = ctx.config();
    let mut errors = FormErrors::new();
    let typed = form.username.unwrap_or_default();
    let new = if typed.trim().is_empty() && config.username_required {
        ctx.error(
            &mut errors,
            "username",
            MessageKey::UsernameNotProvided,
            &[],
        );
        None
    } else {
        match crate::username::validate(config, &typed) {
            Ok(name) => name,
            Err(problem) => {
                errors
                    .entry("username".to_owned())
                    .or_default()
                    .push(problem.message(config));
                None
            }
        }
    };
    let datastore = ctx.sec.datastore();
    if let Some(name) = &new
        && datastore.find_user_by_username(name).await?.is_some()
    {
        // 5.9 refuses the user's own current name too.
        taken(&ctx, &mut errors, name);
    }
    if errors.is_empty() {
        match datastore.set_username(user, new.as_deref()).await {
            Ok(()) => return changed(&ctx, user).await,
            // Lost a race for the name with another account.
            Err(DatastoreError::DuplicateUsername { .. }) => {
                taken(&ctx, &mut errors, new.as_deref().unwrap_or_default());
            }
            Err(err) => return Err(err.into()),
        }
    }
    if json(&ctx) {
        return Ok(response::json_error(
            StatusCode::BAD_REQUEST,
            response::error_payload(&[], &errors),
        ));
    }
    page(&ctx, user, errors).await
}

/// `USERNAME_ALREADY_ASSOCIATED` on the `username` field.
fn taken<U: SecurityUser>(ctx: &Ctx<U>, errors: &mut FormErrors, name: &str) {
    ctx.error(
        errors,
        "username",
        MessageKey::UsernameAlreadyAssociated,
        &[("username", name)],
    );
}

/// The username was changed: drop the cached identity, mail the notice, emit the event,
/// answer.
async fn changed<U: SecurityUser>(ctx: &Ctx<U>, before: &U) -> FlowResult {
    let datastore = ctx.sec.datastore();
    ctx.sec.invalidate(&before.id());
    let Some(user) = datastore.find_user_by_id(&before.id()).await? else {
        return Ok(ctx.sec.login_redirect(&ctx.parts));
    };
    tracing::info!(user = %user.id(), "security: username changed");
    let config = ctx.config();
    let mut mail_failed = None;
    if config.send_username_change_email {
        mail_failed = ctx
            .sec
            .send_mail(EmailKind::UsernameChangeNotice, &user, None)
            .await
            .err();
    }
    ctx.sec.emit(Event::UsernameChanged {
        user: user.clone(),
        old_username: before.username().map(str::to_owned),
    });
    if let Some(err) = mail_failed {
        return Err(err.into());
    }
    if json(ctx) {
        return Ok(ctx.json_ok(ctx.user_json(&user)));
    }
    ctx.flash(MessageKey::UsernameChange, &[]);
    Ok(ctx.redirect_after(config.post_change_username_view.as_deref()))
}

/// Adds the change-username view.
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let path = config.change_username_path();
    let page = Op::new(
        "change_username_page",
        "change_username",
        Kind::Page,
        "The change-username page (JSON: the current username).",
    )
    .authenticated();
    routes.add(http::Method::GET, &path, page, change_username_page::<U>);
    let change = Op::new(
        "change_username",
        "change_username",
        Kind::Form,
        "Changes the username.",
    )
    .fields(vec![Field::new(
        "username",
        FieldType::Text,
        true,
        "The new username.",
    )])
    .authenticated()
    .mails();
    routes.add(http::Method::POST, &path, change, change_username::<U>);
}
