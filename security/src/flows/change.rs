//! Change password (`changeable.py`, `views.change_password`).
//!
//! Login required; the current password must verify, the new one must differ from it exactly
//! (no trimming) and be retyped. The change ends every other session, remember cookie and
//! auth token of the user; the session that made it goes on.

use super::context::{Ctx, FlowForm, FlowResult, Input, Submitted};
use super::table::{Field, FieldType, Kind, Op, Routes};
use crate::config::Config;
use crate::events::Event;
use crate::mail::EmailKind;
use crate::messages::MessageKey;
use crate::store::model::SecurityUser;
use crate::web::response::FormErrors;
use crate::web::views::ViewName;

/// 1.7.4's `ChangePasswordForm`.
pub(crate) struct ChangeForm {
    password: Option<String>,
    new_password: Option<String>,
    new_password_confirm: Option<String>,
}

impl FlowForm for ChangeForm {
    const PAGE: Option<ViewName> = Some(ViewName::ChangePassword);

    fn read(input: &Input) -> Self {
        ChangeForm {
            password: input.owned("password"),
            new_password: input.owned("new_password"),
            new_password_confirm: input.owned("new_password_confirm"),
        }
    }
}

/// `GET /change`: the page (login required).
async fn change_page<U: SecurityUser>(ctx: Ctx<U>) -> FlowResult {
    ctx.require_user().await?;
    ctx.page(ViewName::ChangePassword, Vec::new(), FormErrors::new())
        .await
}

/// `POST /change`.
async fn change_password<U: SecurityUser>(
    Submitted { ctx, form }: Submitted<U, ChangeForm>,
) -> FlowResult {
    let identity = ctx.require_user().await?;
    let user = &identity.user;
    let mut errors = FormErrors::new();
    let current = ctx.required(
        &mut errors,
        "password",
        form.password.as_deref(),
        MessageKey::PasswordNotProvided,
    );
    let new = ctx.new_password(
        &mut errors,
        "new_password",
        form.new_password.as_deref(),
        &[user.email()],
    );
    ctx.retype(
        &mut errors,
        "new_password_confirm",
        form.new_password_confirm.as_deref(),
        form.new_password.as_deref(),
    );
    if errors.is_empty()
        && let (Some(current), Some(new)) = (&current, &new)
    {
        let passwords = ctx.sec.passwords();
        let verified = match user.password() {
            Some(stored) => passwords.verify_and_update(current, stored).await?.ok,
            None => {
                passwords.dummy_verify(current).await;
                false
            }
        };
        let normalize = |p: &str| crate::password_policy::normalize(ctx.config(), p);
        if !verified {
            ctx.error(&mut errors, "password", MessageKey::InvalidPassword, &[]);
        } else if normalize(current) == normalize(new) {
            ctx.error(&mut errors, "password", MessageKey::PasswordIsTheSame, &[]);
        }
    }
    let Some(new) = new.filter(|_| errors.is_empty()) else {
        if ctx.json {
            return Ok(ctx.json_errors(&errors));
        }
        return ctx.page(ViewName::ChangePassword, Vec::new(), errors).await;
    };

    let datastore = ctx.sec.datastore();
    datastore.set_password(user, &new).await?;
    ctx.sec.invalidate(&user.id());
    let Some(user) = datastore.find_user_by_id(&user.id()).await? else {
        return Ok(ctx.sec.login_redirect(&ctx.parts));
    };
    ctx.sec.password_changed(&user).await?;
    // This session goes on; this browser's remember cookie is re-issued; everything else ends.
    ctx.sec.reissue_session(&ctx.session, &user).await?;
    let config = ctx.config();
    let mut mail_failed = None;
    if config.send_password_change_email {
        let link = config.recoverable.then(|| ctx.link(&config.reset_path()));
        mail_failed = ctx
            .sec
            .send_mail(EmailKind::ChangeNotice, &user, link)
            .await
            .err();
    }
    ctx.sec.emit(Event::PasswordChanged { user: user.clone() });
    if let Some(err) = mail_failed {
        return Err(err.into());
    }
    if ctx.json {
        return Ok(ctx.json_ok(ctx.user_json(&user)));
    }
    ctx.flash(MessageKey::PasswordChange, &[]);
    Ok(ctx.redirect_after(config.post_change_view.as_deref()))
}

/// Adds the change-password view.
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let path = config.change_path();
    let page = Op::new(
        "change_password_page",
        "change",
        Kind::Page,
        "The change-password page.",
    )
    .authenticated();
    routes.add(http::Method::GET, &path, page, change_page::<U>);
    let change = Op::new(
        "change_password",
        "change",
        Kind::Form,
        "Changes the password.",
    )
    .fields(vec![
        Field::new(
            "password",
            FieldType::Password,
            true,
            "The current password.",
        ),
        Field::new(
            "new_password",
            FieldType::Password,
            true,
            "The new password.",
        ),
        Field::new(
            "new_password_confirm",
            FieldType::Password,
            false,
            "The new password again.",
        ),
    ])
    .authenticated()
    .throttled()
    .mails();
    routes.add(http::Method::POST, &path, change, change_password::<U>);
}
