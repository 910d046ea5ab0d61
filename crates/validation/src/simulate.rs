//! Simulated experts for demos and tests: each labels a cell correctly with
//! probability `skill` and otherwise confuses it with a morphological
//! neighbour, as cytomorphologists do:
//!
//! - along the granulocytic maturation line: myeloblast ↔ promyelocyte ↔
//!   myelocyte ↔ segmented neutrophil (band forms fall between the last two);
//! - small round cells: lymphocyte ↔ myeloblast, lymphocyte ↔ monocyte,
//!   erythroblast ↔ lymphocyte;
//! - granules: eosinophil ↔ segmented neutrophil / myelocyte.
//!
//! The accuracy is the same for every class (so the observed accuracy over
//! any class mix is near `skill`); *where* the errors go depends on the
//! class. Each label is drawn from a ChaCha8 stream seeded by (seed, expert
//! name, cell id): the same expert labels the same cell the same way in every
//! run, independently of the order or the other cells.

use crate::{Annotation, TruthCell, ValidationError, check_name};
use chrono::{DateTime, Duration, Utc};
use oncofed_model::CellClass;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A simulated expert.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedExpert {
    name: String,
    skill: f64,
    seed: u64,
}

/// Where an expert's errors go for a true class: (class, weight), weights
/// summing to 1.
pub fn confusions(truth: CellClass) -> &'static [(CellClass, f64)] {
    use CellClass::*;
    match truth {
        Myeloblast => &[(Promyelocyte, 0.5), (Lymphocyte, 0.35), (Monocyte, 0.15)],
        Promyelocyte => &[(Myeloblast, 0.45), (Myelocyte, 0.55)],
        Myelocyte => &[
            (Promyelocyte, 0.4),
            (SegmentedNeutrophil, 0.5),
            (Eosinophil, 0.1),
        ],
        SegmentedNeutrophil => &[(Myelocyte, 0.7), (Eosinophil, 0.15), (Monocyte, 0.15)],
        Lymphocyte => &[(Myeloblast, 0.4), (Monocyte, 0.3), (Erythroblast, 0.3)],
        Monocyte => &[(Lymphocyte, 0.45), (Myeloblast, 0.35), (Myelocyte, 0.2)],
        Eosinophil => &[(SegmentedNeutrophil, 0.7), (Myelocyte, 0.3)],
        Erythroblast => &[(Lymphocyte, 0.8), (Myeloblast, 0.2)],
        Basophil => &[(Eosinophil, 0.6), (Monocyte, 0.4)],
        Leukocyte | Erythrocyte | Platelet => &[(Other, 1.0)],
        Other => &[(Leukocyte, 1.0)],
    }
}

/// FNV-1a over the parts, with a separator byte between them: a stable seed
/// (the standard library's hashers may change between releases).
fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(&[0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

impl SimulatedExpert {
    /// An expert named `name` (see [`check_name`]) who is right with
    /// probability `skill` (0 to 1), drawing from `seed`.
    pub fn new(name: &str, skill: f64, seed: u64) -> Result<Self, ValidationError> {
        check_name(name).map_err(|p| ValidationError::Simulation(format!("expert name: {p}")))?;
        if !(0.0..=1.0).contains(&skill) {
            return Err(ValidationError::Simulation(format!(
                "expert {name}: skill {skill} is not between 0 and 1"
            )));
        }
        Ok(Self {
            name: name.to_string(),
            skill,
            seed,
        })
    }

    /// Parses `dr-a:0.9,dr-b:0.85` into experts sharing `seed`.
    pub fn parse_list(text: &str, seed: u64) -> Result<Vec<Self>, ValidationError> {
        let experts = text
            .split(',')
            .map(|item| {
                let (name, skill) = item.trim().rsplit_once(':').ok_or_else(|| {
                    ValidationError::Simulation(format!(
                        "{item:?}: expected NAME:SKILL, e.g. dr-a:0.9"
                    ))
                })?;
                let skill: f64 = skill.trim().parse().map_err(|_| {
                    ValidationError::Simulation(format!(
                        "{item:?}: the skill {skill:?} is not a number"
                    ))
                })?;
                Self::new(name.trim(), skill, seed)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut names: Vec<&str> = experts.iter().map(|e| e.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(ValidationError::Simulation(
                "an expert is named twice".into(),
            ));
        }
        Ok(experts)
    }

    /// The expert's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The probability of a correct label.
    pub fn skill(&self) -> f64 {
        self.skill
    }

    /// The expert's label for the cell `cell_id` whose true class is `truth`.
    pub fn label(&self, truth: CellClass, cell_id: &str) -> CellClass {
        let seed = stable_hash(&[
            &self.seed.to_le_bytes(),
            self.name.as_bytes(),
            cell_id.as_bytes(),
        ]);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        if rng.random::<f64>() < self.skill {
            return truth;
        }
        let options = confusions(truth);
        let mut u = rng.random::<f64>();
        for &(class, weight) in options {
            if u < weight {
                return class;
            }
            u -= weight;
        }
        options.last().map_or(truth, |&(c, _)| c)
    }
}

/// Every expert labels every cell of `truth`, in truth order, expert by
/// expert; the time stamps start at `start` and advance a second per label of
/// the same expert (as if each worked through the list).
pub fn simulate_annotations(
    experts: &[SimulatedExpert],
    truth: &[TruthCell],
    start: DateTime<Utc>,
) -> Vec<Annotation> {
    let mut out = Vec::with_capacity(experts.len() * truth.len());
    for expert in experts {
        for (i, cell) in truth.iter().enumerate() {
            let offset = i64::try_from(i).unwrap_or(i64::MAX);
            out.push(Annotation {
                cell_id: cell.cell_id.clone(),
                expert: expert.name.clone(),
                label: expert.label(cell.class, &cell.cell_id),
                at: start
                    .checked_add_signed(Duration::seconds(offset))
                    .unwrap_or(start),
            });
        }
    }
    out
}
