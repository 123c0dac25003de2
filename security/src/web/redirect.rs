//! Safe redirect targets: Flask-Security 1.7.4's `validate_redirect_url` / `get_post_login_redirect`
//! (`flask_security/utils.py`) with its open-redirect weaknesses closed (an off-site `next`, a
//! forged `Host` header; CVE-2021-23385, CVE-2021-32618, CVE-2023-49438), plus Flask-Login
//! 0.2.11's `login_url` `next` parameter.
//!
//! 1.7.4 only compared the scheme-less network location with the request's `Host`, so
//! `/\evil.com`, `\\evil.com`, `///evil.com` and values with control characters passed and were
//! harmless only because Werkzeug made `Location` absolute. Here a `next` value is accepted only
//! when a browser cannot read it as another site, whatever it does with backslashes, blanks,
//! control characters and percent-encoding; and the `Location` is built absolute from a
//! configured base URL, not from the `Host` header.
//!
//! The `url` crate (WHATWG parsing, as browsers do) says where a value leads: a path must
//! resolve to this site, an absolute URL to the host and port its text names, without
//! userinfo. The character checks before it (blanks, controls, backslashes, encoded ones) and
//! the textual host comparison stay: the parser silently repairs what they refuse.
//!
//! ```
//! use security::redirect::{absolute_location, safe_next};
//!
//! let target = safe_next("/page1?a=b", &["localhost"]).unwrap();
//! assert_eq!(absolute_location("http://localhost", &target), "http://localhost/page1?a=b");
//! assert_eq!(safe_next("/\\evil.com", &["localhost"]), None);
//! ```

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// How many rounds of percent-decoding are inspected: a value still changing after that many
/// (`%25252525...`) is refused outright.
const MAX_DECODE_ROUNDS: usize = 4;

/// Werkzeug 0.9's `url_quote_plus` safe set, minus its `+` (which it left unencoded, so a `+`
/// in a `next` came back as a space): everything but `A-Z a-z 0-9 _ . -` is encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-');

/// Flask-Security's `validate_redirect_url`, made safe: `Some(cleaned)` when `next` may be used
/// as a redirect target on this site, `None` when it must be refused.
///
/// Accepted, returned as given except that non-ASCII characters are percent-encoded (UTF-8):
/// - a path starting with exactly one `/` (`/page1`, `/page1?a=b`, `/page1#frag`);
/// - a relative path such as `page1`, as 1.7.4 accepts it: it must start with an ASCII letter,
///   digit, `_`, `-` or `~`, and its first segment (up to `/`, `?` or `#`) must hold no `:` (so
///   it cannot be read as a scheme). [`absolute_location`] resolves it against the site root
///   (`http://host/page1`), which is where 1.7.4 sends it from `/login` and `/register`;
/// - an absolute `http`/`https` URL (scheme in any case) whose `host[:port]` equals one of
///   `allowed_hosts` (ASCII case-insensitively; the port must match textually, as in 1.7.4,
///   so `http://localhost:80/x` is not `localhost`), without userinfo.
///
/// Refused: the empty string; anything holding whitespace (ASCII or Unicode), an ASCII or
/// Unicode control character (tab, CR, LF, NUL, DEL, ...) or a backslash, anywhere — browsers
/// strip blanks and controls and read `\` as `/`; `//host`, `///host`, `/\host`; other schemes
/// (`javascript:`, `data:`, `ftp:`, `mailto:`, `https:host`, `http:/host`); `http:///host`;
/// other hosts; userinfo (`http://localhost@evil.com`); any value whose percent-decoding (up to
/// four rounds, `%252F` included) contains a control character or a backslash, or turns a path
/// into `//...`; and `.`/`..` segments in a path (raw or encoded), which normalisation could turn
/// into `//host`.
///
/// `allowed_hosts` must come from configuration (or a trusted `Host` allow-list), never from an
/// unchecked request header, and should be ASCII (punycode for international names).
pub fn safe_next(next: &str, allowed_hosts: &[&str]) -> Option<String> {
    if next.is_empty() || next.chars().any(is_forbidden_char) {
        return None;
    }
    let decodings = decodings(next)?;
    if decodings
        .iter()
        .any(|d| d.chars().any(|c| c.is_control() || c == '\\'))
    {
        return None;
    }
    // What a browser on this site makes of the value (WHATWG parsing: `\\` read as `/`, blanks
    // and controls stripped, percent-encoded hosts decoded), next to the textual checks.
    let site = url::Url::parse(SITE).ok()?;
    let resolved = site.join(next).ok()?;
    if let Some(rest) = strip_http_scheme(next) {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let on_site = !authority.is_empty()
            && !authority.contains('@')
            && resolved.username().is_empty()
            && resolved.password().is_none()
            && same_authority(&resolved, authority)
            && allowed_hosts
                .iter()
                .any(|host| !host.is_empty() && host.eq_ignore_ascii_case(authority));
        return on_site.then(|| header_safe(next));
    }
    if resolved.origin() != site.origin() {
        return None;
    }
    if let Some(after_slash) = next.strip_prefix('/') {
        // Exactly one leading slash, also once decoded (`/%2F/evil` → `//evil`).
        if after_slash.starts_with('/') || decodings.iter().any(|d| d.starts_with("//")) {
            return None;
        }
    } else {
        let first = next.chars().next()?;
        if !(first.is_ascii_alphanumeric() || matches!(first, '_' | '-' | '~')) {
            return None;
        }
        let first_segment_end = next.find(['/', '?', '#']).unwrap_or(next.len());
        if next[..first_segment_end].contains(':') {
            return None;
        }
    }
    if has_dot_segment(next) {
        return None;
    }
    Some(header_safe(next))
}

/// The base a path target is resolved against: a host that cannot be anyone's (`.invalid` is
/// reserved), so that a target resolving anywhere else leaves the site.
const SITE: &str = "http://site.invalid/";

/// Whether the URL parser reads the same host and port as `authority`, the text between
/// `scheme://` and the path (a port left out is the scheme's default).
fn same_authority(resolved: &url::Url, authority: &str) -> bool {
    let (host, port) = match authority.rfind(':') {
        Some(at) if !authority[at..].contains(']') => (&authority[..at], &authority[at + 1..]),
        _ => (authority, ""),
    };
    let port = if port.is_empty() {
        Some(if resolved.scheme() == "https" {
            443
        } else {
            80
        })
    } else {
        port.parse().ok()
    };
    resolved
        .host_str()
        .is_some_and(|parsed| parsed.eq_ignore_ascii_case(host))
        && resolved.port_or_known_default() == port
}

/// The `Location` value for a target accepted by [`safe_next`]: absolute, built from `base`
/// (scheme and authority of this site, e.g. `http://127.0.0.1:5000`, from configuration or
/// derived by the caller from a trusted source) when `target` is a path, resolving a relative
/// path against the site root; unchanged when `target` is already an absolute `http(s)` URL.
///
/// Characters that cannot appear in a header (controls, blanks, non-ASCII) are percent-encoded
/// as a last line of defence; a value from [`safe_next`] contains none.
///
/// ```
/// use security::redirect::absolute_location;
///
/// assert_eq!(absolute_location("http://localhost/", "/page1"), "http://localhost/page1");
/// assert_eq!(absolute_location("http://localhost", "page1"), "http://localhost/page1");
/// assert_eq!(absolute_location("http://localhost", "https://localhost/x"), "https://localhost/x");
/// ```
pub fn absolute_location(base: &str, target: &str) -> String {
    let target = header_safe(target);
    if strip_http_scheme(&target).is_some() {
        return target;
    }
    let base = base.trim_end_matches('/');
    if target.starts_with('/') {
        format!("{base}{target}")
    } else {
        format!("{base}/{target}")
    }
}

/// `login_required`'s redirect target: `login_url` with `next` set to the request's path and
/// query, percent-encoded as a query value, as Flask-Login does (`/profile?x=1&y=2` →
/// `next=%2Fprofile%3Fx%3D1%26y%3D2`). An existing query on `login_url` is kept (minus any
/// `next`) and, as Werkzeug's `url_encode(sort=True)` does, the parameters are sorted by name.
///
/// ```
/// use security::redirect::login_url_with_next;
///
/// assert_eq!(
///     login_url_with_next("/login", "/profile?x=1&y=2"),
///     "/login?next=%2Fprofile%3Fx%3D1%26y%3D2"
/// );
/// ```
pub fn login_url_with_next(login_url: &str, path_and_query: &str) -> String {
    let (without_fragment, fragment) = match login_url.split_once('#') {
        Some((url, fragment)) => (url, Some(fragment)),
        None => (login_url, None),
    };
    let (path, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let mut params: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("next"))
        .map(str::to_owned)
        .collect();
    params.push(format!(
        "next={}",
        utf8_percent_encode(path_and_query, QUERY_VALUE)
    ));
    params.sort_by(|a, b| {
        let key = |p: &String| p.split('=').next().unwrap_or("").to_owned();
        key(a).cmp(&key(b))
    });
    let mut url = format!("{path}?{}", params.join("&"));
    if let Some(fragment) = fragment {
        url.push('#');
        url.push_str(fragment);
    }
    url
}

/// Werkzeug 3's query-value encoding (`urlencode(.., safe="!$'()*,/:;?@")`), with which
/// Flask-Security 5.9 builds its redirects: `A-Z a-z 0-9 _ . - ~` and `!$'()*,/:;?@` stay, a
/// space becomes `+` (after this set encoded it as `%20`), the rest is percent-encoded.
const QUERY_VALUE_5_9: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b',')
    .remove(b'/')
    .remove(b':')
    .remove(b';')
    .remove(b'?')
    .remove(b'@');

/// Jinja's `urlencode` filter on a string (Python's `quote(.., safe="/")`), with which 5.9's
/// templates carry `?next=` into a form's `action`: `A-Z a-z 0-9 _ . - ~ /` stay.
const JINJA_URLENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

/// Flask-Security 5.9's redirect of a request whose authentication is not fresh enough:
/// `verify_url` with `next` set to the request's path and query, encoded as Werkzeug 3 encodes
/// a query value (5.9's `url_for_security("verify", next=..)`), so `/fresh` stays `/fresh`.
///
/// ```
/// use security::redirect::verify_url_with_next;
///
/// assert_eq!(verify_url_with_next("/verify", "/fresh"), "/verify?next=/fresh");
/// assert_eq!(
///     verify_url_with_next("/verify", "/a b?x=1&y=2"),
///     "/verify?next=/a+b?x%3D1%26y%3D2"
/// );
/// ```
pub fn verify_url_with_next(verify_url: &str, path_and_query: &str) -> String {
    let next = utf8_percent_encode(path_and_query, QUERY_VALUE_5_9)
        .to_string()
        .replace("%20", "+");
    format!("{verify_url}?next={next}")
}

/// A 5.9 form's `action`: `url`, then `?next=` with `next` as Jinja's `urlencode` writes it
/// (5.9's `prop_next()` macro), or `url` alone without a `next`.
pub(crate) fn action_with_next(url: &str, next: Option<&str>) -> String {
    match next {
        Some(next) => format!("{url}?next={}", utf8_percent_encode(next, JINJA_URLENCODE)),
        None => url.to_owned(),
    }
}

/// Characters refused anywhere in a raw `next`: whitespace and control characters (ASCII and
/// Unicode) and the backslash.
fn is_forbidden_char(c: char) -> bool {
    c.is_whitespace() || c.is_control() || c == '\\'
}

/// `Some(rest after "://")` for a value starting with `http://` or `https://` (any case).
fn strip_http_scheme(value: &str) -> Option<&str> {
    ["http://", "https://"].iter().find_map(|scheme| {
        value
            .get(..scheme.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(scheme))
            .map(|_| &value[scheme.len()..])
    })
}

/// The successive percent-decodings of `value` that differ from it (lossy UTF-8), or `None` when
/// it is still changing after [`MAX_DECODE_ROUNDS`].
fn decodings(value: &str) -> Option<Vec<String>> {
    let mut layers = Vec::new();
    let mut current = value.to_owned();
    for _ in 0..MAX_DECODE_ROUNDS {
        let next = percent_decode_str(&current)
            .decode_utf8_lossy()
            .into_owned();
        if next == current {
            return Some(layers);
        }
        layers.push(next.clone());
        current = next;
    }
    None
}

/// Whether the path part of `value` (before `?`/`#`), raw or percent-decoded, has a `.` or `..`
/// segment.
fn has_dot_segment(value: &str) -> bool {
    let path = &value[..value.find(['?', '#']).unwrap_or(value.len())];
    let dotted = |p: &str| {
        p.split('/')
            .any(|segment| segment == "." || segment == "..")
    };
    dotted(path) || decodings(path).is_none_or(|layers| layers.iter().any(|d| dotted(d)))
}

/// Percent-encodes (UTF-8, upper-case hex) every character that may not appear in a header
/// value or that a browser would strip or reinterpret: controls, blanks, `\` and non-ASCII.
fn header_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_ascii_graphic() && c != '\\' {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTS: &[&str] = &["localhost"];

    fn accepts(next: &str) {
        assert_eq!(
            safe_next(next, HOSTS).as_deref(),
            Some(next),
            "{next:?} should be accepted verbatim"
        );
    }

    fn refuses(next: &str, why: &str) {
        assert_eq!(
            safe_next(next, HOSTS),
            None,
            "{why}: {next:?} must be refused"
        );
    }

    #[test]
    fn spec_5_11_accepted() {
        for next in [
            "/page1",
            "/page1?a=b",
            "/page1#frag",
            "page1",
            "http://localhost/x",
            "https://localhost/x",
        ] {
            accepts(next);
        }
    }

    #[test]
    fn spec_5_11_refused() {
        refuses("http://google.com", "other host");
        refuses("https://evil.com/x", "other host");
        refuses("//google.com", "scheme-relative");
        refuses("http:///google.com", "malformed, empty host");
        refuses("javascript:alert(1)", "javascript scheme");
        refuses("ftp:x", "ftp scheme");
        refuses(
            "http://localhost:80/x",
            "port differs textually from the host",
        );
    }

    #[test]
    fn spec_5_11_accepted_by_1_7_4_but_refused_here() {
        refuses("/\\evil.com", "slash backslash (CVE-2021-23385)");
        refuses("\\\\evil.com", "double backslash");
        refuses("///evil.com", "triple slash");
        refuses("/\t/evil.com", "tab after the slash");
        refuses("\t//evil.com", "leading tab");
        refuses(" //evil.com", "leading space");
    }

    #[test]
    fn contract_no_redirect_leaves_the_site() {
        refuses("//host", "scheme-relative //host");
        refuses("///host", "///host");
        refuses("/\\host", "/\\host");
        refuses("\\\\host", "\\\\host");
        refuses("\\/host", "backslash slash (CVE-2023-49438)");
        refuses("https:host", "https:host without slashes");
        refuses("http:host", "http:host without slashes");
        refuses("http:/host", "http:/host with one slash");
        refuses(" /page1", "leading blank");
        refuses("\u{b}/page1", "leading vertical tab");
        refuses("\u{0}//evil.com", "leading NUL");
        refuses("\u{1f}//evil.com", "leading unit separator");
        refuses("/page1 ", "trailing blank");
        refuses("/\n/evil.com", "LF inside");
        refuses("/\r/evil.com", "CR inside");
        refuses("/page1\r\nSet-Cookie: x=1", "header injection");
        refuses("/pa\tge1", "tab inside");
        refuses("/page1\u{7f}", "DEL");
        refuses("/page1\u{85}", "C1 control NEL");
        refuses("\u{a0}//evil.com", "leading no-break space");
        refuses("\u{3000}//evil.com", "leading ideographic space");
        refuses("java\tscript:alert(1)", "tab inside a scheme");
        refuses("http://localhost@evil.com", "userinfo naming our host");
        refuses("http://localhost:pass@evil.com/", "userinfo with password");
        refuses("http://evil.com@localhost/", "any userinfo");
        refuses("https://localhost%2F@evil.com", "encoded slash in userinfo");
        refuses("http://localhost\\@evil.com", "backslash before userinfo");
        refuses("javascript:alert(1)", "javascript:");
        refuses("JaVaScRiPt:alert(1)", "javascript: in mixed case");
        refuses("data:text/html,<script>alert(1)</script>", "data:");
        refuses("vbscript:msgbox(1)", "vbscript:");
        refuses("mailto:a@evil.com", "mailto:");
        refuses("ftp://localhost/x", "ftp on our own host");
        refuses("HTTP://evil.com/", "upper-case scheme, other host");
    }

    #[test]
    fn percent_encoded_tricks() {
        refuses("/%2F/evil.com", "encoded second slash");
        refuses("/%2fevil.com", "encoded second slash, lower case");
        refuses("/%5Cevil.com", "encoded backslash");
        refuses("/%5cevil.com", "encoded backslash, lower case");
        refuses("/page%5Cx", "encoded backslash inside");
        refuses("/%252F/evil.com", "double-encoded slash");
        refuses("/%25252F/evil.com", "triple-encoded slash");
        refuses("/%2525252525252F/evil.com", "encoding that never settles");
        refuses("/%09/evil.com", "encoded tab");
        refuses("/page1%0D%0ASet-Cookie:x", "encoded CRLF");
        refuses("/page1?x=%00", "encoded NUL in the query");
        refuses("%2F%2Fevil.com", "fully encoded scheme-relative");
        refuses("%5C%5Cevil.com", "fully encoded backslashes");
        refuses("/..//evil.com", "dot segment that normalises to //");
        refuses("/a/../..//evil.com", "nested dot segments");
        refuses("/%2e%2e//evil.com", "encoded dot segment");
        refuses("/./", "single dot segment");
        refuses("../page1", "relative parent");
        refuses("./page1", "relative current");
        refuses(".", "lone dot");
        refuses("?next=x", "bare query (no path)");
        refuses("#frag", "bare fragment (no path)");
        refuses("", "empty");
    }

    #[test]
    fn hosts_and_ports() {
        refuses(
            "https://localhost.evil.com/x",
            "host with our name as prefix",
        );
        refuses("https://evil.com#@localhost", "our host in the fragment");
        refuses("https://evil.com?@localhost", "our host in the query");
        refuses("https://evil.com/localhost", "our host in the path");
        refuses("http://localhost./x", "trailing dot");
        refuses("http://local%68ost/x", "encoded host");
        refuses("http://localhost:5000/x", "other port");
        accepts("HTTPS://LOCALHOST/x");
        accepts("http://localhost");
        accepts("http://localhost?x=1");
        accepts("http://localhost#top");
        let hosts = ["127.0.0.1:5000", "example.org"];
        assert_eq!(
            safe_next("http://127.0.0.1:5000/x", &hosts).as_deref(),
            Some("http://127.0.0.1:5000/x")
        );
        assert_eq!(
            safe_next("https://example.org//x", &hosts).as_deref(),
            Some("https://example.org//x"),
            "// in the path of an absolute on-site URL stays on the site"
        );
        assert_eq!(safe_next("http://127.0.0.1/x", &hosts), None);
        assert_eq!(
            safe_next("http://localhost/x", &[]),
            None,
            "no host allowed"
        );
        assert_eq!(
            safe_next("http://localhost/x", &[""]),
            None,
            "empty host entry"
        );
        assert_eq!(
            safe_next("/page1", &[]).as_deref(),
            Some("/page1"),
            "paths need no host"
        );
    }

    #[test]
    fn ordinary_targets_are_kept() {
        for next in [
            "/",
            "/profile?x=1&y=2",
            "/search?q=a%20b&page=2",
            "/users/@me",
            "/a/b/c.html",
            "/page1?next=http://evil.com",
            "/page1?url=//evil.com",
            "page1/sub?a=b",
            "page1/a:b",
            "_page",
            "~user",
            "/a:b",
            "/%7Euser",
        ] {
            accepts(next);
        }
        refuses(
            "page1:x",
            "colon in the first relative segment (read as a scheme)",
        );
        refuses(
            "p_1:x",
            "colon in the first relative segment, non-scheme characters",
        );
    }

    #[test]
    fn non_ascii_is_percent_encoded() {
        assert_eq!(safe_next("/café", HOSTS).as_deref(), Some("/caf%C3%A9"));
        // Fullwidth solidus after the slash: a path on this site, encoded.
        assert_eq!(
            safe_next("/\u{ff0f}evil.com", HOSTS).as_deref(),
            Some("/%EF%BC%8Fevil.com")
        );
        refuses(
            "\u{ff0f}\u{ff0f}evil.com",
            "fullwidth solidi without a path",
        );
    }

    #[test]
    fn absolute_location_builds_from_base() {
        assert_eq!(
            absolute_location("http://localhost", "/page1"),
            "http://localhost/page1"
        );
        assert_eq!(
            absolute_location("http://127.0.0.1:5000/", "/page1?a=b#c"),
            "http://127.0.0.1:5000/page1?a=b#c"
        );
        assert_eq!(
            absolute_location("http://localhost", "page1"),
            "http://localhost/page1"
        );
        assert_eq!(
            absolute_location("http://localhost", "http://localhost/x"),
            "http://localhost/x"
        );
        assert_eq!(
            absolute_location("http://localhost", "HTTPS://localhost/x"),
            "HTTPS://localhost/x"
        );
        // Defence in depth: an unvalidated value still cannot leave the base's host.
        assert_eq!(
            absolute_location("http://localhost", "//evil.com"),
            "http://localhost//evil.com"
        );
        assert_eq!(
            absolute_location("http://localhost", "/\t/evil.com"),
            "http://localhost/%09/evil.com"
        );
        assert_eq!(
            absolute_location("http://localhost", "/\\evil.com"),
            "http://localhost/%5Cevil.com"
        );
    }

    #[test]
    fn every_accepted_target_stays_on_site() {
        let candidates = [
            "/page1",
            "page1",
            "/a?b=c",
            "http://localhost/x",
            "/café",
            "/users/@me",
        ];
        for next in candidates {
            let target = safe_next(next, HOSTS).unwrap();
            let location = absolute_location("http://localhost", &target);
            let rest = location
                .strip_prefix("http://localhost")
                .or_else(|| location.strip_prefix("https://localhost"))
                .unwrap_or_else(|| panic!("{next:?} → {location}"));
            assert!(
                rest.is_empty() || rest.starts_with(['/', '?', '#']),
                "{next:?} → {location}"
            );
            assert!(location.bytes().all(|b| b.is_ascii_graphic()), "{location}");
        }
    }

    #[test]
    fn login_url_next_is_encoded_like_flask_login() {
        assert_eq!(
            login_url_with_next("/login", "/profile"),
            "/login?next=%2Fprofile"
        );
        assert_eq!(
            login_url_with_next("/login", "/profile?x=1&y=2"),
            "/login?next=%2Fprofile%3Fx%3D1%26y%3D2"
        );
        assert_eq!(
            login_url_with_next("/login", "/a b+c~é"),
            "/login?next=%2Fa%20b%2Bc%7E%C3%A9"
        );
        assert_eq!(
            login_url_with_next("http://localhost/login?z=1&next=old&a=2", "/p"),
            "http://localhost/login?a=2&next=%2Fp&z=1"
        );
        assert_eq!(
            login_url_with_next("/login#top", "/p_q.r-s"),
            "/login?next=%2Fp_q.r-s#top"
        );
    }

    #[test]
    fn five_nine_encodes_next_as_werkzeug_and_jinja_do() {
        assert_eq!(
            verify_url_with_next("/auth/verify", "/x/é%20?q=a+b&r=~"),
            "/auth/verify?next=/x/%C3%A9%2520?q%3Da%2Bb%26r%3D~"
        );
        assert_eq!(
            action_with_next("/verify", Some("/fresh?a=1")),
            "/verify?next=/fresh%3Fa%3D1"
        );
        assert_eq!(action_with_next("/verify", None), "/verify");
    }
}
