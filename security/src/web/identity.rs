//! Who is making the request (Flask-Login's user loading): the session and remember cookie, an
//! authentication token, HTTP Basic credentials, and the guards' checks and refusals.
//!
//! Unlike 1.7.4, every path re-checks the account: the user must still exist, be active (and
//! confirmed, when confirmation is required), the session or token must have been made for
//! the account's current address, password and uniquifier, and a logout must not have ended
//! it. That costs one indexed query per request that needs the identity (user, roles and
//! revocation together), none for requests that do not.
//!
//! All guards of one request agree on one user: the first mechanism that authenticates pins
//! its user, and a later guard that finds another user refuses.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine;
use http::header::AUTHORIZATION;
use http::request::Parts;
use tokio::sync::OnceCell;

use crate::events::AuthMechanism;
use crate::store::datastore::{DatastoreError, UserWithRoles};
use crate::store::loader::Identity;
use crate::store::model::SecurityUser;
use crate::web::guard::Authentication;
use crate::web::request::client_ip;
use crate::web::runtime::{Runtime, TokenUse};
use crate::web::scope::UserScope;
use crate::web::session::{RememberAction, Session, SessionData, read_cookie};

/// Who the request's user is, found once per request: the session's identity, the user the
/// first authenticating guard pinned, and how that guard authenticated it.
pub(crate) struct IdentitySlot<U: SecurityUser> {
    /// The identity the session (or remember cookie) gives the request, resolved once.
    session: OnceCell<Option<Arc<UserWithRoles<U>>>>,
    /// The user the first mechanism that authenticated named (every later guard and
    /// extractor of the request agrees on it).
    pinned: std::sync::OnceLock<Arc<UserWithRoles<U>>>,
    /// How the pinned user was authenticated.
    how: std::sync::OnceLock<Authentication>,
}

impl<U: SecurityUser> Default for IdentitySlot<U> {
    fn default() -> Self {
        IdentitySlot {
            session: OnceCell::new(),
            pinned: std::sync::OnceLock::new(),
            how: std::sync::OnceLock::new(),
        }
    }
}

impl<U: SecurityUser> IdentitySlot<U> {
    /// The slot of the request; `None` without the layer.
    pub(crate) fn of(parts: &Parts) -> Option<&IdentitySlot<U>> {
        UserScope::<U>::of(parts).map(|scope| &scope.identity)
    }

    /// How the pinned user was authenticated (a request without a guard that recorded one
    /// was authenticated by its session).
    pub(crate) fn authentication(&self) -> Option<Authentication> {
        self.how.get().copied()
    }

    /// Pins `found` as the request's user, unless another was: every guard and extractor of
    /// one request agrees on one user, whatever their order. `None` when another mechanism
    /// already authenticated someone else.
    pub(crate) fn pin(&self, found: Arc<UserWithRoles<U>>) -> Option<Arc<UserWithRoles<U>>> {
        let pinned = self.pinned.get_or_init(|| Arc::clone(&found));
        if pinned.user.id() == found.user.id() {
            return Some(Arc::clone(pinned));
        }
        tracing::info!("security: two mechanisms of one request named different users; refused");
        None
    }

    /// The user a guard pinned, if one did.
    pub(crate) fn pinned(&self) -> Option<&Arc<UserWithRoles<U>>> {
        self.pinned.get()
    }

    /// Records how the pinned user was authenticated, unless a guard already did;
    /// `how` is asked only then.
    pub(crate) fn record_authentication(&self, how: impl FnOnce() -> Authentication) {
        self.how.get_or_init(how);
    }
}

/// A session's revocation keys: its own, and the remember cookie's it was restored from, if
/// it was (the count).
struct SessionKeys<'d>([&'d str; 2], usize);

impl<'d> SessionKeys<'d> {
    fn get(&self) -> &[&'d str] {
        &self.0[..self.1]
    }
}

/// An authentication token found in a JSON body by the layer.
#[derive(Clone)]
pub(crate) struct JsonAuthToken(pub String);

impl std::fmt::Debug for JsonAuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("JsonAuthToken")
            .field(&crate::crypto::redact::Redacted(Some(&self.0)))
            .finish()
    }
}

impl<U: SecurityUser> Runtime<U> {
    /// The user of the session (or of the remember cookie, which then restores the session).
    pub(crate) async fn session_identity(
        &self,
        parts: &Parts,
    ) -> Result<Option<Arc<UserWithRoles<U>>>, DatastoreError> {
        let Some(slot) = IdentitySlot::<U>::of(parts) else {
            return Ok(None);
        };
        let Some(session) = crate::web::scope::session(parts) else {
            return Ok(None);
        };
        slot.session
            .get_or_try_init(|| self.load_session_identity(session, parts))
            .await
            .cloned()
    }

    async fn load_session_identity(
        &self,
        session: &Session,
        parts: &Parts,
    ) -> Result<Option<Arc<UserWithRoles<U>>>, DatastoreError> {
        // The data as the request found it (shared, not copied).
        let data = Arc::clone(&session.lock().data);
        let forget = data.forget;
        let config = &self.config();
        if data.user_id.is_some() {
            let loaded = match self.session_claim(&data) {
                Some((user_id, keys)) => match user_id.parse::<U::Id>() {
                    Ok(id) => self.load_identity_keyed(&id, keys.get()).await?,
                    Err(_) => None,
                },
                None => None,
            };
            if let Some(found) = loaded
                .and_then(|(identity, revoked)| self.accept_session(&data, &identity, revoked))
            {
                return Ok(Some(found));
            }
            // Deleted, deactivated, password changed elsewhere, logged out, or expired:
            // anonymous now.
            session.drop_user();
        } else if let Some(cookie) = session.flask_cookie()
            && let Some(found) = Box::pin(self.take_over_flask_session(session, &cookie)).await?
        {
            return Ok(Some(found));
        }
        if forget {
            return Ok(None);
        }
        let cookies = cookie_header(parts);
        let Some(token) = read_cookie(&cookies, &config.remember_cookie_name) else {
            return Ok(None);
        };
        let max_age = Some(config.remember_cookie_duration.seconds());
        // Boxed, as the Flask take-over above: rare paths, kept out of every request's future.
        match Box::pin(self.check_token(token, max_age, TokenUse::Remember)).await? {
            Some(checked) => {
                let found = checked.found;
                session.login(
                    found.user.id().to_string(),
                    self.fingerprint_of(&found),
                    self.now(),
                );
                if checked.current_format {
                    // A logout that ends the cookie ends this session too, wherever it went.
                    session.set_remembered_by(checked.key);
                } else {
                    // A cookie of the old format (or Flask-Security's) is replaced by one that a
                    // logout can end on its own.
                    let (token, key) = self.remember_token_and_key(&found);
                    session.set_remember(RememberAction::Set(token));
                    session.set_remembered_by(key);
                }
                Ok(Some(found))
            }
            None => {
                // Never try a dead cookie again.
                session.set_remember(RememberAction::Clear);
                Ok(None)
            }
        }
    }

    /// The session's identity when it is known without waiting: resolved already for this
    /// request, or an accepted hit in the identity cache (then recorded as the request's).
    /// `None` when it is not known so: [`Runtime::session_identity`] then answers.
    pub(crate) fn session_identity_cached(
        &self,
        session: &Session,
        slot: &IdentitySlot<U>,
    ) -> Option<Arc<UserWithRoles<U>>> {
        if let Some(known) = slot.session.get() {
            return known.clone();
        }
        let data = Arc::clone(&session.lock().data);
        let (user_id, keys) = self.session_claim(&data)?;
        // The id as the session holds it, this library's text of it: the cache's key.
        let (identity, revoked) = self.cached_identity(user_id, keys.get())?;
        let found = self.accept_session(&data, &identity, revoked)?;
        // Empty: it was checked above, and one request is served by one task.
        let _ = slot.session.set(Some(Arc::clone(&found)));
        Some(found)
    }

    /// A logged-in session's user id and its revocation keys (its own, and the remember
    /// cookie's it was restored from), unless it is past `PERMANENT_SESSION_LIFETIME` or has
    /// no id.
    fn session_claim<'d>(&self, data: &'d SessionData) -> Option<(&'d str, SessionKeys<'d>)> {
        let user_id = data.user_id.as_deref()?;
        let sid = data.id.as_deref()?;
        let lifetime = self.config().permanent_session_lifetime.seconds() as i64;
        let fresh = data.login_at.is_some_and(|at| self.now() - at <= lifetime);
        if !fresh {
            return None;
        }
        let own = data
            .revocation_key
            .get_or_init(|| self.session_key(user_id, sid));
        let keys = match data.remembered_by.as_deref() {
            Some(remembered_by) => SessionKeys([own, remembered_by], 2),
            None => SessionKeys([own, ""], 1),
        };
        Some((user_id, keys))
    }

    /// The session's user, if the loaded identity accepts the session: not revoked, made for
    /// the account as it is (its fingerprint), and the account may authenticate.
    fn accept_session(
        &self,
        data: &SessionData,
        identity: &Identity<U>,
        revoked: bool,
    ) -> Option<Arc<UserWithRoles<U>>> {
        let current = self.identity_fingerprint(identity);
        let accepted = !revoked
            && data.fingerprint.as_deref().is_some_and(|fp| {
                crate::crypto::cookie_codec::constant_time_eq(fp.as_bytes(), current.as_bytes())
            })
            && self.may_authenticate(&identity.found.user);
        accepted.then(|| Arc::clone(&identity.found))
    }

    /// Takes over the session of a Flask app (`SECURITY_FLASK_COMPAT`): a Flask 0.10 session
    /// cookie signed with `SECRET_KEY`, younger than `PERMANENT_SESSION_LIFETIME`, naming a
    /// user who may authenticate, is accepted as Flask itself accepts it: on every request
    /// that carries it (a page's parallel requests, a browser that did not keep the
    /// replacement), until it expires, its session logs out here, or the account's password
    /// changes after Flask signed it. Each time, this library's session replaces it in the
    /// browser, with its pending flashed messages; every replacement shares one session id, so
    /// a logout ends the Flask cookie too.
    async fn take_over_flask_session(
        &self,
        session: &Session,
        cookie: &str,
    ) -> Result<Option<Arc<UserWithRoles<U>>>, DatastoreError> {
        let config = &self.config();
        let now = self.now();
        let lifetime = config.permanent_session_lifetime.seconds();
        let flask = crate::tokens::serializer::load_flask_session_issued(
            cookie,
            config.secret_key.expose(),
            Some(lifetime),
            now,
        )
        .ok();
        let user_id = flask
            .as_ref()
            .and_then(|(flask, _)| crate::compat::session_user_id(flask));
        let id = user_id.as_deref().and_then(|id| id.parse::<U::Id>().ok());
        let (Some((flask, issued)), Some(user_id), Some(id)) = (flask, user_id, id) else {
            session.refuse_flask_cookie();
            return Ok(None);
        };
        let sid = self.keyed_digest(&[b"flask-session", cookie.as_bytes()]);
        let key = self.session_key(&user_id, &sid);
        let found = self.load_identity_keyed(&id, &[key.as_str()]).await?;
        let Some((identity, false)) = found.filter(|(f, _)| self.may_authenticate(&f.found.user))
        else {
            session.refuse_flask_cookie();
            return Ok(None);
        };
        let found = Arc::clone(&identity.found);
        if !crate::compat::flask_session_current(
            &self.flask_accounts(),
            &found.user,
            issued,
            self.now(),
        )
        .await?
        {
            session.refuse_flask_cookie();
            return Ok(None);
        }
        session.login_with_id(
            found.user.id().to_string(),
            self.fingerprint_of(&found),
            // Flask's lifetime runs from its signature; one dated in the future counts from now.
            issued.min(now),
            sid,
        );
        session.add_flashes(
            crate::compat::session_flashes(&flask)
                .into_iter()
                .map(|(category, message)| crate::web::session::Flash { category, message })
                .collect(),
        );
        tracing::info!(user = %found.user.id(), "took over a Flask-Security session");
        Ok(Some(found))
    }

    /// The token of the request: header, then query string, then JSON body; a later source
    /// overrides an earlier one, as in 1.7.4.
    pub(crate) fn request_token<'p>(&self, parts: &'p Parts) -> Option<Cow<'p, str>> {
        let config = &self.config();
        let mut token = self
            .token_header()
            .and_then(|name| parts.headers.get(name))
            .and_then(|v| v.to_str().ok())
            .map(Cow::Borrowed);
        if config.token_in_query
            && let Some(query) = parts.uri.query()
        {
            for (key, value) in form_urlencoded_pairs(query) {
                if key == config.token_authentication_key {
                    token = Some(Cow::Owned(value));
                }
            }
        }
        if let Some(JsonAuthToken(t)) = parts.extensions.get::<JsonAuthToken>() {
            token = Some(Cow::Borrowed(t));
        }
        token
    }

    pub(crate) async fn token_identity(
        &self,
        parts: &Parts,
    ) -> Result<Option<Arc<UserWithRoles<U>>>, DatastoreError> {
        let Some(token) = self.request_token(parts) else {
            return Ok(None);
        };
        Ok(self
            .check_token(&token, self.auth_token_max_age(), TokenUse::Auth)
            .await?
            .map(|checked| checked.found))
    }

    /// [`Runtime::token_identity`] when the identity cache answers without a query; `None`
    /// when it cannot, as when the token is refused: `token_identity` then answers.
    pub(crate) fn token_identity_cached(&self, parts: &Parts) -> Option<Arc<UserWithRoles<U>>> {
        let token = self.request_token(parts)?;
        self.check_auth_token_cached(&token, self.auth_token_max_age())
    }

    /// `SECURITY_TOKEN_MAX_AGE` in seconds, if set.
    fn auth_token_max_age(&self) -> Option<u64> {
        self.config().token_max_age.as_ref().map(|w| w.seconds())
    }

    pub(crate) async fn basic_identity(
        &self,
        parts: &Parts,
    ) -> Result<Option<Arc<UserWithRoles<U>>>, crate::Error> {
        let Some((name, password)) = basic_credentials(parts) else {
            return Ok(None);
        };
        let datastore = &self.datastore();
        let passwords = &self.passwords();
        let client = self.client(parts);
        let typed: [&[u8]; 2] = [b"basic", name.as_bytes()];
        let throttled = |t: crate::web::limits::Throttled| crate::Error::Throttled {
            retry_after: t.retry_after,
        };
        if let Some(refused) = self.refused_attempt(&client, &typed) {
            return Err(throttled(refused));
        }
        let found = datastore.get_user(&name).await?;
        let standing = match self.before_credential(&client, found.as_ref()).await {
            Ok(standing) => standing,
            Err(refused) => {
                self.attempt_refused(&client, &typed, refused);
                return Err(throttled(refused));
            }
        };
        let base = crate::web::request::link_base(self.config(), parts);
        let (client_ref, standing_ref, base_ref) = (&client, &standing, base.as_str());
        let failed = |user: Option<U>| async move {
            self.credential_failed(
                client_ref,
                user.as_ref(),
                standing_ref,
                AuthMechanism::Basic,
                Some(base_ref),
            )
            .await
            .map(drop)
        };
        let stored = found.as_ref().and_then(|u| u.password().map(str::to_owned));
        let (Some(user), Some(stored)) = (found.clone(), stored) else {
            passwords.dummy_verify(&password).await;
            failed(found).await?;
            return Ok(None);
        };
        if standing.locked() {
            // A locked account gets no password check, whatever the password.
            passwords.dummy_verify(&password).await;
            failed(Some(user)).await?;
            return Ok(None);
        }
        let verified = passwords.verify_and_update(&password, &stored).await?;
        if !verified.ok {
            failed(Some(user)).await?;
            return Ok(None);
        }
        if let Some(new_hash) = verified.new_hash {
            // Re-hashed only if the stored hash is still the one that was checked: when the
            // password changed meanwhile, the password given is no longer the account's.
            if !datastore
                .upgrade_password_hash(&user, &stored, new_hash.clone())
                .await?
            {
                return Ok(None);
            }
            self.password_rehashed(&user, &new_hash).await?;
        }
        if !self.may_authenticate(&user) {
            return Ok(None);
        }
        self.credential_passed(&client, &user, standing, None).await;
        Ok(self.load_identity(&user.id()).await?)
    }

    /// Pins the identity of the request ([`IdentitySlot::pin`]); without the layer, `found`.
    pub(crate) fn pin(
        &self,
        parts: &Parts,
        found: Arc<UserWithRoles<U>>,
    ) -> Option<Arc<UserWithRoles<U>>> {
        match IdentitySlot::<U>::of(parts) {
            Some(slot) => slot.pin(found),
            None => Some(found),
        }
    }

    /// The identity of the request for the role guards and `CurrentUser`: the one a guard
    /// pinned, else the session's (which is pinned then).
    pub(crate) async fn request_identity(
        &self,
        parts: &mut Parts,
    ) -> Result<Option<Arc<UserWithRoles<U>>>, DatastoreError> {
        if let Some(found) = IdentitySlot::<U>::of(parts).and_then(IdentitySlot::pinned) {
            return Ok(Some(Arc::clone(found)));
        }
        Ok(self
            .session_identity(parts)
            .await?
            .and_then(|found| self.pin(parts, found)))
    }

    /// The address login tracking stores for this request.
    pub(crate) fn client_ip(&self, parts: &Parts) -> String {
        client_ip(parts, self.config().trusted_proxies)
    }
}

/// Every `Cookie` header of the request, joined.
pub(crate) fn cookie_header(parts: &Parts) -> std::borrow::Cow<'_, str> {
    let mut values = parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    // One header (what browsers send over HTTP/1.1) is borrowed, not copied.
    match (values.next(), values.next()) {
        (None, _) => std::borrow::Cow::Borrowed(""),
        (Some(only), None) => std::borrow::Cow::Borrowed(only),
        (Some(first), Some(second)) => std::borrow::Cow::Owned(
            [first, second]
                .into_iter()
                .chain(values)
                .collect::<Vec<_>>()
                .join("; "),
        ),
    }
}

/// `Authorization: Basic base64(user:password)`, split at the first `:`.
fn basic_credentials(parts: &Parts) -> Option<(String, String)> {
    let header = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("joe@lp.com:pa:ss");
        let parts = http::Request::builder()
            .header(AUTHORIZATION, format!("Basic {encoded}"))
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert_eq!(
            basic_credentials(&parts),
            Some(("joe@lp.com".into(), "pa:ss".into()))
        );
        let bearer = http::Request::builder()
            .header(AUTHORIZATION, "Bearer x")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert_eq!(basic_credentials(&bearer), None);
    }
}
