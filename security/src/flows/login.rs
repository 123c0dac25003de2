//! Password login (`views.login`, `forms.LoginForm`).
//!
//! The checks run in 1.7.4's order and stop at the first failure: e-mail given, password
//! given, user exists, password set, password correct, confirmed (when required), active. So
//! "unconfirmed" and "disabled" are only told to someone who knows the password. Unlike 1.7.4,
//! the miss paths cost one password hash too (so that the answer's time does not tell whether
//! the account exists), and with `SECURITY_RETURN_GENERIC_RESPONSES` the three refusals that
//! tell it become one.
//!
//! With the brute-force protection on ([`crate::web::limits`]), the counters that could refuse
//! the attempt are read once the account is looked up: over a `login_failed` limit the answer
//! is 429; a locked account gets no password check (a dummy hash runs instead) and is refused
//! whatever the password, like a wrong one with generic responses.

use http::Method;

use super::context::{Ctx, FlowError, FlowForm, FlowResult, Input, Submitted};
use super::table::{Field, FieldType, Kind, Op, Routes};
use crate::config::Config;
use crate::events::AuthMechanism;
use crate::messages::MessageKey;
use crate::store::model::SecurityUser;
use crate::web::limits::{Client, Standing, Throttled};
use crate::web::response::FormErrors;
use crate::web::views::ViewName;

/// 1.7.4's `LoginForm`, with 5.9's `username` (read when `SECURITY_USERNAME_ENABLE`).
pub(crate) struct LoginForm {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
    remember: Option<bool>,
    next: Option<String>,
}

impl FlowForm for LoginForm {
    const PAGE: Option<ViewName> = Some(ViewName::LoginUser);

    fn read(input: &Input) -> Self {
        LoginForm {
            email: input.owned("email"),
            username: input.owned("username"),
            password: input.owned("password"),
            remember: input.flag("remember"),
            next: input.owned("next"),
        }
    }
}

/// `GET /login`: the page.
async fn login_page<U: SecurityUser>(ctx: Ctx<U>) -> FlowResult {
    ctx.anonymous_only().await?;
    ctx.page(ViewName::LoginUser, Vec::new(), FormErrors::new())
        .await
}

/// `POST /login`.
async fn login<U: SecurityUser>(Submitted { ctx, form }: Submitted<U, LoginForm>) -> FlowResult {
    ctx.anonymous_only().await?;
    let client = ctx.sec.client(&ctx.parts);
    let (user, bound_hash, standing) = match authenticate(&ctx, &form, &client).await? {
        Checked::Passed {
            user,
            bound_hash,
            standing,
        } => (user, bound_hash, standing),
        Checked::Refused(errors) => return form_failed(&ctx, errors).await,
        Checked::Throttled(throttled) => return ctx.too_many(ViewName::LoginUser, throttled).await,
    };
    let logged_in = ctx
        .sec
        .login_user_bound(
            &ctx.session,
            &user,
            bound_hash.as_deref(),
            form.remember,
            &client.ip,
        )
        .await?;
    if !logged_in {
        return refuse(&ctx, "email", MessageKey::DisabledAccount).await;
    }
    ctx.sec
        .credential_passed(&client, &user, standing, Some(&ctx.session))
        .await;
    if ctx.json {
        let token = ctx.sec.auth_token_for(&user, bound_hash.as_deref()).await?;
        let mut body = serde_json::json!({ "user": {
            "id": user.id().to_string(),
            "authentication_token": token,
        } });
        let refresh = if ctx.config().refresh_token {
            let refresh = ctx
                .sec
                .new_refresh_token(&user, bound_hash.as_deref(), "default")
                .await?;
            if ctx.config().refresh_token_cookie_name.is_none() {
                body["user"]["refresh_token"] = serde_json::json!(refresh);
            }
            Some(refresh)
        } else {
            None
        };
        let mut answer = ctx.json_ok(body);
        if let Some(refresh) = refresh {
            super::refresh::set_cookie(ctx.config(), &mut answer, &refresh);
        }
        return Ok(answer);
    }
    Ok(ctx.post_redirect(&ctx.config().post_login_view.clone()))
}

async fn form_failed<U: SecurityUser>(ctx: &Ctx<U>, errors: FormErrors) -> FlowResult {
    if ctx.json {
        return Ok(ctx.json_errors(&errors));
    }
    let email = ctx.input.owned("email").unwrap_or_default();
    let username = ctx.input.owned("username").unwrap_or_default();
    let remember = ctx.input.owned("remember").unwrap_or_default();
    ctx.page(
        ViewName::LoginUser,
        vec![
            ("email", email),
            ("username", username),
            ("remember", remember),
        ],
        errors,
    )
    .await
}

async fn refuse<U: SecurityUser>(ctx: &Ctx<U>, field: &str, key: MessageKey) -> FlowResult {
    let mut errors = FormErrors::new();
    ctx.error(&mut errors, field, key, &[]);
    form_failed(ctx, errors).await
}

/// What the form's checks decided.
enum Checked<U> {
    /// Every check passed. `bound_hash`: the password hash the session is to be bound to when
    /// the login re-hashed it (the user value still holds the hash that was checked);
    /// `standing`: the brute-force counters read for the attempt.
    Passed {
        user: U,
        bound_hash: Option<String>,
        standing: Standing,
    },
    /// A check failed: the form's errors.
    Refused(FormErrors),
    /// A rate limit refused the attempt.
    Throttled(Throttled),
}

/// The form's checks, in 1.7.4's order, stopping at the first failure.
async fn authenticate<U: SecurityUser>(
    ctx: &Ctx<U>,
    form: &LoginForm,
    client: &Client,
) -> Result<Checked<U>, FlowError> {
    let mut errors = FormErrors::new();
    let refused = |errors: &mut FormErrors, field: &str, key: MessageKey| {
        ctx.error(errors, field, key, &[]);
        Checked::Refused(std::mem::take(errors))
    };
    let form_next = form.next.as_deref().filter(|n| !n.trim().is_empty());
    if let Some(next) = form_next
        && ctx.safe(next).is_none()
    {
        ctx.flash(MessageKey::InvalidRedirect, &[]);
        return Ok(refused(&mut errors, "next", MessageKey::InvalidRedirect));
    }
    if let Some(next) = ctx.query_next()
        && form_next.is_none()
        && ctx.safe(&next).is_none()
    {
        ctx.flash(MessageKey::InvalidRedirect, &[]);
        return Ok(refused(&mut errors, "next", MessageKey::InvalidRedirect));
    }
    let email = form.email.as_deref().unwrap_or("");
    let password = form.password.as_deref().unwrap_or("");
    let usernames = ctx.config().username_enable;
    if !usernames && email.trim().is_empty() {
        return Ok(refused(&mut errors, "email", MessageKey::EmailNotProvided));
    }
    // With usernames (5.9), the identity is the e-mail address when one is given, else the
    // username, each checked as its field checks it.
    let identity = if usernames {
        match username_identity(ctx, email, form.username.as_deref()) {
            Ok(identity) => identity,
            Err(errors) => return Ok(Checked::Refused(errors)),
        }
    } else {
        Identity::Any(email)
    };
    if password.trim().is_empty() {
        return Ok(refused(
            &mut errors,
            "password",
            MessageKey::PasswordNotProvided,
        ));
    }
    // In the enumeration-resistant mode, the three refusals that tell whether an account
    // exists become one.
    let generic = ctx.config().return_generic_responses;
    let unknown = |errors: &mut FormErrors, field: &str, key: MessageKey| {
        if generic {
            refused(errors, "email", MessageKey::InvalidCredentials)
        } else {
            refused(errors, field, key)
        }
    };
    let datastore = ctx.sec.datastore();
    let passwords = ctx.sec.passwords();
    let typed: [&[u8]; 2] = match &identity {
        Identity::Any(email) => [b"any", email.as_bytes()],
        Identity::Email(email) => [b"email", email.as_bytes()],
        Identity::Username(name) => [b"username", name.as_bytes()],
        Identity::Missing => [b"missing", b""],
    };
    if let Some(throttled) = ctx.sec.refused_attempt(client, &typed) {
        return Ok(Checked::Throttled(throttled));
    }
    let (found, field) = match &identity {
        Identity::Any(email) => (datastore.get_user(email).await?, "email"),
        Identity::Email(email) => (datastore.find_user_by_email(email).await?, "email"),
        Identity::Username(name) => (datastore.find_user_by_username(name).await?, "username"),
        Identity::Missing => (None, ""),
    };
    let standing = match ctx.sec.before_credential(client, found.as_ref()).await {
        Ok(standing) => standing,
        Err(throttled) => {
            ctx.sec.attempt_refused(client, &typed, throttled);
            return Ok(Checked::Throttled(throttled));
        }
    };
    let Some(user) = found else {
        // The miss costs a password hash too, so that its time does not tell.
        passwords.dummy_verify(password).await;
        failed(ctx, client, None, &standing).await?;
        return Ok(unknown(&mut errors, field, MessageKey::UserDoesNotExist));
    };
    if standing.locked() {
        // No password check on a locked account: the answer and its time are the same
        // whether or not the password was right.
        passwords.dummy_verify(password).await;
        failed(ctx, client, Some(&user), &standing).await?;
        if generic {
            return Ok(refused(
                &mut errors,
                "email",
                MessageKey::InvalidCredentials,
            ));
        }
        if ctx.config().unlock_strategy.mails() {
            ctx.flash(MessageKey::UnlockSent, &[("email", user.email())]);
        }
        return Ok(refused(&mut errors, "email", MessageKey::Locked));
    }
    let Some(stored) = user.password().map(str::to_owned) else {
        passwords.dummy_verify(password).await;
        failed(ctx, client, Some(&user), &standing).await?;
        return Ok(unknown(&mut errors, "password", MessageKey::PasswordNotSet));
    };
    let verified = passwords.verify_and_update(password, &stored).await?;
    if !verified.ok {
        failed(ctx, client, Some(&user), &standing).await?;
        return Ok(unknown(
            &mut errors,
            "password",
            MessageKey::InvalidPassword,
        ));
    }
    let mut bound_hash = None;
    if let Some(new_hash) = verified.new_hash {
        // Re-hash into the configured scheme (never twice-HMACed), only if the stored hash is
        // still the one checked: if the password changed meanwhile (a reset racing this
        // login), the password typed is no longer the account's, and the login fails.
        if !datastore
            .upgrade_password_hash(&user, &stored, new_hash.clone())
            .await?
        {
            return Ok(unknown(
                &mut errors,
                "password",
                MessageKey::InvalidPassword,
            ));
        }
        ctx.sec.password_rehashed(&user, &new_hash).await?;
        bound_hash = Some(new_hash);
    }
    if ctx.sec.needs_confirmation(&user) {
        return Ok(refused(
            &mut errors,
            "email",
            MessageKey::ConfirmationRequired,
        ));
    }
    if !user.active() {
        return Ok(refused(&mut errors, "email", MessageKey::DisabledAccount));
    }
    Ok(Checked::Passed {
        user,
        bound_hash,
        standing,
    })
}

/// Who the login form names.
enum Identity<'a> {
    /// Any identity attribute, in the `email` field (1.7.4).
    Any(&'a str),
    /// An e-mail address (5.9 with usernames).
    Email(&'a str),
    /// A username, in its normal form (5.9 with usernames).
    Username(String),
    /// Neither (5.9 with usernames): nobody.
    Missing,
}

/// 5.9's identity fields with usernames: an `email` given must be an address
/// (`INVALID_EMAIL_ADDRESS`), a `username` must pass the username rules.
fn username_identity<'a, U: SecurityUser>(
    ctx: &Ctx<U>,
    email: &'a str,
    username: Option<&str>,
) -> Result<Identity<'a>, FormErrors> {
    let mut errors = FormErrors::new();
    if !email.trim().is_empty() {
        if !super::context::valid_email(email) {
            ctx.error(&mut errors, "email", MessageKey::InvalidEmailAddress, &[]);
            return Err(errors);
        }
        return Ok(Identity::Email(email));
    }
    match crate::username::validate(ctx.config(), username.unwrap_or("")) {
        Ok(Some(name)) => Ok(Identity::Username(name)),
        Ok(None) => Ok(Identity::Missing),
        Err(problem) => {
            errors
                .entry("username".to_owned())
                .or_default()
                .push(problem.message(ctx.config()));
            Err(errors)
        }
    }
}

/// Counts a failed password (or one refused because the account is locked).
async fn failed<U: SecurityUser>(
    ctx: &Ctx<U>,
    client: &Client,
    user: Option<&U>,
    standing: &Standing,
) -> Result<(), FlowError> {
    let base = ctx.link_base();
    ctx.sec
        .credential_failed(client, user, standing, AuthMechanism::Password, Some(&base))
        .await?;
    Ok(())
}

/// Adds the password login view.
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let path = config.login_path();
    let page = Op::new("login_page", "login", Kind::Page, "The login page.");
    routes.add(Method::GET, &path, page, login_page::<U>);
    let mut fields = vec![
        Field::new(
            "email",
            FieldType::Text,
            !config.username_enable,
            "The identity (e-mail address, or another identity attribute).",
        ),
        Field::new("password", FieldType::Password, true, "The password."),
        Field::new(
            "remember",
            FieldType::Flag,
            false,
            "Set the remember-me cookie.",
        ),
        Field::next(),
    ];
    if config.username_enable {
        fields.push(Field::new(
            "username",
            FieldType::Text,
            false,
            "The username (when no e-mail address is given).",
        ));
    }
    let op = Op::new(
        "login",
        "login",
        Kind::Form,
        "Logs in with a password; in JSON, answers the user's id and authentication token.",
    )
    .fields(fields)
    .throttled()
    .mails();
    routes.add(Method::POST, &path, op, login::<U>);
}
