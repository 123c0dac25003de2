//! Loading a configuration: the environment's text and TOML's values are converted to each
//! field's type by one converter per type, looked up in the key table ([`super::keys`]), so
//! both sources read a key the same way. Unknown `SECURITY_*` keys are reported with the
//! closest known key.

use std::path::Path;

use super::keys::{ALIASES, KEYS, Key};
use super::validate::english_list;
use super::values::MAX_SECONDS;
use super::{Config, ConfigError, NormalizeForm, SameSite, Secret, Within};
use crate::messages::MessageKey;
use crate::password::Scheme;

/// One value before it is converted to its field's type: text (environment, TOML string) or a
/// native TOML value.
pub(super) enum Raw<'a> {
    Text(&'a str),
    Bool(bool),
    Int(i64),
    List(Vec<String>),
}

impl Raw<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Raw::Text(_) => "text",
            Raw::Bool(_) => "a boolean",
            Raw::Int(_) => "an integer",
            Raw::List(_) => "an array",
        }
    }

    /// Text that means "use the default".
    fn is_empty(&self) -> bool {
        matches!(self, Raw::Text(s) if s.trim().is_empty())
    }
}

const MSG_PREFIX: &str = "SECURITY_MSG_";

// --- Converters: one per field type ------------------------------------------------------------

pub(super) fn boolean(raw: Raw<'_>) -> Result<bool, String> {
    match raw {
        Raw::Bool(b) => Ok(b),
        Raw::Int(0) => Ok(false),
        Raw::Int(1) => Ok(true),
        Raw::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(format!("`{s}` is not a boolean; use true or false")),
        },
        other => Err(format!(
            "expected a boolean (true or false), got {}",
            other.kind()
        )),
    }
}

pub(super) fn text(raw: Raw<'_>) -> Result<String, String> {
    match raw {
        Raw::Text(s) => Ok(s.to_owned()),
        other => Err(format!("expected a string, got {}", other.kind())),
    }
}

pub(super) fn opt_text(raw: Raw<'_>) -> Result<Option<String>, String> {
    text(raw).map(Some)
}

/// `SECRET_KEY` and the salts: text, kept as a [`Secret`].
pub(super) fn secret(raw: Raw<'_>) -> Result<Secret, String> {
    text(raw).map(Secret::from)
}

/// `SECURITY_PASSWORD_SALT`: text, kept as a [`Secret`], or unset.
pub(super) fn opt_secret(raw: Raw<'_>) -> Result<Option<Secret>, String> {
    secret(raw).map(Some)
}

/// `SECURITY_PASSWORD_HASH`: the name of a scheme. A verify-only scheme is read, and refused by
/// [`Config::validate`], which can also say which of `SECURITY_PASSWORD_SCHEMES` are allowed.
pub(super) fn hash_scheme(raw: Raw<'_>) -> Result<Scheme, String> {
    let name = text(raw)?;
    Scheme::from_name(&name).ok_or_else(|| {
        let allowed: Vec<&str> = Scheme::ALL
            .into_iter()
            .filter(|s| s.can_hash())
            .map(Scheme::name)
            .collect();
        format!(
            "Invalid hash scheme '{name}'. Allowed values are {}",
            english_list(&allowed)
        )
    })
}

/// `SECURITY_PASSWORD_SCHEMES`: a [`list`] of scheme names.
pub(super) fn schemes(raw: Raw<'_>) -> Result<Vec<Scheme>, String> {
    list(raw)?
        .iter()
        .map(|name| Scheme::from_name(name).ok_or_else(|| unknown_scheme(name)))
        .collect()
}

/// The complaint about a scheme name that is not one of [`Scheme::ALL`].
fn unknown_scheme(name: &str) -> String {
    let known: Vec<&str> = Scheme::ALL.into_iter().map(Scheme::name).collect();
    format!(
        "unknown scheme `{name}`; known schemes are {}",
        english_list(&known)
    )
}

pub(super) fn list(raw: Raw<'_>) -> Result<Vec<String>, String> {
    let items: Vec<String> = match raw {
        Raw::Text(s) => s.split(',').map(str::to_owned).collect(),
        Raw::List(items) => items,
        other => Err(format!(
            "expected a comma-separated list or an array of strings, got {}",
            other.kind()
        ))?,
    };
    Ok(items
        .iter()
        .map(|item| item.trim())
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect())
}

/// `SECURITY_*_WITHIN`: `<integer> <unit>` only, as 1.7.4.
pub(super) fn within(raw: Raw<'_>) -> Result<Within, String> {
    match raw {
        Raw::Text(s) => Within::parse(s),
        other => Err(format!(
            "expected a duration such as \"5 days\", got {}",
            other.kind()
        )),
    }
}

fn non_negative(n: i64) -> Result<u64, String> {
    u64::try_from(n).map_err(|_| format!("`{n}` is negative"))
}

/// Flask's timedelta-or-seconds keys: integer seconds or `<integer> <unit>`.
pub(super) fn duration(raw: Raw<'_>) -> Result<Within, String> {
    let seconds = |n: u64| {
        if n <= MAX_SECONDS {
            Ok(Within::from_seconds(n))
        } else {
            Err(format!("{n} seconds is longer than 999999999 days"))
        }
    };
    match raw {
        Raw::Int(n) => seconds(non_negative(n)?),
        Raw::Text(s) if !s.trim().is_empty() && s.trim().bytes().all(|b| b.is_ascii_digit()) => {
            seconds(
                s.trim()
                    .parse()
                    .map_err(|_| format!("`{s}` is too large"))?,
            )
        }
        Raw::Text(s) => Within::parse(s),
        other => Err(format!(
            "expected seconds or a duration such as \"5 days\", got {}",
            other.kind()
        )),
    }
}

fn is_none_word(raw: &Raw<'_>) -> bool {
    matches!(raw, Raw::Text(s) if s.trim().eq_ignore_ascii_case("none"))
}

/// An optional [`duration`]: `none` = no limit.
pub(super) fn opt_duration(raw: Raw<'_>) -> Result<Option<Within>, String> {
    if is_none_word(&raw) {
        return Ok(None);
    }
    duration(raw).map(Some)
}

/// A [`duration`] that may be negative, as 5.9's timedelta keys may be: whether it was, and
/// its length.
fn signed_duration(raw: Raw<'_>) -> Result<(bool, Within), String> {
    match raw {
        Raw::Int(n) if n < 0 => duration(Raw::Int(n.saturating_neg())).map(|w| (true, w)),
        Raw::Text(s) => match s.trim().strip_prefix('-') {
            Some(rest) => {
                let length = duration(Raw::Text(rest.trim_start()))?;
                Ok((length.seconds() > 0, length))
            }
            None => duration(raw).map(|w| (false, w)),
        },
        other => duration(other).map(|w| (false, w)),
    }
}

/// `SECURITY_FRESHNESS`: a duration; a negative one (`-1 minutes`) or `none` turns freshness
/// off.
pub(super) fn freshness(raw: Raw<'_>) -> Result<Option<Within>, String> {
    if is_none_word(&raw) {
        return Ok(None);
    }
    let (negative, length) = signed_duration(raw)?;
    Ok((!negative).then_some(length))
}

/// `SECURITY_FRESHNESS_GRACE_PERIOD`: a duration; a negative one is no grace (0 seconds, the
/// text kept).
pub(super) fn grace_period(raw: Raw<'_>) -> Result<Within, String> {
    let text = match &raw {
        Raw::Text(s) => Some(s.to_string()),
        _ => None,
    };
    let (negative, length) = signed_duration(raw)?;
    Ok(match (negative, text) {
        (false, _) => length,
        (true, Some(text)) => Within::known(&text, 0),
        (true, None) => Within::from_seconds(0),
    })
}

/// Flask-WTF's time limit: seconds (or a duration); `none` and `0` = no limit.
pub(super) fn opt_seconds(raw: Raw<'_>) -> Result<Option<u64>, String> {
    Ok(opt_duration(raw)?.map(|w| w.seconds()).filter(|&s| s != 0))
}

/// A non-negative integer (native, or decimal text).
fn unsigned(raw: Raw<'_>) -> Result<u64, String> {
    match raw {
        Raw::Int(n) => non_negative(n),
        Raw::Text(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not a whole number (0 or more)")),
        other => Err(format!("expected an integer, got {}", other.kind())),
    }
}

/// `SECURITY_TRUSTED_PROXIES`.
pub(super) fn proxy_count(raw: Raw<'_>) -> Result<u8, String> {
    u8::try_from(unsigned(raw)?).map_err(|_| "expected an integer from 0 to 255".to_owned())
}

/// `SECURITY_MAX_BODY_SIZE`.
pub(super) fn byte_size(raw: Raw<'_>) -> Result<usize, String> {
    usize::try_from(unsigned(raw)?).map_err(|_| "too large for this platform".to_owned())
}

pub(super) fn same_site(raw: Raw<'_>) -> Result<SameSite, String> {
    match raw {
        Raw::Text(s) => s.parse(),
        other => Err(format!(
            "expected Lax, Strict or None, got {}",
            other.kind()
        )),
    }
}

/// `REMEMBER_COOKIE_SECURE`: a boolean, or unset (follow the session cookie).
pub(super) fn opt_boolean(raw: Raw<'_>) -> Result<Option<bool>, String> {
    boolean(raw).map(Some)
}

/// `SECURITY_MAIL_MAX_ATTEMPTS`: at least 1.
pub(super) fn attempts(raw: Raw<'_>) -> Result<u32, String> {
    match u32::try_from(unsigned(raw)?) {
        Ok(0) | Err(_) => Err("expected a whole number from 1 to 4294967295".to_owned()),
        Ok(n) => Ok(n),
    }
}

/// `SECURITY_PASSWORD_LENGTH_*`: a number of characters.
pub(super) fn length(raw: Raw<'_>) -> Result<usize, String> {
    usize::try_from(unsigned(raw)?).map_err(|_| "too large".to_owned())
}

/// `SECURITY_ZXCVBN_MINIMUM_SCORE`: 0 to 4.
pub(super) fn score(raw: Raw<'_>) -> Result<u8, String> {
    match unsigned(raw)? {
        n @ 0..=4 => Ok(n as u8),
        n => Err(format!(
            "`{n}` is not a zxcvbn score; scores go from 0 to 4"
        )),
    }
}

/// `SECURITY_PASSWORD_COMPLEXITY_CHECKER`: `zxcvbn`, or `none`.
pub(super) fn opt_checker(raw: Raw<'_>) -> Result<Option<String>, String> {
    if is_none_word(&raw) {
        return Ok(None);
    }
    match text(raw)?.trim() {
        "zxcvbn" => Ok(Some("zxcvbn".to_owned())),
        other => Err(format!(
            "unknown complexity checker `{other}`; the one known is `zxcvbn`"
        )),
    }
}

/// `SECURITY_PASSWORD_NORMALIZE_FORM`: `NFC`, `NFD`, `NFKC`, `NFKD` or `none`.
pub(super) fn normalize_form(raw: Raw<'_>) -> Result<Option<NormalizeForm>, String> {
    if is_none_word(&raw) {
        return Ok(None);
    }
    text(raw)?.parse().map(Some)
}

/// `SECURITY_PASSWORD_HASH_PRIORITY`: `idle`, `low` or `normal`.
pub(super) fn hash_priority(raw: Raw<'_>) -> Result<crate::password::HashPriority, String> {
    text(raw)?.parse()
}

/// `SECURITY_LOGOUT_METHODS`: a list of `GET` and `POST` (any case).
pub(super) fn methods(raw: Raw<'_>) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for item in list(raw)? {
        let method = item.to_ascii_uppercase();
        if !matches!(method.as_str(), "GET" | "POST") {
            return Err(format!(
                "`{item}` is not a logout method; use GET and/or POST"
            ));
        }
        if !out.contains(&method) {
            out.push(method);
        }
    }
    Ok(out)
}

/// The headers the security views send unless configured otherwise.
pub(super) fn default_response_headers() -> Vec<(String, String)> {
    [
        ("Cache-Control", "no-store"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", "frame-ancestors 'none'"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// `SECURITY_RESPONSE_HEADERS`: a JSON object merged over the defaults; `""` removes one.
pub(super) fn header_map(raw: Raw<'_>) -> Result<Vec<(String, String)>, String> {
    let Raw::Text(s) = raw else {
        return Err(format!(
            "expected a JSON object such as {{\"Referrer-Policy\": \"same-origin\"}}, got {}",
            raw.kind()
        ));
    };
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(s)
        .map_err(|e| format!("expected a JSON object of header names to values: {e}"))?;
    let mut headers = default_response_headers();
    for (name, value) in map {
        let serde_json::Value::String(value) = value else {
            return Err(format!("the value of `{name}` must be a string"));
        };
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("`{name}` is not a header name"));
        }
        if http::HeaderValue::from_str(&value).is_err() {
            return Err(format!("the value of `{name}` is not a valid header value"));
        }
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        if !value.is_empty() {
            headers.push((name, value));
        }
    }
    Ok(headers)
}

/// `SECURITY_MSG_<NAME>`: plain text (default category) or `["text", "category"]`.
fn message(key: MessageKey, raw: Raw<'_>) -> Result<(String, String), String> {
    let default_category = || key.default_message().category;
    let pair = |items: Vec<String>| match <[String; 2]>::try_from(items) {
        Ok([text, category]) => Ok((text, category)),
        Err(items) => match <[String; 1]>::try_from(items) {
            Ok([text]) => Ok((text, default_category())),
            Err(_) => Err("expected [\"text\", \"category\"]".to_owned()),
        },
    };
    match raw {
        Raw::Text(s) if s.trim_start().starts_with('[') => {
            let items: Vec<String> = serde_json::from_str(s).map_err(|e| {
                format!(
                    "a message starting with `[` must be a JSON array [\"text\", \"category\"]: {e}"
                )
            })?;
            pair(items)
        }
        Raw::Text(s) => Ok((s.to_owned(), default_category())),
        Raw::List(items) => pair(items),
        other => Err(format!(
            "expected a text or [\"text\", \"category\"], got {}",
            other.kind()
        )),
    }
}

// --- Dispatch ----------------------------------------------------------------------------------

/// What a key name refers to.
enum Target {
    Field(&'static Key),
    Message(MessageKey),
    /// A `SECURITY_*` key that does not exist: reported.
    Unknown,
    /// Some other variable: ignored.
    Other,
}

fn target(name: &str) -> Target {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, key)| key);
    if let Some(key) = KEYS.iter().find(|k| k.name == name) {
        return Target::Field(key);
    }
    if let Some(key) = name
        .strip_prefix(MSG_PREFIX)
        .and_then(MessageKey::from_name)
    {
        return Target::Message(key);
    }
    if name.to_ascii_uppercase().starts_with("SECURITY_") {
        Target::Unknown
    } else {
        Target::Other
    }
}

/// The known key closest to `name` (at most 3 edits, ignoring case), to suggest for a typo.
pub(super) fn suggest(name: &str) -> Option<String> {
    let name = name.to_ascii_uppercase();
    KEYS.iter()
        .map(|k| k.name.to_owned())
        .chain(
            MessageKey::ALL
                .iter()
                .map(|k| format!("{MSG_PREFIX}{}", k.name())),
        )
        .map(|known| (edit_distance(&name, &known), known))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, known)| known)
}

/// Levenshtein distance (keys are ASCII, so bytes are characters).
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Collects a configuration from named values, reporting unknown `SECURITY_*` keys.
struct Loader {
    config: Config,
    unknown: Vec<String>,
}

impl Loader {
    fn new() -> Self {
        Self {
            config: Config::default(),
            unknown: Vec::new(),
        }
    }

    /// Applies one key. `raw` is only asked for when the key is known (TOML values of unknown
    /// keys may be of any type).
    fn apply<'a>(
        &mut self,
        name: &str,
        raw: impl FnOnce() -> Result<Raw<'a>, String>,
    ) -> Result<(), ConfigError> {
        let invalid = |reason| ConfigError::invalid(name, reason);
        match target(name) {
            Target::Field(key) => {
                let raw = raw().map_err(invalid)?;
                if raw.is_empty() {
                    (key.reset)(&mut self.config);
                    Ok(())
                } else {
                    (key.set)(&mut self.config, raw).map_err(invalid)
                }
            }
            Target::Message(key) => {
                let raw = raw().map_err(invalid)?;
                if raw.is_empty() {
                    self.config.messages.reset(key);
                } else {
                    let (text, category) = message(key, raw).map_err(invalid)?;
                    self.config.messages.set(key, text, category);
                }
                Ok(())
            }
            Target::Unknown => {
                match suggest(name) {
                    Some(known) => tracing::warn!(
                        key = name,
                        suggestion = %known,
                        "unknown configuration key `{name}` ignored; did you mean `{known}`?"
                    ),
                    None => {
                        tracing::warn!(key = name, "unknown configuration key `{name}` ignored")
                    }
                }
                self.unknown.push(name.to_owned());
                Ok(())
            }
            Target::Other => Ok(()),
        }
    }

    fn finish(self) -> (Config, Vec<String>) {
        (self.config, self.unknown)
    }
}

/// A TOML value as a [`Raw`] value.
fn from_toml(value: &toml::Value) -> Result<Raw<'_>, String> {
    match value {
        toml::Value::String(s) => Ok(Raw::Text(s)),
        toml::Value::Boolean(b) => Ok(Raw::Bool(*b)),
        toml::Value::Integer(n) => Ok(Raw::Int(*n)),
        toml::Value::Array(items) => items
            .iter()
            .map(|item| match item {
                toml::Value::String(s) => Ok(s.clone()),
                _ => Err("expected an array of strings".to_owned()),
            })
            .collect::<Result<_, _>>()
            .map(Raw::List),
        toml::Value::Float(_) => Err("a float is not accepted; use an integer or a string".into()),
        toml::Value::Datetime(_) => Err("a date is not accepted; use a string".into()),
        toml::Value::Table(_) => Err("a table is not accepted here".into()),
    }
}

impl Config {
    /// Reads a configuration from `(name, value)` pairs spelled as in the environment (see the
    /// [module documentation](crate::config) for keys and value syntax), starting from
    /// [`Config::default()`]. Does not [validate](Config::validate).
    ///
    /// An empty value means the default. Unknown `SECURITY_*` keys are logged (`tracing::warn!`)
    /// with the closest known key; other variables are ignored.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first key whose value is malformed.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Self::from_vars_report(vars).map(|(config, _)| config)
    }

    /// [`Config::from_vars`], also returning the unknown `SECURITY_*` keys that were ignored (in
    /// the order met).
    ///
    /// # Errors
    /// As [`Config::from_vars`].
    pub fn from_vars_report<I, K, V>(vars: I) -> Result<(Config, Vec<String>), ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut loader = Loader::new();
        for (name, value) in vars {
            let value = value.as_ref();
            loader.apply(name.as_ref(), || Ok(Raw::Text(value)))?;
        }
        Ok(loader.finish())
    }

    /// [`Config::from_vars`] over the process environment. Variables whose name or value is not
    /// UTF-8 are ignored, unless the name is a configuration key.
    ///
    /// # Errors
    /// As [`Config::from_vars`]; also a configuration key whose value is not UTF-8.
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut vars = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            match value.into_string() {
                Ok(value) => vars.push((name.to_owned(), value)),
                Err(_) if !matches!(target(name), Target::Other) => {
                    return Err(ConfigError::invalid(name, "the value is not valid UTF-8"));
                }
                Err(_) => {}
            }
        }
        Self::from_vars(vars)
    }

    /// Reads a configuration from TOML text: top-level keys spelled as in the environment
    /// (`SECURITY_LOGIN_URL = "/login"`); TOML booleans, integers and arrays of strings are
    /// accepted natively and strings are read like environment text. Starts from
    /// [`Config::default()`]; does not [validate](Config::validate).
    ///
    /// ```
    /// # use security::config::Config;
    /// let config = Config::from_toml_str(r#"
    ///     SECRET_KEY = "change me to a long random value"
    ///     SECURITY_CONFIRMABLE = true
    ///     SECURITY_USER_IDENTITY_ATTRIBUTES = ["email", "username"]
    ///     SECURITY_LOGIN_WITHIN = "2 hours"
    ///     SECURITY_MSG_INVALID_PASSWORD = ["Wrong password", "danger"]
    /// "#)?;
    /// assert!(config.confirmable);
    /// assert_eq!(config.login_within.seconds(), 7200);
    /// # Ok::<(), security::config::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::Toml`] for a syntax error, [`ConfigError::Invalid`] for a malformed value.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        Self::toml_report(text)
            .map(|(config, _)| config)
            .map_err(|e| match e {
                TomlError::Syntax(reason) => ConfigError::Toml { reason },
                TomlError::Config(e) => e,
            })
    }

    /// [`Config::from_toml_str`] on the contents of the file at `path`.
    ///
    /// # Errors
    /// [`ConfigError::File`] when the file cannot be read or is not valid TOML,
    /// [`ConfigError::Invalid`] for a malformed value.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let file_error = |reason: String| ConfigError::File {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        Self::toml_report(&text)
            .map(|(config, _)| config)
            .map_err(|e| match e {
                TomlError::Syntax(reason) => file_error(format!("not valid TOML: {reason}")),
                TomlError::Config(e) => e,
            })
    }

    pub(super) fn toml_report(text: &str) -> Result<(Config, Vec<String>), TomlError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| TomlError::Syntax(e.to_string()))?;
        let mut loader = Loader::new();
        for (name, value) in &table {
            loader
                .apply(name, || from_toml(value))
                .map_err(TomlError::Config)?;
        }
        Ok(loader.finish())
    }
}

pub(super) enum TomlError {
    Syntax(String),
    Config(ConfigError),
}

/// `SECURITY_RATE_LIMITS`: a JSON object of limit names to `COUNT/PERIOD/SCOPE` lists;
/// `false` = none.
pub(super) fn rate_limits(raw: Raw<'_>) -> Result<super::RateLimits, String> {
    match raw {
        Raw::Bool(false) => Ok(super::RateLimits::default()),
        Raw::Text(s) => super::RateLimits::parse(s),
        other => Err(format!(
            "expected a JSON object such as {{\"login\": \"30/m/ip\"}} or false, got {}",
            other.kind()
        )),
    }
}

/// `SECURITY_LOCK_HARD_CAP`: `COUNT/PERIOD` failures per account.
pub(super) fn account_limit(raw: Raw<'_>) -> Result<super::RateLimit, String> {
    match raw {
        Raw::Text(s) => super::RateLimit::parse_with_scope(s, super::LimitScope::User),
        other => Err(format!(
            "expected a limit such as \"100/h\", got {}",
            other.kind()
        )),
    }
}

/// `SECURITY_UNLOCK_STRATEGY`.
pub(super) fn unlock_strategy(raw: Raw<'_>) -> Result<super::UnlockStrategy, String> {
    match raw {
        Raw::Text(s) => s.parse(),
        other => Err(format!(
            "expected email, time or both, got {}",
            other.kind()
        )),
    }
}

/// `SECURITY_THROTTLE_STORE`.
pub(super) fn throttle_backend(raw: Raw<'_>) -> Result<super::ThrottleBackend, String> {
    match raw {
        Raw::Text(s) => s.parse(),
        other => Err(format!(
            "expected database, memory or a redis:// URL, got {}",
            other.kind()
        )),
    }
}
