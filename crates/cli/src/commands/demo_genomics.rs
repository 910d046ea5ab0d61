//! The demo's sequencing part (issue 16): tumour/normal and germline VCFs for
//! part of the cohort, each site ingests its own through the trust centre
//! (files kept only Crypt4GH-encrypted to the site's key, calls in the store),
//! the researcher asks a variant-level feasibility question across the sites
//! (persons with the genetic opt-in only, under disclosure control),
//! and site 1 delivers regions of its persons' somatic VCFs to a project's
//! researcher, encrypted to the researcher's key, only with the genetic opt-in;
//! the hub's Beacon answers one allele for the public, a registered researcher
//! and a project with controlled access.

use oncofed_crypt4gh::SecretKey;
use oncofed_model::{Pseudonym, VariantOrigin};
use oncofed_node::QueryService;
use oncofed_node::genomics::{self, GenomicsReport, GenomicsSetup, SequenceRequest};
use oncofed_node::imaging::ObjectArchive;
use oncofed_node::imaging::deliver::{DeliveryAudit, ProjectKey};
use oncofed_protocol::api::FeasibilityResponse;
use oncofed_synth::{GenomicsConfig, GenomicsSummary, SynthConfig};
use oncofed_testkit::LocalFederation;
use serde::Serialize;
use std::path::Path;

/// Share of persons sequenced in the demo cohort.
pub const SHARE: f64 = 0.3;
/// Sites of the germline background panel (small, so the demo stays quick).
pub const PANEL: usize = 2_000;

/// What the demo did with sequencing data.
#[derive(Debug, Serialize)]
pub struct DemoGenomics {
    /// What the generator wrote.
    pub generated: GenomicsSummary,
    /// Per site: what its sequencing ingest did.
    pub ingest: Vec<(String, GenomicsReport)>,
    /// "Somatic EGFR variant with VAF ≥ 5 %" across the sites, under disclosure control.
    pub egfr_somatic: FeasibilityResponse,
    /// Site 1's region deliveries to a project's researcher.
    pub delivery: DemoDelivery,
    /// "Is EGFR p.L858R (7:55191822 T>G) in the federation?" asked of the
    /// hub's Beacon v2 anonymously, as a registered researcher and inside a
    /// project with controlled access: each role's answer.
    pub beacon: Vec<DemoBeacon>,
}

/// One role's Beacon answer.
#[derive(Debug, Serialize)]
pub struct DemoBeacon {
    /// `PUBLIC`, `REGISTERED` or `CONTROLLED`.
    pub role: &'static str,
    /// HTTP status.
    pub status: u16,
    /// `boolean` or `count`.
    pub granularity: Option<String>,
    /// Whether the allele is there (at ≥ k consented carriers).
    pub exists: Option<bool>,
    /// The noised, rounded count, when the role gets counts.
    pub count: Option<u64>,
    /// Sites that answered within the hub's deadline, of those asked.
    pub sites_answered: Option<u64>,
}

/// Site 1's deliveries of EGFR regions (htsget's unit of work).
#[derive(Debug, Default, Serialize)]
pub struct DemoDelivery {
    /// Persons with a somatic file asked for.
    pub asked: usize,
    /// Delivered (the genetic opt-in permits it).
    pub delivered: usize,
    /// Refused: no opt-in (the same answer as an unknown id).
    pub refused: usize,
    /// VCF records delivered in all.
    pub records: u64,
    /// Encrypted bytes delivered in all.
    pub bytes: u64,
}

/// Writes the cohort's VCFs (`cohort/<site>/genomics`).
pub async fn generate(config: &SynthConfig, cohort: &Path) -> anyhow::Result<GenomicsSummary> {
    let (config, cohort) = (config.clone(), cohort.to_owned());
    let genomics = GenomicsConfig {
        share: SHARE,
        panel_size: PANEL,
        ..GenomicsConfig::default()
    };
    Ok(tokio::task::spawn_blocking(move || {
        oncofed_synth::write_genomics(&config, &genomics, &cohort)
    })
    .await??)
}

/// The site's sequencing setup in its node folder (keys created there).
pub fn setup(node_dir: &Path) -> anyhow::Result<GenomicsSetup> {
    std::fs::create_dir_all(node_dir)?;
    let key = oncofed_node::imaging::load_or_create_uid_key(&node_dir.join("dicom-uid.key"))?;
    let site_key = genomics::load_or_create_site_key(&node_dir.join("sequences.c4gh.sec"))?;
    Ok(GenomicsSetup::new(
        ObjectArchive::local(&node_dir.join("images"))?,
        key,
        site_key,
    ))
}

/// Ingests every site's batch, asks the federated question, delivers at site 1.
pub async fn run(
    fed: &LocalFederation,
    services: &[QueryService],
    cohort: &Path,
    generated: GenomicsSummary,
) -> anyhow::Result<DemoGenomics> {
    let mut ingest = Vec::new();
    for (i, service) in services.iter().enumerate() {
        let batch = cohort.join(fed.sites[i].as_str()).join("genomics");
        if !genomics::is_sequencing_batch(&batch) {
            continue;
        }
        let setup = setup(&fed.node_dir(i))?;
        let client = fed.trustee_client(i)?;
        let report = genomics::ingest_sequencing(&service.store(), &client, &setup, &batch).await?;
        ingest.push((fed.sites[i].to_string(), report));
    }
    let criteria = serde_json::from_value(serde_json::json!(
        {"variant": {"gene": "EGFR", "origin": "somatic", "vaf_min": 0.05}}
    ))?;
    let egfr_somatic = fed.researcher().feasibility(criteria, 30).await?;
    let delivery = deliver(fed, &services[0]).await?;
    let beacon = oncofed_testkit::beacon::three_roles(fed, oncofed_testkit::beacon::egfr_l858r())
        .await?
        .into_iter()
        .map(|a| DemoBeacon {
            role: a.role,
            status: a.reply.status,
            granularity: a
                .reply
                .body
                .pointer("/meta/returnedGranularity")
                .and_then(|g| g.as_str())
                .map(str::to_owned),
            exists: a.reply.exists(),
            count: a
                .reply
                .body
                .pointer("/responseSummary/numTotalResults")
                .and_then(|c| c.as_u64()),
            sites_answered: a
                .reply
                .body
                .pointer("/info/oncofedSites/answered")
                .and_then(|c| c.as_u64()),
        })
        .collect();
    Ok(DemoGenomics {
        generated,
        ingest,
        egfr_somatic,
        delivery,
        beacon,
    })
}

/// Site 1 delivers the EGFR region of every person's somatic file to a demo
/// project's researcher (a fresh Crypt4GH key pair), recorded in its delivery
/// audit trail.
async fn deliver(fed: &LocalFederation, service: &QueryService) -> anyhow::Result<DemoDelivery> {
    let setup = setup(&fed.node_dir(0))?;
    let store = service.store();
    let persons: Vec<(Pseudonym, Pseudonym)> = tokio::task::spawn_blocking(move || {
        let s = store.lock().unwrap_or_else(|p| p.into_inner());
        let mut all = Vec::new();
        s.for_each_patient(&mut |p| all.push((p.pseudonym, p.research_pseudonym)))?;
        let mut out = Vec::new();
        for (site, research) in all {
            let files = s.sequence_files_of(std::slice::from_ref(&site))?;
            if files.iter().any(|f| f.origin == VariantOrigin::Somatic) {
                out.push((site, research));
            }
        }
        anyhow::Ok(out)
    })
    .await??;
    let researcher = SecretKey::generate()?;
    let request = SequenceRequest {
        project: "demo-genomics".into(),
        key: ProjectKey::new(rand::random()),
        recipient: researcher.public_key(),
        today: chrono::Utc::now().date_naive(),
    };
    let audit = DeliveryAudit::open(
        fed.node_dir(0).join("delivery-audit.db"),
        fed.site_key(0),
        oncofed_audit::DEFAULT_CHECKPOINT_EVERY,
    )?;
    let region: oncofed_vcf::Region = "7:55019017-55211628".parse().map_err(anyhow::Error::msg)?;
    let mut out = DemoDelivery {
        asked: persons.len(),
        ..Default::default()
    };
    for (_, research) in &persons {
        let id = request.key.pseudonym(research);
        match genomics::deliver_region(
            &service.store(),
            &service.gate(),
            &setup,
            &audit,
            &request,
            &genomics::RegionQuery {
                id,
                origin: VariantOrigin::Somatic,
                region: Some(region),
            },
        )
        .await
        {
            Ok(d) => {
                out.delivered += 1;
                out.records += d.records;
                out.bytes += d.bytes.len() as u64;
            }
            Err(genomics::DeliveryError::NotFound) => out.refused += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// The human-readable lines.
pub fn print(g: &DemoGenomics) {
    println!(
        "sequencing: {} persons sequenced ({} tumour/normal and {} germline VCFs)",
        g.generated.persons_sequenced, g.generated.somatic_files, g.generated.germline_files
    );
    for (site, r) in &g.ingest {
        println!(
            "  {site}: {} files of {} persons, {} somatic and {} germline calls, {} objects Crypt4GH-encrypted at rest",
            r.files, r.patients, r.somatic_calls, r.germline_calls, r.objects
        );
    }
    println!(
        "  somatic EGFR variants (VAF ≥ 5 %) across the sites: {}",
        serde_json::to_string(&g.egfr_somatic.total).unwrap_or_default()
    );
    let d = &g.delivery;
    println!(
        "  site-1 EGFR regions for a project: {} of {} persons delivered ({} records, {} bytes encrypted to the researcher), {} refused without the genetic opt-in",
        d.delivered, d.asked, d.records, d.bytes, d.refused
    );
    for b in &g.beacon {
        println!(
            "  Beacon v2, EGFR p.L858R as {}: HTTP {}, {} ({} sites answered)",
            b.role,
            b.status,
            match (b.exists, b.count) {
                (_, Some(c)) => format!("count {c}"),
                (Some(e), None) => format!("exists {e}"),
                _ => "no answer".into(),
            },
            b.sites_answered.map_or("?".into(), |n| n.to_string())
        );
    }
}
