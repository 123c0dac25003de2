//! The route table: every route of the security router, with what its OpenAPI description
//! needs. The router is built by [`Routes::add`], which registers the handler and records the
//! entry in the same call, so that the router and the document
//! ([`Security::openapi`](crate::Security::openapi), feature `openapi`) come from one list and
//! cannot drift.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use http::Method;

use crate::store::model::SecurityUser;
use crate::web::runtime::Runtime;

/// What a route answers, which decides the answers its description lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "openapi"), allow(dead_code))]
pub(crate) enum Kind {
    /// A page (`GET`): HTML, or a redirect (anonymous-only and login-required pages).
    Page,
    /// A form post, in JSON or form-encoded: the JSON envelope or a page/redirect.
    Form,
    /// A mailed link (`GET <url>/{token}`): a redirect or a page.
    Link,
    /// A JSON view that also has a page (`GET` of the API keys: JSON when asked for).
    Listing,
    /// The OpenAPI document itself (`SECURITY_OPENAPI_URL`).
    Document,
    /// A static file of the default pages (the stylesheet): `text/css`, 304 to a matching
    /// `If-None-Match`.
    Asset,
}

/// The type of a field of a form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "openapi"), allow(dead_code))]
pub(crate) enum FieldType {
    /// Text (an e-mail address, a token, a name).
    Text,
    /// A password (`format: password`).
    Password,
    /// A checkbox: a JSON boolean, or a form value (checked unless empty or `false`).
    Flag,
}

/// One field a view reads from a posted form or JSON object.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "openapi"), allow(dead_code))]
pub(crate) struct Field {
    /// The field's name, as the view reads it.
    pub name: String,
    /// Its type.
    pub ty: FieldType,
    /// Whether the view refuses the form without it (a 400 with the field's error).
    pub required: bool,
    /// What it is.
    pub description: String,
}

impl Field {
    /// A field.
    pub(crate) fn new(name: &str, ty: FieldType, required: bool, description: &str) -> Self {
        Field {
            name: name.to_owned(),
            ty,
            required,
            description: description.to_owned(),
        }
    }

    /// The required `email` of the views that mail a link to an account.
    pub(crate) fn account_email() -> Self {
        Field::new(
            "email",
            FieldType::Text,
            true,
            "The account's e-mail address.",
        )
    }

    /// The optional `next` of the views that redirect after success.
    pub(crate) fn next() -> Self {
        Field::new(
            "next",
            FieldType::Text,
            false,
            "Where to go after success (a path of this site).",
        )
    }
}

/// What the description of a route says.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "openapi"), allow(dead_code))]
pub(crate) struct Op {
    /// The operation's id (unique in the router).
    pub id: &'static str,
    /// One line.
    pub summary: &'static str,
    /// The flow (the document's tag).
    pub tag: &'static str,
    /// What it answers.
    pub kind: Kind,
    /// The posted fields (empty for a `GET`).
    pub fields: Vec<Field>,
    /// The path parameter (`token`, `id`), if the path has one.
    pub param: Option<&'static str>,
    /// It needs an authenticated user (the session, or an authentication token).
    pub authenticated: bool,
    /// It is counted against the `login` rate limits (a 429 with `Retry-After`).
    pub throttled: bool,
    /// It may queue a mail (a 503 when the mail cannot be queued).
    pub mails: bool,
}

impl Op {
    /// An operation of `kind`; the rest is filled in by the builder methods.
    pub(crate) fn new(
        id: &'static str,
        tag: &'static str,
        kind: Kind,
        summary: &'static str,
    ) -> Self {
        Op {
            id,
            summary,
            tag,
            kind,
            fields: Vec::new(),
            param: None,
            authenticated: false,
            throttled: false,
            mails: false,
        }
    }

    /// The posted fields.
    pub(crate) fn fields(mut self, fields: Vec<Field>) -> Self {
        self.fields = fields;
        self
    }

    /// The path parameter.
    pub(crate) fn param(mut self, name: &'static str) -> Self {
        self.param = Some(name);
        self
    }

    /// Needs an authenticated user.
    pub(crate) fn authenticated(mut self) -> Self {
        self.authenticated = true;
        self
    }

    /// Counted against the rate limits.
    pub(crate) fn throttled(mut self) -> Self {
        self.throttled = true;
        self
    }

    /// May queue a mail.
    pub(crate) fn mails(mut self) -> Self {
        self.mails = true;
        self
    }
}

/// One route: a method at a path, and its description.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "openapi"), allow(dead_code))]
pub(crate) struct Entry {
    /// The method.
    pub method: Method,
    /// The full path (URL prefix included), in axum's and OpenAPI's `{param}` syntax.
    pub path: String,
    /// The description.
    pub op: Op,
}

/// The router being built, and the table of what was registered on it.
pub(crate) struct Routes<U: SecurityUser> {
    router: Router<Runtime<U>>,
    entries: Vec<Entry>,
}

impl<U: SecurityUser> Routes<U> {
    /// An empty table.
    pub(crate) fn new() -> Self {
        Routes {
            router: Router::new(),
            entries: Vec::new(),
        }
    }

    /// Registers `handler` for `method` at `path` and records it with `op`.
    pub(crate) fn add<H, T>(&mut self, method: Method, path: &str, op: Op, handler: H)
    where
        H: Handler<T, Runtime<U>>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone())
            .unwrap_or_else(|_| unreachable!("the security views use GET, POST and DELETE"));
        let router = std::mem::take(&mut self.router);
        self.router = router.route(path, on(filter, handler));
        self.entries.push(Entry {
            method,
            path: path.to_owned(),
            op,
        });
    }

    /// The entries registered so far.
    #[cfg_attr(not(feature = "openapi"), allow(dead_code))]
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The router and the table.
    pub(crate) fn finish(self) -> (Router<Runtime<U>>, Vec<Entry>) {
        (self.router, self.entries)
    }
}
