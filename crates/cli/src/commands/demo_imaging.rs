//! The demo's imaging part: synthetic staging CTs for part of the cohort, each
//! site ingests its own through the trust centre (linked to the same persons as
//! their FHIR data), and site 1 delivers a project's chest CTs to a folder
//! (recorded in its delivery audit trail).

use oncofed_node::QueryService;
use oncofed_node::imaging::deliver::{DeliveryReport, DeliveryRequest, FolderTarget, ProjectKey};
use oncofed_node::imaging::{ImagingReport, ImagingSetup, ObjectArchive};
use oncofed_testkit::LocalFederation;
use serde::Serialize;
use std::path::Path;

/// Share of persons with a staging CT in the demo cohort.
pub const SHARE: f64 = 0.05;

/// What the demo did with images.
#[derive(Debug, Serialize)]
pub struct DemoImaging {
    /// Studies and objects the generator wrote.
    pub generated: oncofed_synth::ImagingSummary,
    /// Per site: what its DICOM ingest did.
    pub ingest: Vec<(String, ImagingReport)>,
    /// Site 1's delivery of a project's chest CTs to a folder.
    pub delivery: DeliveryReport,
}

/// The site's imaging setup in its node folder (UID key created there).
pub fn setup(node_dir: &Path) -> anyhow::Result<ImagingSetup> {
    std::fs::create_dir_all(node_dir)?;
    let key = oncofed_node::imaging::load_or_create_uid_key(&node_dir.join("dicom-uid.key"))?;
    Ok(ImagingSetup::new(
        &key,
        ObjectArchive::local(&node_dir.join("images"))?,
    ))
}

/// Ingests site `i`'s synthetic studies (`cohort/<site>/imaging`).
pub async fn ingest_site(
    fed: &LocalFederation,
    i: usize,
    service: &QueryService,
    cohort: &Path,
) -> anyhow::Result<ImagingReport> {
    let input = cohort.join(fed.sites[i].as_str()).join("imaging");
    if !input.exists() {
        return Ok(ImagingReport::default());
    }
    let setup = setup(&fed.node_dir(i))?;
    let client = fed.trustee_client(i)?;
    Ok(
        oncofed_node::imaging::ingest_dicom(
            &service.store(),
            &client,
            &setup,
            &[input],
            &|_, _| {},
        )
        .await?,
    )
}

/// The criteria of the demo's imaging questions: lung cancer with a chest CT
/// within 90 days after the diagnosis.
pub fn chest_ct_criteria() -> serde_json::Value {
    serde_json::json!({"and": [
        {"diagnosis": {"icd10": "C34"}},
        {"imaging": {"modality": ["CT"], "body_part": "CHEST",
                     "after_diagnosis": {"icd10": "C34", "max_days": 90}}}
    ]})
}

/// Site 1 delivers the chest-CT cohort's images for a demo project to `out`.
pub async fn deliver(
    fed: &LocalFederation,
    service: &QueryService,
    out: &Path,
) -> anyhow::Result<DeliveryReport> {
    let criteria: oncofed_criteria::Criteria = serde_json::from_value(chest_ct_criteria())?;
    let store = service.store();
    let cohort = tokio::task::spawn_blocking(move || {
        let guard = store.lock().unwrap_or_else(|p| p.into_inner());
        guard.feasibility(&criteria)
    })
    .await??
    .into_iter()
    .map(|(site, _)| site)
    .collect();
    let request = DeliveryRequest {
        project: "demo-lung-ct".into(),
        key: ProjectKey::new(rand::random()),
        cohort,
        today: chrono::Utc::now().date_naive(),
    };
    let mut target = FolderTarget(out.to_owned());
    let setup = setup(&fed.node_dir(0))?;
    let audit = oncofed_node::imaging::deliver::DeliveryAudit::open(
        fed.node_dir(0).join("delivery-audit.db"),
        fed.site_key(0),
        oncofed_audit::DEFAULT_CHECKPOINT_EVERY,
    )?;
    Ok(oncofed_node::imaging::deliver::deliver(
        &service.store(),
        &service.gate(),
        &setup,
        &audit,
        &request,
        &mut target,
    )
    .await?)
}

/// The imaging lines of the demo summary.
pub fn print(s: &DemoImaging) {
    println!(
        "\nimaging: {} synthetic staging CTs ({} objects) at the persons' primary sites",
        s.generated.studies, s.generated.objects
    );
    for (site, r) in &s.ingest {
        println!(
            "  {site:<12} {} objects stored ({:.0}/s) for {} patients in {} series, de-identified (PS3.15, dates shifted per person), {} quarantined",
            r.objects_stored,
            r.objects_per_second,
            r.patients,
            r.series,
            r.quarantined_total()
        );
    }
    let d = &s.delivery;
    println!(
        "  delivery {} ({}): {} objects of {} persons under project pseudonyms, {} withheld by consent, {} head/neck objects kept at the site",
        d.project,
        d.target,
        d.objects_delivered,
        d.persons_delivered,
        d.objects_refused_consent,
        d.objects_withheld_face
    );
}
