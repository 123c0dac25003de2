//! Property tests ("fuzzing") of the parsers that read Flask-Security 1.7.4 formats.
//!
//! What is fuzzed, and why:
//!
//! - `security::token::Serializer::loads` (itsdangerous 0.24 tokens: auth tokens, remember
//!   cookies, confirmation/reset/login links) and `load_flask_session` (Flask 0.10 `session`
//!   cookies). Both read attacker-controlled text, so any input must give a clean
//!   [`TokenError::Invalid`] (or `Expired` for a correctly signed old token), never a panic;
//!   any change to a valid token must make it invalid; and `dumps` → `loads` must round-trip
//!   every payload, with itsdangerous's expiry boundary (age == max age is valid).
//! - `Scheme::identify`, `Scheme::from_name` and `Passwords::verify_blocking` /
//!   `verify_and_update_blocking` over every scheme 1.7.4 wrote (bcrypt, pbkdf2_sha512/256,
//!   sha512/256_crypt, des_crypt, plaintext) plus argon2. Stored hashes come from old
//!   databases: truncated, re-encoded or hand-edited values must verify as `false` (or fail
//!   with `MissingSalt` when no `SECURITY_PASSWORD_SALT` is configured), never panic, and hashes
//!   written in passlib's formats must keep verifying.
//!
//! Seeds are the reference tokens and hashes below, as 1.7.4 wrote them (and the 1.7.4
//! fixtures when present), mutated: truncated, characters flipped, inserted or deleted,
//! `.`/`$` fields replaced (rounds fields by 0, negative, overflowing or non-numeric values),
//! junk appended.
//!
//! Cost: the rounds/cost fields of a stored hash set the CPU (argon2: memory) cost of
//! verifying it. Every generated stored value goes through [`defuse`], which caps those fields,
//! so the suite stays fast; `huge_cost_fields_are_refused_quickly` checks what happens
//! with huge ones.
//!
//! Case counts: `PROPTEST_CASES` when set (the slow password properties, see [`run_slow`], run
//! a stated fraction of it), else small defaults that keep this file well under 30 s in a debug
//! build.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit as _, Mac as _};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{FileFailurePersistence, TestRunner, contextualize_config};
use security::password::{HashError, Passwords, Scheme, Verified};
use security::token::{Serializer, TokenError, load_flask_session};
use serde_json::{Map, Value};
use sha1::{Digest as _, Sha1};

// ---- configuration ------------------------------------------------------------------------

/// The configuration of the fast properties (`proptest!`): `default` cases, which the macro
/// replaces by `PROPTEST_CASES` when that is set. Failures are saved beside this file
/// (`legacy_formats.proptest-regressions`).
fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: default,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// Runs a slow property (password hashing, milliseconds or more per case) outside the
/// `proptest!` macro, which would apply `PROPTEST_CASES` as it is: here it runs
/// `PROPTEST_CASES / divisor` cases when the variable is set, else `default`. The other
/// `PROPTEST_*` variables apply as usual.
fn run_slow<S: Strategy>(
    name: &'static str,
    default: u32,
    divisor: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let mut config = contextualize_config(config(default));
    config.cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .map_or(default, |n| (n / divisor).max(1));
    config.source_file = Some(file!());
    config.test_name = Some(name);
    let mut runner = TestRunner::new(config);
    if let Err(failure) = runner.run(&strategy, test) {
        panic!("{failure}\n{runner}");
    }
}

// ---- generic mutation ---------------------------------------------------------------------

/// One edit of a seed value. Indices are taken modulo the length at the time of the edit.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Delete(Index),
    Replace(Index, char),
    Insert(Index, char),
    Swap(Index, Index),
    Append(String),
    Prepend(String),
    /// Replace one `sep`-separated field (a token part, a hash field such as the rounds).
    ReplaceField(Index, String),
    DropField(Index),
    DuplicateField(Index),
}

/// Characters that matter to the formats (both Base64 alphabets, separators, digits), and
/// now and then any character at all.
fn format_char() -> impl Strategy<Value = char> {
    const FORMAT_CHARS: &str = "AZaz09+/-_.$=,:\"[]{} \u{0}\u{7f}é😀";
    prop_oneof![
        3 => select(FORMAT_CHARS.chars().collect::<Vec<_>>()),
        1 => any::<char>(),
    ]
}

/// Contents for a rounds/cost field: small numbers, and every way a number can be malformed
/// (the cheap ways: huge *valid* values are capped by [`defuse`]).
fn rounds_field() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..=2_000).prop_map(|n| n.to_string()),
        Just(String::new()),
        "-[0-9]{1,4}",
        "\\+[0-9]{1,3}",
        "0[0-9]{1,3}",
        " [0-9]{1,3}",
        "[0-9]{1,3} ",
        "[0-9]{1,3}[a-z]",
        Just("4294967296".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("99999999999999999999999999".to_owned()),
        Just("1e3".to_owned()),
        Just("0x10".to_owned()),
        Just("1_000".to_owned()),
        Just("１２".to_owned()),
        Just("NaN".to_owned()),
    ]
}

/// Junk for appending or for replacing a field.
fn junk() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9./+=$_,-]{0,12}",
        rounds_field(),
        "\\PC{0,6}",
        any::<String>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        any::<Index>().prop_map(Mutation::Delete),
        (any::<Index>(), format_char()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        (any::<Index>(), format_char()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Mutation::Swap(i, j)),
        junk().prop_map(Mutation::Append),
        junk().prop_map(Mutation::Prepend),
        (any::<Index>(), junk()).prop_map(|(i, s)| Mutation::ReplaceField(i, s)),
        any::<Index>().prop_map(Mutation::DropField),
        any::<Index>().prop_map(Mutation::DuplicateField),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    vec(mutation(), 1..4)
}

/// Picks a field index modulo `len` (there is always at least one field).
fn i_field(len: usize) -> impl Fn(&Index) -> usize {
    move |i| i.index(len)
}

fn apply(value: &str, sep: char, mutation: &Mutation) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let mut fields: Vec<String> = value.split(sep).map(str::to_owned).collect();
    let field = i_field(fields.len());
    match mutation {
        Mutation::Truncate(i) if n > 0 => chars.truncate(i.index(n)),
        Mutation::Delete(i) if n > 0 => {
            chars.remove(i.index(n));
        }
        Mutation::Replace(i, c) if n > 0 => chars[i.index(n)] = *c,
        Mutation::Insert(i, c) => chars.insert(i.index(n + 1), *c),
        Mutation::Swap(i, j) if n > 0 => chars.swap(i.index(n), j.index(n)),
        Mutation::Append(junk) => return format!("{value}{junk}"),
        Mutation::Prepend(junk) => return format!("{junk}{value}"),
        Mutation::ReplaceField(i, junk) => {
            let k = field(i);
            fields[k] = junk.clone();
            return fields.join(&sep.to_string());
        }
        Mutation::DropField(i) => {
            let k = field(i);
            fields.remove(k);
            return fields.join(&sep.to_string());
        }
        Mutation::DuplicateField(i) => {
            let k = field(i);
            let copy = fields[k].clone();
            fields.insert(k, copy);
            return fields.join(&sep.to_string());
        }
        // An index edit of the empty string.
        _ => {}
    }
    chars.into_iter().collect()
}

fn mutate(seed: &str, sep: char, mutations: &[Mutation]) -> String {
    mutations
        .iter()
        .fold(seed.to_owned(), |value, m| apply(&value, sep, m))
}

// ---- tokens: helpers and seeds -------------------------------------------------------------

/// itsdangerous' epoch, 2011-01-01T00:00:00Z.
const EPOCH: i64 = 1_293_840_000;
/// The reference tokens' clock: signer timestamp 120000000 (`BycOAA`).
const A3_NOW: i64 = EPOCH + 120_000_000;
const MD5_PASSWORD: &str = "5f4dcc3b5aa765d61d8327deb882cf99";

/// Reference tokens as 1.7.4 wrote them (`SECRET_KEY = "secret"`): salt, payload, token.
const A3: [(&str, &[&str], &str); 8] = [
    (
        "remember-salt",
        &["1", MD5_PASSWORD],
        "WyIxIiwiNWY0ZGNjM2I1YWE3NjVkNjFkODMyN2RlYjg4MmNmOTkiXQ.BycOAA.Mx6XMCMPpR7INZG3kbNnSRWIjq8",
    ),
    (
        "remember-salt",
        &["1"],
        "WyIxIl0.BycOAA.y9TXkqzqzta_XbcMgMzb9c_-Ar0",
    ),
    (
        "confirm-salt",
        &["1", MD5_PASSWORD],
        "WyIxIiwiNWY0ZGNjM2I1YWE3NjVkNjFkODMyN2RlYjg4MmNmOTkiXQ.BycOAA.GYy6D91n9WrEeM3JxEZaK1RTv0Q",
    ),
    (
        "confirm-salt",
        &["1"],
        "WyIxIl0.BycOAA.QHs_cWUZ54C-L_wwN3Gv3hVc6Rg",
    ),
    (
        "reset-salt",
        &["1", MD5_PASSWORD],
        "WyIxIiwiNWY0ZGNjM2I1YWE3NjVkNjFkODMyN2RlYjg4MmNmOTkiXQ.BycOAA.lhIyrWkqX7dUchRLZSczjvflYKU",
    ),
    (
        "reset-salt",
        &["1"],
        "WyIxIl0.BycOAA.H5B1RPFSZR4LkFI3SN-UBNLIZV4",
    ),
    (
        "login-salt",
        &["1", MD5_PASSWORD],
        "WyIxIiwiNWY0ZGNjM2I1YWE3NjVkNjFkODMyN2RlYjg4MmNmOTkiXQ.BycOAA.9g1qj9Uk7fPGxmdGTJptnRpSF_U",
    ),
    (
        "login-salt",
        &["1"],
        "WyIxIl0.BycOAA.Y4g3HmEsNSPt6l9uD4VHatSpbRo",
    ),
];

fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Flask 0.10's session signing key: `HMAC-SHA1(SECRET_KEY, "cookie-session")`.
fn flask_session_key(secret: &str) -> Vec<u8> {
    hmac_sha1(secret.as_bytes(), b"cookie-session")
}

/// Flask-Security's signing key (itsdangerous's `django-concat` derivation):
/// `SHA1(salt ‖ "signer" ‖ secret)`.
fn django_concat_key(secret: &str, salt: &str) -> Vec<u8> {
    Sha1::new()
        .chain_update(salt)
        .chain_update("signer")
        .chain_update(secret)
        .finalize()
        .to_vec()
}

/// `p.ts.sig` (itsdangerous's HMAC-SHA1 signature), written independently of the crate.
fn sign(key: &[u8], p: &str, ts: &str) -> String {
    let value = format!("{p}.{ts}");
    let sig = URL_SAFE_NO_PAD.encode(hmac_sha1(key, value.as_bytes()));
    format!("{value}.{sig}")
}

/// Step 4: big-endian seconds since [`EPOCH`], no leading zero bytes, URL-safe Base64.
fn ts_field(now: i64) -> String {
    let seconds = u64::try_from(now.saturating_sub(EPOCH)).unwrap_or(0);
    let bytes = seconds.to_be_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    URL_SAFE_NO_PAD.encode(&bytes[first..])
}

/// How the payload part of a hand-signed token is encoded.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    /// URL-safe Base64 of the bytes.
    Plain,
    /// `.` + URL-safe Base64 of the zlib-compressed bytes.
    Zlib,
    /// `.` + URL-safe Base64 of the bytes themselves (almost never a zlib stream).
    DotRaw,
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        Just(Encoding::Plain),
        Just(Encoding::Zlib),
        Just(Encoding::DotRaw)
    ]
}

impl Encoding {
    fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Plain => URL_SAFE_NO_PAD.encode(bytes),
            Encoding::Zlib => format!(
                ".{}",
                URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec_zlib(bytes, 6))
            ),
            Encoding::DotRaw => format!(".{}", URL_SAFE_NO_PAD.encode(bytes)),
        }
    }

    /// What a reader recovers from [`Encoding::encode`]`(bytes)`.
    fn decoded(self, bytes: &[u8]) -> Option<Vec<u8>> {
        match self {
            Encoding::Plain | Encoding::Zlib => Some(bytes.to_vec()),
            Encoding::DotRaw => miniz_oxide::inflate::decompress_to_vec_zlib(bytes).ok(),
        }
    }
}

/// A validly signed value to mutate, and how to load it.
#[derive(Debug, Clone)]
struct TokenSeed {
    secret: String,
    /// `Some(salt)`: a Flask-Security token; `None`: a Flask session cookie.
    salt: Option<String>,
    token: String,
}

impl TokenSeed {
    /// Loads `token` as this seed is loaded; the payload is reduced to its debug text.
    fn load(&self, token: &str, max_age: Option<u64>, now: i64) -> Result<String, TokenError> {
        match &self.salt {
            Some(salt) => Serializer::new(&self.secret, salt)
                .loads(token, max_age, now)
                .map(|payload| format!("{payload:?}")),
            None => load_flask_session(token, &self.secret, max_age, now).map(|v| v.to_string()),
        }
    }
}

fn fixture(name: &str) -> Option<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/flask-security-1.7.4/"
    );
    let text = std::fs::read_to_string(format!("{path}{name}")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Valid tokens and session cookies written by the real 1.7.4 (when the fixtures are there).
fn fixture_seeds() -> Vec<TokenSeed> {
    let (Some(tokens), Some(secrets)) = (fixture("tokens.json"), fixture("secrets.json")) else {
        return Vec::new();
    };
    let Some(secret) = secrets["SECRET_KEY"].as_str() else {
        return Vec::new();
    };
    // Values that are not validly signed by design: a mutation could turn them valid.
    const BAD_SIGNATURES: &[&str] = &[
        "other_secret_key",
        "truncated",
        "tampered_payload",
        "tampered_signature",
        "wrong_salt",
    ];
    let mut seeds = Vec::new();
    for entry in tokens["tokens"].as_array().into_iter().flatten() {
        let (Some(kind), Some(value)) = (entry["kind"].as_str(), entry["value"].as_str()) else {
            continue;
        };
        if BAD_SIGNATURES.contains(&entry["reason"].as_str().unwrap_or("")) {
            continue;
        }
        let salt_key = match kind {
            "session_cookie" => None,
            "auth_token" | "remember_cookie" => Some("SECURITY_REMEMBER_SALT"),
            "confirm_token" => Some("SECURITY_CONFIRM_SALT"),
            "reset_token" => Some("SECURITY_RESET_SALT"),
            "login_token" => Some("SECURITY_LOGIN_SALT"),
            _ => continue,
        };
        let salt = match salt_key {
            Some(key) => match secrets[key].as_str() {
                Some(salt) => Some(salt.to_owned()),
                None => continue,
            },
            None => None,
        };
        seeds.push(TokenSeed {
            secret: secret.to_owned(),
            salt,
            token: value.to_owned(),
        });
    }
    seeds
}

static TOKEN_SEEDS: LazyLock<Vec<TokenSeed>> = LazyLock::new(|| {
    let mut seeds: Vec<TokenSeed> = A3
        .iter()
        .map(|(salt, _, token)| TokenSeed {
            secret: "secret".to_owned(),
            salt: Some((*salt).to_owned()),
            token: (*token).to_owned(),
        })
        .collect();
    // A compressed payload, an empty one and a non-ASCII one.
    let long = "a".repeat(200);
    for payload in [
        vec![long.as_str(), long.as_str()],
        vec![],
        vec!["é😀\"\\", "x"],
    ] {
        seeds.push(TokenSeed {
            secret: "secret".to_owned(),
            salt: Some("login-salt".to_owned()),
            token: Serializer::new("secret", "login-salt").dumps(&payload, A3_NOW),
        });
    }
    // Flask sessions as 0.10 writes them: plain, and compressed with tagged values.
    let key = flask_session_key("secret");
    let session = br#"{"_fresh":true,"_id":{" b":"NWY0ZGNjM2I1YWE3NjVkNjFkODMyN2RlYjg4MmNmOTk="},"user_id":"1"}"#;
    let flashes = br#"{"_flashes":[{" t":["success","Thank you."]}],"user_id":"22"}"#;
    for (bytes, encoding) in [(&session[..], Encoding::Plain), (flashes, Encoding::Zlib)] {
        seeds.push(TokenSeed {
            secret: "secret".to_owned(),
            salt: None,
            token: sign(&key, &encoding.encode(bytes), &ts_field(A3_NOW)),
        });
    }
    seeds.extend(fixture_seeds());
    seeds
});

/// The current time: anywhere in `i64`, and often near the seeds' dates.
fn now() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        (EPOCH - 10)..(EPOCH + 10),
        (A3_NOW - 1_000)..(A3_NOW + 1_000_000_000),
    ]
}

fn max_age() -> impl Strategy<Value = Option<u64>> {
    option::of(prop_oneof![any::<u64>(), 0u64..1_000_000])
}

/// Secrets and salts: anything, and the usual shapes.
fn key_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z-]{0,16}",
        select(&["remember-salt", "confirm-salt", "reset-salt", "login-salt"][..])
            .prop_map(str::to_owned),
    ]
}

/// A payload element: anything, ids, md5 digests, long compressible runs.
fn payload() -> impl Strategy<Value = Vec<String>> {
    vec(
        prop_oneof![
            any::<String>(),
            "[0-9]{1,6}",
            "[0-9a-f]{32}",
            "a{100,300}",
            "\\PC{0,10}",
        ],
        0..6,
    )
}

fn refs(payload: &[String]) -> Vec<&str> {
    payload.iter().map(String::as_str).collect()
}

/// Text shaped like a token (or not at all).
fn token_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_=+/.-]{0,120}",
        "[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,8}\\.[A-Za-z0-9_-]{0,30}",
        "\\.[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,8}\\.[A-Za-z0-9_-]{27}",
        "[.]{0,5}",
        vec(any::<u8>(), 0..64).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// Bytes for a signed payload: garbage, valid lists, other JSON, JSON-ish text, deep nesting.
fn payload_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..64),
        payload().prop_map(|p| serde_json::to_vec(&p).expect("a list of strings is JSON")),
        json_value().prop_map(|v| serde_json::to_vec(&v).expect("a value is JSON")),
        "[\\[\\]{}\",:0-9a-z\\\\ ]{0,40}".prop_map(String::into_bytes),
        (0usize..3_000, any::<bool>()).prop_map(|(depth, arrays)| {
            let (open, close) = if arrays { ("[", "]") } else { ("{\"a\":", "}") };
            format!("{}1{}", open.repeat(depth), close.repeat(depth)).into_bytes()
        }),
    ]
}

/// Untagged JSON values (object keys never start with a space, so no Flask tag).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map("[a-z_]{0,5}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A Flask 0.10 tagged value and what `load_flask_session` must turn it into.
fn tagged_value() -> impl Strategy<Value = (Value, Value)> {
    fn tag(name: &str, inner: Value) -> Value {
        Value::Object(Map::from_iter([(name.to_owned(), inner)]))
    }
    let leaf = prop_oneof![
        any::<String>().prop_map(|s| (Value::String(s.clone()), Value::String(s))),
        any::<String>().prop_map(|s| (tag(" b", STANDARD.encode(&s).into()), Value::String(s))),
        (select(&[" u", " m", " d"][..]), any::<String>())
            .prop_map(|(t, s)| (tag(t, s.clone().into()), Value::String(s))),
        // Bytes that are not UTF-8 stay tagged, as do tags holding the wrong type.
        vec(any::<u8>(), 0..16).prop_map(|mut bytes| {
            bytes.insert(0, 0xff);
            let tagged = tag(" b", STANDARD.encode(&bytes).into());
            (tagged.clone(), tagged)
        }),
        (select(&[" t", " b", " u"][..]), any::<i64>()).prop_map(|(t, n)| {
            let tagged = tag(t, n.into());
            (tagged.clone(), tagged)
        }),
        Just(tag(" b", "not base64!".into())).prop_map(|v| (v.clone(), v)),
        any::<i64>().prop_map(|n| (Value::from(n), Value::from(n))),
        Just((Value::Null, Value::Null)),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|items| {
                let (tagged, plain): (Vec<_>, Vec<_>) = items.into_iter().unzip();
                (Value::Array(tagged), Value::Array(plain))
            }),
            vec(inner.clone(), 0..4).prop_map(|items| {
                let (tagged, plain): (Vec<_>, Vec<_>) = items.into_iter().unzip();
                (tag(" t", Value::Array(tagged)), Value::Array(plain))
            }),
            btree_map("[a-z_]{1,5}", inner, 0..4).prop_map(|entries| {
                let mut tagged = Map::new();
                let mut plain = Map::new();
                for (k, (t, p)) in entries {
                    tagged.insert(k.clone(), t);
                    plain.insert(k, p);
                }
                (Value::Object(tagged), Value::Object(plain))
            }),
        ]
    })
}

/// Flask 0.10's `TaggedJSONSerializer` object hook, applied bottom-up, as the
/// `load_flask_session` docs describe it: a one-entry object `{" t": array}` becomes the
/// array, `{" u" | " m" | " d": string}` the string, `{" b": base64}` the string it encodes
/// when that is UTF-8; anything else stays.
fn untag(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(untag).collect()),
        Value::Object(map) => {
            let map: Map<String, Value> = map.into_iter().map(|(k, v)| (k, untag(v))).collect();
            let decoded = match map.iter().next() {
                Some((tag, inner)) if map.len() == 1 => match (tag.as_str(), inner) {
                    (" t", Value::Array(_)) | (" u" | " m" | " d", Value::String(_)) => {
                        Some(inner.clone())
                    }
                    (" b", Value::String(b64)) => STANDARD
                        .decode(b64)
                        .ok()
                        .and_then(|bytes| String::from_utf8(bytes).ok())
                        .map(Value::String),
                    _ => None,
                },
                _ => None,
            };
            decoded.unwrap_or(Value::Object(map))
        }
        other => other,
    }
}

/// The age `loads` computes for a `ts` field holding `ts_bytes`, or `None` when it is too long.
fn age_of(ts_bytes: &[u8], now: i64) -> Option<i128> {
    if ts_bytes.len() > 8 {
        return None;
    }
    let mut be = [0u8; 8];
    be[8 - ts_bytes.len()..].copy_from_slice(ts_bytes);
    Some(i128::from(now) - i128::from(EPOCH) - i128::from(u64::from_be_bytes(be)))
}

fn expired(age: i128, max_age: Option<u64>) -> Option<u64> {
    match max_age {
        Some(max) if age > i128::from(max) => Some(u64::try_from(age).unwrap_or(u64::MAX)),
        _ => None,
    }
}

// ---- tokens: properties -------------------------------------------------------------------

mod tokens {
    use super::*;

    proptest! {
        #![proptest_config(config(256))]

        /// Arbitrary text is never a valid token or session cookie, whatever the key or clock.
        #[test]
        fn arbitrary_text_is_invalid(
            token in token_like(),
            secret in key_text(),
            salt in key_text(),
            max_age in max_age(),
            now in now(),
        ) {
            prop_assert_eq!(
                Serializer::new(&secret, &salt).loads(&token, max_age, now),
                Err(TokenError::Invalid)
            );
            prop_assert_eq!(
                load_flask_session(&token, &secret, max_age, now),
                Err(TokenError::Invalid)
            );
        }

        /// Any change to a validly signed token or cookie (the reference tokens, fresh ones, 1.7.4
        /// fixtures) makes it invalid, even when it is also expired.
        #[test]
        fn mutated_tokens_are_invalid(
            seed in select(TOKEN_SEEDS.clone()),
            mutations in mutations(),
            max_age in max_age(),
            now in now(),
        ) {
            let mutated = mutate(&seed.token, '.', &mutations);
            let got = seed.load(&mutated, max_age, now);
            if mutated != seed.token {
                prop_assert_eq!(got, Err(TokenError::Invalid), "{}", mutated);
            }
        }

        /// `dumps` → `loads` round-trips every list of strings, at any time, in URL-safe text.
        #[test]
        fn dumps_loads_round_trip(
            secret in key_text(),
            salt in key_text(),
            payload in payload(),
            now in now(),
        ) {
            let s = Serializer::new(&secret, &salt);
            let token = s.dumps(&refs(&payload), now);
            prop_assert!(
                token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
                "{}", token
            );
            prop_assert_eq!(s.loads(&token, None, now), Ok(payload.clone()));
            // Age 0 (or dated in the future, before the epoch) is within any max age.
            prop_assert_eq!(s.loads(&token, Some(0), now), Ok(payload.clone()));
            // Signed as itsdangerous signs: the same signature as an independent signer.
            let (value, _) = token.rsplit_once('.').expect("three parts");
            let (p, ts) = value.rsplit_once('.').expect("three parts");
            prop_assert_eq!(&sign(&django_concat_key(&secret, &salt), p, ts), &token);
            prop_assert_eq!(ts, ts_field(now));
        }

        /// A token signed with another secret key or another salt is invalid (unless the two
        /// `salt ‖ "signer" ‖ secret` strings are equal, see
        /// `django_concat_key_derivation_is_ambiguous`); it is no session cookie either.
        #[test]
        fn other_key_or_salt_is_invalid(
            payload in payload(),
            (secret, salt) in (key_text(), key_text()),
            (other_secret, other_salt) in (key_text(), key_text()),
            which in 0u8..3,
            max_age in max_age(),
            now in now(),
        ) {
            let (other_secret, other_salt) = match which {
                0 => (secret.clone(), other_salt),
                1 => (other_secret, salt.clone()),
                _ => (other_secret, other_salt),
            };
            // Equal derivation strings (same key): make the other one longer, hence another key.
            let other_salt = if format!("{salt}signer{secret}")
                == format!("{other_salt}signer{other_secret}")
            {
                format!("{other_salt}x")
            } else {
                other_salt
            };
            let token = Serializer::new(&secret, &salt).dumps(&refs(&payload), now);
            prop_assert_eq!(
                Serializer::new(&other_secret, &other_salt).loads(&token, max_age, now),
                Err(TokenError::Invalid)
            );
            prop_assert_eq!(
                load_flask_session(&token, &secret, max_age, now),
                Err(TokenError::Invalid)
            );
        }

        /// As in itsdangerous: a token exactly `max_age` seconds old is valid, one second more is
        /// expired (with its payload and age); without a max age it never expires; a token
        /// from the future is not expired.
        #[test]
        fn expiry_boundary(
            secret in key_text(),
            salt in key_text(),
            payload in payload(),
            issued in EPOCH..(EPOCH + (1 << 40)),
            max_age in prop_oneof![0u64..100, 0u64..(1 << 40)],
        ) {
            let s = Serializer::new(&secret, &salt);
            let token = s.dumps(&refs(&payload), issued);
            let at_max = issued + i64::try_from(max_age).expect("below 2^40");
            prop_assert_eq!(s.loads(&token, Some(max_age), at_max), Ok(payload.clone()));
            prop_assert_eq!(
                s.loads(&token, Some(max_age), at_max + 1),
                Err(TokenError::Expired { payload: payload.clone(), age: max_age + 1 })
            );
            prop_assert_eq!(s.loads(&token, None, at_max + 1), Ok(payload.clone()));
            prop_assert_eq!(s.loads(&token, Some(u64::MAX), i64::MAX), Ok(payload.clone()));
            prop_assert_eq!(s.loads(&token, Some(max_age), issued - 1), Ok(payload.clone()));
            // Tampered and expired: invalid wins.
            let tampered = format!("{token}A");
            prop_assert_eq!(
                s.loads(&tampered, Some(max_age), at_max + 1),
                Err(TokenError::Invalid)
            );
        }

        /// Correctly signed garbage (any payload bytes, any encoding, any timestamp bytes):
        /// `loads` returns the list when the bytes are a JSON list of strings and `Invalid`
        /// otherwise, with expiry decided by the timestamp; never a panic.
        #[test]
        fn signed_garbage_payloads(
            secret in key_text(),
            salt in key_text(),
            bytes in payload_bytes(),
            encoding in encoding(),
            ts_bytes in vec(any::<u8>(), 0..12),
            max_age in max_age(),
            now in now(),
        ) {
            let key = django_concat_key(&secret, &salt);
            let token = sign(&key, &encoding.encode(&bytes), &URL_SAFE_NO_PAD.encode(&ts_bytes));
            let got = Serializer::new(&secret, &salt).loads(&token, max_age, now);
            let expected = age_of(&ts_bytes, now)
                .and_then(|age| {
                    let json = encoding.decoded(&bytes)?;
                    let payload = serde_json::from_slice::<Vec<String>>(&json).ok()?;
                    Some(match expired(age, max_age) {
                        Some(age) => Err(TokenError::Expired { payload, age }),
                        None => Ok(payload),
                    })
                })
                .unwrap_or(Err(TokenError::Invalid));
            prop_assert_eq!(got, expected);
        }

        /// The same for Flask session cookies: an object when the bytes are a JSON object
        /// (after untagging), `Expired` (empty payload) when old, `Invalid` otherwise.
        #[test]
        fn signed_garbage_sessions(
            secret in key_text(),
            bytes in payload_bytes(),
            encoding in encoding(),
            ts_bytes in vec(any::<u8>(), 0..12),
            max_age in max_age(),
            now in now(),
        ) {
            let key = flask_session_key(&secret);
            let cookie = sign(&key, &encoding.encode(&bytes), &URL_SAFE_NO_PAD.encode(&ts_bytes));
            let got = load_flask_session(&cookie, &secret, max_age, now);
            let decoded = encoding.decoded(&bytes);
            match (age_of(&ts_bytes, now), decoded) {
                (Some(age), Some(json)) => match expired(age, max_age) {
                    Some(age) => prop_assert_eq!(
                        got,
                        Err(TokenError::Expired { payload: Vec::new(), age })
                    ),
                    None => match serde_json::from_slice::<Value>(&json).map(untag) {
                        Ok(session) if session.is_object() => prop_assert_eq!(got, Ok(session)),
                        _ => prop_assert_eq!(got, Err(TokenError::Invalid)),
                    },
                },
                _ => prop_assert_eq!(got, Err(TokenError::Invalid)),
            }
        }

        /// Flask 0.10's tagged values (`" b"`, `" t"`, `" u"`, `" m"`, `" d"`), nested
        /// anywhere, are decoded; what is not a valid tag is left alone.
        #[test]
        fn flask_session_tags_are_decoded(
            secret in key_text(),
            entries in btree_map("[a-z_]{1,8}", tagged_value(), 0..5),
            compress in any::<bool>(),
            now in (EPOCH + 1)..(EPOCH + (1 << 40)),
            age in 0u64..100,
        ) {
            let mut tagged = Map::new();
            let mut plain = Map::new();
            for (k, (t, p)) in entries {
                tagged.insert(k.clone(), t);
                plain.insert(k, p);
            }
            let json = serde_json::to_vec(&Value::Object(tagged)).expect("JSON");
            let encoding = if compress { Encoding::Zlib } else { Encoding::Plain };
            let cookie = sign(&flask_session_key(&secret), &encoding.encode(&json), &ts_field(now));
            let later = now + i64::try_from(age).expect("small");
            prop_assert_eq!(
                load_flask_session(&cookie, &secret, Some(age), later),
                Ok(Value::Object(plain))
            );
            prop_assert_eq!(
                load_flask_session(&cookie, &secret, Some(age), later + 1),
                Err(TokenError::Expired { payload: Vec::new(), age: age + 1 })
            );
            prop_assert_eq!(
                load_flask_session(&cookie, &format!("{secret}x"), None, later),
                Err(TokenError::Invalid)
            );
        }
    }

    /// itsdangerous' "django-concat" derivation hashes `salt ‖ "signer" ‖ secret` without
    /// separators, so shifting the boundary gives the same key. Kept for byte compatibility
    /// with 1.7.4; harmless while salts are fixed configuration values.
    #[test]
    fn django_concat_key_derivation_is_ambiguous() {
        let token = Serializer::new("signery", "x").dumps(&["1"], A3_NOW);
        assert_eq!(
            Serializer::new("y", "xsigner").loads(&token, None, A3_NOW),
            Ok(vec!["1".to_owned()])
        );
    }

    /// The reference tokens load (and dump) as 1.7.4 wrote them.
    #[test]
    fn appendix_a3_round_trips() {
        for (salt, payload, token) in A3 {
            let s = Serializer::new("secret", salt);
            let owned: Vec<String> = payload.iter().map(|p| (*p).to_owned()).collect();
            assert_eq!(s.loads(token, None, A3_NOW), Ok(owned), "{salt}");
            assert_eq!(s.dumps(payload, A3_NOW), token, "{salt}");
        }
    }

    /// A signed zlib bomb (1 MiB of zeros in about 1 KiB) is refused, not inflated.
    #[test]
    fn zlib_bomb_is_invalid() {
        let bomb = Encoding::Zlib.encode(&vec![b' '; 1 << 20]);
        assert!(bomb.len() < 4_096, "{}", bomb.len());
        let ts = ts_field(A3_NOW);
        let token = sign(&django_concat_key("secret", "login-salt"), &bomb, &ts);
        assert_eq!(
            Serializer::new("secret", "login-salt").loads(&token, None, A3_NOW),
            Err(TokenError::Invalid)
        );
        let cookie = sign(&flask_session_key("secret"), &bomb, &ts);
        assert_eq!(
            load_flask_session(&cookie, "secret", None, A3_NOW),
            Err(TokenError::Invalid)
        );
    }

    /// Nesting far deeper than serde_json's recursion limit is refused without a stack
    /// overflow.
    #[test]
    fn deeply_nested_payloads_are_invalid() {
        let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        let objects = format!("{}1{}", "{\"a\":".repeat(200_000), "}".repeat(200_000));
        for bytes in [deep.as_bytes(), objects.as_bytes()] {
            for encoding in [Encoding::Plain, Encoding::Zlib] {
                let p = encoding.encode(bytes);
                let ts = ts_field(A3_NOW);
                let token = sign(&django_concat_key("secret", "login-salt"), &p, &ts);
                assert_eq!(
                    Serializer::new("secret", "login-salt").loads(&token, None, A3_NOW),
                    Err(TokenError::Invalid)
                );
                let cookie = sign(&flask_session_key("secret"), &p, &ts);
                assert_eq!(
                    load_flask_session(&cookie, "secret", None, A3_NOW),
                    Err(TokenError::Invalid)
                );
            }
        }
    }
}

// ---- passwords: helpers and seeds ---------------------------------------------------------

/// The reference hashes' `PASSWORD_SALT`, and the password every one of them is of.
const PEPPER: &str = "salty";
const PASSWORD: &str = "password";

/// Reference hashes: what 1.7.4 stored for `password` with `PASSWORD_SALT = "salty"`.
const A2: [(Scheme, &str); 9] = [
    (
        Scheme::Bcrypt,
        "$2a$12$KZCEyioL/A4DpthN4X/nae1NEhqM8kqSEgazk/J8lUBdMAZ7Bzhym",
    ),
    (
        Scheme::Bcrypt,
        "$2a$12$Xg5AP3NUY5gZoMjoAnYsxePYg3uWQTn8d0z3OcZ8mqPTHokri6PIK",
    ),
    (Scheme::DesCrypt, "GYxgJCs3j6jpA"),
    (
        Scheme::Pbkdf2Sha256,
        "$pbkdf2-sha256$20000$Y4yRkjJGSAnhnFPK2XtP6Q$CMl7O8HUr57lIFG084.XM8Q2ue9IbUDtlegdTxJyy/k",
    ),
    (
        Scheme::Pbkdf2Sha512,
        "$pbkdf2-sha512$19000$USrF2HtPidHa2zvHuDdGiA$4qiYSItA/HgRcbYc/ArmebBNhBvuEpOsYGk20nd80Uyatj3Pj6/P4tLmvA3SmgVhe7gy.QLaerJew1lMLwCzWw",
    ),
    (
        Scheme::Pbkdf2Sha512,
        "$pbkdf2-sha512$19000$sLY25jwHAMDYuxfCOMfY.w$zb6EZungMmVaqifOnLgxAa7Um/jwMkzu2KDnd0VpAa05xo8.nciXc.y4B2qLIz1ho4mti/L7F8zxQDyCaaQ2SQ",
    ),
    (
        Scheme::Sha256Crypt,
        "$5$rounds=110000$Xetad1L9cZFyDoiM$ZdIAnneYIbtn7qwkLOAFoC6BZ1KWNniMta5zWJo5ED3",
    ),
    (
        Scheme::Sha512Crypt,
        "$6$rounds=100000$jEaF9glXdRaNjxbx$zcYSuOmZR4mrPioLuR9sOihEm2VFmog8OQtitxda3k0QfUXReAog3bjM6net4hvqi6pSHzFgyawoludzhx5gy0",
    ),
    (Scheme::Plaintext, "password"),
];

/// Caps on the cost fields of generated stored values (see [`defuse`]).
const MAX_BCRYPT_COST: u32 = 5;
const MAX_ROUNDS: u64 = 2_000;
const MAX_ARGON2: [(&str, u32); 3] = [("m", 256), ("t", 2), ("p", 4)];

/// Caps the cost fields of `stored` as the parsers read them (bcrypt's two cost digits, the
/// pbkdf2 rounds, sha-crypt's `rounds=`, argon2's `m`/`t`/`p`), so that a generated value
/// costs milliseconds to verify. Fields that do not parse as numbers are left alone: they are
/// refused before any hashing.
fn defuse(stored: &str) -> String {
    let mut s = stored.to_owned();
    let too_big = |field: &str, cap: u64| field.parse::<u64>().is_ok_and(|n| n > cap);
    if s.starts_with("$2") {
        // `$2a$NN$…`; `$2$NN$…` is read as `$2a$NN$…`.
        let at = if s.starts_with("$2$") { 3 } else { 4 };
        if s.get(at..at + 2)
            .is_some_and(|cost| too_big(cost, MAX_BCRYPT_COST.into()))
        {
            s.replace_range(at..at + 2, "04");
        }
    }
    for prefix in [
        "$pbkdf2-sha256$",
        "$pbkdf2-sha512$",
        "$5$rounds=",
        "$6$rounds=",
    ] {
        if let Some(rest) = s.strip_prefix(prefix) {
            let end = rest.find('$').unwrap_or(rest.len());
            if too_big(&rest[..end], MAX_ROUNDS) {
                s.replace_range(prefix.len()..prefix.len() + end, "1000");
            }
        }
    }
    if s.starts_with("$argon2") {
        let segments: Vec<String> = s
            .split('$')
            .map(|segment| {
                let params: Vec<String> = segment
                    .split(',')
                    .map(|param| {
                        let Some((name, value)) = param.split_once('=') else {
                            return param.to_owned();
                        };
                        match MAX_ARGON2.iter().find(|(n, _)| *n == name) {
                            Some((_, cap)) if too_big(value, (*cap).into()) => {
                                format!("{name}={cap}")
                            }
                            _ => param.to_owned(),
                        }
                    })
                    .collect();
                params.join(",")
            })
            .collect();
        s = segments.join("$");
    }
    s
}

/// passlib's "adapted Base64": standard alphabet, `.` for `+`, no padding.
fn ab64(bytes: &[u8]) -> String {
    STANDARD_NO_PAD.encode(bytes).replace('+', ".")
}

/// The Flask-Security pre-hash `get_hmac` (HMAC-SHA512 under the salt, base64).
fn get_hmac(pepper: &str, password: &str) -> String {
    Passwords::new(Scheme::Plaintext, Some(pepper.to_owned()))
        .get_hmac(password)
        .expect("a salt is set")
}

/// A cheap stored hash, in passlib's formats, written with the hashing crates directly (low costs).
#[derive(Debug, Clone, Copy)]
enum Cheap {
    /// bcrypt cost 4 or 5 with this ident.
    Bcrypt(&'static str, u32),
    Pbkdf2Sha512(u32),
    Pbkdf2Sha256(u32),
    /// SHA-crypt; `rounds_field` is written as it is (glibc clamps it to 1000..).
    Sha512Crypt(Option<&'static str>),
    Sha256Crypt(Option<&'static str>),
    /// Argon2 with this variant and version; pre-hashed (`true`) or of the raw password.
    Argon2(argon2::Algorithm, argon2::Version, bool),
}

fn cheap() -> impl Strategy<Value = Cheap> {
    let rounds = || {
        select(
            &[
                None,
                Some("1000"),
                Some("999"),
                Some("0"),
                Some("1"),
                Some("10"),
                Some("01000"),
            ][..],
        )
    };
    prop_oneof![
        (
            select(&["$2a$", "$2b$", "$2x$", "$2y$", "$2$"][..]),
            4u32..=5
        )
            .prop_map(|(ident, cost)| Cheap::Bcrypt(ident, cost)),
        (1u32..=1_000).prop_map(Cheap::Pbkdf2Sha512),
        (1u32..=1_000).prop_map(Cheap::Pbkdf2Sha256),
        rounds().prop_map(Cheap::Sha512Crypt),
        rounds().prop_map(Cheap::Sha256Crypt),
        (
            select(
                &[
                    argon2::Algorithm::Argon2id,
                    argon2::Algorithm::Argon2i,
                    argon2::Algorithm::Argon2d,
                ][..]
            ),
            select(&[argon2::Version::V0x13, argon2::Version::V0x10][..]),
            any::<bool>(),
        )
            .prop_map(|(alg, version, peppered)| Cheap::Argon2(alg, version, peppered)),
    ]
}

impl Cheap {
    fn scheme(self) -> Scheme {
        match self {
            Cheap::Bcrypt(..) => Scheme::Bcrypt,
            Cheap::Pbkdf2Sha512(_) => Scheme::Pbkdf2Sha512,
            Cheap::Pbkdf2Sha256(_) => Scheme::Pbkdf2Sha256,
            Cheap::Sha512Crypt(_) => Scheme::Sha512Crypt,
            Cheap::Sha256Crypt(_) => Scheme::Sha256Crypt,
            Cheap::Argon2(..) => Scheme::Argon2,
        }
    }

    /// Whether the hash is of `get_hmac(password)` (else of the password itself).
    fn peppered(self) -> bool {
        !matches!(self, Cheap::Argon2(_, _, false))
    }

    /// The stored value for `password` with `pepper` and the 16 `salt` bytes.
    fn hash(self, password: &str, pepper: &str, salt: [u8; 16]) -> String {
        use argon2::PasswordHasher as _;
        let secret = if self.peppered() {
            get_hmac(pepper, password)
        } else {
            password.to_owned()
        };
        let secret = secret.as_bytes();
        match self {
            Cheap::Bcrypt(ident, cost) => {
                let key = &secret[..secret.len().min(72)];
                let stored = bcrypt::hash_with_salt(key, cost, salt)
                    .expect("bcrypt hashes")
                    .format_for_version(bcrypt::Version::TwoA);
                stored.replacen("$2a$", ident, 1)
            }
            Cheap::Pbkdf2Sha512(rounds) => {
                let mut key = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<sha2::Sha512>(secret, &salt, rounds, &mut key);
                format!("$pbkdf2-sha512${rounds}${}${}", ab64(&salt), ab64(&key))
            }
            Cheap::Pbkdf2Sha256(rounds) => {
                let mut key = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(secret, &salt, rounds, &mut key);
                format!("$pbkdf2-sha256${rounds}${}${}", ab64(&salt), ab64(&key))
            }
            Cheap::Sha512Crypt(rounds) => {
                sha_crypt_hash(sha_crypt::Algorithm::Sha512Crypt, secret, &salt, rounds)
            }
            Cheap::Sha256Crypt(rounds) => {
                sha_crypt_hash(sha_crypt::Algorithm::Sha256Crypt, secret, &salt, rounds)
            }
            Cheap::Argon2(alg, version, _) => {
                let params = argon2::Params::new(64, 1, 1, None).expect("valid parameters");
                argon2::Argon2::new(alg, version, params)
                    .hash_password_with_salt(secret, &salt)
                    .expect("argon2 hashes")
                    .to_string()
            }
        }
    }
}

/// SHA-crypt with 1000 rounds (glibc's minimum) or, for `rounds_field` `None`, 5000 rounds
/// and no `rounds=` field; other `rounds_field` values (all clamped to 1000 by glibc) replace
/// `1000` textually.
fn sha_crypt_hash(
    algorithm: sha_crypt::Algorithm,
    secret: &[u8],
    salt: &[u8],
    rounds_field: Option<&str>,
) -> String {
    use sha_crypt::PasswordHasher as _;
    let rounds = if rounds_field.is_some() { 1_000 } else { 5_000 };
    let params = sha_crypt::Params::new(rounds).expect("valid rounds");
    let stored = sha_crypt::ShaCrypt::new(algorithm, params)
        .hash_password_with_salt(secret, &salt[..12])
        .expect("sha-crypt hashes")
        .to_string();
    match rounds_field {
        Some(field) => stored.replacen("rounds=1000$", &format!("rounds={field}$"), 1),
        None => stored.replacen("rounds=5000$", "", 1),
    }
}

/// Stored values to mutate: the reference hashes, cheap hashes of `password` (pepper `salty`) for
/// every scheme and variant, and the glibc SHA-crypt vectors.
static HASH_SEEDS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut seeds: Vec<String> = A2.iter().map(|(_, stored)| (*stored).to_owned()).collect();
    let salt = *b"0123456789abcdef";
    let variants = [
        Cheap::Bcrypt("$2a$", 4),
        Cheap::Bcrypt("$2b$", 4),
        Cheap::Bcrypt("$2y$", 4),
        Cheap::Bcrypt("$2x$", 4),
        Cheap::Bcrypt("$2$", 4),
        Cheap::Pbkdf2Sha512(1_000),
        Cheap::Pbkdf2Sha256(1_000),
        Cheap::Sha512Crypt(Some("1000")),
        Cheap::Sha512Crypt(None),
        Cheap::Sha256Crypt(Some("1000")),
        Cheap::Sha256Crypt(None),
        Cheap::Argon2(argon2::Algorithm::Argon2id, argon2::Version::V0x13, true),
        Cheap::Argon2(argon2::Algorithm::Argon2id, argon2::Version::V0x13, false),
        Cheap::Argon2(argon2::Algorithm::Argon2i, argon2::Version::V0x10, true),
    ];
    seeds.extend(variants.iter().map(|c| c.hash(PASSWORD, PEPPER, salt)));
    seeds.extend([
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1".to_owned(),
        "$5$rounds=10$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC".to_owned(),
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG".to_owned(),
    ]);
    seeds
});

/// Prefixes of every format, and near misses.
const HASH_PREFIXES: &[&str] = &[
    "$2$",
    "$2a$",
    "$2b$",
    "$2x$",
    "$2y$",
    "$2c$",
    "$2a",
    "$pbkdf2-sha256$",
    "$pbkdf2-sha512$",
    "$pbkdf2-sha1$",
    "$pbkdf2$",
    "$5$",
    "$6$",
    "$5$rounds=",
    "$6$rounds=",
    "$1$",
    "$7$",
    "$argon2id$",
    "$argon2i$",
    "$argon2d$",
    "$argon2$",
    "$argon2id$v=19$m=64,t=1,p=1$",
    "$",
    "",
];

/// Base64-ish text for salts and checksums.
fn b64ish() -> impl Strategy<Value = String> {
    prop_oneof![
        "[./0-9A-Za-z]{0,90}",
        "[A-Za-z0-9+/=]{0,90}",
        vec(any::<u8>(), 0..70).prop_map(|b| ab64(&b)),
        Just(String::new()),
        "\\PC{0,10}",
    ]
}

/// A stored value assembled field by field, mostly well-formed so that the hashing runs.
fn structured_hash() -> impl Strategy<Value = String> {
    prop_oneof![
        // bcrypt: ident, cost, 53 characters of its alphabet (or not).
        (
            select(&["$2$", "$2a$", "$2b$", "$2x$", "$2y$"][..]),
            prop_oneof![
                (0u32..=6).prop_map(|c| format!("{c:02}")),
                "[0-9a-z+ ]{0,3}"
            ],
            prop_oneof!["[./A-Za-z0-9]{53}", "[./A-Za-z0-9]{50,56}", b64ish()],
        )
            .prop_map(|(ident, cost, rest)| format!("{ident}{cost}${rest}")),
        // pbkdf2: rounds, salt, checksum of the right length (or not).
        (
            select(&["$pbkdf2-sha256$", "$pbkdf2-sha512$"][..]),
            rounds_field(),
            b64ish(),
            prop_oneof![
                vec(any::<u8>(), 32).prop_map(|b| ab64(&b)),
                vec(any::<u8>(), 64).prop_map(|b| ab64(&b)),
                b64ish(),
            ],
            option::of(junk()),
        )
            .prop_map(|(prefix, rounds, salt, checksum, extra)| {
                let extra = extra.map(|e| format!("${e}")).unwrap_or_default();
                format!("{prefix}{rounds}${salt}${checksum}{extra}")
            }),
        // sha-crypt: optional rounds, salt, checksum of the crypt alphabet.
        (
            select(&["$5$", "$6$"][..]),
            option::of(rounds_field()),
            prop_oneof!["[./0-9A-Za-z]{0,20}", "\\PC{0,20}"],
            prop_oneof!["[./0-9A-Za-z]{43}", "[./0-9A-Za-z]{86}", b64ish()],
        )
            .prop_map(|(prefix, rounds, salt, checksum)| {
                let rounds = rounds.map(|r| format!("rounds={r}$")).unwrap_or_default();
                format!("{prefix}{rounds}{salt}${checksum}")
            }),
        // argon2: small parameters in any order, salt and hash in PHC Base64 (or not).
        (
            select(&["$argon2id$", "$argon2i$", "$argon2d$"][..]),
            select(&["v=19$", "v=16$", "", "v=20$", "v=$"][..]),
            vec(
                prop_oneof![
                    (0u32..=300).prop_map(|m| format!("m={m}")),
                    (0u32..=3).prop_map(|t| format!("t={t}")),
                    (0u32..=5).prop_map(|p| format!("p={p}")),
                    rounds_field().prop_map(|r| format!("m={r}")),
                    "keyid=[A-Za-z0-9]{0,10}",
                    "data=[A-Za-z0-9]{0,10}",
                    "[a-z]{1,3}=[0-9]{1,3}",
                ],
                0..5,
            ),
            prop_oneof![
                vec(any::<u8>(), 0..70).prop_map(|b| STANDARD_NO_PAD.encode(b)),
                b64ish()
            ],
            prop_oneof![
                vec(any::<u8>(), 0..70).prop_map(|b| STANDARD_NO_PAD.encode(b)),
                b64ish()
            ],
        )
            .prop_map(|(prefix, version, params, salt, hash)| {
                format!("{prefix}{version}{}${salt}${hash}", params.join(","))
            }),
    ]
}

/// Any stored value, with its cost fields capped by [`defuse`].
fn stored_value() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        2 => (select(HASH_PREFIXES), junk()).prop_map(|(p, j)| format!("{p}{j}")),
        1 => "[./0-9A-Za-z]{12,14}",
        4 => (select(HASH_SEEDS.clone()), mutations())
            .prop_map(|(seed, ms)| mutate(&seed, '$', &ms)),
        1 => select(HASH_SEEDS.clone()),
        3 => structured_hash(),
    ]
    .prop_map(|s| defuse(&s))
}

/// Passwords: the seeds' own, and anything.
fn password() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(PASSWORD.to_owned()),
        2 => any::<String>(),
        1 => "[ -~]{0,20}",
    ]
}

/// `SECURITY_PASSWORD_SALT`: the reference hashes' one, none, or anything.
fn pepper() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(Some(PEPPER.to_owned())),
        Just(None),
        any::<String>().prop_map(Some),
    ]
}

/// Whether a scheme pre-hashes with the salt, so that it cannot work without one.
fn needs_pepper(scheme: Scheme) -> bool {
    !matches!(scheme, Scheme::Plaintext | Scheme::Argon2)
}

/// Whether a successful verification of `password` against `stored` is explained: `stored`
/// derives from the seeds' password, or is the password (or its pre-hash) in plain text.
fn explained(password: &str, stored: &str, pepper: Option<&str>) -> bool {
    password == PASSWORD
        || stored == password
        || pepper.is_some_and(|pepper| get_hmac(pepper, password) == stored)
}

/// Scheme identification as passlib's `identify` does it for 1.7.4's schemes, plus the port's
/// `$2b$` and argon2.
fn reference_identify(stored: &str) -> Scheme {
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| stored.starts_with(p));
    if starts(&["$2$", "$2a$", "$2b$", "$2x$", "$2y$"]) {
        Scheme::Bcrypt
    } else if stored.len() == 13
        && stored
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    {
        Scheme::DesCrypt
    } else if starts(&["$pbkdf2-sha256$"]) {
        Scheme::Pbkdf2Sha256
    } else if starts(&["$pbkdf2-sha512$"]) {
        Scheme::Pbkdf2Sha512
    } else if starts(&["$5$"]) {
        Scheme::Sha256Crypt
    } else if starts(&["$6$"]) {
        Scheme::Sha512Crypt
    } else if starts(&["$argon2id$", "$argon2i$", "$argon2d$"]) {
        Scheme::Argon2
    } else {
        Scheme::Plaintext
    }
}

// ---- passwords: properties ----------------------------------------------------------------

mod passwords {
    use super::*;

    proptest! {
        #![proptest_config(config(512))]

        /// `Scheme::identify` is total and follows passlib's identification (with `$2b$` and
        /// argon2 added).
        #[test]
        fn identify_follows_the_spec(
            stored in prop_oneof![
                any::<String>(),
                (select(HASH_PREFIXES), "\\PC{0,20}").prop_map(|(p, s)| format!("{p}{s}")),
                "[./0-9A-Za-z]{11,15}",
                ("[./0-9A-Za-z]{12}", any::<char>()).prop_map(|(s, c)| format!("{s}{c}")),
                select(HASH_SEEDS.clone()),
            ],
        ) {
            let scheme = Scheme::identify(&stored);
            prop_assert_eq!(scheme, reference_identify(&stored));
            prop_assert_eq!(Scheme::from_name(scheme.name()), Some(scheme));
        }

        /// `Scheme::from_name` knows exactly the eight configuration names.
        #[test]
        fn from_name_is_exact(
            name in prop_oneof![
                any::<String>(),
                select(Scheme::ALL.map(Scheme::name).to_vec()).prop_map(str::to_owned),
                (select(Scheme::ALL.map(Scheme::name).to_vec()), junk())
                    .prop_map(|(n, j)| format!("{n}{j}")),
                select(Scheme::ALL.map(Scheme::name).to_vec())
                    .prop_map(|n| n.to_uppercase().replace('_', "-")),
            ],
        ) {
            let expected = Scheme::ALL.into_iter().find(|s| s.name() == name);
            prop_assert_eq!(Scheme::from_name(&name), expected);
        }
    }

    /// Any stored value, for every configured scheme, with or without a salt: verifying gives
    /// `Ok(false)` unless explained, or `MissingSalt` when the salt is needed and not set;
    /// never a panic or another error. (`Backend` only when the configured scheme is the
    /// verify-only des_crypt and a login succeeded: its re-hash cannot be written.)
    #[test]
    fn verify_any_stored_value() {
        let strategy = (
            select(Scheme::ALL.to_vec()),
            pepper(),
            password(),
            stored_value(),
        );
        run_slow("verify_any_stored_value", 96, 10, strategy, |args| {
            let (configured, pepper, password, stored) = args;
            let passwords = Passwords::new(configured, pepper.clone());
            let explained = explained(&password, &stored, pepper.as_deref());
            match passwords.verify_blocking(&password, &stored) {
                Ok(ok) => prop_assert!(!ok || explained, "verified {:?}", stored),
                Err(HashError::MissingSalt { .. }) => {
                    prop_assert!(pepper.is_none() && needs_pepper(configured));
                }
                Err(err) => prop_assert!(false, "{}: {:?}", err, stored),
            }
            match passwords.verify_and_update_blocking(&password, &stored) {
                Ok(Verified { ok, new_hash }) => {
                    prop_assert!(!ok || explained, "verified {:?}", stored);
                    prop_assert!(ok || new_hash.is_none());
                }
                Err(HashError::MissingSalt { .. }) => prop_assert!(pepper.is_none()),
                Err(HashError::Backend(_)) if configured == Scheme::DesCrypt && explained => {}
                Err(err) => prop_assert!(false, "{}: {:?}", err, stored),
            }
            Ok(())
        });
    }

    /// Hashes written per passlib's formats (cheap costs, every ident/variant, rounds fields
    /// glibc clamps) verify, under the right salt only; a login migrates them by re-hashing
    /// the original password (1.7.4 re-hashed the pre-hashed one, which locked the user out).
    #[test]
    fn spec_recipe_hashes_verify() {
        let strategy = (
            cheap(),
            password(),
            password(),
            any::<String>(),
            any::<[u8; 16]>(),
        );
        run_slow("spec_recipe_hashes_verify", 48, 10, strategy, |args| {
            let (cheap, password, other, pepper, salt) = args;
            let stored = cheap.hash(&password, &pepper, salt);
            let scheme = cheap.scheme();
            prop_assert_eq!(Scheme::identify(&stored), scheme, "{}", stored);
            let salt_setting = cheap.peppered().then(|| pepper.clone());
            let passwords = Passwords::new(scheme, salt_setting.clone());
            prop_assert!(
                passwords.verify_blocking(&password, &stored).unwrap(),
                "{}",
                stored
            );
            if other != password {
                prop_assert!(
                    !passwords.verify_blocking(&other, &stored).unwrap(),
                    "{}",
                    stored
                );
            }
            if cheap.peppered() {
                let wrong_pepper = Passwords::new(scheme, Some(format!("{pepper}x")));
                prop_assert!(!wrong_pepper.verify_blocking(&password, &stored).unwrap());
            }
            // verify_and_update with plaintext configured: the re-hash is cheap and must be
            // the original password.
            let to_plain = Passwords::new(Scheme::Plaintext, salt_setting);
            prop_assert_eq!(
                to_plain
                    .verify_and_update_blocking(&password, &stored)
                    .unwrap(),
                Verified {
                    ok: true,
                    new_hash: Some(password.clone())
                }
            );
            Ok(())
        });
    }

    /// Mutated cheap hashes of a random password never verify another password.
    #[test]
    fn mutated_hashes_do_not_verify_other_passwords() {
        let strategy = (
            cheap(),
            "[ -~]{0,12}",
            password(),
            any::<[u8; 16]>(),
            mutations(),
        );
        run_slow(
            "mutated_hashes_do_not_verify_other_passwords",
            96,
            10,
            strategy,
            |args| {
                let (cheap, password, other, salt, mutations) = args;
                let other = if other == password {
                    format!("{other}x")
                } else {
                    other
                };
                let hash = cheap.hash(&password, PEPPER, salt);
                let stored = defuse(&mutate(&hash, '$', &mutations));
                let explained = explained(&other, &stored, Some(PEPPER));
                for configured in [cheap.scheme(), Scheme::Plaintext] {
                    let passwords = Passwords::new(configured, Some(PEPPER.to_owned()));
                    let ok = passwords.verify_blocking(&other, &stored).unwrap();
                    prop_assert!(!ok || explained, "{}", stored);
                    let v = passwords
                        .verify_and_update_blocking(&other, &stored)
                        .unwrap();
                    prop_assert!(!v.ok || explained, "{}", stored);
                }
                Ok(())
            },
        );
    }

    proptest! {
        #![proptest_config(config(256))]

        /// Plaintext: a stored password verifies itself unless it is empty or looks like a
        /// hash (the 1.7.4 identification quirk: such a value is taken for a hash); without a
        /// salt, a DES-shaped plaintext password still logs in (`verify_and_update`).
        #[test]
        fn plaintext_round_trip(
            password in prop_oneof![
                any::<String>(),
                "[./0-9A-Za-z]{13}",
                (select(HASH_PREFIXES), "[a-z]{0,8}").prop_map(|(p, s)| format!("{p}{s}")),
            ],
        ) {
            let identified = Scheme::identify(&password);
            let passwords = Passwords::new(Scheme::Plaintext, None);
            prop_assert_eq!(
                passwords.verify_blocking(&password, &password).unwrap(),
                !password.is_empty() && identified == Scheme::Plaintext
            );
            let v = passwords.verify_and_update_blocking(&password, &password);
            if needs_pepper(identified) && identified != Scheme::DesCrypt {
                prop_assert!(matches!(v, Err(HashError::MissingSalt { .. })), "{:?}", v);
            } else {
                prop_assert_eq!(
                    v.unwrap(),
                    Verified {
                        ok: !password.is_empty()
                            && matches!(identified, Scheme::Plaintext | Scheme::DesCrypt),
                        new_hash: None
                    }
                );
            }
        }
    }

    /// `hash_blocking` with the real costs round-trips for every writable scheme (slow:
    /// bcrypt cost 12 alone is a quarter of a second per hash).
    #[test]
    fn configured_schemes_round_trip() {
        run_slow(
            "configured_schemes_round_trip",
            2,
            2_000,
            (password(), pepper()),
            |(password, pepper)| {
                for scheme in Scheme::ALL.into_iter().filter(|s| s.can_hash()) {
                    let passwords = Passwords::new(scheme, pepper.clone());
                    let stored = match passwords.hash_blocking(&password) {
                        Ok(stored) => stored,
                        Err(HashError::MissingSalt { .. }) => {
                            prop_assert!(pepper.is_none() && needs_pepper(scheme));
                            continue;
                        }
                        Err(err) => return Err(TestCaseError::fail(err.to_string())),
                    };
                    if scheme == Scheme::Plaintext {
                        prop_assert_eq!(&stored, &password);
                        continue; // plaintext_round_trip covers it.
                    }
                    prop_assert_eq!(Scheme::identify(&stored), scheme);
                    prop_assert!(passwords.verify_blocking(&password, &stored).unwrap());
                    prop_assert_eq!(
                        passwords
                            .verify_and_update_blocking(&password, &stored)
                            .unwrap(),
                        Verified {
                            ok: true,
                            new_hash: None
                        }
                    );
                }
                Ok(())
            },
        );
    }

    /// Every reference hash 1.7.4 wrote for `password` (salt `salty`) verifies, once.
    #[test]
    fn appendix_a2_verifies() {
        for (scheme, stored) in A2 {
            assert_eq!(Scheme::identify(stored), scheme, "{stored}");
            let passwords = Passwords::new(scheme, Some(PEPPER.to_owned()));
            assert!(
                passwords.verify_blocking(PASSWORD, stored).unwrap(),
                "{stored}"
            );
        }
    }

    /// The caps of `defuse` leave the reference hashes' formats parseable and touch nothing cheap.
    #[test]
    fn defuse_caps_only_cost_fields() {
        assert_eq!(
            defuse("$2a$12$KZCEyioL/A4DpthN4X/nae1NEhqM8kqSEgazk/J8lUBdMAZ7Bzhym"),
            "$2a$04$KZCEyioL/A4DpthN4X/nae1NEhqM8kqSEgazk/J8lUBdMAZ7Bzhym"
        );
        assert_eq!(defuse("$2$31$x"), "$2$04$x");
        assert_eq!(
            defuse("$pbkdf2-sha512$19000$a$b"),
            "$pbkdf2-sha512$1000$a$b"
        );
        assert_eq!(defuse("$pbkdf2-sha256$4294967295"), "$pbkdf2-sha256$1000");
        assert_eq!(defuse("$6$rounds=999999999$s$c"), "$6$rounds=1000$s$c");
        assert_eq!(defuse("$5$rounds=0$s$c"), "$5$rounds=0$s$c");
        assert_eq!(
            defuse("$argon2id$v=19$m=19456,t=2,p=1$s$h"),
            "$argon2id$v=19$m=256,t=2,p=1$s$h"
        );
        assert_eq!(
            defuse("$argon2i$v=19$m=8,t=4294967295,p=9$s$h"),
            "$argon2i$v=19$m=8,t=2,p=4$s$h"
        );
        for (_, stored) in A2
            .iter()
            .filter(|(s, _)| !s.can_hash() || *s == Scheme::Plaintext)
        {
            assert_eq!(defuse(stored), *stored);
        }
    }
}

// ---- huge cost fields ---------------------------------------------------------------------

/// Stored values whose cost fields are absurd. Honoured, one verification of each takes (release
/// build, measured by extrapolation): pbkdf2-sha512 ~48 min, pbkdf2-sha256 ~9 min,
/// sha512-crypt ~14 min, sha256-crypt ~4 min, bcrypt cost 31 ~44 h, argon2 `t=2^32-1` ~3.7 h.
/// They can only come from the database, but one row should not pin a hashing thread (and
/// with it one of the `Passwords` semaphore permits). Argon2's `m` (memory, KiB, up to
/// `u32::MAX`) is the same problem in memory; it is left out here so that running this test
/// cannot exhaust the machine's memory (`argon2_memory_ceiling` checks it without verifying).
const HUGE_COSTS: [&str; 7] = [
    "$pbkdf2-sha512$4294967295$USrF2HtPidHa2zvHuDdGiA$4qiYSItA/HgRcbYc/ArmebBNhBvuEpOsYGk20nd80Uyatj3Pj6/P4tLmvA3SmgVhe7gy.QLaerJew1lMLwCzWw",
    "$pbkdf2-sha256$4294967295$Y4yRkjJGSAnhnFPK2XtP6Q$CMl7O8HUr57lIFG084.XM8Q2ue9IbUDtlegdTxJyy/k",
    "$6$rounds=999999999$jEaF9glXdRaNjxbx$zcYSuOmZR4mrPioLuR9sOihEm2VFmog8OQtitxda3k0QfUXReAog3bjM6net4hvqi6pSHzFgyawoludzhx5gy0",
    "$5$rounds=4294967295$Xetad1L9cZFyDoiM$ZdIAnneYIbtn7qwkLOAFoC6BZ1KWNniMta5zWJo5ED3",
    "$2a$31$KZCEyioL/A4DpthN4X/nae1NEhqM8kqSEgazk/J8lUBdMAZ7Bzhym",
    "$2$31$KZCEyioL/A4DpthN4X/nae1NEhqM8kqSEgazk/J8lUBdMAZ7Bzhym",
    "$argon2id$v=19$m=8,t=4294967295,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
];

/// The expected behaviour for huge cost fields: verification refuses them (`Ok(false)`)
/// within a second or two instead of honouring them. Each value is verified on its own
/// thread; threads still running at the deadline are reported (and left to die with the test
/// process).
#[test]
fn huge_cost_fields_are_refused_quickly() {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    const DEADLINE: Duration = Duration::from_secs(3);
    let started = Instant::now();
    let (done, results) = mpsc::channel();
    for stored in HUGE_COSTS {
        let done = done.clone();
        std::thread::spawn(move || {
            let scheme = Scheme::identify(stored);
            let result = Passwords::new(scheme, Some(PEPPER.to_owned()))
                .verify_blocking(PASSWORD, stored)
                .map_err(|err| err.to_string());
            let _ = done.send((stored, result, started.elapsed()));
        });
    }
    drop(done);
    let mut finished = Vec::new();
    while let Some(left) = DEADLINE.checked_sub(started.elapsed()) {
        match results.recv_timeout(left) {
            Ok(result) => finished.push(result),
            Err(_) => break,
        }
    }
    for (stored, result, elapsed) in &finished {
        assert_eq!(result, &Ok(false), "{stored} (after {elapsed:?})");
    }
    let still_running: Vec<&str> = HUGE_COSTS
        .into_iter()
        .filter(|stored| !finished.iter().any(|(s, _, _)| s == stored))
        .collect();
    assert!(
        still_running.is_empty(),
        "still verifying after {DEADLINE:?}: {still_running:#?}"
    );
}

/// Argon2's memory cost is refused above the ceiling before anything is allocated: 4 GiB here.
#[test]
fn argon2_memory_ceiling() {
    let stored = "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
    let started = std::time::Instant::now();
    let verified = Passwords::new(Scheme::Argon2, None).verify_blocking(PASSWORD, stored);
    assert_eq!(verified.map_err(|e| e.to_string()), Ok(false));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}
