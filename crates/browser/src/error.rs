//! The harness's one error type: a failed browser command, a failed
//! accessibility check, or a file that could not be written.

use crate::axe::Violation;
use std::fmt;

/// Why a browser step failed.
#[derive(Debug)]
pub enum BrowserError {
    /// chromedriver could not be started or reached, or refused a session.
    Driver(String),
    /// A WebDriver command failed (no such element, timeout, navigation …),
    /// with what the walk was doing.
    Command {
        /// What the walk tried, e.g. `click "#submit"`.
        action: String,
        /// The WebDriver error.
        error: String,
    },
    /// The page violates accessibility rules of impact serious or critical.
    Accessibility {
        /// The walk's name.
        walk: String,
        /// The step's name.
        step: String,
        /// The page's URL.
        url: String,
        /// The serious and critical violations.
        violations: Vec<Violation>,
    },
    /// A screenshot or report could not be written.
    Io(String),
    /// What the page says is not what the walk expected.
    Unexpected(String),
}

impl BrowserError {
    /// A failed WebDriver command, labelled with the walk's action.
    pub(crate) fn command(action: impl Into<String>, error: impl fmt::Display) -> Self {
        BrowserError::Command {
            action: action.into(),
            error: error.to_string(),
        }
    }
}

impl fmt::Display for BrowserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrowserError::Driver(e) => write!(f, "chromedriver: {e}"),
            BrowserError::Command { action, error } => write!(f, "{action}: {error}"),
            BrowserError::Accessibility {
                walk,
                step,
                url,
                violations,
            } => {
                writeln!(
                    f,
                    "walk {walk}, step {step} ({url}): {} accessibility violation(s) of impact serious or critical:",
                    violations.len()
                )?;
                for v in violations {
                    writeln!(f, "{v}")?;
                }
                Ok(())
            }
            BrowserError::Io(e) => write!(f, "artefacts: {e}"),
            BrowserError::Unexpected(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BrowserError {}
