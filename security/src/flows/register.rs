//! Registration (`registerable.py`, `views.register`, spec §5.3).
//!
//! Validates with 1.7.4's messages, creates the user (active, no roles) with any extra fields
//! the app added, sends the welcome mail (with the confirmation link when confirmable), and
//! logs the user in unless confirmation is required. Unlike 1.7.4, a JSON registration that
//! does not log the user in hands out no token, and the retype check applies to every HTML
//! registration.
//!
//! With `SECURITY_RETURN_GENERIC_RESPONSES` (Flask-Security 5.9), a taken address gets the
//! answer a free one gets, and its owner a mail instead (`welcome_existing`); no registration
//! logs in then, since only a new account could be.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use http::Request;

use super::{Ctx, confirm};
use crate::config::Config;
use crate::events::Event;
use crate::mail::EmailKind;
use crate::messages::MessageKey;
use crate::store::datastore::{DatastoreError, NewUser};
use crate::store::model::SecurityUser;
use crate::web::response::FormErrors;
use crate::web::runtime::Runtime;
use crate::web::views::{EmailContext, ViewName};

/// `GET|POST /register`.
async fn register<U: SecurityUser>(State(sec): State<Runtime<U>>, req: Request<Body>) -> Response {
    let ctx = match Ctx::read(sec, req).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    if let Err(response) = ctx.anonymous_only().await {
        return response;
    }
    if ctx.parts.method != http::Method::POST {
        return page(&ctx, FormErrors::new()).await;
    }
    let generic = ctx.config().return_generic_responses;
    let mut errors = FormErrors::new();
    let (email, valid) = ctx.email_field(&mut errors);
    // In the enumeration-resistant mode a taken address is no error: it is answered as a new
    // one, and its owner is told by mail.
    let mut existing = None;
    if let Some(email) = &email
        && valid
    {
        match ctx.sec.datastore().find_user_by_email(email).await {
            Ok(Some(user)) if generic => existing = Some(user),
            Ok(Some(_)) => ctx.error(
                &mut errors,
                "email",
                MessageKey::EmailAlreadyAssociated,
                &[("email", email)],
            ),
            Ok(None) => {}
            Err(err) => return ctx.internal(err),
        }
    }
    let inputs: Vec<&str> = email.as_deref().into_iter().collect();
    let password = ctx.new_password(&mut errors, "password", &inputs);
    if !ctx.json || ctx.input.text("password_confirm").is_some() {
        ctx.retype(&mut errors, "password_confirm", "password");
    }
    if !ctx.json
        && let Some(next) = ctx.form_next()
        && ctx.safe(&next).is_none()
    {
        ctx.error(&mut errors, "next", MessageKey::InvalidRedirect, &[]);
        ctx.flash(MessageKey::InvalidRedirect, &[]);
    }
    let mut extra = Vec::new();
    for field in ctx.sec.register_fields() {
        let value = ctx.input.text(&field.spec.name).unwrap_or("").trim();
        match (field.validate)(value) {
            Ok(v) => extra.push((field.spec.name.clone(), v)),
            Err(message) => errors
                .entry(field.spec.name.clone())
                .or_default()
                .push(message),
        }
    }
    let (Some(email), Some(password)) = (email, password) else {
        return failed(&ctx, errors).await;
    };
    if !errors.is_empty() {
        return failed(&ctx, errors).await;
    }
    if let Some(owner) = existing {
        return registered_again(&ctx, owner, &password, &email).await;
    }

    let new = NewUser {
        email: email.clone(),
        password: Some(password.clone()),
        active: true,
        roles: Vec::new(),
        extra,
    };
    let user = match ctx.sec.datastore().create_user(new).await {
        Ok(user) => user,
        Err(DatastoreError::DuplicateEmail { email }) => {
            // Lost a race with another registration of the address.
            if generic && let Ok(Some(owner)) = ctx.sec.datastore().find_user_by_email(&email).await
            {
                return registered_again(&ctx, owner, &password, &email).await;
            }
            ctx.error(
                &mut errors,
                "email",
                MessageKey::EmailAlreadyAssociated,
                &[("email", &email)],
            );
            return failed(&ctx, errors).await;
        }
        Err(DatastoreError::BadField { field, reason }) => {
            tracing::error!(
                field,
                reason,
                "security: an extra registration field cannot be stored"
            );
            return ctx.internal(format!("cannot store `{field}`"));
        }
        Err(err) => return ctx.internal(err),
    };
    let config = ctx.config();
    let confirm_token = config
        .confirmable
        .then(|| confirm::make_token(&ctx.sec, &user));
    ctx.sec.emit(Event::UserRegistered {
        user: user.clone(),
        confirm_token: confirm_token.clone(),
    });
    if config.send_register_email {
        let link = confirm_token
            .as_deref()
            .map(|t| confirm::link(&ctx.sec, &ctx.link_base(), t));
        let (sec, to) = (ctx.sec.clone(), user.clone());
        let task = async move { sec.send_mail(EmailKind::Welcome, &to, link).await };
        if let Err(response) = ctx.deliver(generic, task).await {
            // The account exists; the user can ask for a new confirmation mail.
            return response;
        }
    }
    if generic {
        return answer_generic(&ctx, &email).await;
    }
    if config.confirmable {
        ctx.flash(MessageKey::ConfirmRegistration, &[("email", user.email())]);
    }
    let mut logged_in = false;
    if !config.confirmable || config.login_without_confirmation {
        let ip = ctx.ip();
        match ctx.sec.login_user(&ctx.session, &user, None, &ip).await {
            Ok(ok) => logged_in = ok,
            Err(err) => return ctx.internal(err),
        }
    }
    if ctx.json {
        return ctx.json_ok(if logged_in {
            ctx.user_json_with_token(&user)
        } else {
            ctx.user_json(&user)
        });
    }
    ctx.post_redirect(&post_register_view(config))
}

fn post_register_view(config: &Config) -> String {
    config
        .post_register_view
        .clone()
        .unwrap_or_else(|| config.post_login_view.clone())
}

/// The enumeration-resistant answer to a valid registration, whether the address was free or
/// taken: nobody is logged in (that alone would tell the two apart), the confirmation flash
/// when confirmable, the post-register view (JSON: an empty success).
async fn answer_generic<U: SecurityUser>(ctx: &Ctx<U>, email: &str) -> Response {
    let config = ctx.config();
    if config.confirmable {
        ctx.flash(MessageKey::ConfirmRegistration, &[("email", email)]);
    }
    if ctx.json {
        return ctx.json_ok(serde_json::json!({}));
    }
    ctx.post_redirect(&post_register_view(config))
}

/// A registration of a taken address in the enumeration-resistant mode (Flask-Security 5.9's
/// `register_existing`): the work of a registration is done (a password hash, a row written:
/// the mail to the owner, queued now), and the answer is that of a new account. The owner gets
/// `welcome_existing`, with a reset link and, when unconfirmed, a confirmation link.
async fn registered_again<U: SecurityUser>(
    ctx: &Ctx<U>,
    owner: U,
    password: &str,
    typed: &str,
) -> Response {
    ctx.sec.passwords().dummy_hash(password).await;
    let config = ctx.config();
    if config.send_register_email {
        let base = ctx.link_base();
        let reset_link = config.recoverable.then(|| {
            super::recover::link(
                &ctx.sec,
                &base,
                &super::recover::make_token(&ctx.sec, &owner),
            )
        });
        let confirmation_link = (config.confirmable && owner.confirmed_at().is_none())
            .then(|| confirm::link(&ctx.sec, &base, &confirm::make_token(&ctx.sec, &owner)));
        let mail = EmailContext {
            kind: Some(EmailKind::WelcomeExisting),
            user_email: owner.email().to_owned(),
            reset_link,
            confirmation_link,
            ..EmailContext::default()
        };
        if let Err(err) = ctx
            .sec
            .send_mail_with(EmailKind::WelcomeExisting, &owner, mail)
            .await
        {
            // Told as a new registration whose mail failed would be told.
            tracing::error!(error = %err, "security: the mail to an account's owner failed");
            return ctx.mail_failed();
        }
    }
    tracing::info!(user = %owner.id(), "security: a registration named an address that has an account");
    answer_generic(ctx, typed).await
}

async fn page<U: SecurityUser>(ctx: &Ctx<U>, errors: FormErrors) -> Response {
    let mut values = vec![("email", ctx.input.text("email").unwrap_or("").to_owned())];
    for field in ctx.sec.register_fields() {
        values.push((
            field.spec.name.as_str(),
            ctx.input.text(&field.spec.name).unwrap_or("").to_owned(),
        ));
    }
    let fields = ctx
        .sec
        .register_fields()
        .iter()
        .map(|f| f.spec.clone())
        .collect();
    ctx.page_with(ViewName::RegisterUser, values, errors, |view| {
        view.extra_fields = fields;
    })
    .await
}

async fn failed<U: SecurityUser>(ctx: &Ctx<U>, errors: FormErrors) -> Response {
    if ctx.json {
        return ctx.json_errors(&errors);
    }
    page(ctx, errors).await
}

/// Adds the registration view.
pub(crate) fn routes<U: SecurityUser>(
    router: Router<Runtime<U>>,
    config: &Config,
) -> Router<Runtime<U>> {
    router.route(
        &config.register_path(),
        get(register::<U>).post(register::<U>),
    )
}
