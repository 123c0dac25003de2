//! The value types of a few keys: durations written as 1.7.4 writes them ([`Within`]) and the
//! cookies' `SameSite` attribute ([`SameSite`]). The Unicode normalisation of passwords
//! ([`NormalizeForm`]) is the password module's.

pub use crate::password::NormalizeForm;

use std::fmt;

/// The longest duration accepted: Python's `timedelta.max` (999999999 days), in seconds.
pub(super) const MAX_SECONDS: u64 = 999_999_999 * 86_400;

/// A duration written as 1.7.4 writes it: `"<integer> <unit>"`, e.g. `"5 days"`.
///
/// The unit is one of Python's `timedelta` keywords: `weeks`, `days`, `hours`, `minutes`,
/// `seconds`, `milliseconds`, `microseconds` (any case). The singular (`"1 day"`) is accepted
/// too; 1.7.4 accepted it at start-up and then failed when a token was checked.
///
/// The length is kept in whole seconds with sub-second parts dropped, as 1.7.4 computes a token's
/// max age (`"1 milliseconds"` is 0 s). The original text is kept for the `%(within)s` part of
/// the expiry messages, which repeats it verbatim.
///
/// ```
/// # use security::config::Within;
/// let w = Within::parse("5 days").unwrap();
/// assert_eq!((w.seconds(), w.text()), (432_000, "5 days"));
/// assert_eq!(w.to_string(), "5 days");
/// assert!(Within::parse("5 fortnights").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Within {
    text: String,
    seconds: u64,
}

impl Within {
    /// Parses `"<integer> <unit>"` (split on whitespace, exactly two parts, the integer
    /// non-negative).
    ///
    /// # Errors
    /// A text in any other shape, an unknown unit, or a duration longer than 999999999 days; the
    /// error says which.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.split_whitespace();
        let (Some(count), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "`{text}` is not a duration; write `<integer> <unit>`, e.g. `5 days`"
            ));
        };
        let count: u64 = count.parse().map_err(|_| {
            format!("`{count}` in `{text}` is not a whole number of units; e.g. `5 days`")
        })?;
        let unit_seconds: (u64, u64) = match unit.to_ascii_lowercase().as_str() {
            "weeks" | "week" => (604_800, 1),
            "days" | "day" => (86_400, 1),
            "hours" | "hour" => (3_600, 1),
            "minutes" | "minute" => (60, 1),
            "seconds" | "second" => (1, 1),
            "milliseconds" | "millisecond" => (1, 1_000),
            "microseconds" | "microsecond" => (1, 1_000_000),
            _ => {
                return Err(format!(
                    "unknown unit `{unit}` in `{text}`; use weeks, days, hours, minutes, seconds, \
                     milliseconds or microseconds"
                ));
            }
        };
        let (multiplier, divisor) = unit_seconds;
        let seconds = count
            .checked_mul(multiplier)
            .map(|s| s / divisor)
            .filter(|s| *s <= MAX_SECONDS)
            .ok_or_else(|| format!("`{text}` is longer than 999999999 days"))?;
        Ok(Self {
            text: text.to_owned(),
            seconds,
        })
    }

    /// A duration of `seconds` seconds, written `"<seconds> seconds"`.
    pub fn from_seconds(seconds: u64) -> Self {
        Self {
            text: format!("{seconds} seconds"),
            seconds,
        }
    }

    /// The length in whole seconds.
    pub fn seconds(&self) -> u64 {
        self.seconds
    }

    /// The text as configured (what `%(within)s` shows).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// A default value; the text is known to parse to `seconds` (checked by a unit test).
    pub(super) fn known(text: &str, seconds: u64) -> Self {
        Self {
            text: text.to_owned(),
            seconds,
        }
    }
}

impl fmt::Display for Within {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The `SameSite` attribute of a cookie (`SESSION_COOKIE_SAMESITE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// `SameSite=Lax`: sent on top-level navigations from other sites, not on their sub-requests
    /// or cross-site POSTs. The default.
    #[default]
    Lax,
    /// `SameSite=Strict`: never sent on requests started by another site.
    Strict,
    /// `SameSite=None`: sent on every request; browsers require `Secure` with it.
    None,
}

impl SameSite {
    /// The attribute value: `"Lax"`, `"Strict"` or `"None"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SameSite {
    type Err = String;

    /// `Lax`, `Strict` or `None`, in any case.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "lax" => Ok(SameSite::Lax),
            "strict" => Ok(SameSite::Strict),
            "none" => Ok(SameSite::None),
            _ => Err(format!(
                "`{s}` is not a SameSite value; use Lax, Strict or None"
            )),
        }
    }
}

/// `SECURITY_THROTTLE_STORE`: where the brute-force protection keeps its counters and locks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ThrottleBackend {
    /// The app's own database (`security_throttle`), shared by every instance. The default.
    #[default]
    Database,
    /// Redis (cargo feature `redis`), shared by every instance; the URL may hold a password.
    Redis(super::Secret),
    /// This process's memory: for tests and apps that run as one instance.
    Memory,
}

impl std::str::FromStr for ThrottleBackend {
    type Err = String;

    /// `database`, `memory`, or a `redis://` / `rediss://` / `redis+unix://` URL.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        match s.to_ascii_lowercase().as_str() {
            "database" | "db" => Ok(ThrottleBackend::Database),
            "memory" => Ok(ThrottleBackend::Memory),
            lower
                if lower.starts_with("redis://")
                    || lower.starts_with("rediss://")
                    || lower.starts_with("redis+unix://") =>
            {
                Ok(ThrottleBackend::Redis(super::Secret::from(s)))
            }
            _ => Err(format!(
                "`{s}` is not a throttle store; use database, memory or a redis:// URL"
            )),
        }
    }
}

/// Who a rate limit counts for (the last part of `COUNT/PERIOD/SCOPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitScope {
    /// `ip`: the client address (IPv6 grouped by /64).
    Ip,
    /// `key`: the pair of the account and the client (the client's device cookie for that
    /// account when it has one, else its address).
    Key,
    /// `user`: the account, whatever the client.
    User,
    /// `email`: the address a mail goes to.
    Email,
}

impl LimitScope {
    /// The scope as written.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitScope::Ip => "ip",
            LimitScope::Key => "key",
            LimitScope::User => "user",
            LimitScope::Email => "email",
        }
    }
}

/// One rate limit: at most `count` in a fixed window of `period` seconds, per `scope`.
///
/// Written as Flask/django-allauth write them, `COUNT/PERIOD/SCOPE`, the period being `s`, `m`,
/// `h` or `d`, optionally with a number (`15m`):
///
/// ```
/// # use security::config::{LimitScope, RateLimit};
/// let limit: RateLimit = "5/15m/key".parse().unwrap();
/// assert_eq!((limit.count, limit.period, limit.scope), (5, 900, LimitScope::Key));
/// assert_eq!(limit.to_string(), "5/15m/key");
/// assert!("5/fortnight/ip".parse::<RateLimit>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// How many are allowed in one window (at least 1).
    pub count: u32,
    /// The window, in seconds.
    pub period: u32,
    /// Who is counted.
    pub scope: LimitScope,
    text: String,
}

impl RateLimit {
    /// Parses `COUNT/PERIOD` (a limit whose scope is implied, such as the lockout's hard
    /// ceiling), with `scope` as its scope.
    ///
    /// # Errors
    /// A text in another shape.
    pub fn parse_with_scope(text: &str, scope: LimitScope) -> Result<Self, String> {
        let (count, period) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not a limit; write COUNT/PERIOD, e.g. `100/h`"))?;
        Ok(RateLimit {
            count: parse_count(count, text)?,
            period: parse_period(period, text)?,
            scope,
            text: text.trim().to_owned(),
        })
    }
}

fn parse_count(count: &str, text: &str) -> Result<u32, String> {
    match count.trim().parse::<u32>() {
        Ok(0) | Err(_) => Err(format!(
            "`{count}` in `{text}` is not a count; write a whole number from 1"
        )),
        Ok(n) => Ok(n),
    }
}

fn parse_period(period: &str, text: &str) -> Result<u32, String> {
    let period = period.trim();
    let split = period
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(period.len());
    let (number, unit) = period.split_at(split);
    let number: u32 = if number.is_empty() {
        1
    } else {
        number.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            format!("`{period}` in `{text}` is not a period; e.g. `m`, `15m`, `h`, `1d`")
        })?
    };
    let unit: u32 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "`{period}` in `{text}` is not a period; use s, m, h or d, optionally after a \
                 number (`15m`)"
            ));
        }
    };
    number
        .checked_mul(unit)
        .ok_or_else(|| format!("`{period}` in `{text}` is too long"))
}

impl std::str::FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.trim().split('/').collect();
        let [count, period, scope] = parts.as_slice() else {
            return Err(format!(
                "`{text}` is not a limit; write COUNT/PERIOD/SCOPE, e.g. `10/m/ip`"
            ));
        };
        let scope = match scope.trim() {
            "ip" => LimitScope::Ip,
            "key" => LimitScope::Key,
            "user" => LimitScope::User,
            "email" => LimitScope::Email,
            other => {
                return Err(format!(
                    "`{other}` in `{text}` is not a scope; use ip, key, user or email"
                ));
            }
        };
        Ok(RateLimit {
            count: parse_count(count, text)?,
            period: parse_period(period, text)?,
            scope,
            text: text.trim().to_owned(),
        })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `SECURITY_RATE_LIMITS`: the limits of each kind of request (none by default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// `login`: every credential-accepting POST (login, register, reset, confirm,
    /// passwordless, verify, unlock), counted per request before any work; scope `ip`.
    pub login: Vec<RateLimit>,
    /// `login_failed`: failed authentications (a wrong password, on every credential path);
    /// scopes `ip`, `key` (account and client) and `user` (account).
    pub login_failed: Vec<RateLimit>,
    /// `mail`: mails the flows send; scope `email` (the address it goes to).
    pub mail: Vec<RateLimit>,
}

impl RateLimits {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.login.is_empty() && self.login_failed.is_empty() && self.mail.is_empty()
    }

    /// Parses the JSON object (`{"login": "30/m/ip", "login_failed": "10/m/ip,5/15m/key"}`);
    /// `false` or an empty text sets none.
    ///
    /// # Errors
    /// Not an object of the three names to comma-separated limits, or a scope that the name
    /// does not count by.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("false") {
            return Ok(RateLimits::default());
        }
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| {
                format!(
                    "expected a JSON object such as {{\"login\": \"30/m/ip\", \"login_failed\": \
                     \"10/m/ip,5/15m/key\", \"mail\": \"5/h/email\"}}: {e}"
                )
            })?;
        let mut limits = RateLimits::default();
        for (name, value) in map {
            let list = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(false) | serde_json::Value::Null => continue,
                _ => return Err(format!("the limits of `{name}` must be a string")),
            };
            let (field, scopes): (&mut Vec<RateLimit>, &[LimitScope]) = match name.as_str() {
                "login" => (&mut limits.login, &[LimitScope::Ip]),
                "login_failed" => (
                    &mut limits.login_failed,
                    &[LimitScope::Ip, LimitScope::Key, LimitScope::User],
                ),
                "mail" => (&mut limits.mail, &[LimitScope::Email]),
                other => {
                    return Err(format!(
                        "`{other}` is not a limit name; use login, login_failed or mail"
                    ));
                }
            };
            for item in list.split(',').filter(|s| !s.trim().is_empty()) {
                let limit: RateLimit = item.parse()?;
                if !scopes.contains(&limit.scope) {
                    let allowed: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
                    return Err(format!(
                        "`{name}` counts by {}; `{}` is not one of them",
                        allowed.join(", "),
                        limit.scope.as_str()
                    ));
                }
                field.push(limit);
            }
        }
        Ok(limits)
    }
}

/// `SECURITY_UNLOCK_STRATEGY`: how a locked account is unlocked (besides a password reset and
/// the command line, which always unlock).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnlockStrategy {
    /// `email`: only by the link mailed when the account locks.
    Email,
    /// `time`: only when the lock time has passed.
    Time,
    /// `both`: whichever comes first. The default.
    #[default]
    Both,
}

impl UnlockStrategy {
    /// Whether the lock mails an unlock link.
    pub fn mails(self) -> bool {
        matches!(self, UnlockStrategy::Email | UnlockStrategy::Both)
    }

    /// Whether the lock ends by itself.
    pub fn expires(self) -> bool {
        matches!(self, UnlockStrategy::Time | UnlockStrategy::Both)
    }
}

impl std::str::FromStr for UnlockStrategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "email" => Ok(UnlockStrategy::Email),
            "time" => Ok(UnlockStrategy::Time),
            "both" => Ok(UnlockStrategy::Both),
            _ => Err(format!(
                "`{s}` is not an unlock strategy; use email, time or both"
            )),
        }
    }
}
