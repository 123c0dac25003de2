//! The identity loader's own connection, kept while it has work.
//!
//! Every batch of the guards' identity query through SeaORM takes a connection from the pool
//! and gives it back: with sqlx's defaults that is a ping (a round trip to the connection; on
//! SQLite, to its worker thread) before the query and a task after it. Under load the loader
//! runs one batch after another, so it keeps one connection between them and runs the
//! statement on it through sqlx (the rows are decoded by SeaORM as before). The connection
//! goes back to the pool
//! - when the queue is empty (the loader drops it);
//! - after a batch, when the pool has no idle connection and cannot open another, so that
//!   another task waits at most one batch for it (a pool of one included);
//! - after [`MAX_HOLD`], so that the pool's `max_lifetime` and `close` take effect;
//! - when the pool is closed;
//! - after a failed query: kept by the pool for a database's error (a constraint, a lock
//!   timeout), closed for a broken connection (I/O, protocol, a crashed SQLite worker).
//!
//! The statement bypasses SeaORM's metric callback and its `sea_orm` tracing span (sqlx's own
//! statement logging, configured on the pool, still applies). Connections that are not sqlx
//! pools (SeaORM's mock and proxy connections) run the statement through SeaORM.

use sea_orm::{DatabaseConnection, DbErr, QueryResult, Statement};

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
use sea_orm::{DatabaseConnectionType, sqlx};

/// How long a connection is kept at most before it goes back to the pool.
pub(crate) const MAX_HOLD: std::time::Duration = std::time::Duration::from_secs(1);

/// A pool connection held between batches, or none.
#[derive(Default)]
pub(crate) struct HeldConnection {
    conn: Held,
    /// When the held connection was taken from the pool.
    since: Option<std::time::Instant>,
}

#[derive(Default)]
enum Held {
    #[default]
    None,
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    MySql(sqlx::pool::PoolConnection<sqlx::MySql>),
}

impl HeldConnection {
    /// Runs `statement` on the held connection, taking one from `db`'s pool first if none is
    /// held; keeps it afterwards unless one of the rules of the [module](self) gives it back.
    pub(crate) async fn query_all(
        &mut self,
        db: &DatabaseConnection,
        statement: Statement,
    ) -> Result<Vec<QueryResult>, DbErr> {
        if self.since.is_some_and(|since| since.elapsed() >= MAX_HOLD) {
            self.release();
        }
        let rows = self.query_on_pool(db, statement).await;
        match self.conn {
            Held::None => self.since = None,
            _ => {
                self.since.get_or_insert_with(std::time::Instant::now);
            }
        }
        rows
    }

    async fn query_on_pool(
        &mut self,
        db: &DatabaseConnection,
        statement: Statement,
    ) -> Result<Vec<QueryResult>, DbErr> {
        // The same steps for each backend: its held connection (if that kind), its pool.
        macro_rules! on_pool {
            ($held:ident, $pool:ident) => {{
                let mut conn = match std::mem::take(&mut self.conn) {
                    Held::$held(conn) => Some(conn),
                    _ => None,
                };
                let rows = fetch(db.$pool(), &mut conn, statement).await;
                self.conn = conn.map_or(Held::None, Held::$held);
                rows
            }};
        }
        match &db.inner {
            #[cfg(feature = "sqlite")]
            DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
                on_pool!(Sqlite, get_sqlite_connection_pool)
            }
            #[cfg(feature = "postgres")]
            DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
                on_pool!(Postgres, get_postgres_connection_pool)
            }
            #[cfg(feature = "mysql")]
            DatabaseConnectionType::SqlxMySqlPoolConnection(_) => {
                on_pool!(MySql, get_mysql_connection_pool)
            }
            #[allow(unreachable_patterns)]
            _ => {
                use sea_orm::ConnectionTrait;
                db.query_all_raw(statement).await
            }
        }
    }

    /// Whether a connection is held (for tests).
    #[cfg(test)]
    pub(crate) fn is_held(&self) -> bool {
        !matches!(self.conn, Held::None)
    }

    /// Gives the connection back to the pool.
    pub(crate) fn release(&mut self) {
        self.conn = Held::None;
        self.since = None;
    }
}

/// The statement on `conn` (taken from `pool` if `None`), which is then kept or given back
/// as the [module](self) says.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
async fn fetch<DB>(
    pool: &sqlx::Pool<DB>,
    conn: &mut Option<sqlx::pool::PoolConnection<DB>>,
    statement: Statement,
) -> Result<Vec<QueryResult>, DbErr>
where
    DB: sqlx::Database,
    QueryResult: From<DB::Row>,
    sea_query_sqlx::SqlxValues: sqlx::IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    let held = match conn {
        Some(held) => held,
        None => conn.insert(pool.acquire().await.map_err(acquire_error)?),
    };
    let values =
        sea_query_sqlx::SqlxValues(statement.values.unwrap_or(sea_orm::Values(Vec::new())));
    let rows = sqlx::query_with(sqlx::AssertSqlSafe(statement.sql), values)
        .fetch_all(&mut **held)
        .await;
    let contended = pool.num_idle() == 0 && pool.size() >= pool.options().get_max_connections();
    match rows {
        Ok(rows) => {
            if contended || pool.is_closed() {
                *conn = None;
            }
            Ok(rows.into_iter().map(QueryResult::from).collect())
        }
        Err(err) => {
            if let Some(mut given_back) = conn.take()
                && !matches!(err, sqlx::Error::Database(_))
            {
                // Possibly broken: closed when dropped, not reused.
                given_back.close_on_drop();
            }
            Err(DbErr::Query(sea_orm::RuntimeErr::SqlxError(err.into())))
        }
    }
}

/// A failure to get a connection, as SeaORM reports it.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
fn acquire_error(err: sqlx::Error) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => {
            DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::ConnectionClosed)
        }
        err => DbErr::Conn(sea_orm::RuntimeErr::SqlxError(err.into())),
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;

    async fn pool(connections: u32) -> DatabaseConnection {
        let mut options = sea_orm::ConnectOptions::new("sqlite::memory:");
        options.max_connections(connections).sqlx_logging(false);
        sea_orm::Database::connect(options).await.unwrap()
    }

    fn select_one() -> Statement {
        Statement::from_string(sea_orm::DatabaseBackend::Sqlite, "SELECT 1 AS one")
    }

    /// A connection kept longer than MAX_HOLD is given back and another one taken.
    #[tokio::test]
    async fn a_connection_held_too_long_goes_back() {
        let db = pool(4).await;
        let mut conn = HeldConnection::default();
        conn.query_all(&db, select_one()).await.unwrap();
        assert!(conn.is_held());
        let long_ago = std::time::Instant::now() - MAX_HOLD;
        conn.since = Some(long_ago);
        let rows = conn.query_all(&db, select_one()).await.unwrap();
        assert_eq!(rows[0].try_get::<i32>("", "one").unwrap(), 1);
        assert!(
            conn.since.is_some_and(|since| since > long_ago),
            "held anew"
        );
    }

    /// A database's error keeps the connection usable (an in-memory SQLite database lives
    /// only as long as its connection): the data is still there after it.
    #[tokio::test]
    async fn a_database_error_does_not_close_the_connection() {
        use sea_orm::ConnectionTrait;
        let db = pool(1).await;
        db.execute_unprepared("CREATE TABLE kept (x INTEGER); INSERT INTO kept VALUES (7)")
            .await
            .unwrap();
        let mut conn = HeldConnection::default();
        let missing =
            Statement::from_string(sea_orm::DatabaseBackend::Sqlite, "SELECT * FROM nope");
        let err = conn.query_all(&db, missing).await.unwrap_err();
        assert!(matches!(err, DbErr::Query(_)), "{err:?}");
        assert!(!conn.is_held());
        let kept = Statement::from_string(sea_orm::DatabaseBackend::Sqlite, "SELECT x FROM kept");
        let rows = conn.query_all(&db, kept).await.unwrap();
        assert_eq!(rows[0].try_get::<i32>("", "x").unwrap(), 7);
    }
}
