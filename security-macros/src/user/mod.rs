//! `#[derive(SecurityUser)]`: implements `SecurityUser` (and `Confirmable`, `Trackable` when the
//! fields are there) for a SeaORM user `Model`.
//!
//! Parse ([`attr`]: darling receivers) → validate ([`validate`]: the slots of the fields, the
//! container keys) → expand ([`expand`]: from the validated model only), as serde_derive and
//! thiserror-impl are laid out. What each field slot means is the table of [`crate::slot`].

use darling::Error;
use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

mod attr;
mod expand;
mod validate;

/// Expands `#[derive(SecurityUser)]`: the errors, and the impl whenever the input is a struct
/// with named fields (with placeholders for what is wrong), so that nothing cascades.
pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let (model, errors) = validate::validate(input);
    let errors = errors.map(Error::write_errors);
    let model = model.map(|model| model.expand());
    quote! {
        #errors
        #model
    }
}

#[cfg(test)]
mod tests {
    use super::validate::validate;
    use crate::slot::Slot;
    use quote::ToTokens;
    use syn::{DeriveInput, parse_quote};

    fn messages(input: &DeriveInput) -> Vec<String> {
        validate(input)
            .1
            .map(|error| error.into_iter().map(|error| error.to_string()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn conventional_fields_are_found_by_name() {
        let input: DeriveInput = parse_quote! {
            #[security(role = super::role::Entity, user_roles = super::roles_users::Entity)]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i32,
                pub email: String,
                pub password: Option<String>,
                pub active: bool,
                pub confirmed_at: Option<DateTimeUtc>,
                pub login_count: Option<i32>,
                pub username: Option<String>,
            }
        };
        let (model, errors) = validate(&input);
        assert!(errors.is_none());
        let model = model.unwrap();
        for slot in [
            Slot::Id,
            Slot::Email,
            Slot::Password,
            Slot::Active,
            Slot::ConfirmedAt,
            Slot::LoginCount,
        ] {
            assert_eq!(model.slots.get(slot).unwrap().ident, slot.name());
        }
        assert!(!model.slots.has(Slot::LastLoginAt));
        assert_eq!(
            model.slots.get(Slot::ConfirmedAt).unwrap().column,
            "ConfirmedAt"
        );
        let link = model.link_user.to_string().replace(' ', "");
        assert!(link.ends_with("EntityTrait>::Column::UserId"), "{link}");
    }

    #[test]
    fn keys_map_fields_and_skip_wins_over_the_name() {
        let input: DeriveInput = parse_quote! {
            #[security(
                role = "crate::role::Entity",
                user_roles = RolesUsers,
                user_roles_user = "account_id",
            )]
            pub struct Model {
                #[security(id)]
                pub pk: i64,
                #[security(email)]
                pub mail: String,
                #[security(password)]
                pub pw_hash: String,
                #[security(active)]
                pub enabled: bool,
                #[security(skip)]
                pub active: bool,
                #[sea_orm(enum_name = "Salt")]
                #[security(uniquifier)]
                pub token_salt: String,
            }
        };
        let (model, errors) = validate(&input);
        assert!(errors.is_none());
        let model = model.unwrap();
        assert_eq!(model.slots.get(Slot::Active).unwrap().ident, "enabled");
        assert_eq!(model.slots.get(Slot::Uniquifier).unwrap().column, "Salt");
        assert_eq!(model.slots.get(Slot::Password).unwrap().column, "PwHash");
        let link = model.link_user.to_string().replace(' ', "");
        assert!(link.ends_with("EntityTrait>::Column::AccountId"), "{link}");
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let input: DeriveInput = parse_quote! {
            #[security(role = super::role::Model, colour = "blue")]
            pub struct Model {
                pub id: i32,
                pub email: String,
                #[security(email)]
                pub login: String,
                #[security(pasword)]
                pub password: Option<String>,
            }
        };
        let messages = messages(&input);
        assert_eq!(messages.len(), 6, "{messages:#?}");
        assert!(messages[0].contains("not its `Model`; write `role = super::role::Entity`"));
        assert!(messages[1].starts_with("unknown key `colour`"));
        // The field with the misspelt key is still the password, by its name.
        assert!(messages[2].starts_with("unknown key `pasword`"));
        assert!(messages[2].contains("did you mean `password`?"));
        assert!(messages[3].starts_with("field `login` is marked `#[security(email)]`"));
        assert!(messages[4].starts_with("no field for `active`"));
        assert!(messages[5].starts_with("missing `user_roles`"));
        // `role` was given (wrongly): it is not reported as missing as well.
        assert!(!messages.iter().any(|m| m.contains("missing `role`")));
    }

    #[test]
    fn missing_container_attribute_is_one_message() {
        let input: DeriveInput = parse_quote! {
            pub struct Model {
                pub id: i32,
                pub email: String,
                pub password: Option<String>,
                pub active: bool,
            }
        };
        let (model, errors) = validate(&input);
        let messages: Vec<String> = errors.unwrap().into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), 1);
        assert!(messages[0].starts_with("missing the role and link entities"));
        // The impl is still generated, on the shipped entities, so that nothing cascades.
        let model = model.expect("an impl with placeholders");
        assert_eq!(
            model.role.to_token_stream().to_string().replace(' ', ""),
            "::security::entities::role::Entity"
        );
    }

    #[test]
    fn shapes_other_than_a_named_struct_are_refused() {
        let input: DeriveInput = parse_quote!(
            enum Model {
                A,
            }
        );
        assert!(messages(&input)[0].contains("not on an enum"));
        let input: DeriveInput = parse_quote!(
            struct Model(i32);
        );
        assert!(messages(&input)[0].contains("which has named fields"));
        let input: DeriveInput = parse_quote!(
            struct Model<T> {
                id: T,
            }
        );
        assert!(messages(&input)[0].contains("no generic parameters"));
    }
}
