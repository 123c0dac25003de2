//! Flask-Security for axum and SeaORM: session login and logout, remember-me, roles, password
//! hashing, HTTP Basic and token authentication, registration, e-mail confirmation, password
//! recovery and change, passwordless login, login tracking, a JSON API, askama views and
//! lettre mail, signals and a users/roles CLI.
//!
//! Three moves: derive [`SecurityUser`] and [`SecurityRole`] on the SeaORM entities, put a
//! guard attribute on the handlers to protect, and merge one router:
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use security::prelude::*;
//! # mod user { pub type Model = security::doc_support::User; }
//!
//! #[login_required]
//! async fn profile(user: CurrentUser<user::Model>) -> String {
//!     format!("Hello {}", user.email)
//! }
//!
//! #[roles_required("admin")]
//! async fn admin() -> &'static str {
//!     "Admin Page"
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let db = sea_orm::Database::connect("sqlite::memory:").await?;
//! let security: Security<user::Model> = Security::builder(db, Config::from_env()?).build().await?;
//! let app: Router = Router::new()
//!     .route("/profile", get(profile))
//!     .route("/admin", get(admin))
//!     .merge(security.router())
//!     .layer(security.layer());
//! # let _ = app; Ok(()) }
//! ```
//!
//! Behaviour follows Flask-Security 1.7.4 (URLs, form fields, messages, the JSON envelope,
//! token and hash formats), except where 1.7.4 is unsafe: argon2id by default, exact
//! case-insensitive e-mail look-ups, single-use reset and login links, sessions and tokens
//! bound to the account (a password change ends the others), inactive users refused
//! everywhere, no off-site redirects, CSRF on every form and session JSON post.
#![forbid(unsafe_code)]

// The derives name `::security::…`; let them work inside this crate too.
#[allow(unused_extern_crates)]
extern crate self as security;

// The layers, each depending only on those above it in this list.
//
// Primitives.
pub mod config;
mod crypto;
pub mod messages;
pub mod password;
/// The new-password rules, kept at their old path ([`password::policy`]).
pub use password::policy as password_policy;
// Signed tokens and the application's tables.
mod store;
pub mod throttle;
mod tokens;
// Mail: rendering, transports and the durable outbox.
pub mod mail;
// Reading what Flask-Security 1.7.4 wrote.
mod compat;
// HTTP: the layer, sessions, CSRF, identities, guards, extractors, pages.
mod web;
// The security views.
mod flows;
// The handle an app holds: `Security` and its builder.
mod handle;

#[doc(hidden)]
pub mod doc_support;

mod error;
pub mod events;
pub mod testing;
pub mod username;

pub use crypto::cookie_codec;
pub use store::{datastore, entities, model, schema};
pub use tokens::serializer as token;
pub use web::{csrf, extract, guard, layer, redirect, request, response, session, views};
// Paths some modules name the primitives by.
use crypto::redact;

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "openapi")]
mod openapi;
/// The utoipa this crate builds its OpenAPI document with (feature `openapi`), so that an app
/// merges the document with the same version's types.
#[cfg(feature = "openapi")]
pub use utoipa;

pub use config::{Config, ConfigError};
pub use datastore::{Datastore, DatastoreError, NewUser, UserWithRoles};
pub use error::Error;
pub use events::{AuthMechanism, Event, RevocationReason, UnlockReason};
pub use extract::{CsrfToken, CurrentUser, Flashes, Fresh};
pub use guard::Rejection;
pub use handle::{RegisterField, Security, SecurityBuilder};
pub use model::{
    Confirmable, RecordId, SecurityRole, SecurityUser, Trackable, Tracking, UserFields,
};
pub use security_macros::{
    SecurityRole, SecurityUser, auth_required, auth_token_required, http_auth_required,
    login_required, roles_accepted, roles_required,
};
pub use session::{Flash, Session};
pub use web::views::FieldValidator;
// API keys (`SECURITY_API_KEYS`).
pub use web::api_keys::{ApiKey, ApiKeyError, CreatedApiKey};

/// Everything an app usually needs: `use security::prelude::*;`.
pub mod prelude {
    pub use crate::config::Config;
    pub use crate::handle::Security;
    pub use crate::store::model::{SecurityRole, SecurityUser};
    pub use crate::web::extract::{CsrfToken, CurrentUser, Flashes, Fresh};
    pub use crate::web::session::Session;
    pub use security_macros::{
        SecurityRole, SecurityUser, auth_required, auth_token_required, http_auth_required,
        login_required, roles_accepted, roles_required,
    };
}

/// Items the macros' generated code names; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::store::model::fields::{
        CountField, EmailField, FlagField, IdField, NameField, TextField, TimestampField,
    };
    pub use crate::store::model::{
        Confirmable, Field, SecurityRole, SecurityUser, Trackable, Tracking, UserFields,
    };
    pub use crate::web::guard::{
        AuthRequired, AuthTokenRequired, DefaultRealm, Freshness, HttpAuthRequired, LoginRequired,
        Method, MethodList, Realm, RoleList, RolesAccepted, RolesRequired,
    };
    pub use chrono;
    pub use sea_orm;

    /// Implemented for every SeaORM entity; `#[derive(SecurityUser)]` names the entities of
    /// `#[security(role = .., user_roles = ..)]` through it, so that a path that is not an
    /// entity fails once, on the path, with this message.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a SeaORM entity",
        label = "expected the `Entity` of a SeaORM entity module",
        note = "name the entity type, e.g. `role = super::role::Entity`, or use the ready-made `security::entities::role::Entity` and `security::entities::roles_users::Entity`"
    )]
    pub trait IsEntity {
        /// `Self`: the derive writes `<path as IsEntity>::Entity` where it needs the entity.
        type Entity: sea_orm::EntityTrait;
    }
    impl<E: sea_orm::EntityTrait> IsEntity for E {
        type Entity = E;
    }

    /// Implemented for every SeaORM model; the derives use it to check that they are applied to
    /// an entity's `Model`.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a SeaORM entity model",
        label = "`#[derive(SecurityUser)]` and `#[derive(SecurityRole)]` go on a SeaORM `Model`",
        note = "derive `DeriveEntityModel` on the same struct, inside the entity's module"
    )]
    pub trait IsModel: sea_orm::ModelTrait {}
    impl<M: sea_orm::ModelTrait> IsModel for M {}
}
