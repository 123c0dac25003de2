//! The tables the runtime keeps for itself, beside the app's users and roles:
//!
//! - `security_used_token`: one-shot tokens already used (passwordless login links work once);
//! - `security_revocation`: sessions and remember-me cookies ended by a logout, until they would
//!   have expired anyway; the guards' identity query reads it in the same statement;
//! - `security_outbox`: mail waiting to be sent (encrypted), retried until delivered;
//! - `security_flask_account`: with `SECURITY_FLASK_COMPAT`, when each account's password last
//!   changed, so that a Flask session cookie issued before the change is refused;
//! - `security_throttle`: the brute-force protection's counters and locks when
//!   `SECURITY_THROTTLE_STORE` is `database` (keyed digests, a count and an end time; see
//!   [`crate::throttle::DatabaseStore`]);
//! - `security_account_epoch`: for a user model without `fs_uniquifier`, the per-account value
//!   that sign out everywhere and `users reset-access` replace;
//! - `security_refresh_token`: the refresh-token families of `SECURITY_REFRESH_TOKEN`.
//!
//! - `security_api_key`: with `SECURITY_API_KEYS`, the users' API keys (a lookup id and a keyed
//!   digest of the secret, never the key; see [`api_key`]).
//!
//! Create them with [`create_tables`] (idempotent), or in the app's own migrations from the
//! entities of this module.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, Set};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Schema};

/// `security_used_token`: the digest of each used one-shot token, until it expires.
pub mod used_token {
    use sea_orm::entity::prelude::*;

    /// A used token.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "security_used_token")]
    pub struct Model {
        /// A keyed digest of the token (never the token itself).
        #[sea_orm(primary_key, auto_increment = false)]
        pub digest: String,
        /// When the token expires anyway (unix seconds); the row can go then.
        pub expires_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The name of the throttle table ([`throttle`]), for the store's own SQL.
pub(crate) const THROTTLE_TABLE: &str = "security_throttle";

/// `security_throttle`: the brute-force protection's counters and locks, one row per key, until
/// its window ends.
pub mod throttle {
    use sea_orm::entity::prelude::*;

    /// The count of one key.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "security_throttle")]
    pub struct Model {
        /// The key: a keyed digest (hex) of what is counted, never the address, e-mail or id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub digest: String,
        /// Hits in the current window (a lock counts 1).
        pub count: i32,
        /// When the window or lock ends (unix seconds); the row can go then.
        #[sea_orm(indexed)]
        pub expires_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `security_revocation`: what a logout ended, until it would have expired anyway.
pub mod revocation {
    use sea_orm::entity::prelude::*;

    /// An ended session or remember-me cookie.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "security_revocation")]
    pub struct Model {
        /// A keyed digest naming the session or cookie (it includes the user id).
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        /// The id of the user, as text: the identity query joins on it.
        #[sea_orm(indexed)]
        pub user_id: String,
        /// When the session or cookie expires anyway (unix seconds); the row can go then.
        #[sea_orm(indexed)]
        pub expires_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `security_outbox`: mail waiting to be sent.
pub mod outbox {
    use sea_orm::entity::prelude::*;

    /// One queued mail.
    #[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "security_outbox")]
    pub struct Model {
        /// Order of queueing.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Which mail (`reset_instructions`, …), for logs.
        pub kind: String,
        /// The mail, sealed with a key derived from `SECRET_KEY` (it may hold a link that logs
        /// in or resets a password).
        #[sea_orm(column_type = "Text")]
        pub payload: String,
        /// Failed deliveries so far.
        pub attempts: i32,
        /// When to try next (unix seconds); far in the future once it has failed for good.
        #[sea_orm(indexed)]
        pub next_attempt_at: i64,
        /// A sender holds the mail until then (unix seconds): two instances never send it twice
        /// at once.
        pub locked_until: i64,
        /// When it was queued (unix seconds).
        pub created_at: i64,
        /// The last delivery error.
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
    }

    impl std::fmt::Debug for Model {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Model")
                .field("id", &self.id)
                .field("kind", &self.kind)
                .field("payload", &"<sealed>")
                .field("attempts", &self.attempts)
                .field("next_attempt_at", &self.next_attempt_at)
                .field("last_error", &self.last_error)
                .finish_non_exhaustive()
        }
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `security_flask_account`: with `SECURITY_FLASK_COMPAT`, the account state that Flask session
/// cookies are checked against.
pub mod flask_account {
    use sea_orm::entity::prelude::*;

    /// One account.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "security_flask_account")]
    pub struct Model {
        /// The id of the user, as text.
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        /// A keyed digest of the password hash last seen.
        pub password_digest: String,
        /// When the password last changed (unix seconds; 0: not since the row was made). A
        /// Flask session cookie older than this is refused.
        pub changed_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

// --- API keys (`SECURITY_API_KEYS`) ---------------------------------------------------------
pub use super::api_keys::api_key;
/// `security_account_epoch`: for a user model without `fs_uniquifier`, a per-account value
/// that the account fingerprint (what sessions, remember cookies and tokens are bound to)
/// mixes in; replacing it (sign out everywhere, `users reset-access`) ends them all. An
/// account without a row has none (its fingerprint is unchanged).
pub mod account_epoch {
    use sea_orm::entity::prelude::*;

    /// One account's value.
    #[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "security_account_epoch")]
    pub struct Model {
        /// The id of the user, as text: the identity query joins on it.
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        /// A random value, replaced at each revocation.
        pub epoch: String,
    }

    impl std::fmt::Debug for Model {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Model")
                .field("user_id", &self.user_id)
                .finish_non_exhaustive()
        }
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `security_refresh_token`: one row per refresh-token family (Flask-Security 5.9's
/// `FsRefreshTracker`), with a keyed digest of the family's current token, never the token.
pub mod refresh_token {
    use sea_orm::entity::prelude::*;

    /// A refresh-token family.
    #[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "security_refresh_token")]
    pub struct Model {
        /// The family's random id (5.9's `refresh_family`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub family: String,
        /// The id of the user, as text.
        #[sea_orm(indexed)]
        pub user_id: String,
        /// The name given at creation (`default` for a login).
        pub name: String,
        /// The generation of the current token: 1 at creation, +1 at each use.
        pub generation: i32,
        /// A keyed digest of the current token.
        pub digest: String,
        /// When the family was created (unix seconds).
        pub created_at: i64,
        /// When the family expires whatever its use (unix seconds).
        pub expires_at: i64,
        /// When its last token was issued (unix seconds): the idle expiry counts from it.
        pub last_used_at: i64,
        /// When it was revoked (logout, reuse of an older token, a reset), if it was.
        pub revoked_at: Option<i64>,
    }

    impl std::fmt::Debug for Model {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Model")
                .field("user_id", &self.user_id)
                .field("name", &self.name)
                .field("generation", &self.generation)
                .field("expires_at", &self.expires_at)
                .field("last_used_at", &self.last_used_at)
                .field("revoked_at", &self.revoked_at)
                .finish_non_exhaustive()
        }
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Creates the runtime's tables (and their indexes) if they do not exist.
///
/// # Errors
/// A database failure.
pub async fn create_tables(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        // PostgreSQL's `CREATE … IF NOT EXISTS` is not atomic: two instances of a fleet
        // starting together on an empty database collide on the catalog. A transaction-scoped
        // advisory lock makes them take turns (DDL is transactional there).
        use sea_orm::TransactionTrait;
        let txn = db.begin().await?;
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7367327362736503921)")
            .await?;
        create_tables_on(&txn).await?;
        return txn.commit().await;
    }
    create_tables_on(db).await
}

/// The runtime's tables and the shipped entities' (`crate::entities`), for the crate's own
/// tests.
#[cfg(test)]
pub(crate) async fn create_test_tables(db: &DatabaseConnection) {
    create_tables(db).await.unwrap();
    let schema = Schema::new(db.get_database_backend());
    for table in [
        schema.create_table_from_entity(crate::entities::user::Entity),
        schema.create_table_from_entity(crate::entities::role::Entity),
        schema.create_table_from_entity(crate::entities::roles_users::Entity),
    ] {
        db.execute(&table).await.unwrap();
    }
}

async fn create_tables_on<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let schema = Schema::new(backend);
    let mut tables = [
        schema.create_table_from_entity(used_token::Entity),
        schema.create_table_from_entity(revocation::Entity),
        schema.create_table_from_entity(outbox::Entity),
        schema.create_table_from_entity(flask_account::Entity),
        schema.create_table_from_entity(throttle::Entity),
        schema.create_table_from_entity(account_epoch::Entity),
        schema.create_table_from_entity(refresh_token::Entity),
    ];
    for table in &mut tables {
        table.if_not_exists();
        db.execute(&*table).await?;
    }
    for mut index in schema
        .create_index_from_entity(revocation::Entity)
        .into_iter()
        .chain(schema.create_index_from_entity(outbox::Entity))
        .chain(schema.create_index_from_entity(throttle::Entity))
        .chain(schema.create_index_from_entity(refresh_token::Entity))
    {
        if backend == sea_orm::DatabaseBackend::MySql {
            // MySQL has no `CREATE INDEX IF NOT EXISTS` (MariaDB has): an existing index is
            // error 1061, which is what "if not exists" means.
            match db.execute(&index).await {
                Err(err) if is_duplicate_index(&err) => {}
                other => {
                    other?;
                }
            }
        } else {
            index.if_not_exists();
            db.execute(&index).await?;
        }
    }
    // API keys (`SECURITY_API_KEYS`).
    super::api_keys::create_table(db).await?;
    Ok(())
}

/// The runtime tables that the enabled features of `config` need: `security_revocation`
/// always (logout), `security_outbox` when a feature sends mail, `security_used_token` for
/// passwordless and unlock links and Flask compatibility, `security_flask_account` for Flask
/// compatibility, `security_throttle` for rate limits and the lockout kept in the database.
pub fn needed_tables(config: &crate::config::Config) -> Vec<&'static str> {
    let mut tables = vec!["security_revocation"];
    let mails = config.registerable && config.send_register_email
        || config.confirmable
        || config.recoverable
        || config.passwordless
        || config.changeable && config.send_password_change_email
        || config.change_email;
    if mails {
        tables.push("security_outbox");
    }
    if config.passwordless || config.flask_compat || config.lockable || config.change_email {
        tables.push("security_used_token");
    }
    let throttled = config.lockable || !config.rate_limits.is_empty();
    if throttled && config.throttle_store == crate::config::ThrottleBackend::Database {
        tables.push("security_throttle");
    }
    if config.lockable && config.unlock_strategy.mails() && !tables.contains(&"security_outbox") {
        tables.push("security_outbox");
    }
    if config.flask_compat {
        tables.push("security_flask_account");
    }
    // API keys (`SECURITY_API_KEYS`).
    if config.api_keys {
        tables.push(super::api_keys::TABLE);
    }
    if config.refresh_token {
        tables.push("security_refresh_token");
    }
    tables
}

/// Which of `tables` do not exist in the connection's database (its current schema).
///
/// # Errors
/// A database failure.
pub async fn missing_tables(
    db: &DatabaseConnection,
    tables: &[&'static str],
) -> Result<Vec<&'static str>, DbErr> {
    use sea_orm::{DatabaseBackend, Statement};
    let backend = db.get_database_backend();
    let mut missing = Vec::new();
    for table in tables {
        let sql = match backend {
            DatabaseBackend::Sqlite => {
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
            }
            DatabaseBackend::Postgres => {
                "SELECT 1 FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
            _ => {
                "SELECT 1 FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = ?"
            }
        };
        let found = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [(*table).into()],
            ))
            .await?;
        if found.is_none() {
            missing.push(*table);
        }
    }
    Ok(missing)
}

/// MySQL's error 1061 (`ER_DUP_KEYNAME`).
fn is_duplicate_index(err: &DbErr) -> bool {
    mysql_error_number(err) == Some(1061)
}

/// The MySQL error number of a failed statement, read from the driver's error (`None` for
/// any other error, and always without the MySQL driver).
#[cfg(feature = "mysql")]
pub(crate) fn mysql_error_number(err: &DbErr) -> Option<u16> {
    let (DbErr::Exec(sea_orm::RuntimeErr::SqlxError(err))
    | DbErr::Query(sea_orm::RuntimeErr::SqlxError(err))) = err
    else {
        return None;
    };
    let sea_orm::sqlx::Error::Database(err) = &**err else {
        return None;
    };
    err.try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>()
        .map(|err| err.number())
}

/// Without the MySQL driver no MySQL error can occur.
#[cfg(not(feature = "mysql"))]
pub(crate) fn mysql_error_number(_: &DbErr) -> Option<u16> {
    None
}

/// Records a one-shot token as used: `true` the first time, `false` when it was used before
/// (also when a concurrent request won: the digest is the primary key). Expired records are
/// purged on the way.
pub(crate) async fn consume(
    db: &DatabaseConnection,
    digest: String,
    expires_at: i64,
    now: i64,
) -> Result<bool, DbErr> {
    used_token::Entity::delete_many()
        .filter(used_token::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    let row = used_token::ActiveModel {
        digest: Set(digest.clone()),
        expires_at: Set(expires_at),
    };
    match used_token::Entity::insert(row)
        .exec_without_returning(db)
        .await
    {
        Ok(_) => Ok(true),
        Err(err) => {
            let exists = used_token::Entity::find_by_id(digest)
                .one(db)
                .await?
                .is_some();
            if exists { Ok(false) } else { Err(err) }
        }
    }
}

/// Records a revocation: `key` (of a session or remember-me cookie of `user_id`) is refused
/// until `expires_at`. Expired records are purged on the way; recording a key twice is fine.
pub(crate) async fn revoke(
    db: &DatabaseConnection,
    key: String,
    user_id: &str,
    expires_at: i64,
    now: i64,
) -> Result<(), DbErr> {
    revocation::Entity::delete_many()
        .filter(revocation::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    let row = revocation::ActiveModel {
        key: Set(key),
        user_id: Set(user_id.to_owned()),
        expires_at: Set(expires_at),
    };
    revocation::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(revocation::Column::Key)
                .update_column(revocation::Column::ExpiresAt)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// After the account `user_id` was deleted: no Flask session cookie of that id is accepted
/// again (a new account may get the id). The row's digest matches no password, so the first
/// Flask cookie of a new account under the id counts as signed before a password change, and
/// later ones from then on.
///
/// # Errors
/// A database failure.
pub(crate) async fn forget_flask_sessions<C: ConnectionTrait>(
    db: &C,
    user_id: String,
) -> Result<(), DbErr> {
    upsert_flask_account(db, user_id, String::new(), i64::MAX / 2, true).await
}

/// Writes the password-change record of an account (`security_flask_account`), replacing the
/// digest and, with `set_changed_at`, the time.
pub(crate) async fn upsert_flask_account<C: ConnectionTrait>(
    db: &C,
    user_id: String,
    digest: String,
    changed_at: i64,
    set_changed_at: bool,
) -> Result<(), DbErr> {
    let mut conflict = OnConflict::column(flask_account::Column::UserId);
    conflict.update_column(flask_account::Column::PasswordDigest);
    if set_changed_at {
        conflict.update_column(flask_account::Column::ChangedAt);
    }
    flask_account::Entity::insert(flask_account::ActiveModel {
        user_id: Set(user_id),
        password_digest: Set(digest),
        changed_at: Set(changed_at),
    })
    .on_conflict(conflict.to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(())
}
