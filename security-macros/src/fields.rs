//! What the two derives share: the `#[security(..)]` keys on a field, the SeaORM facts the
//! derives need about a field (its `Column` variant), and the assignment of fields to roles
//! (by name, or by an explicit key).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Display};
use std::marker::PhantomData;

use darling::ast::NestedMeta;
use darling::{Error, FromMeta};
use proc_macro2::Span;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, Meta, Type};

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
    /// The roles a field can take, in the order they are listed in messages. The role names are
    /// the conventional field names.
    const ROLES: &'static [&'static str];
    /// Other spellings of a role: `(alias, role)`.
    const ALIASES: &'static [(&'static str, &'static str)] = &[];
    /// Words that are not keys but that a user may plausibly write, with the fix: `(word, fix)`.
    const HINTS: &'static [(&'static str, &'static str)] = &[];

    /// The role a key names (after aliases), or `None` for an unknown key.
    fn role(key: &str) -> Option<&'static str> {
        Self::ROLES
            .iter()
            .copied()
            .find(|role| *role == key)
            .or_else(|| {
                Self::ALIASES
                    .iter()
                    .find(|(alias, _)| *alias == key)
                    .map(|(_, role)| *role)
            })
    }

    /// Every key, for messages: `` `id`, `email`, …, `skip` ``.
    fn listing() -> String {
        let mut keys: Vec<&str> = Self::ROLES.to_vec();
        keys.extend(Self::ALIASES.iter().map(|(alias, _)| *alias));
        keys.push("skip");
        keys.iter()
            .map(|key| format!("`{key}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One key written in a field's `#[security(..)]`.
#[derive(Clone, Debug)]
pub(crate) enum FieldKey {
    /// `#[security(email)]`: the field holds this role.
    Role {
        /// The role (aliases resolved).
        role: &'static str,
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
                return Err(if K::role(&name).is_some() || name == "skip" {
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
        match K::role(&name) {
            Some(role) => Ok(FieldKey::Role {
                role,
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
        error(
            node,
            format_args!(
                "unknown key `{name}` in `#[security(..)]` on a field of `{}`{hint}; the keys are {}",
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

/// A field that holds a role, ready for code generation.
#[derive(Clone, Debug)]
pub(crate) struct RoleField {
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
            None => upper_camel(&self.ident.unraw().to_string()),
        };
        // `DeriveEntityModel` appends `_` to the one keyword an upper camel name can be.
        let name = if name == "Self" { "Self_".into() } else { name };
        Ident::new(&name, self.ident.span())
    }
}

/// How a field came to hold a role, for messages.
#[derive(Clone, Copy, Debug)]
enum Claim {
    /// By its name.
    Name,
    /// By `#[security(role)]`.
    Key,
}

/// Which field holds each role.
#[derive(Debug, Default)]
pub(crate) struct Roles {
    by_role: BTreeMap<&'static str, RoleField>,
    /// Roles a field claimed in error (already reported): not "missing" as well.
    reported: BTreeSet<&'static str>,
}

impl Roles {
    /// The field that holds `role`, if any.
    pub(crate) fn get(&self, role: &str) -> Option<&RoleField> {
        self.by_role.get(role)
    }

    /// Whether a field holds `role`.
    pub(crate) fn has(&self, role: &str) -> bool {
        self.by_role.contains_key(role)
    }

    /// Whether a field holds `role`, or claimed it in a way already reported; a missing role
    /// is reported only when this is false.
    pub(crate) fn accounted_for(&self, role: &str) -> bool {
        self.has(role) || self.reported.contains(role)
    }
}

/// Assigns the fields to roles: a field with a key holds that key's role; a field without keys
/// holds the role of its name, if any; a `skip` field holds none. Every conflict is reported, on
/// the second claim.
///
/// Also reports the errors the key parser kept.
pub(crate) fn assign_roles<K: KeySet>(
    fields: &mut [FieldInfo<K>],
    errors: &mut darling::error::Accumulator,
) -> Roles {
    let mut claims: BTreeMap<&'static str, (usize, Claim)> = BTreeMap::new();
    let mut roles = Roles::default();
    for field in fields.iter_mut() {
        errors.extend(std::mem::take(&mut field.keys.errors));
    }
    for (index, field) in fields.iter().enumerate() {
        let mut keys = field.keys.keys.iter();
        let claim = match (keys.next(), keys.next()) {
            (None, _) => {
                let name = field.ident.unraw().to_string();
                K::ROLES
                    .iter()
                    .find(|role| **role == name)
                    .map(|role| (*role, field.ident.span(), Claim::Name))
            }
            (Some(FieldKey::Skip(_)), None) => None,
            (Some(FieldKey::Role { role, span }), None) => Some((*role, *span, Claim::Key)),
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
                    if let FieldKey::Role { role, .. } = key {
                        roles.reported.insert(role);
                    }
                }
                None
            }
        };
        let Some((role, span, how)) = claim else {
            continue;
        };
        if let Some((previous, previous_how)) = claims.get(role).copied() {
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
            roles.reported.insert(role);
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
        claims.insert(role, (index, how));
        roles.by_role.insert(
            role,
            RoleField {
                ident: field.ident.clone(),
                ty: field.ty.clone(),
                column: field.column(),
            },
        );
    }
    roles
}

fn key_span(key: &FieldKey) -> Span {
    match key {
        FieldKey::Role { span, .. } | FieldKey::Skip(span) => *span,
    }
}

fn describe(key: &FieldKey) -> Described<'_> {
    Described(key)
}

struct Described<'a>(&'a FieldKey);

impl Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            FieldKey::Role { role, .. } => write!(f, "`{role}`"),
            FieldKey::Skip(_) => f.write_str("`skip`"),
        }
    }
}

/// `UpperCamelCase` of an identifier, as `heck` (and so `DeriveEntityModel`) computes it.
pub(crate) fn upper_camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in words(name) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.extend(chars.flat_map(char::to_lowercase));
        }
    }
    out
}

/// The words of an identifier, split as `heck` splits them: at every non-alphanumeric
/// character, between a lowercase and an uppercase letter, and before the last capital of a run
/// of capitals that a lowercase letter follows (`HTTPServer` → `HTTP`, `Server`).
fn words(name: &str) -> Vec<&str> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Boundary,
        Lower,
        Upper,
    }
    let mut out = Vec::new();
    for word in name.split(|c: char| !c.is_alphanumeric()) {
        let mut chars = word.char_indices().peekable();
        let mut start = 0;
        let mut mode = Mode::Boundary;
        while let Some((i, c)) = chars.next() {
            let Some(&(next_i, next)) = chars.peek() else {
                out.push(&word[start..]);
                break;
            };
            let next_mode = if c.is_lowercase() {
                Mode::Lower
            } else if c.is_uppercase() {
                Mode::Upper
            } else {
                mode
            };
            if next_mode == Mode::Lower && next.is_uppercase() {
                out.push(&word[start..next_i]);
                start = next_i;
                mode = Mode::Boundary;
            } else if mode == Mode::Upper && c.is_uppercase() && next.is_lowercase() {
                out.push(&word[start..i]);
                start = i;
                mode = Mode::Boundary;
            } else {
                mode = next_mode;
            }
        }
    }
    out.retain(|word| !word.is_empty());
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_camel_matches_heck() {
        for (name, camel) in [
            ("id", "Id"),
            ("email", "Email"),
            ("confirmed_at", "ConfirmedAt"),
            ("fs_uniquifier", "FsUniquifier"),
            ("last_login_ip", "LastLoginIp"),
            ("user_id", "UserId"),
            ("_private", "Private"),
            ("trailing_", "Trailing"),
            ("double__under", "DoubleUnder"),
            ("login2fa", "Login2fa"),
            ("ipV4", "IpV4"),
            ("HTTPServer", "HttpServer"),
            ("type", "Type"),
        ] {
            assert_eq!(upper_camel(name), camel, "{name}");
        }
    }

    struct Keys;
    impl KeySet for Keys {
        const DERIVE: &'static str = "#[derive(Test)]";
        const ROLES: &'static [&'static str] = &["id", "email"];
        const ALIASES: &'static [(&'static str, &'static str)] = &[("mail", "email")];
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
        let (parsed, errors) = keys(quote::quote!(email, mail, skip));
        assert_eq!(parsed, ["`email`", "`email`", "`skip`"]);
        assert!(errors.is_empty());
    }

    #[test]
    fn field_keys_report_every_unknown_key() {
        let (parsed, errors) = keys(quote::quote!(emial, id = 1, "x", email));
        assert_eq!(parsed, ["`email`"]);
        assert_eq!(errors.len(), 3);
        let text = Error::multiple(errors).to_string();
        assert!(text.contains("unknown key `emial`"), "{text}");
        assert!(text.contains("`id`, `email`, `mail`, `skip`"), "{text}");
        assert!(text.contains("`id` takes no value"), "{text}");
        assert!(text.contains("found a literal"), "{text}");
    }
}
