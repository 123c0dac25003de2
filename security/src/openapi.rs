//! The OpenAPI 3.1 document of the security views (feature `openapi`), generated from the
//! route table that builds the router ([`crate::flows::table`]) and from the [`Config`]: only
//! the enabled routes, at their configured URLs, with their request bodies (JSON and
//! form-encoded, with the field names the views read), the JSON envelope they answer with,
//! the security schemes the configuration accepts, CSRF, and their error answers.
//!
//! Built with utoipa's builders (no derive macros). See
//! [`Security::openapi`](crate::Security::openapi).

use std::collections::{BTreeMap, BTreeSet};

use axum::response::{IntoResponse, Response};
use http::Method;
use http::header::CONTENT_TYPE;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response as ApiResponse, ResponseBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr, Required,
};

use crate::config::Config;
use crate::flows::table::{Entry, Field, FieldType, Kind, Op, Routes};
use crate::store::model::SecurityUser;

/// The name of the envelope schema in `components.schemas`.
const ENVELOPE: &str = "Envelope";
/// The security scheme of the session cookie.
pub(crate) const SESSION: &str = "session";
/// The security scheme of the authentication token in its header.
pub(crate) const TOKEN_HEADER: &str = "token_header";
/// The security scheme of the authentication token in the query string.
pub(crate) const TOKEN_QUERY: &str = "token_query";
/// The security scheme of the remember-me cookie.
pub(crate) const REMEMBER: &str = "remember_cookie";
/// The security scheme of HTTP Basic.
pub(crate) const BASIC: &str = "basic";
/// The security scheme of the API keys.
pub(crate) const API_KEY: &str = "api_key";
/// The security scheme of the refresh-token cookie.
pub(crate) const REFRESH_COOKIE: &str = "refresh_cookie";
/// The header that carries the CSRF token (the crate also reads `X-CSRF-Token`).
pub(crate) const CSRF_HEADER: &str = "X-CSRFToken";

/// Registers `GET <url_prefix><openapi_url>`: the document of every route of `routes` and of
/// this one, as `application/json`.
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let Some(path) = config.openapi_path() else {
        return;
    };
    let op = Op::new(
        "openapi",
        "openapi",
        Kind::Document,
        "This document (OpenAPI 3.1).",
    );
    let mut entries = routes.entries().to_vec();
    entries.push(Entry {
        method: Method::GET,
        path: path.clone(),
        op: op.clone(),
    });
    let json = document(config, &entries)
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_owned());
    routes.add(Method::GET, &path, op, move || {
        let json = json.clone();
        async move { serve(json) }
    });
}

fn serve(json: String) -> Response {
    ([(CONTENT_TYPE, "application/json")], json).into_response()
}

/// The document of `entries` under `config`.
pub(crate) fn document(config: &Config, entries: &[Entry]) -> OpenApi {
    let mut by_path: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for entry in entries {
        by_path.entry(entry.path.as_str()).or_default().push(entry);
    }
    let mut paths = PathsBuilder::new();
    for (path, entries) in &by_path {
        let mut item: Option<PathItem> = None;
        for entry in entries {
            let operation = operation(config, entry);
            let method = http_method(&entry.method);
            item = Some(match item {
                None => PathItem::new(method, operation),
                Some(mut item) => {
                    item.merge_operations(PathItem::new(method, operation));
                    item
                }
            });
        }
        if let Some(item) = item {
            paths = paths.path(*path, item);
        }
    }
    let tags: BTreeSet<&str> = entries.iter().map(|e| e.op.tag).collect();
    let mut components = ComponentsBuilder::new().schema(ENVELOPE, envelope());
    for (name, scheme) in security_schemes(config) {
        components = components.security_scheme(name, scheme);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(format!("{} views", config.blueprint_name))
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(description(config)))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components.build()))
        .tags(Some(
            tags.into_iter()
                .map(|tag| TagBuilder::new().name(tag).build()),
        ))
        .build()
}

fn description(config: &Config) -> String {
    let mut text = String::from(
        "The views of the `security` crate (a port of Flask-Security), generated from the \
         configuration that builds its router. A request whose body is JSON \
         (`Content-Type: application/json`) is answered with the JSON envelope \
         `{\"meta\": {\"code\": …}, \"response\": {…}}`; a form post is answered with a page or \
         a redirect.",
    );
    if config.csrf_enabled {
        text.push_str(&format!(
            " CSRF: every form post, and every JSON post that carries the session or remember \
             cookie, must carry the session's CSRF token, in the form field `csrf_token` or the \
             header `{CSRF_HEADER}` (or `X-CSRF-Token`); a JSON answer of success carries the \
             token to use as `response.csrf_token`."
        ));
    }
    if !config.json_http_status_codes {
        text.push_str(
            " With `SECURITY_JSON_HTTP_STATUS_CODES` off, a JSON validation error is answered \
             with HTTP 200 and its code in `meta.code`.",
        );
    }
    text
}

fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::POST => HttpMethod::Post,
        Method::DELETE => HttpMethod::Delete,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        _ => HttpMethod::Get,
    }
}

fn string() -> Schema {
    string_builder().build().into()
}

fn string_builder() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::Type(Type::String))
}

fn object() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::Type(Type::Object))
}

fn strings() -> Schema {
    ArrayBuilder::new().items(string_builder()).build().into()
}

/// 1.7.4's envelope, with the members the views put in `response`.
fn envelope() -> Schema {
    let meta = object()
        .property(
            "code",
            ObjectBuilder::new().schema_type(SchemaType::Type(Type::Integer)),
        )
        .required("code");
    let user = object()
        .property("id", string())
        .property("authentication_token", string())
        .property("refresh_token", string())
        .description(Some(
            "The user (with a token after a JSON login or registration).",
        ))
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true)));
    let errors = ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Object, Type::Array]))
        .description(Some(
            "1.7.4's field errors (field name → messages), or Flask-Security 5.9's list of \
             every message (beside `field_errors`).",
        ));
    let field_errors = object()
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(strings()))))
        .description(Some(
            "Flask-Security 5.9's field errors: field name → messages.",
        ));
    let response = object()
        .property("user", user)
        .property("errors", errors)
        .property("field_errors", field_errors)
        .property(
            "error",
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .description(Some("The refusal of a guard (401, 403).")),
        )
        .property(
            "csrf_token",
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .description(Some("The session's CSRF token (with CSRF on).")),
        )
        .property(
            "retry_after",
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .description(Some(
                    "Seconds until a rate limit lets the client try again.",
                )),
        )
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true)));
    object()
        .description(Some(
            "The JSON envelope of every JSON answer: `meta.code` (the status the answer means) \
             and `response`.",
        ))
        .property("meta", meta)
        .property("response", response)
        .required("meta")
        .required("response")
        .build()
        .into()
}

/// The security schemes the configuration accepts, by name.
pub(crate) fn security_schemes(config: &Config) -> Vec<(&'static str, SecurityScheme)> {
    let mut schemes = vec![
        (
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                config.session_cookie_name.clone(),
                "The signed session cookie a login sets.".to_owned(),
            ))),
        ),
        (
            REMEMBER,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                config.remember_cookie_name.clone(),
                "The remember-me cookie (a login with `remember`).".to_owned(),
            ))),
        ),
        (
            TOKEN_HEADER,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                config.token_authentication_header.clone(),
                "The authentication token of a JSON login.".to_owned(),
            ))),
        ),
    ];
    if config.token_in_query {
        schemes.push((
            TOKEN_QUERY,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                config.token_authentication_key.clone(),
                "The authentication token in the query string.".to_owned(),
            ))),
        ));
    }
    schemes.push((
        BASIC,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Basic)
                .description(Some(format!(
                    "HTTP Basic (realm `{}` by default): accepted by the app's handlers guarded \
                     with `http_auth_required` or `auth_required(\"basic\")`, not by the \
                     security views.",
                    config.default_http_auth_realm
                )))
                .build(),
        ),
    ));
    if config.api_keys {
        schemes.push((
            API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format(format!("{}_<id>_<secret>", config.api_key_prefix))
                    .description(Some(
                        "An API key (`SECURITY_API_KEYS`): accepted by the app's handlers \
                         guarded with `api_key`, never by the security views.",
                    ))
                    .build(),
            ),
        ));
    }
    if config.refresh_token
        && let Some(name) = &config.refresh_token_cookie_name
    {
        schemes.push((
            REFRESH_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                name.clone(),
                "The refresh token (`SECURITY_REFRESH_TOKEN`), read by the refresh view."
                    .to_owned(),
            ))),
        ));
    }
    schemes
}

fn envelope_ref() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(ENVELOPE))
}

/// An answer: the JSON envelope and/or a page.
fn answer(description: &str, json: bool, html: bool) -> ResponseBuilder {
    let mut builder = ResponseBuilder::new().description(description);
    if json {
        builder = builder.content(
            "application/json",
            ContentBuilder::new().schema(Some(envelope_ref())).build(),
        );
    }
    if html {
        builder = builder.content(
            "text/html",
            ContentBuilder::new().schema(Some(string())).build(),
        );
    }
    builder
}

fn redirect() -> ApiResponse {
    answer("A redirect (the next page).", false, true)
        .header(
            "Location",
            HeaderBuilder::new()
                .schema(string())
                .description(Some("Where to go."))
                .build(),
        )
        .build()
}

fn too_many() -> ApiResponse {
    answer(
        "A rate limit refused the request (`SECURITY_RATE_LIMITS`): the envelope with \
         `retry_after`, or the page with a flash.",
        true,
        true,
    )
    .header(
        "Retry-After",
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Integer)))
            .description(Some("Seconds to wait."))
            .build(),
    )
    .build()
}

fn field_schema(field: &Field, json: bool) -> Schema {
    let ty = match (field.ty, json) {
        (FieldType::Flag, true) => SchemaType::Array(vec![Type::Boolean, Type::String]),
        _ => SchemaType::Type(Type::String),
    };
    let mut builder = ObjectBuilder::new()
        .schema_type(ty)
        .description(Some(field.description.clone()));
    if field.ty == FieldType::Password {
        builder = builder.format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)));
    }
    builder.build().into()
}

fn body_schema(config: &Config, op: &Op, json: bool) -> Schema {
    let mut builder = object();
    for field in &op.fields {
        builder = builder.property(field.name.clone(), field_schema(field, json));
        if field.required {
            builder = builder.required(field.name.clone());
        }
    }
    if config.csrf_enabled {
        builder = builder.property(
            "csrf_token",
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .description(Some(
                    "The session's CSRF token: needed by a form post, and by a JSON post that \
                     carries the session or remember cookie (or send the header instead).",
                )),
        );
    }
    builder
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true)))
        .build()
        .into()
}

fn operation(config: &Config, entry: &Entry) -> Operation {
    let op = &entry.op;
    let mut builder = OperationBuilder::new()
        .operation_id(Some(op.id))
        .summary(Some(op.summary))
        .tag(op.tag);
    if let Some(param) = op.param {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name(param)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(string()))
                .description(Some(match param {
                    "token" => "The token of the mailed link.",
                    _ => "The key's id.",
                })),
        );
    }
    let unsafe_method = entry.method != Method::GET;
    if unsafe_method && config.csrf_enabled {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name(CSRF_HEADER)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .schema(Some(string()))
                .description(Some(
                    "The session's CSRF token (instead of the `csrf_token` field): needed when \
                     the request carries the session or remember cookie, or is a form post.",
                )),
        );
    }
    if op.kind == Kind::Form && entry.method == Method::POST {
        builder = builder.request_body(Some(
            RequestBodyBuilder::new()
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(body_schema(config, op, true)))
                        .build(),
                )
                .content(
                    "application/x-www-form-urlencoded",
                    ContentBuilder::new()
                        .schema(Some(body_schema(config, op, false)))
                        .build(),
                )
                .build(),
        ));
    }
    if op.authenticated {
        let mut schemes = vec![SESSION, REMEMBER, TOKEN_HEADER];
        if config.token_in_query {
            schemes.push(TOKEN_QUERY);
        }
        for scheme in schemes {
            builder = builder.security(SecurityRequirement::new::<&str, [&str; 0], &str>(
                scheme,
                [],
            ));
        }
    }
    for (status, response) in responses(op, entry) {
        builder = builder.response(status, response);
    }
    builder.build()
}

/// The answers of an operation, by status.
fn responses(op: &Op, entry: &Entry) -> Vec<(&'static str, ApiResponse)> {
    let mut out = Vec::new();
    match op.kind {
        Kind::Asset => {
            out.push((
                "200",
                ResponseBuilder::new()
                    .description("The stylesheet.")
                    .content(
                        "text/css",
                        ContentBuilder::new().schema(Some(string_builder())).build(),
                    )
                    .build(),
            ));
            out.push((
                "304",
                ResponseBuilder::new()
                    .description("Not modified: the `If-None-Match` names the current `ETag`.")
                    .build(),
            ));
            return out;
        }
        Kind::Document => {
            out.push((
                "200",
                ResponseBuilder::new()
                    .description("This document.")
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(object().build())).build(),
                    )
                    .build(),
            ));
            return out;
        }
        Kind::Page | Kind::Listing => {
            let json = op.authenticated;
            out.push((
                "200",
                answer(
                    "The page (JSON when the client asks for it with `Accept`).",
                    json,
                    true,
                )
                .build(),
            ));
            out.push(("302", redirect()));
        }
        Kind::Link => {
            out.push(("200", answer("A page.", false, true).build()));
            out.push(("302", redirect()));
        }
        Kind::Form => {
            let created = op.id == "create_api_key";
            out.push((
                "200",
                answer(
                    "Done (the JSON envelope); or, for a form post, the page again (with its \
                     errors). With `SECURITY_JSON_HTTP_STATUS_CODES` off, JSON errors too.",
                    true,
                    true,
                )
                .build(),
            ));
            if created {
                out.push((
                    "201",
                    answer("The new key (its secret shown once).", true, false).build(),
                ));
            }
            out.push(("302", redirect()));
            out.push((
                "400",
                answer(
                    "The form was refused: the field errors in the envelope, the CSRF token \
                     missing or invalid (`errors.csrf_token`), or a body that cannot be read.",
                    true,
                    true,
                )
                .build(),
            ));
            if entry.path.contains("{id}") {
                out.push((
                    "404",
                    answer("No such key of the user.", true, true).build(),
                ));
            }
            out.push((
                "413",
                answer(
                    "The body is larger than `SECURITY_MAX_BODY_SIZE`.",
                    true,
                    true,
                )
                .build(),
            ));
        }
    }
    if op.authenticated {
        out.push((
            "401",
            answer(
                "Not authenticated (a JSON client; a browser is redirected to the login page).",
                true,
                true,
            )
            .build(),
        ));
        out.push((
            "403",
            answer(
                "Refused: the authentication is not fresh enough (JSON: `reauth_required`), or \
                 not of a kind this view accepts.",
                true,
                true,
            )
            .build(),
        ));
    }
    if op.throttled {
        out.push(("429", too_many()));
    }
    if op.mails {
        out.push((
            "503",
            answer(
                "A mail could not be queued (`errors.email`); nothing was done.",
                true,
                true,
            )
            .build(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_names_its_required_members() {
        let schema = serde_json::to_value(envelope()).unwrap();
        assert_eq!(schema["required"], serde_json::json!(["meta", "response"]));
        assert_eq!(
            schema["properties"]["meta"]["required"],
            serde_json::json!(["code"])
        );
    }
}
