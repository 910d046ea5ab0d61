//! The accessibility check: axe-core, injected into the page under test
//! through WebDriver and run with the WCAG 2.0/2.1 level A and AA rules.
//!
//! The portal's Content-Security-Policy (`script-src 'self'`) forbids inline
//! scripts, and the services never serve axe. WebDriver's "execute script"
//! runs in the page through the DevTools protocol, which the page's CSP does
//! not govern, so axe needs no exception in the policy under test
//! (`tests/harness.rs` checks this against a page served with the portal's
//! exact policy).

use crate::error::BrowserError;
use fantoccini::Client;
use serde::{Deserialize, Serialize};
use std::fmt;

/// axe-core 4.14.1 (MPL-2.0), see `assets/README.md`.
const AXE_SOURCE: &str = include_str!("../assets/axe.min.js");

/// The rule tags run: WCAG 2.0 and 2.1, levels A and AA.
pub const WCAG_TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// Runs axe on the current document and returns its violations, reduced to
/// what a failing test needs to say.
const RUN_AXE: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, {
  runOnly: { type: 'tag', values: arguments[0] },
  resultTypes: ['violations'],
}).then(function (r) {
  done({ version: axe.version, violations: r.violations.map(function (v) {
    return {
      id: v.id, impact: v.impact || 'unknown', help: v.help, help_url: v.helpUrl,
      nodes: v.nodes.map(function (n) {
        return {
          target: n.target.map(function (t) { return Array.isArray(t) ? t.join(' >>> ') : String(t); }),
          summary: n.failureSummary || '',
          html: (n.html || '').slice(0, 300),
        };
      }),
    };
  }) });
}).catch(function (e) { done({ error: String(e) }); });
"#;

/// One element a rule found at fault.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AxeNode {
    /// CSS selectors locating the element (one per frame or shadow root).
    pub target: Vec<String>,
    /// axe's explanation of what to fix.
    pub summary: String,
    /// The start of the element's HTML.
    pub html: String,
}

/// One violated rule with the elements violating it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Violation {
    /// The axe rule id, e.g. `image-alt`, `label`, `color-contrast`.
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: String,
    /// One line saying what the rule wants.
    pub help: String,
    /// Deque's page on the rule.
    pub help_url: String,
    /// The offending elements.
    pub nodes: Vec<AxeNode>,
}

impl Violation {
    /// Whether the violation fails a walk: impact serious or critical.
    pub fn is_blocking(&self) -> bool {
        matches!(self.impact.as_str(), "serious" | "critical")
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "- [{}] {}: {} ({})",
            self.impact, self.id, self.help, self.help_url
        )?;
        for node in &self.nodes {
            write!(f, "\n    at {}", node.target.join(" | "))?;
            if !node.summary.is_empty() {
                write!(f, ": {}", node.summary.replace('\n', " "))?;
            }
        }
        Ok(())
    }
}

/// axe's findings on one page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AxeReport {
    /// The axe-core version that ran.
    pub version: String,
    /// The page's URL.
    pub url: String,
    /// Every violation, of any impact.
    pub violations: Vec<Violation>,
}

impl AxeReport {
    /// The violations of impact serious or critical.
    pub fn blocking(&self) -> Vec<Violation> {
        self.violations
            .iter()
            .filter(|v| v.is_blocking())
            .cloned()
            .collect()
    }
}

#[derive(Deserialize)]
struct RawResult {
    version: Option<String>,
    violations: Option<Vec<Violation>>,
    error: Option<String>,
}

/// Injects axe (once per document) and runs the WCAG A/AA rules on the
/// current page.
pub(crate) async fn audit(client: &Client) -> Result<AxeReport, BrowserError> {
    let url = client
        .current_url()
        .await
        .map_err(|e| BrowserError::command("current url", e))?
        .to_string();
    let present = client
        .execute("return typeof window.axe === 'object';", vec![])
        .await
        .map_err(|e| BrowserError::command("probe for axe", e))?;
    if present != serde_json::Value::Bool(true) {
        let injected = client
            .execute(
                &format!("{AXE_SOURCE}\n;return typeof window.axe === 'object';"),
                vec![],
            )
            .await
            .map_err(|e| BrowserError::command("inject axe-core", e))?;
        if injected != serde_json::Value::Bool(true) {
            return Err(BrowserError::Unexpected(format!(
                "axe-core did not load into {url}"
            )));
        }
    }
    let raw = client
        .execute_async(RUN_AXE, vec![serde_json::json!(WCAG_TAGS)])
        .await
        .map_err(|e| BrowserError::command("run axe-core", e))?;
    let raw: RawResult = serde_json::from_value(raw)
        .map_err(|e| BrowserError::Unexpected(format!("axe-core's result: {e}")))?;
    if let Some(error) = raw.error {
        return Err(BrowserError::Unexpected(format!(
            "axe-core failed on {url}: {error}"
        )));
    }
    Ok(AxeReport {
        version: raw.version.unwrap_or_default(),
        url,
        violations: raw.violations.unwrap_or_default(),
    })
}
