//! The browser-test harness of the portal walks (dev-only).
//!
//! Issue 17 asks for tests in a real browser: one walk per role through the
//! portal, a screenshot per step kept as a test artefact, and an accessibility
//! audit (axe-core) of every page that reports no violation of impact
//! *serious* or *critical*. Every walk in the hub, trust centre and node tests
//! does this the same way, through this crate:
//!
//! - [`Browser::start`] finds Debian's `/usr/bin/chromium` and
//!   `/usr/bin/chromedriver` (installed by `scripts/setup-peers`), starts
//!   chromedriver on a free loopback port and returns `None` with a printed
//!   skip reason when they are missing — unless `ONCOFED_REQUIRE_PEERS` is
//!   set, when a missing browser fails the test. No browser is ever
//!   downloaded.
//! - [`Browser::walk`] opens one headless chromium session (its own profile,
//!   so its own cookies) for one role's walk: a [`Walk`].
//! - [`Walk::step`] takes the screenshot
//!   `<target>/browser-artefacts/<walk>/<nn>-<step>.png` and runs axe-core
//!   (vendored in `assets/`, injected through WebDriver so that the pages'
//!   Content-Security-Policy, which forbids inline scripts, does not block it),
//!   failing with a readable list of serious and critical violations and
//!   recording the minor and moderate ones beside the screenshot.
//!
//! ```no_run
//! # async fn example(base: &str) -> Result<(), oncofed_browser::BrowserError> {
//! let Some(browser) = oncofed_browser::Browser::start().await else {
//!     return Ok(()); // skipped: chromium is not installed
//! };
//! let mut walk = browser.walk("researcher").await?;
//! walk.goto(&format!("{base}/portal/login")).await?;
//! walk.step("login").await?;
//! walk.fill("#user", "alice").await?;
//! walk.fill("#token", "secret").await?;
//! walk.submit("form.login").await?;
//! assert!(walk.text("h1").await?.contains("Portal"));
//! walk.step("home").await?;
//! walk.finish().await?;
//! # Ok(())
//! # }
//! ```

mod artefacts;
mod axe;
mod driver;
mod error;
mod walk;

pub use artefacts::artefacts_root;
pub use axe::{AxeNode, AxeReport, Violation};
pub use error::BrowserError;
pub use walk::{CookieInfo, Walk};

use driver::Driver;
use std::path::PathBuf;

/// Where Debian installs the browser (package `chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Where Debian installs the WebDriver server (package `chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How the walks' browsers are started.
///
/// The defaults fit the portal tests: a 1280×1000 window, German as the
/// browser's preferred language (the portal's default; a walk switches with
/// `?lang=en`), and TLS certificates checked as usual.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// Accept certificates the browser cannot verify (a test federation's own
    /// self-signed CA): only for walks against a service under test TLS.
    pub accept_insecure_certs: bool,
    /// The window size in CSS pixels, which is also the screenshots' size.
    pub window: (u32, u32),
    /// The browser's `Accept-Language`, e.g. `de-DE,de` or `en-GB,en`.
    pub accept_language: String,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            accept_insecure_certs: false,
            window: (1280, 1000),
            accept_language: "de-DE,de".to_owned(),
        }
    }
}

/// A running chromedriver; each [`Walk`] is one browser session of it.
///
/// Dropping it kills chromedriver and the browsers it started (its process
/// group), so a failing test leaves no browser behind.
pub struct Browser {
    driver: Driver,
    options: BrowserOptions,
}

impl Browser {
    /// Starts chromedriver with the default [`BrowserOptions`]; `None` (with
    /// the reason printed) when chromium or chromedriver is missing and
    /// `ONCOFED_REQUIRE_PEERS` is unset.
    ///
    /// # Panics
    /// When the browser is missing and `ONCOFED_REQUIRE_PEERS` is set, or
    /// when chromedriver is installed but does not start (a broken
    /// installation must fail loudly, not skip).
    pub async fn start() -> Option<Browser> {
        Browser::start_with(BrowserOptions::default()).await
    }

    /// Like [`Browser::start`], but the browser accepts certificates it
    /// cannot verify: for walks against a test federation under TLS with its
    /// own self-signed CA. Never used against anything but loopback services.
    pub async fn start_accepting_insecure_certs() -> Option<Browser> {
        Browser::start_with(BrowserOptions {
            accept_insecure_certs: true,
            ..BrowserOptions::default()
        })
        .await
    }

    /// Like [`Browser::start`] with the given options.
    ///
    /// # Panics
    /// As [`Browser::start`].
    pub async fn start_with(options: BrowserOptions) -> Option<Browser> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|p| !PathBuf::from(p).is_file())
            .collect();
        if !missing.is_empty() {
            let what = missing.join(" and ");
            assert!(
                !oncofed_test_peers::peers_required(),
                "{what} missing and ONCOFED_REQUIRE_PEERS is set: install the Debian packages \
                 chromium and chromium-driver (scripts/setup-peers does)"
            );
            println!(
                "skipped: {what} not installed (Debian chromium and chromium-driver; \
                 scripts/setup-peers installs them)"
            );
            return None;
        }
        match Driver::start(CHROMEDRIVER).await {
            Ok(driver) => Some(Browser { driver, options }),
            Err(e) => panic!("chromedriver is installed but did not start: {e}"),
        }
    }

    /// Opens a new browser session (a fresh profile: no cookies) for the walk
    /// `name`; its artefacts go to `<target>/browser-artefacts/<name>/`,
    /// emptied first.
    pub async fn walk(&self, name: &str) -> Result<Walk, BrowserError> {
        let client = self.driver.session(&self.options).await?;
        Walk::new(client, name)
    }

    /// The options the sessions are opened with.
    pub fn options(&self) -> &BrowserOptions {
        &self.options
    }
}
