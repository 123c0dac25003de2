//! The guard attributes: `#[login_required]`, `#[roles_required(..)]`, `#[roles_accepted(..)]`,
//! `#[auth_token_required]`, `#[http_auth_required(..)]` and `#[auth_required(..)]`
//! (Flask-Security's `decorators.py`).
//!
//! Each adds one extractor argument of a `security::guard` type to the handler and leaves
//! everything else as written. Stacked guards run in the order they are written (attributes
//! expand outermost first, and each one inserts its argument after the guard arguments already
//! there), except that authentication guards (`login_required`, `auth_token_required`,
//! `http_auth_required`, `auth_required`) always run before the role guards: the roles checked
//! are those of the user the handler's mechanism authenticated.
//!
//! `#[auth_required(..)]` also takes `within = "<duration>"` and `grace = "<duration>"`
//! (Flask-Security 5.9's freshness), read at compile time into seconds.
//!
//! Parse (plain `syn`: the grammar is a list of string literals, and `key = "text"` for
//! `auth_required`) → validate (into [`Guard`]) → expand.

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, FnArg, ItemFn, Lit, LitStr, Pat, Token};

/// The prefix of the arguments the guards add.
const ARG_PREFIX: &str = "__security_guard_";

/// Which attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[login_required]`.
    LoginRequired,
    /// `#[roles_required("a", "b")]`.
    RolesRequired,
    /// `#[roles_accepted("a", "b")]`.
    RolesAccepted,
    /// `#[auth_token_required]`.
    AuthTokenRequired,
    /// `#[http_auth_required]`, `#[http_auth_required("realm")]`.
    HttpAuthRequired,
    /// `#[auth_required("session", "token", "basic", "api_key")]`.
    AuthRequired,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::LoginRequired => "login_required",
            Kind::RolesRequired => "roles_required",
            Kind::RolesAccepted => "roles_accepted",
            Kind::AuthTokenRequired => "auth_token_required",
            Kind::HttpAuthRequired => "http_auth_required",
            Kind::AuthRequired => "auth_required",
        }
    }
}

/// The mechanisms `#[auth_required(..)]` accepts: the string, the `Method` variant.
const METHODS: [(&str, &str); 4] = [
    ("session", "Session"),
    ("token", "Token"),
    ("basic", "Basic"),
    ("api_key", "ApiKey"),
];
const METHOD_LIST: &str = "`\"session\"`, `\"token\"`, `\"basic\"` and `\"api_key\"`";

/// The named arguments of `#[auth_required(..)]`.
const FRESHNESS_KEYS: [&str; 2] = ["within", "grace"];

/// The duration units of `within` and `grace`, with their length in seconds (singular or
/// plural, any case, as the configuration reads durations).
const UNITS: [(&str, u64); 5] = [
    ("seconds", 1),
    ("minutes", 60),
    ("hours", 3_600),
    ("days", 86_400),
    ("weeks", 604_800),
];

/// The longest duration accepted: Python's `timedelta.max` (999999999 days), as the
/// configuration.
const MAX_SECONDS: u64 = 999_999_999 * 86_400;

/// `within` and `grace` of `#[auth_required(..)]`, in seconds.
#[derive(Debug)]
struct Freshness {
    within: u64,
    /// `None`: `SECURITY_FRESHNESS_GRACE_PERIOD`.
    grace: Option<u64>,
}

/// A validated guard.
#[derive(Debug)]
enum Guard {
    LoginRequired,
    RolesRequired(Vec<LitStr>),
    RolesAccepted(Vec<LitStr>),
    AuthTokenRequired,
    HttpAuthRequired(Option<LitStr>),
    AuthRequired(Vec<&'static str>, Option<Freshness>),
}

/// Collects every error, to report them all at once.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn at(&mut self, node: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(node, message));
    }

    fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Expands a guard attribute. On any error the item is emitted unchanged, next to the errors,
/// so that the handler still exists and the user sees only the guard's errors.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let func = syn::parse2::<ItemFn>(item.clone());
    let guard = validate(kind, args, func.as_ref().ok());
    match (guard, func) {
        (Ok(guard), Ok(func)) => expand_fn(&guard, func),
        (Err(error), _) => {
            let error = error.into_compile_error();
            quote!(#error #item)
        }
        (Ok(_), Err(_)) => unreachable!("validation fails for an item that is not a fn"),
    }
}

/// Parses the arguments and checks them and the item.
fn validate(kind: Kind, args: TokenStream, func: Option<&ItemFn>) -> Result<Guard, syn::Error> {
    let mut errors = Errors::default();
    let name = kind.name();
    match func {
        None => errors.push(syn::Error::new(
            Span::call_site(),
            format_args!(
                "`#[{name}]` goes on an `async fn` handler; put it on the handler function"
            ),
        )),
        Some(func) => {
            if func.sig.asyncness.is_none() {
                errors.at(
                    func.sig.fn_token,
                    format_args!("`#[{name}]` goes on an `async fn` handler; add `async`"),
                );
            }
            if let Some(receiver) = func.sig.receiver() {
                errors.at(
                    receiver,
                    format_args!(
                        "`#[{name}]` goes on a free `async fn` handler, not a method; move the \
                         handler out of the `impl` block"
                    ),
                );
            }
        }
    }

    let args = match Punctuated::<Expr, Token![,]>::parse_terminated.parse2(args) {
        Ok(args) => args,
        Err(error) => {
            errors.push(syn::Error::new(
                error.span(),
                format_args!("{error}; the arguments of `#[{name}]` are string literals"),
            ));
            errors.finish()?;
            unreachable!("an error was pushed")
        }
    };
    let args: Vec<Expr> = args.into_iter().collect();

    let guard = match kind {
        Kind::LoginRequired | Kind::AuthTokenRequired => {
            if !args.is_empty() {
                let freshness = args.iter().any(|arg| {
                    named(arg).is_some_and(|(key, _)| FRESHNESS_KEYS.contains(&&*key.to_string()))
                });
                let fix = if freshness && kind == Kind::LoginRequired {
                    "; to require a recent login, write \
                     `#[auth_required(\"session\", within = \"5 minutes\")]`"
                } else if freshness {
                    "; to require a recent token, write \
                     `#[auth_required(\"token\", within = \"5 minutes\")]`"
                } else if kind == Kind::LoginRequired {
                    "; to require roles, write `#[roles_required(\"admin\")]`"
                } else {
                    ""
                };
                errors.push(spanned_args(
                    &args,
                    format_args!("`#[{name}]` takes no arguments; write `#[{name}]`{fix}"),
                ));
            }
            if kind == Kind::LoginRequired {
                Guard::LoginRequired
            } else {
                Guard::AuthTokenRequired
            }
        }
        Kind::RolesRequired | Kind::RolesAccepted => {
            if args.is_empty() {
                errors.push(syn::Error::new(
                    Span::call_site(),
                    format_args!(
                        "`#[{name}]` needs at least one role name, e.g. `#[{name}(\"admin\")]`"
                    ),
                ));
            }
            let mut seen = BTreeSet::new();
            let mut roles = Vec::new();
            for arg in &args {
                let Some(role) = string(arg) else {
                    errors.at(
                        arg,
                        format_args!("role names are strings: write `{}`", quoted(arg, "admin")),
                    );
                    continue;
                };
                if role.value().is_empty() {
                    errors.at(
                        &role,
                        "empty role name; write the name of a role, e.g. `\"admin\"`",
                    );
                } else if !seen.insert(role.value()) {
                    errors.at(
                        &role,
                        format_args!("role `{}` is listed twice; remove one", role.value()),
                    );
                } else {
                    roles.push(role);
                }
            }
            if kind == Kind::RolesRequired {
                Guard::RolesRequired(roles)
            } else {
                Guard::RolesAccepted(roles)
            }
        }
        Kind::HttpAuthRequired => {
            let mut realm = None;
            for (index, arg) in args.iter().enumerate() {
                if index > 0 {
                    errors.at(
                        arg,
                        "`#[http_auth_required]` takes one realm; remove the extra argument",
                    );
                    continue;
                }
                match string(arg) {
                    Some(text) if text.value().is_empty() => errors.at(
                        &text,
                        "empty realm; write a realm such as `\"Login Required\"`, or remove the \
                         argument to use `SECURITY_DEFAULT_HTTP_AUTH_REALM`",
                    ),
                    Some(text) => realm = Some(text),
                    None => errors.at(
                        arg,
                        "the realm is a string, e.g. `#[http_auth_required(\"Login Required\")]`; \
                         without an argument the realm is `SECURITY_DEFAULT_HTTP_AUTH_REALM`",
                    ),
                }
            }
            Guard::HttpAuthRequired(realm)
        }
        Kind::AuthRequired => {
            if args.iter().all(|arg| named(arg).is_some()) {
                errors.push(syn::Error::new(
                    Span::call_site(),
                    format_args!(
                        "`#[auth_required]` needs at least one method: {METHOD_LIST}, e.g. \
                         `#[auth_required(\"token\", \"session\")]`"
                    ),
                ));
            }
            let mut methods = Vec::new();
            let mut within: Option<(syn::Ident, Option<u64>)> = None;
            let mut grace: Option<(syn::Ident, Option<u64>)> = None;
            for arg in &args {
                if let Some((key, value)) = named(arg) {
                    let slot = match key.to_string().as_str() {
                        "within" => &mut within,
                        "grace" => &mut grace,
                        other => {
                            errors.at(
                                &key,
                                format_args!(
                                    "unknown argument `{other}`; `#[auth_required]` takes method \
                                     names and `within = \"..\"`, `grace = \"..\"`{}",
                                    crate::fields::did_you_mean(other, FRESHNESS_KEYS)
                                        .map(|fix| format!("; {fix}"))
                                        .unwrap_or_default()
                                ),
                            );
                            continue;
                        }
                    };
                    if slot.is_some() {
                        errors.at(&key, format_args!("`{key}` is given twice; remove one"));
                        continue;
                    }
                    let seconds = duration_value(&key, value, &mut errors);
                    *slot = Some((key, seconds));
                    continue;
                }
                let Some(text) = string(arg) else {
                    errors.at(
                        arg,
                        format_args!(
                            "methods are strings: write `{}`; the methods are {METHOD_LIST}",
                            quoted(arg, "token")
                        ),
                    );
                    continue;
                };
                match METHODS.iter().find(|(method, _)| *method == text.value()) {
                    None => errors.at(
                        &text,
                        format_args!(
                            "unknown authentication method `{}`; the methods are \
                             {METHOD_LIST}{}",
                            text.value(),
                            crate::fields::did_you_mean(
                                &text.value(),
                                METHODS.iter().map(|(method, _)| *method)
                            )
                            .map(|fix| format!("; {fix}"))
                            .unwrap_or_default()
                        ),
                    ),
                    Some((method, _)) if methods.contains(method) => errors.at(
                        &text,
                        format_args!("method `{method}` is listed twice; remove one"),
                    ),
                    Some((method, _)) => methods.push(*method),
                }
            }
            let freshness = match (within, grace) {
                (Some((_, Some(within))), grace) => Some(Freshness {
                    within,
                    grace: grace.and_then(|(_, seconds)| seconds),
                }),
                (None, Some((key, _))) => {
                    errors.at(
                        &key,
                        "`grace` needs `within`: add `within = \"5 minutes\"` (the most time \
                         since the user authenticated), or use the `Fresh` extractor for \
                         `SECURITY_FRESHNESS`",
                    );
                    None
                }
                _ => None,
            };
            Guard::AuthRequired(methods, freshness)
        }
    };
    errors.finish()?;
    Ok(guard)
}

/// A `key = value` argument: the key, when it is a plain name, and the value.
fn named(arg: &Expr) -> Option<(syn::Ident, &Expr)> {
    let Expr::Assign(assign) = arg else {
        return None;
    };
    let Expr::Path(path) = &*assign.left else {
        return None;
    };
    let key = path.path.get_ident()?.clone();
    Some((key, &assign.right))
}

/// The value of `within` or `grace`: a duration text, in seconds (`None` after an error).
fn duration_value(key: &syn::Ident, value: &Expr, errors: &mut Errors) -> Option<u64> {
    let units = "seconds, minutes, hours, days or weeks";
    let Some(text) = string(value) else {
        let example = match value {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Int(n) => format!("\"{} minutes\"", n.base10_digits()),
                _ => "\"5 minutes\"".to_owned(),
            },
            _ => "\"5 minutes\"".to_owned(),
        };
        errors.at(
            value,
            format_args!("`{key}` is a duration text: write `{key} = {example}` ({units})"),
        );
        return None;
    };
    match parse_duration(&text.value()) {
        Ok(seconds) => Some(seconds),
        Err(Problem::Negative) => {
            let fix = if key == "within" {
                "remove `within` to check no freshness (a negative `SECURITY_FRESHNESS` turns \
                 every check off)"
            } else {
                "write `grace = \"0 seconds\"` for no grace period"
            };
            errors.at(&text, format_args!("`{key}` cannot be negative; {fix}"));
            None
        }
        Err(Problem::TooLong) => {
            errors.at(
                &text,
                format_args!("`{}` is longer than 999999999 days", text.value()),
            );
            None
        }
        Err(Problem::Shape) => {
            errors.at(
                &text,
                format_args!(
                    "`{}` is not a duration; write `<integer> <unit>`, e.g. `\"5 minutes\"` \
                     ({units})",
                    text.value()
                ),
            );
            None
        }
    }
}

/// Why a duration text was refused.
#[derive(Debug, PartialEq, Eq)]
enum Problem {
    /// Not `<integer> <unit>` with a known unit.
    Shape,
    /// A leading `-`.
    Negative,
    /// Longer than [`MAX_SECONDS`].
    TooLong,
}

/// `"<integer> <unit>"` in seconds, as the configuration reads a duration.
fn parse_duration(text: &str) -> Result<u64, Problem> {
    if text.trim_start().starts_with('-') {
        return Err(Problem::Negative);
    }
    let mut parts = text.split_whitespace();
    let (Some(count), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Problem::Shape);
    };
    let count: u64 = count.parse().map_err(|_| Problem::Shape)?;
    let unit = unit.to_ascii_lowercase();
    let (_, length) = UNITS
        .iter()
        .find(|(name, _)| *name == unit || name.strip_suffix('s') == Some(unit.as_str()))
        .ok_or(Problem::Shape)?;
    count
        .checked_mul(*length)
        .filter(|seconds| *seconds <= MAX_SECONDS)
        .ok_or(Problem::TooLong)
}

/// The argument as a string literal.
fn string(arg: &Expr) -> Option<LitStr> {
    match arg {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(text) => Some(text.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// `"admin"` for a bare `admin`, else the example.
fn quoted(arg: &Expr, example: &str) -> String {
    let text = match arg {
        Expr::Path(path) => path.path.get_ident().map(|ident| ident.unraw().to_string()),
        _ => None,
    };
    format!("\"{}\"", text.as_deref().unwrap_or(example))
}

/// An error spanned on every argument.
fn spanned_args(args: &[Expr], message: impl std::fmt::Display) -> syn::Error {
    syn::Error::new_spanned(quote!(#(#args),*), message)
}

/// Adds the guard's argument (and, for lists, the type that carries them) to the handler.
fn expand_fn(guard: &Guard, mut func: ItemFn) -> TokenStream {
    let p = quote!(::security::__private);
    let guard_names: BTreeSet<String> = func.sig.inputs.iter().filter_map(guard_arg_name).collect();
    let n = (0usize..)
        .find(|n| !guard_names.contains(&format!("{ARG_PREFIX}{n}")))
        .unwrap_or(0);
    // Authentication guards go before every role guard, whatever the order of the attributes,
    // so that a role guard checks the user the handler's mechanism authenticated (the runtime
    // also refuses a request whose guards would name two users).
    let is_role = matches!(guard, Guard::RolesRequired(_) | Guard::RolesAccepted(_));
    let position = func
        .sig
        .inputs
        .iter()
        .take_while(|arg| guard_arg_name(arg).is_some() && (is_role || !is_role_arg(arg)))
        .count();
    let fn_name = func.sig.ident.unraw();
    let vis = &func.vis;
    let hidden = |what: &str| format_ident!("__security_{}_{}_{}", what, fn_name, n);
    let hidden_attrs = quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
    };

    let (extra, ty) = match guard {
        Guard::LoginRequired => (None, quote!(#p::LoginRequired)),
        Guard::AuthTokenRequired => (None, quote!(#p::AuthTokenRequired)),
        Guard::RolesRequired(roles) | Guard::RolesAccepted(roles) => {
            let list = hidden("roles");
            let extractor = if matches!(guard, Guard::RolesRequired(_)) {
                quote!(RolesRequired)
            } else {
                quote!(RolesAccepted)
            };
            (
                Some(quote! {
                    #hidden_attrs
                    #vis struct #list;
                    impl #p::RoleList for #list {
                        const ROLES: &'static [&'static str] = &[#(#roles),*];
                    }
                }),
                quote!(#p::#extractor<#list>),
            )
        }
        Guard::HttpAuthRequired(None) => (None, quote!(#p::HttpAuthRequired<#p::DefaultRealm>)),
        Guard::HttpAuthRequired(Some(realm)) => {
            let realm_ty = hidden("realm");
            (
                Some(quote! {
                    #hidden_attrs
                    #vis struct #realm_ty;
                    impl #p::Realm for #realm_ty {
                        const REALM: ::core::option::Option<&'static str> =
                            ::core::option::Option::Some(#realm);
                    }
                }),
                quote!(#p::HttpAuthRequired<#realm_ty>),
            )
        }
        Guard::AuthRequired(methods, freshness) => {
            let list = hidden("methods");
            let fresh = freshness.as_ref().map(|Freshness { within, grace }| {
                let grace = grace.map(|grace| quote!(.grace_seconds(#grace)));
                quote! {
                    const FRESHNESS: ::core::option::Option<#p::Freshness> =
                        ::core::option::Option::Some(#p::Freshness::within_seconds(#within)#grace);
                }
            });
            let variants = methods.iter().map(|method| {
                let variant = METHODS
                    .iter()
                    .find(|(name, _)| name == method)
                    .map(|(_, variant)| format_ident!("{}", variant))
                    .expect("validated method");
                quote!(#p::Method::#variant)
            });
            (
                Some(quote! {
                    #hidden_attrs
                    #vis struct #list;
                    impl #p::MethodList for #list {
                        const METHODS: &'static [#p::Method] = &[#(#variants),*];
                        #fresh
                    }
                }),
                quote!(#p::AuthRequired<#list>),
            )
        }
    };

    let arg_name = format_ident!("{ARG_PREFIX}{n}");
    let arg: FnArg = syn::parse_quote!(#arg_name: #ty);
    func.sig.inputs.insert(position, arg);
    quote! {
        #extra
        #func
    }
}

/// Whether an argument a guard added is a role guard's.
fn is_role_arg(arg: &FnArg) -> bool {
    let FnArg::Typed(typed) = arg else {
        return false;
    };
    let syn::Type::Path(path) = &*typed.ty else {
        return false;
    };
    path.path
        .segments
        .last()
        .is_some_and(|s| s.ident == "RolesRequired" || s.ident == "RolesAccepted")
}

/// The name of an argument a guard added, if it is one.
fn guard_arg_name(arg: &FnArg) -> Option<String> {
    let FnArg::Typed(typed) = arg else {
        return None;
    };
    let Pat::Ident(pat) = &*typed.pat else {
        return None;
    };
    let name = pat.ident.to_string();
    name.starts_with(ARG_PREFIX).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(kind: Kind, args: TokenStream, item: TokenStream) -> String {
        expand(kind, args, item).to_string()
    }

    #[test]
    fn guards_insert_after_the_guards_already_there_in_order() {
        // `#[auth_token_required] #[roles_required("admin")] async fn h(x: u8)`: the outer
        // attribute expands first and adds guard 0; the inner one then adds guard 1 after it.
        let item = quote!(
            async fn h(x: u8) {}
        );
        let once = expand(Kind::AuthTokenRequired, TokenStream::new(), item);
        let func: ItemFn = syn::parse2(once).unwrap();
        let twice = expand(Kind::RolesRequired, quote!("admin"), quote!(#func));
        let file: syn::File = syn::parse2(twice).unwrap();
        let func = file
            .items
            .iter()
            .find_map(|item| match item {
                syn::Item::Fn(func) => Some(func),
                _ => None,
            })
            .unwrap();
        let args: Vec<String> = func
            .sig
            .inputs
            .iter()
            .map(|arg| quote!(#arg).to_string().replace(' ', ""))
            .collect();
        assert_eq!(
            args,
            [
                "__security_guard_0:::security::__private::AuthTokenRequired",
                "__security_guard_1:::security::__private::RolesRequired<__security_roles_h_1>",
                "x:u8",
            ]
        );
    }

    /// The argument list after expanding `outer` then `inner` on `async fn h(x: u8)`.
    fn stacked(outer: (Kind, TokenStream), inner: (Kind, TokenStream)) -> Vec<String> {
        let item = quote!(
            async fn h(x: u8) {}
        );
        let once = expand(outer.0, outer.1, item);
        let file: syn::File = syn::parse2(once).unwrap();
        let func = file
            .items
            .iter()
            .find_map(|item| match item {
                syn::Item::Fn(func) => Some(func.clone()),
                _ => None,
            })
            .unwrap();
        let twice = expand(inner.0, inner.1, quote!(#func));
        let file: syn::File = syn::parse2(twice).unwrap();
        let func = file
            .items
            .iter()
            .find_map(|item| match item {
                syn::Item::Fn(func) => Some(func),
                _ => None,
            })
            .unwrap();
        func.sig
            .inputs
            .iter()
            .map(|arg| quote!(#arg).to_string().replace(' ', ""))
            .collect()
    }

    #[test]
    fn authentication_guards_run_before_role_guards_whatever_the_order() {
        // `#[roles_required("admin")] #[auth_token_required]`: the token guard still runs first,
        // so that the roles checked are the token's user's.
        let args = stacked(
            (Kind::RolesRequired, quote!("admin")),
            (Kind::AuthTokenRequired, TokenStream::new()),
        );
        assert_eq!(
            args,
            [
                "__security_guard_1:::security::__private::AuthTokenRequired",
                "__security_guard_0:::security::__private::RolesRequired<__security_roles_h_0>",
                "x:u8",
            ]
        );
        // Two authentication guards keep their written order, before the roles.
        let args = stacked(
            (Kind::LoginRequired, TokenStream::new()),
            (Kind::RolesAccepted, quote!("a")),
        );
        assert_eq!(
            args,
            [
                "__security_guard_0:::security::__private::LoginRequired",
                "__security_guard_1:::security::__private::RolesAccepted<__security_roles_h_1>",
                "x:u8",
            ]
        );
    }

    #[test]
    fn lists_become_hidden_types_with_the_fn_visibility() {
        let out = expand_str(
            Kind::AuthRequired,
            quote!("token", "session"),
            quote!(
                pub(crate) async fn api() {}
            ),
        );
        assert!(
            out.contains("pub (crate) struct __security_methods_api_0"),
            "{out}"
        );
        assert!(
            out.contains("& [:: security :: __private :: Method :: Token , :: security :: __private :: Method :: Session]"),
            "{out}"
        );
    }

    #[test]
    fn within_and_grace_become_seconds_in_the_method_list() {
        let out = expand_str(
            Kind::AuthRequired,
            quote!("session", within = "5 minutes", "token", grace = "1 hour"),
            quote!(
                async fn api() {}
            ),
        )
        .replace(' ', "");
        assert!(
            out.contains("constFRESHNESS:::core::option::Option<::security::__private::Freshness>=::core::option::Option::Some(::security::__private::Freshness::within_seconds(300u64).grace_seconds(3600u64));"),
            "{out}"
        );
        assert!(
            out.contains("Method::Session,::security::__private::Method::Token]"),
            "{out}"
        );
        let out = expand_str(
            Kind::AuthRequired,
            quote!("session", within = "0 seconds"),
            quote!(
                async fn api() {}
            ),
        )
        .replace(' ', "");
        assert!(out.contains("within_seconds(0u64))"), "{out}");
        assert!(
            !out.contains("grace_seconds"),
            "the configured grace: {out}"
        );
        let out = expand_str(
            Kind::AuthRequired,
            quote!("session"),
            quote!(
                async fn api() {}
            ),
        );
        assert!(!out.contains("FRESHNESS"), "no freshness asked: {out}");
    }

    #[test]
    fn durations_read_as_the_configuration_reads_them() {
        assert_eq!(parse_duration("5 minutes"), Ok(300));
        assert_eq!(parse_duration("1 Minute"), Ok(60));
        assert_eq!(parse_duration(" 2  hours "), Ok(7_200));
        assert_eq!(parse_duration("1 weeks"), Ok(604_800));
        assert_eq!(parse_duration("3 day"), Ok(259_200));
        assert_eq!(parse_duration("0 seconds"), Ok(0));
        assert_eq!(parse_duration("-1 minutes"), Err(Problem::Negative));
        for bad in [
            "5",
            "minutes",
            "5 mins",
            "5 minutes ago",
            "five minutes",
            "1.5 hours",
            "",
        ] {
            assert_eq!(parse_duration(bad), Err(Problem::Shape), "{bad:?}");
        }
        assert_eq!(
            parse_duration("999999999999999 weeks"),
            Err(Problem::TooLong)
        );
    }

    #[test]
    fn errors_keep_the_item_unchanged() {
        let item = quote!(
            async fn h() {}
        );
        let out = expand_str(
            Kind::RolesRequired,
            quote!(admin, "", "a", "a"),
            item.clone(),
        );
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
        assert!(out.ends_with(&item.to_string()), "{out}");
    }

    #[test]
    fn argument_mistakes_have_their_own_messages() {
        let cases = [
            (Kind::LoginRequired, quote!("admin"), "takes no arguments"),
            (
                Kind::RolesAccepted,
                quote!(),
                "needs at least one role name",
            ),
            (Kind::HttpAuthRequired, quote!(42), "the realm is a string"),
            (Kind::HttpAuthRequired, quote!("a", "b"), "takes one realm"),
            (
                Kind::AuthRequired,
                quote!("cookie"),
                "unknown authentication method `cookie`",
            ),
            (Kind::AuthRequired, quote!(), "needs at least one method"),
            (
                Kind::AuthRequired,
                quote!("session", within = "5 minuts"),
                "`5 minuts` is not a duration",
            ),
            (
                Kind::AuthRequired,
                quote!("session", witin = "5 minutes"),
                "unknown argument `witin`",
            ),
            (
                Kind::AuthRequired,
                quote!("session", within = "5 minutes", within = "1 hour"),
                "`within` is given twice",
            ),
            (
                Kind::AuthRequired,
                quote!("session", grace = "1 hour"),
                "`grace` needs `within`",
            ),
            (
                Kind::AuthRequired,
                quote!("session", within = 5),
                "`within` is a duration text",
            ),
            (
                Kind::AuthRequired,
                quote!("session", within = "-1 minutes"),
                "`within` cannot be negative",
            ),
            (
                Kind::AuthRequired,
                quote!(within = "5 minutes"),
                "needs at least one method",
            ),
            (
                Kind::LoginRequired,
                quote!(within = "5 minutes"),
                "to require a recent login",
            ),
        ];
        for (kind, args, message) in cases {
            let out = expand_str(
                kind,
                args,
                quote!(
                    async fn h() {}
                ),
            );
            assert!(out.contains(message), "{kind:?}: {out}");
        }
        let out = expand_str(
            Kind::LoginRequired,
            quote!(),
            quote!(
                fn h() {}
            ),
        );
        assert!(out.contains("add `async`"), "{out}");
        let out = expand_str(
            Kind::LoginRequired,
            quote!(),
            quote!(
                struct S;
            ),
        );
        assert!(out.contains("goes on an `async fn` handler"), "{out}");
    }
}
