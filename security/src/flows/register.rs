//! Registration (`registerable.py`, `views.register`, spec §5.3).
//!
//! Validates with 1.7.4's messages, creates the user (active, no roles) with any extra fields
//! the app added, sends the welcome mail (with the confirmation link when confirmable), and
//! logs the user in unless confirmation is required. Unlike 1.7.4, a JSON registration that
//! does not log the user in hands out no token (S12), and the retype check applies to every
//! HTML registration (B16).

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use http::Request;

use super::{Ctx, confirm};
use crate::config::Config;
use crate::datastore::{DatastoreError, NewUser};
use crate::events::Event;
use crate::mail::EmailKind;
use crate::messages::MessageKey;
use crate::model::SecurityUser;
use crate::response::FormErrors;
use crate::runtime::Security;
use crate::views::ViewName;

/// `GET|POST /register`.
async fn register<U: SecurityUser>(State(sec): State<Security<U>>, req: Request<Body>) -> Response {
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
    let mut errors = FormErrors::new();
    let (email, valid) = ctx.email_field(&mut errors);
    if let Some(email) = &email
        && valid
    {
        match ctx.sec.datastore().find_user_by_email(email).await {
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
    let password = ctx.new_password(&mut errors, "password");
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
    for field in &ctx.sec.inner.register_fields {
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

    let new = NewUser {
        email: email.clone(),
        password: Some(password),
        active: true,
        roles: Vec::new(),
        extra,
    };
    let user = match ctx.sec.datastore().create_user(new).await {
        Ok(user) => user,
        Err(DatastoreError::DuplicateEmail { email }) => {
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
    if config.confirmable {
        ctx.flash(MessageKey::ConfirmRegistration, &[("email", user.email())]);
    }
    ctx.sec.emit(Event::UserRegistered {
        user: user.clone(),
        confirm_token: confirm_token.clone(),
    });
    let mut mail_failed = false;
    if config.send_register_email {
        let link = confirm_token.as_deref().map(|t| confirm::link(&ctx, t));
        mail_failed = ctx
            .sec
            .send_mail(EmailKind::Welcome, &user, link)
            .await
            .is_err();
    }
    let mut logged_in = false;
    if !config.confirmable || config.login_without_confirmation {
        let ip = ctx.ip();
        match ctx.sec.login_user(&ctx.session, &user, None, &ip).await {
            Ok(ok) => logged_in = ok,
            Err(err) => return ctx.internal(err),
        }
    }
    if mail_failed {
        // The account exists; the user can ask for a new confirmation mail.
        return ctx.mail_failed();
    }
    if ctx.json {
        return ctx.json_ok(if logged_in {
            ctx.user_json_with_token(&user)
        } else {
            ctx.user_json(&user)
        });
    }
    let default = config
        .post_register_view
        .clone()
        .unwrap_or_else(|| config.post_login_view.clone());
    ctx.post_redirect(&default)
}

async fn page<U: SecurityUser>(ctx: &Ctx<U>, errors: FormErrors) -> Response {
    let mut values = vec![("email", ctx.input.text("email").unwrap_or("").to_owned())];
    for field in &ctx.sec.inner.register_fields {
        values.push((
            field.spec.name.as_str(),
            ctx.input.text(&field.spec.name).unwrap_or("").to_owned(),
        ));
    }
    let fields = ctx
        .sec
        .inner
        .register_fields
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
    router: Router<Security<U>>,
    config: &Config,
) -> Router<Security<U>> {
    router.route(
        &config.register_path(),
        get(register::<U>).post(register::<U>),
    )
}
