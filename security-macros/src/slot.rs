//! The slots a field of a user or role model can fill, and one table of what each slot means:
//! its Flask-Security name, whether a model must have it, the conversion trait its type must
//! implement, the runtime feature it belongs to and its variant of the runtime's
//! `security::model::Field`. Parsing (the keys a field may carry), validation (the required
//! slots) and expansion (accessors, `FIELDS`, `column`, the marker impls) all read this table.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

/// A slot of a user or role model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Slot {
    /// The primary key (user and role).
    Id,
    /// The user's e-mail address.
    Email,
    /// The user's password hash.
    Password,
    /// Whether the user may log in.
    Active,
    /// When the user's address was confirmed.
    ConfirmedAt,
    /// Time of the login before the current one.
    LastLoginAt,
    /// Time of the latest login.
    CurrentLoginAt,
    /// Address of the login before the current one.
    LastLoginIp,
    /// Address of the latest login.
    CurrentLoginIp,
    /// Number of logins.
    LoginCount,
    /// The per-user random value mixed into sessions and tokens.
    Uniquifier,
    /// The user name (Flask-Security 5.9's `username`: a login identity when
    /// `SECURITY_USERNAME_ENABLE` is on).
    Username,
    /// The per-user random value mixed into authentication and refresh tokens only (5.9's
    /// `fs_token_uniquifier`).
    TokenUniquifier,
    /// The role's unique name.
    Name,
    /// The role's description.
    Description,
}

/// How the runtime reads and writes a slot's field: the conversion trait of
/// `security::model::fields` that the field's type must implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `IdField`: cloned as it is.
    Id,
    /// `EmailField`: `&str` / `String`.
    Email,
    /// `TextField`: `Option<&str>` / `Option<String>`.
    Text,
    /// `FlagField`: `bool`.
    Flag,
    /// `TimestampField`: `Option<DateTime<Utc>>`.
    Timestamp,
    /// `CountField`: `Option<i64>`.
    Count,
    /// `NameField`: `&str` / `String`.
    Name,
}

impl Kind {
    /// The conversion trait, as named under `::security::__private`.
    pub(crate) fn conversion(self) -> Ident {
        let name = match self {
            Kind::Id => "IdField",
            Kind::Email => "EmailField",
            Kind::Text => "TextField",
            Kind::Flag => "FlagField",
            Kind::Timestamp => "TimestampField",
            Kind::Count => "CountField",
            Kind::Name => "NameField",
        };
        Ident::new(name, Span::call_site())
    }

    /// What a getter returns (the runtime's view of the field).
    pub(crate) fn read_type(self) -> TokenStream {
        match self {
            Kind::Id => quote!(Self::Id),
            Kind::Email | Kind::Name => quote!(&str),
            Kind::Text => quote!(::core::option::Option<&str>),
            Kind::Flag => quote!(bool),
            Kind::Timestamp => quote! {
                ::core::option::Option<
                    ::security::__private::chrono::DateTime<::security::__private::chrono::Utc>
                >
            },
            Kind::Count => quote!(::core::option::Option<i64>),
        }
    }

    /// What a setter takes.
    pub(crate) fn write_type(self) -> TokenStream {
        match self {
            Kind::Id => quote!(Self::Id),
            Kind::Email | Kind::Name => quote!(::std::string::String),
            Kind::Text => quote!(::core::option::Option<::std::string::String>),
            Kind::Flag => quote!(bool),
            Kind::Timestamp | Kind::Count => self.read_type(),
        }
    }
}

/// A runtime feature that optional user slots enable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Feature {
    /// `SECURITY_CONFIRMABLE`: the marker trait `Confirmable` when every slot of it is there.
    Confirmable,
    /// `SECURITY_TRACKABLE`: the marker trait `Trackable` when every slot of it is there.
    Trackable,
    /// Per-user revocation of every session and token.
    Uniquifier,
    /// Usernames (`SECURITY_USERNAME_ENABLE`).
    Username,
}

impl Feature {
    /// The marker trait the derive implements when the model has every slot of the feature.
    pub(crate) fn marker(self) -> Option<&'static str> {
        match self {
            Feature::Confirmable => Some("Confirmable"),
            Feature::Trackable => Some("Trackable"),
            Feature::Uniquifier | Feature::Username => None,
        }
    }

    /// The slots of the feature, in table order.
    pub(crate) fn slots(self) -> impl Iterator<Item = Slot> {
        Slot::ALL
            .iter()
            .copied()
            .filter(move |slot| slot.facts().feature == Some(self))
    }
}

/// What one slot means.
#[derive(Debug)]
pub(crate) struct Facts {
    /// The slot these facts are about (checks that the table is in order).
    pub(crate) slot: Slot,
    /// Flask-Security's field name: the name a field is found by, and its key.
    pub(crate) name: &'static str,
    /// Other keys for the slot.
    pub(crate) aliases: &'static [&'static str],
    /// The name of the runtime trait's getter (setter: `set_` before it).
    pub(crate) method: &'static str,
    /// Whether every model of its derive must have it.
    pub(crate) required: bool,
    /// How the runtime reads and writes it.
    pub(crate) kind: Kind,
    /// The runtime feature it belongs to.
    pub(crate) feature: Option<Feature>,
    /// Its variant of the runtime's `security::model::Field` (the optional user slots).
    pub(crate) field: Option<&'static str>,
}

const fn facts(
    slot: Slot,
    name: &'static str,
    required: bool,
    kind: Kind,
    feature: Option<Feature>,
    field: Option<&'static str>,
) -> Facts {
    Facts {
        slot,
        name,
        aliases: &[],
        method: name,
        required,
        kind,
        feature,
        field,
    }
}

use Feature::{Confirmable, Trackable};
use Kind::{Count, Email, Flag, Id, Name, Text, Timestamp};

/// The table, in the order of [`Slot`]'s variants.
const TABLE: [Facts; 15] = [
    facts(Slot::Id, "id", true, Id, None, None),
    facts(Slot::Email, "email", true, Email, None, None),
    facts(Slot::Password, "password", true, Text, None, None),
    facts(Slot::Active, "active", true, Flag, None, None),
    facts(
        Slot::ConfirmedAt,
        "confirmed_at",
        false,
        Timestamp,
        Some(Confirmable),
        Some("ConfirmedAt"),
    ),
    facts(
        Slot::LastLoginAt,
        "last_login_at",
        false,
        Timestamp,
        Some(Trackable),
        Some("LastLoginAt"),
    ),
    facts(
        Slot::CurrentLoginAt,
        "current_login_at",
        false,
        Timestamp,
        Some(Trackable),
        Some("CurrentLoginAt"),
    ),
    facts(
        Slot::LastLoginIp,
        "last_login_ip",
        false,
        Text,
        Some(Trackable),
        Some("LastLoginIp"),
    ),
    facts(
        Slot::CurrentLoginIp,
        "current_login_ip",
        false,
        Text,
        Some(Trackable),
        Some("CurrentLoginIp"),
    ),
    facts(
        Slot::LoginCount,
        "login_count",
        false,
        Count,
        Some(Trackable),
        Some("LoginCount"),
    ),
    Facts {
        aliases: &["uniquifier"],
        method: "uniquifier",
        ..facts(
            Slot::Uniquifier,
            "fs_uniquifier",
            false,
            Text,
            Some(Feature::Uniquifier),
            Some("Uniquifier"),
        )
    },
    facts(
        Slot::Username,
        "username",
        false,
        Text,
        Some(Feature::Username),
        Some("Username"),
    ),
    Facts {
        aliases: &["token_uniquifier"],
        method: "token_uniquifier",
        ..facts(
            Slot::TokenUniquifier,
            "fs_token_uniquifier",
            false,
            Text,
            Some(Feature::Uniquifier),
            Some("TokenUniquifier"),
        )
    },
    facts(Slot::Name, "name", true, Name, None, None),
    facts(Slot::Description, "description", false, Text, None, None),
];

impl Slot {
    /// Every slot, in table order.
    pub(crate) const ALL: [Slot; 15] = [
        Slot::Id,
        Slot::Email,
        Slot::Password,
        Slot::Active,
        Slot::ConfirmedAt,
        Slot::LastLoginAt,
        Slot::CurrentLoginAt,
        Slot::LastLoginIp,
        Slot::CurrentLoginIp,
        Slot::LoginCount,
        Slot::Uniquifier,
        Slot::Username,
        Slot::TokenUniquifier,
        Slot::Name,
        Slot::Description,
    ];

    /// The slots of a user model (Flask-Security's `UserMixin` fields).
    pub(crate) const USER: &'static [Slot] = &[
        Slot::Id,
        Slot::Email,
        Slot::Password,
        Slot::Active,
        Slot::ConfirmedAt,
        Slot::LastLoginAt,
        Slot::CurrentLoginAt,
        Slot::LastLoginIp,
        Slot::CurrentLoginIp,
        Slot::LoginCount,
        Slot::Uniquifier,
        Slot::Username,
        Slot::TokenUniquifier,
    ];

    /// The slots of a role model (Flask-Security's `RoleMixin` fields).
    pub(crate) const ROLE: &'static [Slot] = &[Slot::Id, Slot::Name, Slot::Description];

    /// What the slot means.
    pub(crate) fn facts(self) -> &'static Facts {
        let facts = &TABLE[self as usize];
        debug_assert_eq!(facts.slot, self, "the slot table is out of order");
        facts
    }

    /// Flask-Security's name of the field.
    pub(crate) fn name(self) -> &'static str {
        self.facts().name
    }

    /// The getter of the runtime trait, as an identifier.
    pub(crate) fn getter(self) -> Ident {
        Ident::new(self.facts().method, Span::call_site())
    }

    /// The setter of the runtime trait, as an identifier.
    pub(crate) fn setter(self) -> Ident {
        Ident::new(&format!("set_{}", self.facts().method), Span::call_site())
    }

    /// The column getter of the runtime trait (`email_column`), as an identifier.
    pub(crate) fn column_getter(self) -> Ident {
        Ident::new(
            &format!("{}_column", self.facts().method),
            Span::call_site(),
        )
    }

    /// Whether `key` names this slot (its name or an alias).
    pub(crate) fn is_named(self, key: &str) -> bool {
        let facts = self.facts();
        facts.name == key || facts.aliases.contains(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_order_of_the_variants() {
        for slot in Slot::ALL {
            assert_eq!(slot.facts().slot, slot);
        }
    }

    #[test]
    fn every_optional_user_slot_has_a_runtime_field() {
        for slot in Slot::USER {
            let facts = slot.facts();
            assert_eq!(facts.field.is_some(), !facts.required, "{slot:?}");
        }
    }
}
