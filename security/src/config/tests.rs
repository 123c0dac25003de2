//! Unit tests of loading, defaults and validation.

use std::fmt;

use super::keys::KEYS;
use super::load::{Raw, edit_distance, suggest};
use super::*;
use crate::messages::{MessageKey, Messages};
use crate::password::Scheme;

/// Scheme names as a list of schemes.
fn schemes(names: &[&str]) -> Vec<Scheme> {
    names
        .iter()
        .map(|n| Scheme::from_name(n).unwrap())
        .collect()
}

fn vars(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_vars(pairs.iter().copied())
}

fn valid() -> Config {
    Config {
        secret_key: "a secret key that is long enough".into(),
        ..Config::default()
    }
}

fn invalid_key(result: Result<impl fmt::Debug, ConfigError>) -> (String, String) {
    match result {
        Err(ConfigError::Invalid { key, reason }) => (key, reason),
        other => panic!("expected ConfigError::Invalid, got {other:?}"),
    }
}

// --- the key table ---

#[test]
fn key_table_names_match_fields_and_are_unique() {
    for (i, key) in KEYS.iter().enumerate() {
        if let Some(rest) = key.name.strip_prefix("SECURITY_") {
            assert_eq!(rest.to_ascii_lowercase(), key.field, "{}", key.name);
        }
        assert!(
            KEYS[..i]
                .iter()
                .all(|k| k.name != key.name && k.field != key.field),
            "{} twice",
            key.name
        );
    }
}

#[test]
fn every_key_sets_its_field_and_an_empty_value_resets_it() {
    for key in KEYS {
        let changed = [
            "true",
            "false",
            "/x",
            "7 seconds",
            "Strict",
            "7",
            "2",
            "zxcvbn",
            "NFC",
            "POST",
            "bcrypt",
            r#"{"X-A": "b"}"#,
            r#"{"login": "1/m/ip"}"#,
            "1/h",
            "time",
            "memory",
            r#"{"samesite": "Lax"}"#,
            "low",
        ]
        .into_iter()
        .find_map(|value| {
            let mut c = Config::default();
            (key.set)(&mut c, Raw::Text(value)).ok()?;
            (c != Config::default()).then_some(c)
        });
        let Some(mut c) = changed else {
            panic!("no sample value changes `{}`", key.name)
        };
        (key.reset)(&mut c);
        assert_eq!(c, Config::default(), "{}", key.name);
    }
}

#[test]
fn non_prefixed_keys_map_to_their_fields() {
    let expected = [
        ("SECRET_KEY", "secret_key"),
        ("LOGIN_DISABLED", "login_disabled"),
        ("WTF_CSRF_ENABLED", "csrf_enabled"),
        ("WTF_CSRF_TIME_LIMIT", "csrf_time_limit"),
        ("REMEMBER_COOKIE_NAME", "remember_cookie_name"),
        ("REMEMBER_COOKIE_DURATION", "remember_cookie_duration"),
        ("REMEMBER_COOKIE_DOMAIN", "remember_cookie_domain"),
        ("REMEMBER_COOKIE_SECURE", "remember_cookie_secure"),
        ("REMEMBER_COOKIE_HTTPONLY", "remember_cookie_httponly"),
        ("SESSION_COOKIE_NAME", "session_cookie_name"),
        ("SESSION_COOKIE_DOMAIN", "session_cookie_domain"),
        ("SESSION_COOKIE_SECURE", "session_cookie_secure"),
        ("SESSION_COOKIE_HTTPONLY", "session_cookie_httponly"),
        ("SESSION_COOKIE_SAMESITE", "session_cookie_samesite"),
        ("PERMANENT_SESSION_LIFETIME", "permanent_session_lifetime"),
        ("SERVER_NAME", "server_name"),
        ("PREFERRED_URL_SCHEME", "preferred_url_scheme"),
    ];
    let non_prefixed: Vec<_> = KEYS
        .iter()
        .filter(|k| !k.name.starts_with("SECURITY_"))
        .map(|k| (k.name, k.field))
        .collect();
    assert_eq!(non_prefixed, expected);
}

// --- defaults ---

#[test]
fn core_defaults() {
    let c = Config::default();
    assert_eq!(c.secret_key, Secret::default());
    assert_eq!(c.blueprint_name, "security");
    assert_eq!(c.url_prefix, None);
    assert_eq!(c.subdomain, None);
    assert!(c.flash_messages);
    assert_eq!(c.password_hash, Scheme::Argon2);
    assert_eq!(c.password_salt, None);
    assert_eq!(
        c.password_schemes,
        schemes(&[
            "argon2",
            "bcrypt",
            "des_crypt",
            "pbkdf2_sha256",
            "pbkdf2_sha512",
            "sha256_crypt",
            "sha512_crypt",
            "plaintext"
        ])
    );
    assert_eq!(c.deprecated_password_schemes, ["auto"]);
    assert_eq!(c.email_sender, "no-reply@localhost");
    assert_eq!(c.token_authentication_key, "auth_token");
    assert_eq!(c.token_authentication_header, "Authentication-Token");
    assert_eq!(c.default_http_auth_realm, "Login Required");
    assert_eq!(c.user_identity_attributes, ["email"]);
}

#[test]
fn url_and_view_defaults() {
    let c = Config::default();
    assert_eq!(
        [
            &c.login_url,
            &c.logout_url,
            &c.register_url,
            &c.reset_url,
            &c.change_url,
            &c.confirm_url
        ],
        [
            "/login",
            "/logout",
            "/register",
            "/reset",
            "/change",
            "/confirm"
        ]
    );
    assert_eq!(c.post_login_view, "/");
    assert_eq!(c.post_logout_view, "/");
    assert_eq!(
        [
            &c.confirm_error_view,
            &c.post_register_view,
            &c.post_confirm_view,
            &c.post_reset_view,
            &c.post_change_view,
            &c.unauthorized_view
        ],
        [&None::<String>; 6]
    );
}

#[test]
fn template_defaults() {
    let c = Config::default();
    assert_eq!(c.forgot_password_template, "security/forgot_password.html");
    assert_eq!(c.login_user_template, "security/login_user.html");
    assert_eq!(c.register_user_template, "security/register_user.html");
    assert_eq!(c.reset_password_template, "security/reset_password.html");
    assert_eq!(c.change_password_template, "security/change_password.html");
    assert_eq!(
        c.send_confirmation_template,
        "security/send_confirmation.html"
    );
    assert_eq!(c.send_login_template, "security/send_login.html");
}

#[test]
fn feature_flags_default_off() {
    let c = Config::default();
    assert!(
        !(c.confirmable
            || c.registerable
            || c.recoverable
            || c.trackable
            || c.passwordless
            || c.changeable)
    );
}

#[test]
fn email_defaults() {
    let c = Config::default();
    assert_eq!(c.email_subject_register, "Welcome");
    assert_eq!(c.email_subject_confirm, "Please confirm your email");
    assert_eq!(c.email_subject_passwordless, "Login instructions");
    assert_eq!(
        c.email_subject_password_notice,
        "Your password has been reset"
    );
    assert_eq!(
        c.email_subject_password_change_notice,
        "Your password has been changed"
    );
    assert_eq!(
        c.email_subject_password_reset,
        "Password reset instructions"
    );
    assert!(c.send_register_email);
    assert!(c.send_password_change_email);
    assert!(c.send_password_reset_notice_email);
}

#[test]
fn token_and_lifetime_defaults() {
    let c = Config::default();
    assert_eq!(c.confirm_email_within, Within::parse("5 days").unwrap());
    assert_eq!(c.reset_password_within, Within::parse("5 days").unwrap());
    assert_eq!(c.login_within, Within::parse("1 days").unwrap());
    assert!(!c.login_without_confirmation);
    assert_eq!(c.confirm_salt.expose(), "confirm-salt");
    assert_eq!(c.reset_salt.expose(), "reset-salt");
    assert_eq!(c.login_salt.expose(), "login-salt");
    assert_eq!(c.remember_salt.expose(), "remember-salt");
    assert_eq!(c.change_salt.expose(), "change-salt");
    assert!(!c.default_remember_me);
    assert_eq!(c.token_max_age, None);
    assert_eq!(c.messages, Messages::default());
}

#[test]
fn non_security_and_port_defaults() {
    let c = Config::default();
    assert!(!c.login_disabled);
    assert!(c.csrf_enabled);
    assert_eq!(c.csrf_time_limit, Some(3600));
    assert_eq!(c.remember_cookie_name, "remember_token");
    assert_eq!(
        c.remember_cookie_duration,
        Within::parse("365 days").unwrap()
    );
    assert_eq!(c.remember_cookie_domain, None);
    assert_eq!(c.remember_cookie_secure, None);
    assert!(!c.remember_cookie_is_secure());
    assert!(c.remember_cookie_httponly);
    assert_eq!(c.session_cookie_name, "session");
    assert_eq!(c.session_cookie_domain, None);
    assert!(!c.session_cookie_secure);
    assert!(c.session_cookie_httponly);
    assert_eq!(c.session_cookie_samesite, SameSite::Lax);
    assert_eq!(
        c.permanent_session_lifetime,
        Within::parse("31 days").unwrap()
    );
    assert_eq!(c.server_name, None);
    assert!(!c.json_http_status_codes);
    assert!(!c.return_generic_responses);
    assert_eq!(c.trusted_proxies, 0);
    assert_eq!(c.identity_cache_ttl, None);
    assert!(c.allowed_hosts.is_empty());
    assert!(c.token_in_query);
    assert_eq!(c.max_body_size, 2_097_152);
}

// --- Within ---

#[test]
fn within_parses_1_7_4_durations() {
    let w = Within::parse("5 days").unwrap();
    assert_eq!((w.seconds(), w.text()), (432_000, "5 days"));
    assert_eq!(Within::parse("10 minutes").unwrap().seconds(), 600);
    assert_eq!(Within::parse("2 hours").unwrap().seconds(), 7200);
    assert_eq!(Within::parse("1 weeks").unwrap().seconds(), 604_800);
    assert_eq!(Within::parse("1 seconds").unwrap().seconds(), 1);
    assert_eq!(Within::parse("2500 milliseconds").unwrap().seconds(), 2);
    assert_eq!(Within::parse("3000000 microseconds").unwrap().seconds(), 3);
    let ms = Within::parse("1 milliseconds").unwrap();
    assert_eq!((ms.seconds(), ms.text()), (0, "1 milliseconds"));
    // Python's split(): any whitespace; the text is kept verbatim.
    let spaced = Within::parse(" 3  hours ").unwrap();
    assert_eq!((spaced.seconds(), spaced.text()), (10_800, " 3  hours "));
    assert_eq!(spaced.to_string(), " 3  hours ");
}

#[test]
fn within_accepts_singular_units() {
    assert_eq!(Within::parse("1 day").unwrap().seconds(), 86_400);
    assert_eq!(Within::parse("1 Hour").unwrap().seconds(), 3600);
    assert_eq!(Within::parse("1 day").unwrap().text(), "1 day");
}

#[test]
fn within_refuses_malformed_text() {
    for bad in [
        "bogus",
        "5 fortnights",
        "",
        "5",
        "days",
        "5 days ago",
        "-5 days",
        "1.5 days",
        "five days",
        "999999999999 weeks",
    ] {
        assert!(Within::parse(bad).is_err(), "{bad:?} accepted");
    }
    assert!(
        Within::parse("5 fortnights")
            .unwrap_err()
            .contains("fortnights")
    );
    assert!(Within::parse("999999999 days").is_ok());
    assert!(Within::parse("1000000000 days").is_err());
}

#[test]
fn within_from_seconds() {
    let w = Within::from_seconds(90);
    assert_eq!((w.seconds(), w.text()), (90, "90 seconds"));
    assert_eq!(Within::parse("90 seconds").unwrap(), w);
}

// --- from_vars ---

#[test]
fn from_vars_with_nothing_is_the_default() {
    let empty: [(&str, &str); 0] = [];
    assert_eq!(Config::from_vars(empty).unwrap(), Config::default());
}

#[test]
fn from_vars_reads_every_type() {
    let c = vars(&[
        ("SECRET_KEY", "s3cr3t-0123456789abcdef"),
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_REGISTERABLE", "YES"),
        ("SECURITY_FLASH_MESSAGES", "0"),
        ("SECURITY_LOGIN_URL", "/signin"),
        ("SECURITY_URL_PREFIX", "/auth"),
        ("SECURITY_POST_REGISTER_VIEW", "/post_register"),
        ("SECURITY_USER_IDENTITY_ATTRIBUTES", " email , username,, "),
        ("SECURITY_CONFIRM_EMAIL_WITHIN", "1 seconds"),
        ("SECURITY_TOKEN_MAX_AGE", "3600"),
        ("SECURITY_IDENTITY_CACHE_TTL", "5 seconds"),
        ("SECURITY_TRUSTED_PROXIES", "1"),
        ("SECURITY_MAX_BODY_SIZE", "1024"),
        ("SESSION_COOKIE_SAMESITE", "strict"),
        ("PERMANENT_SESSION_LIFETIME", "7200"),
        ("REMEMBER_COOKIE_DURATION", "30 days"),
        ("WTF_CSRF_TIME_LIMIT", "none"),
        ("WTF_CSRF_ENABLED", "false"),
        ("SERVER_NAME", "example.com"),
        (
            "SECURITY_ALLOWED_HOSTS",
            "example.com, api.example.com:8443",
        ),
    ])
    .unwrap();
    assert_eq!(c.secret_key.expose(), "s3cr3t-0123456789abcdef");
    assert!(c.confirmable && c.registerable && !c.flash_messages);
    assert_eq!(c.login_url, "/signin");
    assert_eq!(c.login_path(), "/auth/signin");
    assert_eq!(c.post_register_view.as_deref(), Some("/post_register"));
    assert_eq!(c.user_identity_attributes, ["email", "username"]);
    assert_eq!(c.confirm_email_within.seconds(), 1);
    assert_eq!(c.confirm_email_within.text(), "1 seconds");
    assert_eq!(c.token_max_age, Some(Within::from_seconds(3600)));
    assert_eq!(c.identity_cache_ttl.as_ref().map(Within::seconds), Some(5));
    assert_eq!(c.trusted_proxies, 1);
    assert_eq!(c.max_body_size, 1024);
    assert_eq!(c.session_cookie_samesite, SameSite::Strict);
    assert_eq!(c.permanent_session_lifetime.seconds(), 7200);
    assert_eq!(c.remember_cookie_duration.seconds(), 30 * 86_400);
    assert_eq!(c.csrf_time_limit, None);
    assert!(!c.csrf_enabled);
    assert_eq!(c.server_name.as_deref(), Some("example.com"));
    assert_eq!(c.allowed_hosts, ["example.com", "api.example.com:8443"]);
    c.validate().unwrap();
}

#[test]
fn booleans_accept_the_usual_spellings() {
    for (text, expected) in [
        ("true", true),
        ("TRUE", true),
        ("True", true),
        ("1", true),
        ("yes", true),
        (" Yes ", true),
        ("false", false),
        ("False", false),
        ("0", false),
        ("no", false),
        ("NO", false),
    ] {
        let c = vars(&[("SECURITY_TRACKABLE", text)]).unwrap();
        assert_eq!(c.trackable, expected, "{text:?}");
    }
}

#[test]
fn csrf_time_limit_spellings() {
    let limit = |v: &str| vars(&[("WTF_CSRF_TIME_LIMIT", v)]).unwrap().csrf_time_limit;
    assert_eq!(limit("60"), Some(60));
    assert_eq!(limit("None"), None);
    assert_eq!(limit("0"), None);
    assert_eq!(limit("2 hours"), Some(7200));
    assert_eq!(limit(""), Some(3600));
    assert_eq!(
        invalid_key(vars(&[("WTF_CSRF_TIME_LIMIT", "soon")])).0,
        "WTF_CSRF_TIME_LIMIT"
    );
}

#[test]
fn empty_value_means_the_default() {
    let c = vars(&[
        ("SECURITY_LOGIN_URL", ""),
        ("SECURITY_CONFIRMABLE", ""),
        ("SECURITY_CONFIRM_EMAIL_WITHIN", "  "),
        ("SECURITY_USER_IDENTITY_ATTRIBUTES", ""),
        ("SECURITY_URL_PREFIX", ""),
        ("SECURITY_MSG_LOGIN", ""),
        ("SECURITY_TRUSTED_PROXIES", ""),
        ("SESSION_COOKIE_SAMESITE", ""),
        ("SECRET_KEY", ""),
    ])
    .unwrap();
    assert_eq!(c, Config::default());
    // An empty value after a set one puts the default back.
    let c = vars(&[("SECURITY_LOGIN_URL", "/in"), ("SECURITY_LOGIN_URL", "")]).unwrap();
    assert_eq!(c.login_url, "/login");
}

#[test]
fn malformed_values_name_their_key() {
    for (key, value) in [
        ("SECURITY_CONFIRMABLE", "maybe"),
        ("LOGIN_DISABLED", "2"),
        ("SECURITY_RESET_PASSWORD_WITHIN", "bogus"),
        ("SECURITY_LOGIN_WITHIN", "5 fortnights"),
        ("SECURITY_LOGIN_WITHIN", "86400"),
        ("SECURITY_TRUSTED_PROXIES", "256"),
        ("SECURITY_TRUSTED_PROXIES", "-1"),
        ("SECURITY_MAX_BODY_SIZE", "2MB"),
        ("SESSION_COOKIE_SAMESITE", "sometimes"),
        ("PERMANENT_SESSION_LIFETIME", "forever"),
        ("SECURITY_TOKEN_MAX_AGE", "1 eon"),
        ("SECURITY_MSG_LOGIN", "[\"unterminated"),
    ] {
        let (k, reason) = invalid_key(vars(&[("SECURITY_LOGIN_URL", "/in"), (key, value)]));
        assert_eq!(k, key, "{key}={value}");
        assert!(!reason.is_empty());
    }
    let err = vars(&[("SECURITY_CONFIRMABLE", "maybe")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value for `SECURITY_CONFIRMABLE`: `maybe` is not a boolean; use true or false"
    );
    let (_, reason) = invalid_key(vars(&[("SECURITY_TRUSTED_PROXIES", "300")]));
    assert_eq!(reason, "expected an integer from 0 to 255");
}

#[test]
fn unknown_security_keys_are_reported_with_a_suggestion() {
    let (c, unknown) = Config::from_vars_report([
        ("SECURITY_CONFIRMABEL", "true"),
        ("SECURITY_LOGIN_URL", "/in"),
        ("SECURITY_FROBNICATE", "1"),
        ("security_registerable", "true"),
        ("SECURITY_MSG_NOT_A_MESSAGE", "x"),
        ("PATH", "/usr/bin"),
        ("HOME", "/root"),
        ("MAIL_SERVER", "localhost"),
    ])
    .unwrap();
    assert_eq!(
        unknown,
        [
            "SECURITY_CONFIRMABEL",
            "SECURITY_FROBNICATE",
            "security_registerable",
            "SECURITY_MSG_NOT_A_MESSAGE"
        ]
    );
    assert!(!c.confirmable && !c.registerable);
    assert_eq!(c.login_url, "/in");
    assert_eq!(
        suggest("SECURITY_CONFIRMABEL").as_deref(),
        Some("SECURITY_CONFIRMABLE")
    );
    assert_eq!(
        suggest("security_registerable").as_deref(),
        Some("SECURITY_REGISTERABLE")
    );
    assert_eq!(
        suggest("SECURITY_MSG_INVALID_PASWORD").as_deref(),
        Some("SECURITY_MSG_INVALID_PASSWORD")
    );
    assert_eq!(
        suggest("SECURITY_POST_LOGIN_VEIW").as_deref(),
        Some("SECURITY_POST_LOGIN_VIEW")
    );
    assert_eq!(suggest("SECURITY_FROBNICATE"), None);
}

#[test]
fn edit_distance_is_levenshtein() {
    assert_eq!(edit_distance("", ""), 0);
    assert_eq!(edit_distance("abc", ""), 3);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("CONFIRMABEL", "CONFIRMABLE"), 2);
}

#[test]
fn message_overrides() {
    let c = vars(&[
        ("SECURITY_MSG_INVALID_PASSWORD", "Wrong password"),
        ("SECURITY_MSG_LOGIN", r#"["Sign in first", "warning"]"#),
        ("SECURITY_MSG_UNAUTHORIZED", r#"["[403] Forbidden"]"#),
        ("SECURITY_MSG_INVALID_CREDENTIALS", "Nope, %(email)s"),
    ])
    .unwrap();
    let m = &c.messages;
    assert_eq!(m.get(MessageKey::InvalidPassword).text, "Wrong password");
    assert_eq!(m.get(MessageKey::InvalidPassword).category, "error");
    assert_eq!(m.get(MessageKey::Login).text, "Sign in first");
    assert_eq!(m.get(MessageKey::Login).category, "warning");
    assert_eq!(m.get(MessageKey::Unauthorized).text, "[403] Forbidden");
    assert_eq!(m.get(MessageKey::Unauthorized).category, "error");
    assert_eq!(
        m.format(MessageKey::InvalidCredentials, &[("email", "a@b.c")]),
        "Nope, a@b.c"
    );
    assert_eq!(
        m.get(MessageKey::Refresh),
        Messages::default().get(MessageKey::Refresh)
    );
    let (key, _) = invalid_key(vars(&[("SECURITY_MSG_LOGIN", r#"["a", "b", "c"]"#)]));
    assert_eq!(key, "SECURITY_MSG_LOGIN");
}

// --- TOML ---

#[test]
fn toml_reads_native_values_and_strings() {
    let c = Config::from_toml_str(
        r#"
        SECRET_KEY = "from a file, long enough"
        SERVER_NAME = "example.com"
        SECURITY_CONFIRMABLE = true
        SECURITY_RECOVERABLE = "yes"
        SECURITY_USER_IDENTITY_ATTRIBUTES = ["email", " username "]
        SECURITY_PASSWORD_SCHEMES = "bcrypt, plaintext"
        SECURITY_PASSWORD_HASH = "bcrypt"
        SECURITY_TRUSTED_PROXIES = 2
        SECURITY_MAX_BODY_SIZE = 4096
        SECURITY_TOKEN_MAX_AGE = 86400
        SECURITY_LOGIN_WITHIN = "2 hours"
        PERMANENT_SESSION_LIFETIME = 600
        SECURITY_MSG_LOGIN = ["Sign in", "warning"]
        SECURITY_MSG_REFRESH = "Again please"
        SECURITY_POST_LOGIN_VIEW = ""
        DATABASE_URL = "sqlite::memory:"

        [some_app_section]
        anything = 1.5
        "#,
    )
    .unwrap();
    assert_eq!(c.secret_key.expose(), "from a file, long enough");
    assert!(c.confirmable && c.recoverable);
    assert_eq!(c.user_identity_attributes, ["email", "username"]);
    assert_eq!(c.password_schemes, [Scheme::Bcrypt, Scheme::Plaintext]);
    assert_eq!(c.trusted_proxies, 2);
    assert_eq!(c.max_body_size, 4096);
    assert_eq!(c.token_max_age.as_ref().map(Within::seconds), Some(86_400));
    assert_eq!(c.login_within.seconds(), 7200);
    assert_eq!(c.permanent_session_lifetime.seconds(), 600);
    assert_eq!(c.messages.get(MessageKey::Login).category, "warning");
    assert_eq!(c.messages.get(MessageKey::Refresh).text, "Again please");
    assert_eq!(c.messages.get(MessageKey::Refresh).category, "info");
    assert_eq!(c.post_login_view, "/");
    c.validate().unwrap();
}

#[test]
fn toml_refuses_wrong_types_naming_the_key() {
    for (text, key) in [
        ("SECURITY_CONFIRMABLE = 2", "SECURITY_CONFIRMABLE"),
        ("SECURITY_LOGIN_URL = true", "SECURITY_LOGIN_URL"),
        ("SECURITY_LOGIN_WITHIN = 5", "SECURITY_LOGIN_WITHIN"),
        (
            "SECURITY_USER_IDENTITY_ATTRIBUTES = [1, 2]",
            "SECURITY_USER_IDENTITY_ATTRIBUTES",
        ),
        ("SECURITY_TRUSTED_PROXIES = 1.5", "SECURITY_TRUSTED_PROXIES"),
        ("SECURITY_TRUSTED_PROXIES = -1", "SECURITY_TRUSTED_PROXIES"),
        ("SECURITY_MSG_LOGIN = 3", "SECURITY_MSG_LOGIN"),
    ] {
        assert_eq!(invalid_key(Config::from_toml_str(text)).0, key, "{text}");
    }
}

#[test]
fn toml_reports_unknown_keys_and_syntax_errors() {
    let Ok((_, unknown)) = Config::toml_report("SECURITY_LOGIN_URLS = \"/x\"\nOTHER = 1") else {
        panic!("valid TOML refused");
    };
    assert_eq!(unknown, ["SECURITY_LOGIN_URLS"]);
    assert!(matches!(
        Config::from_toml_str("SECURITY_LOGIN_URL = "),
        Err(ConfigError::Toml { .. })
    ));
}

#[test]
fn toml_file() {
    let dir = std::env::temp_dir().join(format!("security-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("security.toml");
    std::fs::write(&path, "SECURITY_CHANGEABLE = true\n").unwrap();
    assert!(Config::from_toml_file(&path).unwrap().changeable);
    std::fs::write(&path, "SECURITY_CHANGEABLE = \n").unwrap();
    let err = Config::from_toml_file(&path).unwrap_err();
    assert!(matches!(&err, ConfigError::File { reason, .. } if reason.contains("TOML")));
    std::fs::remove_dir_all(&dir).unwrap();
    let err = Config::from_toml_file(dir.join("missing.toml")).unwrap_err();
    assert!(matches!(err, ConfigError::File { .. }));
    assert!(err.to_string().contains("missing.toml"));
}

// --- validate ---

#[test]
fn default_with_a_secret_is_valid() {
    valid().validate().unwrap();
    assert_eq!(invalid_key(Config::default().validate()).0, "SECRET_KEY");
}

#[test]
fn password_hash_must_be_a_hashing_scheme() {
    let with_hash = |hash: Scheme| Config {
        password_hash: hash,
        ..valid()
    };
    for hash in Scheme::ALL.into_iter().filter(|s| s.can_hash()) {
        with_hash(hash).validate().unwrap();
    }
    let (key, reason) = invalid_key(vars(&[("SECURITY_PASSWORD_HASH", "bogus")]));
    assert_eq!(key, "SECURITY_PASSWORD_HASH");
    assert_eq!(
        reason,
        "Invalid hash scheme 'bogus'. Allowed values are argon2, bcrypt, pbkdf2_sha256, \
         pbkdf2_sha512, sha256_crypt, sha512_crypt and plaintext"
    );
    // A verify-only scheme is read, then refused with the list of allowed ones.
    let legacy = vars(&[("SECURITY_PASSWORD_HASH", "des_crypt")]).unwrap();
    assert_eq!(legacy.password_hash, Scheme::DesCrypt);
    for legacy in Scheme::ALL.into_iter().filter(|s| !s.can_hash()) {
        let (key, reason) = invalid_key(with_hash(legacy).validate());
        assert_eq!(key, "SECURITY_PASSWORD_HASH");
        assert!(reason.contains("only supported to verify"), "{reason}");
    }
    // Must also be one of the configured schemes, as in 1.7.4.
    let c = Config {
        password_schemes: schemes(&["bcrypt", "plaintext"]),
        ..valid()
    };
    let (key, reason) = invalid_key(c.validate());
    assert_eq!(key, "SECURITY_PASSWORD_HASH");
    assert_eq!(
        reason,
        "Invalid hash scheme 'argon2'. Allowed values are bcrypt and plaintext"
    );
}

#[test]
fn password_scheme_lists_are_checked() {
    let with_schemes = |list: &[&str]| Config {
        password_schemes: schemes(list),
        ..valid()
    };
    let key_of = |c: Config| invalid_key(c.validate()).0;
    assert_eq!(key_of(with_schemes(&[])), "SECURITY_PASSWORD_SCHEMES");
    let (key, reason) = invalid_key(vars(&[("SECURITY_PASSWORD_SCHEMES", "argon2, md5_crypt")]));
    assert_eq!(key, "SECURITY_PASSWORD_SCHEMES");
    assert!(reason.starts_with("unknown scheme `md5_crypt`"), "{reason}");
    assert_eq!(
        key_of(with_schemes(&["plaintext", "argon2"])),
        "SECURITY_PASSWORD_SCHEMES"
    );
    assert_eq!(
        key_of(with_schemes(&["argon2", "argon2"])),
        "SECURITY_PASSWORD_SCHEMES"
    );
    with_schemes(&["argon2", "des_crypt"]).validate().unwrap();
    let c = Config {
        deprecated_password_schemes: vec!["des_crypt".into(), "whatever".into()],
        ..valid()
    };
    assert_eq!(key_of(c), "SECURITY_DEPRECATED_PASSWORD_SCHEMES");
}

#[test]
fn urls_and_names_are_checked() {
    let key_of = |c: Config| invalid_key(c.validate()).0;
    let c = |f: fn(&mut Config)| {
        let mut c = valid();
        f(&mut c);
        c
    };
    assert_eq!(
        key_of(c(|c| c.login_url = "login".into())),
        "SECURITY_LOGIN_URL"
    );
    assert_eq!(
        key_of(c(|c| c.logout_url = "//evil".into())),
        "SECURITY_LOGOUT_URL"
    );
    assert_eq!(
        key_of(c(|c| c.url_prefix = Some("auth".into()))),
        "SECURITY_URL_PREFIX"
    );
    assert_eq!(
        key_of(c(|c| c.post_login_view = "/a\r\nSet-Cookie: x".into())),
        "SECURITY_POST_LOGIN_VIEW"
    );
    assert_eq!(
        key_of(c(|c| {
            c.registerable = true;
            c.register_url = "/login".into();
        })),
        "SECURITY_REGISTER_URL"
    );
    // A disabled feature's URL may be anything that is a path.
    c(|c| c.register_url = "/login".into()).validate().unwrap();
    assert_eq!(
        key_of(c(|c| c.token_authentication_header = "Auth Token".into())),
        "SECURITY_TOKEN_AUTHENTICATION_HEADER"
    );
    assert_eq!(
        key_of(c(|c| c.remember_cookie_name = "session".into())),
        "REMEMBER_COOKIE_NAME"
    );
    assert_eq!(
        key_of(c(|c| c.session_cookie_samesite = SameSite::None)),
        "SESSION_COOKIE_SAMESITE"
    );
    c(|c| {
        c.session_cookie_samesite = SameSite::None;
        c.session_cookie_secure = true;
    })
    .validate()
    .unwrap();
    assert_eq!(
        key_of(c(|c| c.reset_salt = "confirm-salt".into())),
        "SECURITY_RESET_SALT"
    );
    assert_eq!(
        key_of(c(|c| c.user_identity_attributes = vec!["e mail".into()])),
        "SECURITY_USER_IDENTITY_ATTRIBUTES"
    );
    assert_eq!(
        key_of(c(|c| c.allowed_hosts = vec!["https://example.com".into()])),
        "SECURITY_ALLOWED_HOSTS"
    );
    assert_eq!(
        key_of(c(|c| c.server_name = Some("a/b".into()))),
        "SERVER_NAME"
    );
    assert_eq!(key_of(c(|c| c.max_body_size = 0)), "SECURITY_MAX_BODY_SIZE");
    assert_eq!(
        key_of(c(|c| c.email_sender = "a@b\r\nBcc: x@y".into())),
        "SECURITY_EMAIL_SENDER"
    );
    assert_eq!(
        key_of(c(|c| c.session_cookie_domain = Some("exa mple.com".into()))),
        "SESSION_COOKIE_DOMAIN"
    );
    c(|c| c.session_cookie_domain = Some(".example.com".into()))
        .validate()
        .unwrap();
}

// --- paths, Debug ---

#[test]
fn paths_apply_the_prefix() {
    let mut c = Config::default();
    assert_eq!(c.login_path(), "/login");
    assert_eq!(c.confirm_path(), "/confirm");
    c.url_prefix = Some("/auth/".into());
    assert_eq!(
        [
            c.login_path(),
            c.logout_path(),
            c.register_path(),
            c.reset_path(),
            c.change_path(),
            c.confirm_path()
        ],
        [
            "/auth/login",
            "/auth/logout",
            "/auth/register",
            "/auth/reset",
            "/auth/change",
            "/auth/confirm"
        ]
    );
    c.url_prefix = Some("/".into());
    assert_eq!(c.login_path(), "/login");
}

#[test]
fn debug_redacts_secrets() {
    let c = Config::from_vars([
        ("SECRET_KEY", "a secret key that is long enough"),
        ("SECURITY_PASSWORD_SALT", "pepper-value"),
        ("SECURITY_RESET_SALT", "reset-salt-value"),
        ("SECURITY_LOGIN_URL", "/sign-in"),
    ])
    .unwrap();
    let shown = format!("{c:?}");
    for secret in [
        "long enough",
        "pepper-value",
        "reset-salt-value",
        "confirm-salt",
    ] {
        assert!(!shown.contains(secret), "{secret} shown in {shown}");
    }
    assert!(shown.contains("secret_key: \"<redacted>\""));
    assert!(shown.contains("password_salt: Some(\"<redacted>\")"));
    assert!(shown.contains("login_url: \"/sign-in\""));
    assert!(shown.contains("password_hash: Argon2"));
    assert!(format!("{:?}", Config::default()).contains("password_salt: None"));
}

#[test]
fn same_site_round_trips() {
    for s in [SameSite::Lax, SameSite::Strict, SameSite::None] {
        assert_eq!(s.as_str().parse::<SameSite>(), Ok(s));
        assert_eq!(s.to_string(), s.as_str());
    }
}

// --- the review's keys ---

#[test]
fn a_short_secret_key_is_refused_unless_allowed() {
    let short = Config {
        secret_key: "0123456789abcde".into(),
        ..valid()
    };
    let (key, reason) = invalid_key(short.validate());
    assert_eq!(key, "SECRET_KEY");
    assert!(reason.contains("16") && reason.contains("SECURITY_ALLOW_WEAK_SECRET_KEY"));
    Config {
        allow_weak_secret_key: true,
        ..short
    }
    .validate()
    .unwrap();
    Config {
        secret_key: "0123456789abcdef".into(),
        ..valid()
    }
    .validate()
    .unwrap();
}

#[test]
fn features_that_mail_links_need_a_host() {
    for c in [
        Config {
            recoverable: true,
            ..valid()
        },
        Config {
            confirmable: true,
            ..valid()
        },
        Config {
            passwordless: true,
            ..valid()
        },
    ] {
        let (key, reason) = invalid_key(c.clone().validate());
        assert_eq!(key, "SERVER_NAME");
        assert!(reason.contains("SECURITY_ALLOWED_HOSTS"), "{reason}");
        Config {
            server_name: Some("example.com".into()),
            ..c.clone()
        }
        .validate()
        .unwrap();
        Config {
            allowed_hosts: vec!["example.com".into()],
            ..c
        }
        .validate()
        .unwrap();
    }
}

#[test]
fn generic_responses_has_its_old_name_as_an_alias() {
    for key in [
        "SECURITY_RETURN_GENERIC_RESPONSES",
        "SECURITY_GENERIC_RESPONSES",
    ] {
        let (c, unknown) = Config::from_vars_report([(key, "true")]).unwrap();
        assert!(c.return_generic_responses, "{key}");
        assert!(unknown.is_empty(), "{key}");
    }
}

#[test]
fn response_headers_merge_over_the_defaults() {
    let c = Config::from_vars([(
        "SECURITY_RESPONSE_HEADERS",
        r#"{"Referrer-Policy": "same-origin", "X-Frame-Options": "", "X-Extra": "1"}"#,
    )])
    .unwrap();
    let get = |name: &str| {
        c.response_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("Referrer-Policy"), Some("same-origin"));
    assert_eq!(get("X-Frame-Options"), None);
    assert_eq!(get("Cache-Control"), Some("no-store"));
    assert_eq!(get("X-Extra"), Some("1"));
    for bad in [
        "not json",
        r#"{"Bad Name": "x"}"#,
        r#"{"X-A": 1}"#,
        r#"{"X-A": "line\nbreak"}"#,
    ] {
        let (key, _) = invalid_key(Config::from_vars([("SECURITY_RESPONSE_HEADERS", bad)]));
        assert_eq!(key, "SECURITY_RESPONSE_HEADERS", "{bad}");
    }
}

#[test]
fn logout_methods_are_get_and_post() {
    let c = Config::from_vars([("SECURITY_LOGOUT_METHODS", "post, POST")]).unwrap();
    assert_eq!(c.logout_methods, ["POST"]);
    assert_eq!(Config::default().logout_methods, ["GET", "POST"]);
    let (key, _) = invalid_key(Config::from_vars([("SECURITY_LOGOUT_METHODS", "DELETE")]));
    assert_eq!(key, "SECURITY_LOGOUT_METHODS");
}

#[test]
fn the_remember_cookie_follows_the_session_cookies_secure_flag() {
    let c = Config::from_vars([("SESSION_COOKIE_SECURE", "true")]).unwrap();
    assert!(c.remember_cookie_is_secure());
    let c = Config::from_vars([
        ("SESSION_COOKIE_SECURE", "true"),
        ("REMEMBER_COOKIE_SECURE", "false"),
    ])
    .unwrap();
    assert!(!c.remember_cookie_is_secure());
    let c = Config::from_vars([("REMEMBER_COOKIE_SECURE", "true")]).unwrap();
    assert!(c.remember_cookie_is_secure());
}

#[test]
fn password_policy_keys() {
    let c = Config::from_vars([
        ("SECURITY_PASSWORD_NORMALIZE_FORM", "nfc"),
        ("SECURITY_PASSWORD_LENGTH_MIN", "8"),
        ("SECURITY_ZXCVBN_MINIMUM_SCORE", "4"),
    ])
    .unwrap();
    assert_eq!(c.password_normalize_form, Some(NormalizeForm::Nfc));
    assert_eq!(c.password_length_min, 8);
    assert_eq!(c.zxcvbn_minimum_score, 4);
    assert_eq!(Config::default().password_length_min, 6, "1.7.4's");
    assert_eq!(
        Config::default().password_normalize_form,
        Some(NormalizeForm::Nfkd),
        "5.9's"
    );
    let none = Config::from_vars([("SECURITY_PASSWORD_NORMALIZE_FORM", "none")]).unwrap();
    assert_eq!(none.password_normalize_form, None);
    assert_eq!(
        Config::default().password_hash_priority,
        crate::password::HashPriority::Idle
    );
    let low = Config::from_vars([("SECURITY_PASSWORD_HASH_PRIORITY", "low")]).unwrap();
    assert_eq!(
        low.password_hash_priority,
        crate::password::HashPriority::Low
    );
    for (key, bad) in [
        ("SECURITY_PASSWORD_NORMALIZE_FORM", "NFX"),
        ("SECURITY_PASSWORD_HASH_PRIORITY", "realtime"),
        ("SECURITY_ZXCVBN_MINIMUM_SCORE", "5"),
        ("SECURITY_PASSWORD_COMPLEXITY_CHECKER", "other"),
    ] {
        assert_eq!(invalid_key(Config::from_vars([(key, bad)])).0, key);
    }
    let (key, _) = invalid_key(
        Config {
            password_length_min: 10,
            password_length_max: 9,
            ..valid()
        }
        .validate(),
    );
    assert_eq!(key, "SECURITY_PASSWORD_LENGTH_MAX");
}

#[test]
fn rate_limits_read_allauth_syntax_and_refuse_scopes_a_limit_does_not_count_by() {
    use super::{LimitScope, RateLimits};
    let limits = RateLimits::parse(
        r#"{"login": "30/m/ip", "login_failed": "10/m/ip, 5/15m/key,100/h/user", "mail": "1/m/email,5/h/email"}"#,
    )
    .unwrap();
    assert_eq!(limits.login.len(), 1);
    assert_eq!((limits.login[0].count, limits.login[0].period), (30, 60));
    let failed: Vec<(u32, u32, LimitScope)> = limits
        .login_failed
        .iter()
        .map(|l| (l.count, l.period, l.scope))
        .collect();
    assert_eq!(
        failed,
        [
            (10, 60, LimitScope::Ip),
            (5, 900, LimitScope::Key),
            (100, 3_600, LimitScope::User)
        ]
    );
    assert_eq!(limits.mail[1].period, 3_600);
    assert!(RateLimits::parse("false").unwrap().is_empty());
    assert!(RateLimits::parse("").unwrap().is_empty());
    for bad in [
        r#"{"login": "30/m/key"}"#,
        r#"{"mail": "3/h/ip"}"#,
        r#"{"logins": "3/h/ip"}"#,
        r#"{"login": "0/m/ip"}"#,
        r#"{"login": "3/fortnight/ip"}"#,
        r#"{"login": "3/m"}"#,
        r#"{"login": 3}"#,
        "[1]",
    ] {
        assert!(RateLimits::parse(bad).is_err(), "{bad}");
    }
}

// --- Flask-Security 5.9's freshness keys ---

#[test]
fn freshness_defaults_are_5_9s() {
    let c = Config::default();
    assert_eq!(c.freshness, Some(Within::parse("24 hours").unwrap()));
    assert_eq!(c.freshness_grace_period, Within::parse("1 hours").unwrap());
    assert!(c.freshness_allow_auth_token);
    assert_eq!(c.verify_url, "/verify");
    assert_eq!(c.verify_template, "security/verify.html");
    assert_eq!(c.post_verify_url, None);
    assert_eq!(c.verify_path(), "/verify");
    let prefixed = Config {
        url_prefix: Some("/auth".into()),
        ..Config::default()
    };
    assert_eq!(prefixed.verify_path(), "/auth/verify");
}

#[test]
fn a_negative_freshness_turns_it_off() {
    for off in [
        "-1 minutes",
        "- 1 minutes",
        " -60",
        "-2 days",
        "none",
        "None",
    ] {
        let c = Config::from_vars([("SECURITY_FRESHNESS", off)]).unwrap();
        assert_eq!(c.freshness, None, "{off:?}");
    }
    let c = Config::from_vars([("SECURITY_FRESHNESS", "30 minutes")]).unwrap();
    assert_eq!(c.freshness.as_ref().map(Within::seconds), Some(1_800));
    let c = Config::from_vars([("SECURITY_FRESHNESS", "90")]).unwrap();
    assert_eq!(c.freshness.as_ref().map(Within::seconds), Some(90));
    // `-0` is not negative: zero, which only an open grace period satisfies.
    let c = Config::from_vars([("SECURITY_FRESHNESS", "-0 minutes")]).unwrap();
    assert_eq!(c.freshness.as_ref().map(Within::seconds), Some(0));
    let c = Config::from_toml_str("SECURITY_FRESHNESS = -5").unwrap();
    assert_eq!(c.freshness, None);
    for bad in ["-", "--1 minutes", "-1 fortnights", "soon"] {
        let (key, _) = invalid_key(Config::from_vars([("SECURITY_FRESHNESS", bad)]));
        assert_eq!(key, "SECURITY_FRESHNESS", "{bad:?}");
    }
}

#[test]
fn brute_force_keys_load_from_the_environment() {
    use super::{ThrottleBackend, UnlockStrategy};
    let config = vars(&[
        ("SECRET_KEY", "0123456789abcdef0123"),
        ("SECURITY_LOCKABLE", "true"),
        ("SECURITY_LOCK_MAXIMUM_ATTEMPTS", "5"),
        ("SECURITY_LOCK_HARD_CAP", "50/2h"),
        ("SECURITY_UNLOCK_STRATEGY", "email"),
        ("SECURITY_UNLOCK_IN", "10 minutes"),
        ("SECURITY_THROTTLE_STORE", "redis://:pw@127.0.0.1:6379/2"),
        ("SECURITY_THROTTLE_FAIL_OPEN", "false"),
        ("SECURITY_RATE_LIMITS", r#"{"login": "30/m/ip"}"#),
    ])
    .unwrap();
    assert!(config.lockable);
    assert_eq!(config.lock_maximum_attempts, 5);
    assert_eq!(
        (config.lock_hard_cap.count, config.lock_hard_cap.period),
        (50, 7_200)
    );
    assert_eq!(config.unlock_strategy, UnlockStrategy::Email);
    assert_eq!(config.unlock_in.seconds(), 600);
    assert!(matches!(config.throttle_store, ThrottleBackend::Redis(_)));
    assert!(
        !format!("{config:?}").contains(":pw@"),
        "the Redis URL is a secret"
    );
    assert!(!config.throttle_fail_open);
    assert_eq!(config.rate_limits.login.len(), 1);
    assert!(vars(&[("SECURITY_THROTTLE_STORE", "mongodb://x")]).is_err());
    assert!(vars(&[("SECURITY_UNLOCK_STRATEGY", "never")]).is_err());
}

#[test]
fn a_negative_grace_period_is_no_grace() {
    let c = Config::from_vars([("SECURITY_FRESHNESS_GRACE_PERIOD", "-1 minutes")]).unwrap();
    assert_eq!(c.freshness_grace_period.seconds(), 0);
    assert_eq!(c.freshness_grace_period.text(), "-1 minutes");
    let c = Config::from_vars([("SECURITY_FRESHNESS_GRACE_PERIOD", "10 minutes")]).unwrap();
    assert_eq!(c.freshness_grace_period.seconds(), 600);
    let (key, _) = invalid_key(Config::from_vars([(
        "SECURITY_FRESHNESS_GRACE_PERIOD",
        "none",
    )]));
    assert_eq!(key, "SECURITY_FRESHNESS_GRACE_PERIOD");
}

#[test]
fn the_verify_url_is_checked_while_freshness_is_on() {
    let key_of = |c: Config| invalid_key(c.validate()).0;
    let c = Config {
        verify_url: "verify".into(),
        ..valid()
    };
    assert_eq!(key_of(c), "SECURITY_VERIFY_URL");
    let clash = Config {
        verify_url: "/login".into(),
        ..valid()
    };
    assert_eq!(key_of(clash.clone()), "SECURITY_VERIFY_URL");
    // Off, the view is not served: its URL may be anything that is a path.
    Config {
        freshness: None,
        ..clash
    }
    .validate()
    .unwrap();
    let c = Config {
        post_verify_url: Some("/a\nb".into()),
        ..valid()
    };
    assert_eq!(key_of(c), "SECURITY_POST_VERIFY_URL");
    let c = Config::from_vars([
        ("SECURITY_FRESHNESS_ALLOW_AUTH_TOKEN", "false"),
        ("SECURITY_VERIFY_URL", "/auth/"),
        ("SECURITY_VERIFY_TEMPLATE", "my/verify.html"),
        ("SECURITY_POST_VERIFY_URL", "/fresh"),
    ])
    .unwrap();
    assert!(!c.freshness_allow_auth_token);
    assert_eq!(c.verify_url, "/auth/");
    assert_eq!(c.verify_template, "my/verify.html");
    assert_eq!(c.post_verify_url.as_deref(), Some("/fresh"));
}

#[test]
fn api_key_settings_are_read_and_checked() {
    let c = Config::default();
    assert!(!c.api_keys, "off by default");
    assert_eq!(
        (c.api_keys_url.as_str(), c.api_key_prefix.as_str()),
        ("/api-keys", "fsk")
    );
    let c = Config::from_vars([
        ("SECURITY_API_KEYS", "true"),
        ("SECURITY_API_KEYS_URL", "/keys"),
        ("SECURITY_API_KEY_PREFIX", "acme_live"),
    ])
    .unwrap();
    assert!(c.api_keys);
    assert_eq!(c.api_keys_path(), "/keys");
    let mut ok = valid();
    ok.api_keys = true;
    ok.validate().unwrap();
    for bad in ["", "fs-k", "f k"] {
        let mut c = valid();
        c.api_key_prefix = bad.into();
        assert_eq!(
            invalid_key(c.validate()).0,
            "SECURITY_API_KEY_PREFIX",
            "{bad:?}"
        );
    }
    let mut clash = valid();
    clash.api_keys = true;
    clash.api_keys_url = "/login".into();
    assert_eq!(invalid_key(clash.validate()).0, "SECURITY_API_KEYS_URL");
}
