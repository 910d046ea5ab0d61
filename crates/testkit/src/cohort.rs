//! A synthetic cohort on disk and what it really contains (the generator's
//! `ground-truth/`), for asserting what the federation answers.

use oncofed_synth::{SynthConfig, SynthSummary};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A cohort generated into a temporary folder (removed on drop): one folder of
/// FHIR bundles per site (`site-1` …) and `ground-truth/`.
pub struct Cohort {
    dir: tempfile::TempDir,
    /// What the generator reported (patients per site, resources).
    pub summary: SynthSummary,
}

impl Cohort {
    /// Generates `persons` across `sites` sites with `seed` (the defaults
    /// of [`SynthConfig`] otherwise).
    pub fn generate(sites: u32, persons: u64, seed: u64) -> Self {
        Self::generate_with(SynthConfig {
            seed,
            sites,
            persons,
            ..SynthConfig::default()
        })
    }

    /// Generates a cohort as `config` says.
    pub fn generate_with(config: SynthConfig) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder for the cohort");
        let summary = oncofed_synth::generate(&config, &dir.path().join("out"), &mut |_| {})
            .expect("synthetic cohort generated");
        Self { dir, summary }
    }

    /// The generator's output folder (site folders and `ground-truth/`).
    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// The temporary folder holding [`Cohort::out`]; free for other files.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Site `site`'s input folder (`site-1` …).
    pub fn site_dir(&self, site: &str) -> PathBuf {
        self.out().join(site)
    }

    /// The input folders of sites `site-1` … `site-n`, in order.
    pub fn site_dirs(&self, n: u32) -> Vec<PathBuf> {
        (1..=n)
            .map(|k| self.site_dir(SynthConfig::site_id(k).as_str()))
            .collect()
    }

    /// What the cohort really contains.
    pub fn truth(&self) -> GroundTruth {
        GroundTruth::read(&self.out())
    }
}

/// The generator's ground truth (`ground-truth/cohort.csv`, one row a person,
/// and `ground-truth/linkage.csv`, one row a person's record at a site).
#[derive(Debug, Clone)]
pub struct GroundTruth {
    /// `cohort.csv` rows, column → value, in file order.
    pub persons: Vec<BTreeMap<String, String>>,
    /// `linkage.csv` rows: (person id, site, local id, variation).
    pub records: Vec<Record>,
}

/// One row of `ground-truth/linkage.csv`: a person's record at a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The person (`P00000001` …), the key of `cohort.csv`.
    pub person_id: String,
    /// The site holding the record.
    pub site: String,
    /// The site's local patient id.
    pub local_id: String,
    /// How the identifying data was varied at this site (`none`, …).
    pub variation: String,
}

impl GroundTruth {
    /// Reads `out/ground-truth/` of a generator output folder `out`.
    pub fn read(out: &Path) -> Self {
        let persons = csv_rows(&out.join("ground-truth/cohort.csv"));
        let records = csv_rows(&out.join("ground-truth/linkage.csv"))
            .into_iter()
            .map(|mut r| Record {
                person_id: r.remove("person_id").unwrap_or_default(),
                site: r.remove("site").unwrap_or_default(),
                local_id: r.remove("local_id").unwrap_or_default(),
                variation: r.remove("variation").unwrap_or_default(),
            })
            .collect();
        Self { persons, records }
    }

    /// Persons for whom `pred` holds.
    pub fn count(&self, pred: impl Fn(&BTreeMap<String, String>) -> bool) -> u64 {
        self.persons.iter().filter(|r| pred(r)).count() as u64
    }

    /// `cohort.csv` as person id → row.
    pub fn by_person(&self) -> HashMap<String, BTreeMap<String, String>> {
        self.persons
            .iter()
            .map(|r| (r["person_id"].clone(), r.clone()))
            .collect()
    }

    /// One site's records: local id → person id.
    pub fn local_ids(&self, site: &str) -> HashMap<String, String> {
        self.records
            .iter()
            .filter(|r| r.site == site)
            .map(|r| (r.local_id.clone(), r.person_id.clone()))
            .collect()
    }
}

/// A header-first CSV without quoting (what the generator writes) as maps.
fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("ground truth {}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ground_truth_agrees_with_the_generator_summary() {
        let cohort = Cohort::generate(2, 40, 1);
        let truth = cohort.truth();
        assert_eq!(truth.persons.len(), 40);
        for (site, patients) in &cohort.summary.patients_per_site {
            assert_eq!(truth.local_ids(site).len() as u64, *patients, "{site}");
        }
        let by_person = truth.by_person();
        assert!(
            truth
                .records
                .iter()
                .all(|r| by_person.contains_key(&r.person_id))
        );
    }
}
