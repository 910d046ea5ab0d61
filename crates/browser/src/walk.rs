//! One role's walk through the portal: a browser session with the actions a
//! test needs (go, fill, select, click, submit, read), a screenshot and an
//! accessibility check per step, and timings that are printed, never asserted.

use crate::artefacts::{artefacts_root, slug};
use crate::axe::{self, AxeReport};
use crate::error::BrowserError;
use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use url::Url;

/// How long [`Walk::wait_for`] and [`Walk::wait_for_text`] wait.
const WAIT_LIMIT: Duration = Duration::from_secs(15);
/// How long a click that leaves the page may take to load the next one
/// (a portal action may run an analysis before it redirects).
const NAVIGATION_LIMIT: Duration = Duration::from_secs(60);

/// A browser cookie as the browser stores it, for asserting the session
/// cookie's flags (`HttpOnly`, `Secure`, `SameSite`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieInfo {
    /// The cookie's name, e.g. `oncofed_hub` or `__Host-oncofed_hub`.
    pub name: String,
    /// Its value.
    pub value: String,
    /// Whether scripts are denied access (`HttpOnly`).
    pub http_only: bool,
    /// Whether it is only sent over TLS (`Secure`).
    pub secure: bool,
    /// `Strict`, `Lax` or `None`, as the browser reports it.
    pub same_site: Option<String>,
    /// Its path, e.g. `/`.
    pub path: Option<String>,
    /// Its domain, when the browser reports one.
    pub domain: Option<String>,
}

/// One walk: a browser session with its own cookies, the steps taken and
/// their artefacts in `<target>/browser-artefacts/<walk>/`.
pub struct Walk {
    client: Client,
    name: String,
    dir: PathBuf,
    base: Option<Url>,
    steps: usize,
    started: Instant,
    last_mark: Instant,
    finished: bool,
}

impl Walk {
    pub(crate) fn new(client: Client, name: &str) -> Result<Walk, BrowserError> {
        let dir = artefacts_root().join(slug(name));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| BrowserError::Io(format!("emptying {}: {e}", dir.display())))?;
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| BrowserError::Io(format!("creating {}: {e}", dir.display())))?;
        let now = Instant::now();
        Ok(Walk {
            client,
            name: name.to_owned(),
            dir,
            base: None,
            steps: 0,
            started: now,
            last_mark: now,
            finished: false,
        })
    }

    /// The walk's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The directory of this walk's screenshots and reports.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sets the base URL that relative targets of [`Walk::goto`] (`/portal`)
    /// are resolved against, e.g. the hub's `http://127.0.0.1:PORT`.
    pub fn set_base(&mut self, base: &str) -> Result<(), BrowserError> {
        let url = Url::parse(base)
            .map_err(|e| BrowserError::Unexpected(format!("base url {base}: {e}")))?;
        self.base = Some(url);
        Ok(())
    }

    /// The underlying WebDriver client, for what the walk does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn resolve(&self, target: &str) -> Result<String, BrowserError> {
        if let Ok(url) = Url::parse(target) {
            return Ok(url.into());
        }
        let base = self.base.as_ref().ok_or_else(|| {
            BrowserError::Unexpected(format!("relative url {target} and no base set"))
        })?;
        base.join(target)
            .map(Into::into)
            .map_err(|e| BrowserError::Unexpected(format!("url {target}: {e}")))
    }

    /// Opens `target`: an absolute URL, or a path against the base URL.
    pub async fn goto(&self, target: &str) -> Result<(), BrowserError> {
        let url = self.resolve(target)?;
        self.client
            .goto(&url)
            .await
            .map_err(|e| BrowserError::command(format!("go to {url}"), e))
    }

    /// Goes back one page in the history.
    pub async fn back(&self) -> Result<(), BrowserError> {
        self.client
            .back()
            .await
            .map_err(|e| BrowserError::command("back", e))
    }

    /// The first element matching `css` (no waiting: the page is loaded when
    /// navigation returns).
    pub async fn find(&self, css: &str) -> Result<Element, BrowserError> {
        self.client
            .find(Locator::Css(css))
            .await
            .map_err(|e| BrowserError::command(format!("find {css:?}"), e))
    }

    /// Every element matching `css`.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, BrowserError> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map_err(|e| BrowserError::command(format!("find all {css:?}"), e))
    }

    /// Whether an element matches `css`.
    pub async fn exists(&self, css: &str) -> Result<bool, BrowserError> {
        Ok(!self.find_all(css).await?.is_empty())
    }

    /// Replaces the text of the input or textarea at `css` with `text`.
    pub async fn fill(&self, css: &str, text: &str) -> Result<(), BrowserError> {
        let field = self.find(css).await?;
        field
            .clear()
            .await
            .map_err(|e| BrowserError::command(format!("clear {css:?}"), e))?;
        field
            .send_keys(text)
            .await
            .map_err(|e| BrowserError::command(format!("type into {css:?}"), e))
    }

    /// Chooses the option with value `value` in the select at `css`.
    pub async fn select(&self, css: &str, value: &str) -> Result<(), BrowserError> {
        self.find(css)
            .await?
            .select_by_value(value)
            .await
            .map_err(|e| BrowserError::command(format!("select {value:?} in {css:?}"), e))
    }

    /// Sets the checkbox (or radio button) at `css` to `checked`, clicking it
    /// only when its state differs.
    pub async fn set_checked(&self, css: &str, checked: bool) -> Result<(), BrowserError> {
        let element = self.find(css).await?;
        let now = element
            .is_selected()
            .await
            .map_err(|e| BrowserError::command(format!("state of {css:?}"), e))?;
        if now != checked {
            element
                .click()
                .await
                .map_err(|e| BrowserError::command(format!("click {css:?}"), e))?;
        }
        Ok(())
    }

    /// Clicks the element at `css` (a link, a button) and waits until the
    /// page it leads to has loaded. For a click that stays on the page (a
    /// disclosure, an htmx swap) use [`Walk::click_in_page`].
    pub async fn click(&self, css: &str) -> Result<(), BrowserError> {
        let element = self.find(css).await?;
        let action = format!("click {css:?}");
        self.navigating(&action, element.click()).await
    }

    /// Clicks the element at `css` without waiting for a new page: for
    /// elements that change the current page only.
    pub async fn click_in_page(&self, css: &str) -> Result<(), BrowserError> {
        self.find(css)
            .await?
            .click()
            .await
            .map_err(|e| BrowserError::command(format!("click {css:?}"), e))
    }

    /// Clicks the link whose text is exactly `text` and waits for its page.
    pub async fn click_link(&self, text: &str) -> Result<(), BrowserError> {
        let link = self
            .client
            .find(Locator::LinkText(text))
            .await
            .map_err(|e| BrowserError::command(format!("find link {text:?}"), e))?;
        let action = format!("click link {text:?}");
        self.navigating(&action, link.click()).await
    }

    /// Runs `action` (a click that leaves the page) and waits until a new
    /// document has replaced the current one and finished loading.
    ///
    /// chromedriver's click returns once the click is dispatched, not when
    /// the navigation it starts (a form post, its 303 and the next GET) is
    /// done; reading the page right after would read the old one. The old
    /// document is marked first; the wait ends when the marker is gone and
    /// the new document is complete.
    async fn navigating(
        &self,
        action: &str,
        click: impl Future<Output = Result<(), fantoccini::error::CmdError>>,
    ) -> Result<(), BrowserError> {
        self.client
            .execute("window.__oncofedWalkOldPage = true;", vec![])
            .await
            .map_err(|e| BrowserError::command(format!("{action} (mark the page)"), e))?;
        click
            .await
            .map_err(|e| BrowserError::command(action.to_owned(), e))?;
        let start = Instant::now();
        loop {
            // While the browser is between documents the script may fail;
            // that is "not yet".
            let loaded = self
                .client
                .execute(
                    "return window.__oncofedWalkOldPage === undefined \
                     && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(loaded, Ok(serde_json::Value::Bool(true))) {
                return Ok(());
            }
            if start.elapsed() > NAVIGATION_LIMIT {
                return Err(BrowserError::Unexpected(format!(
                    "walk {}: {action} did not lead to a new page within {NAVIGATION_LIMIT:?} \
                     (use click_in_page for clicks that stay on the page)",
                    self.name
                )));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Submits the form at `form_css` the way a person does, by clicking its
    /// (first) submit button so the button's own name and value are sent,
    /// and waits until the response page has loaded.
    pub async fn submit(&self, form_css: &str) -> Result<(), BrowserError> {
        let form = self.find(form_css).await?;
        let button = form
            .find(Locator::Css(
                "button[type=submit], input[type=submit], button:not([type])",
            ))
            .await
            .map_err(|e| BrowserError::command(format!("submit button of {form_css:?}"), e))?;
        let action = format!("submit {form_css:?}");
        self.navigating(&action, button.click()).await
    }

    /// The visible text of the first element at `css`.
    pub async fn text(&self, css: &str) -> Result<String, BrowserError> {
        self.find(css)
            .await?
            .text()
            .await
            .map_err(|e| BrowserError::command(format!("text of {css:?}"), e))
    }

    /// The visible texts of every element at `css` (table cells, list items).
    pub async fn texts(&self, css: &str) -> Result<Vec<String>, BrowserError> {
        let mut out = Vec::new();
        for element in self.find_all(css).await? {
            out.push(
                element
                    .text()
                    .await
                    .map_err(|e| BrowserError::command(format!("text of {css:?}"), e))?,
            );
        }
        Ok(out)
    }

    /// The text of `css`, or an error quoting it when it lacks `needle`.
    pub async fn expect_text(&self, css: &str, needle: &str) -> Result<String, BrowserError> {
        let text = self.text(css).await?;
        if text.contains(needle) {
            Ok(text)
        } else {
            let url = self.current_url().await?;
            Err(BrowserError::Unexpected(format!(
                "walk {}: {css:?} on {url} does not contain {needle:?}; it reads {text:?}",
                self.name
            )))
        }
    }

    /// The attribute `name` of the first element at `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Result<Option<String>, BrowserError> {
        self.find(css)
            .await?
            .attr(name)
            .await
            .map_err(|e| BrowserError::command(format!("attribute {name} of {css:?}"), e))
    }

    /// The current value of the form field at `css`.
    pub async fn value(&self, css: &str) -> Result<String, BrowserError> {
        Ok(self
            .find(css)
            .await?
            .prop("value")
            .await
            .map_err(|e| BrowserError::command(format!("value of {css:?}"), e))?
            .unwrap_or_default())
    }

    /// The page's current HTML (the DOM serialised, after any htmx swaps).
    pub async fn html(&self) -> Result<String, BrowserError> {
        self.client
            .source()
            .await
            .map_err(|e| BrowserError::command("page source", e))
    }

    /// The page's URL.
    pub async fn current_url(&self) -> Result<Url, BrowserError> {
        self.client
            .current_url()
            .await
            .map_err(|e| BrowserError::command("current url", e))
    }

    /// The path of the page's URL, e.g. `/portal/login`.
    pub async fn path(&self) -> Result<String, BrowserError> {
        Ok(self.current_url().await?.path().to_owned())
    }

    /// Waits (up to 15 s) until an element matches `css`: for content htmx
    /// loads after the page.
    pub async fn wait_for(&self, css: &str) -> Result<Element, BrowserError> {
        self.client
            .wait()
            .at_most(WAIT_LIMIT)
            .for_element(Locator::Css(css))
            .await
            .map_err(|e| BrowserError::command(format!("wait for {css:?}"), e))
    }

    /// Waits (up to 15 s) until the element at `css` contains `needle`.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> Result<String, BrowserError> {
        let start = Instant::now();
        loop {
            if let Ok(elements) = self.client.find_all(Locator::Css(css)).await
                && let Some(first) = elements.first()
                && let Ok(text) = first.text().await
                && text.contains(needle)
            {
                return Ok(text);
            }
            if start.elapsed() > WAIT_LIMIT {
                return Err(BrowserError::Unexpected(format!(
                    "walk {}: {css:?} did not come to contain {needle:?} within {WAIT_LIMIT:?}",
                    self.name
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `script` in the page (WebDriver "execute script": the body of a
    /// function, `arguments` are `args`) and returns its result.
    pub async fn execute(
        &self,
        script: &str,
        args: Vec<serde_json::Value>,
    ) -> Result<serde_json::Value, BrowserError> {
        self.client
            .execute(script, args)
            .await
            .map_err(|e| BrowserError::command("execute script", e))
    }

    /// Every cookie the browser holds for the current page, with its flags.
    pub async fn cookies(&self) -> Result<Vec<CookieInfo>, BrowserError> {
        let all = self
            .client
            .get_all_cookies()
            .await
            .map_err(|e| BrowserError::command("cookies", e))?;
        Ok(all
            .into_iter()
            .map(|c| CookieInfo {
                name: c.name().to_owned(),
                value: c.value().to_owned(),
                http_only: c.http_only().unwrap_or(false),
                secure: c.secure().unwrap_or(false),
                same_site: c.same_site().map(|s| s.to_string()),
                path: c.path().map(str::to_owned),
                domain: c.domain().map(str::to_owned),
            })
            .collect())
    }

    /// The cookie `name` for the current page, if the browser holds it.
    pub async fn cookie(&self, name: &str) -> Result<Option<CookieInfo>, BrowserError> {
        Ok(self.cookies().await?.into_iter().find(|c| c.name == name))
    }

    /// Records a step: the screenshot `<nn>-<name>.png` and the axe-core
    /// audit of the current page (WCAG 2.1 A/AA). Every violation is written
    /// to `<nn>-<name>.axe.json`; violations of impact serious or critical
    /// fail the step, listed with rule, impact, help and selectors.
    pub async fn step(&mut self, name: &str) -> Result<AxeReport, BrowserError> {
        self.steps += 1;
        let stem = format!("{:02}-{}", self.steps, slug(name));
        let url = self.current_url().await?;
        if url.scheme() == "chrome-error" {
            return Err(BrowserError::Unexpected(format!(
                "walk {}, step {name}: the browser shows an error page (service down or TLS refused)",
                self.name
            )));
        }
        let png = self
            .client
            .screenshot()
            .await
            .map_err(|e| BrowserError::command(format!("screenshot of step {name}"), e))?;
        write(&self.dir.join(format!("{stem}.png")), &png)?;
        let report = axe::audit(&self.client).await?;
        let json = serde_json::to_vec_pretty(&report)
            .map_err(|e| BrowserError::Io(format!("axe report: {e}")))?;
        write(&self.dir.join(format!("{stem}.axe.json")), &json)?;
        let blocking = report.blocking();
        println!(
            "walk {}: step {stem} at {} ({} ms into the walk; {} minor/moderate accessibility finding(s))",
            self.name,
            url.path(),
            self.started.elapsed().as_millis(),
            report.violations.len() - blocking.len(),
        );
        if !blocking.is_empty() {
            return Err(BrowserError::Accessibility {
                walk: self.name.clone(),
                step: name.to_owned(),
                url: url.to_string(),
                violations: blocking,
            });
        }
        Ok(report)
    }

    /// The time since the previous mark (or the walk's start), printed with
    /// `label`: for measuring, never for asserting.
    pub fn timed(&mut self, label: &str) -> Duration {
        let now = Instant::now();
        let took = now - self.last_mark;
        self.last_mark = now;
        println!(
            "walk {}: {label} took {} ms ({} ms into the walk)",
            self.name,
            took.as_millis(),
            (now - self.started).as_millis()
        );
        took
    }

    /// The time since the walk began.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Ends the browser session (closing its window and profile).
    pub async fn finish(mut self) -> Result<(), BrowserError> {
        self.finished = true;
        println!(
            "walk {}: {} step(s) in {} ms, artefacts in {}",
            self.name,
            self.steps,
            self.started.elapsed().as_millis(),
            self.dir.display()
        );
        self.client
            .clone()
            .close()
            .await
            .map_err(|e| BrowserError::command("close the session", e))
    }
}

impl Drop for Walk {
    fn drop(&mut self) {
        if !self.finished {
            // A walk that failed part-way: its session ends with chromedriver
            // (Browser's drop); say where its artefacts are.
            println!(
                "walk {} ended after {} step(s); artefacts in {}",
                self.name,
                self.steps,
                self.dir.display()
            );
        }
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), BrowserError> {
    std::fs::write(path, bytes).map_err(|e| BrowserError::Io(format!("{}: {e}", path.display())))
}
