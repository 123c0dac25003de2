//! What the two derives share: the `#[security(..)]` keys on a field, the SeaORM facts the
//! derives need about a field (its `Column` variant), the assignment of fields to slots (by
//! name, or by an explicit key), and the code that reads and writes a slot's field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Display};
use std::marker::PhantomData;

use darling::ast::NestedMeta;
use darling::{Error, FromMeta};
use heck::ToUpperCamelCase;
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, Meta, Type};

use crate::slot::Slot;

/// A darling error spanned on `node` (every token of it, where the compiler allows).
pub(crate) fn error(node: impl ToTokens, message: impl Display) -> Error {
    syn::Error::new_spanned(node, message).into()
}

/// A darling error spanned on `span`.
pub(crate) fn error_at(span: Span, message: impl Display) -> Error {
    syn::Error::new(span, message).into()
}

/// The field keys one derive accepts.
pub(crate) trait KeySet {
    /// The derive, for messages: ``#[derive(SecurityUser)]``.
    const DERIVE: &'static str;
    /// The slots a field can fill, in the order they are listed in messages.
    const SLOTS: &'static [Slot];
    /// Words that are not keys but that a user may plausibly write, with the fix: `(word, fix)`.
    const HINTS: &'static [(&'static str, &'static str)] = &[];

    /// The slot a key names (its name or an alias), or `None` for an unknown key.
    fn slot(key: &str) -> Option<Slot> {
        Self::SLOTS.iter().copied().find(|slot| slot.is_named(key))
    }

    /// Every key, in the order of messages: slot names, then aliases, then `skip`.
    fn keys() -> Vec<&'static str> {
        let mut keys: Vec<&str> = Self::SLOTS.iter().map(|slot| slot.name()).collect();
        keys.extend(Self::SLOTS.iter().flat_map(|slot| slot.facts().aliases));
        keys.push("skip");
        keys
    }

    /// Every key, for messages: `` `id`, `email`, …, `skip` ``.
    fn listing() -> String {
        Self::keys()
            .iter()
            .map(|key| format!("`{key}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `` did you mean `email`? `` for a key close to one of `known` (by Jaro–Winkler similarity,
/// as rustc and clap suggest), or nothing.
pub(crate) fn did_you_mean<'a>(
    written: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    known
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(written, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| format!("did you mean `{candidate}`?"))
}

/// One key written in a field's `#[security(..)]`.
#[derive(Clone, Debug)]
pub(crate) enum FieldKey {
    /// `#[security(email)]`: the field fills this slot.
    Slot {
        /// The slot (aliases resolved).
        slot: Slot,
        /// The key's tokens, for messages.
        span: Span,
    },
    /// `#[security(skip)]`: the field is the app's own, whatever its name.
    Skip(Span),
}

/// The `#[security(..)]` keys on one field, in the order written. Parsed through darling's
/// `flatten`, so that every key reaches this parser and each unknown key gets a message that
/// lists the keys there are.
#[derive(Debug)]
pub(crate) struct FieldKeys<K> {
    /// The keys.
    pub(crate) keys: Vec<FieldKey>,
    /// What was wrong with the other keys. Kept here rather than failing the parse, so that the
    /// derive still knows the field and can still generate its impl.
    pub(crate) errors: Vec<Error>,
    keyset: PhantomData<fn() -> K>,
}

impl<K: KeySet> FieldKeys<K> {
    fn parse_item(item: &NestedMeta) -> darling::Result<FieldKey> {
        let path = match item {
            NestedMeta::Meta(Meta::Path(path)) => path,
            NestedMeta::Meta(meta) => {
                let path = meta.path();
                let name = path_name(path);
                return Err(if K::slot(&name).is_some() || name == "skip" {
                    error(
                        meta,
                        format_args!("`{name}` takes no value; write `#[security({name})]`"),
                    )
                } else {
                    Self::unknown(path, &name)
                });
            }
            NestedMeta::NameValueInvalidExpr(nv) => {
                return Err(Self::unknown(&nv.path, &path_name(&nv.path)));
            }
            NestedMeta::Lit(lit) => {
                return Err(error(
                    lit,
                    format_args!(
                        "expected a key, found a literal; the keys on a field are {}",
                        K::listing()
                    ),
                ));
            }
        };
        let name = path_name(path);
        if name == "skip" {
            return Ok(FieldKey::Skip(path.span()));
        }
        match K::slot(&name) {
            Some(slot) => Ok(FieldKey::Slot {
                slot,
                span: path.span(),
            }),
            None => Err(Self::unknown(path, &name)),
        }
    }

    fn unknown(node: impl ToTokens, name: &str) -> Error {
        let hint = K::HINTS
            .iter()
            .find(|(word, _)| *word == name)
            .map(|(_, fix)| format!("; {fix}"))
            .unwrap_or_default();
        let suggestion = did_you_mean(name, K::keys())
            .filter(|_| hint.is_empty())
            .map(|fix| format!("; {fix}"))
            .unwrap_or_default();
        error(
            node,
            format_args!(
                "unknown key `{name}` in `#[security(..)]` on a field of `{}`{hint}; the keys are \
                 {}{suggestion}",
                K::DERIVE,
                K::listing()
            ),
        )
    }
}

impl<K: KeySet> FromMeta for FieldKeys<K> {
    fn from_list(items: &[NestedMeta]) -> darling::Result<Self> {
        let mut keys = Vec::new();
        let mut errors = Vec::new();
        for item in items {
            match Self::parse_item(item) {
                Ok(key) => keys.push(key),
                Err(error) => errors.push(error),
            }
        }
        Ok(FieldKeys {
            keys,
            errors,
            keyset: PhantomData,
        })
    }
}

/// The name of a one-segment path, or the whole path as written.
pub(crate) fn path_name(path: &syn::Path) -> String {
    match path.get_ident() {
        Some(ident) => ident.to_string(),
        None => path.to_token_stream().to_string().replace(' ', ""),
    }
}

/// The facts `#[sea_orm(..)]` gives about a field: its `Column` variant name
/// (`enum_name = ".."`) and whether it is a column at all (`ignore`).
#[derive(Debug, Default)]
pub(crate) struct SeaOrmField {
    /// `enum_name = ".."`.
    pub(crate) enum_name: Option<String>,
    /// `ignore`: not a column.
    pub(crate) ignore: bool,
}

impl SeaOrmField {
    /// Reads the forwarded `#[sea_orm(..)]` attributes. Anything that does not parse is left to
    /// `DeriveEntityModel` to report.
    pub(crate) fn from_attrs(attrs: &[Attribute]) -> Self {
        let mut out = SeaOrmField::default();
        for attr in attrs.iter().filter(|attr| attr.path().is_ident("sea_orm")) {
            let Ok(metas) = attr.parse_args_with(
                syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated,
            ) else {
                continue;
            };
            for meta in metas {
                match &meta {
                    Meta::Path(path) if path.is_ident("ignore") => out.ignore = true,
                    Meta::NameValue(nv) if nv.path.is_ident("enum_name") => {
                        if let syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(name),
                            ..
                        }) = &nv.value
                        {
                            out.enum_name = Some(name.value());
                        }
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

/// A named field of the model, as the derives see it.
#[derive(Debug)]
pub(crate) struct FieldInfo<K> {
    /// The field name.
    pub(crate) ident: Ident,
    /// The field type.
    pub(crate) ty: Type,
    /// The `#[security(..)]` keys.
    pub(crate) keys: FieldKeys<K>,
    /// What `#[sea_orm(..)]` says.
    pub(crate) sea_orm: SeaOrmField,
}

/// A field that fills a slot, ready for code generation.
#[derive(Clone, Debug)]
pub(crate) struct SlotField {
    /// The field name (also the `ActiveModel` field name).
    pub(crate) ident: Ident,
    /// The field type.
    pub(crate) ty: Type,
    /// The `Column` variant, spanned on the field name.
    pub(crate) column: Ident,
}

impl<K> FieldInfo<K> {
    /// The `Column` variant `DeriveEntityModel` generates for this field.
    fn column(&self) -> Ident {
        let name = match &self.sea_orm.enum_name {
            Some(name) => name.clone(),
            None => self.ident.unraw().to_string().to_upper_camel_case(),
        };
        // `DeriveEntityModel` appends `_` to the one keyword an upper camel name can be.
        let name = if name == "Self" { "Self_".into() } else { name };
        Ident::new(&name, self.ident.span())
    }
}

/// How a field came to fill a slot, for messages.
#[derive(Clone, Copy, Debug)]
enum Claim {
    /// By its name.
    Name,
    /// By `#[security(slot)]`.
    Key,
}

/// Which field fills each slot.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    by_slot: BTreeMap<Slot, SlotField>,
    /// Slots a field claimed in error (already reported): not "missing" as well.
    reported: BTreeSet<Slot>,
}

impl Slots {
    /// The field that fills `slot`, if any.
    pub(crate) fn get(&self, slot: Slot) -> Option<&SlotField> {
        self.by_slot.get(&slot)
    }

    /// Whether a field fills `slot`.
    pub(crate) fn has(&self, slot: Slot) -> bool {
        self.by_slot.contains_key(&slot)
    }

    /// Whether a field fills `slot`, or claimed it in a way already reported; a missing slot
    /// is reported only when this is false.
    pub(crate) fn accounted_for(&self, slot: Slot) -> bool {
        self.has(slot) || self.reported.contains(&slot)
    }

    /// Reports every required slot of the derive that no field fills, on the struct name.
    pub(crate) fn check_required<K: KeySet>(
        &self,
        ident: &Ident,
        errors: &mut darling::error::Accumulator,
    ) {
        for slot in K::SLOTS.iter().copied() {
            if slot.facts().required && !self.accounted_for(slot) {
                let name = slot.name();
                errors.push(error(
                    ident,
                    format_args!(
                        "no field for `{name}`; name a field `{name}` or mark one \
                         `#[security({name})]`"
                    ),
                ));
            }
        }
    }
}

/// Assigns the fields to slots: a field with a key fills that key's slot; a field without keys
/// fills the slot of its name, if any; a `skip` field fills none. Every conflict is reported, on
/// the second claim.
///
/// Also reports the errors the key parser kept.
pub(crate) fn assign_slots<K: KeySet>(
    fields: &mut [FieldInfo<K>],
    errors: &mut darling::error::Accumulator,
) -> Slots {
    let mut claims: BTreeMap<Slot, (usize, Claim)> = BTreeMap::new();
    let mut slots = Slots::default();
    for field in fields.iter_mut() {
        errors.extend(std::mem::take(&mut field.keys.errors));
    }
    for (index, field) in fields.iter().enumerate() {
        let mut keys = field.keys.keys.iter();
        let claim = match (keys.next(), keys.next()) {
            (None, _) => {
                let name = field.ident.unraw().to_string();
                K::SLOTS
                    .iter()
                    .find(|slot| slot.name() == name)
                    .map(|slot| (*slot, field.ident.span(), Claim::Name))
            }
            (Some(FieldKey::Skip(_)), None) => None,
            (Some(FieldKey::Slot { slot, span }), None) => Some((*slot, *span, Claim::Key)),
            (Some(first), Some(second)) => {
                errors.push(error_at(
                    key_span(second),
                    format_args!(
                        "field `{}` has both {} and {}; a field holds one role, so keep one key",
                        field.ident,
                        describe(first),
                        describe(second)
                    ),
                ));
                for key in &field.keys.keys {
                    if let FieldKey::Slot { slot, .. } = key {
                        slots.reported.insert(*slot);
                    }
                }
                None
            }
        };
        let Some((slot, span, how)) = claim else {
            continue;
        };
        let role = slot.name();
        if let Some((previous, previous_how)) = claims.get(&slot).copied() {
            let previous = &fields[previous].ident;
            let this = &field.ident;
            let message = match (how, previous_how) {
                (Claim::Key, Claim::Name) => format!(
                    "field `{this}` is marked `#[security({role})]`, but field `{previous}` already \
                     holds `{role}` by its name; remove the mark, or mark `{previous}` \
                     `#[security(skip)]`"
                ),
                (Claim::Name, _) => format!(
                    "field `{this}` holds `{role}` by its name, but field `{previous}` is already \
                     marked `#[security({role})]`; mark `{this}` `#[security(skip)]` or rename it"
                ),
                (Claim::Key, Claim::Key) => format!(
                    "field `{this}` is marked `#[security({role})]`, but field `{previous}` is \
                     already marked so; keep the mark on one field"
                ),
            };
            errors.push(error_at(span, message));
            continue;
        }
        if field.sea_orm.ignore {
            slots.reported.insert(slot);
            errors.push(error(
                &field.ident,
                format_args!(
                    "field `{}` holds `{role}` but is `#[sea_orm(ignore)]`, so it has no column; \
                     remove `ignore`{}",
                    field.ident,
                    match how {
                        Claim::Name => " or mark the field `#[security(skip)]`",
                        Claim::Key => " or map another field",
                    }
                ),
            ));
            continue;
        }
        claims.insert(slot, (index, how));
        slots.by_slot.insert(
            slot,
            SlotField {
                ident: field.ident.clone(),
                ty: field.ty.clone(),
                column: field.column(),
            },
        );
    }
    slots
}

fn key_span(key: &FieldKey) -> Span {
    match key {
        FieldKey::Slot { span, .. } | FieldKey::Skip(span) => *span,
    }
}

fn describe(key: &FieldKey) -> Described<'_> {
    Described(key)
}

struct Described<'a>(&'a FieldKey);

impl Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            FieldKey::Slot { slot, .. } => write!(f, "`{}`", slot.name()),
            FieldKey::Skip(_) => f.write_str("`skip`"),
        }
    }
}

/// Checks that a derive is applied to a struct with named fields and no generics, as a SeaORM
/// `Model` is.
pub(crate) fn check_shape(input: &syn::DeriveInput, derive: &str) -> darling::Result<()> {
    let goes_on = "goes on the `Model` struct of a SeaORM entity";
    match &input.data {
        syn::Data::Enum(data) => {
            return Err(error(
                data.enum_token,
                format_args!(
                    "`{derive}` {goes_on}, not on an enum; derive it on the struct that derives \
                     `DeriveEntityModel`"
                ),
            ));
        }
        syn::Data::Union(data) => {
            return Err(error(
                data.union_token,
                format_args!(
                    "`{derive}` {goes_on}, not on a union; derive it on the struct that derives \
                     `DeriveEntityModel`"
                ),
            ));
        }
        syn::Data::Struct(data) => match &data.fields {
            syn::Fields::Named(_) => {}
            syn::Fields::Unnamed(fields) => {
                return Err(error(
                    fields,
                    format_args!(
                        "`{derive}` {goes_on}, which has named fields; write the fields as \
                         `{{ pub id: i32, .. }}`"
                    ),
                ));
            }
            syn::Fields::Unit => {
                return Err(error(
                    &input.ident,
                    format_args!(
                        "`{derive}` {goes_on}, which has named fields; write the fields as \
                         `{{ pub id: i32, .. }}`"
                    ),
                ));
            }
        },
    }
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        return Err(error(
            &input.generics,
            format_args!("`{derive}` {goes_on}, which has no generic parameters; remove them"),
        ));
    }
    Ok(())
}

/// The first `#[security(..)]` attribute on the struct, for messages about what it lacks.
pub(crate) fn container_attr(input: &syn::DeriveInput) -> Option<&Attribute> {
    input
        .attrs
        .iter()
        .find(|attr| attr.path().is_ident("security"))
}

/// `<T as ::security::__private::Conversion>::get(&self.field)` for the slot's conversion,
/// spanned on the field type so that a wrong type is reported there; the `id` is cloned.
pub(crate) fn get(slot: Slot, field: &SlotField) -> TokenStream {
    let SlotField { ident, ty, .. } = field;
    if slot == Slot::Id {
        return quote_spanned!(ty.span()=> ::core::clone::Clone::clone(&self.#ident));
    }
    let conversion = slot.facts().kind.conversion();
    quote_spanned! {ty.span()=>
        <#ty as ::security::__private::#conversion>::get(&self.#ident)
    }
}

/// `model.field = Set(<T as ::security::__private::Conversion>::make(value));`, spanned on the
/// field type.
pub(crate) fn set(slot: Slot, field: &SlotField, value: TokenStream) -> TokenStream {
    let SlotField { ident, ty, .. } = field;
    let conversion = slot.facts().kind.conversion();
    quote_spanned! {ty.span()=>
        model.#ident = ::security::__private::sea_orm::ActiveValue::Set(
            <#ty as ::security::__private::#conversion>::make(#value)
        );
    }
}

/// `Column::Variant`, spanned on the field name; `unreachable!()` for a missing field (whose
/// error has been reported).
pub(crate) fn column(field: Option<&SlotField>) -> TokenStream {
    match field {
        Some(field) => {
            let variant = &field.column;
            quote!(Column::#variant)
        }
        None => quote!(::core::unreachable!()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Keys;
    impl KeySet for Keys {
        const DERIVE: &'static str = "#[derive(Test)]";
        const SLOTS: &'static [Slot] = &[Slot::Id, Slot::Email, Slot::Uniquifier];
    }

    fn keys(tokens: proc_macro2::TokenStream) -> (Vec<String>, Vec<Error>) {
        let items = NestedMeta::parse_meta_list(tokens).unwrap();
        let keys = FieldKeys::<Keys>::from_list(&items).unwrap();
        let names = keys
            .keys
            .iter()
            .map(|key| describe(key).to_string())
            .collect();
        (names, keys.errors)
    }

    #[test]
    fn field_keys_resolve_aliases_and_skip() {
        let (parsed, errors) = keys(quote::quote!(email, uniquifier, skip));
        assert_eq!(parsed, ["`email`", "`fs_uniquifier`", "`skip`"]);
        assert!(errors.is_empty());
    }

    #[test]
    fn field_keys_report_every_unknown_key() {
        let (parsed, errors) = keys(quote::quote!(emial, id = 1, "x", email));
        assert_eq!(parsed, ["`email`"]);
        assert_eq!(errors.len(), 3);
        let text = Error::multiple(errors).to_string();
        assert!(text.contains("unknown key `emial`"), "{text}");
        assert!(text.contains("did you mean `email`?"), "{text}");
        assert!(
            text.contains("`id`, `email`, `fs_uniquifier`, `uniquifier`, `skip`"),
            "{text}"
        );
        assert!(text.contains("`id` takes no value"), "{text}");
        assert!(text.contains("found a literal"), "{text}");
    }
}

#[cfg(test)]
mod column_tests {
    use heck::ToUpperCamelCase;

    /// The conversion SeaORM's `DeriveEntityModel` applies to field names (it uses `heck`).
    #[test]
    fn column_variants_are_seaorm_s() {
        for (name, camel) in [
            ("confirmed_at", "ConfirmedAt"),
            ("fs_uniquifier", "FsUniquifier"),
            ("_private", "Private"),
            ("login2fa", "Login2fa"),
            ("HTTPServer", "HttpServer"),
        ] {
            assert_eq!(name.to_upper_camel_case(), camel, "{name}");
        }
    }

    #[test]
    fn suggestions_are_for_near_misses_only() {
        let keys = ["id", "email", "password", "active"];
        assert_eq!(
            super::did_you_mean("pasword", keys).as_deref(),
            Some("did you mean `password`?")
        );
        assert_eq!(super::did_you_mean("colour", keys), None);
    }
}
