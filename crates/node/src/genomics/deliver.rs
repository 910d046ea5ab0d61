//! Controlled access to sequences (issue 16, item 5): for an approved project,
//! a region of one person's VCF, cut from the site's encrypted file, its sample
//! columns renamed to the person's project pseudonym, and encrypted with
//! Crypt4GH to the researcher's public key, so that only the researcher can read
//! what leaves the site (the htsget endpoint in [`crate::serve`] streams it).
//!
//! Per request: the person is found by their project pseudonym (the same
//! `HMAC(project key, research pseudonym)` image deliveries use); their consent
//! for the file's category (somatic: genetic, germline: germline; both need the
//! genetic opt-in) and research is asked of the [`ConsentGate`] with the
//! sample's date as the origin; a person without it, and a person the site does
//! not hold, get the same answer ([`DeliveryError::NotFound`]), so the answer
//! does not tell whether a refusing person exists. Every request is recorded in
//! the site's audit trail with its outcome, before any byte is sent, and every
//! granted one is reported to the trust centre as a use of the person's data
//! (`POST /v1/usage`), so the person reads it in the patients' portal; when the
//! report fails, nothing is delivered.

use super::GenomicsSetup;
use crate::imaging::ArchiveError;
use crate::imaging::deliver::{DeliveryAudit, ProjectKey};
use crate::{ConsentGate, GateError, SharedStore, with_store};
use chrono::NaiveDate;
use oncofed_crypt4gh::PublicKey;
use oncofed_model::{Pseudonym, Purpose, VariantOrigin};
use oncofed_store::{SequenceFileRow, StoreError};
use oncofed_vcf::{ExtractFormat, ReadOptions, Region, VcfReader};
use std::collections::BTreeSet;

/// What a researcher's request names besides the person and region.
#[derive(Debug, Clone)]
pub struct SequenceRequest {
    /// The approved project.
    pub project: String,
    /// The project's key (its pseudonyms).
    pub key: ProjectKey,
    /// The researcher's Crypt4GH public key: the only recipient.
    pub recipient: PublicKey,
    /// The day consent is asked on.
    pub today: NaiveDate,
}

/// What is asked for: a person, the origin of their file, a region.
#[derive(Debug, Clone)]
pub struct RegionQuery {
    /// The person's project pseudonym.
    pub id: String,
    /// Somatic or germline: which of the person's files.
    pub origin: VariantOrigin,
    /// The region; the whole file without one.
    pub region: Option<Region>,
}

/// A delivered region: Crypt4GH bytes of a BGZF-compressed VCF.
#[derive(Debug, Clone)]
pub struct RegionDelivery {
    /// The encrypted extract.
    pub bytes: Vec<u8>,
    /// VCF records in it.
    pub records: u64,
}

/// Why nothing was delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// No such person with a file of that origin, or their consent does not
    /// permit the delivery (one answer for both).
    #[error("no sequencing data of that id and origin can be delivered for this project")]
    NotFound,
    /// Consent cannot be checked now: nothing is delivered.
    #[error("consent cannot be checked, nothing was delivered: {0}")]
    Consent(#[from] GateError),
    /// The store failed.
    #[error("the site store failed, nothing was delivered: {0}")]
    Store(#[from] StoreError),
    /// The archive failed.
    #[error("the site archive failed, nothing was delivered: {0}")]
    Archive(#[from] ArchiveError),
    /// The stored file could not be decrypted or re-encrypted.
    #[error("the stored file could not be opened, nothing was delivered: {0}")]
    Crypt4gh(#[from] oncofed_crypt4gh::Crypt4ghError),
    /// The stored file could not be cut.
    #[error("the stored file could not be cut, nothing was delivered: {0}")]
    Vcf(#[from] oncofed_vcf::VcfError),
    /// The request could not be audited: nothing was delivered.
    #[error("the delivery cannot be audited, nothing was delivered: {0}")]
    Audit(#[from] oncofed_audit::AuditError),
    /// The trust centre could not record the use for the person's page in the
    /// patients' portal: nothing was delivered.
    #[error("the use cannot be reported to the trust centre, nothing was delivered: {0}")]
    Usage(#[from] oncofed_trustee_api::TrusteeError),
}

/// Delivers the query's region (all of the file without one) of the newest
/// file of its origin of the person whose project pseudonym it names,
/// consent-checked, audited, encrypted to the request's recipient.
// Eight inputs of different kinds, each named at the call site (main's code;
// allowed here so that the node's clippy passes).
pub async fn deliver_region(
    store: &SharedStore,
    gate: &ConsentGate,
    setup: &GenomicsSetup,
    audit: &DeliveryAudit,
    request: &SequenceRequest,
    query: &RegionQuery,
) -> Result<RegionDelivery, DeliveryError> {
    let (project_pseudonym, origin, region) =
        (query.id.as_str(), query.origin, query.region.as_ref());
    let outcome = find_permitted(store, gate, request, project_pseudonym, origin).await;
    let target = format!("project/{}", request.project);
    let details = |result: &str| {
        serde_json::json!({
            "id": project_pseudonym,
            "origin": origin.as_str(),
            "region": region.map(ToString::to_string),
            "result": result,
        })
    };
    let file = match outcome {
        Ok(Some(file)) => file,
        Ok(None) => {
            audit.append(
                "site",
                "sequences.delivery.refused",
                &target,
                details("not-found-or-no-consent"),
            )?;
            return Err(DeliveryError::NotFound);
        }
        Err(e) => {
            audit.append(
                "site",
                "sequences.delivery.failed",
                &target,
                details("error"),
            )?;
            return Err(e);
        }
    };
    // The person can read every delivery in the patients' portal: reported to
    // the trust centre before any byte leaves (no report, no delivery).
    let report = oncofed_trustee_api::UsageReport {
        project: request.project.clone(),
        kind: oncofed_trustee_api::UsageKind::SequenceDelivery,
        date: request.today,
        pseudonyms: vec![file.pseudonym.clone()],
    };
    if let Err(e) = gate.trustee().report_usage(&report).await {
        audit.append(
            "site",
            "sequences.delivery.failed",
            &target,
            details("usage-not-reported"),
        )?;
        return Err(e.into());
    }
    audit.append(
        "site",
        "sequences.delivery.granted",
        &target,
        details("granted"),
    )?;
    let sealed = setup.archive.get(&file.object_key).await?;
    let mut plain = Vec::with_capacity(sealed.len());
    oncofed_crypt4gh::decrypt(sealed.as_slice(), &mut plain, &setup.site_key, None)?;
    drop(sealed);
    // The file's origin as it was ingested (a germline call set declares it
    // only in the batch manifest).
    let opts = ReadOptions {
        declared_origin: Some(file.origin),
        ..ReadOptions::default()
    };
    let reader = VcfReader::from_bytes(plain, &opts)?;
    let names = column_names(&reader, project_pseudonym);
    let keep: Vec<usize> = (0..names.len()).collect();
    let mut extract = Vec::new();
    let summary = oncofed_vcf::write_extract_from(
        reader,
        &keep,
        &names,
        region,
        &mut extract,
        ExtractFormat::BgzfVcf,
    )?;
    let mut bytes = Vec::with_capacity(extract.len() + extract.len() / 1024 + 1024);
    oncofed_crypt4gh::encrypt(
        extract.as_slice(),
        &mut bytes,
        None,
        std::slice::from_ref(&request.recipient),
        None,
    )?;
    Ok(RegionDelivery {
        bytes,
        records: summary.records,
    })
}

/// The names of a delivered file's columns: the project pseudonym, with the
/// column's role when the file has several (`…-tumor`, `…-normal`).
fn column_names(reader: &VcfReader, project_pseudonym: &str) -> Vec<String> {
    let samples = reader.samples();
    if samples.len() == 1 {
        return vec![project_pseudonym.to_owned()];
    }
    let mut seen = BTreeSet::new();
    samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let role = match s.role {
                oncofed_vcf::SampleRole::Tumor => "tumor",
                oncofed_vcf::SampleRole::Normal => "normal",
                oncofed_vcf::SampleRole::Germline => "germline",
            };
            let name = format!("{project_pseudonym}-{role}");
            if seen.insert(name.clone()) {
                name
            } else {
                format!("{name}{}", i + 1)
            }
        })
        .collect()
}

/// The newest file of `origin` of the person, if their consent permits its
/// delivery for research today.
async fn find_permitted(
    store: &SharedStore,
    gate: &ConsentGate,
    request: &SequenceRequest,
    project_pseudonym: &str,
    origin: VariantOrigin,
) -> Result<Option<SequenceFileRow>, DeliveryError> {
    let key = request.key.clone();
    let wanted = project_pseudonym.to_owned();
    let files: Vec<SequenceFileRow> = with_store(store, move |s| {
        let mut person: Option<Pseudonym> = None;
        s.for_each_patient(&mut |p| {
            if person.is_none() && key.pseudonym(&p.research_pseudonym) == wanted {
                person = Some(p.pseudonym);
            }
        })?;
        match person {
            Some(p) => s.sequence_files_of(&[p]),
            None => Ok(Vec::new()),
        }
    })
    .await?;
    let Some(newest) = files
        .into_iter()
        .filter(|f| f.origin == origin)
        .max_by(|a, b| (a.collected, &a.object_key).cmp(&(b.collected, &b.object_key)))
    else {
        return Ok(None);
    };
    let asked = BTreeSet::from([(
        newest.pseudonym.clone(),
        origin.category(),
        newest.collected,
    )]);
    let permitted = gate
        .permitted_facts(Purpose::Research, request.today, asked.clone())
        .await?;
    Ok(asked
        .iter()
        .all(|q| permitted.contains(q))
        .then_some(newest))
}
