//! Validation: which field fills each slot, the required slots, the role and link entities.
//! Produces a [`UserModel`] whenever the input is a struct with named fields, with placeholders
//! for what is missing, so that the expansion always emits an impl: the user then sees the
//! errors reported here and no cascade of "trait not implemented" at every use of the model.

use darling::{Error, FromDeriveInput};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{DeriveInput, Ident, Path, parse_quote};

use super::attr::{DERIVE, UserInput, UserKeys};
use crate::fields::{self, FieldInfo, SeaOrmField, Slots, error};

/// A validated user model: everything the expansion needs, and nothing it must check.
pub(super) struct UserModel {
    pub(super) ident: Ident,
    /// The role entity (the shipped `security::entities::role` in place of a missing one).
    pub(super) role: Path,
    /// The link entity (the shipped `security::entities::roles_users` in place of a missing
    /// one).
    pub(super) user_roles: Path,
    /// The link entity's column of the user id.
    pub(super) link_user: TokenStream,
    /// The link entity's column of the role id.
    pub(super) link_role: TokenStream,
    pub(super) slots: Slots,
}

/// Parses and validates; returns the model when an impl can be generated (possibly with
/// placeholders, whose errors are returned as well), and every error found.
pub(super) fn validate(input: &DeriveInput) -> (Option<UserModel>, Option<Error>) {
    if let Err(error) = fields::check_shape(input, DERIVE) {
        return (None, Some(error));
    }
    let parsed = match UserInput::from_derive_input(input) {
        Ok(parsed) => parsed,
        Err(error) => return (None, Some(error)),
    };
    let mut errors = Error::accumulator();
    let UserInput { ident, data, opts } = parsed;
    errors.extend(opts.errors);

    let mut infos: Vec<FieldInfo<UserKeys>> = data
        .take_struct()
        .map(|fields| fields.fields)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|field| {
            Some(FieldInfo {
                ident: field.ident?,
                ty: field.ty,
                keys: field.keys,
                sea_orm: SeaOrmField::from_attrs(&field.attrs),
            })
        })
        .collect();
    let slots = fields::assign_slots(&mut infos, &mut errors);
    slots.check_required::<UserKeys>(&ident, &mut errors);

    let attr = fields::container_attr(input);
    let whole = "#[security(role = super::role::Entity, user_roles = super::roles_users::Entity)]";
    let given = |key: &str| opts.given.iter().any(|given| given == key);
    let (role_given, user_roles_given) = (given("role"), given("user_roles"));
    let role = opts.role.or_else(|| {
        if role_given {
            return None;
        }
        errors.push(match attr {
            None => error(
                &ident,
                format_args!(
                    "missing the role and link entities; add `{whole}` to the struct, naming the \
                     role entity and the entity that links users to roles"
                ),
            ),
            Some(attr) => error(
                attr.path(),
                "missing `role`; add `role = super::role::Entity` (the role entity) to \
                 `#[security(..)]`",
            ),
        });
        None
    });
    let user_roles = opts.user_roles.or_else(|| {
        if user_roles_given {
            return None;
        }
        if let Some(attr) = attr {
            errors.push(error(
                attr.path(),
                "missing `user_roles`; add `user_roles = super::roles_users::Entity` (the entity \
                 that links users to roles) to `#[security(..)]`",
            ));
        }
        None
    });

    let role = role.unwrap_or_else(|| parse_quote!(::security::entities::role::Entity));
    // The link fields name fields of the app's link entity; with the placeholder, its own.
    let (user_roles, link_user, link_role) = match user_roles {
        Some(user_roles) => {
            let default_span = user_roles_span(&user_roles);
            let link_user = opts
                .user_roles_user
                .unwrap_or_else(|| ("user_id".into(), default_span));
            let link_role = opts
                .user_roles_role
                .unwrap_or_else(|| ("role_id".into(), default_span));
            (user_roles, link_user, link_role)
        }
        None => (
            parse_quote!(::security::entities::roles_users::Entity),
            ("user_id".into(), Span::call_site()),
            ("role_id".into(), Span::call_site()),
        ),
    };
    let model = UserModel {
        link_user: link_column(&link_user),
        link_role: link_column(&link_role),
        ident,
        role,
        user_roles,
        slots,
    };
    (Some(model), errors.finish().err())
}

fn user_roles_span(path: &Path) -> Span {
    syn::spanned::Spanned::span(path)
}

/// The link entity's column for a field, through the impl's own `Self::UserRoles`: a link
/// path that is not an entity is then reported once, at the path, and not again here.
fn link_column((field, span): &(String, Span)) -> TokenStream {
    let variant = Ident::new(
        &heck::ToUpperCamelCase::to_upper_camel_case(field.as_str()),
        *span,
    );
    quote! {
        <Self::UserRoles as ::security::__private::sea_orm::EntityTrait>::Column::#variant
    }
}
