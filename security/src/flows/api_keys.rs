//! The API keys view (`SECURITY_API_KEYS`; Flask-Security 5.9 has none, this follows GitHub's
//! and Stripe's practice): a logged-in user lists their keys, creates one (shown once, after a
//! fresh authentication) and revokes one.
//!
//! Served at `SECURITY_API_KEYS_URL` (`/api-keys`): `GET` lists (the page
//! `security/api_keys.html`, or JSON `{"api_keys": [...]}`), `POST` with `name` and an
//! optional `expires_in` (a duration such as `30 days`, or seconds) or `expires_at` (RFC 3339
//! or unix seconds) creates (JSON: 201 `{"api_key": {..., "key": "fsk_…"}}`), and
//! `POST <url>/<id>/revoke` (or `DELETE <url>/<id>`) revokes. Every one needs the session (or
//! an authentication token), never an API key; posts are CSRF-checked as every view's are;
//! creating needs a fresh authentication (`SECURITY_FRESHNESS`, as `/verify` gives).

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

use super::context::{Ctx, FlowError, FlowForm, FlowResult, Input, NoFields, Submitted};
use super::table::{Field, FieldType, Kind, Op, Routes};
use crate::config::{Config, Within};
use crate::messages::MessageKey;
use crate::store::datastore::UserWithRoles;
use crate::store::model::SecurityUser;
use crate::web::api_keys::{ApiKey, ApiKeyError, CreatedApiKey, NAME_MAX};
use crate::web::guard::{Authentication, Freshness};
use crate::web::request::wants_json;
use crate::web::response::{self, FormErrors};
use crate::web::views::ViewName;

/// The create form: a name and an optional expiry.
pub(crate) struct ApiKeyForm {
    name: Option<String>,
    expires_in: Option<String>,
    expires_at: Option<String>,
}

impl FlowForm for ApiKeyForm {
    // Not a credential: not counted against the login rate limits.
    const PAGE: Option<ViewName> = None;

    fn read(input: &Input) -> Self {
        let filled = |name: &str| input.owned(name).filter(|v| !v.trim().is_empty());
        ApiKeyForm {
            name: input.owned("name"),
            expires_in: filled("expires_in"),
            expires_at: filled("expires_at"),
        }
    }
}

/// Whether to answer in JSON.
fn json<U: SecurityUser>(ctx: &Ctx<U>) -> bool {
    ctx.json || wants_json(&ctx.parts)
}

/// The user of the session or, without one, of an authentication token (recorded as such for
/// the freshness check); never of an API key. Otherwise the login redirect.
async fn owner<U: SecurityUser>(
    ctx: &mut Ctx<U>,
) -> Result<std::sync::Arc<UserWithRoles<U>>, FlowError> {
    if let Some(found) = ctx.current_user().await? {
        return Ok(found);
    }
    if let Some(found) = ctx.sec.token_identity(&ctx.parts).await? {
        if let Some(slot) = crate::web::identity::IdentitySlot::<U>::of(&ctx.parts) {
            slot.record_authentication(|| Authentication::Token);
        }
        return Ok(found);
    }
    Err(FlowError::answer(ctx.sec.login_redirect(&ctx.parts)))
}

fn key_json(key: &ApiKey) -> Value {
    serde_json::to_value(key).unwrap_or(Value::Null)
}

/// 201 with `body` in the JSON envelope (and the CSRF token, as [`Ctx::json_ok`] adds it).
fn created_json<U: SecurityUser>(ctx: &Ctx<U>, mut body: Value) -> Response {
    let csrf = ctx.sec.csrf();
    if csrf.issues_tokens()
        && let Value::Object(map) = &mut body
    {
        map.insert(
            "csrf_token".to_owned(),
            Value::String(csrf.token_for(&ctx.session)),
        );
    }
    let mut response = response::json_envelope(201, body, true);
    *response.status_mut() = StatusCode::CREATED;
    response
}

/// The page, with the user's keys, and the key just created if any.
async fn page<U: SecurityUser>(
    ctx: &Ctx<U>,
    user: &U,
    values: Vec<(&str, String)>,
    errors: FormErrors,
    created: Option<CreatedApiKey>,
) -> FlowResult {
    let keys = ctx.sec.list_api_keys(user).await?;
    let created = created.map(|c| c.key);
    ctx.page_with(ViewName::ApiKeys, values, errors, move |view| {
        view.api_keys = keys;
        view.new_api_key = created;
    })
    .await
}

/// `GET <api_keys_url>`: the list.
async fn list<U: SecurityUser>(mut ctx: Ctx<U>) -> FlowResult {
    let identity = owner(&mut ctx).await?;
    if json(&ctx) {
        let keys = ctx.sec.list_api_keys(&identity.user).await?;
        let keys: Vec<Value> = keys.iter().map(key_json).collect();
        return Ok(ctx.json_ok(json!({ "api_keys": keys })));
    }
    page(&ctx, &identity.user, Vec::new(), FormErrors::new(), None).await
}

/// The expiry of the form in unix seconds: `Ok(None)` for none, `Err(())` when unreadable.
fn expiry(form: &ApiKeyForm, now: i64) -> Result<Option<i64>, ()> {
    match (&form.expires_in, &form.expires_at) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(()),
        (Some(within), None) => {
            let within = within.trim();
            let seconds = match within.parse::<u64>() {
                Ok(seconds) => seconds,
                Err(_) => Within::parse(within).map_err(|_| ())?.seconds(),
            };
            let seconds = i64::try_from(seconds).map_err(|_| ())?;
            now.checked_add(seconds).map(Some).ok_or(())
        }
        (None, Some(at)) => {
            let at = at.trim();
            if let Ok(seconds) = at.parse::<i64>() {
                return Ok(Some(seconds));
            }
            chrono::DateTime::parse_from_rfc3339(at)
                .map(|t| Some(t.timestamp()))
                .map_err(|_| ())
        }
    }
}

/// `POST <api_keys_url>`: creates a key (fresh authentication required).
async fn create<U: SecurityUser>(
    Submitted { mut ctx, form }: Submitted<U, ApiKeyForm>,
) -> FlowResult {
    let identity = owner(&mut ctx).await?;
    if let Err(stale) = ctx.sec.check_fresh(&ctx.parts, Freshness::CONFIGURED) {
        return Err(FlowError::answer(stale.into_response()));
    }
    let user = &identity.user;
    let name = form.name.clone().unwrap_or_default();
    let mut values = vec![("name", name.clone())];
    if let Some(within) = &form.expires_in {
        values.push(("expires_in", within.clone()));
    }
    let mut errors = FormErrors::new();
    let length = NAME_MAX.to_string();
    let created = match expiry(&form, ctx.sec.now()) {
        Err(()) => Err(ApiKeyError::ExpiryInvalid),
        Ok(expires_at) => ctx.sec.create_api_key(user, &name, expires_at).await,
    };
    let created = match created {
        Ok(created) => created,
        Err(ApiKeyError::Database(err)) => return Err(err.into()),
        Err(refusal) => {
            let (field, key, args): (&str, MessageKey, Vec<(&str, &str)>) = match &refusal {
                ApiKeyError::NameTaken(_) => (
                    "name",
                    MessageKey::ApiKeyNameTaken,
                    vec![("name", name.trim())],
                ),
                ApiKeyError::ExpiryInvalid => {
                    let field = if form.expires_at.is_some() && form.expires_in.is_none() {
                        "expires_at"
                    } else {
                        "expires_in"
                    };
                    (field, MessageKey::ApiKeyExpiryInvalid, Vec::new())
                }
                _ => (
                    "name",
                    MessageKey::ApiKeyNameInvalid,
                    vec![("length", length.as_str())],
                ),
            };
            ctx.error(&mut errors, field, key, &args);
            if json(&ctx) {
                return Ok(response::json_error(
                    StatusCode::BAD_REQUEST,
                    response::error_payload(&[], &errors),
                ));
            }
            return page(&ctx, user, values, errors, None).await;
        }
    };
    if json(&ctx) {
        let mut body = key_json(&created.info);
        if let Value::Object(map) = &mut body {
            map.insert("key".into(), Value::String(created.key.clone()));
        }
        return Ok(created_json(&ctx, json!({ "api_key": body })));
    }
    ctx.flash(MessageKey::ApiKeyCreated, &[("name", &created.info.name)]);
    page(&ctx, user, Vec::new(), FormErrors::new(), Some(created)).await
}

/// `POST <api_keys_url>/<id>/revoke`, `DELETE <api_keys_url>/<id>`: revokes one of the user's
/// keys; another user's key (or an unknown one) is not found (404).
async fn revoke<U: SecurityUser>(
    Path(id): Path<String>,
    Submitted { mut ctx, .. }: Submitted<U, NoFields>,
) -> FlowResult {
    let identity = owner(&mut ctx).await?;
    let target = ctx.config().api_keys_path();
    match ctx.sec.revoke_api_key(&identity.user, &id, false).await {
        Ok(key) => {
            if json(&ctx) {
                return Ok(ctx.json_ok(json!({ "api_key": key_json(&key) })));
            }
            ctx.flash(MessageKey::ApiKeyRevoked, &[("name", &key.name)]);
            Ok(ctx.redirect(&target))
        }
        Err(ApiKeyError::Database(err)) => Err(err.into()),
        Err(_) => {
            let message = ctx.msg(MessageKey::ApiKeyNotFound, &[]);
            if json(&ctx) {
                return Ok(response::json_error(
                    StatusCode::NOT_FOUND,
                    response::error_payload(&[message], &FormErrors::new()),
                ));
            }
            // The list page, where the flash shows.
            ctx.flash(MessageKey::ApiKeyNotFound, &[]);
            Ok(ctx.redirect(&target))
        }
    }
}

/// Adds the API keys views.
pub(crate) fn routes<U: SecurityUser>(routes: &mut Routes<U>, config: &Config) {
    let path = config.api_keys_path();
    let listing = Op::new(
        "list_api_keys",
        "api_keys",
        Kind::Listing,
        "The user's API keys (a page, or JSON `api_keys`).",
    )
    .authenticated();
    routes.add(http::Method::GET, &path, listing, list::<U>);
    let creating = Op::new(
        "create_api_key",
        "api_keys",
        Kind::Form,
        "Creates an API key (shown once; JSON: 201 `api_key` with its `key`).",
    )
    .fields(vec![
        Field::new("name", FieldType::Text, true, "A name for the key."),
        Field::new(
            "expires_in",
            FieldType::Text,
            false,
            "A lifetime (`30 days`, or seconds).",
        ),
        Field::new(
            "expires_at",
            FieldType::Text,
            false,
            "An expiry (RFC 3339, or unix seconds).",
        ),
    ])
    .authenticated();
    routes.add(http::Method::POST, &path, creating, create::<U>);
    let revoke_post = Op::new(
        "revoke_api_key",
        "api_keys",
        Kind::Form,
        "Revokes an API key.",
    )
    .param("id")
    .authenticated();
    routes.add(
        http::Method::POST,
        &format!("{path}/{{id}}/revoke"),
        revoke_post,
        revoke::<U>,
    );
    let revoke_delete = Op::new(
        "delete_api_key",
        "api_keys",
        Kind::Form,
        "Revokes an API key.",
    )
    .param("id")
    .authenticated();
    routes.add(
        http::Method::DELETE,
        &format!("{path}/{{id}}"),
        revoke_delete,
        revoke::<U>,
    );
}
