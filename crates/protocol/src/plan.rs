//! A run's plan, signed by the hub: what one analysis run may compute, fixed
//! when the run is admitted, carried by its `Prepare` step, and checked by every
//! site against each later step. It turns "the hub names any computation" into
//! "the hub committed, under its key and for this run id only, to one analysis
//! over one cohort within stated bounds"; the site holds the hub to it and keeps
//! its own hard bounds besides (an approved-but-absurd plan still cannot make it
//! allocate gigabytes).

use crate::QueryId;
use crate::analysis::{Analysis, AnalysisRequest, Computation};
use oncofed_crypto::{PublicKey, Signature, SigningKeyPair};
use serde::{Deserialize, Serialize};

/// The bounds one run is held to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunPlan {
    /// The run this plan is for (a plan is valid for no other run id).
    pub run: QueryId,
    /// The analysis and cohort as admitted: the `Prepare` must carry this request.
    pub request: AnalysisRequest,
    /// Most aggregation rounds the run may key (the round budget).
    pub max_rounds: usize,
    /// Most points on a time grid or histogram edges.
    pub max_grid_points: usize,
    /// Largest |β| per coefficient a Newton step may ask for.
    pub max_abs_beta: f64,
}

/// The domain separator of plan signatures (no other signed message starts so).
const DOMAIN: &[u8] = b"oncofed-run-plan/v1\0";

impl RunPlan {
    /// The bytes signed: the domain, then the plan's JSON (serde field order is
    /// fixed by the struct, so signer and verifier produce the same bytes).
    fn message(&self) -> Result<Vec<u8>, String> {
        let mut m = DOMAIN.to_vec();
        m.extend(serde_json::to_vec(self).map_err(|e| e.to_string())?);
        Ok(m)
    }

    /// Signs the plan with the hub's key.
    pub fn sign(self, key: &SigningKeyPair) -> Result<SignedRunPlan, String> {
        let signature = key.sign(&self.message()?);
        Ok(SignedRunPlan {
            plan: self,
            signature,
        })
    }

    /// Whether `computation`, asked for in this run, is within the plan: its
    /// grid and edges, the event-day horizon (the admitted analysis's) and β.
    pub fn check_computation(&self, computation: &Computation) -> Result<(), String> {
        let grid = |g: &[f64]| {
            if g.len() > self.max_grid_points {
                Err(format!(
                    "grid of {} points beyond the plan's {}",
                    g.len(),
                    self.max_grid_points
                ))
            } else {
                Ok(())
            }
        };
        let beta = |b: &[f64]| {
            if b.iter()
                .all(|x| x.is_finite() && x.abs() <= self.max_abs_beta)
            {
                Ok(())
            } else {
                Err(format!(
                    "a coefficient beyond the plan's ±{}",
                    self.max_abs_beta
                ))
            }
        };
        match computation {
            Computation::Totals | Computation::GlmStart => Ok(()),
            Computation::EventDays { horizon_days } => match &self.request.analysis {
                Analysis::KaplanMeier { survival, .. } | Analysis::Cox { survival, .. }
                    if *horizon_days <= survival.horizon_days =>
                {
                    Ok(())
                }
                _ => Err("event days beyond the plan's horizon or analysis".into()),
            },
            Computation::KmCounts { grid: g, .. } => grid(g),
            Computation::CoxSums {
                grid: g, beta: b, ..
            } => {
                grid(g)?;
                beta(b)
            }
            Computation::CoxStratum { beta: b, .. } | Computation::GlmStep { beta: b } => beta(b),
            Computation::Describe { edges } => grid(edges),
        }
    }
}

/// A [`RunPlan`] with the hub's Ed25519 signature on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRunPlan {
    /// The plan.
    pub plan: RunPlan,
    /// The hub's signature over the domain-separated plan.
    pub signature: Signature,
}

impl SignedRunPlan {
    /// The plan, if `hub` (the key the site pinned) signed it for run `run`.
    pub fn verify(&self, hub: &PublicKey, run: &QueryId) -> Result<&RunPlan, String> {
        if self.plan.run != *run {
            return Err("the plan is for another run".into());
        }
        hub.verify(&self.plan.message()?, &self.signature)
            .map_err(|_| "the plan's signature is not the hub's".to_string())?;
        Ok(&self.plan)
    }
}
