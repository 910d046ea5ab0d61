//! Which cells a smear holds: the class mix that follows the diagnosis and
//! the specimen.
//!
//! Reference differentials are rounded textbook figures (bone-marrow
//! myelogram and peripheral-blood differential of adults): normal marrow has
//! about 1–2 % myeloblasts, a left-shifted granulopoiesis and a quarter
//! erythroblasts; normal blood mostly segmented neutrophils and lymphocytes.
//! AML (WHO: ≥ 20 % blasts) replaces normal haematopoiesis with myeloblasts;
//! CLL floods blood and marrow with small lymphocytes. The mixes cover the
//! eight classes of [`CellClass::DIFFERENTIAL`] only (basophils, under 1 % in
//! real smears, are left out), so every label has a model output.

use crate::Entity;
use oncofed_model::{CellClass, Specimen};
use rand::Rng;
use serde::Serialize;

/// Normal bone-marrow differential (per cent of nucleated cells).
const NORMAL_MARROW: [(CellClass, f64); 8] = [
    (CellClass::Myeloblast, 1.5),
    (CellClass::Promyelocyte, 4.0),
    (CellClass::Myelocyte, 13.0),
    (CellClass::SegmentedNeutrophil, 27.0),
    (CellClass::Lymphocyte, 13.0),
    (CellClass::Monocyte, 2.5),
    (CellClass::Eosinophil, 3.0),
    (CellClass::Erythroblast, 26.0),
];

/// Normal peripheral-blood differential (per cent of leukocytes).
const NORMAL_BLOOD: [(CellClass, f64); 8] = [
    (CellClass::Myeloblast, 0.0),
    (CellClass::Promyelocyte, 0.0),
    (CellClass::Myelocyte, 0.0),
    (CellClass::SegmentedNeutrophil, 60.0),
    (CellClass::Lymphocyte, 30.0),
    (CellClass::Monocyte, 6.0),
    (CellClass::Eosinophil, 3.0),
    (CellClass::Erythroblast, 0.0),
];

/// Blast share of a typical AML smear (marrow; blood gets less).
const AML_MARROW_BLASTS: f64 = 0.5;
/// Blast share of a typical AML peripheral-blood smear.
const AML_BLOOD_BLASTS: f64 = 0.3;

/// Relative frequencies of cell classes in a smear (normalised to sum 1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMix {
    weights: Vec<(CellClass, f64)>,
}

impl ClassMix {
    /// Mix from non-negative weights; classes with zero weight are dropped.
    /// Falls back to uniform over the given classes if no weight is positive.
    pub fn new(weights: &[(CellClass, f64)]) -> Self {
        let positive: Vec<(CellClass, f64)> = weights
            .iter()
            .copied()
            .filter(|(_, w)| w.is_finite() && *w > 0.0)
            .collect();
        let positive = if positive.is_empty() {
            weights.iter().map(|(c, _)| (*c, 1.0)).collect()
        } else {
            positive
        };
        let total: f64 = positive.iter().map(|(_, w)| w).sum();
        Self {
            weights: positive.into_iter().map(|(c, w)| (c, w / total)).collect(),
        }
    }

    /// Every class equally often (balanced training sets).
    pub fn uniform(classes: &[CellClass]) -> Self {
        Self::new(&classes.iter().map(|c| (*c, 1.0)).collect::<Vec<_>>())
    }

    /// The typical mix of a smear of `specimen` from a patient with `entity`:
    /// AML marrow half blasts (blood 30 %), CLL dominated by lymphocytes (85 %
    /// in blood, 60 % in marrow), every other entity a normal differential.
    /// [`ClassMix::with_share`] varies the blast share from patient to patient.
    pub fn for_smear(entity: Entity, specimen: Specimen) -> Self {
        let normal = Self::new(match specimen {
            Specimen::BoneMarrow => &NORMAL_MARROW,
            Specimen::PeripheralBlood => &NORMAL_BLOOD,
        });
        match (entity, specimen) {
            (Entity::Aml, Specimen::BoneMarrow) => {
                normal.with_share(CellClass::Myeloblast, AML_MARROW_BLASTS)
            }
            (Entity::Aml, Specimen::PeripheralBlood) => {
                normal.with_share(CellClass::Myeloblast, AML_BLOOD_BLASTS)
            }
            (Entity::Cll, Specimen::PeripheralBlood) => {
                normal.with_share(CellClass::Lymphocyte, 0.85)
            }
            (Entity::Cll, Specimen::BoneMarrow) => normal.with_share(CellClass::Lymphocyte, 0.6),
            _ => normal,
        }
    }

    /// The same mix with `class` at `share` (clamped to 0..=1) of all cells and
    /// the other classes scaled to fill the rest in their old proportions.
    pub fn with_share(&self, class: CellClass, share: f64) -> Self {
        let share = if share.is_finite() {
            share.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let rest: f64 = self
            .weights
            .iter()
            .filter(|(c, _)| *c != class)
            .map(|(_, w)| w)
            .sum();
        let mut weights: Vec<(CellClass, f64)> = self
            .weights
            .iter()
            .filter(|(c, _)| *c != class)
            .map(|(c, w)| {
                let scaled = if rest > 0.0 { w / rest } else { 0.0 };
                (*c, scaled * (1.0 - share))
            })
            .collect();
        weights.push((class, share));
        weights.sort_by_key(|(c, _)| *c);
        Self::new(&weights)
    }

    /// The share of `class` (0 when absent).
    pub fn share(&self, class: CellClass) -> f64 {
        self.weights
            .iter()
            .find(|(c, _)| *c == class)
            .map_or(0.0, |(_, w)| *w)
    }

    /// The classes with a positive share and their shares (sum 1).
    pub fn weights(&self) -> &[(CellClass, f64)] {
        &self.weights
    }

    /// Draws one class.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> CellClass {
        let mut x = rng.random::<f64>();
        for (c, w) in &self.weights {
            if x < *w {
                return *c;
            }
            x -= w;
        }
        self.weights.last().map_or(CellClass::Other, |(c, _)| *c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_follow_the_diagnosis() {
        let aml = ClassMix::for_smear(Entity::Aml, Specimen::BoneMarrow);
        let normal = ClassMix::for_smear(Entity::Breast, Specimen::BoneMarrow);
        assert!((aml.share(CellClass::Myeloblast) - 0.5).abs() < 1e-9);
        assert!(normal.share(CellClass::Myeloblast) < 0.03);
        let cll = ClassMix::for_smear(Entity::Cll, Specimen::PeripheralBlood);
        assert!(cll.share(CellClass::Lymphocyte) > 0.8);
        let blood = ClassMix::for_smear(Entity::Nsclc, Specimen::PeripheralBlood);
        assert_eq!(blood.share(CellClass::Erythroblast), 0.0);
        assert!(blood.share(CellClass::SegmentedNeutrophil) > 0.5);
        for m in [&aml, &normal, &cll, &blood] {
            let total: f64 = m.weights().iter().map(|(_, w)| w).sum();
            assert!((total - 1.0).abs() < 1e-9);
            assert!(
                m.weights()
                    .iter()
                    .all(|(c, _)| CellClass::DIFFERENTIAL.contains(c))
            );
        }
        let u = ClassMix::uniform(&CellClass::DIFFERENTIAL);
        assert!((u.share(CellClass::Monocyte) - 0.125).abs() < 1e-9);
        assert_eq!(
            ClassMix::new(&[(CellClass::Lymphocyte, 0.0)]).share(CellClass::Lymphocyte),
            1.0
        );
    }
}
