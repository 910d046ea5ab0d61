//! Answering a catalogue task (issue 17, R20): what the site holds per data
//! category, for the federation's HealthDCAT-AP catalogue, under the site's
//! disclosure control.
//!
//! Per category the site counts the persons whose consent permits feasibility
//! use of that category today (the catalogue is a standing feasibility
//! answer), their records (facts; DICOM objects for imaging; variant calls for
//! somatic and germline genetics; smears for pathology), the years of their
//! dated records and the coding systems used. Then:
//!
//! - a category with fewer persons than the threshold of its security level
//!   (`SiteDisclosure::for_level`: 10 at level 2, 20 at level 3) is left out
//!   entirely. Unlike a feasibility count this floor is on the true count: the
//!   catalogue's strata are fixed (site × category) and refreshed only by an
//!   admin, so nobody can probe the boundary with chosen queries, and a
//!   dataset with a handful of persons must not appear in a public catalogue
//!   with a noised "10";
//! - persons and records are noised, rounded and suppressed like feasibility
//!   counts ([`obfuscate`], deterministic noise per site, category and measure,
//!   so a refresh over unchanged data repeats the same figures and averaging
//!   refreshes gains nothing); each first release is charged to the site's
//!   lifetime ledger, repeats are free. Records are then rounded to two
//!   significant digits (post-processing): one person can hold many records,
//!   and the coarser figure hides what a single person's records add;
//! - a year or a coding system is named only when at least the threshold of
//!   persons have records in that year or coded in that system.
//!
//! Nothing per person leaves: the answer holds counts, years and system names.

use super::SiteSecret;
use super::ledger::{self, Charge};
use crate::{ConsentGate, GateError, SharedStore, with_store};
use chrono::Datelike;
use oncofed_dcat::CodingSystem;
use oncofed_model::{DataCategory, Pseudonym, Purpose, SiteId, VariantOrigin};
use oncofed_privacy::{NoiseSeed, Released, SiteDisclosure, obfuscate};
use oncofed_protocol::{CatalogueAnswer, CatalogueEntry};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Why a catalogue task could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// Consent could not be checked (fail closed: no answer).
    #[error(transparent)]
    Consent(#[from] GateError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] oncofed_store::StoreError),
}

impl CatalogueError {
    /// What the hub is told: the kind of failure, without local detail.
    pub fn public_reason(&self) -> String {
        match self {
            Self::Consent(_) => "consent service unavailable at the site".into(),
            Self::Store(_) => "site store error".into(),
        }
    }
}

/// One record as the catalogue sees it: whose, which category, when, coded how.
struct Record {
    person: Pseudonym,
    category: DataCategory,
    year: Option<i32>,
    systems: Vec<CodingSystem>,
}

/// Every record of the site, read in one pass over the store.
fn records(
    s: &mut dyn oncofed_store::ResearchStore,
) -> Result<Vec<Record>, oncofed_store::StoreError> {
    let mut out = Vec::new();
    let mut persons = Vec::new();
    s.for_each_patient(&mut |p| persons.push(p.pseudonym))?;
    s.for_each_fact(&mut |f| {
        let mut systems = vec![CodingSystem::from(f.fact.code.system)];
        if let Some(m) = &f.fact.modifier {
            systems.push(m.system.into());
        }
        out.push(Record {
            person: f.pseudonym,
            category: f.fact.category,
            year: f.fact.start.map(|d| d.year()),
            systems,
        });
    })?;
    for image in s.images_of(&persons)? {
        out.push(Record {
            person: image.pseudonym,
            category: DataCategory::Imaging,
            year: image.study_date.map(|d| d.year()),
            systems: vec![CodingSystem::Dicom],
        });
    }
    for call in s.variants_of(&persons)? {
        let v = &call.variant;
        let mut systems = Vec::new();
        if v.hgnc.is_some() || v.gene.is_some() {
            systems.push(CodingSystem::Hgnc);
        }
        if v.hgvs_c.is_some() || v.hgvs_p.is_some() {
            systems.push(CodingSystem::Hgvs);
        }
        out.push(Record {
            person: call.pseudonym,
            category: match v.origin {
                VariantOrigin::Germline => DataCategory::Germline,
                VariantOrigin::Somatic => DataCategory::Genetic,
            },
            year: call.collected.map(|d| d.year()),
            systems,
        });
    }
    for smear in s.smears_of(&persons)? {
        out.push(Record {
            person: smear.pseudonym,
            category: DataCategory::Pathology,
            year: smear.collected.map(|d| d.year()),
            systems: vec![CodingSystem::Cytomorphology],
        });
    }
    Ok(out)
}

/// What one category holds before disclosure control.
#[derive(Default)]
struct Tally {
    persons: HashSet<Pseudonym>,
    records: u64,
    years: BTreeMap<i32, HashSet<Pseudonym>>,
    systems: BTreeMap<CodingSystem, HashSet<Pseudonym>>,
}

/// The seed-and-ledger fingerprint of the catalogue's releases: fixed, so the
/// same stratum always gets the same noise.
const FINGERPRINT: &str = "oncofed-node/catalogue/v1";

/// Rounds to two significant digits (4,567 → 4,600; 98 stays 98): post-processing
/// of an already released count.
fn two_significant(n: u64) -> u64 {
    let mut step = 1;
    while n / step >= 100 {
        step *= 10;
    }
    ((n + step / 2) / step) * step
}

/// Describes the site's data per category for the federation's catalogue (see
/// the module documentation for what is counted and how it is protected).
pub async fn answer_catalogue(
    store: &SharedStore,
    gate: &ConsentGate,
    site: &SiteId,
    secret: &SiteSecret,
    lifetime_epsilon: f64,
) -> Result<CatalogueAnswer, CatalogueError> {
    let all = with_store(store, records).await?;
    let today = chrono::Utc::now().date_naive();
    let asked: HashSet<(Pseudonym, DataCategory)> =
        all.iter().map(|r| (r.person.clone(), r.category)).collect();
    let permitted = gate.permitted(Purpose::Feasibility, today, asked).await?;
    let mut tallies: HashMap<DataCategory, Tally> = HashMap::new();
    for r in all {
        if !permitted.contains(&(r.person.clone(), r.category)) {
            continue;
        }
        let t = tallies.entry(r.category).or_default();
        t.records += 1;
        if let Some(y) = r.year {
            t.years.entry(y).or_default().insert(r.person.clone());
        }
        for s in r.systems {
            t.systems.entry(s).or_default().insert(r.person.clone());
        }
        t.persons.insert(r.person);
    }
    let mut entries = Vec::new();
    for category in DataCategory::ALL {
        let Some(t) = tallies.get(&category) else {
            continue;
        };
        let level = category.intrinsic_level();
        let disclosure = SiteDisclosure::for_level(level);
        let k = disclosure.threshold;
        if (t.persons.len() as u64) < k {
            continue;
        }
        let stratum = |measure: &str| format!("{}/{measure}", category.as_str());
        let Some(epsilon) = ledger::release_epsilon(&disclosure) else {
            continue;
        };
        let keys = ["persons", "records"]
            .map(|m| ledger::ledger_key(&secret.0, FINGERPRINT, site.as_str(), &stratum(m)))
            .to_vec();
        match ledger::charge(store, keys, epsilon, lifetime_epsilon).await? {
            Charge::Refused { spent, needed } => {
                tracing::warn!(
                    category = category.as_str(),
                    spent,
                    needed,
                    "catalogue figures refused: lifetime privacy budget"
                );
                continue;
            }
            Charge::Charged { strata, spent } => {
                tracing::info!(
                    category = category.as_str(),
                    strata,
                    spent,
                    "catalogue release charged to the lifetime ledger"
                );
            }
            Charge::Repeat { .. } => {}
        }
        let noised = |n: u64, measure: &str| {
            let seed = NoiseSeed::derive(
                &secret.0,
                FINGERPRINT.as_bytes(),
                site.as_str(),
                &stratum(measure),
            );
            obfuscate(n, &disclosure, &seed)
        };
        let persons = noised(t.persons.len() as u64, "persons");
        if persons == Released::Suppressed {
            continue;
        }
        let records = match noised(t.records, "records") {
            Released::Count(n) => Released::Count(two_significant(n)),
            Released::Suppressed => Released::Suppressed,
        };
        let busy_years: Vec<i32> = t
            .years
            .iter()
            .filter(|(_, p)| p.len() as u64 >= k)
            .map(|(y, _)| *y)
            .collect();
        let coding_systems: BTreeSet<CodingSystem> = t
            .systems
            .iter()
            .filter(|(_, p)| p.len() as u64 >= k)
            .map(|(s, _)| *s)
            .collect();
        entries.push(CatalogueEntry {
            category,
            level,
            persons,
            records,
            years: busy_years
                .first()
                .zip(busy_years.last())
                .map(|(a, b)| (*a, *b)),
            coding_systems,
        });
    }
    Ok(CatalogueAnswer { entries })
}

#[cfg(test)]
mod tests {
    use super::two_significant;

    #[test]
    fn records_keep_two_significant_digits_and_stay_multiples_of_ten() {
        assert_eq!(two_significant(0), 0);
        assert_eq!(two_significant(90), 90);
        assert_eq!(two_significant(120), 120);
        assert_eq!(two_significant(4560), 4600);
        assert_eq!(two_significant(4540), 4500);
        assert_eq!(two_significant(99_990), 100_000);
        for n in (0..50_000).step_by(10) {
            assert_eq!(two_significant(n) % 10, 0, "{n}");
        }
    }
}
