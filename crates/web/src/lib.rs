//! What every OncoFed web page shares.
//!
//! The hub (researchers, the use-and-access committee, site admins, the
//! catalogue), the trust centre (patients) and the site node (its admins)
//! render their pages on the server with [`maud`], so no JavaScript is needed
//! to read them and nothing runs on Node at run time. This crate holds the
//! parts they must not each get slightly wrong:
//!
//! - [`Page`]: the layout (landmarks, skip link, language switch, sign-out
//!   form), so every page passes the same accessibility audit;
//! - [`Lang`]: German (default) and English, chosen by `?lang=`, a cookie or
//!   `Accept-Language`;
//! - [`Sessions`]: browser sessions in memory with random 256-bit ids,
//!   idle and absolute timeouts, `HttpOnly; SameSite=Strict` cookies,
//!   `Secure` with the `__Host-` prefix under TLS;
//! - CSRF: a synchronizer token per session, [`csrf_field`] in every form,
//!   [`Session::check_csrf`] (constant time) in every POST handler;
//! - [`secure_headers`]: a strict Content Security Policy (`script-src
//!   'self'`, no inline scripts or styles), `nosniff`, no referrer, no caching;
//! - [`assets_router`]: the vendored htmx (progressive enhancement only) and
//!   the portal's style sheet.
//!
//! Sessions live in memory on purpose: a restart signs everyone out, which is
//! the safe failure, and no session secret ever reaches a disk. Sign-in itself
//! (tokens, one-time codes) stays with each service.

mod assets;
mod error;
mod lang;
mod page;
mod session;

pub use assets::{assets_router, secure_headers};
pub use error::WebError;
pub use lang::Lang;
pub use maud::{DOCTYPE, Markup, PreEscaped, html};
pub use page::{NavItem, Page, SignedIn, csrf_field, redirect};
pub use session::{CookieSpec, Session, Sessions};
