//! Logout (`views.logout`, spec §5.2): ends the session and forgets the remember cookie,
//! then redirects to a validated `?next=` (1.7.4 did not validate it: S5) or
//! `SECURITY_POST_LOGOUT_VIEW`.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use http::Request;

use super::Ctx;
use crate::config::Config;
use crate::events::Event;
use crate::model::SecurityUser;
use crate::runtime::Security;

/// `GET /logout`.
async fn logout<U: SecurityUser>(State(sec): State<Security<U>>, req: Request<Body>) -> Response {
    let ctx = match Ctx::read(sec, req).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let user = match ctx.current_user().await {
        Ok(user) => user,
        Err(response) => return response,
    };
    ctx.session.logout();
    if let Some(found) = user {
        ctx.sec.emit(Event::UserLoggedOut {
            user: found.user.clone(),
        });
    }
    match ctx.query_next().and_then(|next| ctx.safe(&next)) {
        Some(target) => ctx.redirect(&target),
        None => ctx.redirect(&ctx.config().post_logout_view.clone()),
    }
}

/// Adds the logout view.
pub(crate) fn routes<U: SecurityUser>(
    router: Router<Security<U>>,
    config: &Config,
) -> Router<Security<U>> {
    router.route(&config.logout_path(), get(logout::<U>))
}
