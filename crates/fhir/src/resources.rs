//! One module per mapped resource type, each with a borrowed serde struct of the
//! elements it maps and a `map` function; shared pieces live here.

pub(crate) mod condition;
pub(crate) mod medication;
pub(crate) mod observation;
pub(crate) mod patient;
pub(crate) mod procedure;

use crate::Batch;
use crate::bundle::Resolver;
use crate::datatypes::{Reference, Text, text};
use crate::error::FieldError;
use chrono::NaiveDate;
use oncofed_model::{Coding, DataCategory, Fact, FactKind, FactValue};

/// What a resource mapper needs to know about where its resource sits.
pub(crate) struct Cx<'r> {
    /// Resolves `subject` / `patient` references.
    pub resolver: &'r Resolver<'r>,
    /// The resource type (`MedicationRequest`, ...).
    pub resource_type: &'r str,
    /// `Bundle.entry.fullUrl`, if any.
    pub full_url: Option<&'r str>,
    /// The input's name, for resources with neither `id` nor `fullUrl`.
    pub source: &'r str,
    /// The NDJSON line (0 for a document), likewise.
    pub line: usize,
    /// The Bundle entry index, likewise.
    pub entry: Option<usize>,
}

impl Cx<'_> {
    /// The stable id facts of this resource are keyed by: `Type/id#index`, else
    /// `fullUrl#index`, else a location (`Type@file:line[:entry]#index`).
    pub fn source_id(&self, id: &Option<Text<'_>>, index: usize) -> String {
        match (text(id), self.full_url) {
            (Some(id), _) => format!("{}/{id}#{index}", self.resource_type),
            (None, Some(url)) => format!("{url}#{index}"),
            (None, None) => match self.entry {
                Some(e) => format!(
                    "{}@{}:{}:{e}#{index}",
                    self.resource_type, self.source, self.line
                ),
                None => format!(
                    "{}@{}:{}#{index}",
                    self.resource_type, self.source, self.line
                ),
            },
        }
    }

    /// Resolves the subject reference at `field` (`subject` or `patient`) to a local patient id.
    pub fn subject(
        &self,
        r: &Option<Reference<'_>>,
        field: &'static str,
        hint: &'static str,
    ) -> Result<String, FieldError> {
        self.resolver.subject(r.as_ref(), field, hint)
    }
}

/// Counts a resource that its status marks as not having happened (or as an error)
/// under `Type.element=code` in [`Batch::skipped`]. Returns whether it was skipped.
pub(crate) fn skip_status(
    batch: &mut Batch,
    resource_type: &str,
    element: &str,
    code: Option<&str>,
) -> bool {
    let skip = matches!(
        code,
        Some("entered-in-error" | "not-done" | "not-taken" | "cancelled" | "refuted")
    );
    if let (true, Some(code)) = (skip, code) {
        *batch
            .skipped
            .entry(format!("{resource_type}.{element}={code}"))
            .or_default() += 1;
    }
    skip
}

/// A clinical-category fact with the category's intrinsic level.
pub(crate) fn clinical_fact(
    kind: FactKind,
    code: Coding,
    value: FactValue,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
) -> Fact {
    Fact {
        kind,
        code,
        modifier: None,
        value,
        start,
        end,
        category: DataCategory::Clinical,
        level: DataCategory::Clinical.intrinsic_level(),
    }
}
