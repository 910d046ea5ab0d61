//! GA4GH Data Use Ontology (DUO) terms for data shared onward.
//!
//! DUO (EBISPOT/DUO, OBO Foundry) tags a data set with a *permission* (what use
//! is allowed) and *modifiers* (conditions). OncoFed's mapping:
//!
//! | situation | terms |
//! |---|---|
//! | use permitted (opt-out or consent) | `DUO:0000006` HMB: health/medical/biomedical research. Both legal bases are limited to health research, so never `DUO:0000042` GRU (general research use) or `DUO:0000004` NRES. |
//! | always, with HMB | `DUO:0000021` IRB: ethics approval required (MII use-and-access and OncoFed projects need an ethics vote). |
//! | no counting permit for use outside the EU GDPR level (`.49` MDAT, `.55` BIOMAT) | `DUO:0000022` GS: geographical restriction to the EU/EEA. |
//! | the permitting statement has a `period.end` | `DUO:0000025` TS: time limit on use, until that day. |
//! | use denied, or merging with third-party data denied (`.9`, `.23`, `.47`, `.53`) | no terms: nothing may be shared. |
//!
//! Not derived because no consent code says so: `DUO:0000007` DS (disease
//! specific; the broad consent is not disease specific), `DUO:0000019` PUB,
//! `DUO:0000046` NCU and the other modifiers.

use crate::engine;
use crate::model::Consent;
use chrono::NaiveDate;
use oncofed_model::{DataCategory, Purpose};
use serde::Serialize;

/// One DUO term with its value where the term needs one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum DuoCode {
    /// `DUO:0000006` health or medical or biomedical research (HMB).
    HealthMedicalBiomedical,
    /// `DUO:0000021` ethics approval required (IRB).
    EthicsApproval,
    /// `DUO:0000022` geographical restriction (GS), to the named region.
    Geographical {
        /// The region, as text.
        region: &'static str,
    },
    /// `DUO:0000025` time limit on use (TS), until this day inclusive.
    TimeLimit {
        /// Last day of permitted use.
        until: NaiveDate,
    },
}

impl DuoCode {
    /// The ontology id, e.g. `DUO:0000006`.
    pub fn id(&self) -> &'static str {
        match self {
            Self::HealthMedicalBiomedical => "DUO:0000006",
            Self::EthicsApproval => "DUO:0000021",
            Self::Geographical { .. } => "DUO:0000022",
            Self::TimeLimit { .. } => "DUO:0000025",
        }
    }

    /// The ontology's shorthand, e.g. `HMB`.
    pub fn shorthand(&self) -> &'static str {
        match self {
            Self::HealthMedicalBiomedical => "HMB",
            Self::EthicsApproval => "IRB",
            Self::Geographical { .. } => "GS",
            Self::TimeLimit { .. } => "TS",
        }
    }

    /// The ontology's label.
    pub fn label(&self) -> &'static str {
        match self {
            Self::HealthMedicalBiomedical => "health or medical or biomedical research",
            Self::EthicsApproval => "ethics approval required",
            Self::Geographical { .. } => "geographical restriction",
            Self::TimeLimit { .. } => "time limit on use",
        }
    }
}

/// The DUO terms under which data of `category` about this person may be shared
/// onward for research on `date` (table in the module documentation). Empty
/// means: not at all.
pub fn duo_codes(consents: &[Consent], category: DataCategory, date: NaiveDate) -> Vec<DuoCode> {
    let (decision, until) =
        crate::evaluate_with_end(consents, category, Purpose::Research, date, None);
    let (merge_denied, non_eu_permitted) = engine::sharing(consents, category, date);
    if !decision.permits() || merge_denied {
        return Vec::new();
    }
    let mut out = vec![DuoCode::HealthMedicalBiomedical, DuoCode::EthicsApproval];
    if !non_eu_permitted {
        out.push(DuoCode::Geographical {
            region: "EU/EEA (GDPR level)",
        });
    }
    if let Some(until) = until {
        out.push(DuoCode::TimeLimit { until });
    }
    out
}
