//! Delivery of a project's images: the de-identified objects of the consenting
//! cohort, under project pseudonyms and project UIDs, to a folder or a research
//! PACS, audited.
//!
//! Per object, at delivery time: the person's consent for imaging and research
//! is asked of the [`ConsentGate`] with the study's date as the data's origin;
//! a head or neck CT/MR volume (a face could be reconstructed) stays at the
//! site, since the node does not deface; the object is then de-identified again
//! under the project's key: Patient ID and Name become the project pseudonym
//! (`HMAC(project key, research pseudonym)`, the same for one person at every
//! site of the project, since the research pseudonym is) and every UID is
//! mapped to a project UID, so two projects cannot join their objects by UID.
//! Dates stay as the site shifted them (the person's offset).

use super::{ArchiveError, ImagingSetup, SITE_OPTIONS};
use crate::{ConsentGate, GateError, SharedStore, with_store};
use dicom_object::{FileDicomObject, InMemDicomObject};
use hmac::{Hmac, Mac};
use oncofed_dicom::{Deidentifier, Subject};
use oncofed_model::{DataCategory, Pseudonym, Purpose};
use oncofed_store::{ImageRow, StoreError};
use serde::Serialize;
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// A project's secret for its pseudonyms and UIDs: 32 bytes given to every
/// site of the project with its approval (e.g. in a file), never to researchers.
#[derive(Clone)]
pub struct ProjectKey([u8; 32]);

impl std::fmt::Debug for ProjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProjectKey(<secret>)")
    }
}

impl ProjectKey {
    /// The key from its 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key from 64 hex digits (a key file's content, whitespace trimmed).
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let bytes =
            hex::decode(text.trim()).map_err(|e| format!("a project key is 64 hex digits: {e}"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "a project key is 64 hex digits (32 bytes)".to_owned())?;
        Ok(Self(bytes))
    }

    fn mac(&self, domain: &[u8], value: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(domain);
        mac.update(value);
        mac.finalize().into_bytes().into()
    }

    /// The person's pseudonym in the project: `P` and 20 hex digits of
    /// `HMAC(key, "project pseudonym\0" ‖ research pseudonym)`.
    pub fn pseudonym(&self, research: &Pseudonym) -> String {
        let mac = self.mac(b"project pseudonym\0", research.as_str().as_bytes());
        format!("P{}", hex::encode(&mac[..10]))
    }

    /// The key under which the project's UIDs are derived.
    fn uid_key(&self) -> [u8; 32] {
        self.mac(b"project uids\0", b"")
    }
}

/// Where a delivery goes.
pub trait DeliveryTarget: Send {
    /// Delivers one de-identified object; `Err` names why it did not arrive.
    fn deliver(
        &mut self,
        project_pseudonym: &str,
        object: &FileDicomObject<InMemDicomObject>,
    ) -> Result<(), String>;

    /// Where, for the report and the audit record (no credentials).
    fn describe(&self) -> String;
}

/// A folder: `<folder>/<project pseudonym>/<study UID>/<SOP instance UID>.dcm`.
#[derive(Debug, Clone)]
pub struct FolderTarget(pub PathBuf);

impl DeliveryTarget for FolderTarget {
    fn deliver(
        &mut self,
        project_pseudonym: &str,
        object: &FileDicomObject<InMemDicomObject>,
    ) -> Result<(), String> {
        let uid = |g, e| {
            object
                .get(dicom_core::Tag(g, e))
                .and_then(|e| e.value().to_str().ok())
                .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
                .unwrap_or_else(|| "unknown".into())
        };
        let dir = self.0.join(project_pseudonym).join(uid(0x0020, 0x000D));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(format!("{}.dcm", uid(0x0008, 0x0018)));
        object
            .write_to_file(&path)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    fn describe(&self) -> String {
        format!("folder {}", self.0.display())
    }
}

/// What a delivery did: counts, never values.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliveryReport {
    /// The project.
    pub project: String,
    /// Where the objects went.
    pub target: String,
    /// Persons of the cohort with images at this site.
    pub persons_with_images: usize,
    /// Of those, persons whose consent permits delivering their images now.
    pub persons_delivered: usize,
    /// Objects delivered.
    pub objects_delivered: usize,
    /// Objects withheld because the person's consent does not permit it.
    pub objects_refused_consent: usize,
    /// Objects of head or neck CT/MR volumes kept at the site (not defaced).
    pub objects_withheld_face: usize,
    /// Objects the target did not take, with why.
    pub failures: Vec<String>,
    /// De-identified bytes delivered.
    pub bytes: u64,
    /// Persons for whom the trust centre newly recorded this delivery as a use
    /// of their data (`POST /v1/usage`: each reads it in the patients' portal).
    pub usage_reported: usize,
    /// Why the use could not be reported, if it could not (the images were
    /// delivered already; report again by repeating the delivery, which the
    /// trust centre records once).
    pub usage_report_error: Option<String>,
}

/// Why a delivery stopped.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// Consent could not be answered (the snapshot is too old): nothing was delivered.
    #[error("consent cannot be checked, nothing was delivered: {0}")]
    Consent(#[from] GateError),
    /// The delivery could not be recorded in the site's audit trail: nothing
    /// was delivered (the record is written first).
    #[error("the delivery cannot be audited, nothing was delivered: {0}")]
    Audit(#[from] oncofed_audit::AuditError),
}

/// The site's audit trail of deliveries (`oncofed-audit`: hash-chained,
/// checkpoints signed with the site's key, verifiable with `oncofed audit
/// verify`): one entry when a delivery starts (project, target, cohort size)
/// and one with its counts when it ends, so a delivery that stopped half-way
/// is visible too.
pub type DeliveryAudit = oncofed_audit::AuditLog;

/// One delivery: which project, under which key, whom, on which day.
#[derive(Debug, Clone)]
pub struct DeliveryRequest {
    /// The approved project's id.
    pub project: String,
    /// The project's key.
    pub key: ProjectKey,
    /// Site pseudonyms of the project's cohort at this site.
    pub cohort: Vec<Pseudonym>,
    /// The day of delivery, on which consent is asked.
    pub today: chrono::NaiveDate,
}

/// Delivers the images of the request's cohort to `target`, checking each
/// person's consent for imaging in research on the request's day.
pub async fn deliver(
    store: &SharedStore,
    gate: &ConsentGate,
    setup: &ImagingSetup,
    audit: &DeliveryAudit,
    request: &DeliveryRequest,
    target: &mut dyn DeliveryTarget,
) -> Result<DeliveryReport, DeliveryError> {
    audit.append(
        "site",
        "images.delivery.started",
        &format!("project/{}", request.project),
        serde_json::json!({
            "target": target.describe(),
            "cohort": request.cohort.len(),
            "day": request.today.to_string(),
        }),
    )?;
    let report = deliver_audited(store, gate, setup, request, target).await?;
    audit.append(
        "site",
        "images.delivery.finished",
        &format!("project/{}", request.project),
        serde_json::to_value(&report).unwrap_or_default(),
    )?;
    Ok(report)
}

async fn deliver_audited(
    store: &SharedStore,
    gate: &ConsentGate,
    setup: &ImagingSetup,
    request: &DeliveryRequest,
    target: &mut dyn DeliveryTarget,
) -> Result<DeliveryReport, DeliveryError> {
    let DeliveryRequest {
        project,
        key,
        cohort,
        today,
    } = request;
    let today = *today;
    let cohort_owned = cohort.clone();
    let (rows, research): (Vec<ImageRow>, BTreeMap<Pseudonym, Pseudonym>) =
        with_store(store, move |s| {
            let rows = s.images_of(&cohort_owned)?;
            let mut research = BTreeMap::new();
            s.for_each_patient(&mut |p| {
                research.insert(p.pseudonym, p.research_pseudonym);
            })?;
            Ok((rows, research))
        })
        .await?;
    let mut report = DeliveryReport {
        project: project.to_owned(),
        target: target.describe(),
        ..Default::default()
    };
    let persons: BTreeSet<&Pseudonym> = rows.iter().map(|r| &r.pseudonym).collect();
    report.persons_with_images = persons.len();
    let asked = rows
        .iter()
        .map(|r| (r.pseudonym.clone(), DataCategory::Imaging, r.study_date))
        .collect::<BTreeSet<_>>();
    let permitted = gate
        .permitted_facts(Purpose::Research, today, asked)
        .await?;
    let project_deid =
        Deidentifier::new(SITE_OPTIONS, &key.uid_key()).expect("the site options are compatible");
    let mut delivered_persons = BTreeSet::new();
    for row in &rows {
        if !permitted.contains(&(row.pseudonym.clone(), DataCategory::Imaging, row.study_date)) {
            report.objects_refused_consent += 1;
            continue;
        }
        if row.face_risk {
            report.objects_withheld_face += 1;
            continue;
        }
        let Some(research_psn) = research.get(&row.pseudonym) else {
            report.objects_refused_consent += 1;
            continue;
        };
        let bytes = setup.archive().get(&row.object_key).await?;
        // The archive holds Part 10 files: a 128-byte preamble, then `DICM`.
        let body = bytes.get(128..).unwrap_or_default();
        let object = match dicom_object::from_reader(body) {
            Ok(o) => o,
            Err(e) => {
                report
                    .failures
                    .push(format!("{}: stored object unreadable: {e}", row.object_key));
                continue;
            }
        };
        let pseudonym = key.pseudonym(research_psn);
        let subject = Subject {
            pseudonym: pseudonym.clone(),
            date_offset_days: 0,
            identifiers: Vec::new(),
        };
        let (out, _) = match project_deid.deidentify(object, &subject) {
            Ok(o) => o,
            Err(e) => {
                report.failures.push(format!("{}: {e}", row.object_key));
                continue;
            }
        };
        match target.deliver(&pseudonym, &out) {
            Ok(()) => {
                report.objects_delivered += 1;
                report.bytes += row.bytes;
                delivered_persons.insert(row.pseudonym.clone());
            }
            Err(e) => report.failures.push(format!("{}: {e}", row.object_key)),
        }
    }
    report.persons_delivered = delivered_persons.len();
    let delivered: Vec<Pseudonym> = delivered_persons.into_iter().collect();
    for chunk in delivered.chunks(oncofed_trustee_api::MAX_BATCH) {
        let usage = oncofed_trustee_api::UsageReport {
            project: project.to_owned(),
            kind: oncofed_trustee_api::UsageKind::ImageDelivery,
            date: today,
            pseudonyms: chunk.to_vec(),
        };
        match gate.trustee().report_usage(&usage).await {
            Ok(recorded) => report.usage_reported += recorded.recorded,
            Err(e) => {
                report.usage_report_error = Some(e.to_string());
                break;
            }
        }
    }
    Ok(report)
}

/// A research PACS, by C-STORE: one association per object, so a failure
/// names the object and nothing is counted before the peer confirmed it.
#[derive(Debug, Clone)]
pub struct ScuTarget {
    /// Our side (calling AE title, timeouts).
    pub scu: oncofed_dicom_net::StoreScu,
    /// The research PACS.
    pub destination: oncofed_dicom_net::Destination,
}

impl DeliveryTarget for ScuTarget {
    fn deliver(
        &mut self,
        _project_pseudonym: &str,
        object: &FileDicomObject<InMemDicomObject>,
    ) -> Result<(), String> {
        let report = self
            .scu
            .send(&self.destination, std::slice::from_ref(object))
            .map_err(|e| e.to_string())?;
        if report.stored() == 1 {
            Ok(())
        } else {
            Err(report
                .failures()
                .map(|(_, outcome)| format!("{outcome:?}"))
                .next()
                .unwrap_or_else(|| "the peer did not confirm the object".into()))
        }
    }

    fn describe(&self) -> String {
        format!(
            "C-STORE to {} at {}",
            self.destination.called_ae, self.destination.address
        )
    }
}
