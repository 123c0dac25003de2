//! What the runtime needs to know about the app's own SeaORM entities.
//!
//! The app keeps plain SeaORM entities; `#[derive(SecurityUser)]` and `#[derive(SecurityRole)]`
//! implement the traits of this module for their `Model`s. Everything here can also be
//! implemented by hand: the derives only save the typing (and check the field types at compile
//! time).
//!
//! Field conventions are Flask-Security's: `id`, `email`, `password`, `active`, `confirmed_at`,
//! `last_login_at`, `current_login_at`, `last_login_ip`, `current_login_ip`, `login_count`, and
//! Flask-Security-Too's `fs_uniquifier` (an optional per-user random value that, when present,
//! is mixed into every session and token so that rotating it logs the user out everywhere).

use std::fmt::{Debug, Display};
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, EntityTrait, FromQueryResult, Value,
};

/// The type of a user's or role's primary key (`i32`, `i64`, `String`, `Uuid`, …).
///
/// Ids travel in sessions and tokens as their `Display` text and come back through `FromStr`,
/// as Flask-Security's `str(user.id)` does.
pub trait RecordId:
    Clone
    + Debug
    + Display
    + FromStr<Err: Debug + Send + Sync + 'static>
    + PartialEq
    + Into<Value>
    + Send
    + Sync
    + 'static
{
}

impl<T> RecordId for T where
    T: Clone
        + Debug
        + Display
        + FromStr<Err: Debug + Send + Sync + 'static>
        + PartialEq
        + Into<Value>
        + Send
        + Sync
        + 'static
{
}

/// The optional fields of a user model: what [`SecurityUser::FIELDS`] lists and what
/// [`SecurityUser::column`] looks up. (`id`, `email`, `password` and `active` every model has.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// `confirmed_at` (needed by `SECURITY_CONFIRMABLE`).
    ConfirmedAt,
    /// `last_login_at` (needed by `SECURITY_TRACKABLE`).
    LastLoginAt,
    /// `current_login_at` (needed by `SECURITY_TRACKABLE`).
    CurrentLoginAt,
    /// `last_login_ip` (needed by `SECURITY_TRACKABLE`).
    LastLoginIp,
    /// `current_login_ip` (needed by `SECURITY_TRACKABLE`).
    CurrentLoginIp,
    /// `login_count` (needed by `SECURITY_TRACKABLE`).
    LoginCount,
    /// `fs_uniquifier` (optional: per-user revocation of every session and token).
    Uniquifier,
    /// `username` (needed by `SECURITY_USERNAME_ENABLE`): stored in the folded form of
    /// [`crate::username::fold`], under a unique index.
    Username,
    /// `fs_token_uniquifier` (optional, 5.9): authentication and refresh tokens are bound to
    /// it instead of the account, so a password change keeps them, and rotating it
    /// ([`crate::Security::revoke_tokens`]) ends them without touching sessions.
    TokenUniquifier,
}

impl Field {
    /// Every optional field.
    pub const ALL: [Field; 9] = [
        Field::ConfirmedAt,
        Field::LastLoginAt,
        Field::CurrentLoginAt,
        Field::LastLoginIp,
        Field::CurrentLoginIp,
        Field::LoginCount,
        Field::Uniquifier,
        Field::Username,
        Field::TokenUniquifier,
    ];

    /// The fields `SECURITY_TRACKABLE` needs.
    pub const TRACKING: [Field; 5] = [
        Field::LastLoginAt,
        Field::CurrentLoginAt,
        Field::LastLoginIp,
        Field::CurrentLoginIp,
        Field::LoginCount,
    ];

    /// The conventional field name (Flask-Security's).
    pub fn name(self) -> &'static str {
        match self {
            Field::ConfirmedAt => "confirmed_at",
            Field::LastLoginAt => "last_login_at",
            Field::CurrentLoginAt => "current_login_at",
            Field::LastLoginIp => "last_login_ip",
            Field::CurrentLoginIp => "current_login_ip",
            Field::LoginCount => "login_count",
            Field::Uniquifier => "fs_uniquifier",
            Field::Username => "username",
            Field::TokenUniquifier => "fs_token_uniquifier",
        }
    }

    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// Which of the optional [`Field`]s a user model has (for start-up validation of the config).
///
/// ```
/// use security::model::{Field, UserFields};
///
/// const FIELDS: UserFields = UserFields::NONE.with(Field::ConfirmedAt);
/// assert!(FIELDS.has(Field::ConfirmedAt));
/// assert!(!FIELDS.has(Field::Uniquifier));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserFields {
    /// One bit per [`Field`] (room for 32).
    bits: u32,
}

impl UserFields {
    /// No optional field.
    pub const NONE: UserFields = UserFields { bits: 0 };

    /// These fields and `field`.
    #[must_use]
    pub const fn with(self, field: Field) -> UserFields {
        UserFields {
            bits: self.bits | field.bit(),
        }
    }

    /// Whether the model has `field`.
    pub const fn has(self, field: Field) -> bool {
        self.bits & field.bit() != 0
    }

    /// The names of the trackable fields this model lacks (empty when it is trackable).
    pub fn missing_trackable(&self) -> Vec<&'static str> {
        Field::TRACKING
            .into_iter()
            .filter(|field| !self.has(*field))
            .map(Field::name)
            .collect()
    }
}

/// The login-tracking columns of a user (`SECURITY_TRACKABLE`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tracking {
    /// Time of the login before the current one.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Time of the latest login.
    pub current_login_at: Option<DateTime<Utc>>,
    /// Address of the login before the current one.
    pub last_login_ip: Option<String>,
    /// Address of the latest login.
    pub current_login_ip: Option<String>,
    /// Number of logins.
    pub login_count: Option<i64>,
}

/// A user entity's `Model`, as the runtime sees it. Implemented by `#[derive(SecurityUser)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a security user model",
    note = "add `#[derive(SecurityUser)]` to the `Model` of the user entity"
)]
pub trait SecurityUser: FromQueryResult + Clone + Debug + Send + Sync + 'static {
    /// The user entity.
    type Entity: EntityTrait<Model = Self, Column = Self::Column, ActiveModel = Self::ActiveModel>;
    /// The user entity's `ActiveModel`.
    type ActiveModel: ActiveModelTrait<Entity = Self::Entity>
        + ActiveModelBehavior
        + Send
        + Sync
        + 'static;
    /// The user entity's `Column`.
    type Column: ColumnTrait + FromStr + Send + Sync;
    /// The type of the `id` field.
    type Id: RecordId;
    /// The role entity's `Model`.
    type Role: SecurityRole;
    /// The user–role link entity (`roles_users`).
    type UserRoles: EntityTrait<ActiveModel: Send + Sync, Column: Send + Sync>;

    /// Which optional fields the model has.
    const FIELDS: UserFields;

    /// The primary key.
    fn id(&self) -> Self::Id;
    /// The e-mail address, as stored.
    fn email(&self) -> &str;
    /// The stored password hash; `None` when the user has no password.
    fn password(&self) -> Option<&str>;
    /// Whether the account is active.
    fn active(&self) -> bool;
    /// When the e-mail address was confirmed (`None` when unconfirmed or not confirmable).
    fn confirmed_at(&self) -> Option<DateTime<Utc>> {
        None
    }
    /// The login-tracking columns (`None` when the model is not trackable).
    fn tracking(&self) -> Option<Tracking> {
        None
    }
    /// The per-user uniquifier (`None` when the model has none).
    fn uniquifier(&self) -> Option<&str> {
        None
    }
    /// The user name, as stored (`None` when unset or when the model has none).
    fn username(&self) -> Option<&str> {
        None
    }

    /// The per-user token uniquifier, 5.9's `fs_token_uniquifier` (`None` when the model has
    /// none, or it was not set yet).
    fn token_uniquifier(&self) -> Option<&str> {
        None
    }

    /// The column of the primary key.
    fn id_column() -> Self::Column;
    /// The column of the e-mail address.
    fn email_column() -> Self::Column;
    /// The column of the password hash.
    fn password_column() -> Self::Column;
    /// The column of the active flag.
    fn active_column() -> Self::Column;
    /// The column of an optional field, when the model has it. The default looks the column
    /// up by the conventional field name.
    fn column(field: Field) -> Option<Self::Column> {
        Self::Column::from_str(field.name()).ok()
    }
    /// The link entity's column that holds the user id.
    fn link_user_column() -> <Self::UserRoles as EntityTrait>::Column;
    /// The link entity's column that holds the role id.
    fn link_role_column() -> <Self::UserRoles as EntityTrait>::Column;

    /// Sets the e-mail address on an active model.
    fn set_email(model: &mut Self::ActiveModel, email: String);
    /// Sets (or clears) the password hash on an active model.
    fn set_password(model: &mut Self::ActiveModel, hash: Option<String>);
    /// Sets the active flag on an active model.
    fn set_active(model: &mut Self::ActiveModel, active: bool);
    /// Sets `confirmed_at` on an active model (does nothing when the model has no such field).
    fn set_confirmed_at(model: &mut Self::ActiveModel, at: Option<DateTime<Utc>>) {
        let _ = (model, at);
    }
    /// Sets the login-tracking columns the model has.
    fn set_tracking(model: &mut Self::ActiveModel, tracking: &Tracking) {
        let _ = (model, tracking);
    }
    /// Sets the uniquifier (does nothing when the model has none).
    fn set_uniquifier(model: &mut Self::ActiveModel, value: String) {
        let _ = (model, value);
    }
    /// Sets (or clears) the user name (does nothing when the model has none).
    fn set_username(model: &mut Self::ActiveModel, value: Option<String>) {
        let _ = (model, value);
    }

    /// Sets the token uniquifier (does nothing when the model has none).
    fn set_token_uniquifier(model: &mut Self::ActiveModel, value: String) {
        let _ = (model, value);
    }
}

/// A user model with a `confirmed_at` field: what `SECURITY_CONFIRMABLE` needs.
///
/// Implemented by `#[derive(SecurityUser)]` when the field exists, so that enabling
/// confirmation in code ([`crate::SecurityBuilder::confirmable`]) is checked by the compiler.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `confirmed_at` field, so it cannot be confirmable",
    label = "this user model is not confirmable",
    note = "add `pub confirmed_at: Option<DateTimeUtc>` to the user model, or mark an existing field `#[security(confirmed_at)]`"
)]
pub trait Confirmable: SecurityUser {}

/// A user model with every login-tracking field: what `SECURITY_TRACKABLE` needs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` lacks the login-tracking fields, so it cannot be trackable",
    label = "this user model is not trackable",
    note = "add `last_login_at`, `current_login_at` (`Option<DateTimeUtc>`), `last_login_ip`, `current_login_ip` (`Option<String>`) and `login_count` (`Option<i32>`) to the user model"
)]
pub trait Trackable: SecurityUser {}

/// A role entity's `Model`, as the runtime sees it. Implemented by `#[derive(SecurityRole)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a security role model",
    note = "add `#[derive(SecurityRole)]` to the `Model` of the role entity"
)]
pub trait SecurityRole: FromQueryResult + Clone + Debug + Send + Sync + 'static {
    /// The role entity.
    type Entity: EntityTrait<Model = Self, Column = Self::Column, ActiveModel = Self::ActiveModel>;
    /// The role entity's `ActiveModel`.
    type ActiveModel: ActiveModelTrait<Entity = Self::Entity>
        + ActiveModelBehavior
        + Send
        + Sync
        + 'static;
    /// The role entity's `Column`.
    type Column: ColumnTrait + Send + Sync;
    /// The type of the `id` field.
    type Id: RecordId;

    /// The primary key.
    fn id(&self) -> Self::Id;
    /// The unique role name.
    fn name(&self) -> &str;
    /// The description, if the model has one.
    fn description(&self) -> Option<&str>;

    /// The column of the primary key.
    fn id_column() -> Self::Column;
    /// The column of the name.
    fn name_column() -> Self::Column;

    /// Sets the name on an active model.
    fn set_name(model: &mut Self::ActiveModel, name: String);
    /// Sets the description on an active model (does nothing when the model has none).
    fn set_description(model: &mut Self::ActiveModel, description: Option<String>);
}

/// Conversions between the Rust types a model may use for a field and what the runtime reads
/// and writes. The derives check each field's type against these traits, so a wrong type is a
/// compile error at the field.
pub mod fields {
    use super::*;

    /// A type usable for the `email` field.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot hold an e-mail address",
        label = "the e-mail field must be a `String`"
    )]
    pub trait EmailField {
        /// Reads the address.
        fn get(&self) -> &str;
        /// Builds the field from an address.
        fn make(value: String) -> Self;
    }
    impl EmailField for String {
        fn get(&self) -> &str {
            self
        }
        fn make(value: String) -> Self {
            value
        }
    }

    /// A type usable for the `password` field (and other optional text fields, such as the
    /// tracked IP addresses and the uniquifier).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot hold this text field",
        label = "use `Option<String>` (or `String` for a NOT NULL column)"
    )]
    pub trait TextField {
        /// Reads the value (`None` for NULL or, for `String`, the empty string).
        fn get(&self) -> Option<&str>;
        /// Builds the field from a value (`None` becomes NULL or the empty string).
        fn make(value: Option<String>) -> Self;
    }
    impl TextField for String {
        fn get(&self) -> Option<&str> {
            if self.is_empty() { None } else { Some(self) }
        }
        fn make(value: Option<String>) -> Self {
            value.unwrap_or_default()
        }
    }
    impl TextField for Option<String> {
        fn get(&self) -> Option<&str> {
            self.as_deref()
        }
        fn make(value: Option<String>) -> Self {
            value
        }
    }

    /// A type usable for the `active` field.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot hold the active flag",
        label = "the active field must be a `bool` (or `Option<bool>` for a nullable column)"
    )]
    pub trait FlagField {
        /// Reads the flag (NULL counts as false, as in Flask-Security).
        fn get(&self) -> bool;
        /// Builds the field from a flag.
        fn make(value: bool) -> Self;
    }
    impl FlagField for bool {
        fn get(&self) -> bool {
            *self
        }
        fn make(value: bool) -> Self {
            value
        }
    }
    impl FlagField for Option<bool> {
        fn get(&self) -> bool {
            self.unwrap_or(false)
        }
        fn make(value: bool) -> Self {
            Some(value)
        }
    }

    /// A type usable for the timestamp fields (`confirmed_at`, `last_login_at`,
    /// `current_login_at`). Naive timestamps (what Flask-Security wrote) are read as UTC.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot hold a timestamp",
        label = "use `Option<DateTimeUtc>`, `Option<DateTime>` (naive UTC) or `Option<DateTimeWithTimeZone>`"
    )]
    pub trait TimestampField {
        /// Reads the time.
        fn get(&self) -> Option<DateTime<Utc>>;
        /// Builds the field from a time.
        fn make(value: Option<DateTime<Utc>>) -> Self;
    }
    impl TimestampField for Option<DateTime<Utc>> {
        fn get(&self) -> Option<DateTime<Utc>> {
            *self
        }
        fn make(value: Option<DateTime<Utc>>) -> Self {
            value
        }
    }
    impl TimestampField for Option<NaiveDateTime> {
        fn get(&self) -> Option<DateTime<Utc>> {
            self.map(|t| t.and_utc())
        }
        fn make(value: Option<DateTime<Utc>>) -> Self {
            value.map(|t| t.naive_utc())
        }
    }
    impl TimestampField for Option<DateTime<FixedOffset>> {
        fn get(&self) -> Option<DateTime<Utc>> {
            self.map(|t| t.with_timezone(&Utc))
        }
        fn make(value: Option<DateTime<Utc>>) -> Self {
            value.map(|t| t.fixed_offset())
        }
    }

    /// A type usable for `login_count`.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot hold the login count",
        label = "use `Option<i32>` or `Option<i64>` (or `i32`/`i64` for a NOT NULL column)"
    )]
    pub trait CountField {
        /// Reads the count.
        fn get(&self) -> Option<i64>;
        /// Builds the field from a count.
        fn make(value: Option<i64>) -> Self;
    }
    macro_rules! count_field {
        ($($t:ty),*) => {$(
            impl CountField for Option<$t> {
                fn get(&self) -> Option<i64> {
                    self.map(i64::from)
                }
                fn make(value: Option<i64>) -> Self {
                    value.map(|v| <$t>::try_from(v).unwrap_or(<$t>::MAX))
                }
            }
            impl CountField for $t {
                fn get(&self) -> Option<i64> {
                    Some(i64::from(*self))
                }
                fn make(value: Option<i64>) -> Self {
                    value.map(|v| <$t>::try_from(v).unwrap_or(<$t>::MAX)).unwrap_or(0)
                }
            }
        )*};
    }
    count_field!(i32, i64);

    /// A type usable for the role's `name` field.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot hold a role name",
        label = "the role name must be a `String`"
    )]
    pub trait NameField {
        /// Reads the name.
        fn get(&self) -> &str;
        /// Builds the field from a name.
        fn make(value: String) -> Self;
    }
    impl NameField for String {
        fn get(&self) -> &str {
            self
        }
        fn make(value: String) -> Self {
            value
        }
    }
    impl NameField for Option<String> {
        fn get(&self) -> &str {
            self.as_deref().unwrap_or("")
        }
        fn make(value: String) -> Self {
            Some(value)
        }
    }

    /// A type usable for the primary key (`id`) of a user or role.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be used as the id of a user or role",
        label = "use an integer, `String` or `Uuid` primary key"
    )]
    pub trait IdField: RecordId {}
    impl<T: RecordId> IdField for T {}
}

/// A user as the crate formats it: id and address, never the password hash or uniquifier.
pub(crate) struct UserRef<'a, U>(pub &'a U);

impl<U: SecurityUser> std::fmt::Debug for UserRef<'_, U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(
            std::any::type_name::<U>()
                .rsplit("::")
                .nth(1)
                .unwrap_or("User"),
        )
        .field("id", &self.0.id())
        .field("email", &self.0.email())
        .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_optional_field_has_a_bit_of_its_own() {
        for field in Field::ALL {
            let fields = UserFields::NONE.with(field);
            for other in Field::ALL {
                assert_eq!(fields.has(other), other == field, "{field:?} / {other:?}");
            }
        }
    }
}
