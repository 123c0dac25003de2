//! `#[derive(SecurityRole)]`: implements `SecurityRole` for a SeaORM role `Model`.
//!
//! Parse (darling receivers) → validate (the slots of the fields) → expand (from the validated
//! [`RoleModel`] only). Small enough for one file; the user derive is split in three.

use darling::ast::{self, NestedMeta};
use darling::util::Ignored;
use darling::{Error, FromDeriveInput, FromField, FromMeta};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, DeriveInput, Ident, Type};

use crate::fields::{
    self, FieldInfo, FieldKeys, KeySet, SeaOrmField, SlotField, Slots, column, error, get, set,
};
use crate::slot::Slot;

const DERIVE: &str = "#[derive(SecurityRole)]";

/// The field keys of `#[derive(SecurityRole)]`: Flask-Security's `RoleMixin` field names.
#[derive(Debug)]
pub(crate) struct RoleKeys;

impl KeySet for RoleKeys {
    const DERIVE: &'static str = DERIVE;
    const SLOTS: &'static [Slot] = Slot::ROLE;
}

/// The derive input, as darling reads it.
#[derive(FromDeriveInput)]
#[darling(attributes(security))]
struct RoleInput {
    ident: Ident,
    data: ast::Data<Ignored, RoleFieldInput>,
    #[darling(flatten)]
    opts: RoleOpts,
}

/// One field, as darling reads it.
#[derive(FromField)]
#[darling(attributes(security), forward_attrs(sea_orm))]
struct RoleFieldInput {
    ident: Option<Ident>,
    ty: Type,
    attrs: Vec<Attribute>,
    #[darling(flatten)]
    keys: FieldKeys<RoleKeys>,
}

/// `#[security(..)]` on the role struct: there are no keys; each one is an error, kept so that
/// the fields are still read.
#[derive(Debug, Default)]
struct RoleOpts {
    errors: Vec<Error>,
}

impl FromMeta for RoleOpts {
    fn from_list(items: &[NestedMeta]) -> darling::Result<Self> {
        let errors = items
            .iter()
            .map(|item| {
                error(
                    item,
                    "`#[derive(SecurityRole)]` takes no `#[security(..)]` on the struct; map a \
                     field with `#[security(name)]` on the field, and name the role entity in \
                     the user model's `#[security(role = ..)]`",
                )
            })
            .collect();
        Ok(RoleOpts { errors })
    }
}

/// A validated role model.
struct RoleModel {
    ident: Ident,
    slots: Slots,
}

/// Expands `#[derive(SecurityRole)]`.
pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let (model, errors) = validate(input);
    let errors = errors.map(Error::write_errors);
    let model = model.map(|model| model.expand());
    quote! {
        #errors
        #model
    }
}

fn validate(input: &DeriveInput) -> (Option<RoleModel>, Option<Error>) {
    if let Err(error) = fields::check_shape(input, DERIVE) {
        return (None, Some(error));
    }
    let parsed = match RoleInput::from_derive_input(input) {
        Ok(parsed) => parsed,
        Err(error) => return (None, Some(error)),
    };
    let mut errors = Error::accumulator();
    let RoleInput { ident, data, opts } = parsed;
    errors.extend(opts.errors);
    let mut infos: Vec<FieldInfo<RoleKeys>> = data
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
    slots.check_required::<RoleKeys>(&ident, &mut errors);
    (Some(RoleModel { ident, slots }), errors.finish().err())
}

impl RoleModel {
    fn expand(&self) -> TokenStream {
        let Self { ident, slots } = self;
        let p = quote!(::security::__private);
        let id = slots.get(Slot::Id);
        let name = slots.get(Slot::Name);
        let description = slots.get(Slot::Description);

        // A missing required field has been reported; its items become stubs.
        let id_ty = match id {
            Some(SlotField { ty, .. }) => quote_spanned!(ty.span()=> #ty),
            None => quote!(i32),
        };
        let id_get = match id {
            Some(field) => get(Slot::Id, field),
            None => quote!(::core::unreachable!()),
        };
        let name_get = match name {
            Some(field) => get(Slot::Name, field),
            None => quote!(::core::unreachable!()),
        };
        let name_set = match name {
            Some(field) => set(Slot::Name, field, quote!(name)),
            None => quote!(let _ = (model, name);),
        };
        let (description_get, description_set) = match description {
            Some(field) => (
                get(Slot::Description, field),
                set(Slot::Description, field, quote!(description)),
            ),
            None => (
                quote!(::core::option::Option::None),
                quote!(let _ = (model, description);),
            ),
        };
        let (id_column, name_column) = (column(id), column(name));
        let model_check = quote_spanned!(ident.span()=> __security_is_model::<#ident>(););

        quote! {
            #[automatically_derived]
            impl #p::SecurityRole for #ident {
                type Entity = Entity;
                type ActiveModel = ActiveModel;
                type Column = Column;
                type Id = #id_ty;

                fn id(&self) -> Self::Id {
                    #id_get
                }
                fn name(&self) -> &str {
                    #name_get
                }
                fn description(&self) -> ::core::option::Option<&str> {
                    #description_get
                }
                fn id_column() -> Self::Column {
                    #id_column
                }
                fn name_column() -> Self::Column {
                    #name_column
                }
                fn set_name(model: &mut Self::ActiveModel, name: ::std::string::String) {
                    #name_set
                }
                fn set_description(
                    model: &mut Self::ActiveModel,
                    description: ::core::option::Option<::std::string::String>,
                ) {
                    #description_set
                }
            }

            const _: () = {
                fn __security_is_model<T: #p::IsModel>() {}
                fn __security_checks() {
                    #model_check
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn fields_are_found_by_name_or_key() {
        let input: DeriveInput = parse_quote! {
            pub struct Model {
                pub id: i32,
                #[security(name)]
                pub title: String,
                pub description: Option<String>,
            }
        };
        let (model, errors) = validate(&input);
        assert!(errors.is_none());
        let model = model.unwrap();
        assert_eq!(model.slots.get(Slot::Name).unwrap().ident, "title");
        assert!(model.slots.has(Slot::Description));
    }

    #[test]
    fn missing_name_and_struct_keys_are_reported() {
        let input: DeriveInput = parse_quote! {
            #[security(role = Entity)]
            pub struct Model {
                pub id: i32,
                pub title: String,
            }
        };
        let (model, errors) = validate(&input);
        assert!(model.is_some(), "a stub impl is still generated");
        let messages: Vec<String> = errors.unwrap().into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(messages[0].contains("takes no `#[security(..)]` on the struct"));
        assert!(messages[1].starts_with("no field for `name`"));
    }
}
