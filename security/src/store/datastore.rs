//! The user and role store over the app's SeaORM entities (Flask-Security's `datastore.py`).
//!
//! [`Datastore`] has 1.7.4's `SQLAlchemyUserDatastore` operations with their semantics and
//! return values, except where 1.7.4 is unsafe (see the README's "Differences from
//! Flask-Security 1.7.4"):
//!
//! - e-mail look-ups compare addresses exactly after Unicode NFC and a full case fold, the
//!   same on every database (a SQL prefilter finds the candidates, Rust decides): `%` and `_`
//!   are plain characters, and an identifier that looks like a number is not a primary key
//!   (1.7.4's `LIKE` and id fallback let `%` or a number match another account);
//! - every change is written at once (1.7.4's `activate_user` and friends leave the commit to
//!   the caller);
//! - a duplicate e-mail address is a [`DatastoreError::DuplicateEmail`], never a panic, and
//!   leaves the database as it was, also when two requests race.

use std::marker::PhantomData;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sea_orm::IdenStatic;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, IsolationLevel, JoinType, QueryFilter, QueryOrder, QuerySelect, RelationDef,
    TransactionTrait, Value,
};

use crate::password::{HashError, Passwords};
use crate::store::model::{Field, SecurityRole, SecurityUser, Tracking};

/// What can go wrong in the datastore.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatastoreError {
    /// Another user already has this e-mail address (compared case-insensitively).
    #[error("{email} is already associated with an account")]
    DuplicateEmail {
        /// The address as given.
        email: String,
    },
    /// Another user already has this username (compared in its folded form, see
    /// [`crate::username`]).
    #[error("{username} is already associated with an account")]
    DuplicateUsername {
        /// The username as given.
        username: String,
    },
    /// A role with this name exists already.
    #[error("a role named `{name}` already exists")]
    DuplicateRole {
        /// The role name.
        name: String,
    },
    /// No role has this name.
    #[error("no role named `{name}`")]
    UnknownRole {
        /// The role name.
        name: String,
    },
    /// A field given for a new user is not a column of the user entity, or has the wrong type.
    #[error(
        "cannot set `{field}` on the user: {}",
        source.as_ref().map_or_else(|| "no such column".to_owned(), ToString::to_string)
    )]
    BadField {
        /// The field name.
        field: String,
        /// Why the value does not fit the column; `None` when there is no such column.
        #[source]
        source: Option<DbErr>,
    },
    /// Hashing the password failed (e.g. `SECURITY_PASSWORD_SALT` is missing).
    #[error(transparent)]
    Hash(#[from] HashError),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// Whether a database error is a conflict between concurrent transactions that a retry can
/// resolve, read from the driver's error code (not its message, which varies with the server's
/// version and language): a serialisation failure or deadlock (SQLSTATE 40001 / 40P01 on
/// PostgreSQL, 1213 deadlock and 1205 lock wait timeout on MySQL and MariaDB) or a busy or
/// locked SQLite database (`SQLITE_BUSY`, `SQLITE_LOCKED` and their extended codes).
pub(crate) fn is_transient(err: &DbErr) -> bool {
    match err {
        DbErr::Exec(runtime) | DbErr::Query(runtime) | DbErr::Conn(runtime) => {
            transient_runtime(runtime)
        }
        _ => false,
    }
}

/// Left-joins `table` on `on` to the identity query and selects its `column` as `alias` (NULL
/// when no row matches).
fn left_join_column<E: EntityTrait>(
    select: &mut impl sea_orm::QueryTrait<QueryStatement = sea_orm::sea_query::SelectStatement>,
    table: E,
    on: Condition,
    column: E::Column,
    alias: &str,
) {
    select.query().join(JoinType::LeftJoin, table, on).expr_as(
        Expr::col((E::default(), column)),
        sea_orm::sea_query::Alias::new(alias),
    );
}

/// The retries of a write that concurrent transactions can make conflict: at most five
/// attempts, 5 ms × the attempt number apart.
struct Retry {
    what: &'static str,
    attempt: u64,
}

impl Retry {
    fn new(what: &'static str) -> Self {
        Retry { what, attempt: 0 }
    }

    /// Whether the write that failed with `err` is worth another attempt (after the pause);
    /// if not, the caller answers with `err`.
    async fn again(&mut self, err: &DbErr) -> bool {
        self.attempt += 1;
        if self.attempt >= 5 || !is_transient(err) {
            return false;
        }
        tracing::debug!(attempt = self.attempt, error = %err, "retrying {}", self.what);
        tokio::time::sleep(std::time::Duration::from_millis(5 * self.attempt)).await;
        true
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
fn transient_runtime(err: &sea_orm::RuntimeErr) -> bool {
    let sea_orm::RuntimeErr::SqlxError(err) = err else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(err) = &**err else {
        return false;
    };
    #[cfg(feature = "mysql")]
    if let Some(err) = err.try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>() {
        return matches!(err.number(), 1205 | 1213);
    }
    #[cfg(feature = "sqlite")]
    if err
        .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
        .is_some()
    {
        // The extended result code; its low byte is the primary code (5 busy, 6 locked).
        let code = err.code().and_then(|code| code.parse::<i32>().ok());
        return code.is_some_and(|code| matches!(code & 0xff, 5 | 6));
    }
    matches!(err.code().as_deref(), Some("40001" | "40P01"))
}

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
fn transient_runtime(_: &sea_orm::RuntimeErr) -> bool {
    false
}

/// `text` in Unicode NFC: how addresses are stored.
pub fn nfc(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfc().collect()
}

/// The form addresses (and other identity attributes) are compared in: NFC, then a full
/// Unicode case fold (`ß` → `ss`, `K` (Kelvin) → `k`, `Ä` → `ä`), then NFC again. Two addresses
/// name one account when their canonical forms are equal.
///
/// ```
/// use security::datastore::canonical;
///
/// assert_eq!(canonical("ÄBC@Example.COM"), canonical("a\u{308}bc@example.com"));
/// assert_eq!(canonical("Straße@x.org"), canonical("STRASSE@x.org"));
/// assert_ne!(canonical("abc@x.org"), canonical("äbc@x.org"));
/// ```
pub fn canonical(text: &str) -> String {
    nfc(&caseless::default_case_fold_str(&nfc(text)))
}

/// A new user for [`Datastore::create_user`].
#[derive(Clone, Default)]
pub struct NewUser {
    /// The e-mail address, stored as given.
    pub email: String,
    /// The password in clear; it is hashed with the configured scheme. `None`: no password.
    pub password: Option<String>,
    /// Whether the account is active (1.7.4's default: true).
    pub active: bool,
    /// Names of roles to give the user; each must exist.
    pub roles: Vec<String>,
    /// Further columns of the app's user entity, by field name (e.g. `username`).
    pub extra: Vec<(String, Value)>,
}

impl NewUser {
    /// An active user with this address and password.
    pub fn new(email: impl Into<String>, password: Option<&str>) -> Self {
        NewUser {
            email: email.into(),
            password: password.map(str::to_owned),
            active: true,
            roles: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Sets the active flag.
    pub fn active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }

    /// Adds a role by name.
    pub fn role(mut self, name: impl Into<String>) -> Self {
        self.roles.push(name.into());
        self
    }

    /// Sets another column of the app's user entity.
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }
}

impl std::fmt::Debug for NewUser {
    /// Everything but the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field(
                "password",
                &crate::crypto::redact::Redacted(self.password.as_deref()),
            )
            .field("active", &self.active)
            .field("roles", &self.roles)
            .field(
                "extra",
                &self.extra.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What one identity query gives: the users (with roles) by id text, and the revocation keys
/// asked about that a logout ended.
pub(crate) type Identities<U> = (
    std::collections::HashMap<String, UserWithRoles<U>>,
    std::collections::HashSet<String>,
);

/// A user together with the names of its roles, loaded in one query.
#[derive(Clone)]
pub struct UserWithRoles<U> {
    /// The user.
    pub user: U,
    /// The names of the user's roles, sorted.
    pub roles: Vec<String>,
    /// The account's value in `security_account_epoch` (user models without `fs_uniquifier`
    /// only), which the account fingerprint mixes in.
    pub(crate) epoch: Option<String>,
}

impl<U: SecurityUser> std::fmt::Debug for UserWithRoles<U> {
    /// The user's id and address and the roles: never the password hash or uniquifier.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserWithRoles")
            .field("user", &crate::store::model::UserRef(&self.user))
            .field("roles", &self.roles)
            .finish()
    }
}

impl<U> UserWithRoles<U> {
    /// Whether the user has the role (exact, case-sensitive name comparison, as 1.7.4).
    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r == name)
    }
}

/// The user and role store. Cheap to clone.
pub struct Datastore<U: SecurityUser> {
    db: DatabaseConnection,
    passwords: Passwords,
    identity_columns: Vec<U::Column>,
    /// `SECURITY_FLASK_COMPAT`: a deletion also ends the Flask session cookies of the id.
    flask_compat: bool,
    /// `SECURITY_USERNAME_NORMALIZE_FORM`: usernames are stored and looked up folded in it.
    username_form: Option<crate::config::NormalizeForm>,
    /// The identity query reads `security_account_epoch` (a model without `fs_uniquifier`,
    /// and the table exists).
    account_epochs: bool,
    _user: PhantomData<fn() -> U>,
}

impl<U: SecurityUser> Clone for Datastore<U> {
    fn clone(&self) -> Self {
        Datastore {
            db: self.db.clone(),
            passwords: self.passwords.clone(),
            identity_columns: self.identity_columns.clone(),
            flask_compat: self.flask_compat,
            username_form: self.username_form,
            account_epochs: self.account_epochs,
            _user: PhantomData,
        }
    }
}

type RoleOf<U> = <U as SecurityUser>::Role;
type RoleEntity<U> = <RoleOf<U> as SecurityRole>::Entity;

impl<U: SecurityUser> Datastore<U> {
    /// A datastore over the connection; new passwords are hashed with `passwords`.
    /// `get_user` searches the e-mail column only (see [`Datastore::identity_attributes`]).
    pub fn new(db: DatabaseConnection, passwords: Passwords) -> Self {
        Datastore {
            db,
            passwords,
            identity_columns: vec![U::email_column()],
            flask_compat: false,
            username_form: Some(crate::config::NormalizeForm::Nfkd),
            account_epochs: false,
            _user: PhantomData,
        }
    }

    /// The Unicode form usernames are normalised to before they are folded, stored and
    /// looked up (`SECURITY_USERNAME_NORMALIZE_FORM`; NFKD by default, `None`: as typed).
    #[must_use]
    pub fn username_normalization(mut self, form: Option<crate::config::NormalizeForm>) -> Self {
        self.username_form = form;
        self
    }

    /// The username column of the user entity, when the model has one.
    fn username_column() -> Option<U::Column> {
        U::column(Field::Username)
    }

    /// `name` as the username column stores it ([`crate::username::fold`]); `None` for an
    /// empty name (no username: NULL, which a unique index lets any number of rows have).
    pub fn stored_username(&self, name: &str) -> Option<String> {
        let folded = crate::username::fold(self.username_form, name);
        (!folded.is_empty()).then_some(folded)
    }

    /// Finds a user by username: the stored (folded) names are compared for equality with
    /// the folded `name` (`newusernameⅠ` and `NEWUSERNAMEI` name the same account), a
    /// look-up that the column's unique index serves. `None` when the model has no
    /// username column.
    ///
    /// # Errors
    /// A database failure.
    pub async fn find_user_by_username(&self, name: &str) -> Result<Option<U>, DatastoreError> {
        let (Some(column), Some(folded)) = (Self::username_column(), self.stored_username(name))
        else {
            return Ok(None);
        };
        if folded.contains('\0') {
            return Ok(None);
        }
        Ok(U::Entity::find()
            .filter(column.eq(folded))
            .order_by_asc(U::id_column())
            .one(&self.db)
            .await?)
    }

    /// Sets (or, with `None` or an empty name, clears) the user's username, stored folded.
    /// The database's unique index decides between two users racing for one name: the loser
    /// gets [`DatastoreError::DuplicateUsername`] and nothing changes for it.
    ///
    /// # Errors
    /// [`DatastoreError::DuplicateUsername`], [`DatastoreError::BadField`] when the model
    /// has no username field, or a database failure.
    pub async fn set_username(&self, user: &U, name: Option<&str>) -> Result<(), DatastoreError> {
        if Self::username_column().is_none() {
            return Err(DatastoreError::BadField {
                field: "username".into(),
                source: None,
            });
        }
        let stored = name.and_then(|name| self.stored_username(name));
        if let Some(stored) = &stored
            && let Some(owner) = self.find_user_by_username(stored).await?
            && owner.id() != user.id()
        {
            return Err(DatastoreError::DuplicateUsername {
                username: name.unwrap_or_default().to_owned(),
            });
        }
        let mut model = <U::ActiveModel as ActiveModelTrait>::default();
        U::set_username(&mut model, stored.clone());
        let result = U::Entity::update_many()
            .set(model)
            .filter(U::id_column().eq(user.id()))
            .exec(&self.db)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                if let Some(stored) = &stored
                    && let Some(owner) = self.find_user_by_username(stored).await?
                    && owner.id() != user.id()
                {
                    return Err(DatastoreError::DuplicateUsername {
                        username: name.unwrap_or_default().to_owned(),
                    });
                }
                Err(err.into())
            }
        }
    }

    /// Sets the user attributes [`Datastore::get_user`] searches, in order
    /// (`SECURITY_USER_IDENTITY_ATTRIBUTES`).
    ///
    /// # Errors
    /// The name of an attribute that is not a column of the user entity.
    pub fn identity_attributes<S: AsRef<str>>(mut self, names: &[S]) -> Result<Self, String> {
        let mut columns = Vec::new();
        for name in names {
            let name = name.as_ref();
            let column = U::Column::from_str(name).map_err(|_| name.to_owned())?;
            columns.push(column);
        }
        if !columns.is_empty() {
            self.identity_columns = columns;
        }
        Ok(self)
    }

    /// With `SECURITY_FLASK_COMPAT`, [`Datastore::delete_user`] also records that the Flask
    /// session cookies of the deleted id are never to be accepted (a Flask cookie names only
    /// the id, which a new account may get).
    pub(crate) fn with_flask_compat(mut self, on: bool) -> Self {
        self.flask_compat = on;
        self
    }

    /// The identity query also reads each account's value in `security_account_epoch` (for a
    /// user model without `fs_uniquifier`; the table must exist).
    pub(crate) fn with_account_epochs(mut self, on: bool) -> Self {
        self.account_epochs = on;
        self
    }

    /// Whether the identity query reads `security_account_epoch`.
    pub(crate) fn account_epochs(&self) -> bool {
        self.account_epochs
    }

    /// The database connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The password hasher that [`Datastore::create_user`] uses.
    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// The rows that may match `value` in `column` once both are folded ([`canonical`]): the
    /// database's own case-insensitive comparison (ASCII only on SQLite, and accent-blind on
    /// MySQL), the folded value itself, and every row whose value is not plain ASCII (which
    /// only a full Unicode case fold compares right). A superset; [`Datastore::matching`] keeps
    /// the exact matches.
    fn candidates(&self, column: U::Column, value: &str) -> Condition {
        let col = || Expr::col((<U::Entity as Default>::default(), column));
        let lower = |v: String| Expr::expr(Func::lower(col())).eq(Func::lower(Expr::val(v)));
        let typed = nfc(value);
        let folded = canonical(value);
        // Bytes and characters differ exactly when a value has a character beyond ASCII.
        let func = |name: &'static str| Func::cust(sea_orm::sea_query::Alias::new(name));
        let beyond_ascii = match self.db.get_database_backend() {
            DatabaseBackend::Sqlite => Expr::expr(
                func("LENGTH").arg(col().cast_as(sea_orm::sea_query::Alias::new("BLOB"))),
            )
            .ne(func("LENGTH").arg(col())),
            DatabaseBackend::Postgres => {
                Expr::expr(func("OCTET_LENGTH").arg(col())).ne(func("CHAR_LENGTH").arg(col()))
            }
            _ => Expr::expr(func("LENGTH").arg(col())).ne(func("CHAR_LENGTH").arg(col())),
        };
        Condition::any()
            .add(lower(typed))
            .add(lower(folded))
            .add(beyond_ascii)
    }

    /// The users whose `column` equals `value` once both are folded, lowest id first (more than
    /// one only in a database written by other means).
    async fn matching<C: ConnectionTrait>(
        &self,
        db: &C,
        column: U::Column,
        value: &str,
    ) -> Result<Vec<U>, DatastoreError> {
        use sea_orm::QueryTrait;
        if value.contains('\0') {
            // No stored value holds a NUL (PostgreSQL refuses one in text): nothing to ask.
            return Ok(Vec::new());
        }
        let wanted = canonical(value);
        let mut select = U::Entity::find()
            .filter(self.candidates(column, value))
            .order_by_asc(U::id_column());
        // The compared value, whatever the column's Rust type: read beside the model.
        QueryTrait::query(&mut select).expr_as(
            Expr::col((<U::Entity as Default>::default(), column)),
            sea_orm::sea_query::Alias::new("security_identity_value"),
        );
        let statement = select.build(db.get_database_backend());
        let mut found = Vec::new();
        for row in db.query_all_raw(statement).await? {
            let stored: Option<String> = row
                .try_get("", "security_identity_value")
                .unwrap_or_default();
            if stored.is_some_and(|stored| canonical(&stored) == wanted) {
                found.push(U::from_query_result(&row, "")?);
            }
        }
        Ok(found)
    }

    /// Finds a user by primary key.
    ///
    /// # Errors
    /// A database failure.
    pub async fn find_user_by_id(&self, id: &U::Id) -> Result<Option<U>, DatastoreError> {
        Ok(U::Entity::find()
            .filter(U::id_column().eq(id.clone()))
            .one(&self.db)
            .await?)
    }

    /// Finds a user by e-mail address, compared exactly once both are in Unicode NFC and
    /// fully case-folded (`Straße@x` is `STRASSE@x`; `%` and `_` are plain characters), the
    /// same on every database.
    ///
    /// # Errors
    /// A database failure.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<U>, DatastoreError> {
        Ok(self
            .matching(&self.db, U::email_column(), email)
            .await?
            .into_iter()
            .next())
    }

    /// Flask-Security's `get_user(identifier)`: the first user whose identity attribute
    /// (`SECURITY_USER_IDENTITY_ATTRIBUTES`, in order) equals the identifier, compared as
    /// [`Datastore::find_user_by_email`] compares addresses. Unlike 1.7.4, a numeric
    /// identifier is not taken as a primary key and `%`/`_` are not wildcards.
    ///
    /// # Errors
    /// A database failure.
    pub async fn get_user(&self, identifier: &str) -> Result<Option<U>, DatastoreError> {
        if identifier.is_empty() {
            return Ok(None);
        }
        let username = Self::username_column().map(|c| c.as_str());
        for column in &self.identity_columns {
            if Some(column.as_str()) == username {
                if let Some(user) = self.find_user_by_username(identifier).await? {
                    return Ok(Some(user));
                }
                continue;
            }
            let found = self.matching(&self.db, *column, identifier).await?;
            if let Some(user) = found.into_iter().next() {
                return Ok(Some(user));
            }
        }
        Ok(None)
    }

    fn link_relation() -> RelationDef {
        <U::Entity as EntityTrait>::belongs_to(<U::UserRoles as Default>::default())
            .from(U::id_column())
            .to(U::link_user_column())
            .into()
    }

    fn role_relation() -> RelationDef {
        <U::UserRoles as EntityTrait>::belongs_to(<RoleEntity<U> as Default>::default())
            .from(U::link_role_column())
            .to(<RoleOf<U>>::id_column())
            .into()
    }

    /// Loads a user and the names of its roles in one query (a join through the link entity).
    ///
    /// # Errors
    /// A database failure.
    pub async fn load_with_roles(
        &self,
        id: &U::Id,
    ) -> Result<Option<UserWithRoles<U>>, DatastoreError> {
        let mut found = self.load_many_with_roles(std::slice::from_ref(id)).await?;
        Ok(found.remove(&id.to_string()))
    }

    /// Loads several users and their roles in one query (`WHERE id IN (…)`), keyed by the id's
    /// text. Ids with no user are absent from the map.
    ///
    /// # Errors
    /// A database failure.
    pub async fn load_many_with_roles(
        &self,
        ids: &[U::Id],
    ) -> Result<std::collections::HashMap<String, UserWithRoles<U>>, DatastoreError> {
        // Through SeaORM (its metric callback and tracing span), not a held connection.
        Ok(self.load_identities(None, ids, &[]).await?.0)
    }

    /// [`Datastore::load_many_with_roles`], also telling which of `keys` (revocation keys of
    /// sessions and remember-me cookies of these users) a logout ended, in the same statement:
    /// the revocations are a left join on the user rows, so the guards' identity check stays
    /// one indexed query. It runs on `conn` when given (see
    /// [`HeldConnection`](crate::store::held::HeldConnection)), through SeaORM otherwise.
    pub(crate) async fn load_identities(
        &self,
        conn: Option<&mut crate::store::held::HeldConnection>,
        ids: &[U::Id],
        keys: &[String],
    ) -> Result<Identities<U>, DatastoreError> {
        use crate::store::schema::{account_epoch, revocation};
        use sea_orm::sea_query::{Alias, Condition};
        use sea_orm::{FromQueryResult, QueryTrait};

        let mut found: std::collections::HashMap<String, UserWithRoles<U>> =
            std::collections::HashMap::with_capacity(ids.len());
        let mut revoked = std::collections::HashSet::new();
        if ids.is_empty() {
            return Ok((found, revoked));
        }
        let backend = self.db.get_database_backend();
        let mut select = U::Entity::find()
            .filter(U::id_column().is_in(ids.iter().cloned()))
            .join(JoinType::LeftJoin, Self::link_relation())
            .join(JoinType::LeftJoin, Self::role_relation())
            .select_also(<RoleEntity<U> as Default>::default());
        let user_id_text = || {
            let user_id = Expr::col((<U::Entity as Default>::default(), U::id_column()));
            // PostgreSQL compares text to text only; SQLite and MySQL convert on their own
            // (and a cast would bring MySQL's collation rules into play).
            if backend == DatabaseBackend::Postgres {
                user_id.cast_as(Alias::new("TEXT"))
            } else {
                user_id
            }
        };
        if self.account_epochs {
            // The per-account value: a primary-key left join in the same statement.
            let on = Condition::all().add(
                Expr::col((account_epoch::Entity, account_epoch::Column::UserId))
                    .eq(user_id_text()),
            );
            left_join_column(
                &mut select,
                account_epoch::Entity,
                on,
                account_epoch::Column::Epoch,
                "account_epoch",
            );
        }
        if !keys.is_empty() {
            let user_id = user_id_text();
            let on = Condition::all()
                .add(Expr::col((revocation::Entity, revocation::Column::UserId)).eq(user_id))
                .add(
                    Expr::col((revocation::Entity, revocation::Column::Key))
                        .is_in(keys.iter().cloned()),
                );
            left_join_column(
                &mut select,
                revocation::Entity,
                on,
                revocation::Column::Key,
                "revoked_key",
            );
        }
        let statement = select.build(backend);
        let rows = match conn {
            Some(conn) => conn.query_all(&self.db, statement).await?,
            None => self.db.query_all_raw(statement).await?,
        };
        for row in rows {
            let user = U::from_query_result(&row, "A_")?;
            let role = <RoleOf<U> as FromQueryResult>::from_query_result_optional(&row, "B_")?;
            if !keys.is_empty()
                && let Some(key) = row.try_get::<Option<String>>("", "revoked_key")?
            {
                revoked.insert(key);
            }
            let epoch = if self.account_epochs {
                row.try_get::<Option<String>>("", "account_epoch")?
            } else {
                None
            };
            let entry = found
                .entry(user.id().to_string())
                .or_insert_with(|| UserWithRoles {
                    user,
                    roles: Vec::new(),
                    epoch,
                });
            if let Some(role) = role {
                entry.roles.push(role.name().to_owned());
            }
        }
        for entry in found.values_mut() {
            entry.roles.sort();
            entry.roles.dedup();
        }
        Ok((found, revoked))
    }

    /// The roles of a user, sorted by name.
    ///
    /// # Errors
    /// A database failure.
    pub async fn user_roles(&self, user: &U) -> Result<Vec<RoleOf<U>>, DatastoreError> {
        let mut roles = <RoleEntity<U>>::find()
            .join(JoinType::InnerJoin, Self::role_relation().rev())
            .filter(U::link_user_column().eq(user.id()))
            .all(&self.db)
            .await?;
        roles.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(roles)
    }

    /// Whether the user has the role named `name`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn has_role(&self, user: &U, name: &str) -> Result<bool, DatastoreError> {
        Ok(self
            .user_roles(user)
            .await?
            .iter()
            .any(|r| r.name() == name))
    }

    /// Creates a user: hashes the password, stores the user and its roles in one transaction.
    /// A duplicate address (compared case-insensitively) is refused and leaves the database as
    /// it was, also when two creations race.
    ///
    /// # Errors
    /// [`DatastoreError::DuplicateEmail`], [`DatastoreError::UnknownRole`],
    /// [`DatastoreError::BadField`], a hashing or a database failure.
    pub async fn create_user(&self, new: NewUser) -> Result<U, DatastoreError> {
        let hash = match &new.password {
            Some(password) => Some(self.passwords.hash(password).await?),
            None => None,
        };
        self.create_user_with_hash(new, hash).await
    }

    /// [`Datastore::create_user`] with a password that is already hashed (or none).
    ///
    /// # Errors
    /// As [`Datastore::create_user`].
    pub async fn create_user_with_hash(
        &self,
        new: NewUser,
        hash: Option<String>,
    ) -> Result<U, DatastoreError> {
        if self.find_user_by_email(&new.email).await?.is_some() {
            return Err(DatastoreError::DuplicateEmail { email: new.email });
        }
        let mut roles = Vec::with_capacity(new.roles.len());
        for name in &new.roles {
            match self.find_role(name).await? {
                Some(role) => roles.push(role),
                None => return Err(DatastoreError::UnknownRole { name: name.clone() }),
            }
        }
        let email = nfc(&new.email);
        // A username (an extra field in the username column) is stored folded; one that
        // another account has is refused before anything is written.
        let username_column = Self::username_column().map(|c| c.as_str());
        let mut username = None;
        let mut extra = Vec::with_capacity(new.extra.len());
        for (field, value) in new.extra {
            let is_username = U::Column::from_str(&field)
                .ok()
                .is_some_and(|c| Some(c.as_str()) == username_column);
            match value {
                Value::String(name) if is_username => {
                    let stored = name.as_deref().and_then(|n| self.stored_username(n));
                    username = Some((name.unwrap_or_default(), stored.clone()));
                    extra.push((field, Value::String(stored)));
                }
                value => extra.push((field, value)),
            }
        }
        if let Some((typed, Some(stored))) = &username
            && self.find_user_by_username(stored).await?.is_some()
        {
            return Err(DatastoreError::DuplicateUsername {
                username: typed.clone(),
            });
        }
        let mut model = <U::ActiveModel as ActiveModelTrait>::default();
        U::set_email(&mut model, email.clone());
        U::set_password(&mut model, hash);
        U::set_active(&mut model, new.active);
        if U::FIELDS.has(Field::Uniquifier) {
            U::set_uniquifier(&mut model, crate::crypto::cookie_codec::random_token(24));
        }
        for (field, value) in extra {
            let column = U::Column::from_str(&field).map_err(|_| DatastoreError::BadField {
                field: field.clone(),
                source: None,
            })?;
            model
                .try_set(column, value)
                .map_err(|e| DatastoreError::BadField {
                    field: field.clone(),
                    source: Some(e),
                })?;
        }

        let mut retry = Retry::new("a conflicting user creation");
        loop {
            match self.insert_user(model.clone(), &email, &roles).await {
                Ok(user) => return Ok(user),
                Err(DatastoreError::Database(err)) => {
                    // A unique index, or a serialisation failure / deadlock between racing
                    // creations: tell a lost race from a transient conflict and a real fault.
                    // The database's own unique index may be stricter than the folded
                    // comparison (MySQL's default collations ignore accents): a duplicate too.
                    if self.find_user_by_email(&email).await?.is_some() {
                        return Err(DatastoreError::DuplicateEmail { email });
                    }
                    // The username's unique index refused the row: a lost race for the name.
                    if let Some((typed, Some(stored))) = &username
                        && self.find_user_by_username(stored).await?.is_some()
                    {
                        return Err(DatastoreError::DuplicateUsername {
                            username: typed.clone(),
                        });
                    }
                    if matches!(
                        err.sql_err(),
                        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                    ) {
                        return Err(DatastoreError::DuplicateEmail { email });
                    }
                    if !retry.again(&err).await {
                        return Err(DatastoreError::Database(err));
                    }
                }
                Err(other) => return Err(other),
            }
        }
    }

    async fn insert_user(
        &self,
        model: U::ActiveModel,
        email: &str,
        roles: &[RoleOf<U>],
    ) -> Result<U, DatastoreError> {
        // SERIALIZABLE where the backend has it, so that a concurrent insert of the same address
        // in another case makes one of the two transactions fail (SQLite serialises writers).
        let isolation = match self.db.get_database_backend() {
            DatabaseBackend::Sqlite => None,
            _ => Some(IsolationLevel::Serializable),
        };
        let txn = self.db.begin_with_config(isolation, None).await?;
        U::Entity::insert(model)
            .exec_without_returning(&txn)
            .await?;
        let mut found = self.matching(&txn, U::email_column(), email).await?;
        if found.len() != 1 {
            txn.rollback().await?;
            return Err(DatastoreError::DuplicateEmail {
                email: email.to_owned(),
            });
        }
        let user = found.remove(0);
        for role in roles {
            Self::insert_link(&txn, &user, role).await?;
        }
        txn.commit().await?;
        Ok(user)
    }

    async fn insert_link<C: ConnectionTrait>(
        db: &C,
        user: &U,
        role: &RoleOf<U>,
    ) -> Result<(), DatastoreError> {
        let mut link = <<U::UserRoles as EntityTrait>::ActiveModel as ActiveModelTrait>::default();
        link.try_set(U::link_user_column(), user.id().into())?;
        link.try_set(U::link_role_column(), role.id().into())?;
        <U::UserRoles as EntityTrait>::insert(link)
            .exec_without_returning(db)
            .await?;
        Ok(())
    }

    /// Creates a role.
    ///
    /// # Errors
    /// [`DatastoreError::DuplicateRole`] or a database failure.
    pub async fn create_role(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<RoleOf<U>, DatastoreError> {
        if self.find_role(name).await?.is_some() {
            return Err(DatastoreError::DuplicateRole { name: name.into() });
        }
        let mut model = <<RoleOf<U> as SecurityRole>::ActiveModel as ActiveModelTrait>::default();
        <RoleOf<U>>::set_name(&mut model, name.to_owned());
        <RoleOf<U>>::set_description(&mut model, description.map(str::to_owned));
        if let Err(err) = <RoleEntity<U>>::insert(model)
            .exec_without_returning(&self.db)
            .await
        {
            return if self.find_role(name).await?.is_some() {
                Err(DatastoreError::DuplicateRole { name: name.into() })
            } else {
                Err(err.into())
            };
        }
        self.find_role(name)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(format!("role `{name}` after insert")).into())
    }

    /// Finds a role by exact name.
    ///
    /// # Errors
    /// A database failure.
    pub async fn find_role(&self, name: &str) -> Result<Option<RoleOf<U>>, DatastoreError> {
        Ok(<RoleEntity<U>>::find()
            .filter(<RoleOf<U>>::name_column().eq(name))
            .one(&self.db)
            .await?)
    }

    /// The existing role with this name, or a new one.
    ///
    /// # Errors
    /// A database failure.
    pub async fn find_or_create_role(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<RoleOf<U>, DatastoreError> {
        match self.find_role(name).await? {
            Some(role) => Ok(role),
            None => match self.create_role(name, description).await {
                Err(DatastoreError::DuplicateRole { .. }) => self
                    .find_role(name)
                    .await?
                    .ok_or_else(|| DbErr::RecordNotFound(format!("role `{name}`")).into()),
                other => other,
            },
        }
    }

    /// Gives the user the role. `true` if it was added, `false` if the user had it already.
    ///
    /// # Errors
    /// A database failure.
    pub async fn add_role_to_user(
        &self,
        user: &U,
        role: &RoleOf<U>,
    ) -> Result<bool, DatastoreError> {
        if self.link_exists(user, role).await? {
            return Ok(false);
        }
        match Self::insert_link(&self.db, user, role).await {
            Ok(()) => Ok(true),
            // a concurrent add of the same pair under a unique key
            Err(err) if self.link_exists(user, role).await? => {
                tracing::debug!(error = %err, "role link added concurrently");
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    /// Takes the role from the user. `true` if it was removed, `false` if the user did not have
    /// it.
    ///
    /// # Errors
    /// A database failure.
    pub async fn remove_role_from_user(
        &self,
        user: &U,
        role: &RoleOf<U>,
    ) -> Result<bool, DatastoreError> {
        let result = <U::UserRoles as EntityTrait>::delete_many()
            .filter(U::link_user_column().eq(user.id()))
            .filter(U::link_role_column().eq(role.id()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    async fn link_exists(&self, user: &U, role: &RoleOf<U>) -> Result<bool, DatastoreError> {
        let found = <U::UserRoles as EntityTrait>::find()
            .filter(U::link_user_column().eq(user.id()))
            .filter(U::link_role_column().eq(role.id()))
            .one(&self.db)
            .await?;
        Ok(found.is_some())
    }

    async fn set_active_flag(&self, user: &U, active: bool) -> Result<bool, DatastoreError> {
        if user.active() == active {
            return Ok(false);
        }
        let mut model = <U::ActiveModel as ActiveModelTrait>::default();
        U::set_active(&mut model, active);
        let result = U::Entity::update_many()
            .set(model)
            .filter(U::id_column().eq(user.id()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Activates the user. `true` if it changed, `false` if it was active already.
    ///
    /// # Errors
    /// A database failure.
    pub async fn activate_user(&self, user: &U) -> Result<bool, DatastoreError> {
        self.set_active_flag(user, true).await
    }

    /// Deactivates the user. `true` if it changed, `false` if it was inactive already.
    ///
    /// # Errors
    /// A database failure.
    pub async fn deactivate_user(&self, user: &U) -> Result<bool, DatastoreError> {
        self.set_active_flag(user, false).await
    }

    /// Flips the active flag; always `true`, as in 1.7.4.
    ///
    /// # Errors
    /// A database failure.
    pub async fn toggle_active(&self, user: &U) -> Result<bool, DatastoreError> {
        self.set_active_flag(user, !user.active()).await?;
        Ok(true)
    }

    /// Deletes the user and its role links, in one transaction.
    ///
    /// # Errors
    /// A database failure.
    pub async fn delete_user(&self, user: &U) -> Result<(), DatastoreError> {
        let txn = self.db.begin().await?;
        <U::UserRoles as EntityTrait>::delete_many()
            .filter(U::link_user_column().eq(user.id()))
            .exec(&txn)
            .await?;
        U::Entity::delete_many()
            .filter(U::id_column().eq(user.id()))
            .exec(&txn)
            .await?;
        if self.flask_compat {
            crate::store::schema::forget_flask_sessions(&txn, user.id().to_string()).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The update that sets a new password hash and, when the model has one, a new
    /// uniquifier (so every session and token of the user ends).
    fn password_model(hash: Option<String>) -> U::ActiveModel {
        let mut model = <U::ActiveModel as ActiveModelTrait>::default();
        U::set_password(&mut model, hash);
        if U::FIELDS.has(Field::Uniquifier) {
            U::set_uniquifier(&mut model, crate::crypto::cookie_codec::random_token(24));
        }
        model
    }

    /// Stores a new password hash (already hashed), and a new uniquifier when the model has
    /// one, so that every session and token of the user ends.
    ///
    /// # Errors
    /// A database failure.
    pub async fn set_password_hash(
        &self,
        user: &U,
        hash: Option<String>,
    ) -> Result<(), DatastoreError> {
        let model = Self::password_model(hash);
        U::Entity::update_many()
            .set(model)
            .filter(U::id_column().eq(user.id()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Replaces the password hash only if the stored one is still `expected` (`None`: no
    /// password), atomically: of two requests racing with the same one-shot link, one wins.
    /// `true` when this call replaced it. The uniquifier is rotated too, when the model has
    /// one.
    ///
    /// # Errors
    /// A database failure.
    pub async fn replace_password_hash(
        &self,
        user: &U,
        expected: Option<&str>,
        hash: Option<String>,
    ) -> Result<bool, DatastoreError> {
        let model = Self::password_model(hash);
        let column = U::password_column();
        let current = match expected {
            Some(old) => column.eq(old),
            None => column.is_null().or(column.eq("")),
        };
        let result = U::Entity::update_many()
            .set(model)
            .filter(U::id_column().eq(user.id()))
            .filter(current)
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Hashes `password` and stores it (see [`Datastore::set_password_hash`]).
    ///
    /// # Errors
    /// A hashing or database failure.
    pub async fn set_password(&self, user: &U, password: &str) -> Result<(), DatastoreError> {
        let hash = self.passwords.hash(password).await?;
        self.set_password_hash(user, Some(hash)).await
    }

    /// Replaces the stored hash only if it is still `old` (a re-hash after a successful login
    /// must not overwrite a password changed in the meantime). `true` if it was replaced.
    ///
    /// # Errors
    /// A database failure.
    pub async fn upgrade_password_hash(
        &self,
        user: &U,
        old: &str,
        new: String,
    ) -> Result<bool, DatastoreError> {
        let mut model = <U::ActiveModel as ActiveModelTrait>::default();
        U::set_password(&mut model, Some(new));
        let result = U::Entity::update_many()
            .set(model)
            .filter(U::id_column().eq(user.id()))
            .filter(U::password_column().eq(old))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Gives the user a new uniquifier, ending every session and token it holds. `false` when
    /// the model has no uniquifier field.
    ///
    /// # Errors
    /// A database failure.
    pub async fn rotate_uniquifier(&self, user: &U) -> Result<bool, DatastoreError> {
        if !U::FIELDS.has(Field::Uniquifier) {
            return Ok(false);
        }
        let mut model = <U::ActiveModel as ActiveModelTrait>::default();
        U::set_uniquifier(&mut model, crate::crypto::cookie_codec::random_token(24));
        U::Entity::update_many()
            .set(model)
            .filter(U::id_column().eq(user.id()))
            .exec(&self.db)
            .await?;
        Ok(true)
    }

    /// Changes the user's e-mail address to `new_email` (stored in NFC), only if the stored
    /// address is still `user`'s (a compare-and-set: of two racing changes one wins, and a
    /// change made from a stale copy of the account does nothing), and only if no other
    /// account has `new_email` (compared as [`canonical`] forms, in the same transaction,
    /// serializable where the backend has it). With `confirmed_at`, the address is marked
    /// confirmed then too (when the model has the field). `Ok(true)` when changed, `Ok(false)`
    /// when the stored address was no longer `user`'s; nothing is written unless it changed.
    ///
    /// # Errors
    /// [`DatastoreError::DuplicateEmail`] when another account has the address, or a database
    /// failure.
    pub async fn change_email(
        &self,
        user: &U,
        new_email: &str,
        confirmed_at: Option<DateTime<Utc>>,
    ) -> Result<bool, DatastoreError> {
        let email = nfc(new_email);
        let mut retry = Retry::new("a conflicting change of address");
        loop {
            match self.try_change_email(user, &email, confirmed_at).await {
                Err(DatastoreError::Database(err)) => {
                    if matches!(
                        err.sql_err(),
                        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                    ) {
                        return Err(DatastoreError::DuplicateEmail { email });
                    }
                    if !retry.again(&err).await {
                        return Err(DatastoreError::Database(err));
                    }
                }
                other => return other,
            }
        }
    }

    async fn try_change_email(
        &self,
        user: &U,
        email: &str,
        confirmed_at: Option<DateTime<Utc>>,
    ) -> Result<bool, DatastoreError> {
        let isolation = match self.db.get_database_backend() {
            DatabaseBackend::Sqlite => None,
            _ => Some(IsolationLevel::Serializable),
        };
        let txn = self.db.begin_with_config(isolation, None).await?;
        let others = self.matching(&txn, U::email_column(), email).await?;
        if others.iter().any(|other| other.id() != user.id()) {
            txn.rollback().await?;
            return Err(DatastoreError::DuplicateEmail {
                email: email.to_owned(),
            });
        }
        let mut model = <U::ActiveModel as ActiveModelTrait>::default();
        U::set_email(&mut model, email.to_owned());
        if let Some(at) = confirmed_at
            && U::column(Field::ConfirmedAt).is_some()
        {
            U::set_confirmed_at(&mut model, Some(at));
        }
        let result = U::Entity::update_many()
            .set(model)
            .filter(U::id_column().eq(user.id()))
            .filter(U::email_column().eq(user.email()))
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        // Another transaction may have taken the address meanwhile (SQLite serialises writers;
        // the others fail one of the two at commit): look again inside this one.
        let holders = self.matching(&txn, U::email_column(), email).await?;
        if holders.len() != 1 {
            txn.rollback().await?;
            return Err(DatastoreError::DuplicateEmail {
                email: email.to_owned(),
            });
        }
        txn.commit().await?;
        Ok(true)
    }

    /// Marks the user confirmed at `now`, once: `true` when this call confirmed the user,
    /// `false` when it was confirmed already (also when a concurrent request won).
    ///
    /// # Errors
    /// A database failure.
    pub async fn confirm_user(&self, user: &U, now: DateTime<Utc>) -> Result<bool, DatastoreError> {
        let Some(column) = U::column(Field::ConfirmedAt) else {
            return Ok(false);
        };
        let mut model = <U::ActiveModel as ActiveModelTrait>::default();
        U::set_confirmed_at(&mut model, Some(now));
        let result = U::Entity::update_many()
            .set(model)
            .filter(U::id_column().eq(user.id()))
            .filter(column.is_null())
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Records a login (1.7.4's `login_user` tracking, `SECURITY_TRACKABLE`) in one atomic
    /// `UPDATE`: the previous current values become the last ones, the count goes up by one.
    ///
    /// # Errors
    /// A database failure.
    pub async fn track_login(
        &self,
        user: &U,
        ip: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DatastoreError> {
        // Typed values for the columns, whatever Rust types the model uses for them.
        let mut model = <U::ActiveModel as ActiveModelTrait>::default();
        U::set_tracking(
            &mut model,
            &Tracking {
                last_login_at: Some(now),
                current_login_at: Some(now),
                last_login_ip: Some(ip.to_owned()),
                current_login_ip: Some(ip.to_owned()),
                login_count: Some(1),
            },
        );
        let value = |field: Field| -> Option<(U::Column, Value)> {
            let column = U::column(field)?;
            model.get(column).into_value().map(|v| (column, v))
        };
        let mut update = U::Entity::update_many().filter(U::id_column().eq(user.id()));
        // Order matters on MySQL, which evaluates assignments left to right with the new values.
        if let (Some((last, _)), Some((current, now_value))) =
            (value(Field::LastLoginAt), value(Field::CurrentLoginAt))
        {
            update = update.col_expr(
                last,
                Func::coalesce([Expr::col(current), Expr::val(now_value)]).into(),
            );
        }
        if let (Some((last, _)), Some((current, ip_value))) =
            (value(Field::LastLoginIp), value(Field::CurrentLoginIp))
        {
            update = update.col_expr(
                last,
                Func::coalesce([Expr::col(current), Expr::val(ip_value)]).into(),
            );
        }
        if let Some((current, now_value)) = value(Field::CurrentLoginAt) {
            update = update.col_expr(current, Expr::val(now_value));
        }
        if let Some((current, ip_value)) = value(Field::CurrentLoginIp) {
            update = update.col_expr(current, Expr::val(ip_value));
        }
        if let Some((count, _)) = value(Field::LoginCount) {
            update = update.col_expr(
                count,
                Expr::expr(Func::coalesce([Expr::col(count), Expr::val(0)])).add(Expr::val(1)),
            );
        }
        update.exec(&self.db).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database, DbErr};

    use super::is_transient;

    /// An error whose message holds every word the old text match looked for, but that no
    /// driver raised: not a transient conflict.
    #[test]
    fn a_message_alone_is_not_transient() {
        let err = DbErr::Custom("deadlock 40001 database is locked busy".into());
        assert!(!is_transient(&err));
    }

    /// A write to an SQLite database that another connection is writing is `SQLITE_BUSY`.
    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_busy_sqlite_database_is_transient() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("busy.db").display());
        let connect = || async {
            let mut options = sea_orm::ConnectOptions::new(url.clone());
            options.max_connections(1).sqlx_logging(false);
            let db = Database::connect(options).await.unwrap();
            db.execute_unprepared("PRAGMA busy_timeout = 0")
                .await
                .unwrap();
            db
        };
        let (writer, other) = (connect().await, connect().await);
        writer
            .execute_unprepared("CREATE TABLE t (x INTEGER)")
            .await
            .unwrap();
        writer.execute_unprepared("BEGIN IMMEDIATE").await.unwrap();
        let err = other
            .execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .unwrap_err();
        assert!(is_transient(&err), "{err:?}");
        let err = other
            .execute_unprepared("INSERT INTO missing VALUES (1)")
            .await
            .unwrap_err();
        assert!(!is_transient(&err), "{err:?}");
        writer.execute_unprepared("ROLLBACK").await.unwrap();
    }

    /// Serialisation failures and deadlocks by their SQLSTATE; other errors are not transient.
    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn postgres_conflicts_are_transient() {
        let Ok(url) = std::env::var("SECURITY_TEST_POSTGRES_URL") else {
            eprintln!("SECURITY_TEST_POSTGRES_URL is not set: skipped");
            return;
        };
        let db = Database::connect(url).await.unwrap();
        for (code, transient) in [("40001", true), ("40P01", true), ("23505", false)] {
            let err = db
                .execute_unprepared(&format!(
                    "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '{code}'; END $$"
                ))
                .await
                .unwrap_err();
            assert_eq!(is_transient(&err), transient, "{code}: {err:?}");
        }
    }

    /// Deadlocks (1213) and lock wait timeouts (1205) by their error number.
    #[cfg(feature = "mysql")]
    #[tokio::test]
    async fn mysql_conflicts_are_transient() {
        let Ok(url) = std::env::var("SECURITY_TEST_MYSQL_URL") else {
            eprintln!("SECURITY_TEST_MYSQL_URL is not set: skipped");
            return;
        };
        let db = Database::connect(url).await.unwrap();
        for (number, state, transient) in [
            (1213, "40001", true),
            (1205, "HY000", true),
            (1062, "23000", false),
        ] {
            let err = db
                .execute_unprepared(&format!(
                    "SIGNAL SQLSTATE '{state}' SET MYSQL_ERRNO = {number}, MESSAGE_TEXT = 'conflict'"
                ))
                .await
                .unwrap_err();
            assert_eq!(is_transient(&err), transient, "{number}: {err:?}");
        }
    }
}
