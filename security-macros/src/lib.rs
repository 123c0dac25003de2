//! Derives and guard attributes of the `security` crate. Use them through `security`, which
//! re-exports them (`use security::prelude::*`).
//!
//! The macros are thin: a derive implements runtime traits of `security::model` for a SeaORM
//! `Model`; a guard attribute adds one extractor argument of a `security::guard` type to a
//! handler. Everything they generate can be written by hand.

use proc_macro::TokenStream;

mod fields;
mod guard;
mod role;
mod slot;
mod user;

/// Implements `security::SecurityUser` for the `Model` of a SeaORM user entity, and
/// `security::Confirmable` / `security::Trackable` when the model has the fields for them.
///
/// Fields are found by Flask-Security's names: `id`, `email`, `password`, `active` (required),
/// `confirmed_at`, `last_login_at`, `current_login_at`, `last_login_ip`, `current_login_ip`,
/// `login_count`, `fs_uniquifier` and `username` (optional). A field named otherwise is mapped with
/// `#[security(email)]` and so on (`#[security(uniquifier)]` also works); a field marked
/// `#[security(skip)]` is never taken by its name. Any other field is the app's own.
///
/// The struct names the role entity and the user–role link entity:
/// `#[security(role = .., user_roles = ..)]`, with `user_roles_user = ".."` and
/// `user_roles_role = ".."` naming the link model's fields when they are not `user_id` and
/// `role_id`.
///
/// ```
/// # mod role {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel, security::SecurityRole)]
/// #     #[sea_orm(table_name = "role")]
/// #     pub struct Model {
/// #         #[sea_orm(primary_key)] pub id: i32,
/// #         #[sea_orm(unique)] pub name: String,
/// #         pub description: Option<String>,
/// #     }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)] pub enum Relation {}
/// #     impl ActiveModelBehavior for ActiveModel {}
/// # }
/// # mod roles_users {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
/// #     #[sea_orm(table_name = "roles_users")]
/// #     pub struct Model {
/// #         #[sea_orm(primary_key, auto_increment = false)] pub user_id: i32,
/// #         #[sea_orm(primary_key, auto_increment = false)] pub role_id: i32,
/// #     }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)] pub enum Relation {}
/// #     impl ActiveModelBehavior for ActiveModel {}
/// # }
/// # mod user {
/// use sea_orm::entity::prelude::*;
/// use security::SecurityUser;
///
/// #[derive(Clone, Debug, PartialEq, DeriveEntityModel, SecurityUser)]
/// #[sea_orm(table_name = "user")]
/// #[security(role = super::role::Entity, user_roles = super::roles_users::Entity)]
/// pub struct Model {
///     #[sea_orm(primary_key)]
///     pub id: i32,
///     #[sea_orm(unique)]
///     pub email: String,
///     pub password: Option<String>,
///     pub active: bool,
///     pub confirmed_at: Option<DateTimeUtc>,
/// }
/// #   #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)] pub enum Relation {}
/// #   impl ActiveModelBehavior for ActiveModel {}
/// # }
/// # fn main() {}
/// ```
#[proc_macro_derive(SecurityUser, attributes(security))]
pub fn derive_security_user(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    user::expand(&input).into()
}

/// Implements `security::SecurityRole` for the `Model` of a SeaORM role entity.
///
/// Fields are found by name: `id`, `name` (required) and `description` (optional); a field named
/// otherwise is mapped with `#[security(name)]` and so on.
///
/// ```
/// # mod role {
/// use sea_orm::entity::prelude::*;
/// use security::SecurityRole;
///
/// #[derive(Clone, Debug, PartialEq, DeriveEntityModel, SecurityRole)]
/// #[sea_orm(table_name = "role")]
/// pub struct Model {
///     #[sea_orm(primary_key)]
///     pub id: i32,
///     #[sea_orm(unique)]
///     pub name: String,
///     pub description: Option<String>,
/// }
/// #   #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)] pub enum Relation {}
/// #   impl ActiveModelBehavior for ActiveModel {}
/// # }
/// # fn main() {}
/// ```
#[proc_macro_derive(SecurityRole, attributes(security))]
pub fn derive_security_role(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    role::expand(&input).into()
}

/// Requires an authenticated user: adds a `security::guard::LoginRequired` argument to the
/// `async fn` handler (Flask-Security's `@login_required`).
///
/// ```
/// # use security::prelude::*;
/// # type User = security::doc_support::User;
/// #[login_required]
/// async fn profile(user: CurrentUser<User>) -> String {
///     format!("Hello {}", user.email)
/// }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::get(profile));
/// ```
#[proc_macro_attribute]
pub fn login_required(args: TokenStream, item: TokenStream) -> TokenStream {
    guard::expand(guard::Kind::LoginRequired, args.into(), item.into()).into()
}

/// Requires every one of the roles: adds a `security::guard::RolesRequired` argument
/// (Flask-Security's `@roles_required`).
///
/// ```
/// # use security::prelude::*;
/// #[roles_required("admin", "editor")]
/// async fn dashboard() -> &'static str { "Dashboard" }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::get(dashboard));
/// ```
#[proc_macro_attribute]
pub fn roles_required(args: TokenStream, item: TokenStream) -> TokenStream {
    guard::expand(guard::Kind::RolesRequired, args.into(), item.into()).into()
}

/// Requires at least one of the roles: adds a `security::guard::RolesAccepted` argument
/// (Flask-Security's `@roles_accepted`).
///
/// ```
/// # use security::prelude::*;
/// #[roles_accepted("admin", "editor")]
/// async fn edit() -> &'static str { "Edit" }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::get(edit));
/// ```
#[proc_macro_attribute]
pub fn roles_accepted(args: TokenStream, item: TokenStream) -> TokenStream {
    guard::expand(guard::Kind::RolesAccepted, args.into(), item.into()).into()
}

/// Requires a valid authentication token: adds a `security::guard::AuthTokenRequired` argument
/// (Flask-Security's `@auth_token_required`).
///
/// ```
/// # use security::prelude::*;
/// #[auth_token_required]
/// async fn api() -> &'static str { "Token Authentication" }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::get(api));
/// ```
#[proc_macro_attribute]
pub fn auth_token_required(args: TokenStream, item: TokenStream) -> TokenStream {
    guard::expand(guard::Kind::AuthTokenRequired, args.into(), item.into()).into()
}

/// Requires HTTP Basic credentials: adds a `security::guard::HttpAuthRequired` argument
/// (Flask-Security's `@http_auth_required`). The optional argument is the realm; without it the
/// realm is `SECURITY_DEFAULT_HTTP_AUTH_REALM`.
///
/// ```
/// # use security::prelude::*;
/// #[http_auth_required("My Realm")]
/// async fn basic() -> &'static str { "HTTP Authentication" }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::get(basic));
/// ```
#[proc_macro_attribute]
pub fn http_auth_required(args: TokenStream, item: TokenStream) -> TokenStream {
    guard::expand(guard::Kind::HttpAuthRequired, args.into(), item.into()).into()
}

/// Requires any one of the authentication methods, tried in the order written: `"session"`,
/// `"token"`, `"basic"`, `"api_key"` (an API key sent as `Authorization: Bearer …`, with
/// `SECURITY_API_KEYS`; it authenticates only handlers that name it, and is never fresh). Adds
/// a `security::guard::AuthRequired` argument (Flask-Security's `@auth_required`).
///
/// ```
/// # use security::prelude::*;
/// #[auth_required("token", "session")]
/// async fn either() -> &'static str { "Token or session" }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::get(either));
/// ```
///
/// `within = "<duration>"` also requires a recent authentication (Flask-Security 5.9's
/// freshness): a credential checked no longer ago than that, else the user is sent to
/// `SECURITY_VERIFY_URL` to give the password again (JSON: 401 with `reauth_required`).
/// `grace = "<duration>"` replaces `SECURITY_FRESHNESS_GRACE_PERIOD`, during which further
/// checks pass. Durations are written as in the configuration (`5 minutes`, `1 hour`); see
/// `security::guard` for what counts as authenticating, and `security::extract::Fresh` for
/// the configured `SECURITY_FRESHNESS`.
///
/// ```
/// # use security::prelude::*;
/// #[auth_required("session", "token", within = "5 minutes", grace = "0 seconds")]
/// async fn delete_account() -> &'static str { "Deleted" }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::post(delete_account));
/// ```
#[proc_macro_attribute]
pub fn auth_required(args: TokenStream, item: TokenStream) -> TokenStream {
    guard::expand(guard::Kind::AuthRequired, args.into(), item.into()).into()
}
