//! The follow-up of a survival analysis: horizon, time bins or exact days,
//! endpoint and time origin (kept apart from `analysis.rs`).

use oncofed_model::CodeSystem;
use serde::{Deserialize, Serialize};

/// Overall survival from the index date: the event is death, censoring at the last
/// contact (vital-status observation); follow-up beyond `horizon_days` is censored
/// there (administrative censoring), which bounds the grid the sites fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Survival {
    /// Longest follow-up considered, in days (default 3650; at most 36,500).
    #[serde(default = "Survival::default_horizon")]
    pub horizon_days: u32,
    /// Sums over exact days instead of time bins that hold at least the
    /// security level's minimum cell of exits each (issue 11, item 3). Only
    /// where the project's approval allows it (`plan.exact_times`), the data is
    /// not genetic, and every site's operator allowed it (`--allow-exact-times`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exact_times: bool,
    /// What ends follow-up with an event (default: death, overall survival).
    #[serde(default, skip_serializing_if = "Endpoint::is_overall")]
    pub endpoint: Endpoint,
    /// Where follow-up starts (default: the index diagnosis).
    #[serde(default, skip_serializing_if = "Origin::is_index")]
    pub origin: Origin,
    /// Delayed entry (left truncation): a patient is under observation, and
    /// so in the risk sets, only from the first date of this event on (e.g.
    /// `first-contact`, the first record at the site, for patients referred
    /// after their diagnosis); before it they are not at risk, which removes
    /// the bias of counting only those who survived until they were seen.
    /// Entry before the origin is no delay; patients without the event, or
    /// whose follow-up ends before it, are not in the analysis. On time bins
    /// an entry counts from its bin's first day, and every bin after the
    /// first holds 0 or at least k entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Origin>,
}

/// The time origin of a survival analysis (issue 12, item 4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Origin {
    /// The index diagnosis (the earliest diagnosis with the request's ICD-10
    /// prefix).
    #[default]
    IndexDiagnosis,
    /// The first drug (ATC) or procedure (OPS) with this code prefix dated on
    /// or after the index date (e.g. the start of first-line chemotherapy,
    /// ATC `L01`); patients without one are not in the analysis. Covariates
    /// keep their index-date meaning (baseline at diagnosis). Written
    /// `tx:atc:<prefix>` or `tx:ops:<prefix>`.
    FirstTreatment {
        /// `atc` or `ops`.
        system: CodeSystem,
        /// The code prefix.
        prefix: String,
    },
    /// The first MII onco course assessment (oBDS 17, overall assessment of
    /// the tumour's course) with this value dated on or after the index date:
    /// `V` complete remission, `T` partial remission, `K` no change, `P`
    /// progression, `D` divergent, `B` clinical improvement, `R` complete
    /// remission with residual findings, `Y` recurrence, `U` not assessable,
    /// `X` unknown. E.g. `course:V` for survival from the first complete
    /// remission, `course:P` for post-progression survival. Written
    /// `course:<value>`.
    FirstAssessment {
        /// The overall assessment's value.
        code: String,
    },
    /// The patient's first dated record at the site other than a diagnosis
    /// (an observation, procedure, drug or finding: diagnoses carry the date
    /// of diagnosis, which may precede the referral): when the site first
    /// saw them. Meant as a delayed entry ([`Survival::entry`]); as a
    /// time origin it is refused (it is never after the index diagnosis).
    /// Written `first-contact`.
    FirstContact,
}

/// The overall assessments of the MII onco course (oBDS 17).
pub const COURSE_ASSESSMENTS: [&str; 10] = ["V", "T", "K", "P", "D", "B", "R", "Y", "U", "X"];

impl Origin {
    /// The index diagnosis, the default (kept out of serialised requests).
    pub fn is_index(&self) -> bool {
        *self == Origin::IndexDiagnosis
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::IndexDiagnosis => write!(f, "index"),
            Origin::FirstTreatment { system, prefix } => {
                write!(f, "tx:{}:{prefix}", system.as_str())
            }
            Origin::FirstAssessment { code } => write!(f, "course:{code}"),
            Origin::FirstContact => write!(f, "first-contact"),
        }
    }
}

impl std::str::FromStr for Origin {
    type Err = String;

    /// `index`, `tx:atc:<prefix>` / `tx:ops:<prefix>` (the first such
    /// treatment on or after the index date), `course:<value>` (the first
    /// onco course assessment with that value) or `first-contact`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "unknown time origin or entry '{s}': use index, tx:atc:<prefix>, tx:ops:<prefix>, \
                 course:<{}> or first-contact",
                COURSE_ASSESSMENTS.join("|")
            )
        };
        match s {
            "index" => return Ok(Origin::IndexDiagnosis),
            "first-contact" => return Ok(Origin::FirstContact),
            _ => {}
        }
        if let Some(code) = s.strip_prefix("course:") {
            return if COURSE_ASSESSMENTS.contains(&code) {
                Ok(Origin::FirstAssessment { code: code.into() })
            } else {
                Err(bad())
            };
        }
        let rest = s.strip_prefix("tx:").ok_or_else(bad)?;
        let (system, prefix) = rest.split_once(':').ok_or_else(bad)?;
        let system = match system {
            "atc" => CodeSystem::Atc,
            "ops" => CodeSystem::Ops,
            _ => return Err(bad()),
        };
        if prefix.is_empty() || prefix.len() > 32 || !prefix.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad());
        }
        Ok(Origin::FirstTreatment {
            system,
            prefix: prefix.to_owned(),
        })
    }
}

/// The event of a survival analysis, from the index date (issue 12, item 4).
/// Progression and recurrence come from the MII onco course observations
/// (oBDS 17, `Observation` SNOMED 396432002 with its components): overall
/// assessment P (progression) or Y (recurrence); a component's P
/// (progression) or R (local, nodal or distant recurrence).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Endpoint {
    /// Overall survival: death from any cause.
    #[default]
    #[serde(rename = "os")]
    Overall,
    /// Progression-free survival: progression, recurrence or death, whichever
    /// comes first.
    #[serde(rename = "pfs")]
    ProgressionFree,
    /// Recurrence-free survival: recurrence (overall Y, or a component's R) or
    /// death, whichever comes first.
    #[serde(rename = "rfs")]
    RecurrenceFree,
}

impl Endpoint {
    /// Overall survival, the default (kept out of serialised requests).
    pub fn is_overall(&self) -> bool {
        *self == Endpoint::Overall
    }

    /// The short name (`os`, `pfs`, `rfs`).
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Overall => "os",
            Endpoint::ProgressionFree => "pfs",
            Endpoint::RecurrenceFree => "rfs",
        }
    }
}

impl Survival {
    fn default_horizon() -> u32 {
        3650
    }

    /// Survival over `horizon_days`, on time bins (the default).
    pub fn binned(horizon_days: u32) -> Self {
        Survival {
            horizon_days,
            exact_times: false,
            endpoint: Endpoint::Overall,
            origin: Origin::IndexDiagnosis,
            entry: None,
        }
    }
}

impl Default for Survival {
    fn default() -> Self {
        Self::binned(Self::default_horizon())
    }
}
