//! How secrets look in `Debug` output: never their value. Every type of the crate that holds
//! a password, a hash, a token, a link that logs in, a CSRF secret or a cookie formats it as
//! `"<redacted>"` (a test formats each one and looks for the secret).

use std::fmt;

/// Formats as `"<redacted>"` when a value is present (`None` and empty values as such, so that
/// "set or not" stays visible).
pub(crate) struct Redacted<'a>(pub Option<&'a str>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) if !s.is_empty() => f.write_str("\"<redacted>\""),
            Some(_) => f.write_str("\"\""),
            None => f.write_str("None"),
        }
    }
}
