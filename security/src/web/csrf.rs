//! CSRF protection: the port of Flask-WTF 0.10's `csrf` module as Flask-Security 1.7.4 uses it,
//! with a stronger token (below): a random secret per session, stored in the session by the
//! caller under `csrf_token`, and a time-limited token derived from it that every
//! state-changing POST (form or JSON) must carry in the `csrf_token` field.
//!
//! The token format is the port's own, not Flask-WTF's `"<expiry>##<hex HMAC-SHA1>"`:
//! `"<issued unix seconds>.<base64url(HMAC-SHA256(key, secret ‖ "." ‖ issued))>"` with
//! `key = HMAC-SHA256(SECRET_KEY, "security:csrf")`. A token is bound to one session's secret,
//! so a token taken from another session is refused.
//!
//! ```
//! use security::csrf::{Csrf, CsrfError};
//!
//! let csrf = Csrf::new(b"SECRET_KEY", Some(3600));
//! let secret = Csrf::new_secret();
//! let token = csrf.token(&secret, 1_700_000_000);
//! assert_eq!(csrf.check(Some(&secret), Some(&token), 1_700_000_100), Ok(()));
//! assert_eq!(csrf.check(Some(&secret), None, 1_700_000_100), Err(CsrfError::Missing));
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::Request;
use http::request::Parts;

use crate::crypto::cookie_codec::{constant_time_eq, derive_key, hmac_sha256, random_token};

/// Why a POST's CSRF token was refused. All of them are reported to the user as Flask-WTF's
/// `"CSRF token missing"` form error when 1.7.4 compatibility of messages matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    /// The request carries no (or an empty) `csrf_token`.
    #[error("CSRF token missing")]
    Missing,
    /// The token is malformed, forged, or belongs to another session or `SECRET_KEY`.
    #[error("CSRF token invalid")]
    Invalid,
    /// The token is genuine but older than `WTF_CSRF_TIME_LIMIT`.
    #[error("CSRF token expired")]
    Expired,
    /// The session holds no CSRF secret (no session cookie, or a new session): nothing to check
    /// the token against.
    #[error("CSRF session secret missing")]
    NoSession,
}

/// Issues and checks CSRF tokens, keyed by `SECRET_KEY` (purpose `"csrf"`).
#[derive(Clone)]
pub struct Csrf {
    key: [u8; 32],
    time_limit: Option<u64>,
}

impl fmt::Debug for Csrf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Csrf")
            .field("time_limit", &self.time_limit)
            .finish_non_exhaustive()
    }
}

impl Csrf {
    /// `time_limit` is `WTF_CSRF_TIME_LIMIT` in seconds (Flask-WTF's default, 3600, is the
    /// caller's to pass); `None` means tokens live as long as their session.
    pub fn new(secret_key: &[u8], time_limit: Option<u64>) -> Self {
        Self {
            key: derive_key(secret_key, "csrf"),
            time_limit,
        }
    }

    /// A fresh random per-session secret (256 bits, base64url), for the caller to store in the
    /// session when it has none.
    pub fn new_secret() -> String {
        random_token(32)
    }

    /// The token for the session holding `session_secret`, issued at `now` (Unix seconds), to
    /// render into forms (`csrf_token` hidden field) or hand to JSON clients.
    pub fn token(&self, session_secret: &str, now: i64) -> String {
        format!(
            "{now}.{}",
            URL_SAFE_NO_PAD.encode(self.tag(session_secret, now))
        )
    }

    /// Checks the `csrf_token` of a request against its session's secret at time `now`.
    ///
    /// A token exactly `time_limit` seconds old is still accepted.
    ///
    /// # Errors
    /// [`CsrfError::Missing`] when `token` is absent or empty (checked first),
    /// [`CsrfError::NoSession`] when the session has no secret, [`CsrfError::Invalid`] when the
    /// token is malformed or its MAC does not match (compared in constant time), and
    /// [`CsrfError::Expired`] when a genuine token is older than the time limit.
    pub fn check(
        &self,
        session_secret: Option<&str>,
        token: Option<&str>,
        now: i64,
    ) -> Result<(), CsrfError> {
        let token = token.filter(|t| !t.is_empty()).ok_or(CsrfError::Missing)?;
        let secret = session_secret
            .filter(|s| !s.is_empty())
            .ok_or(CsrfError::NoSession)?;
        let (issued, tag) = token.split_once('.').ok_or(CsrfError::Invalid)?;
        if issued.is_empty() || issued.len() > 19 || !issued.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CsrfError::Invalid);
        }
        let issued: i64 = issued.parse().map_err(|_| CsrfError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| CsrfError::Invalid)?;
        if !constant_time_eq(&self.tag(secret, issued), &tag) {
            return Err(CsrfError::Invalid);
        }
        match self.time_limit {
            Some(limit) if i128::from(now) - i128::from(issued) > i128::from(limit) => {
                Err(CsrfError::Expired)
            }
            _ => Ok(()),
        }
    }

    fn tag(&self, session_secret: &str, issued: i64) -> [u8; 32] {
        hmac_sha256(&self.key, format!("{session_secret}.{issued}").as_bytes())
    }
}

/// The CSRF runtime of a request: the key, the clock, the switches (`WTF_CSRF_ENABLED`,
/// `SECURITY_CSRF_PROTECT`) and how to word a refusal, put in every request by
/// `security.layer()`.
#[derive(Clone)]
pub(crate) struct CsrfKey {
    pub(crate) csrf: std::sync::Arc<Csrf>,
    pub(crate) clock: std::sync::Arc<dyn crate::tokens::serializer::Clock>,
    /// `WTF_CSRF_ENABLED`: the security views' own forms are checked.
    pub(crate) enabled: bool,
    /// `SECURITY_CSRF_PROTECT`: every unsafe request that a cookie authenticates is checked.
    pub(crate) protect: bool,
    /// The refusals' texts, shared: the layer clones this key into every request.
    pub(crate) missing: std::sync::Arc<str>,
    pub(crate) invalid: std::sync::Arc<str>,
    pub(crate) json_http_status: bool,
}

impl CsrfKey {
    /// Whether pages carry a token at all.
    pub(crate) fn issues_tokens(&self) -> bool {
        self.enabled || self.protect
    }

    /// The token for the session's secret (created on first use).
    pub(crate) fn token_for(&self, session: &crate::web::session::Session) -> String {
        self.csrf.token(&session.csrf_secret(), self.clock.now())
    }

    /// Checks a submitted token against the session, whatever the switches say (the caller
    /// decided that this request needs one).
    pub(crate) fn verify(
        &self,
        session: &crate::web::session::Session,
        token: Option<&str>,
    ) -> Result<(), CsrfError> {
        self.csrf.check(
            session.csrf_secret_if_any().as_deref(),
            token,
            self.clock.now(),
        )
    }

    /// Checks a submitted token of a security view's form (when `WTF_CSRF_ENABLED`).
    pub(crate) fn check(
        &self,
        session: &crate::web::session::Session,
        token: Option<&str>,
    ) -> Result<(), CsrfError> {
        if !self.enabled {
            return Ok(());
        }
        self.verify(session, token)
    }

    /// The answer to a request whose token was refused, in the client's format: JSON
    /// `{"errors": {"csrf_token": [...]}}` with HTTP 400, or a 400 page.
    pub(crate) fn refusal(&self, err: CsrfError, json: bool) -> Response {
        let message = match err {
            CsrfError::Missing => &*self.missing,
            _ => &*self.invalid,
        };
        tracing::info!(reason = %err, "security: CSRF check failed");
        if json {
            let mut errors = crate::web::response::FormErrors::new();
            errors.insert("csrf_token".into(), vec![message.to_owned()]);
            let mut r = crate::web::response::json_errors(&errors, self.json_http_status);
            *r.status_mut() = http::StatusCode::BAD_REQUEST;
            r
        } else {
            crate::web::response::bad_request(http::StatusCode::BAD_REQUEST, message, false, true)
        }
    }
}

/// The token a request carries in a header (`X-CSRFToken`, or `X-CSRF-Token`).
pub(crate) fn header_token(parts: &Parts) -> Option<&str> {
    ["x-csrftoken", "x-csrf-token"]
        .iter()
        .find_map(|h| parts.headers.get(*h).and_then(|v| v.to_str().ok()))
        .filter(|t| !t.is_empty())
}

/// Whether a method can change state (Flask-WTF's `WTF_CSRF_METHODS`).
pub(crate) fn is_unsafe(method: &http::Method) -> bool {
    matches!(
        *method,
        http::Method::POST | http::Method::PUT | http::Method::PATCH | http::Method::DELETE
    )
}

fn key_of(
    parts: &Parts,
) -> Result<(CsrfKey, crate::web::session::Session), crate::web::guard::Rejection> {
    let missing = || crate::web::guard::Rejection::MissingLayer { user_type: None };
    let scope = crate::web::scope::RequestScope::of(parts).ok_or_else(missing)?;
    Ok((scope.csrf.clone(), scope.session.clone()))
}

/// Requires the CSRF token of the session in the `X-CSRFToken` header, for a handler of the
/// app's own that changes state (a JSON or `fetch` client). The refusal is HTTP 400 in the
/// client's format.
///
/// ```
/// use security::csrf::CsrfChecked;
///
/// async fn delete_account(_: CsrfChecked) -> &'static str {
///     "deleted"
/// }
/// # let _ = axum::Router::<()>::new().route("/account", axum::routing::delete(delete_account));
/// ```
///
/// For an HTML form, which cannot set headers, take [`CsrfForm`] instead; to check every
/// unsafe request of the app, set `SECURITY_CSRF_PROTECT`.
#[derive(Clone, Copy, Debug)]
pub struct CsrfChecked;

impl<S: Send + Sync> FromRequestParts<S> for CsrfChecked {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (key, session) = key_of(parts).map_err(IntoResponse::into_response)?;
        let json = crate::web::request::wants_json(parts) || !crate::web::request::is_form(parts);
        key.verify(&session, header_token(parts))
            .map(|()| CsrfChecked)
            .map_err(|err| key.refusal(err, json))
    }
}

/// An `application/x-www-form-urlencoded` form of the app's own, read into `T` once its
/// `csrf_token` field (or `X-CSRFToken` header) matched the session: Flask-WTF's `FlaskForm`
/// with its CSRF field, as an extractor. `T` may ignore the `csrf_token` field. The body is read
/// within `SECURITY_MAX_BODY_SIZE`; a refused token is HTTP 400, a form that does not fit `T`
/// HTTP 422.
///
/// ```
/// use security::csrf::CsrfForm;
///
/// #[derive(serde::Deserialize)]
/// struct Rename {
///     name: String,
/// }
///
/// async fn rename(CsrfForm(form): CsrfForm<Rename>) -> String {
///     format!("renamed to {}", form.name)
/// }
/// # let _ = axum::Router::<()>::new().route("/rename", axum::routing::post(rename));
/// ```
#[derive(Clone, Debug)]
pub struct CsrfForm<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request<Body>, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let (key, session) = key_of(&parts).map_err(IntoResponse::into_response)?;
        let limit = crate::web::scope::RequestScope::of(&parts)
            .map_or(2 * 1024 * 1024, |scope| scope.body_limit);
        let bytes = crate::web::request::read_body(body, limit, false).await?;
        let token = header_token(&parts)
            .map(str::to_owned)
            .or_else(|| form_token(&bytes));
        key.verify(&session, token.as_deref())
            .map_err(|err| key.refusal(err, false))?;
        serde_urlencoded::from_bytes(&bytes)
            .map(CsrfForm)
            .map_err(|err| {
                crate::web::response::bad_request(
                    http::StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("The form could not be read: {err}"),
                    false,
                    true,
                )
            })
    }
}

/// The `csrf_token` field of a urlencoded body.
pub(crate) fn form_token(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"secret";
    const NOW: i64 = 1_795_667_784;

    #[test]
    fn valid_token_passes() {
        let csrf = Csrf::new(KEY, Some(3600));
        let secret = Csrf::new_secret();
        let token = csrf.token(&secret, NOW);
        assert!(token.starts_with(&format!("{NOW}.")), "{token}");
        assert_eq!(csrf.check(Some(&secret), Some(&token), NOW), Ok(()));
        // Another instance with the same SECRET_KEY agrees (stateless).
        let other = Csrf::new(KEY, Some(3600));
        assert_eq!(other.check(Some(&secret), Some(&token), NOW + 10), Ok(()));
    }

    #[test]
    fn missing_token() {
        let csrf = Csrf::new(KEY, Some(3600));
        let secret = Csrf::new_secret();
        assert_eq!(
            csrf.check(Some(&secret), None, NOW),
            Err(CsrfError::Missing)
        );
        assert_eq!(
            csrf.check(Some(&secret), Some(""), NOW),
            Err(CsrfError::Missing)
        );
        assert_eq!(csrf.check(None, None, NOW), Err(CsrfError::Missing));
    }

    #[test]
    fn no_session_secret() {
        let csrf = Csrf::new(KEY, Some(3600));
        let token = csrf.token(&Csrf::new_secret(), NOW);
        assert_eq!(
            csrf.check(None, Some(&token), NOW),
            Err(CsrfError::NoSession)
        );
        assert_eq!(
            csrf.check(Some(""), Some(&token), NOW),
            Err(CsrfError::NoSession)
        );
    }

    #[test]
    fn token_of_another_session_is_invalid() {
        let csrf = Csrf::new(KEY, Some(3600));
        let mine = Csrf::new_secret();
        let theirs = Csrf::new_secret();
        let their_token = csrf.token(&theirs, NOW);
        assert_eq!(
            csrf.check(Some(&mine), Some(&their_token), NOW),
            Err(CsrfError::Invalid)
        );
    }

    #[test]
    fn token_under_another_secret_key_is_invalid() {
        let secret = Csrf::new_secret();
        let token = Csrf::new(b"other", Some(3600)).token(&secret, NOW);
        assert_eq!(
            Csrf::new(KEY, Some(3600)).check(Some(&secret), Some(&token), NOW),
            Err(CsrfError::Invalid)
        );
    }

    #[test]
    fn malformed_or_forged_tokens_are_invalid() {
        let csrf = Csrf::new(KEY, Some(3600));
        let secret = Csrf::new_secret();
        let token = csrf.token(&secret, NOW);
        let (_, tag) = token.split_once('.').unwrap();
        let cases = [
            "garbage".to_string(),
            ".".to_string(),
            format!("{NOW}."),
            format!(".{tag}"),
            // Re-dated: the issue time is covered by the MAC.
            format!("{}.{tag}", NOW + 1000),
            format!("-{NOW}.{tag}"),
            format!("+{NOW}.{tag}"),
            format!("{NOW}.{tag}x"),
            format!("{NOW}.{}", &tag[..tag.len() - 1]),
            format!("{NOW}.{tag}.{tag}"),
            format!("99999999999999999999.{tag}"),
            secret.clone(),
        ];
        for case in cases {
            assert_eq!(
                csrf.check(Some(&secret), Some(&case), NOW),
                Err(CsrfError::Invalid),
                "{case}"
            );
        }
    }

    #[test]
    fn expiry_boundary() {
        let csrf = Csrf::new(KEY, Some(3600));
        let secret = Csrf::new_secret();
        let token = csrf.token(&secret, NOW);
        assert_eq!(csrf.check(Some(&secret), Some(&token), NOW + 3600), Ok(()));
        assert_eq!(
            csrf.check(Some(&secret), Some(&token), NOW + 3601),
            Err(CsrfError::Expired)
        );
        // No time limit: valid as long as the session lives.
        let forever = Csrf::new(KEY, None);
        assert_eq!(
            forever.check(Some(&secret), Some(&token), NOW + 10_000_000),
            Ok(())
        );
    }

    #[test]
    fn tampering_beats_expiry() {
        let csrf = Csrf::new(KEY, Some(60));
        let secret = Csrf::new_secret();
        let forged = format!("{NOW}.{}", URL_SAFE_NO_PAD.encode([0u8; 32]));
        assert_eq!(
            csrf.check(Some(&secret), Some(&forged), NOW + 1_000),
            Err(CsrfError::Invalid)
        );
    }

    #[test]
    fn secrets_are_random() {
        let a = Csrf::new_secret();
        assert_eq!(a.len(), 43);
        assert_ne!(a, Csrf::new_secret());
    }

    #[test]
    fn debug_does_not_leak_the_key() {
        assert_eq!(
            format!("{:?}", Csrf::new(KEY, Some(5))),
            "Csrf { time_limit: Some(5), .. }"
        );
    }
}
