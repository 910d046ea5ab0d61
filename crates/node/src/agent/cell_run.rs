//! A cell classifier's run at the site (issue 15, item 4): at `Prepare` the
//! site loads its consented, validated cells of the run's cohort and splits
//! them by person into training, validation and held-out test cells; at each
//! `Mask` step it trains (`oncofed_cnn::site_train_vector`) or scores
//! (`oncofed_cnn::site_evaluate_vector`) and hands the vector to secure
//! aggregation like any other round. Nothing else of the cells leaves.
//!
//! The split is fixed per person (a hash of the site pseudonym), so every
//! run of the site holds out the same persons: a model is never scored on
//! cells another run of the same site trained on, and no person's cells are
//! on both sides.

use crate::cells::{CellSample, SplitPart, split_part, training_cells};
use crate::imaging::ObjectArchive;
use crate::{ConsentGate, SharedStore, with_store};
use oncofed_analysis::driver::cells::{SITE_EXTRA, evaluation_block_len};
use oncofed_cnn::Dataset;
use oncofed_learn::{EvaluateRound, TrainRound, evaluate_vector_len};
use oncofed_model::{Pseudonym, Purpose};
use oncofed_protocol::analysis::{AnalysisRequest, CellTraining};
use oncofed_protocol::{Criteria, DiagnosisCriterion};
use sha2::{Digest, Sha256};

use std::collections::{BTreeSet, HashSet};

/// Which of the run's datasets a person's cells go to.
fn part_of(person: &Pseudonym) -> usize {
    match split_part(person) {
        SplitPart::Training => 0,
        SplitPart::Validation => 1,
        SplitPart::Test => 2,
    }
}

/// One run's cells at the site.
pub(super) struct CellRun {
    training: CellTraining,
    parts: [Dataset; 3],
    persons: usize,
    /// First 8 bytes of SHA-256 over the training cells' keys and labels.
    fingerprint: [u16; 4],
}

impl CellRun {
    /// The run's cells: persons of the cohort (the index diagnosis and the
    /// cohort criteria) whose consent permits research use of every category
    /// the run reads, their cells with a validated label of one of the
    /// model's classes (pixels from the archive, consent per smear date).
    /// Errors are reasons for the site's log, without personal data.
    pub(super) async fn load(
        store: &SharedStore,
        archive: &ObjectArchive,
        gate: &ConsentGate,
        request: &AnalysisRequest,
        training: &CellTraining,
    ) -> Result<Self, String> {
        let mut criteria = vec![Criteria::Diagnosis(DiagnosisCriterion {
            icd10: Some(request.index.icd10.clone()),
            ..Default::default()
        })];
        criteria.extend(request.cohort.iter().cloned());
        let cohort = Criteria::And(criteria);
        let members: HashSet<Pseudonym> = with_store(store, move |s| s.feasibility(&cohort))
            .await
            .map_err(|e| format!("cohort: {e}"))?
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        let categories = request.categories();
        let today = chrono::Utc::now().date_naive();
        let questions: Vec<_> = members
            .iter()
            .flat_map(|p| categories.iter().map(move |c| (p.clone(), *c)))
            .collect();
        let permitted = gate
            .permitted(Purpose::Research, today, questions)
            .await
            .map_err(|e| format!("consent: {e}"))?;
        let allowed: HashSet<&Pseudonym> = members
            .iter()
            .filter(|p| {
                categories
                    .iter()
                    .all(|c| permitted.contains(&((*p).clone(), *c)))
            })
            .collect();
        let samples = training_cells(store, archive, gate, training.spec.input_size)
            .await
            .map_err(|e| format!("cells: {e}"))?;
        Self::split(training, &allowed, samples)
    }

    fn split(
        training: &CellTraining,
        allowed: &HashSet<&Pseudonym>,
        samples: Vec<CellSample>,
    ) -> Result<Self, String> {
        let size = training.spec.input_size;
        let mut parts = [Dataset::new(size), Dataset::new(size), Dataset::new(size)];
        let mut persons = BTreeSet::new();
        let mut hash = Sha256::new();
        for s in samples {
            if !allowed.contains(&s.pseudonym) {
                continue;
            }
            let Some(label) = s.label else { continue };
            let Some(index) = training.spec.classes.iter().position(|c| *c == label) else {
                continue; // a class the model does not output
            };
            let part = part_of(&s.pseudonym);
            parts[part]
                .push_rgb(size, size, &s.pixels, Some(index as u8))
                .map_err(|e| format!("cells: {e}"))?;
            if part == 0 {
                hash.update(s.cell_key.as_bytes());
                hash.update([index as u8]);
            }
            persons.insert(s.pseudonym);
        }
        let d = hash.finalize();
        let fingerprint = [0, 2, 4, 6].map(|i| u16::from_be_bytes([d[i], d[i + 1]]));
        Ok(Self {
            training: training.clone(),
            parts,
            persons: persons.len(),
            fingerprint,
        })
    }

    /// Persons whose cells the run uses (the site's admission count).
    pub(super) fn persons(&self) -> usize {
        self.persons
    }

    /// Whether every part of the split holds cells (else the site cannot
    /// train, validate and be evaluated, and sits out).
    pub(super) fn complete(&self) -> bool {
        self.parts.iter().all(|p| !p.is_empty())
    }

    /// `[persons, training cells, validation cells, test cells]`.
    pub(super) fn totals(&self) -> Vec<f64> {
        let [t, v, e] = &self.parts;
        vec![
            self.persons as f64,
            t.len() as f64,
            v.len() as f64,
            e.len() as f64,
        ]
    }

    /// The training round's vector. The DP noise share is calibrated to
    /// `threshold`, the fewest sites whose sum can be unmasked, whatever the
    /// hub's site count says (fewer sites' shares still add up to at least
    /// the planned noise).
    pub(super) fn train(&self, round: &TrainRound, threshold: usize) -> Result<Vec<f64>, String> {
        let round = TrainRound {
            sites: threshold.max(1),
            ..round.clone()
        };
        let [t, v, _] = &self.parts;
        oncofed_cnn::site_train_vector(&round, t, v).map_err(|e| e.to_string())
    }

    /// The evaluation round's vector: this site's counts on its held-out
    /// cells, its cell counts and training fingerprint in block `index` of
    /// `slots` blocks.
    pub(super) fn evaluate(
        &self,
        round: &EvaluateRound,
        slots: usize,
        index: usize,
    ) -> Result<Vec<f64>, String> {
        if index >= slots {
            return Err("this site's index is outside the evaluation's slots".into());
        }
        if round.spec != self.training.spec {
            return Err("an evaluation of another network".into());
        }
        let k = round.spec.classes.len();
        let block = evaluation_block_len(k, round.bins);
        let counts =
            oncofed_cnn::site_evaluate_vector(round, &self.parts[2]).map_err(|e| e.to_string())?;
        if counts.len() + SITE_EXTRA != block || counts.len() != evaluate_vector_len(k, round.bins)
        {
            return Err("evaluation layout mismatch".into());
        }
        let mut out = vec![0.0; slots * block];
        let own = &mut out[index * block..(index + 1) * block];
        own[..counts.len()].copy_from_slice(&counts);
        let extra = &mut own[counts.len()..];
        extra[0] = self.parts[0].len() as f64;
        extra[1] = self.parts[1].len() as f64;
        for (slot, part) in extra[2..].iter_mut().zip(self.fingerprint) {
            *slot = f64::from(part);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_fixed_per_person_and_roughly_seven_one_two() {
        let mut n = [0usize; 3];
        for i in 0..2000 {
            let mut bytes = [0u8; 10];
            bytes[..4].copy_from_slice(&(i as u32).to_le_bytes());
            let p = Pseudonym::from_digest(&bytes);
            assert_eq!(part_of(&p), part_of(&p));
            n[part_of(&p)] += 1;
        }
        assert!((1250..1550).contains(&n[0]), "{n:?}");
        assert!((130..270).contains(&n[1]), "{n:?}");
        assert!((300..500).contains(&n[2]), "{n:?}");
    }
}
