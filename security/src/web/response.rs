//! The answers of the security views and guards: 1.7.4's JSON envelope (and 5.9's error
//! shape inside it), HTML pages, redirects and the decorators' 401 page.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde_json::{Value, json};

/// Field errors of a form, in 1.7.4's shape: field name → messages in validation order.
pub type FormErrors = BTreeMap<String, Vec<String>>;

/// A JSON answer `{"meta": {"code": code}, "response": response}`, pretty-printed with sorted
/// keys as 1.7.4 does, `Content-Type: application/json`. The HTTP status is 200 unless
/// `http_status` asks for `code` itself (`SECURITY_JSON_HTTP_STATUS_CODES`, so that clients can
/// tell an error from a success by the status).
pub fn json_envelope(code: u16, response: Value, http_status: bool) -> Response {
    let body = json!({ "meta": { "code": code }, "response": response });
    let text = serde_json::to_string_pretty(&body).unwrap_or_else(|_| "{}".to_owned());
    let status = if http_status {
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
    } else {
        StatusCode::OK
    };
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(text))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A JSON validation failure: `meta.code` 400 with `response.errors`.
pub fn json_errors(errors: &FormErrors, http_status: bool) -> Response {
    json_envelope(400, json!({ "errors": errors }), http_status)
}

/// A request refused by a rate limit, in JSON: HTTP 429 (whatever
/// `SECURITY_JSON_HTTP_STATUS_CODES` says: 1.7.4 had no such answer to stay compatible with),
/// `Retry-After`, `{"meta": {"code": 429}, "response": {"errors": {"": [message]},
/// "retry_after": seconds}}`.
pub fn too_many_json(message: &str, retry_after: u64) -> Response {
    let mut response = json_envelope(
        429,
        json!({ "errors": { "": [message] }, "retry_after": retry_after }),
        true,
    );
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, retry_after.into());
    response
}

/// Flask-Security 5.9's JSON error payload (its `json_error_response`): `errors`, a list of
/// every message (`errors` first, then each field's, fields in name order), and, when a field
/// has an error, `field_errors` = field name → its messages. The 5.9 endpoints answer with it
/// (through [`json_error`]), where 1.7.4's put a field map under `errors` ([`json_errors`]).
///
/// ```
/// use security::response::{FormErrors, error_payload};
///
/// let mut fields = FormErrors::new();
/// fields.insert("password".into(), vec!["Invalid password".into()]);
/// let payload = error_payload(&[], &fields);
/// assert_eq!(
///     serde_json::Value::Object(payload),
///     serde_json::json!({
///         "errors": ["Invalid password"],
///         "field_errors": {"password": ["Invalid password"]},
///     })
/// );
/// let plain = error_payload(&["You must reauthenticate".into()], &FormErrors::new());
/// assert!(!plain.contains_key("field_errors"));
/// ```
pub fn error_payload(
    errors: &[String],
    field_errors: &FormErrors,
) -> serde_json::Map<String, Value> {
    let mut payload = serde_json::Map::new();
    let all: Vec<Value> = errors
        .iter()
        .chain(field_errors.values().flatten())
        .map(|message| Value::String(message.clone()))
        .collect();
    if !field_errors.is_empty() {
        payload.insert("field_errors".to_owned(), json!(field_errors));
    }
    payload.insert("errors".to_owned(), Value::Array(all));
    payload
}

/// A Flask-Security 5.9 JSON error answer: the envelope with `meta.code` and the HTTP status
/// both `status` (5.9 sends the status it means), and `payload` (an [`error_payload`], with
/// whatever keys the endpoint adds) as `response`.
pub fn json_error(status: StatusCode, payload: serde_json::Map<String, Value>) -> Response {
    let mut response = json_envelope(status.as_u16(), Value::Object(payload), true);
    *response.status_mut() = status;
    response
}

/// An HTML page (`text/html; charset=utf-8`).
pub fn html(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A 302 redirect to a target that was validated (or built) by the caller.
pub fn redirect(location: &str) -> Response {
    let value = HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    let escaped = escape_html(location);
    Response::builder()
        .status(StatusCode::FOUND)
        .header(LOCATION, value)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(format!(
            "<!DOCTYPE html>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n<p>You should be redirected automatically to target URL: <a href=\"{escaped}\">{escaped}</a>.</p>\n"
        )))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// `text` escaped for HTML by askama's escaper, the one the templates use (`&` as `&#38;`,
/// `<` as `&#60;`, quotes as `&#34;` and `&#39;`).
fn escape_html(text: &str) -> String {
    let Ok(escaped) = askama::filters::escape(text, askama::filters::Html);
    escaped.to_string()
}

const UNAUTHORIZED_PAGE: &str = "<!DOCTYPE html>\n<title>401 Unauthorized</title>\n<h1>Unauthorized</h1>\n<p>The server could not verify that you are authorized to access the URL requested. You either supplied the wrong credentials (e.g. a bad password), or your browser doesn't understand how to supply the credentials required.</p>\n";

/// The decorators' 401: 1.7.4's page (or a JSON envelope), with a Basic challenge for `realm`.
pub fn unauthorized(realm: Option<&str>, json: bool, http_status: bool) -> Response {
    let mut response = if json {
        let mut r = json_envelope(401, json!({ "error": "Unauthorized" }), http_status);
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        r
    } else {
        html(StatusCode::UNAUTHORIZED, UNAUTHORIZED_PAGE.to_owned())
    };
    if let Some(realm) = realm {
        let value = format!("Basic realm=\"{}\"", realm.replace(['"', '\\'], ""));
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
    }
    response
}

/// The role guards' 403 (the documented behaviour of 1.7.4 without
/// `SECURITY_UNAUTHORIZED_VIEW`).
pub fn forbidden(message: &str, json: bool, http_status: bool) -> Response {
    if json {
        let mut r = json_envelope(403, json!({ "error": message }), http_status);
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    html(
        StatusCode::FORBIDDEN,
        format!(
            "<!DOCTYPE html>\n<title>403 Forbidden</title>\n<h1>Forbidden</h1>\n<p>{}</p>\n",
            escape_html(message)
        ),
    )
}

/// Flask's automatic answer to `OPTIONS`: 200, an empty body and the methods in `Allow`. A
/// guard gives it for a handler that routes `OPTIONS` itself (`any(..)`, `.options(..)`, a
/// fallback), whose methods it cannot know: every method is listed.
pub fn automatic_options() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(
            http::header::ALLOW,
            "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT",
        )
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A client error (bad body, too large) as JSON or plain HTML.
pub fn bad_request(status: StatusCode, message: &str, json: bool, http_status: bool) -> Response {
    if json {
        let mut r = json_envelope(
            status.as_u16(),
            json!({ "errors": { "_request": [message] } }),
            http_status,
        );
        *r.status_mut() = status;
        return r;
    }
    html(
        status,
        format!(
            "<!DOCTYPE html>\n<title>{code}</title>\n<h1>{reason}</h1>\n<p>{msg}</p>\n",
            code = status.as_u16(),
            reason = status.canonical_reason().unwrap_or("Error"),
            msg = escape_html(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(r: Response) -> String {
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn json_envelope_is_pretty_sorted_and_plain_json() {
        let r = json_envelope(
            200,
            json!({"user": {"id": "1", "authentication_token": "t"}}),
            false,
        );
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        let text = body(r).await;
        assert_eq!(
            text,
            "{\n  \"meta\": {\n    \"code\": 200\n  },\n  \"response\": {\n    \"user\": {\n      \"authentication_token\": \"t\",\n      \"id\": \"1\"\n    }\n  }\n}"
        );
    }

    #[tokio::test]
    async fn json_errors_status_follows_the_switch() {
        let mut errors = FormErrors::new();
        errors.insert("email".into(), vec!["Email not provided".into()]);
        assert_eq!(json_errors(&errors, false).status(), StatusCode::OK);
        assert_eq!(json_errors(&errors, true).status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn errors_of_5_9_are_a_list_beside_the_field_map() {
        let mut fields = FormErrors::new();
        fields.insert("password".into(), vec!["Invalid password".into()]);
        fields.insert("next".into(), vec!["Off site".into()]);
        let r = json_error(
            StatusCode::BAD_REQUEST,
            error_payload(&["General".into()], &fields),
        );
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let value: Value = serde_json::from_str(&body(r).await).unwrap();
        assert_eq!(
            value,
            json!({
                "meta": {"code": 400},
                "response": {
                    "errors": ["General", "Off site", "Invalid password"],
                    "field_errors": {"next": ["Off site"], "password": ["Invalid password"]},
                }
            })
        );
        let r = json_error(
            StatusCode::UNAUTHORIZED,
            error_payload(&[], &FormErrors::new()),
        );
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let value: Value = serde_json::from_str(&body(r).await).unwrap();
        assert_eq!(value["response"], json!({"errors": []}));
        assert_eq!(value["meta"]["code"], 401);
    }

    #[test]
    fn basic_challenge_names_the_realm() {
        let r = unauthorized(Some("My Realm"), false, false);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Basic realm=\"My Realm\"");
        assert!(
            unauthorized(None, false, false)
                .headers()
                .get(WWW_AUTHENTICATE)
                .is_none()
        );
    }

    #[tokio::test]
    async fn redirect_and_error_pages_escape_their_text() {
        let r = redirect("/login?next=%2Fa&x=\"<b>'");
        assert_eq!(r.headers()[LOCATION], "/login?next=%2Fa&x=\"<b>'");
        let text = body(r).await;
        assert!(
            text.contains("href=\"/login?next=%2Fa&#38;x=&#34;&#60;b&#62;&#39;\""),
            "{text}"
        );
        let text = body(forbidden("<script>&", false, false)).await;
        assert!(text.contains("<p>&#60;script&#62;&#38;</p>"), "{text}");
    }
}
