//! The federated Beacon from a caller's side (issue 16): the three roles'
//! queries the demo shows, and the EGFR L858R query it asks.

use crate::LocalFederation;
use anyhow::Context;
use oncofed_hub_api::{BeaconReply, beacon_request};
use oncofed_model::DataCategory;
use oncofed_node::QueryService;
use oncofed_node::genomics::{GenomicsReport, GenomicsSetup, ingest_sequencing};
use oncofed_protocol::analysis::Project;
use serde_json::{Map, Value, json};
use std::path::Path;

/// Ingests site `i`'s sequencing batch `dir` (`samples.csv` + VCFs, as the
/// synthetic cohort writes under `site-k/genomics/`) into its store, with a
/// Crypt4GH key and an object archive in the node's folder. Run it after the
/// site's FHIR ingest (the persons must be known to the trust centre).
pub async fn ingest_genomics(
    fed: &LocalFederation,
    i: usize,
    service: &QueryService,
    dir: &Path,
) -> anyhow::Result<GenomicsReport> {
    let node = fed.node_dir(i);
    let key_file = node.join("genomics.secret");
    let key: [u8; 32] = match std::fs::read(&key_file) {
        Ok(bytes) => bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{} is not 32 bytes", key_file.display()))?,
        Err(_) => {
            let key = rand_key();
            crate_write_secret(&key_file, &key)?;
            key
        }
    };
    let setup = GenomicsSetup::new(
        oncofed_node::imaging::ObjectArchive::local(&node.join("objects"))?,
        key,
        oncofed_node::genomics::load_or_create_site_key(&node.join("site.c4gh"))?,
    );
    let client = fed.trustee_client(i)?;
    ingest_sequencing(&service.store(), &client, &setup, dir)
        .await
        .with_context(|| format!("sequencing ingest of {}", dir.display()))
}

fn rand_key() -> [u8; 32] {
    use std::hash::{BuildHasher, Hasher};
    // 32 bytes from the standard library's randomly seeded hasher: a test
    // federation's key, not a production secret (the node has its own).
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

fn crate_write_secret(path: &Path, key: &[u8; 32]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, key)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The project the demo's controlled-access query names.
pub const CONTROLLED_PROJECT: &str = "beacon-controlled";

/// `requestParameters` of EGFR p.L858R (c.2573T>G) on GRCh38: VCF
/// `7:55191822 T>G`, Beacon `start` 55191821 (0-based).
pub fn egfr_l858r() -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("assemblyId".into(), json!("GRCh38"));
    p.insert("referenceName".into(), json!("7"));
    p.insert("start".into(), json!([55_191_821u64]));
    p.insert("referenceBases".into(), json!("T"));
    p.insert("alternateBases".into(), json!("G"));
    p
}

/// What one role was released.
#[derive(Debug, Clone)]
pub struct RoleAnswer {
    /// `PUBLIC`, `REGISTERED` or `CONTROLLED`.
    pub role: &'static str,
    /// The hub's answer.
    pub reply: BeaconReply,
}

/// Asks `parameters` once anonymously, once as the federation's researcher
/// and once as that researcher inside [`CONTROLLED_PROJECT`] (approved by the
/// admin for genetic and germline data if it does not exist yet), each asking
/// for counts; returns what each was released.
pub async fn three_roles(
    fed: &LocalFederation,
    parameters: Map<String, Value>,
) -> anyhow::Result<Vec<RoleAnswer>> {
    let projects = fed.researcher().projects().await?;
    if !projects.iter().any(|p| p.project.id == CONTROLLED_PROJECT) {
        fed.admin()
            .approve_project(&Project {
                id: CONTROLLED_PROJECT.into(),
                title: "Beacon, controlled access to genetic and germline variants".into(),
                researchers: vec!["researcher".into()],
                categories: [DataCategory::Genetic, DataCategory::Germline]
                    .into_iter()
                    .collect(),
                epsilon_budget: 1.0,
                plan: Default::default(),
            })
            .await?;
    }
    let request = beacon_request(parameters, Some("count"));
    let public = fed.anonymous()?.beacon_g_variants(&request, None).await?;
    let registered = fed.researcher().beacon_g_variants(&request, None).await?;
    let controlled = fed
        .researcher()
        .beacon_g_variants(&request, Some(CONTROLLED_PROJECT))
        .await?;
    Ok(vec![
        RoleAnswer {
            role: "PUBLIC",
            reply: public,
        },
        RoleAnswer {
            role: "REGISTERED",
            reply: registered,
        },
        RoleAnswer {
            role: "CONTROLLED",
            reply: controlled,
        },
    ])
}
