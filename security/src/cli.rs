//! The users/roles command line (Flask-Security's `script.py`, in Flask-Security-Too's verbs),
//! for an app to mount with clap:
//!
//! ```no_run
//! use clap::Parser;
//! use security::cli::Command;
//!
//! #[derive(Parser)]
//! enum AppCommand {
//!     Serve,
//!     #[command(flatten)]
//!     Security(Command),
//! }
//! # async fn run(security: security::Security<security::doc_support::User>) {
//! match AppCommand::parse() {
//!     AppCommand::Serve => { /* start the server */ }
//!     AppCommand::Security(command) => match security::cli::run(&security, command).await {
//!         Ok(output) => print!("{output}"),
//!         Err(err) => {
//!             eprintln!("error: {err}");
//!             std::process::exit(1);
//!         }
//!     },
//! }
//! # }
//! ```
//!
//! Verbs: `users create EMAIL [--password P] [--username U] [--active|--inactive]`,
//! `users activate|deactivate|delete|show|unlock|revoke-sessions|reset-access EMAIL`,
//! `users set-email OLD NEW`, `roles create NAME [--description D]`,
//! `roles add|remove EMAIL ROLE`, `api-keys list EMAIL`, `api-keys revoke EMAIL NAME|ID`.
//! Every refusal is an [`CliError`] (exit non-zero).

use std::str::FromStr;

use chrono::SecondsFormat;
use sea_orm::{ModelTrait, Value};
use serde_json::json;

use crate::handle::Security;
use crate::store::datastore::{DatastoreError, NewUser};
use crate::store::model::SecurityUser;

/// The security verbs.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Manage users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage roles.
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Manage users' API keys (`SECURITY_API_KEYS`).
    #[command(subcommand, name = "api-keys")]
    ApiKeys(ApiKeysCommand),
}

/// `api-keys …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ApiKeysCommand {
    /// List a user's API keys (never the keys themselves).
    List {
        /// The user's e-mail address.
        email: String,
    },
    /// Revoke one of a user's API keys.
    Revoke {
        /// The user's e-mail address.
        email: String,
        /// The key's name or id.
        key: String,
    },
}

/// `users …`. Its `Debug` output leaves out the password of `create`.
#[derive(Clone, clap::Subcommand)]
pub enum UsersCommand {
    /// Create a user (active unless `--inactive`).
    Create {
        /// The e-mail address.
        email: String,
        /// The password (`SECURITY_PASSWORD_LENGTH_MIN` characters at least, 6 by default);
        /// without it the user has no password.
        #[arg(long)]
        password: Option<String>,
        /// The user name (the user model needs a `username` column).
        #[arg(long)]
        username: Option<String>,
        /// Create the user active (the default).
        #[arg(long, conflicts_with = "inactive")]
        active: bool,
        /// Create the user inactive.
        #[arg(long)]
        inactive: bool,
    },
    /// Activate a user.
    Activate {
        /// The e-mail address.
        email: String,
    },
    /// Deactivate a user.
    Deactivate {
        /// The e-mail address.
        email: String,
    },
    /// Delete a user and its role links.
    Delete {
        /// The e-mail address.
        email: String,
    },
    /// Print a user as JSON.
    Show {
        /// The e-mail address.
        email: String,
    },
    /// Unlock an account that the lockout locked (`SECURITY_LOCKABLE`).
    Unlock {
        /// The e-mail address.
        email: String,
    },
    /// Change a user's e-mail address (refused when the new one is invalid or taken); the
    /// user's sessions, tokens and mailed links end.
    SetEmail {
        /// The current e-mail address.
        old: String,
        /// The new e-mail address.
        new: String,
    },
    /// End every session, remember cookie, authentication token and refresh token of a user.
    RevokeSessions {
        /// The e-mail address.
        email: String,
    },
    /// Flask-Security 5.9's `users reset_access`: every session, remember cookie,
    /// authentication token and refresh token of the user stops working; the password stays.
    ResetAccess {
        /// The e-mail address.
        email: String,
    },
}

impl std::fmt::Debug for UsersCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UsersCommand::Create {
                email,
                password,
                username,
                inactive,
                ..
            } => f
                .debug_struct("Create")
                .field("email", email)
                .field(
                    "password",
                    &crate::crypto::redact::Redacted(password.as_deref()),
                )
                .field("username", username)
                .field("inactive", inactive)
                .finish(),
            other => {
                let (verb, email) = match other {
                    UsersCommand::Activate { email } => ("Activate", email),
                    UsersCommand::Deactivate { email } => ("Deactivate", email),
                    UsersCommand::Delete { email } => ("Delete", email),
                    UsersCommand::Show { email } => ("Show", email),
                    UsersCommand::Unlock { email } => ("Unlock", email),
                    UsersCommand::RevokeSessions { email } => ("RevokeSessions", email),
                    UsersCommand::ResetAccess { email } => ("ResetAccess", email),
                    UsersCommand::Create { email, .. } => ("Create", email),
                    UsersCommand::SetEmail { old, .. } => ("SetEmail", old),
                };
                f.debug_struct(verb).field("email", email).finish()
            }
        }
    }
}

/// `roles …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum RolesCommand {
    /// Create a role.
    Create {
        /// The role name.
        name: String,
        /// A description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Give a user a role.
    Add {
        /// The user's e-mail address.
        email: String,
        /// The role name.
        role: String,
    },
    /// Take a role from a user.
    Remove {
        /// The user's e-mail address.
        email: String,
        /// The role name.
        role: String,
    },
}

/// Why a command was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The input was refused (invalid address, short password, …).
    #[error("{0}")]
    Refused(String),
    /// No user has this address.
    #[error("no user with the e-mail address `{0}`")]
    NoSuchUser(String),
    /// No role has this name.
    #[error("no role named `{0}`")]
    NoSuchRole(String),
    /// The datastore failed.
    #[error(transparent)]
    Datastore(#[from] DatastoreError),
    /// Another failure (the throttle store).
    #[error(transparent)]
    Runtime(#[from] crate::Error),
}

/// Runs a command; returns what to print.
///
/// # Errors
/// A refusal or a datastore failure.
pub async fn run<U>(security: &Security<U>, command: Command) -> Result<String, CliError>
where
    U: SecurityUser + ModelTrait<Entity = <U as SecurityUser>::Entity>,
{
    let outcome = run_command(security, command).await;
    // The process exits next: the other instances must hear of the change before it does.
    security.flush_identity_invalidations().await;
    outcome
}

async fn run_command<U>(security: &Security<U>, command: Command) -> Result<String, CliError>
where
    U: SecurityUser + ModelTrait<Entity = <U as SecurityUser>::Entity>,
{
    let store = security.datastore();
    let find = |email: String| async move {
        store
            .find_user_by_email(&email)
            .await?
            .ok_or(CliError::NoSuchUser(email))
    };
    match command {
        Command::ApiKeys(command) => run_api_keys(security, command).await,
        Command::Users(UsersCommand::Create {
            email,
            password,
            username,
            active: _,
            inactive,
        }) => {
            let mut problems = Vec::new();
            if !crate::flows::context::valid_email(&email) {
                problems.push(format!("invalid e-mail address `{email}`"));
            }
            if let Some(p) = &password {
                let config = security.config();
                let normal = crate::password_policy::normalize(config, p);
                if let Err(problem) =
                    crate::password_policy::check_new_password(config, &normal, &[&email])
                {
                    problems.push(problem.message(config));
                }
            }
            if !problems.is_empty() {
                return Err(CliError::Refused(problems.join("; ")));
            }
            let mut new = NewUser::new(email, password.as_deref()).active(!inactive);
            if let Some(name) = username {
                if <U as SecurityUser>::Column::from_str("username").is_err() {
                    return Err(CliError::Refused(
                        "the user model has no `username` column".into(),
                    ));
                }
                // 5.9's username rules, but for the length limits, which are the forms'
                // (an administrator may create the short `joe` of 1.7.4's fixtures). The
                // datastore stores the name folded and refuses one that is taken.
                let config = security.config();
                let name = match crate::username::validate(config, &name) {
                    Ok(normal) => normal.unwrap_or_default(),
                    Err(crate::username::UsernameProblem::InvalidLength) => {
                        crate::username::normalize(config.username_normalize_form, &name)
                    }
                    Err(problem) => return Err(CliError::Refused(problem.message(config))),
                };
                new = new.field("username", name);
            }
            let user = store.create_user(new).await.map_err(|e| match e {
                DatastoreError::DuplicateEmail { email } => {
                    CliError::Refused(format!("{email} is already associated with an account"))
                }
                DatastoreError::DuplicateUsername { username } => {
                    CliError::Refused(format!("{username} is already associated with an account"))
                }
                other => CliError::Datastore(other),
            })?;
            Ok(format!("User created successfully: {}\n", user.email()))
        }
        Command::Users(UsersCommand::Activate { email }) => {
            let user = find(email).await?;
            let changed = store.activate_user(&user).await?;
            security.forget_identity(&user.id());
            Ok(if changed {
                format!("User '{}' has been activated\n", user.email())
            } else {
                format!("User '{}' was already active\n", user.email())
            })
        }
        Command::Users(UsersCommand::Deactivate { email }) => {
            let user = find(email).await?;
            let changed = store.deactivate_user(&user).await?;
            security.forget_identity(&user.id());
            Ok(if changed {
                format!("User '{}' has been deactivated\n", user.email())
            } else {
                format!("User '{}' was already inactive\n", user.email())
            })
        }
        Command::Users(UsersCommand::Unlock { email }) => {
            let user = find(email).await?;
            if !security.config().lockable {
                return Err(CliError::Refused(
                    "the lockout is off (SECURITY_LOCKABLE): no account is locked".into(),
                ));
            }
            Ok(if security.unlock_user(&user).await? {
                format!("User '{}' has been unlocked\n", user.email())
            } else {
                format!("User '{}' was not locked\n", user.email())
            })
        }
        Command::Users(UsersCommand::SetEmail { old, new }) => {
            let new = new.trim().to_owned();
            if !crate::flows::context::valid_email(&new) {
                return Err(CliError::Refused(format!("invalid e-mail address `{new}`")));
            }
            let user = find(old).await?;
            let refused_taken = |email: &str| {
                CliError::Refused(format!("{email} is already associated with an account"))
            };
            if crate::store::datastore::canonical(&new)
                == crate::store::datastore::canonical(user.email())
            {
                return Err(refused_taken(&new));
            }
            match security.set_email(&user, &new).await {
                Ok(true) => Ok(format!(
                    "User '{}' now has the e-mail address '{new}'\n",
                    user.email()
                )),
                Ok(false) => Err(CliError::Refused(format!(
                    "the address of '{}' changed meanwhile; nothing was done",
                    user.email()
                ))),
                Err(crate::Error::Datastore(DatastoreError::DuplicateEmail { email })) => {
                    Err(refused_taken(&email))
                }
                Err(other) => Err(other.into()),
            }
        }
        Command::Users(UsersCommand::RevokeSessions { email }) => {
            let user = find(email).await?;
            security.revoke_sessions(&user).await?;
            Ok(format!(
                "User \"{}\" sessions and tokens have been revoked.\n",
                user.email()
            ))
        }
        Command::Users(UsersCommand::ResetAccess { email }) => {
            let user = find(email).await?;
            security.reset_access(&user).await?;
            Ok(format!(
                "User \"{}\" authentication credentials have been reset.\n",
                user.email()
            ))
        }
        Command::Users(UsersCommand::Delete { email }) => {
            let user = find(email).await?;
            store.delete_user(&user).await?;
            security.forget_identity(&user.id());
            Ok(format!("User '{}' has been deleted\n", user.email()))
        }
        Command::Users(UsersCommand::Show { email }) => {
            let user = find(email).await?;
            let roles: Vec<String> = store
                .user_roles(&user)
                .await?
                .iter()
                .map(|r| crate::store::model::SecurityRole::name(r).to_owned())
                .collect();
            let tracking = user.tracking().unwrap_or_default();
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
            };
            let username = <U as SecurityUser>::Column::from_str("username")
                .ok()
                .map(|c| value_json(ModelTrait::get(&user, c)))
                .unwrap_or(serde_json::Value::Null);
            let shown = json!({
                "id": user.id().to_string(),
                "email": user.email(),
                "username": username,
                "active": user.active(),
                "confirmed_at": time(user.confirmed_at()),
                "roles": roles,
                "last_login_at": time(tracking.last_login_at),
                "current_login_at": time(tracking.current_login_at),
                "last_login_ip": tracking.last_login_ip,
                "current_login_ip": tracking.current_login_ip,
                "login_count": tracking.login_count,
                // Two-factor and passkeys are not in this version: none set up.
                "tf_primary_method": null,
                "tf_phone_number": null,
                "mf_recovery_codes": 0,
                "webauthn": [],
            });
            Ok(format!(
                "{}\n",
                serde_json::to_string_pretty(&shown).unwrap_or_default()
            ))
        }
        Command::Roles(RolesCommand::Create { name, description }) => {
            store
                .create_role(&name, description.as_deref())
                .await
                .map_err(|e| match e {
                    DatastoreError::DuplicateRole { name } => {
                        CliError::Refused(format!("a role named `{name}` already exists"))
                    }
                    other => CliError::Datastore(other),
                })?;
            Ok(format!("Role \"{name}\" created successfully.\n"))
        }
        Command::Roles(RolesCommand::Add { email, role }) => {
            let user = find(email).await?;
            let found = store
                .find_role(&role)
                .await?
                .ok_or_else(|| CliError::NoSuchRole(role.clone()))?;
            store.add_role_to_user(&user, &found).await?;
            security.forget_identity(&user.id());
            Ok(format!(
                "Role '{role}' added to user '{}' successfully\n",
                user.email()
            ))
        }
        Command::Roles(RolesCommand::Remove { email, role }) => {
            let user = find(email).await?;
            let found = store
                .find_role(&role)
                .await?
                .ok_or_else(|| CliError::NoSuchRole(role.clone()))?;
            store.remove_role_from_user(&user, &found).await?;
            security.forget_identity(&user.id());
            Ok(format!(
                "Role '{role}' removed from user '{}' successfully\n",
                user.email()
            ))
        }
    }
}

/// `api-keys list|revoke`.
async fn run_api_keys<U: SecurityUser>(
    security: &Security<U>,
    command: ApiKeysCommand,
) -> Result<String, CliError> {
    let store = security.datastore();
    let email = match &command {
        ApiKeysCommand::List { email } | ApiKeysCommand::Revoke { email, .. } => email.clone(),
    };
    let user = store
        .find_user_by_email(&email)
        .await?
        .ok_or(CliError::NoSuchUser(email))?;
    let time = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let api_error = |err: crate::ApiKeyError| match err {
        crate::ApiKeyError::Database(err) => CliError::Runtime(err.into()),
        other => CliError::Refused(other.to_string()),
    };
    match command {
        ApiKeysCommand::List { .. } => {
            let keys = security.list_api_keys(&user).await?;
            if keys.is_empty() {
                return Ok(format!("User '{}' has no API keys\n", user.email()));
            }
            let mut out = String::new();
            for key in keys {
                let state = match key.revoked_at {
                    Some(at) => format!("revoked {}", time(at)),
                    None => match key.expires_at {
                        Some(at) => format!("expires {}", time(at)),
                        None => "never expires".to_owned(),
                    },
                };
                let used = key.last_used_at.map_or_else(
                    || "never used".to_owned(),
                    |at| format!("last used {}", time(at)),
                );
                out.push_str(&format!(
                    "{}\t{}\t{}_…\tcreated {}\t{state}\t{used}\n",
                    key.id,
                    key.name,
                    key.start,
                    time(key.created_at)
                ));
            }
            Ok(out)
        }
        ApiKeysCommand::Revoke { key, .. } => {
            let revoked = security
                .revoke_api_key(&user, &key)
                .await
                .map_err(api_error)?;
            Ok(format!(
                "API key '{}' ({}) of user '{}' has been revoked\n",
                revoked.name,
                revoked.id,
                user.email()
            ))
        }
    }
}

fn value_json(value: Value) -> serde_json::Value {
    match value {
        Value::String(Some(s)) => json!(s),
        Value::Bool(Some(b)) => json!(b),
        Value::Int(Some(i)) => json!(i),
        Value::BigInt(Some(i)) => json!(i),
        _ => serde_json::Value::Null,
    }
}
