//! The pseudonymising stage: a chunk of mapped units → one store write batch.

use super::IngestReport;
use super::reader::Unit;
use crate::SharedStore;
use oncofed_fhir::Batch;
use oncofed_model::{Demographics, Pseudonym};
use oncofed_store::{FactKey, PatientRow, StoredFact, WriteBatch};
use oncofed_trustee_api::{ConsentItem, MAX_BATCH, PseudonymPair, PseudonymiseItem, TrusteeClient};
use std::collections::{BTreeSet, HashMap};

/// A mapped unit whose identifying data has gone to the trust centre.
struct Pending {
    label: String,
    patients: Vec<(String, Demographics)>,
    batch: Batch,
}

/// Pseudonymises the valid units of a chunk, registers their consents, and returns
/// what to write. Units that cannot be resolved are rejected into `report`.
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
    while !items.is_empty() {
        let rest = items.split_off(items.len().min(MAX_BATCH));
        let ids: Vec<String> = items.iter().map(|i| i.local_id.clone()).collect();
        let answer = trustee
            .pseudonymise(std::mem::replace(&mut items, rest))
            .await?;
        pairs.extend(ids.into_iter().zip(answer));
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
    if !resolved.is_empty() {
        let wanted: Vec<Pseudonym> = resolved.iter().map(|(_, p)| p.site.clone()).collect();
        let present = crate::with_store(store, move |s| s.existing_patients(&wanted)).await?;
        pairs.extend(
            resolved
                .into_iter()
                .filter(|(_, p)| present.contains(&p.site)),
        );
    }

    // 3. A unit with a subject nobody knows lands nothing.
    let mut write = WriteBatch::default();
    let mut consents: Vec<ConsentItem> = Vec::new();
    for Pending {
        label,
        patients,
        batch,
    } in pending
    {
        if let Some((_, source)) = subjects(&batch).find(|(s, _)| !pairs.contains_key(*s)) {
            report.units_failed += 1;
            report.errors.push(format!(
                "{label}: field subject.reference of {source}: the patient is neither in this bundle nor stored by an \
                 earlier ingest at this site; ingest the Patient resource first"
            ));
            continue;
        }
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
        consents.extend(batch.consents.into_iter().map(|c| ConsentItem {
            local_id: c.subject,
            consent: c.resource,
        }));
    }

    // 4. Consents belong to the trust centre, never to the research store.
    let before_consents = started.elapsed();
    report.consents += consents.len();
    while !consents.is_empty() {
        let rest = consents.split_off(consents.len().min(MAX_BATCH));
        trustee
            .submit_consents(std::mem::replace(&mut consents, rest))
            .await?;
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

/// Every (subject, source) a unit references.
fn subjects(batch: &Batch) -> impl Iterator<Item = (&String, &str)> {
    batch
        .facts
        .iter()
        .map(|f| (&f.subject, f.source_id.as_str()))
        .chain(batch.consents.iter().map(|c| (&c.subject, "Consent")))
}
