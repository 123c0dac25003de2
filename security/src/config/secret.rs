//! [`Secret`]: a configuration value that must not be shown (`SECRET_KEY`, the salts), so that
//! a [`Config`](super::Config) can be logged with `{:?}` as it is.

use std::fmt;

use subtle::ConstantTimeEq as _;

/// A secret text of the configuration. `Debug` and `Display` show `"<redacted>"` (an empty
/// secret shows as `""`, so that "set or not" stays visible); the value is only reached through
/// [`Secret::expose`] or [`Secret::as_bytes`], which makes every use easy to find. Two secrets
/// compare in constant time.
///
/// ```
/// use security::config::Secret;
///
/// let key = Secret::from("a long random value");
/// assert_eq!(format!("{key:?} {key}"), "\"<redacted>\" <redacted>");
/// assert_eq!(key.expose(), "a long random value");
/// assert_eq!(key, Secret::from("a long random value".to_owned()));
/// ```
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// The secret text itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret text's bytes (UTF-8), e.g. to key an HMAC.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether the secret is empty (not set).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The length of the secret in bytes: how long a key is may be said, its value not.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl PartialEq for Secret {
    /// Equal texts, compared in constant time (the lengths may show).
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&crate::redact::Redacted(Some(&self.0)), f)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            f.write_str("<redacted>")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn formats_redacted_and_compares_by_value() {
        let s = Secret::from("hunter2-hunter2");
        assert_eq!(format!("{s:?}"), "\"<redacted>\"");
        assert_eq!(s.to_string(), "<redacted>");
        assert_eq!(format!("{:?}", Secret::default()), "\"\"");
        assert_eq!(s, Secret::from("hunter2-hunter2"));
        assert_ne!(s, Secret::from("hunter2-hunter3"));
        assert_ne!(s, Secret::from("hunter2"));
        assert_eq!(
            (s.expose(), s.as_bytes().len(), s.len()),
            ("hunter2-hunter2", 15, 15)
        );
    }
}
