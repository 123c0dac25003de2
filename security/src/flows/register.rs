//! Registration (`registerable.py`, `views.register`).
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

use http::Method;

use super::context::{Ctx, FlowForm, FlowResult, Input, Submitted};
use super::table::{Field, FieldType, Kind, Op, Routes};
use crate::config::Config;
use crate::events::Event;
use crate::mail::EmailKind;
use crate::messages::MessageKey;
use crate::store::datastore::{DatastoreError, NewUser};
use crate::store::model::SecurityUser;
use crate::tokens::links::Link;
use crate::web::response::FormErrors;
use crate::web::views::{EmailContext, ExtraField, ViewName};

/// 1.7.4's `RegisterForm` (the app's extra fields are read by name from the input).
pub(crate) struct RegisterForm {
    email: Option<String>,
    password: Option<String>,
    password_confirm: Option<String>,
}

impl FlowForm for RegisterForm {
    const PAGE: Option<ViewName> = Some(ViewName::RegisterUser);

    fn read(input: &Input) -> Self {
        RegisterForm {
            email: input.owned("email"),
            password: input.owned("password"),
            password_confirm: input.owned("password_confirm"),
        }
    }
}

/// `GET /register`: the page.
async fn register_page<U: SecurityUser>(ctx: Ctx<U>) -> FlowResult {
    ctx.anonymous_only().await?;
    page(&ctx, FormErrors::new()).await
}

/// `POST /register`.
async fn register<U: SecurityUser>(
    Submitted { ctx, form }: Submitted<U, RegisterForm>,
) -> FlowResult {
    ctx.anonymous_only().await?;
    let generic = ctx.config().return_generic_responses;
    let mut errors = FormErrors::new();
    let (email, valid) = ctx.email_field(&mut errors, form.email.as_deref());
    // In the enumeration-resistant mode a taken address is no error: it is answered as a new
    // one, and its owner is told by mail.
    let mut existing = None;
    if let Some(email) = &email
        && valid
    {
        match ctx.sec.datastore().find_user_by_email(email).await? {
            Some(user) if generic => existing = Some(user),
            Some(_) => ctx.error(
                &mut errors,
                "email",
                MessageKey::EmailAlreadyAssociated,
                &[("email", email)],
            ),
            None => {}
        }
    }
    let inputs: Vec<&str> = email.as_deref().into_iter().collect();
    let password = ctx.new_password(&mut errors, "password", form.password.as_deref(), &inputs);
    if !ctx.json || form.password_confirm.is_some() {
        ctx.retype(
            &mut errors,
            "password_confirm",
            form.password_confirm.as_deref(),
            form.password.as_deref(),
        );
    }
    if !ctx.json
        && let Some(next) = ctx.form_next()
        && ctx.safe(&next).is_none()
    {
        ctx.error(&mut errors, "next", MessageKey::InvalidRedirect, &[]);
        ctx.flash(MessageKey::InvalidRedirect, &[]);
    }
    let mut extra = Vec::new();
    if let Some((column, name)) = username_field(&ctx, &mut errors).await? {
        extra.push((column, sea_orm::Value::String(Some(name))));
    }
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
        Err(DatastoreError::DuplicateUsername { username }) => {
            // Lost a race with another registration of the username.
            ctx.error(
                &mut errors,
                "username",
                MessageKey::UsernameAlreadyAssociated,
                &[("username", &username)],
            );
            return failed(&ctx, errors).await;
        }
        Err(err) => return Err(err.into()),
    };
    let config = ctx.config();
    let confirmation = config
        .confirmable
        .then(|| super::new_link(&ctx.sec, Link::Confirm, &user, &ctx.link_base()));
    ctx.sec.emit(Event::UserRegistered {
        user: user.clone(),
        confirm_token: confirmation.as_ref().map(|(_, token)| token.clone()),
    });
    if config.send_register_email {
        let link = confirmation.map(|(link, _)| link);
        let (sec, to) = (ctx.sec.clone(), user.clone());
        let task = async move { sec.send_mail(EmailKind::Welcome, &to, link).await.map(drop) };
        // On failure the account exists; the user can ask for a new confirmation mail.
        ctx.deliver(generic, task).await?;
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
        logged_in = ctx.sec.login_user(&ctx.session, &user, None, &ip).await?;
    }
    if ctx.json {
        return Ok(ctx.json_ok(if logged_in {
            ctx.user_json_with_token(&user).await?
        } else {
            ctx.user_json(&user)
        }));
    }
    Ok(ctx.post_redirect(&post_register_view(config)))
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
async fn answer_generic<U: SecurityUser>(ctx: &Ctx<U>, email: &str) -> FlowResult {
    let config = ctx.config();
    if config.confirmable {
        ctx.flash(MessageKey::ConfirmRegistration, &[("email", email)]);
    }
    if ctx.json {
        return Ok(ctx.json_ok(serde_json::json!({})));
    }
    Ok(ctx.post_redirect(&post_register_view(config)))
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
) -> FlowResult {
    ctx.sec.passwords().dummy_hash(password).await;
    let config = ctx.config();
    if config.send_register_email {
        let base = ctx.link_base();
        let reset_link = config
            .recoverable
            .then(|| super::new_link(&ctx.sec, Link::Reset, &owner, &base).0);
        let confirmation_link = (config.confirmable && owner.confirmed_at().is_none())
            .then(|| super::new_link(&ctx.sec, Link::Confirm, &owner, &base).0);
        let mail = EmailContext {
            kind: Some(EmailKind::WelcomeExisting),
            user_email: owner.email().to_owned(),
            reset_link,
            confirmation_link,
            ..EmailContext::default()
        };
        // Told as a new registration whose mail failed would be told.
        ctx.sec
            .send_mail_with(EmailKind::WelcomeExisting, &owner, mail)
            .await?;
    }
    tracing::info!(user = %owner.id(), "security: a registration named an address that has an account");
    answer_generic(ctx, typed).await
}

/// 5.9's `username` field (with `SECURITY_USERNAME_ENABLE`): required with
/// `SECURITY_USERNAME_REQUIRED` (`USERNAME_NOT_PROVIDED`), else an empty one means none; the
/// username rules; nobody's (`USERNAME_ALREADY_ASSOCIATED`). The user column and the name in
/// its normal form, when one is to be stored.
async fn username_field<U: SecurityUser>(
    ctx: &Ctx<U>,
    errors: &mut FormErrors,
) -> Result<Option<(String, String)>, super::context::FlowError> {
    let config = ctx.config();
    let Some(column) =
        U::column(crate::store::model::Field::Username).filter(|_| config.username_enable)
    else {
        return Ok(None);
    };
    let typed = ctx.input.text("username").unwrap_or("");
    if config.username_required && typed.trim().is_empty() {
        ctx.error(errors, "username", MessageKey::UsernameNotProvided, &[]);
        return Ok(None);
    }
    let name = match crate::username::validate(config, typed) {
        Ok(Some(name)) => name,
        Ok(None) => return Ok(None),
        Err(problem) => {
            errors
                .entry("username".to_owned())
                .or_default()
                .push(problem.message(config));
            return Ok(None);
        }
    };
    if ctx
        .sec
        .datastore()
        .find_user_by_username(&name)
        .await?
        .is_some()
    {
        ctx.error(
            errors,
            "username",
            MessageKey::UsernameAlreadyAssociated,
            &[("username", &name)],
        );
        return Ok(None);
    }
    Ok(Some((
        sea_orm::IdenStatic::as_str(&column).to_owned(),
        name,
    )))
}

async fn page<U: SecurityUser>(ctx: &Ctx<U>, errors: FormErrors) -> FlowResult {
    let mut values = vec![("email", ctx.input.owned("email").unwrap_or_default())];
    let usernames = ctx.config().username_enable;
    if usernames {
        values.push(("username", ctx.input.owned("username").unwrap_or_default()));
    }
    for field in ctx.sec.register_fields() {
        values.push((
            field.spec.name.as_str(),
            ctx.input.owned(&field.spec.name).unwrap_or_default(),
        ));
    }
    let username = usernames.then(|| ExtraField {
        name: "username".into(),
        label: "Username".into(),
        kind: "text".into(),
    });
    let fields = username
        .into_iter()
        .chain(ctx.sec.register_fields().iter().map(|f| f.spec.clone()))
        .collect();
    ctx.page_with(ViewName::RegisterUser, values, errors, |view| {
        view.extra_fields = fields;
    })
    .await
}

async fn failed<U: SecurityUser>(ctx: &Ctx<U>, errors: FormErrors) -> FlowResult {
    if ctx.json {
        return Ok(ctx.json_errors(&errors));
    }
    page(ctx, errors).await
}

/// Adds the registration view.
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let path = config.register_path();
    let page = Op::new(
        "register_page",
        "register",
        Kind::Page,
        "The registration page.",
    );
    routes.add(Method::GET, &path, page, register_page::<U>);
    let mut fields = vec![
        Field::new(
            "email",
            FieldType::Text,
            true,
            "The new account's e-mail address.",
        ),
        Field::new("password", FieldType::Password, true, "The new password."),
        Field::new(
            "password_confirm",
            FieldType::Password,
            false,
            "The new password again.",
        ),
        Field::next(),
    ];
    if config.username_enable {
        fields.push(Field::new(
            "username",
            FieldType::Text,
            config.username_required,
            "The new account's username.",
        ));
    }
    let op = Op::new(
        "register",
        "register",
        Kind::Form,
        "Registers an account (the app's extra fields are read by name).",
    )
    .fields(fields)
    .throttled()
    .mails();
    routes.add(Method::POST, &path, op, register::<U>);
}
