//! [`DatabaseStore`]: counters and locks in the app's own database (`security_throttle`),
//! shared by every instance that uses the database.
//!
//! Every hit is one atomic upsert, never a read followed by a write, so that parallel requests
//! on several instances lose no count:
//!
//! - SQLite (3.35 or later) and PostgreSQL: `INSERT … ON CONFLICT (digest) DO UPDATE … RETURNING`;
//! - MySQL and MariaDB: `INSERT … ON DUPLICATE KEY UPDATE`, then a `SELECT` of the row in the
//!   same transaction, which holds the row's lock since the upsert. A deadlock (InnoDB may pick
//!   one of several upserts of a new key) rolls the whole transaction back and is retried.
//!
//! Rows whose window has ended are deleted now and then (every 256th hit of a store).

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryResult, Statement, TransactionTrait, Value,
};

use super::{Tally, ThrottleError, ThrottleKey, ThrottleStore};
use crate::schema::{THROTTLE_TABLE, throttle};

/// Ended rows are purged on one hit in this many.
const PURGE_EVERY: u64 = 256;

/// How often a MySQL upsert is tried when InnoDB picks it as a deadlock victim.
const DEADLOCK_ATTEMPTS: u32 = 5;

/// Counters and locks in the app's database, table `security_throttle` (created by
/// [`create_tables`](crate::schema::create_tables), entity [`throttle`]). The key is
/// stored as given (a keyed digest, `digest` column), beside a count and an end time.
///
/// Works on SQLite 3.35 or later (the SQLite that sqlx builds in is), PostgreSQL, MySQL and
/// MariaDB.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use security::throttle::{DatabaseStore, ThrottleKey, ThrottleStore};
///
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// security::schema::create_tables(&db).await?;
/// let store = DatabaseStore::new(db);
/// let key = ThrottleKey::from_hex(&"0f".repeat(32)).unwrap();
/// let tally = store.hit(&key, 60, 1_000).await?;
/// assert_eq!((tally.count, tally.expires_at), (1, 1_060));
/// # Ok(()) }
/// ```
pub struct DatabaseStore {
    db: DatabaseConnection,
    sql: Sql,
    hits: AtomicU64,
}

/// The statements of one backend, written once when the store is made.
struct Sql {
    /// SQLite and PostgreSQL: the upserts return the row; MySQL: they are followed by `select`.
    returning: bool,
    hit: String,
    lock: String,
    select: String,
}

impl Sql {
    fn new(backend: DatabaseBackend) -> Self {
        let t = THROTTLE_TABLE;
        if backend == DatabaseBackend::MySql {
            // Assignments run left to right and see the values already assigned: `count` is
            // decided from the old `expires_at`, before `expires_at` changes.
            return Sql {
                returning: false,
                hit: format!(
                    "INSERT INTO {t} (digest, count, expires_at) VALUES (?, 1, ?) \
                     ON DUPLICATE KEY UPDATE \
                     count = IF(expires_at <= ?, 1, count + 1), \
                     expires_at = IF(expires_at <= ?, ?, expires_at)"
                ),
                lock: format!(
                    "INSERT INTO {t} (digest, count, expires_at) VALUES (?, 1, ?) \
                     ON DUPLICATE KEY UPDATE \
                     count = IF(expires_at <= ?, 1, count), \
                     expires_at = IF(expires_at <= ? OR expires_at < ?, ?, expires_at)"
                ),
                select: format!("SELECT count, expires_at FROM {t} WHERE digest = ?"),
            };
        }
        // SQLite and PostgreSQL; sqlx's SQLite binds `$n` as PostgreSQL does. $1: the key,
        // $2: now, $3: the end of a new window (or the lock).
        Sql {
            returning: true,
            hit: format!(
                "INSERT INTO {t} (digest, count, expires_at) VALUES ($1, 1, $3) \
                 ON CONFLICT (digest) DO UPDATE SET \
                 count = CASE WHEN {t}.expires_at <= $2 THEN 1 ELSE {t}.count + 1 END, \
                 expires_at = CASE WHEN {t}.expires_at <= $2 THEN $3 ELSE {t}.expires_at END \
                 RETURNING count, expires_at"
            ),
            lock: format!(
                "INSERT INTO {t} (digest, count, expires_at) VALUES ($1, 1, $3) \
                 ON CONFLICT (digest) DO UPDATE SET \
                 count = CASE WHEN {t}.expires_at <= $2 THEN 1 ELSE {t}.count END, \
                 expires_at = CASE WHEN {t}.expires_at <= $2 OR {t}.expires_at < $3 THEN $3 \
                 ELSE {t}.expires_at END \
                 RETURNING count, expires_at"
            ),
            select: String::new(),
        }
    }
}

impl DatabaseStore {
    /// A store over the app's connection (pool). The table must exist
    /// ([`create_tables`](crate::schema::create_tables) or the app's migrations).
    pub fn new(db: DatabaseConnection) -> Self {
        let sql = Sql::new(db.get_database_backend());
        DatabaseStore {
            db,
            sql,
            hits: AtomicU64::new(0),
        }
    }

    /// Runs an upsert (`hit` or `lock`) whose row ends at `end` if it is new, and returns the
    /// row after it.
    async fn upsert(
        &self,
        key: &ThrottleKey,
        end: i64,
        now: i64,
        hit: bool,
    ) -> Result<Tally, DbErr> {
        let backend = self.db.get_database_backend();
        let digest = || Value::from(key.as_str());
        if self.sql.returning {
            let sql = if hit { &self.sql.hit } else { &self.sql.lock };
            let statement = Statement::from_sql_and_values(
                backend,
                sql.as_str(),
                [digest(), now.into(), end.into()],
            );
            let row = self.db.query_one_raw(statement).await?;
            return read_tally(row);
        }
        let values: Vec<Value> = if hit {
            vec![digest(), end.into(), now.into(), now.into(), end.into()]
        } else {
            vec![
                digest(),
                end.into(),
                now.into(),
                now.into(),
                end.into(),
                end.into(),
            ]
        };
        let sql = if hit { &self.sql.hit } else { &self.sql.lock };
        let mut attempt = 1;
        loop {
            let result = async {
                let txn = self.db.begin().await?;
                txn.execute_raw(Statement::from_sql_and_values(
                    backend,
                    sql.as_str(),
                    values.clone(),
                ))
                .await?;
                let row = txn
                    .query_one_raw(Statement::from_sql_and_values(
                        backend,
                        self.sql.select.as_str(),
                        [digest()],
                    ))
                    .await?;
                txn.commit().await?;
                read_tally(row)
            }
            .await;
            match result {
                Err(err) if attempt < DEADLOCK_ATTEMPTS && is_deadlock(&err) => attempt += 1,
                other => return other,
            }
        }
    }

    /// Deletes the rows whose window ended before `now`, on one call in [`PURGE_EVERY`]. A
    /// failure only delays the purge: the hit has been counted.
    async fn purge_now_and_then(&self, now: i64) {
        if !self
            .hits
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PURGE_EVERY)
        {
            return;
        }
        let purged = throttle::Entity::delete_many()
            .filter(throttle::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await;
        if let Err(err) = purged {
            tracing::debug!(error = %err, "could not purge ended throttle counts; next time");
        }
    }
}

impl std::fmt::Debug for DatabaseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseStore")
            .field("backend", &self.db.get_database_backend())
            .finish_non_exhaustive()
    }
}

/// The `count, expires_at` of a returned row.
fn read_tally(row: Option<QueryResult>) -> Result<Tally, DbErr> {
    let row = row.ok_or_else(|| {
        DbErr::RecordNotFound(format!(
            "the upserted {THROTTLE_TABLE} row was not returned"
        ))
    })?;
    Ok(tally(row.try_get_by_index(0)?, row.try_get_by_index(1)?))
}

fn tally(count: i32, expires_at: i64) -> Tally {
    Tally {
        count: u32::try_from(count).unwrap_or_default(),
        expires_at,
    }
}

#[async_trait]
impl ThrottleStore for DatabaseStore {
    async fn hit(&self, key: &ThrottleKey, window: u32, now: i64) -> Result<Tally, ThrottleError> {
        let end = now.saturating_add(i64::from(window.max(1)));
        let tally = self.upsert(key, end, now, true).await?;
        self.purge_now_and_then(now).await;
        Ok(tally)
    }

    async fn get(&self, key: &ThrottleKey, now: i64) -> Result<Option<Tally>, ThrottleError> {
        let row = throttle::Entity::find_by_id(key.as_str().to_owned())
            .one(&self.db)
            .await?;
        Ok(row
            .filter(|row| row.expires_at > now)
            .map(|row| tally(row.count, row.expires_at)))
    }

    /// One `SELECT … WHERE digest IN (…)` for all the keys.
    async fn get_many(
        &self,
        keys: &[ThrottleKey],
        now: i64,
    ) -> Result<Vec<Option<Tally>>, ThrottleError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let rows = throttle::Entity::find()
            .filter(throttle::Column::Digest.is_in(keys.iter().map(|k| k.as_str().to_owned())))
            .all(&self.db)
            .await?;
        Ok(keys
            .iter()
            .map(|key| {
                rows.iter()
                    .find(|row| row.digest == key.as_str() && row.expires_at > now)
                    .map(|row| tally(row.count, row.expires_at))
            })
            .collect())
    }

    async fn clear(&self, key: &ThrottleKey) -> Result<(), ThrottleError> {
        throttle::Entity::delete_by_id(key.as_str().to_owned())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    async fn lock_until(
        &self,
        key: &ThrottleKey,
        until: i64,
        now: i64,
    ) -> Result<Tally, ThrottleError> {
        Ok(self.upsert(key, until, now, false).await?)
    }
}

/// MySQL's error 1213 (`ER_LOCK_DEADLOCK`): the transaction was rolled back and may be tried
/// again.
fn is_deadlock(err: &DbErr) -> bool {
    crate::store::schema::mysql_error_number(err) == Some(1213)
}
