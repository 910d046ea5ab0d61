//! A swarm-learning run's grant (issue 15, item 5): the hub's signed word
//! that a researcher of an approved project started a swarm run of this
//! network and local training over these sites. The hub relays messages only
//! for granted runs and between their participants; each site fetches the
//! grant, verifies it with its pinned hub key and trains only what it names.

use crate::analysis::CellTraining;
use chrono::{DateTime, Utc};
use oncofed_crypto::{PublicKey, Signature, SigningKeyPair};
use serde::{Deserialize, Serialize};

/// `POST /v1/swarm/runs`: start a swarm run inside an approved project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmRunRequest {
    /// The project (its plan must name `cell-classifier`, its categories
    /// clinical and pathology data).
    pub project: String,
    /// The network, rounds and local training (no DP: in a swarm the round's
    /// leader sees each update; DP-FedAvg runs as a `cell-classifier` analysis).
    pub training: CellTraining,
    /// The sites taking part (registered site ids, at least 2); default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites: Option<Vec<String>>,
}

/// What the hub granted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmGrant {
    /// The run id (the relay's path segment).
    pub run: String,
    /// The approving project.
    pub project: String,
    /// The researcher who started it.
    pub researcher: String,
    /// The participating sites, sorted.
    pub participants: Vec<String>,
    /// What every participant trains.
    pub training: CellTraining,
    /// When.
    pub granted_at: DateTime<Utc>,
}

/// The domain separator of grant signatures.
const DOMAIN: &[u8] = b"oncofed-swarm-grant/v1\0";

impl SwarmGrant {
    fn message(&self) -> Result<Vec<u8>, String> {
        let mut m = DOMAIN.to_vec();
        m.extend(serde_json::to_vec(self).map_err(|e| e.to_string())?);
        Ok(m)
    }

    /// Signs the grant with the hub's key.
    pub fn sign(self, key: &SigningKeyPair) -> Result<SignedSwarmGrant, String> {
        let signature = key.sign(&self.message()?);
        Ok(SignedSwarmGrant {
            grant: self,
            signature,
        })
    }
}

/// A [`SwarmGrant`] with the hub's Ed25519 signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedSwarmGrant {
    /// The grant.
    pub grant: SwarmGrant,
    /// The hub's signature over the domain-separated grant.
    pub signature: Signature,
}

impl SignedSwarmGrant {
    /// The grant, if `hub` (the key the site pinned) signed it for `run` and
    /// it names `site` among its participants.
    pub fn verify(&self, hub: &PublicKey, run: &str, site: &str) -> Result<&SwarmGrant, String> {
        if self.grant.run != run {
            return Err("the grant is for another run".into());
        }
        hub.verify(&self.grant.message()?, &self.signature)
            .map_err(|_| "the grant's signature is not the hub's".to_string())?;
        if !self.grant.participants.iter().any(|p| p == site) {
            return Err("this site is not a participant of the run".into());
        }
        Ok(&self.grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_verifies_only_for_its_run_its_sites_and_the_hub() {
        let hub = SigningKeyPair::generate();
        let grant = SwarmGrant {
            run: "swarm-1".into(),
            project: "p".into(),
            researcher: "alice".into(),
            participants: vec!["site-1".into(), "site-2".into()],
            training: CellTraining::small("m"),
            granted_at: Utc::now(),
        }
        .sign(&hub)
        .unwrap();
        grant
            .verify(&hub.public_key(), "swarm-1", "site-1")
            .unwrap();
        assert!(
            grant
                .verify(&hub.public_key(), "swarm-2", "site-1")
                .is_err()
        );
        assert!(
            grant
                .verify(&hub.public_key(), "swarm-1", "site-3")
                .is_err()
        );
        let other = SigningKeyPair::generate();
        assert!(
            grant
                .verify(&other.public_key(), "swarm-1", "site-1")
                .is_err()
        );
        let mut widened = grant.clone();
        widened.grant.participants.push("site-3".into());
        assert!(
            widened
                .verify(&hub.public_key(), "swarm-1", "site-3")
                .is_err()
        );
    }
}
