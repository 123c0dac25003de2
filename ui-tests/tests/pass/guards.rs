// Every guard attribute on a real axum handler: the added argument is a valid extractor, the
// other arguments (`State`, `Json` last) and the return types stay as written.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use security::guard::{
    AuthTokenRequired, Method, MethodList, Realm, RoleList, RolesRequired,
};
use security::{
    auth_required, auth_token_required, http_auth_required, login_required, roles_accepted,
    roles_required,
};

/// The app's state.
#[derive(Clone)]
pub struct AppState {
    name: &'static str,
}

#[derive(serde::Deserialize)]
struct Note {
    text: String,
}

#[login_required]
async fn profile() -> &'static str {
    "Profile Page"
}

/// A public handler with attributes of its own.
#[login_required]
#[allow(clippy::unused_async)]
pub async fn public_profile(State(state): State<AppState>) -> String {
    state.name.to_owned()
}

#[roles_required("admin", "editor")]
async fn dashboard(State(state): State<AppState>, Json(note): Json<Note>) -> String {
    format!("{}: {}", state.name, note.text)
}

#[roles_accepted("admin", "editor")]
pub(crate) async fn edit(Json(note): Json<Note>) -> Json<String> {
    Json(note.text)
}

#[auth_token_required]
async fn token() -> &'static str {
    "Token Authentication"
}

#[http_auth_required]
async fn basic() -> &'static str {
    "HTTP Authentication"
}

#[http_auth_required("My Realm")]
async fn basic_realm() -> &'static str {
    "HTTP Authentication"
}

#[auth_required("token", "session", "basic")]
async fn any(State(state): State<AppState>) -> &'static str {
    state.name
}

#[auth_required("token", "api_key")]
async fn api(State(state): State<AppState>) -> &'static str {
    state.name
}

// Outer first: the token guard runs, then the roles guard, then the user's extractors.
#[auth_token_required]
#[roles_required("admin")]
async fn stacked(Json(note): Json<Note>) -> String {
    note.text
}

mod admin {
    use security::roles_required;

    /// A public handler in a module: the generated role list is public too.
    #[roles_required("admin")]
    pub async fn index() -> &'static str {
        "Admin"
    }
}

/// Names the argument types of a three-argument handler.
fn arguments<F, A, B, C, Fut>(_: F)
where
    F: FnOnce(A, B, C) -> Fut,
{
}

fn main() {
    arguments::<_, AuthTokenRequired, RolesRequired<__security_roles_stacked_1>, Json<Note>, _>(
        stacked,
    );
    assert_eq!(<__security_roles_stacked_1 as RoleList>::ROLES, ["admin"]);
    assert_eq!(
        <__security_roles_dashboard_0 as RoleList>::ROLES,
        ["admin", "editor"]
    );
    assert_eq!(<__security_realm_basic_realm_0 as Realm>::REALM, Some("My Realm"));
    assert_eq!(
        <__security_methods_any_0 as MethodList>::METHODS,
        [Method::Token, Method::Session, Method::Basic]
    );
    assert_eq!(
        <__security_methods_api_0 as MethodList>::METHODS,
        [Method::Token, Method::ApiKey]
    );

    let _app: Router = Router::new()
        .route("/profile", get(profile))
        .route("/public", get(public_profile))
        .route("/dashboard", post(dashboard))
        .route("/edit", post(edit))
        .route("/token", get(token))
        .route("/basic", get(basic))
        .route("/realm", get(basic_realm))
        .route("/any", get(any))
        .route("/api", get(api))
        .route("/stacked", post(stacked))
        .route("/admin", get(admin::index))
        .with_state(AppState { name: "app" });
}
