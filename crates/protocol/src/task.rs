//! Tasks the hub issues to sites, and the sites' answers.
//!
//! Sites allow only outbound connections, so a site fetches its tasks from the hub
//! (long polling) and posts outcomes back. Every task is sealed by the hub
//! ([`oncofed_crypto::SignedEnvelope`]) and carries its addressee and an expiry; a
//! node rejects tasks that are unsigned, signed by another key, addressed to another
//! site, expired, or already seen (replay). Every outcome is sealed by the site.

use crate::criteria::Criteria;
use chrono::{DateTime, Utc};
use oncofed_model::{SecurityLevel, SiteId};
use oncofed_privacy::{Released, Sketch};
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// A fresh random id (128 bits, hex).
            pub fn random() -> Self {
                Self(hex::encode(random_bytes()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                if s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    Ok(Self(s))
                } else {
                    Err(format!("invalid {}: expected 32 lowercase hex characters", stringify!($name)))
                }
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::try_from(s.to_owned())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

fn random_bytes() -> [u8; 16] {
    use sha2::Digest;
    // Ids need uniqueness, not secrecy: time, a counter and the process id suffice,
    // hashed so that ids reveal none of them.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let digest = sha2::Sha256::new()
        .chain_update(now.to_le_bytes())
        .chain_update(n.to_le_bytes())
        .chain_update(std::process::id().to_le_bytes())
        .finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

hex_id!(
    /// Identifies one researcher query (it fans out into one task per site).
    QueryId
);
hex_id!(
    /// Identifies one task for one site. Nodes remember the ids they executed (replay protection).
    TaskId
);

/// What a site is asked to compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum TaskKind {
    /// Count the site's patients matching `criteria` whose consent permits feasibility use.
    Feasibility {
        /// The cohort definition.
        criteria: Criteria,
        /// Hex key (32 bytes) for the de-duplication sketch: the site inserts
        /// HMAC-SHA256(key, research pseudonym) of each counted patient. Derived by the hub from the criteria: the same query gets the same key (repeats give identical answers), different queries unrelated keys.
        sketch_key: String,
    },
    /// One step of a federated analysis run (the run id is the task's `query_id`).
    Analysis {
        /// What to do in this step.
        step: Box<crate::analysis::AnalysisStep>,
    },
    /// A Beacon v2 `g_variants` query (issue 16): count the site's consented
    /// carriers within their per-researcher risk budgets (`oncofed_beacon::site_count`).
    Beacon(Box<BeaconTask>),
    /// Describe the site's data per category for the federation's HealthDCAT-AP
    /// catalogue (issue 17, R20): persons, records, years and coding systems
    /// under the site's disclosure control ([`crate::CatalogueAnswer`]).
    Catalogue,
}

/// What a site needs to answer a Beacon query: the validated query, whose
/// budgets it charges, the beacon's size and the hub's defences (the site
/// prices answers under the hub's rare-allele rule and refuses a task whose
/// defences are weaker than its own floor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeaconTask {
    /// The query, validated by the hub (`RequestBody::variant_query`).
    pub query: oncofed_beacon::model::VariantQuery,
    /// The caller whose budgets are charged: a hub user id, or `public` for
    /// every anonymous caller (one shared budget, so nobody resets it by
    /// staying anonymous).
    pub researcher: String,
    /// Individuals in the whole beacon (sum of the sequenced persons the sites
    /// last reported), `None` before any site reported; the site never prices
    /// with fewer than its own sequenced persons.
    pub beacon_size: Option<u64>,
    /// The hub's defences for this data set.
    pub defences: oncofed_beacon::defence::DefenceConfig,
}

/// A site's answer to a Beacon task: nothing per person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeaconAnswer {
    /// Consented carriers counted within their budgets (`SiteOutcome::count`).
    pub count: u64,
    /// Persons with sequencing data at the site, rounded down to a multiple of
    /// 10 (the hub sums them into the next queries' beacon size; rounding down
    /// only makes answers dearer).
    pub sequenced: u64,
}

/// A unit of work for one site, sealed by the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// This task.
    pub task_id: TaskId,
    /// The query it belongs to.
    pub query_id: QueryId,
    /// The only site allowed to execute it.
    pub site: SiteId,
    /// What to do.
    pub kind: TaskKind,
    /// When the hub issued it.
    pub issued_at: DateTime<Utc>,
    /// After this instant the site must refuse it.
    pub expires_at: DateTime<Utc>,
}

/// A site's feasibility answer: already obfuscated by the site's disclosure control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeasibilityAnswer {
    /// The obfuscated count (or suppressed).
    pub count: Released,
    /// Sketch of the counted patients' keyed research pseudonyms, for a de-duplicated total.
    pub sketch: Sketch,
    /// The security level of the data the query touched (decides the disclosure rules used).
    pub level: SecurityLevel,
}

/// What a site reports back for a task, sealed by the site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskOutcome {
    /// The task.
    pub task_id: TaskId,
    /// The query.
    pub query_id: QueryId,
    /// The reporting site.
    pub site: SiteId,
    /// When the site finished.
    pub completed_at: DateTime<Utc>,
    /// The answer, or why there is none (a reason without personal data).
    pub result: Result<TaskAnswer, String>,
}

/// A site's answer to a task, by task kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskAnswer {
    /// To a feasibility task.
    Feasibility(FeasibilityAnswer),
    /// To an analysis step.
    Analysis(Box<crate::analysis::AnalysisReply>),
    /// To a Beacon query.
    Beacon(BeaconAnswer),
    /// To a catalogue task.
    Catalogue(crate::CatalogueAnswer),
}

impl TaskAnswer {
    /// The feasibility answer, if this is one.
    pub fn feasibility(&self) -> Option<&FeasibilityAnswer> {
        match self {
            TaskAnswer::Feasibility(a) => Some(a),
            TaskAnswer::Analysis(_) | TaskAnswer::Beacon(_) | TaskAnswer::Catalogue(_) => None,
        }
    }

    /// The Beacon answer, if this is one.
    pub fn beacon(&self) -> Option<&BeaconAnswer> {
        match self {
            TaskAnswer::Beacon(a) => Some(a),
            TaskAnswer::Feasibility(_) | TaskAnswer::Analysis(_) | TaskAnswer::Catalogue(_) => None,
        }
    }

    /// The catalogue answer, if this is one.
    pub fn catalogue(&self) -> Option<&crate::CatalogueAnswer> {
        match self {
            TaskAnswer::Catalogue(a) => Some(a),
            TaskAnswer::Feasibility(_) | TaskAnswer::Analysis(_) | TaskAnswer::Beacon(_) => None,
        }
    }
}
