//! One batch of objects: link, de-identify, archive, and write the rows in one
//! store transaction.

use super::facts::{SeriesExtras, series_facts};
use super::{ImagingError, ImagingSetup};
use crate::SharedStore;
use chrono::Datelike;
use dicom_core::Tag;
use dicom_object::{FileDicomObject, InMemDicomObject};
use oncofed_dicom::identity::{self, HeaderIdentity};
use oncofed_dicom::{PixelRefusal, Subject};
use oncofed_model::{Demographics, Pseudonym, VitalStatus};
use oncofed_store::{ImageRow, PatientRow, QuarantineRow, WriteBatch};
use oncofed_trustee_api::{MAX_BATCH, PseudonymPair, PseudonymiseItem, TrusteeClient};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

/// An object received or read, identified, in memory only.
pub struct Incoming {
    /// Where it came from, for the report and the quarantine: a file path or
    /// `C-STORE from AE <title>` (never a value from the object).
    pub source: String,
    /// The object as received.
    pub object: FileDicomObject<InMemDicomObject>,
}

/// What became of one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// De-identified and stored.
    Stored {
        /// The person's site pseudonym.
        pseudonym: Pseudonym,
        /// The de-identified Series Instance UID.
        series_uid: String,
        /// The de-identified SOP Instance UID.
        sop_uid: String,
        /// De-identified size in bytes.
        bytes: u64,
        /// Whether the store did not hold it before.
        new: bool,
        /// A head/neck CT or MR: kept at the site, never delivered undefaced.
        face_risk: bool,
    },
    /// Not stored; recorded in the store's quarantine with the reason.
    Quarantined {
        /// Where it came from.
        source: String,
        /// Stable reason code (`unreadable`, `too-large`, `not-linkable`,
        /// `trustee-refused`, `missing-uid`, `not-de-identifiable`,
        /// `burned-in-text`, `pixels-not-cleanable`).
        code: String,
        /// The value-free explanation, with what to do.
        reason: String,
    },
}

fn quarantined(source: &str, code: &str, reason: impl Into<String>) -> Outcome {
    Outcome::Quarantined {
        source: source.to_owned(),
        code: code.to_owned(),
        reason: reason.into(),
    }
}

/// Reads `files` (blocking); unreadable and oversized ones come back as
/// quarantine outcomes. Returns the items and the bytes read.
pub(super) fn read_files(
    files: &[PathBuf],
    max_bytes: u64,
) -> (Vec<Result<Incoming, Outcome>>, u64) {
    let mut bytes = 0;
    let items = files
        .iter()
        .map(|path| {
            let source = path.display().to_string();
            let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            bytes += len;
            if len > max_bytes {
                return Err(quarantined(
                    &source,
                    "too-large",
                    format!("the object has {len} bytes, over the limit of {max_bytes}; raise --max-object-mib to take it"),
                ));
            }
            match oncofed_dicom::read::open(path) {
                Ok(object) => Ok(Incoming { source, object }),
                Err(e) => Err(quarantined(&source, "unreadable", e.to_string())),
            }
        })
        .collect();
    (items, bytes)
}

fn text(ds: &InMemDicomObject, g: u16, e: u16) -> Option<String> {
    let v = ds.get(Tag(g, e))?.value().to_str().ok()?;
    let v = v.trim_matches(['\0', ' ']);
    (!v.is_empty()).then(|| v.to_owned())
}

/// A de-identified object ready to archive, with what the store records of it.
struct Prepared {
    bytes: Vec<u8>,
    row: ImageRow,
    extras: SeriesExtras,
    research: Pseudonym,
    demographics: Demographics,
}

/// De-identifies one linked object (blocking, CPU-bound).
fn prepare(
    setup: &ImagingSetup,
    incoming: Incoming,
    identity: &HeaderIdentity,
    pair: &PseudonymPair,
) -> Result<Prepared, Outcome> {
    let Incoming { source, object } = incoming;
    let ds: &InMemDicomObject = &object;
    let modality = text(ds, 0x0008, 0x0060)
        .unwrap_or_else(|| "OT".to_owned())
        .to_ascii_uppercase();
    let body_part = text(ds, 0x0018, 0x0015).map(|b| b.to_ascii_uppercase());
    let study_date =
        text(ds, 0x0008, 0x0020).and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y%m%d").ok());
    let extras = SeriesExtras {
        manufacturer: text(ds, 0x0008, 0x0070),
        slice_thickness_mm: text(ds, 0x0018, 0x0050).and_then(|t| t.parse().ok()),
    };
    let face_risk = oncofed_dicom::pixels::recognisable_face_risk(ds).is_some();
    let subject = Subject {
        pseudonym: pair.site.as_str().to_owned(),
        date_offset_days: pair.date_offset_days,
        identifiers: identity.descriptor_words(),
    };
    let (mut out, _) = setup
        .deidentifier()
        .deidentify(object, &subject)
        .map_err(|e| quarantined(&source, "not-de-identifiable", e.to_string()))?;
    // After the attribute walk, which writes the markers: cleaning adds its
    // own code and sets Burned In Annotation to NO.
    if let Err(refusal) = setup.pixels().clean(&mut out) {
        let code = match refusal {
            PixelRefusal::UncoveredText { .. } => "burned-in-text",
            _ => "pixels-not-cleanable",
        };
        return Err(quarantined(&source, code, refusal.to_string()));
    }
    let uid = |g, e| text(&out, g, e);
    let (Some(study_uid), Some(series_uid), Some(sop_uid)) = (
        uid(0x0020, 0x000D),
        uid(0x0020, 0x000E),
        uid(0x0008, 0x0018),
    ) else {
        return Err(quarantined(
            &source,
            "missing-uid",
            "the object lacks a Study, Series or SOP Instance UID; it cannot be filed",
        ));
    };
    let mut bytes = Vec::new();
    out.write_all(&mut bytes).map_err(|e| {
        quarantined(
            &source,
            "not-de-identifiable",
            format!("the de-identified object cannot be encoded: {e}"),
        )
    })?;
    let row = ImageRow {
        sop_uid,
        pseudonym: pair.site.clone(),
        study_uid,
        series_uid,
        modality,
        body_part,
        study_date,
        object_key: super::ObjectArchive::key_of(&bytes),
        bytes: bytes.len() as u64,
        face_risk,
    };
    Ok(Prepared {
        bytes,
        row,
        extras,
        research: pair.research.clone(),
        demographics: Demographics {
            sex: identity.idat.sex,
            birth_year: identity.idat.birth_date.map(|d| d.year()),
            vital_status: VitalStatus::Unknown,
            death_date: None,
            last_contact: None,
        },
    })
}

/// Links, de-identifies, archives and records a batch of objects; one
/// outcome per item, in order. Items that are already quarantine outcomes
/// (unreadable files) are recorded with the batch.
pub async fn store_objects(
    store: &SharedStore,
    trustee: &TrusteeClient,
    setup: &ImagingSetup,
    items: Vec<Result<Incoming, Outcome>>,
) -> Result<Vec<Outcome>, ImagingError> {
    // 1. The header identities go to the trust centre, once per local id.
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(items.len());
    let mut linked: Vec<(usize, Incoming, HeaderIdentity)> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Err(o) => outcomes.push(Some(o)),
            Ok(incoming) => match identity::read(&incoming.object) {
                Ok(id) => {
                    outcomes.push(None);
                    linked.push((i, incoming, id));
                }
                Err(e) => outcomes.push(Some(quarantined(
                    &incoming.source,
                    "not-linkable",
                    e.to_string(),
                ))),
            },
        }
    }
    let mut wanted: BTreeMap<String, PseudonymiseItem> = BTreeMap::new();
    for (_, _, id) in &linked {
        wanted.insert(
            id.local_id.clone(),
            PseudonymiseItem {
                local_id: id.local_id.clone(),
                idat: id.idat.clone(),
            },
        );
    }
    let mut pairs: HashMap<String, Result<PseudonymPair, String>> = HashMap::new();
    let wanted: Vec<PseudonymiseItem> = wanted.into_values().collect();
    for chunk in wanted.chunks(MAX_BATCH) {
        let ids: Vec<String> = chunk.iter().map(|i| i.local_id.clone()).collect();
        let answer = trustee.pseudonymise_each(chunk.to_vec()).await?;
        for (id, result) in ids.into_iter().zip(answer) {
            pairs.insert(
                id,
                result.map_err(|e| {
                    format!(
                        "the trust centre refused the person ({}); the object was not stored",
                        e.code
                    )
                }),
            );
        }
    }

    // 2. De-identify on a blocking thread (CPU-bound).
    let setup_owned = setup.clone();
    let prepared: Vec<(usize, Result<Prepared, Outcome>)> =
        tokio::task::spawn_blocking(move || {
            linked
                .into_iter()
                .map(|(i, incoming, id)| {
                    let result = match pairs.get(&id.local_id) {
                        Some(Ok(pair)) => prepare(&setup_owned, incoming, &id, pair),
                        Some(Err(why)) => Err(quarantined(
                            &incoming.source,
                            "trustee-refused",
                            why.clone(),
                        )),
                        None => Err(quarantined(
                            &incoming.source,
                            "trustee-refused",
                            "the trust centre gave no answer for the person",
                        )),
                    };
                    (i, result)
                })
                .collect()
        })
        .await
        .expect("de-identification panicked");

    // 3. Archive, then record in one transaction.
    let mut ready: Vec<(usize, Prepared)> = Vec::new();
    for (i, result) in prepared {
        match result {
            Ok(p) => ready.push((i, p)),
            Err(o) => outcomes[i] = Some(o),
        }
    }
    for (_, p) in &mut ready {
        let bytes = std::mem::take(&mut p.bytes);
        setup.archive().put(bytes).await?;
    }
    let quarantine: Vec<QuarantineRow> = outcomes
        .iter()
        .flatten()
        .filter_map(|o| match o {
            Outcome::Quarantined {
                source,
                code,
                reason,
            } => Some(QuarantineRow {
                source: source.clone(),
                reason_code: code.clone(),
                reason: reason.clone(),
                at: chrono::Utc::now(),
            }),
            Outcome::Stored { .. } => None,
        })
        .collect();
    let rows: Vec<(ImageRow, SeriesExtras, Pseudonym, Demographics)> = ready
        .iter()
        .map(|(_, p)| {
            (
                p.row.clone(),
                p.extras.clone(),
                p.research.clone(),
                p.demographics.clone(),
            )
        })
        .collect();
    let new_sops = crate::with_store(store, move |s| write(s, rows, quarantine)).await?;
    for (i, p) in ready {
        outcomes[i] = Some(Outcome::Stored {
            new: new_sops.contains(&p.row.sop_uid),
            pseudonym: p.row.pseudonym,
            series_uid: p.row.series_uid,
            sop_uid: p.row.sop_uid,
            bytes: p.row.bytes,
            face_risk: p.row.face_risk,
        });
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.expect("every item has an outcome"))
        .collect())
}

/// Writes image rows with their facts, new patient rows and quarantine rows in
/// one transaction, under the store lock (so the instance counts are the
/// store's). Returns the SOP Instance UIDs that were new.
fn write(
    s: &mut dyn oncofed_store::ResearchStore,
    rows: Vec<(ImageRow, SeriesExtras, Pseudonym, Demographics)>,
    quarantine: Vec<QuarantineRow>,
) -> Result<BTreeSet<String>, oncofed_store::StoreError> {
    let persons: Vec<Pseudonym> = rows
        .iter()
        .map(|(r, ..)| r.pseudonym.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let existing_patients = s.existing_patients(&persons)?;
    let mut all = s.images_of(&persons)?;
    let known: BTreeSet<String> = all.iter().map(|r| r.sop_uid.clone()).collect();
    let mut batch = WriteBatch {
        quarantine,
        ..Default::default()
    };
    let mut touched = BTreeSet::new();
    let mut extras = BTreeMap::new();
    let mut new_sops = BTreeSet::new();
    let mut new_patients = BTreeSet::new();
    for (row, extra, research, demographics) in rows {
        if !existing_patients.contains(&row.pseudonym) && new_patients.insert(row.pseudonym.clone())
        {
            batch.patients.push(PatientRow {
                pseudonym: row.pseudonym.clone(),
                research_pseudonym: research,
                demographics,
            });
        }
        touched.insert(row.series_uid.clone());
        extras.insert(row.series_uid.clone(), extra);
        if !known.contains(&row.sop_uid) && new_sops.insert(row.sop_uid.clone()) {
            all.push(row.clone());
        }
        batch.images.push(row);
    }
    batch.facts = series_facts(&all, &touched, &extras);
    s.write(&batch)?;
    Ok(new_sops)
}
