//! The analysis request language (`oncofed_protocol::analysis`), as the hub
//! takes it: `POST /v1/analyses` JSON, then `oncofed_analysis::driver::validate`.
//!
//! Properties:
//! - parsing and validation never panic, nor do `categories`, `variables`,
//!   `parameters` and `kind`;
//! - the serde round trip is exact: serialise, parse, compare (the hub stores
//!   the request as JSON and hands it to sites inside a task);
//! - in a valid request, every variable's [`Variable::name`] parses back to the
//!   same variable (names label result tables and the CLI's `--var`), a cohort
//!   meets the criteria properties of [`crate::criteria::check_tree`], and the
//!   categories include those of every variable;
//! - a validation error never contains a [`crate::MARKER`]ed input string
//!   longer than 16 characters (except through the cohort's criteria error, whose paths are
//!   checked by the criteria properties).

use crate::{assert_no_echo, json_strings};
use oncofed_protocol::analysis::{AnalysisRequest, Variable};

/// Parses `data` as an analysis request and checks the properties of the module docs.
pub fn check(data: &[u8]) {
    let Ok(request) = serde_json::from_slice::<AnalysisRequest>(data) else {
        return;
    };
    let text = serde_json::to_string(&request).expect("requests serialise");
    let again: AnalysisRequest = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("serialised request does not parse: {e}: {text}"));
    assert_eq!(
        again, request,
        "serde round trip changes the request: {text}"
    );

    let categories = request.categories();
    let variables = request.analysis.variables();
    let _ = (request.analysis.parameters(), request.analysis.kind());
    match oncofed_analysis::driver::validate(&request) {
        Ok(()) => {
            for v in &variables {
                let name = v.name();
                assert_eq!(
                    name.parse::<Variable>().as_ref(),
                    Ok(v),
                    "variable name {name:?} does not parse back"
                );
                assert!(categories.contains(&v.category()));
            }
            if let Some(cohort) = &request.cohort {
                crate::criteria::check_tree(cohort);
            }
        }
        Err(e) => {
            let message = e.to_string();
            if !message.contains("cohort: ") {
                let value: serde_json::Value =
                    serde_json::from_str(&text).expect("serialised request is JSON");
                let mut strings = Vec::new();
                json_strings(&value, &mut strings);
                assert_no_echo(&message, &strings, 16);
            }
        }
    }
}
