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
