//! The value types and converters of the session and token keys (sign out everywhere, refresh
//! tokens: Flask-Security 5.9's `SECURITY_REFRESH_TOKEN_*`), and their paths.

use super::load::Raw;
use super::{Config, SameSite};

/// `SECURITY_REFRESH_TOKEN_COOKIE`: the attributes of the refresh-token cookie (5.9's
/// `{"samesite": "Strict", "httponly": True, "secure": True}` by default).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshTokenCookie {
    /// `samesite`, default `Strict`.
    pub samesite: SameSite,
    /// `httponly`, default `true`.
    pub httponly: bool,
    /// `secure`, default `true`.
    pub secure: bool,
}

impl Default for RefreshTokenCookie {
    fn default() -> Self {
        RefreshTokenCookie {
            samesite: SameSite::Strict,
            httponly: true,
            secure: true,
        }
    }
}

/// `SECURITY_REFRESH_TOKEN_COOKIE`: a JSON object with any of `samesite` (`Lax`, `Strict`,
/// `None`), `httponly` and `secure` (booleans); the keys left out keep 5.9's defaults.
pub(super) fn refresh_cookie(raw: Raw<'_>) -> Result<RefreshTokenCookie, String> {
    let Raw::Text(text) = raw else {
        return Err(
            "expected a JSON object such as {\"samesite\": \"Strict\", \"httponly\": true, \"secure\": true}"
                .into(),
        );
    };
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| format!("expected a JSON object of cookie attributes: {e}"))?;
    let mut cookie = RefreshTokenCookie::default();
    for (name, value) in map {
        match (name.to_ascii_lowercase().as_str(), value) {
            ("samesite", serde_json::Value::String(s)) => cookie.samesite = s.parse()?,
            ("httponly", serde_json::Value::Bool(b)) => cookie.httponly = b,
            ("secure", serde_json::Value::Bool(b)) => cookie.secure = b,
            (other, _) => {
                return Err(format!(
                    "`{other}` is not one of samesite (text), httponly, secure (booleans)"
                ));
            }
        }
    }
    Ok(cookie)
}

/// `SECURITY_REFRESH_TOKEN_COOKIE_NAME`: a cookie name, or `none` (the token travels in the
/// JSON body).
pub(super) fn cookie_name(raw: Raw<'_>) -> Result<Option<String>, String> {
    match raw {
        Raw::Text(s) if s.trim().eq_ignore_ascii_case("none") => Ok(None),
        Raw::Text(s) => {
            let s = s.trim();
            if s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
            {
                return Err(format!("`{s}` is not a cookie name"));
            }
            Ok(Some(s.to_owned()))
        }
        _ => Err("expected a cookie name or none".into()),
    }
}

impl Config {
    /// The full path of the sign-out-everywhere view: `url_prefix` +
    /// `sign_out_everywhere_url`.
    pub fn sign_out_everywhere_path(&self) -> String {
        self.prefixed(&self.sign_out_everywhere_url)
    }

    /// The full path of the refresh-token view: `url_prefix` + `refresh_token_url`.
    pub fn refresh_token_path(&self) -> String {
        self.prefixed(&self.refresh_token_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_attributes_default_to_5_9s_and_read_json() {
        let c = refresh_cookie(Raw::Text(r#"{"samesite": "Lax", "secure": false}"#)).unwrap();
        assert_eq!(c.samesite, SameSite::Lax);
        assert!(c.httponly);
        assert!(!c.secure);
        assert!(refresh_cookie(Raw::Text(r#"{"path": "/"}"#)).is_err());
        assert!(refresh_cookie(Raw::Text("Lax")).is_err());
    }

    #[test]
    fn the_cookie_name_may_be_none() {
        assert_eq!(cookie_name(Raw::Text("none")).unwrap(), None);
        assert_eq!(
            cookie_name(Raw::Text("fs_refresh")).unwrap().as_deref(),
            Some("fs_refresh")
        );
        assert!(cookie_name(Raw::Text("a b")).is_err());
    }
}
