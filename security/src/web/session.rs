//! The session: a signed cookie, no server-side store (Flask's cookie session and
//! Flask-Login's `login_user`/`logout_user`).
//!
//! The cookie holds the user id, a keyed fingerprint of the account state the login was made
//! against (password hash and uniquifier, never the hash itself, so the cookie reveals nothing
//! about the password), the login time, a random session id that is replaced at every login (so
//! that a session id planted before the login is worthless), the CSRF secret, pending flash
//! messages, and Flask-Security 5.9's freshness marks: when a credential was last checked
//! (`fs_paa`) and until when a passed freshness check needs no other (`fs_gexp`). Any instance with the same `SECRET_KEY` accepts it; a password change alters the
//! fingerprint and so ends every other session of that user on every instance.
//!
//! A response carries `Set-Cookie` only when the session changed during the request.
//!
//! The `cookie` crate reads the `Cookie` header and writes `Set-Cookie`. Its attribute order
//! (`HttpOnly; SameSite; Secure; Path; Domain; Max-Age; Expires`) differs from Werkzeug's, which
//! neither browsers nor Flask clients depend on; a `Domain` is written without a leading dot,
//! which browsers ignore anyway.

use std::sync::{Arc, Mutex, MutexGuard};

use cookie::SameSite;
use cookie::time::{Duration, OffsetDateTime};
use serde::{Deserialize, Serialize};

use crate::crypto::cookie_codec::{Signer, random_token};

/// A flashed message: its category (`info`, `error`, `success`, …) and text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// The category, used as the CSS class by the default templates.
    pub category: String,
    /// The text.
    pub message: String,
}

/// What the session cookie holds.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SessionData {
    /// The logged-in user's id.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The account fingerprint at login.
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// When the user logged in (unix seconds).
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub login_at: Option<i64>,
    /// A random id, new at every login.
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The CSRF secret.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
    /// Pending flash messages.
    #[serde(rename = "m", default, skip_serializing_if = "Vec::is_empty")]
    pub flashes: Vec<Flash>,
    /// Set at logout when the browser held a remember cookie: the remember cookie of this
    /// browser is not to be used again (Flask-Login's `remember = "clear"`).
    #[serde(rename = "x", default, skip_serializing_if = "std::ops::Not::not")]
    pub forget: bool,
    /// The revocation key of the remember-me cookie this session was restored from: a logout
    /// that ends that cookie ends the sessions it made too.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub remembered_by: Option<String>,
    /// When a credential was last checked for this session (unix seconds; 5.9's `fs_paa`): a
    /// login that checked one, or the password given again at the verify view. Never set for
    /// a session restored from the remember-me cookie.
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub authenticated_at: Option<i64>,
    /// Until when freshness checks pass without looking at `authenticated_at` (unix seconds;
    /// 5.9's `fs_gexp`, the grace period).
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    pub grace_until: Option<i64>,
    /// The session's revocation key (a keyed digest of the user and session ids), computed at
    /// most once per decoded cookie: the verified-cookie memo shares this data between the
    /// requests that carry the same cookie. Not part of the cookie.
    #[serde(skip)]
    pub revocation_key: KeyMemo,
}

/// A value derived from the rest of a [`SessionData`], computed on first use. A clone starts
/// empty, since it is made to be changed; equality ignores it.
#[derive(Default)]
pub(crate) struct KeyMemo(std::sync::OnceLock<String>);

impl KeyMemo {
    /// The value, computed by `make` on first use.
    pub(crate) fn get_or_init(&self, make: impl FnOnce() -> String) -> &str {
        self.0.get_or_init(make)
    }
}

impl Clone for KeyMemo {
    fn clone(&self) -> Self {
        KeyMemo::default()
    }
}

impl PartialEq for KeyMemo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for KeyMemo {}

impl std::fmt::Debug for SessionData {
    /// The user and the flashes; the fingerprint, the session id and the CSRF secret redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::crypto::redact::Redacted;
        f.debug_struct("SessionData")
            .field("user_id", &self.user_id)
            .field("fingerprint", &Redacted(self.fingerprint.as_deref()))
            .field("login_at", &self.login_at)
            .field("id", &Redacted(self.id.as_deref()))
            .field("csrf", &Redacted(self.csrf.as_deref()))
            .field("flashes", &self.flashes)
            .field("forget", &self.forget)
            .field("remembered_by", &Redacted(self.remembered_by.as_deref()))
            .field("authenticated_at", &self.authenticated_at)
            .field("grace_until", &self.grace_until)
            .finish()
    }
}

impl SessionData {
    pub(crate) fn is_empty(&self) -> bool {
        *self == SessionData::default()
    }

    pub(crate) fn encode(&self, signer: &Signer) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        signer.sign(&json)
    }

    /// [`SessionData::encode`], dropping the oldest flash messages while the cookie would be
    /// longer than browsers keep (4096 bytes with its name and attributes).
    pub(crate) fn encode_bounded(&mut self, signer: &Signer) -> String {
        loop {
            let value = self.encode(signer);
            if value.len() <= MAX_COOKIE_VALUE || self.flashes.is_empty() {
                return value;
            }
            self.flashes.remove(0);
        }
    }

    pub(crate) fn decode(value: &str, signer: &Signer) -> Option<SessionData> {
        let bytes = signer.verify(value)?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// What to do with the remember-me cookie when the response is sent.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) enum RememberAction {
    #[default]
    Keep,
    /// Set the cookie to this token.
    Set(String),
    /// Delete the cookie.
    Clear,
}

impl std::fmt::Debug for RememberAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RememberAction::Keep => f.write_str("Keep"),
            RememberAction::Set(token) => f
                .debug_tuple("Set")
                .field(&crate::crypto::redact::Redacted(Some(token)))
                .finish(),
            RememberAction::Clear => f.write_str("Clear"),
        }
    }
}

#[derive(Default)]
pub(crate) struct SessionState {
    /// What the cookie holds: shared with the decoded-cookie memo until a change copies it.
    pub data: Arc<SessionData>,
    pub changed: bool,
    pub had_cookie: bool,
    pub remember: RememberAction,
    pub had_remember_cookie: bool,
    /// A session cookie this library could not read, kept for `SECURITY_FLASK_COMPAT`: it may
    /// be a Flask session to take over (once).
    pub flask_cookie: Option<String>,
    /// A new device cookie to send (the brute-force protection's, after a login).
    pub device_cookie: Option<String>,
}

impl SessionState {
    /// The session's data, to change (copied first when the memo shares it). What was derived
    /// from it is forgotten.
    pub(crate) fn data_mut(&mut self) -> &mut SessionData {
        let data = Arc::make_mut(&mut self.data);
        data.revocation_key = KeyMemo::default();
        data
    }
}

impl std::fmt::Debug for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionState")
            .field("data", &self.data)
            .field("changed", &self.changed)
            .field("remember", &self.remember)
            .field(
                "flask_cookie",
                &crate::crypto::redact::Redacted(self.flask_cookie.as_deref()),
            )
            .finish_non_exhaustive()
    }
}

/// The session of the current request: flash messages and the login state.
///
/// Put in every request by `security.layer()`; take it as a handler argument to flash
/// messages from the app's own handlers. Changes are written back in the response's cookie.
#[derive(Clone, Debug, Default)]
pub struct Session {
    state: Arc<Mutex<SessionState>>,
}

impl Session {
    pub(crate) fn new(state: SessionState) -> Self {
        Session {
            state: Arc::new(Mutex::new(state)),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, SessionState> {
        // A poisoned lock only means another handler panicked mid-update; the data is plain.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a flash message, shown by the next page that renders flashes.
    ///
    /// The session cookie carries pending messages, so they are bounded: at most
    /// [`MAX_FLASHES`] wait (the oldest go first), each at most [`MAX_FLASH_LENGTH`]
    /// characters (a message that quotes what a visitor typed is cut).
    pub fn flash(&self, category: impl Into<String>, message: impl Into<String>) {
        let mut state = self.lock();
        state.data_mut().flashes.push(Flash {
            category: truncate(category.into(), 64),
            message: truncate(message.into(), MAX_FLASH_LENGTH),
        });
        let excess = state.data.flashes.len().saturating_sub(MAX_FLASHES);
        state.data_mut().flashes.drain(..excess);
        state.changed = true;
    }

    /// Takes the pending flash messages (they are shown once).
    pub fn take_flashes(&self) -> Vec<Flash> {
        let mut state = self.lock();
        if state.data.flashes.is_empty() {
            return Vec::new();
        }
        state.changed = true;
        std::mem::take(&mut state.data_mut().flashes)
    }

    /// The id of the logged-in user as the session holds it (not yet checked against the
    /// database: use the `CurrentUser` extractor for that).
    pub fn user_id(&self) -> Option<String> {
        self.lock().data.user_id.clone()
    }

    /// The session's CSRF secret, created on first use.
    pub(crate) fn csrf_secret(&self) -> String {
        let mut state = self.lock();
        if let Some(secret) = &state.data.csrf {
            return secret.clone();
        }
        let secret = crate::web::csrf::Csrf::new_secret();
        state.data_mut().csrf = Some(secret.clone());
        state.changed = true;
        secret
    }

    pub(crate) fn csrf_secret_if_any(&self) -> Option<String> {
        self.lock().data.csrf.clone()
    }

    /// Logs a user in: a new session id and CSRF secret (no fixation), the user id and the
    /// account fingerprint. The session is not fresh yet: a login that checked a credential
    /// also calls [`Session::set_authenticated_at`] (a remember-me cookie does not).
    pub(crate) fn login(&self, user_id: String, fingerprint: String, now: i64) {
        self.login_with_id(user_id, fingerprint, now, random_token(16));
    }

    /// [`Session::login`] with a given session id and login time (a Flask session taken over
    /// keeps one id, so that a logout ends every copy of it).
    pub(crate) fn login_with_id(
        &self,
        user_id: String,
        fingerprint: String,
        login_at: i64,
        session_id: String,
    ) {
        let mut state = self.lock();
        state.flask_cookie = None;
        let flashes = std::mem::take(&mut state.data_mut().flashes);
        state.data = Arc::new(SessionData {
            user_id: Some(user_id),
            fingerprint: Some(fingerprint),
            login_at: Some(login_at),
            id: Some(session_id),
            csrf: Some(crate::web::csrf::Csrf::new_secret()),
            flashes,
            forget: false,
            remembered_by: None,
            authenticated_at: None,
            grace_until: None,
            revocation_key: KeyMemo::default(),
        });
        state.changed = true;
    }

    /// Records that a credential was checked for the session's user at `at` (5.9's
    /// `fs_paa`): what a freshness check measures.
    pub(crate) fn set_authenticated_at(&self, at: i64) {
        let mut state = self.lock();
        if state.data.user_id.is_some() {
            state.data_mut().authenticated_at = Some(at);
            state.changed = true;
        }
    }

    /// When a credential was last checked for the session's user, and until when its grace
    /// period runs (5.9's `fs_paa` and `fs_gexp`).
    pub(crate) fn freshness_marks(&self) -> (Option<i64>, Option<i64>) {
        let state = self.lock();
        (state.data.authenticated_at, state.data.grace_until)
    }

    /// Opens or extends the grace period until `until` (5.9's `fs_gexp`).
    pub(crate) fn set_grace_until(&self, until: i64) {
        let mut state = self.lock();
        if state.data.user_id.is_some() && state.data.grace_until != Some(until) {
            state.data_mut().grace_until = Some(until);
            state.changed = true;
        }
    }

    /// Marks the session as restored from the remember-me cookie with this revocation key.
    pub(crate) fn set_remembered_by(&self, key: String) {
        let mut state = self.lock();
        state.data_mut().remembered_by = Some(key);
        state.changed = true;
    }

    /// Replaces the fingerprint after the user changed their own password, so that this
    /// session goes on while every other one ends.
    pub(crate) fn refresh_fingerprint(&self, fingerprint: String) {
        let mut state = self.lock();
        if state.data.user_id.is_some() {
            let data = state.data_mut();
            data.fingerprint = Some(fingerprint);
            data.id = Some(random_token(16));
            state.changed = true;
        }
    }

    /// Logs out: drops the user from the session (keeping flashes), forgets the remember
    /// cookie.
    pub(crate) fn logout(&self) {
        let mut state = self.lock();
        let flashes = std::mem::take(&mut state.data_mut().flashes);
        let forget = state.had_remember_cookie;
        state.data = Arc::new(SessionData {
            flashes,
            forget,
            ..SessionData::default()
        });
        state.changed = true;
        if state.had_remember_cookie {
            state.remember = RememberAction::Clear;
        } else if matches!(state.remember, RememberAction::Set(_)) {
            state.remember = RememberAction::Keep;
        }
    }

    /// Drops a session user that no longer checks out (deleted, deactivated, password
    /// changed), without touching flashes.
    pub(crate) fn drop_user(&self) {
        let mut state = self.lock();
        if state.data.user_id.is_some() {
            let data = state.data_mut();
            data.user_id = None;
            data.fingerprint = None;
            data.login_at = None;
            data.authenticated_at = None;
            data.grace_until = None;
            state.changed = true;
        }
    }

    pub(crate) fn set_remember(&self, action: RememberAction) {
        self.lock().remember = action;
    }

    /// The unreadable session cookie kept for a Flask take-over.
    /// Sends a new device cookie with the response.
    pub(crate) fn set_device_cookie(&self, value: String) {
        self.lock().device_cookie = Some(value);
    }

    pub(crate) fn flask_cookie(&self) -> Option<String> {
        self.lock().flask_cookie.clone()
    }

    /// The Flask session cookie was checked and refused: it is cleared on the way out.
    pub(crate) fn refuse_flask_cookie(&self) {
        let mut state = self.lock();
        if state.flask_cookie.take().is_some() {
            state.changed = true;
        }
    }

    /// Queues flashed messages carried over from another session.
    pub(crate) fn add_flashes(&self, flashes: Vec<Flash>) {
        for flash in flashes {
            self.flash(flash.category, flash.message);
        }
    }
}

/// The longest session cookie value written; flash messages give way first.
const MAX_COOKIE_VALUE: usize = 3800;

/// The most flash messages a session holds; older ones are dropped.
pub const MAX_FLASHES: usize = 8;
/// The longest flash message kept, in characters.
pub const MAX_FLASH_LENGTH: usize = 256;

fn truncate(mut text: String, max: usize) -> String {
    if let Some((at, _)) = text.char_indices().nth(max) {
        text.truncate(at);
        text.push('…');
    }
    text
}

/// Reads one cookie from a `Cookie` header value: the first of that name, its value without
/// the double quotes that may surround it (Werkzeug quotes some values). Pairs the `cookie`
/// crate cannot parse (no `=`, an empty name) are skipped, as browsers and Werkzeug do.
///
/// The `cookie` crate's `split_parse` rule (pairs split at `;`, name and value trimmed), without
/// building a `Cookie` for every pair: the layer reads two cookies on every request, so the
/// pairs are found with `memchr`'s vectorised search, and trimmed of ASCII whitespace only (a
/// header value read with `to_str` is ASCII).
pub(crate) fn read_cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    let [value] = read_cookies(header, [name]);
    value
}

/// [`read_cookie`] for several names in one pass over the header: the value of each name's
/// first cookie.
pub(crate) fn read_cookies<'a, const N: usize>(
    header: &'a str,
    names: [&str; N],
) -> [Option<&'a str>; N] {
    let mut found = [None; N];
    let mut missing = N;
    let mut rest = header;
    while missing > 0 {
        let (pair, next) = match memchr::memchr(b';', rest.as_bytes()) {
            // `;` is ASCII: both sides are on character boundaries.
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        if let Some((key, value)) = pair.split_once('=') {
            let key = key.trim_ascii();
            for (name, slot) in names.iter().zip(found.iter_mut()) {
                if slot.is_none() && !key.is_empty() && key == *name {
                    let value = value.trim_ascii();
                    *slot = Some(
                        value
                            .strip_prefix('"')
                            .and_then(|inner| inner.strip_suffix('"'))
                            .unwrap_or(value),
                    );
                    missing -= 1;
                }
            }
        }
        let Some(next) = next else { break };
        rest = next;
    }
    found
}

/// Attributes of a cookie to send.
#[derive(Clone, Debug)]
pub(crate) struct CookieSpec<'a> {
    pub name: &'a str,
    pub domain: Option<&'a str>,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: crate::config::SameSite,
}

impl CookieSpec<'_> {
    /// `Set-Cookie` value; `max_age` `None` makes a browser-session cookie.
    pub(crate) fn set(&self, value: &str, max_age: Option<u64>) -> String {
        let mut cookie = self.cookie(value.to_owned());
        if let Some(age) = max_age {
            let age = Duration::seconds(i64::try_from(age).unwrap_or(i64::MAX));
            cookie.set_max_age(age);
            cookie.set_expires(OffsetDateTime::now_utc().saturating_add(age));
        }
        cookie.to_string()
    }

    /// `Set-Cookie` value that deletes the cookie.
    pub(crate) fn clear(&self) -> String {
        let mut cookie = self.cookie(String::new());
        cookie.set_max_age(Duration::ZERO);
        cookie.set_expires(OffsetDateTime::UNIX_EPOCH);
        cookie.to_string()
    }

    fn cookie(&self, value: String) -> cookie::Cookie<'static> {
        let mut cookie = cookie::Cookie::new(self.name.to_owned(), value);
        cookie.set_path("/");
        if let Some(domain) = self.domain {
            cookie.set_domain(domain.to_owned());
        }
        // Set either way, so that the crate adds no `Secure` of its own to `SameSite=None`.
        cookie.set_secure(self.secure);
        cookie.set_http_only(self.http_only);
        cookie.set_same_site(match self.same_site {
            crate::config::SameSite::Lax => SameSite::Lax,
            crate::config::SameSite::Strict => SameSite::Strict,
            crate::config::SameSite::None => SameSite::None,
        });
        cookie
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_cookie_reads_what_the_cookie_crate_reads() {
        // The reference: the `cookie` crate's parse, as `read_cookie` used to call it.
        fn reference<'a>(header: &'a str, name: &str) -> Option<&'a str> {
            cookie::Cookie::split_parse(header)
                .filter_map(Result::ok)
                .find(|cookie| cookie.name() == name)
                .and_then(|cookie| cookie.value_raw())
                .map(|value| {
                    value
                        .strip_prefix('"')
                        .and_then(|inner| inner.strip_suffix('"'))
                        .unwrap_or(value)
                })
        }
        let headers = [
            "",
            ";",
            " ; ;",
            "session=abc",
            "session=abc; remember=def",
            " session = abc ;remember= def ",
            "session=",
            "session",
            "=abc; session=x",
            "other=1; session=\"quoted\"; session=second",
            "session=\"half",
            "session=a=b=c",
            "sessionx=1; xsession=2; session=3",
            "  ;session=v1.eyJ1IjoiMSJ9.tag;;remember=r",
            "session=\t tab \t",
            "session=\"\"",
            "\"session\"=abc",
        ];
        for header in headers {
            for name in ["session", "remember", "other", "\"session\"", ""] {
                assert_eq!(
                    read_cookie(header, name),
                    reference(header, name),
                    "{header:?} {name:?}"
                );
            }
            // Several names in one pass, one of them twice, read as each alone.
            let names = ["remember", "session", "", "remember"];
            assert_eq!(
                read_cookies(header, names),
                names.map(|name| reference(header, name)),
                "{header:?}"
            );
        }
    }

    fn signer() -> Signer {
        Signer::new(b"secret", "session")
    }

    #[test]
    fn session_round_trips_and_rejects_tampering() {
        let data = SessionData {
            user_id: Some("7".into()),
            fingerprint: Some("fp".into()),
            login_at: Some(1),
            id: Some("abc".into()),
            csrf: Some("c".into()),
            flashes: vec![Flash {
                category: "info".into(),
                message: "hi".into(),
            }],
            forget: false,
            remembered_by: None,
            authenticated_at: Some(5),
            grace_until: Some(6),
            revocation_key: KeyMemo::default(),
        };
        let value = data.encode(&signer());
        assert_eq!(SessionData::decode(&value, &signer()), Some(data));
        let mut tampered = value.clone().into_bytes();
        let mid = tampered.len() / 2;
        tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(SessionData::decode(&tampered, &signer()), None);
        assert_eq!(
            SessionData::decode(&value, &Signer::new(b"other", "session")),
            None
        );
    }

    #[test]
    fn a_cookie_without_the_freshness_marks_still_reads() {
        // A session written before the marks existed: no `p`, no `g`.
        let json = br#"{"u":"7","f":"fp","t":1,"i":"abc","c":"c"}"#;
        let value = signer().sign(json);
        let data = SessionData::decode(&value, &signer()).expect("readable");
        assert_eq!(data.user_id.as_deref(), Some("7"));
        assert_eq!((data.authenticated_at, data.grace_until), (None, None));
        // Unset marks are not written, so such a session keeps its size.
        assert!(
            !String::from_utf8(serde_json::to_vec(&data).unwrap())
                .unwrap()
                .contains("\"p\"")
        );
    }

    #[test]
    fn a_login_starts_stale_until_a_credential_is_recorded() {
        let session = Session::default();
        session.set_authenticated_at(5);
        assert_eq!(session.freshness_marks(), (None, None), "nobody to mark");
        session.login("1".into(), "fp".into(), 10);
        assert_eq!(session.freshness_marks(), (None, None));
        session.set_authenticated_at(10);
        session.set_grace_until(20);
        assert_eq!(session.freshness_marks(), (Some(10), Some(20)));
        // A new login (another user, or the remember cookie) starts over.
        session.login("2".into(), "fp".into(), 11);
        assert_eq!(session.freshness_marks(), (None, None));
        session.set_authenticated_at(11);
        session.set_grace_until(30);
        session.drop_user();
        assert_eq!(session.freshness_marks(), (None, None));
        session.login("2".into(), "fp".into(), 12);
        session.set_authenticated_at(12);
        session.logout();
        assert_eq!(session.freshness_marks(), (None, None));
    }

    #[test]
    fn login_gives_a_new_session_id_and_csrf_secret() {
        let session = Session::default();
        session.login("1".into(), "fp".into(), 10);
        let (id1, csrf1) = {
            let s = session.lock();
            (s.data.id.clone(), s.data.csrf.clone())
        };
        session.login("1".into(), "fp".into(), 11);
        let s = session.lock();
        assert_ne!(s.data.id, id1);
        assert_ne!(s.data.csrf, csrf1);
        assert!(s.changed);
    }

    /// The revocation key computed for a decoded session is reused while the data stays as it
    /// is, and forgotten by any change (a copy, or the data changed in place).
    #[test]
    fn the_derived_revocation_key_follows_the_data() {
        let session = Session::default();
        session.login("1".into(), "fp".into(), 10);
        let key = |s: &Session, value: &str| {
            s.lock()
                .data
                .revocation_key
                .get_or_init(|| value.to_owned())
                .to_owned()
        };
        assert_eq!(key(&session, "first"), "first");
        assert_eq!(key(&session, "second"), "first");
        // A copy (what the memo's readers get when they change it) starts empty.
        let copy = session.lock().data.as_ref().clone();
        assert_eq!(copy.revocation_key.get_or_init(|| "copy".into()), "copy");
        assert!(copy == *session.lock().data);
        // Changed in place (the data not shared): forgotten too.
        session.lock().data_mut().user_id = Some("2".into());
        assert_eq!(key(&session, "after"), "after");
        // A new login replaces the data.
        session.login("3".into(), "fp".into(), 11);
        assert_eq!(key(&session, "relogin"), "relogin");
    }

    #[test]
    fn reading_flashes_consumes_them_and_marks_change() {
        let session = Session::default();
        assert!(session.take_flashes().is_empty());
        assert!(!session.lock().changed);
        session.flash("info", "hello");
        assert_eq!(session.take_flashes().len(), 1);
        assert!(session.take_flashes().is_empty());
    }

    #[test]
    fn cookie_reader_finds_the_named_cookie() {
        let header = "a=1; session=xyz; remember_token=\"t\"";
        assert_eq!(read_cookie(header, "session"), Some("xyz"));
        assert_eq!(read_cookie(header, "remember_token"), Some("t"));
        assert_eq!(read_cookie(header, "missing"), None);
        assert_eq!(read_cookie("junk; session=; x=1", "session"), Some(""));
        assert_eq!(read_cookie("session=a; session=b", "session"), Some("a"));
        assert_eq!(read_cookie(" session = v ;x", "session"), Some("v"));
    }

    #[test]
    fn cookies_are_http_only_and_same_site() {
        let spec = CookieSpec {
            name: "session",
            domain: None,
            secure: false,
            http_only: true,
            same_site: crate::config::SameSite::Lax,
        };
        let set = spec.set("v", None);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"));
        assert!(!set.contains("Max-Age"), "a session cookie has no expiry");
        assert!(spec.set("v", Some(60)).contains("Max-Age=60"));
        assert!(spec.clear().contains("Max-Age=0"));
        assert_eq!(
            spec.clear(),
            "session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; \
             Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        );
        let remember = CookieSpec {
            name: "remember_token",
            domain: Some("example.org"),
            secure: true,
            http_only: false,
            same_site: crate::config::SameSite::None,
        };
        let set = remember.set("t", Some(60));
        assert!(
            set.starts_with("remember_token=t; SameSite=None; Secure; Path=/; Domain=example.org; Max-Age=60; Expires="),
            "{set}"
        );
        assert!(set.ends_with(" GMT"), "{set}");
        let insecure = CookieSpec {
            secure: false,
            ..remember
        };
        assert!(
            !insecure.set("t", None).contains("Secure"),
            "no Secure added"
        );
    }

    #[test]
    fn pending_flashes_are_bounded_in_number_and_length() {
        let session = Session::default();
        for i in 0..600 {
            session.flash("info", format!("message {i}"));
        }
        let flashes = session.lock().data.flashes.clone();
        assert_eq!(flashes.len(), MAX_FLASHES);
        assert_eq!(
            flashes.last().unwrap().message,
            "message 599",
            "the newest kept"
        );
        session.flash("info", "é".repeat(5000));
        let last = session.lock().data.flashes.last().unwrap().message.clone();
        assert_eq!(
            last.chars().count(),
            MAX_FLASH_LENGTH + 1,
            "cut, with an ellipsis"
        );
        assert!(last.ends_with('…'));
    }

    #[test]
    fn the_cookie_stays_within_what_browsers_keep() {
        let mut data = SessionData {
            user_id: Some("1".into()),
            csrf: Some("c".repeat(43)),
            flashes: (0..MAX_FLASHES)
                .map(|_| Flash {
                    category: "info".into(),
                    message: "€".repeat(MAX_FLASH_LENGTH),
                })
                .collect(),
            ..SessionData::default()
        };
        let value = data.encode_bounded(&signer());
        assert!(value.len() <= MAX_COOKIE_VALUE, "{}", value.len());
        assert!(data.flashes.len() < MAX_FLASHES, "the oldest went first");
        assert_eq!(SessionData::decode(&value, &signer()), Some(data));
    }

    #[test]
    fn debug_shows_no_secret() {
        let session = Session::default();
        session.login("7".into(), "fingerprint-secret".into(), 1);
        session.set_remember(RememberAction::Set("remember-secret".into()));
        let csrf = session.csrf_secret();
        let shown = format!("{session:?}");
        for secret in ["fingerprint-secret", "remember-secret", csrf.as_str()] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("user_id: Some(\"7\")"), "{shown}");
    }
}
