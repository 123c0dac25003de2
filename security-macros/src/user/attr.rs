//! Parsing: darling receivers for the struct, its `#[security(..)]` keys and its fields. Every
//! mistake in an attribute is kept as an error beside what did parse, so that validation still
//! sees every field.

use darling::ast::{self, NestedMeta};
use darling::util::Ignored;
use darling::{Error, FromDeriveInput, FromField, FromMeta};
use proc_macro2::Span;
use syn::{Attribute, Expr, Ident, Lit, Meta, Path, Type};

use crate::fields::{FieldKeys, KeySet, did_you_mean, error, path_name};
use crate::slot::Slot;

pub(super) const DERIVE: &str = "#[derive(SecurityUser)]";

/// The field keys of `#[derive(SecurityUser)]`: Flask-Security's field names.
#[derive(Debug)]
pub(crate) struct UserKeys;

impl KeySet for UserKeys {
    const DERIVE: &'static str = DERIVE;
    const SLOTS: &'static [Slot] = Slot::USER;
    const HINTS: &'static [(&'static str, &'static str)] = &[
        (
            "confirmable",
            "mark the confirmation time `#[security(confirmed_at)]`",
        ),
        (
            "trackable",
            "mark each tracking field by its role, e.g. `#[security(last_login_at)]`",
        ),
        (
            "role",
            "`role = ..` goes in `#[security(..)]` on the struct",
        ),
        (
            "user_roles",
            "`user_roles = ..` goes in `#[security(..)]` on the struct",
        ),
    ];
}

/// The derive input, as darling reads it.
#[derive(FromDeriveInput)]
#[darling(attributes(security))]
pub(super) struct UserInput {
    pub(super) ident: Ident,
    pub(super) data: ast::Data<Ignored, UserFieldInput>,
    #[darling(flatten)]
    pub(super) opts: UserOpts,
}

/// One field, as darling reads it.
#[derive(FromField)]
#[darling(attributes(security), forward_attrs(sea_orm))]
pub(super) struct UserFieldInput {
    pub(super) ident: Option<Ident>,
    pub(super) ty: Type,
    pub(super) attrs: Vec<Attribute>,
    #[darling(flatten)]
    pub(super) keys: FieldKeys<UserKeys>,
}

/// The struct's `#[security(role = .., user_roles = .., user_roles_user = "..",
/// user_roles_role = "..")]`. Errors are kept, not returned, so that the fields are still read.
#[derive(Debug, Default)]
pub(super) struct UserOpts {
    pub(super) role: Option<Path>,
    pub(super) user_roles: Option<Path>,
    pub(super) user_roles_user: Option<(String, Span)>,
    pub(super) user_roles_role: Option<(String, Span)>,
    /// The keys written, valid or not: a key given with a bad value is not also "missing".
    pub(super) given: Vec<String>,
    pub(super) errors: Vec<Error>,
}

/// The keys on the struct.
const CONTAINER: [&str; 4] = ["role", "user_roles", "user_roles_user", "user_roles_role"];
const CONTAINER_KEYS: &str = "`role`, `user_roles`, `user_roles_user`, `user_roles_role`";

impl UserOpts {
    fn parse_item(&mut self, item: &NestedMeta) -> darling::Result<()> {
        let key = match item {
            NestedMeta::Meta(meta) => Some(meta.path()),
            NestedMeta::NameValueInvalidExpr(nv) => Some(&nv.path),
            NestedMeta::Lit(_) => None,
        };
        self.given.extend(key.map(path_name));
        let nv = match item {
            NestedMeta::Meta(Meta::NameValue(nv)) => nv,
            NestedMeta::Meta(meta) => {
                let name = path_name(meta.path());
                return Err(match name.as_str() {
                    "role" | "user_roles" => error(
                        meta,
                        format_args!("`{name}` needs a value: `{name} = {}`", example(&name)),
                    ),
                    "user_roles_user" | "user_roles_role" => error(
                        meta,
                        format_args!("`{name}` needs a value: `{name} = \"{}\"`", example(&name)),
                    ),
                    _ => unknown_container_key(meta.path(), &name),
                });
            }
            NestedMeta::NameValueInvalidExpr(nv) => {
                let name = path_name(&nv.path);
                return Err(match name.as_str() {
                    "role" | "user_roles" => error(
                        &nv.value,
                        format_args!(
                            "`{name}` takes the path of an entity, e.g. `{name} = {}`",
                            example(&name)
                        ),
                    ),
                    _ => unknown_container_key(&nv.path, &name),
                });
            }
            NestedMeta::Lit(lit) => {
                return Err(error(
                    lit,
                    format_args!(
                        "expected `key = value`, found a literal; the keys on the struct are \
                         {CONTAINER_KEYS}"
                    ),
                ));
            }
        };
        let name = path_name(&nv.path);
        match name.as_str() {
            "role" => set_once(&mut self.role, entity_path(&name, &nv.value)?, &nv.path),
            "user_roles" => set_once(
                &mut self.user_roles,
                entity_path(&name, &nv.value)?,
                &nv.path,
            ),
            "user_roles_user" => set_once(
                &mut self.user_roles_user,
                link_field(&name, &nv.value)?,
                &nv.path,
            ),
            "user_roles_role" => set_once(
                &mut self.user_roles_role,
                link_field(&name, &nv.value)?,
                &nv.path,
            ),
            _ => Err(unknown_container_key(&nv.path, &name)),
        }
    }
}

impl FromMeta for UserOpts {
    fn from_list(items: &[NestedMeta]) -> darling::Result<Self> {
        let mut opts = UserOpts::default();
        for item in items {
            if let Err(error) = opts.parse_item(item) {
                opts.errors.push(error);
            }
        }
        Ok(opts)
    }
}

pub(super) fn example(key: &str) -> &'static str {
    match key {
        "role" => "super::role::Entity",
        "user_roles" => "super::roles_users::Entity",
        "user_roles_user" => "user_id",
        _ => "role_id",
    }
}

fn unknown_container_key(path: &Path, name: &str) -> Error {
    let (hint, suggestion) = if UserKeys::slot(name).is_some() || name == "skip" {
        let hint = format!("; `{name}` is a field key: put `#[security({name})]` on the field");
        (hint, String::new())
    } else {
        let suggestion = did_you_mean(name, CONTAINER)
            .map(|fix| format!("; {fix}"))
            .unwrap_or_default();
        (String::new(), suggestion)
    };
    error(
        path,
        format_args!(
            "unknown key `{name}` in `#[security(..)]` on the struct{hint}; the keys on the \
             struct are {CONTAINER_KEYS}{suggestion}"
        ),
    )
}

fn set_once<T>(slot: &mut Option<T>, value: T, key: &Path) -> darling::Result<()> {
    if slot.is_some() {
        let name = path_name(key);
        return Err(error(
            key,
            format_args!("`{name}` is given twice; keep one"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// `role = super::role::Entity` (or the same path in a string). Whether it is an entity is left
/// to the compiler, but naming another item of the entity module (`Model`, the usual slip) is
/// caught here, with the path to write instead.
fn entity_path(name: &str, value: &Expr) -> darling::Result<Path> {
    let path = match value {
        Expr::Path(path) if path.qself.is_none() => Some(path.path.clone()),
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(text) => text.parse::<Path>().ok(),
            _ => None,
        },
        _ => None,
    };
    if let Some(path) = path {
        let last = path
            .segments
            .last()
            .map(|segment| segment.ident.to_string());
        let sibling = ["Model", "ActiveModel", "Column", "PrimaryKey", "Relation"];
        return match last {
            Some(last) if sibling.contains(&last.as_str()) => {
                let mut fixed = path.clone();
                if let Some(segment) = fixed.segments.last_mut() {
                    segment.ident = Ident::new("Entity", segment.ident.span());
                }
                let fixed = path_name(&fixed);
                let what = if name == "role" {
                    "the role entity"
                } else {
                    "the link entity"
                };
                Err(error(
                    path.segments.last().map(|segment| &segment.ident),
                    format_args!(
                        "`{name}` names {what}, not its `{last}`; write `{name} = {fixed}`"
                    ),
                ))
            }
            _ => Ok(path),
        };
    }
    Err(error(
        value,
        format_args!(
            "`{name}` takes the path of an entity, e.g. `{name} = {}`",
            example(name)
        ),
    ))
}

/// `user_roles_user = "user_id"` (or the bare name).
fn link_field(name: &str, value: &Expr) -> darling::Result<(String, Span)> {
    let field = match value {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(text) => text
                .parse::<Ident>()
                .ok()
                .map(|ident| (ident.to_string(), text.span())),
            _ => None,
        },
        Expr::Path(path) => path
            .path
            .get_ident()
            .map(|ident| (ident.to_string(), ident.span())),
        _ => None,
    };
    field.ok_or_else(|| {
        error(
            value,
            format_args!(
                "`{name}` takes the name of a field of the link model, e.g. `{name} = \"{}\"`",
                example(name)
            ),
        )
    })
}
