//! Change password (`changeable.py`, `views.change_password`, spec §5.6).
//!
//! Login required; the current password must verify, the new one must differ from it exactly
//! (no trimming, S22) and be retyped. The change ends every other session, remember cookie and
//! auth token of the user; the session that made it goes on (S16).

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use http::Request;

use super::Ctx;
use crate::config::Config;
use crate::events::Event;
use crate::mail::EmailKind;
use crate::messages::MessageKey;
use crate::store::model::SecurityUser;
use crate::web::response::FormErrors;
use crate::web::runtime::Runtime;
use crate::web::session::RememberAction;
use crate::web::views::ViewName;

/// `GET|POST /change`.
async fn change_password<U: SecurityUser>(
    State(sec): State<Runtime<U>>,
    req: Request<Body>,
) -> Response {
    let ctx = match Ctx::read(sec, req).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let identity = match ctx.current_user().await {
        Ok(Some(identity)) => identity,
        Ok(None) => return ctx.sec.login_redirect(&ctx.parts),
        Err(response) => return response,
    };
    if ctx.parts.method != http::Method::POST {
        return ctx
            .page(ViewName::ChangePassword, Vec::new(), FormErrors::new())
            .await;
    }
    let user = &identity.user;
    let mut errors = FormErrors::new();
    let current = ctx.required(&mut errors, "password", MessageKey::PasswordNotProvided);
    let new = ctx.new_password(&mut errors, "new_password", &[user.email()]);
    ctx.retype(&mut errors, "new_password_confirm", "new_password");
    if errors.is_empty()
        && let (Some(current), Some(new)) = (&current, &new)
    {
        let verified = match user.password() {
            Some(stored) => match ctx.sec.passwords().verify_and_update(current, stored).await {
                Ok(verified) => verified.ok,
                Err(err) => return ctx.internal(err),
            },
            None => {
                ctx.sec.passwords().dummy_verify(current).await;
                false
            }
        };
        if !verified {
            ctx.error(&mut errors, "password", MessageKey::InvalidPassword, &[]);
        } else if crate::password_policy::normalize(ctx.config(), current)
            == crate::password_policy::normalize(ctx.config(), new)
        {
            ctx.error(&mut errors, "password", MessageKey::PasswordIsTheSame, &[]);
        }
    }
    let Some(new) = new.filter(|_| errors.is_empty()) else {
        if ctx.json {
            return ctx.json_errors(&errors);
        }
        return ctx.page(ViewName::ChangePassword, Vec::new(), errors).await;
    };

    let datastore = ctx.sec.datastore();
    if let Err(err) = datastore.set_password(user, &new).await {
        return ctx.internal(err);
    }
    ctx.sec.invalidate(&user.id());
    let user = match datastore.find_user_by_id(&user.id()).await {
        Ok(Some(user)) => user,
        Ok(None) => return ctx.sec.login_redirect(&ctx.parts),
        Err(err) => return ctx.internal(err),
    };
    if let Err(err) = ctx.sec.password_changed(&user).await {
        return ctx.internal(err);
    }
    // This session goes on; this browser's remember cookie is re-issued; everything else ends.
    ctx.session.refresh_fingerprint(ctx.sec.fingerprint(&user));
    if ctx.session.lock().had_remember_cookie {
        ctx.session
            .set_remember(RememberAction::Set(ctx.sec.remember_token(&user)));
    }
    let config = ctx.config();
    let mut mail_failed = false;
    if config.send_password_change_email {
        let link = config.recoverable.then(|| ctx.link(&config.reset_path()));
        mail_failed = ctx
            .sec
            .send_mail(EmailKind::ChangeNotice, &user, link)
            .await
            .is_err();
    }
    ctx.sec.emit(Event::PasswordChanged { user: user.clone() });
    if mail_failed {
        return ctx.mail_failed();
    }
    if ctx.json {
        return ctx.json_ok(ctx.user_json(&user));
    }
    ctx.flash(MessageKey::PasswordChange, &[]);
    let target = config
        .post_change_view
        .clone()
        .unwrap_or_else(|| config.post_login_view.clone());
    ctx.redirect(&target)
}

/// Adds the change-password view.
pub(crate) fn routes<U: SecurityUser>(
    router: Router<Runtime<U>>,
    config: &Config,
) -> Router<Runtime<U>> {
    router.route(
        &config.change_path(),
        get(change_password::<U>).post(change_password::<U>),
    )
}
