//! `#[derive(SecurityUser)]`: implements `SecurityUser` (and `Confirmable`, `Trackable` when the
//! fields are there) for a SeaORM user `Model`.
//!
//! Parse (darling receivers) → validate (roles of the fields, the container keys) → expand
//! (from the validated [`UserModel`] only).

use darling::ast::{self, NestedMeta};
use darling::util::Ignored;
use darling::{Error, FromDeriveInput, FromField, FromMeta};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, DeriveInput, Expr, Ident, Lit, Meta, Path, Type};

use crate::fields::{
    self, FieldInfo, FieldKeys, KeySet, RoleField, Roles, SeaOrmField, error, path_name,
    upper_camel,
};

const DERIVE: &str = "#[derive(SecurityUser)]";

/// The field keys of `#[derive(SecurityUser)]`: Flask-Security's field names.
#[derive(Debug)]
pub(crate) struct UserKeys;

impl KeySet for UserKeys {
    const DERIVE: &'static str = DERIVE;
    const ROLES: &'static [&'static str] = &[
        "id",
        "email",
        "password",
        "active",
        "confirmed_at",
        "last_login_at",
        "current_login_at",
        "last_login_ip",
        "current_login_ip",
        "login_count",
        "fs_uniquifier",
    ];
    const ALIASES: &'static [(&'static str, &'static str)] = &[("uniquifier", "fs_uniquifier")];
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

/// The roles every user model has.
const REQUIRED: [&str; 4] = ["id", "email", "password", "active"];
/// The login-tracking roles.
const TRACKING: [&str; 5] = [
    "last_login_at",
    "current_login_at",
    "last_login_ip",
    "current_login_ip",
    "login_count",
];

/// The derive input, as darling reads it.
#[derive(FromDeriveInput)]
#[darling(attributes(security))]
struct UserInput {
    ident: Ident,
    data: ast::Data<Ignored, UserFieldInput>,
    #[darling(flatten)]
    opts: UserOpts,
}

/// One field, as darling reads it.
#[derive(FromField)]
#[darling(attributes(security), forward_attrs(sea_orm))]
struct UserFieldInput {
    ident: Option<Ident>,
    ty: Type,
    attrs: Vec<Attribute>,
    #[darling(flatten)]
    keys: FieldKeys<UserKeys>,
}

/// The struct's `#[security(role = .., user_roles = .., user_roles_user = "..",
/// user_roles_role = "..")]`. Errors are kept, not returned, so that the fields are still read.
#[derive(Debug, Default)]
struct UserOpts {
    role: Option<Path>,
    user_roles: Option<Path>,
    user_roles_user: Option<(String, Span)>,
    user_roles_role: Option<(String, Span)>,
    /// The keys written, valid or not: a key given with a bad value is not also "missing".
    given: Vec<String>,
    errors: Vec<Error>,
}

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

fn example(key: &str) -> &'static str {
    match key {
        "role" => "super::role::Entity",
        "user_roles" => "super::roles_users::Entity",
        "user_roles_user" => "user_id",
        _ => "role_id",
    }
}

fn unknown_container_key(path: &Path, name: &str) -> Error {
    let hint = if UserKeys::role(name).is_some() || name == "skip" {
        format!("; `{name}` is a field key: put `#[security({name})]` on the field")
    } else {
        String::new()
    };
    error(
        path,
        format_args!(
            "unknown key `{name}` in `#[security(..)]` on the struct{hint}; the keys on the \
             struct are {CONTAINER_KEYS}"
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

/// A validated user model: everything the expansion needs, and nothing it must check.
struct UserModel {
    ident: Ident,
    role: Path,
    user_roles: Path,
    link_user: TokenStream,
    link_role: TokenStream,
    roles: Roles,
}

/// Expands `#[derive(SecurityUser)]`.
pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let (model, errors) = validate(input);
    let errors = errors.map(Error::write_errors);
    let model = model.map(|model| model.expand());
    quote! {
        #errors
        #model
    }
}

/// Parses and validates; returns the model when an impl can be generated (possibly with stubs
/// for missing fields, whose errors are returned as well), and every error found.
fn validate(input: &DeriveInput) -> (Option<UserModel>, Option<Error>) {
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
    let roles = fields::assign_roles(&mut infos, &mut errors);
    for role in REQUIRED {
        if !roles.accounted_for(role) {
            errors.push(error(
                &ident,
                format_args!(
                    "no field for `{role}`; name a field `{role}` or mark one `#[security({role})]`"
                ),
            ));
        }
    }

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

    let model = match (role, user_roles) {
        (Some(role), Some(user_roles)) => {
            let default_span = user_roles.span();
            let link_user = opts
                .user_roles_user
                .unwrap_or_else(|| ("user_id".into(), default_span));
            let link_role = opts
                .user_roles_role
                .unwrap_or_else(|| ("role_id".into(), default_span));
            Some(UserModel {
                link_user: link_column(&user_roles, &link_user),
                link_role: link_column(&user_roles, &link_role),
                ident,
                role,
                user_roles,
                roles,
            })
        }
        _ => None,
    };
    (model, errors.finish().err())
}

/// The link entity's column for a field: `super::roles_users::Column::UserId` for
/// `super::roles_users::Entity`; through `EntityTrait` for an entity named otherwise.
fn link_column(entity: &Path, (field, span): &(String, Span)) -> TokenStream {
    let variant = Ident::new(&upper_camel(field), *span);
    let mut path = entity.clone();
    match path.segments.last_mut() {
        Some(last) if last.ident == "Entity" && last.arguments.is_empty() => {
            last.ident = Ident::new("Column", last.ident.span());
            quote!(#path::#variant)
        }
        _ => quote_spanned! {entity.span()=>
            <#entity as ::security::__private::sea_orm::EntityTrait>::Column::#variant
        },
    }
}

/// `<T as ::security::__private::Trait>::get(&self.field)`, spanned on the field type.
pub(crate) fn get(field: &RoleField, conversion: &str) -> TokenStream {
    let RoleField { ident, ty, .. } = field;
    let conversion = Ident::new(conversion, Span::call_site());
    quote_spanned! {ty.span()=>
        <#ty as ::security::__private::#conversion>::get(&self.#ident)
    }
}

/// `model.field = Set(<T as ::security::__private::Trait>::make(value));`, spanned on the field
/// type.
pub(crate) fn set(field: &RoleField, conversion: &str, value: TokenStream) -> TokenStream {
    let RoleField { ident, ty, .. } = field;
    let conversion = Ident::new(conversion, Span::call_site());
    quote_spanned! {ty.span()=>
        model.#ident = ::security::__private::sea_orm::ActiveValue::Set(
            <#ty as ::security::__private::#conversion>::make(#value)
        );
    }
}

/// `Column::Variant`, spanned on the field name.
pub(crate) fn column(field: Option<&RoleField>) -> TokenStream {
    match field {
        Some(field) => {
            let variant = &field.column;
            quote!(Column::#variant)
        }
        None => quote!(::core::unreachable!()),
    }
}

impl UserModel {
    fn expand(&self) -> TokenStream {
        let Self {
            ident,
            role,
            user_roles,
            link_user,
            link_role,
            roles,
        } = self;
        let p = quote!(::security::__private);
        let id = roles.get("id");
        let email = roles.get("email");
        let password = roles.get("password");
        let active = roles.get("active");
        let confirmed_at = roles.get("confirmed_at");
        let uniquifier = roles.get("fs_uniquifier");

        // A missing required field has been reported; its items become stubs so that the user
        // sees that one error, not a cascade.
        let id_ty = match id {
            Some(field) => {
                let ty = &field.ty;
                quote_spanned!(ty.span()=> #ty)
            }
            None => quote!(i32),
        };
        let id_get = match id {
            Some(field) => {
                let RoleField { ident, ty, .. } = field;
                quote_spanned!(ty.span()=> ::core::clone::Clone::clone(&self.#ident))
            }
            None => quote!(::core::unreachable!()),
        };
        let email_get = email.map_or_else(unreachable, |f| get(f, "EmailField"));
        let password_get = password.map_or_else(unreachable, |f| get(f, "TextField"));
        let active_get = active.map_or_else(unreachable, |f| get(f, "FlagField"));
        let setter = |field: Option<&RoleField>, conversion: &str, value: TokenStream| match field {
            Some(field) => set(field, conversion, value),
            None => quote!(let _ = (model, #value);),
        };
        let email_set = setter(email, "EmailField", quote!(email));
        let password_set = setter(password, "TextField", quote!(hash));
        let active_set = setter(active, "FlagField", quote!(active));
        let (id_column, email_column, password_column, active_column) =
            (column(id), column(email), column(password), column(active));

        let fields_const = {
            let has = |role: &str| roles.has(role);
            let (c, lla, cla, lli, cli, lc, u) = (
                has("confirmed_at"),
                has("last_login_at"),
                has("current_login_at"),
                has("last_login_ip"),
                has("current_login_ip"),
                has("login_count"),
                has("fs_uniquifier"),
            );
            quote! {
                const FIELDS: #p::UserFields = #p::UserFields {
                    confirmed_at: #c,
                    last_login_at: #lla,
                    current_login_at: #cla,
                    last_login_ip: #lli,
                    current_login_ip: #cli,
                    login_count: #lc,
                    uniquifier: #u,
                };
            }
        };

        let datetime = quote!(#p::chrono::DateTime<#p::chrono::Utc>);
        let confirmed = confirmed_at.map(|field| {
            let get = get(field, "TimestampField");
            let set = set(field, "TimestampField", quote!(at));
            quote! {
                fn confirmed_at(&self) -> ::core::option::Option<#datetime> {
                    #get
                }
                fn set_confirmed_at(
                    model: &mut Self::ActiveModel,
                    at: ::core::option::Option<#datetime>,
                ) {
                    #set
                }
            }
        });

        let tracking = TRACKING.map(|role| roles.get(role));
        let tracking_methods = tracking.iter().any(Option::is_some).then(|| {
            let conversions = [
                "TimestampField",
                "TimestampField",
                "TextField",
                "TextField",
                "CountField",
            ];
            let names = TRACKING.map(|role| Ident::new(role, Span::call_site()));
            let mut reads = Vec::new();
            let mut writes = Vec::new();
            for ((field, conversion), name) in tracking.iter().zip(conversions).zip(&names) {
                match field {
                    Some(field) => {
                        let read = get(field, conversion);
                        let value = if conversion == "TextField" {
                            reads.push(quote! {
                                ::core::option::Option::map(#read, ::std::borrow::ToOwned::to_owned)
                            });
                            quote!(::core::clone::Clone::clone(&tracking.#name))
                        } else {
                            reads.push(read);
                            quote!(tracking.#name)
                        };
                        writes.push(set(field, conversion, value));
                    }
                    None => reads.push(quote!(::core::option::Option::None)),
                }
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
        });

        let uniquifier_methods = uniquifier.map(|field| {
            let get = get(field, "TextField");
            let set = set(
                field,
                "TextField",
                quote!(::core::option::Option::Some(value)),
            );
            quote! {
                fn uniquifier(&self) -> ::core::option::Option<&str> {
                    #get
                }
                fn set_uniquifier(model: &mut Self::ActiveModel, value: ::std::string::String) {
                    #set
                }
            }
        });

        // `column(Field::..)` for the optional fields the model has.
        let optional = [
            ("confirmed_at", "ConfirmedAt"),
            ("last_login_at", "LastLoginAt"),
            ("current_login_at", "CurrentLoginAt"),
            ("last_login_ip", "LastLoginIp"),
            ("current_login_ip", "CurrentLoginIp"),
            ("login_count", "LoginCount"),
            ("fs_uniquifier", "Uniquifier"),
        ];
        let arms: Vec<TokenStream> = optional
            .iter()
            .filter_map(|(role, variant)| {
                let field = roles.get(role)?;
                let variant = Ident::new(variant, Span::call_site());
                let column = column(Some(field));
                Some(quote! {
                    #p::Field::#variant => ::core::option::Option::Some(#column),
                })
            })
            .collect();
        let column_method = (!arms.is_empty()).then(|| {
            quote! {
                fn column(field: #p::Field) -> ::core::option::Option<Self::Column> {
                    #[allow(unreachable_patterns)]
                    match field {
                        #(#arms)*
                        _ => ::core::option::Option::None,
                    }
                }
            }
        });

        let confirmable = confirmed_at.map(|_| {
            quote! {
                #[automatically_derived]
                impl #p::Confirmable for #ident {}
            }
        });
        let trackable = tracking.iter().all(Option::is_some).then(|| {
            quote! {
                #[automatically_derived]
                impl #p::Trackable for #ident {}
            }
        });

        // Spanned from the first to the last token of the path, so that an error (the path is
        // not an entity, its model is not a `SecurityRole`) underlines all of it, once.
        let (first, last) = path_ends(role);
        let role_model = {
            let open = quote_spanned!(first=> <);
            let close =
                quote_spanned!(last=> as ::security::__private::sea_orm::EntityTrait>::Model);
            quote!(#open #role #close)
        };
        let user_roles_ty = quote_spanned!(user_roles.span()=> #user_roles);
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

                fn id(&self) -> Self::Id {
                    #id_get
                }
                fn email(&self) -> &str {
                    #email_get
                }
                fn password(&self) -> ::core::option::Option<&str> {
                    #password_get
                }
                fn active(&self) -> bool {
                    #active_get
                }
                #confirmed
                #tracking_methods
                #uniquifier_methods

                fn id_column() -> Self::Column {
                    #id_column
                }
                fn email_column() -> Self::Column {
                    #email_column
                }
                fn password_column() -> Self::Column {
                    #password_column
                }
                fn active_column() -> Self::Column {
                    #active_column
                }
                #column_method
                fn link_user_column() -> <Self::UserRoles as #p::sea_orm::EntityTrait>::Column {
                    #link_user
                }
                fn link_role_column() -> <Self::UserRoles as #p::sea_orm::EntityTrait>::Column {
                    #link_role
                }

                fn set_email(model: &mut Self::ActiveModel, email: ::std::string::String) {
                    #email_set
                }
                fn set_password(
                    model: &mut Self::ActiveModel,
                    hash: ::core::option::Option<::std::string::String>,
                ) {
                    #password_set
                }
                fn set_active(model: &mut Self::ActiveModel, active: bool) {
                    #active_set
                }
            }

            #confirmable
            #trackable

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

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

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
        for role in [
            "id",
            "email",
            "password",
            "active",
            "confirmed_at",
            "login_count",
        ] {
            assert_eq!(model.roles.get(role).unwrap().ident, role);
        }
        assert!(!model.roles.has("last_login_at"));
        assert_eq!(
            model.roles.get("confirmed_at").unwrap().column,
            "ConfirmedAt"
        );
        assert_eq!(
            model.link_user.to_string().replace(' ', ""),
            "super::roles_users::Column::UserId"
        );
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
        assert_eq!(model.roles.get("active").unwrap().ident, "enabled");
        assert_eq!(model.roles.get("fs_uniquifier").unwrap().column, "Salt");
        assert_eq!(model.roles.get("password").unwrap().column, "PwHash");
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
        let messages = messages(&input);
        assert_eq!(messages.len(), 1);
        assert!(messages[0].starts_with("missing the role and link entities"));
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
