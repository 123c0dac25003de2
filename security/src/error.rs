//! Infrastructure failures. Expected outcomes (a wrong password, an expired link) are not
//! errors: they are messages (`SECURITY_MSG_*`) shown to the user.

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::config::ConfigError;
use crate::mail::MailError;
use crate::password::HashError;
use crate::store::datastore::DatastoreError;

/// A failure of the database, the mail transport, a template or the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid, or does not fit the entities.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The datastore failed.
    #[error(transparent)]
    Datastore(#[from] DatastoreError),
    /// Hashing a password failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// Sending mail failed.
    #[error(transparent)]
    Mail(#[from] MailError),
    /// Rendering a template failed.
    #[error("template error: {0}")]
    Template(#[from] askama::Error),
    /// The throttle store (database or Redis) failed, and `SECURITY_THROTTLE_FAIL_OPEN` is
    /// off, or it could not be set up.
    #[error(transparent)]
    Throttle(#[from] crate::throttle::ThrottleError),
    /// A rate limit refused the request: HTTP 429, with `Retry-After`.
    #[error("too many requests; retry after {retry_after} s")]
    Throttled {
        /// Seconds until the client may try again.
        retry_after: u64,
    },
    /// Tables that the enabled features need do not exist.
    #[error(
        "the tables {} do not exist: create them with `security::schema::create_tables(&db).await?` \
         (idempotent) before building, or in the app's own migrations from the entities of \
         `security::schema`",
        tables.join(", ")
    )]
    MissingTables {
        /// The missing tables.
        tables: Vec<&'static str>,
    },
}

impl From<sea_orm::DbErr> for Error {
    fn from(err: sea_orm::DbErr) -> Self {
        Error::Datastore(DatastoreError::Database(err))
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "security: request failed");
        if let Error::Throttled { retry_after } = self {
            let mut response = StatusCode::TOO_MANY_REQUESTS.into_response();
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, retry_after.into());
            return response;
        }
        let status = match self {
            Error::Mail(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, status.canonical_reason().unwrap_or("Error")).into_response()
    }
}
