//! What the runtime reads off a request: the client address (`X-Forwarded-For` only from
//! trusted proxies, since a client can forge it), the host for links and redirects (never the
//! `Host` header alone, which a client can forge), and whether the client speaks JSON.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::header::{ACCEPT, CONTENT_TYPE, HOST};
use http::request::Parts;

use crate::config::Config;

/// The address stored by login tracking: the socket peer; with `SECURITY_TRUSTED_PROXIES`
/// = n > 0, the n-th address from the right of `X-Forwarded-For` (what the nearest trusted
/// proxy saw), if it parses as an IP address. `"untrackable"` when none is known, as in 1.7.4.
pub fn client_ip(parts: &Parts, trusted_proxies: u8) -> String {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if trusted_proxies > 0 {
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        let n = usize::from(trusted_proxies);
        if forwarded.len() >= n
            && let Ok(ip) = forwarded[forwarded.len() - n].parse::<IpAddr>()
        {
            return ip.to_string();
        }
    }
    peer.map(|ip| ip.to_string())
        .unwrap_or_else(|| "untrackable".to_owned())
}

/// The request's `Host` header.
pub(crate) fn host(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
}

/// Whether a `host[:port]` names this machine (`localhost`, `127.0.0.1`, `[::1]`).
pub(crate) fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The hosts this site answers for, for absolute `next` URLs: `SECURITY_ALLOWED_HOSTS` and
/// `SERVER_NAME`; when neither is set, the request's own `Host` only if it is a loopback
/// address (development). A spoofed `Host` is never trusted.
pub(crate) fn trusted_hosts(config: &Config, parts: &Parts) -> Vec<String> {
    let mut hosts: Vec<String> = config.allowed_hosts.clone();
    if let Some(name) = &config.server_name {
        hosts.push(name.clone());
    }
    if hosts.is_empty()
        && let Some(host) = host(parts)
        && is_loopback(host)
    {
        hosts.push(host.to_owned());
    }
    hosts
}

/// The scheme and host that links in mail start with (`http://127.0.0.1:5000`): `SERVER_NAME`
/// when set; else the request's `Host` when it is one of `SECURITY_ALLOWED_HOSTS`; else the
/// first allowed host. Never a `Host` the configuration does not name (1.7.4 took any, so a
/// forged `Host` sent a victim's reset link to the forger's site); `Config::validate` refuses
/// to start features that mail links without one of the two settings.
pub(crate) fn link_base(config: &Config, parts: &Parts) -> String {
    let scheme = if config.trusted_proxies > 0 {
        parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .filter(|v| *v == "https" || *v == "http")
            .unwrap_or(&config.preferred_url_scheme)
            .to_owned()
    } else {
        config.preferred_url_scheme.clone()
    };
    if let Some(name) = &config.server_name {
        return format!("{scheme}://{name}");
    }
    let request_host = host(parts).filter(|h| !h.is_empty() && !h.contains(['/', '\\', '@', ' ']));
    let host = match request_host {
        Some(h)
            if config
                .allowed_hosts
                .iter()
                .any(|a| a.eq_ignore_ascii_case(h)) =>
        {
            h.to_owned()
        }
        _ => config
            .allowed_hosts
            .first()
            .cloned()
            .unwrap_or_else(|| "localhost".to_owned()),
    };
    format!("{scheme}://{host}")
}

/// Reads a request body of at most `limit` bytes; a longer one is answered 413, an unreadable
/// one 400, in the client's format.
pub(crate) async fn read_body(
    body: axum::body::Body,
    limit: usize,
    json: bool,
) -> Result<bytes::Bytes, axum::response::Response> {
    use http_body_util::BodyExt;
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) => {
            let status = if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                http::StatusCode::PAYLOAD_TOO_LARGE
            } else {
                http::StatusCode::BAD_REQUEST
            };
            Err(crate::web::response::bad_request(
                status,
                "The request body could not be read",
                json,
                true,
            ))
        }
    }
}

/// Whether the request body is JSON (`Content-Type: application/json`, parameters allowed).
pub(crate) fn has_json_body(parts: &Parts) -> bool {
    parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether the request body is a urlencoded form (or has no declared type, as a bare form
/// post).
pub(crate) fn is_form(parts: &Parts) -> bool {
    parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
}

/// Whether the client wants a JSON answer: a JSON body, or an `Accept` that names JSON and
/// not HTML.
pub(crate) fn wants_json(parts: &Parts) -> bool {
    if has_json_body(parts) {
        return true;
    }
    let accept = parts
        .headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut req = Request::builder().uri("/x");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(()).unwrap().into_parts().0
    }

    #[test]
    fn forwarded_for_is_ignored_unless_proxies_are_trusted() {
        let mut p = parts(&[("x-forwarded-for", "1.1.1.1, 2.2.2.2")]);
        p.extensions
            .insert(ConnectInfo("10.0.0.1:1234".parse::<SocketAddr>().unwrap()));
        assert_eq!(client_ip(&p, 0), "10.0.0.1");
        assert_eq!(client_ip(&p, 1), "2.2.2.2");
        assert_eq!(client_ip(&p, 2), "1.1.1.1");
        assert_eq!(client_ip(&p, 3), "10.0.0.1");
        let bogus = parts(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(client_ip(&bogus, 1), "untrackable");
    }

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "127.0.0.1:5000", "[::1]:80", "LOCALHOST:1"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["evil.com", "127.0.0.1.evil.com", "10.0.0.1"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn spoofed_host_is_not_trusted_for_redirects() {
        let config = Config::default();
        assert!(trusted_hosts(&config, &parts(&[("host", "evil.com")])).is_empty());
        assert_eq!(
            trusted_hosts(&config, &parts(&[("host", "127.0.0.1:5000")])),
            ["127.0.0.1:5000"]
        );
    }

    #[test]
    fn json_detection() {
        assert!(has_json_body(&parts(&[(
            "content-type",
            "application/json; charset=utf-8"
        )])));
        assert!(!has_json_body(&parts(&[(
            "content-type",
            "application/x-www-form-urlencoded"
        )])));
        assert!(wants_json(&parts(&[("accept", "application/json")])));
        assert!(!wants_json(&parts(&[(
            "accept",
            "text/html,application/json"
        )])));
    }

    #[test]
    fn links_never_name_a_host_the_configuration_does_not() {
        let config = Config {
            allowed_hosts: vec!["app.example.com".into(), "www.example.com".into()],
            ..Config::default()
        };
        let base = |host: &str| link_base(&config, &parts(&[("host", host)]));
        assert_eq!(base("www.example.com"), "http://www.example.com");
        assert_eq!(base("WWW.EXAMPLE.COM"), "http://WWW.EXAMPLE.COM");
        for forged in [
            "evil.example",
            "app.example.com.evil.example",
            "evil/x",
            "a@b",
        ] {
            assert_eq!(base(forged), "http://app.example.com", "{forged}");
        }
        let named = Config {
            server_name: Some("example.com".into()),
            preferred_url_scheme: "https".into(),
            ..config
        };
        assert_eq!(
            link_base(&named, &parts(&[("host", "www.example.com")])),
            "https://example.com"
        );
    }
}
