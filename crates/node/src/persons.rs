//! The persons a lab batch names (cell images, sequencing files), linked
//! through the trust centre as FHIR and DICOM data are: their identifying data
//! is held in memory only until the trust centre answered with the site and
//! research pseudonyms, and never reaches the research store.

use chrono::{Datelike, NaiveDate};
use oncofed_idat::IdentifyingData;
use oncofed_model::{Demographics, Sex, VitalStatus};
use oncofed_store::PatientRow;
use oncofed_trustee_api::{
    MAX_BATCH, PseudonymPair, PseudonymiseItem, TrusteeClient, TrusteeError,
};
use std::collections::BTreeMap;

/// A person as a batch's manifest names them.
pub(crate) struct BatchPerson {
    /// 1-based line of the manifest row (the person's first).
    pub row: usize,
    /// The site-local patient number (the one the site's FHIR data uses).
    pub patient_id: String,
    /// Family name.
    pub family: String,
    /// Given names, space-separated.
    pub given: String,
    /// Birth date.
    pub birth_date: Option<NaiveDate>,
    /// Sex.
    pub sex: Sex,
}

impl std::fmt::Debug for BatchPerson {
    /// Names and birth dates never reach a log: only the row.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchPerson")
            .field("row", &self.row)
            .finish_non_exhaustive()
    }
}

/// Why linking stopped.
#[derive(Debug)]
pub(crate) enum LinkError {
    /// The trust centre refused the person of this manifest row, with its code.
    Refused {
        /// 1-based line.
        row: usize,
        /// The trust centre's code.
        code: String,
    },
    /// The trust centre failed.
    Trustee(TrusteeError),
}

/// The batch's persons with their pseudonyms, by site-local patient id.
pub(crate) struct Linked {
    persons: BTreeMap<String, (PseudonymPair, Demographics)>,
    /// Patient ids the trust centre refused because the person withdrew
    /// consent (`ItemError::WITHDRAWN`): their rows are left out of the batch,
    /// and nothing of them is stored; the rest of the batch lands.
    withdrawn: std::collections::BTreeSet<String>,
}

impl Linked {
    /// Whether the person behind a patient id of the batch withdrew consent
    /// (their rows must be left out).
    pub fn is_withdrawn(&self, patient_id: &str) -> bool {
        self.withdrawn.contains(patient_id)
    }

    /// How many persons of the batch were left out because they withdrew.
    pub fn withdrawn(&self) -> usize {
        self.withdrawn.len()
    }

    /// The pseudonyms of a patient id of the batch.
    pub fn get(&self, patient_id: &str) -> Option<&PseudonymPair> {
        self.persons.get(patient_id).map(|(p, _)| p)
    }

    /// One patient row per person (coarse demographics only), for the store.
    pub fn patient_rows(&self) -> Vec<PatientRow> {
        self.persons
            .values()
            .map(|(pair, demographics)| PatientRow {
                pseudonym: pair.site.clone(),
                research_pseudonym: pair.research.clone(),
                demographics: demographics.clone(),
            })
            .collect()
    }

    /// How many persons.
    pub fn len(&self) -> usize {
        self.persons.len()
    }
}

/// Sends each distinct patient id's identifying data (its first row's) to the
/// trust centre, in batches of [`MAX_BATCH`]; a refusal stops with its row,
/// except a withdrawn person's, which is left out ([`Linked::is_withdrawn`]).
pub(crate) async fn link<'a>(
    trustee: &TrusteeClient,
    persons: impl IntoIterator<Item = &'a BatchPerson>,
) -> Result<Linked, LinkError> {
    let mut first: BTreeMap<&str, &BatchPerson> = BTreeMap::new();
    for p in persons {
        first.entry(p.patient_id.as_str()).or_insert(p);
    }
    let first: Vec<&BatchPerson> = first.into_values().collect();
    let mut out = BTreeMap::new();
    let mut withdrawn = std::collections::BTreeSet::new();
    for chunk in first.chunks(MAX_BATCH) {
        let items: Vec<PseudonymiseItem> = chunk
            .iter()
            .map(|p| PseudonymiseItem {
                local_id: p.patient_id.clone(),
                idat: IdentifyingData {
                    given: p.given.split_whitespace().map(str::to_owned).collect(),
                    family: (!p.family.is_empty()).then(|| p.family.clone()),
                    birth_name: None,
                    birth_date: p.birth_date,
                    sex: p.sex,
                    address: None,
                    kvnr: None,
                },
            })
            .collect();
        let answer = trustee
            .pseudonymise_each(items)
            .await
            .map_err(LinkError::Trustee)?;
        for (p, result) in chunk.iter().zip(answer) {
            let pair = match result {
                Ok(pair) => pair,
                Err(e) if e.code == oncofed_trustee_api::ItemError::WITHDRAWN => {
                    withdrawn.insert(p.patient_id.clone());
                    continue;
                }
                Err(e) => {
                    return Err(LinkError::Refused {
                        row: p.row,
                        code: e.code.to_string(),
                    });
                }
            };
            let demographics = Demographics {
                sex: p.sex,
                birth_year: p.birth_date.map(|d| d.year()),
                vital_status: VitalStatus::Unknown,
                death_date: None,
                last_contact: None,
            };
            out.insert(p.patient_id.clone(), (pair, demographics));
        }
    }
    Ok(Linked {
        persons: out,
        withdrawn,
    })
}
