//! Expansion: the `SecurityUser` impl (and `Confirmable`, `Trackable`) from a validated
//! [`UserModel`] only. What each slot generates is read from the slot table; a missing required
//! field (already reported) becomes a stub, so that the impl is always there.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Path};

use super::validate::UserModel;
use crate::fields::{SlotField, column, get, set};
use crate::slot::{Feature, Slot};

impl UserModel {
    pub(super) fn expand(&self) -> TokenStream {
        let Self {
            ident,
            role,
            user_roles,
            link_user,
            link_role,
            slots,
        } = self;
        let p = quote!(::security::__private);

        // The required slots: getter, setter and column getter each. A missing one has been
        // reported; its items become stubs so that the user sees that one error.
        let required = Slot::USER
            .iter()
            .copied()
            .filter(|slot| slot.facts().required);
        let mut base = Vec::new();
        for slot in required {
            let field = slots.get(slot);
            let kind = slot.facts().kind;
            let (getter, setter, column_getter) =
                (slot.getter(), slot.setter(), slot.column_getter());
            let (read, write) = (kind.read_type(), kind.write_type());
            let get = field.map_or_else(unreachable, |field| get(slot, field));
            let column = column(field);
            base.push(quote! {
                fn #getter(&self) -> #read {
                    #get
                }
                fn #column_getter() -> Self::Column {
                    #column
                }
            });
            if slot != Slot::Id {
                let set = match field {
                    Some(field) => set(slot, field, quote!(value)),
                    None => quote!(let _ = (model, value);),
                };
                base.push(quote! {
                    fn #setter(model: &mut Self::ActiveModel, value: #write) {
                        #set
                    }
                });
            }
        }
        let id_ty = match slots.get(Slot::Id) {
            Some(SlotField { ty, .. }) => quote_spanned!(ty.span()=> #ty),
            None => quote!(i32),
        };

        // `FIELDS` and `column(Field::..)`, for the optional slots the model fills.
        let optional: Vec<(&str, &SlotField)> = Slot::USER
            .iter()
            .filter_map(|slot| Some((slot.facts().field?, slots.get(*slot)?)))
            .collect();
        let variants: Vec<Ident> = optional
            .iter()
            .map(|(variant, _)| Ident::new(variant, Span::call_site()))
            .collect();
        let columns = optional.iter().map(|(_, field)| column(Some(field)));
        let column_method = (!optional.is_empty()).then(|| {
            quote! {
                fn column(field: #p::Field) -> ::core::option::Option<Self::Column> {
                    #[allow(unreachable_patterns)]
                    match field {
                        #(#p::Field::#variants => ::core::option::Option::Some(#columns),)*
                        _ => ::core::option::Option::None,
                    }
                }
            }
        });
        let fields_const = quote! {
            const FIELDS: #p::UserFields = #p::UserFields::NONE #(.with(#p::Field::#variants))*;
        };

        let features = [
            Feature::Confirmable,
            Feature::Trackable,
            Feature::Uniquifier,
            Feature::Username,
        ];
        let methods = features.map(|feature| feature_methods(feature, slots_of(self, feature)));
        let markers = features.map(|feature| {
            let complete = slots_of(self, feature)
                .iter()
                .all(|(_, field)| field.is_some());
            let marker = feature.marker().filter(|_| complete)?;
            let marker = Ident::new(marker, Span::call_site());
            Some(quote! {
                #[automatically_derived]
                impl #p::#marker for #ident {}
            })
        });

        // Spanned from the first to the last token of the path, so that an error (the path is
        // not an entity, its model is not a `SecurityRole`) underlines all of it, once.
        let role_model = {
            let (first, last) = path_ends(role);
            let open = quote_spanned!(first=> <<);
            let close = quote_spanned! {last=>
                as ::security::__private::IsEntity>::Entity
                    as ::security::__private::sea_orm::EntityTrait>::Model
            };
            quote!(#open #role #close)
        };
        let user_roles_ty = {
            let (first, last) = path_ends(user_roles);
            let open = quote_spanned!(first=> <);
            let close = quote_spanned!(last=> as ::security::__private::IsEntity>::Entity);
            quote!(#open #user_roles #close)
        };
        let model_check = quote_spanned!(ident.span()=> __security_is_model::<#ident>(););

        quote! {
            #[automatically_derived]
            impl #p::SecurityUser for #ident {
                type Entity = Entity;
                type ActiveModel = ActiveModel;
                type Column = Column;
                type Id = #id_ty;
                type Role = #role_model;
                type UserRoles = #user_roles_ty;

                #fields_const

                #(#base)*
                #(#methods)*
                #column_method

                fn link_user_column() -> <Self::UserRoles as #p::sea_orm::EntityTrait>::Column {
                    #link_user
                }
                fn link_role_column() -> <Self::UserRoles as #p::sea_orm::EntityTrait>::Column {
                    #link_role
                }
            }

            #(#markers)*

            // The struct is an entity's `Model`: checked here for a message of its own.
            const _: () = {
                fn __security_is_model<T: #p::IsModel>() {}
                fn __security_checks() {
                    #model_check
                }
            };
        }
    }
}

/// The slots of a feature, with the field that fills each (if any).
fn slots_of(model: &UserModel, feature: Feature) -> Vec<(Slot, Option<&SlotField>)> {
    feature
        .slots()
        .map(|slot| (slot, model.slots.get(slot)))
        .collect()
}

/// The runtime trait's methods of a feature, when the model fills any of its slots (the
/// trait's defaults answer "none" otherwise).
fn feature_methods(feature: Feature, slots: Vec<(Slot, Option<&SlotField>)>) -> TokenStream {
    if slots.iter().all(|(_, field)| field.is_none()) {
        return TokenStream::new();
    }
    let p = quote!(::security::__private);
    match feature {
        // One slot each: a getter, and a setter of the runtime's type.
        Feature::Confirmable | Feature::Uniquifier | Feature::Username => {
            let mut out = TokenStream::new();
            for (slot, field) in slots {
                let Some(field) = field else { continue };
                let (getter, setter) = (slot.getter(), slot.setter());
                let read = slot.facts().kind.read_type();
                let get = get(slot, field);
                // The runtime sets a uniquifier, never clears it.
                let (write, value) = if feature == Feature::Uniquifier {
                    (
                        quote!(::std::string::String),
                        quote!(::core::option::Option::Some(value)),
                    )
                } else {
                    (slot.facts().kind.write_type(), quote!(value))
                };
                let set = set(slot, field, value);
                out.extend(quote! {
                    fn #getter(&self) -> #read {
                        #get
                    }
                    fn #setter(model: &mut Self::ActiveModel, value: #write) {
                        #set
                    }
                });
            }
            out
        }
        // Read and written together, as the runtime's `Tracking`.
        Feature::Trackable => {
            let names: Vec<Ident> = slots
                .iter()
                .map(|(slot, _)| format_ident!("{}", slot.name()))
                .collect();
            let mut reads = Vec::new();
            let mut writes = Vec::new();
            for ((slot, field), name) in slots.iter().zip(&names) {
                let Some(field) = field else {
                    reads.push(quote!(::core::option::Option::None));
                    continue;
                };
                let read = get(*slot, field);
                let value = if slot.facts().kind == crate::slot::Kind::Text {
                    reads.push(quote! {
                        ::core::option::Option::map(#read, ::std::borrow::ToOwned::to_owned)
                    });
                    quote!(::core::clone::Clone::clone(&tracking.#name))
                } else {
                    reads.push(read);
                    quote!(tracking.#name)
                };
                writes.push(set(*slot, field, value));
            }
            quote! {
                fn tracking(&self) -> ::core::option::Option<#p::Tracking> {
                    ::core::option::Option::Some(#p::Tracking {
                        #(#names: #reads,)*
                    })
                }
                fn set_tracking(model: &mut Self::ActiveModel, tracking: &#p::Tracking) {
                    #(#writes)*
                }
            }
        }
    }
}

/// The spans of the first and the last token of a path.
fn path_ends(path: &Path) -> (Span, Span) {
    let first = path.span();
    let last = path
        .segments
        .last()
        .map_or(first, |segment| segment.ident.span());
    (first, last)
}

fn unreachable() -> TokenStream {
    quote!(::core::unreachable!())
}
