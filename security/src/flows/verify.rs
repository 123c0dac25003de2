//! Re-authentication (Flask-Security 5.9's `views.verify`, `forms.VerifyForm`): a logged-in
//! user gives the password again, and the session is fresh from then on (5.9's `fs_paa`; see
//! [`crate::guard`] for what freshness is).
//!
//! Served at `SECURITY_VERIFY_URL` when `SECURITY_FRESHNESS` is on. The answers are 5.9's:
//! the page `security/verify.html`, a redirect to a validated `next` (else
//! `SECURITY_POST_VERIFY_URL`, else `SECURITY_POST_LOGIN_VIEW`) with the
//! `REAUTHENTICATION_SUCCESSFUL` flash, and in JSON the user (200) or 5.9's error shape (400
//! with `errors` and `field_errors`). An off-site `next` is refused with `INVALID_REDIRECT`
//! before the password is looked at, as the login form refuses it (5.9 ignores it and goes to
//! its default view instead).

use http::StatusCode;
use serde_json::{Value, json};

use super::context::{Ctx, FlowError, FlowForm, FlowResult, Input, Submitted};
use super::table::{Field, FieldType, Kind, Op, Routes};
use crate::config::Config;
use crate::events::AuthMechanism;
use crate::messages::MessageKey;
use crate::store::model::SecurityUser;
use crate::web::limits::{Client, Standing};
use crate::web::request::wants_json;
use crate::web::response::{self, FormErrors};
use crate::web::views::ViewName;

/// 5.9's `VerifyForm`: the password (and, as 5.9 reads it, a `next` in the form).
pub(crate) struct VerifyForm {
    password: Option<String>,
    next: Option<String>,
}

impl FlowForm for VerifyForm {
    const PAGE: Option<ViewName> = Some(ViewName::Verify);

    fn read(input: &Input) -> Self {
        VerifyForm {
            password: input.owned("password"),
            next: input.owned("next"),
        }
    }
}

/// Whether to answer in JSON: a JSON body, or an `Accept` that asks for JSON (5.9's
/// `_want_json`).
fn json<U: SecurityUser>(ctx: &Ctx<U>) -> bool {
    ctx.json || wants_json(&ctx.parts)
}

/// What 5.9 adds to the JSON answer of the page: no passkey, no social login to offer.
fn verify_options(mut body: Value) -> Value {
    if let Value::Object(map) = &mut body {
        map.insert("has_webauthn_verify_credential".into(), Value::Bool(false));
        map.insert("oauth_enabled".into(), Value::Bool(false));
        map.insert("oauth_providers".into(), json!([]));
    }
    body
}

/// `GET /verify`: the page (login required).
async fn verify_page<U: SecurityUser>(ctx: Ctx<U>) -> FlowResult {
    let identity = ctx.require_user().await?;
    if json(&ctx) {
        return Ok(ctx.json_ok(verify_options(ctx.user_json(&identity.user))));
    }
    ctx.page(ViewName::Verify, Vec::new(), FormErrors::new())
        .await
}

/// `POST /verify`: the password again.
async fn verify<U: SecurityUser>(Submitted { ctx, form }: Submitted<U, VerifyForm>) -> FlowResult {
    let identity = ctx.require_user().await?;
    let user = &identity.user;
    let target = match redirect_target(&ctx, &form) {
        Ok(target) => target,
        Err(errors) => return form_failed(&ctx, errors).await,
    };
    let mut errors = FormErrors::new();
    let Some(password) = ctx.required(
        &mut errors,
        "password",
        form.password.as_deref(),
        MessageKey::PasswordNotProvided,
    ) else {
        return form_failed(&ctx, errors).await;
    };
    let passwords = ctx.sec.passwords();
    // The brute-force limits and the lock hold here as on every credential path: a stolen
    // session cannot guess its way to a fresh one.
    let client = ctx.sec.client(&ctx.parts);
    let standing = match ctx.sec.before_credential(&client, Some(user)).await {
        Ok(standing) => standing,
        Err(throttled) => return ctx.too_many(ViewName::Verify, throttled).await,
    };
    let refused = Refused {
        user,
        client: &client,
        standing: &standing,
    };
    let stored = user.password().map(str::to_owned);
    let Some(stored) = stored.filter(|_| !standing.locked()) else {
        passwords.dummy_verify(&password).await;
        return password_refused(&ctx, refused).await;
    };
    let verified = passwords.verify_and_update(&password, &stored).await?;
    if !verified.ok {
        return password_refused(&ctx, refused).await;
    }
    if let Some(new_hash) = verified.new_hash
        && !rehashed(&ctx, user, &stored, &new_hash).await?
    {
        return password_refused(&ctx, refused).await;
    }
    ctx.sec
        .credential_passed(&client, user, standing, Some(&ctx.session))
        .await;
    // A credential was checked: the session is fresh from now on.
    ctx.session.set_authenticated_at(ctx.sec.now());
    if json(&ctx) {
        return Ok(ctx.json_ok(ctx.user_json(user)));
    }
    ctx.flash(MessageKey::ReauthenticationSuccessful, &[]);
    Ok(ctx.redirect(&target))
}

/// Where to go after a success: the form's `next`, then `?next=`, each validated, else the
/// configured view; an off-site `next` is refused (`INVALID_REDIRECT`, flashed and on the
/// `next` field), as the login form refuses it.
fn redirect_target<U: SecurityUser>(ctx: &Ctx<U>, form: &VerifyForm) -> Result<String, FormErrors> {
    let form_next = form.next.clone().filter(|n| !n.trim().is_empty());
    if let Some(next) = form_next.or_else(|| ctx.query_next()) {
        return match ctx.safe(&next) {
            Some(target) => Ok(target),
            None => {
                ctx.flash(MessageKey::InvalidRedirect, &[]);
                let mut errors = FormErrors::new();
                ctx.error(&mut errors, "next", MessageKey::InvalidRedirect, &[]);
                Err(errors)
            }
        };
    }
    let config = ctx.config();
    Ok(config
        .post_verify_url
        .clone()
        .unwrap_or_else(|| config.post_login_view.clone()))
}

/// Who a refused password was for, and from where.
struct Refused<'a, U> {
    user: &'a U,
    client: &'a Client,
    standing: &'a Standing,
}

/// The password given is not the user's (or the user has none, or it changed while it was
/// checked, or the account is locked for this client): 5.9's `INVALID_PASSWORD` on the
/// `password` field, counted as a failed authentication. Every failed verification of a
/// password ends here, and only those.
async fn password_refused<U: SecurityUser>(ctx: &Ctx<U>, refused: Refused<'_, U>) -> FlowResult {
    let base = ctx.link_base();
    ctx.sec
        .credential_failed(
            refused.client,
            Some(refused.user),
            refused.standing,
            AuthMechanism::Verify,
            Some(&base),
        )
        .await?;
    let mut errors = FormErrors::new();
    ctx.error(&mut errors, "password", MessageKey::InvalidPassword, &[]);
    form_failed(ctx, errors).await
}

/// The password verified with another scheme or cost than the configured one: store the new
/// hash, and keep this session and this browser's remember cookie bound to the account, as a
/// login that re-hashes does (every other session of the user ends, as after such a login).
/// `false` when the stored hash is no longer the one checked: the password changed meanwhile,
/// and the one given is no longer the account's.
async fn rehashed<U: SecurityUser>(
    ctx: &Ctx<U>,
    user: &U,
    stored: &str,
    new_hash: &str,
) -> Result<bool, FlowError> {
    let datastore = ctx.sec.datastore();
    if !datastore
        .upgrade_password_hash(user, stored, new_hash.to_owned())
        .await?
    {
        return Ok(false);
    }
    ctx.sec.password_rehashed(user, new_hash).await?;
    if let Some(user) = datastore.find_user_by_id(&user.id()).await? {
        ctx.sec.reissue_session(&ctx.session, &user).await?;
    }
    Ok(true)
}

/// The form's errors: 5.9's JSON error (400, `errors` and `field_errors`), or the page again.
async fn form_failed<U: SecurityUser>(ctx: &Ctx<U>, errors: FormErrors) -> FlowResult {
    if json(ctx) {
        return Ok(response::json_error(
            StatusCode::BAD_REQUEST,
            response::error_payload(&[], &errors),
        ));
    }
    ctx.page(ViewName::Verify, Vec::new(), errors).await
}

/// Adds the re-authentication view.
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let path = config.verify_path();
    let page = Op::new(
        "verify_page",
        "verify",
        Kind::Page,
        "The re-authentication page (JSON: the ways to re-authenticate).",
    )
    .authenticated();
    routes.add(http::Method::GET, &path, page, verify_page::<U>);
    let op = Op::new(
        "verify",
        "verify",
        Kind::Form,
        "Re-authenticates with the password (a fresh authentication).",
    )
    .fields(vec![
        Field::new("password", FieldType::Password, true, "The password."),
        Field::next(),
    ])
    .authenticated()
    .throttled();
    routes.add(http::Method::POST, &path, op, verify::<U>);
}
