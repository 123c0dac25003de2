//! The identity loader's own connection, kept while it has work.
//!
//! Every batch of the guards' identity query through SeaORM takes a connection from the pool
//! and gives it back: with sqlx's defaults that is a ping (a round trip to the connection; on
//! SQLite, to its worker thread) before the query and a task after it. Under load the loader
//! runs one batch after another, so it keeps one connection between them and runs the
//! statement on it through sqlx (the rows are decoded by SeaORM as before). The connection
//! goes back to the pool when the queue is empty, when the query fails (it is closed, not
//! reused), and after each batch when the pool has no idle connection left, so that a pool
//! of one is never kept from the rest of the app.
//!
//! Connections that are not sqlx pools (SeaORM's mock and proxy connections) run the
//! statement through SeaORM.

use sea_orm::{DatabaseConnection, DbErr, QueryResult, Statement};

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
use sea_orm::{DatabaseConnectionType, sqlx};

/// A pool connection held between batches, or none.
#[derive(Default)]
pub(crate) struct HeldConnection {
    conn: Held,
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
    /// held; keeps it unless the query failed or the pool has no idle connection left.
    pub(crate) async fn query_all(
        &mut self,
        db: &DatabaseConnection,
        statement: Statement,
    ) -> Result<Vec<QueryResult>, DbErr> {
        match &db.inner {
            #[cfg(feature = "sqlite")]
            DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
                let mut conn = match std::mem::take(&mut self.conn) {
                    Held::Sqlite(conn) => Some(conn),
                    _ => None,
                };
                let pool = db.get_sqlite_connection_pool();
                let rows = fetch(pool, &mut conn, statement).await;
                self.conn = conn.map_or(Held::None, Held::Sqlite);
                rows
            }
            #[cfg(feature = "postgres")]
            DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
                let mut conn = match std::mem::take(&mut self.conn) {
                    Held::Postgres(conn) => Some(conn),
                    _ => None,
                };
                let pool = db.get_postgres_connection_pool();
                let rows = fetch(pool, &mut conn, statement).await;
                self.conn = conn.map_or(Held::None, Held::Postgres);
                rows
            }
            #[cfg(feature = "mysql")]
            DatabaseConnectionType::SqlxMySqlPoolConnection(_) => {
                let mut conn = match std::mem::take(&mut self.conn) {
                    Held::MySql(conn) => Some(conn),
                    _ => None,
                };
                let pool = db.get_mysql_connection_pool();
                let rows = fetch(pool, &mut conn, statement).await;
                self.conn = conn.map_or(Held::None, Held::MySql);
                rows
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
    }
}

/// The statement on `conn` (taken from `pool` if `None`). On failure the connection is closed
/// rather than returned (it may be broken); after success it is given back when the pool has
/// no idle one left, in case another task waits.
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
        None => conn.insert(pool.acquire().await.map_err(query_error)?),
    };
    let values =
        sea_query_sqlx::SqlxValues(statement.values.unwrap_or(sea_orm::Values(Vec::new())));
    let rows = sqlx::query_with(sqlx::AssertSqlSafe(statement.sql), values)
        .fetch_all(&mut **held)
        .await;
    match rows {
        Ok(rows) => {
            if pool.num_idle() == 0 && pool.size() >= pool.options().get_max_connections() {
                *conn = None;
            }
            Ok(rows.into_iter().map(QueryResult::from).collect())
        }
        Err(err) => {
            if let Some(broken) = conn.take() {
                // Closed in the background: the waiters get the error now.
                tokio::spawn(broken.close());
            }
            Err(query_error(err))
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
fn query_error(err: sqlx::Error) -> DbErr {
    DbErr::Query(sea_orm::RuntimeErr::SqlxError(err.into()))
}
