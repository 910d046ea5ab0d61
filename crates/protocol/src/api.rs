//! Requests and answers of the hub's researcher and admin API.

use crate::criteria::Criteria;
use crate::task::QueryId;
use oncofed_crypto::PublicKey;
use oncofed_model::SiteId;
use oncofed_privacy::Released;
use serde::{Deserialize, Serialize};

/// `POST /v1/feasibility`: how many patients fit?
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeasibilityRequest {
    /// The cohort definition.
    pub criteria: Criteria,
    /// Seconds to wait for the answer before returning what is there (default 10, at most 60).
    #[serde(default)]
    pub wait_seconds: Option<u64>,
}

/// Where one site's task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskState {
    /// Waiting for the site to fetch it.
    Queued,
    /// Fetched by the site, no answer yet.
    Claimed,
    /// Answered.
    Succeeded,
    /// The site reported a failure.
    Failed,
    /// Not answered before the task expired.
    Expired,
}

/// One site's part in a query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteStatus {
    /// The site.
    pub site: SiteId,
    /// Its task's state.
    pub state: TaskState,
    /// How often the task was handed out.
    pub attempts: u32,
}

/// Where a query stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueryStatus {
    /// Sites are still working.
    Running,
    /// Every site answered (or failed).
    Complete,
    /// The deadline passed with sites missing: the figures cover the sites that answered.
    Partial,
}

/// The answer to a feasibility query, after the hub's disclosure control.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeasibilityResponse {
    /// The query.
    pub query_id: QueryId,
    /// Running, complete or partial.
    pub status: QueryStatus,
    /// The criteria in words.
    pub criteria: String,
    /// De-duplicated total over the answering sites (a patient at two sites counts once).
    pub total: Released,
    /// Per-site figures, only when enough sites answered.
    pub per_site: Option<Vec<(SiteId, Released)>>,
    /// Why no figure was released although sites answered (e.g. only some of
    /// them so far, too few to release a figure over just those).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
    /// Every site's task.
    pub sites: Vec<SiteStatus>,
}

/// Response header of `GET /v1/site/tasks`: the hub's newest signed audit
/// checkpoint (JSON of `oncofed_audit::Checkpoint`). Sites keep the newest one
/// they saw, as witnesses outside the hub that the trail was not cut back.
pub const AUDIT_CHECKPOINT_HEADER: &str = "oncofed-audit-checkpoint";

/// `POST /v1/admin/sites`: register a site by its public key (admins only).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterSite {
    /// The site.
    pub site: SiteId,
    /// Its Ed25519 public key; the private key never leaves the site.
    pub public_key: PublicKey,
}

/// The hub's error body: a stable code and a message without personal data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Stable machine-readable code.
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
}
