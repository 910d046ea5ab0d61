//! The pseudonymising stage: a chunk of mapped units → one store write batch.

use super::IngestReport;
use super::reader::Unit;
use crate::SharedStore;
use oncofed_fhir::Batch;
use oncofed_model::{Demographics, Pseudonym};
use oncofed_store::{FactKey, PatientRow, StoreError, StoredFact, WriteBatch};
use oncofed_trustee_api::{
    ConsentItem, ItemError, MAX_BATCH, PseudonymPair, PseudonymiseItem, TrusteeClient,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A mapped unit whose identifying data has gone to the trust centre.
struct Pending {
    label: String,
    patients: Vec<(String, Demographics)>,
    batch: Batch,
}

/// Pseudonymises the valid units of a chunk, registers their consents, and returns
/// what to write. Units that cannot be resolved, and units whose patients or
/// consents the trust centre refuses, are rejected into `report`; the others land.
pub async fn process(
    store: &SharedStore,
    trustee: &TrusteeClient,
    units: Vec<Unit>,
    report: &mut IngestReport,
) -> Result<WriteBatch, super::IngestError> {
    let started = std::time::Instant::now();
    // 1. Identifying data goes to the trust centre, once per local id, and is dropped.
    let mut pending: Vec<Pending> = Vec::with_capacity(units.len());
    let mut position: HashMap<String, usize> = HashMap::new();
    let mut items: Vec<PseudonymiseItem> = Vec::new();
    for unit in units {
        let mut batch = match unit.batch {
            Ok(b) => b,
            Err(e) => {
                report.units_failed += 1;
                report.errors.push(e);
                continue;
            }
        };
        let mut patients = Vec::with_capacity(batch.patients.len());
        for p in std::mem::take(&mut batch.patients) {
            patients.push((p.local_id.clone(), p.demographics));
            let item = PseudonymiseItem {
                local_id: p.local_id,
                idat: p.idat,
            };
            match position.get(&item.local_id) {
                Some(&i) => items[i] = item,
                None => {
                    position.insert(item.local_id.clone(), items.len());
                    items.push(item);
                }
            }
        }
        pending.push(Pending {
            label: unit.label,
            patients,
            batch,
        });
    }
    let patients = items.len();
    let mut pairs: HashMap<String, PseudonymPair> = HashMap::with_capacity(items.len());
    // Patients the trust centre refused alone (e.g. a name over its bounds) → why.
    let mut refused: HashMap<String, String> = HashMap::new();
    while !items.is_empty() {
        let rest = items.split_off(items.len().min(MAX_BATCH));
        let ids: Vec<String> = items.iter().map(|i| i.local_id.clone()).collect();
        let answer = trustee
            .pseudonymise_each(std::mem::replace(&mut items, rest))
            .await?;
        for (id, result) in ids.into_iter().zip(answer) {
            match result {
                Ok(pair) => _ = pairs.insert(id, pair),
                Err(e) => _ = refused.insert(id, patient_refusal(&e)),
            }
        }
    }

    let pseudonymised = started.elapsed();
    // 2. Subjects registered by earlier runs (bulk files referencing `Patient/<id>`)
    //    count only if this store holds them.
    let missing: Vec<String> = pending
        .iter()
        .flat_map(|p| subjects(&p.batch).map(|(s, _)| s))
        .filter(|s| !pairs.contains_key(*s))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut resolved: Vec<(String, PseudonymPair)> = Vec::new();
    for ids in missing.chunks(MAX_BATCH) {
        let answer = trustee.resolve(ids.to_vec()).await?;
        resolved.extend(
            ids.iter()
                .cloned()
                .zip(answer)
                .filter_map(|(id, pair)| Some((id, pair?))),
        );
    }
    let mut stored: HashSet<String> = HashSet::new();
    if !resolved.is_empty() {
        let wanted: Vec<Pseudonym> = resolved.iter().map(|(_, p)| p.site.clone()).collect();
        let present = crate::with_store(store, move |s| s.existing_patients(&wanted)).await?;
        for (id, pair) in resolved {
            if present.contains(&pair.site) {
                stored.insert(id.clone());
                pairs.insert(id, pair);
            }
        }
    }

    // 3. A unit with a subject nobody knows lands nothing.
    let mut verdict: Vec<Option<String>> = pending
        .iter()
        .map(|p| {
            let why = p.patients.iter().find_map(|(id, _)| refused.get(id))?;
            Some(format!("{}: {why}", p.label))
        })
        .collect();
    let mut known = Known {
        stored,
        looked_up: HashSet::new(),
    };
    reject_unknown_subjects(store, &pending, &pairs, &mut known, &mut verdict).await?;

    // 4. Consents belong to the trust centre, never to the research store. A unit
    //    whose consents it refuses lands nothing, nor do units that need its patients.
    let before_consents = started.elapsed();
    let per_unit: Vec<Vec<ConsentItem>> = pending
        .iter_mut()
        .zip(&verdict)
        .map(|(p, v)| match v {
            Some(_) => Vec::new(),
            None => std::mem::take(&mut p.batch.consents)
                .into_iter()
                .map(|c| ConsentItem {
                    local_id: c.subject,
                    consent: c.resource,
                })
                .collect(),
        })
        .collect();
    let registered = super::consents::register(trustee, &per_unit).await?;
    report.consents += registered.sent;
    if !registered.refused.is_empty() {
        for (i, why) in registered.refused {
            verdict[i] = Some(format!("{}: {why}", pending[i].label));
        }
        reject_unknown_subjects(store, &pending, &pairs, &mut known, &mut verdict).await?;
    }

    // 5. What lands.
    let mut write = WriteBatch::default();
    for (unit, verdict) in pending.into_iter().zip(verdict) {
        if let Some(error) = verdict {
            report.units_failed += 1;
            report.errors.push(error);
            continue;
        }
        let Pending {
            patients, batch, ..
        } = unit;
        report.units_ok += 1;
        report.resources += batch.resources;
        report.patients += patients.len();
        for (t, n) in batch.not_mapped {
            *report.not_mapped.entry(t).or_default() += n;
        }
        for (local_id, demographics) in patients {
            let pair = &pairs[&local_id];
            write.patients.push(PatientRow {
                pseudonym: pair.site.clone(),
                research_pseudonym: pair.research.clone(),
                demographics,
            });
        }
        for f in batch.facts {
            let pair = &pairs[&f.subject];
            let key = FactKey::derive(&pair.site, &f.source_id);
            write.facts.push(StoredFact {
                key,
                pseudonym: pair.site.clone(),
                fact: f.fact,
            });
        }
    }
    tracing::debug!(
        patients,
        facts = write.facts.len(),
        pseudonymise_ms = pseudonymised.as_millis() as u64,
        consents_ms = (started.elapsed() - before_consents).as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "chunk pseudonymised"
    );
    Ok(write)
}

/// Why the trust centre refused a patient, for the error line of its unit: the
/// element and the problem (never a value), without the batch position, which
/// means nothing to the reader.
fn patient_refusal(e: &ItemError) -> String {
    let message = match e.message.strip_prefix("items[") {
        Some(rest) => rest.split_once("].").map_or(e.message.as_str(), |(_, m)| m),
        None => e.message.as_str(),
    };
    format!(
        "the trust centre refused a Patient of this unit ({}: {message}); nothing of the unit landed",
        e.code
    )
}

/// Which local patient ids an earlier run stored at this site.
struct Known {
    /// Ids whose patient row is in the store.
    stored: HashSet<String>,
    /// Ids already looked up in the store.
    looked_up: HashSet<String>,
}

/// Rejects the units that reference a patient neither stored at this site nor
/// brought by a unit that lands, until none does: rejecting a unit can take the
/// units that reference its patients along (the store's facts need their patient
/// row). A patient whose own unit was rejected is looked up in the store once, as
/// an earlier run may have stored it.
async fn reject_unknown_subjects(
    store: &SharedStore,
    pending: &[Pending],
    pairs: &HashMap<String, PseudonymPair>,
    known: &mut Known,
    verdict: &mut [Option<String>],
) -> Result<(), StoreError> {
    loop {
        let owned: HashSet<&str> = pending
            .iter()
            .zip(verdict.iter())
            .filter(|(_, v)| v.is_none())
            .flat_map(|(p, _)| p.patients.iter().map(|(id, _)| id.as_str()))
            .collect();
        let orphans: BTreeMap<&str, Pseudonym> = pending
            .iter()
            .zip(verdict.iter())
            .filter(|(_, v)| v.is_none())
            .flat_map(|(p, _)| subjects(&p.batch).map(|(s, _)| s.as_str()))
            .filter(|s| {
                !owned.contains(s) && !known.stored.contains(*s) && !known.looked_up.contains(*s)
            })
            .filter_map(|s| Some((s, pairs.get(s)?.site.clone())))
            .collect();
        if !orphans.is_empty() {
            let wanted: Vec<Pseudonym> = orphans.values().cloned().collect();
            let present = crate::with_store(store, move |s| s.existing_patients(&wanted)).await?;
            for (id, psn) in orphans {
                known.looked_up.insert(id.to_owned());
                if present.contains(&psn) {
                    known.stored.insert(id.to_owned());
                }
            }
            continue;
        }
        let mut rejected = Vec::new();
        for (i, p) in pending.iter().enumerate() {
            if verdict[i].is_some() {
                continue;
            }
            let unknown = subjects(&p.batch)
                .find(|(s, _)| !owned.contains(s.as_str()) && !known.stored.contains(*s));
            if let Some((_, source)) = unknown {
                rejected.push((
                    i,
                    format!(
                        "{}: field subject.reference of {source}: the patient is neither in this unit (nor in \
                         another unit that landed) nor stored by an earlier ingest at this site; ingest the \
                         Patient resource first",
                        p.label
                    ),
                ));
            }
        }
        if rejected.is_empty() {
            return Ok(());
        }
        for (i, error) in rejected {
            verdict[i] = Some(error);
        }
    }
}

/// Every (subject, source) a unit references.
fn subjects(batch: &Batch) -> impl Iterator<Item = (&String, &str)> {
    batch
        .facts
        .iter()
        .map(|f| (&f.subject, f.source_id.as_str()))
        .chain(batch.consents.iter().map(|c| (&c.subject, "Consent")))
}
