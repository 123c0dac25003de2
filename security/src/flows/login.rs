//! Password login (`views.login`, `forms.LoginForm`, spec §4.2 and §5.1).
//!
//! The checks run in 1.7.4's order and stop at the first failure: e-mail given, password
//! given, user exists, password set, password correct, confirmed (when required), active. So
//! "unconfirmed" and "disabled" are only told to someone who knows the password. Unlike 1.7.4,
//! the miss paths cost one password hash too (S2), and with `SECURITY_GENERIC_RESPONSES` the
//! three refusals that tell whether an account exists become one (S1).

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use http::Request;

use super::Ctx;
use crate::config::Config;
use crate::messages::MessageKey;
use crate::store::model::SecurityUser;
use crate::web::response::FormErrors;
use crate::web::runtime::Runtime;
use crate::web::views::ViewName;

/// `GET|POST /login`.
async fn login<U: SecurityUser>(State(sec): State<Runtime<U>>, req: Request<Body>) -> Response {
    let ctx = match Ctx::read(sec, req).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    if let Err(response) = ctx.anonymous_only().await {
        return response;
    }
    if ctx.parts.method != http::Method::POST {
        return ctx
            .page(ViewName::LoginUser, Vec::new(), FormErrors::new())
            .await;
    }
    match authenticate(&ctx).await {
        Ok(Ok((user, bound_hash))) => {
            let remember = ctx.input.flag("remember");
            let ip = ctx.ip();
            match ctx
                .sec
                .login_user_bound(&ctx.session, &user, bound_hash.as_deref(), remember, &ip)
                .await
            {
                Ok(true) => {}
                Ok(false) => return refuse(&ctx, "email", MessageKey::DisabledAccount).await,
                Err(err) => return ctx.internal(err),
            }
            if ctx.json {
                let token = ctx.sec.auth_token_bound(&user, bound_hash.as_deref());
                ctx.json_ok(serde_json::json!({ "user": {
                    "id": user.id().to_string(),
                    "authentication_token": token,
                } }))
            } else {
                ctx.post_redirect(&ctx.config().post_login_view.clone())
            }
        }
        Ok(Err(errors)) => form_failed(&ctx, errors).await,
        Err(response) => response,
    }
}

async fn form_failed<U: SecurityUser>(ctx: &Ctx<U>, errors: FormErrors) -> Response {
    if ctx.json {
        return ctx.json_errors(&errors);
    }
    let email = ctx.input.text("email").unwrap_or("").to_owned();
    let remember = ctx.input.text("remember").unwrap_or("").to_owned();
    ctx.page(
        ViewName::LoginUser,
        vec![("email", email), ("remember", remember)],
        errors,
    )
    .await
}

async fn refuse<U: SecurityUser>(ctx: &Ctx<U>, field: &str, key: MessageKey) -> Response {
    let mut errors = FormErrors::new();
    ctx.error(&mut errors, field, key, &[]);
    form_failed(ctx, errors).await
}

/// The form's checks; the user when they all pass.
/// The user, and the password hash the session is to be bound to when the login re-hashed
/// it (the user value still holds the hash that was checked).
type Authenticated<U> = (U, Option<String>);

async fn authenticate<U: SecurityUser>(
    ctx: &Ctx<U>,
) -> Result<Result<Authenticated<U>, FormErrors>, Response> {
    let mut errors = FormErrors::new();
    if let Some(next) = ctx.input.text("next").filter(|n| !n.trim().is_empty())
        && ctx.safe(next).is_none()
    {
        ctx.error(&mut errors, "next", MessageKey::InvalidRedirect, &[]);
        ctx.flash(MessageKey::InvalidRedirect, &[]);
        return Ok(Err(errors));
    }
    if let Some(next) = ctx.query_next()
        && ctx.input.text("next").is_none_or(|n| n.trim().is_empty())
        && ctx.safe(&next).is_none()
    {
        ctx.error(&mut errors, "next", MessageKey::InvalidRedirect, &[]);
        ctx.flash(MessageKey::InvalidRedirect, &[]);
        return Ok(Err(errors));
    }
    let email = ctx.input.text("email").unwrap_or("");
    let password = ctx.input.text("password").unwrap_or("");
    if email.trim().is_empty() {
        ctx.error(&mut errors, "email", MessageKey::EmailNotProvided, &[]);
        return Ok(Err(errors));
    }
    if password.trim().is_empty() {
        ctx.error(
            &mut errors,
            "password",
            MessageKey::PasswordNotProvided,
            &[],
        );
        return Ok(Err(errors));
    }
    let generic = ctx.config().return_generic_responses;
    let unknown = |errors: &mut FormErrors, field: &str, key: MessageKey| {
        if generic {
            ctx.error(errors, "email", MessageKey::InvalidCredentials, &[]);
        } else {
            ctx.error(errors, field, key, &[]);
        }
    };
    let datastore = ctx.sec.datastore();
    let passwords = ctx.sec.passwords();
    let user = match datastore.get_user(email).await {
        Ok(user) => user,
        Err(err) => return Err(ctx.internal(err)),
    };
    let Some(user) = user else {
        passwords.dummy_verify(password).await;
        unknown(&mut errors, "email", MessageKey::UserDoesNotExist);
        return Ok(Err(errors));
    };
    let Some(stored) = user.password().map(str::to_owned) else {
        passwords.dummy_verify(password).await;
        unknown(&mut errors, "password", MessageKey::PasswordNotSet);
        return Ok(Err(errors));
    };
    let verified = match passwords.verify_and_update(password, &stored).await {
        Ok(v) => v,
        Err(err) => return Err(ctx.internal(err)),
    };
    if !verified.ok {
        unknown(&mut errors, "password", MessageKey::InvalidPassword);
        return Ok(Err(errors));
    }
    let mut bound_hash = None;
    if let Some(new_hash) = verified.new_hash {
        // Re-hash into the configured scheme (never twice-HMACed), only if the stored hash is
        // still the one checked: if the password changed meanwhile (a reset racing this
        // login), the password typed is no longer the account's, and the login fails.
        match datastore
            .upgrade_password_hash(&user, &stored, new_hash.clone())
            .await
        {
            Ok(true) => {
                if let Err(err) = ctx.sec.password_rehashed(&user, &new_hash).await {
                    return Err(ctx.internal(err));
                }
                bound_hash = Some(new_hash);
            }
            Ok(false) => {
                unknown(&mut errors, "password", MessageKey::InvalidPassword);
                return Ok(Err(errors));
            }
            Err(err) => return Err(ctx.internal(err)),
        }
    }
    if ctx.sec.needs_confirmation(&user) {
        ctx.error(&mut errors, "email", MessageKey::ConfirmationRequired, &[]);
        return Ok(Err(errors));
    }
    if !user.active() {
        ctx.error(&mut errors, "email", MessageKey::DisabledAccount, &[]);
        return Ok(Err(errors));
    }
    Ok(Ok((user, bound_hash)))
}

/// Adds the password login view.
pub(crate) fn routes<U: SecurityUser>(
    router: Router<Runtime<U>>,
    config: &Config,
) -> Router<Runtime<U>> {
    router.route(&config.login_path(), get(login::<U>).post(login::<U>))
}
