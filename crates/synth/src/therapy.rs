//! Treatment decisions at diagnosis: regimens (ATC coded), surgery, radiotherapy and
//! transplant per entity, stage, fitness and markers.
//!
//! The plan is drawn before survival so that a treatment effect (osimertinib in
//! EGFR-mutated NSCLC) can enter the hazard; [`crate::clinical`] later dates the lines
//! and spreads them over sites. Regimens follow current German guideline practice in
//! broad strokes (7+3 or azacitidine/venetoclax in AML, R-CHOP in DLBCL, VRd with
//! transplant in myeloma, ...); the aim is plausible data, not treatment advice.

use crate::draw::{self, SynthRng};
use crate::entities::{Entity, Marker, Stage};
use crate::record::Truth;

/// A drug: ATC code and name.
pub(crate) type Drug = (&'static str, &'static str);

/// A therapy regimen: its drugs and the range of its duration in days.
#[derive(Debug)]
pub(crate) struct Regimen {
    pub(crate) drugs: &'static [Drug],
    pub(crate) days: (i64, i64),
}

const CYTARABINE: Drug = ("L01BC01", "Cytarabin");
const DAUNORUBICIN: Drug = ("L01DB02", "Daunorubicin");
const VENETOCLAX: Drug = ("L01XX52", "Venetoclax");
const AZACITIDINE: Drug = ("L01BC07", "Azacitidin");
const IBRUTINIB: Drug = ("L01EL01", "Ibrutinib");
const RITUXIMAB: Drug = ("L01FA01", "Rituximab");
const CYCLOPHOSPHAMIDE: Drug = ("L01AA01", "Cyclophosphamid");
const DOXORUBICIN: Drug = ("L01DB01", "Doxorubicin");
const VINCRISTINE: Drug = ("L01CA02", "Vincristin");
const BORTEZOMIB: Drug = ("L01XG01", "Bortezomib");
const LENALIDOMIDE: Drug = ("L04AX04", "Lenalidomid");
const DEXAMETHASONE: Drug = ("H02AB02", "Dexamethason");
const DARATUMUMAB: Drug = ("L01FC01", "Daratumumab");
const TAMOXIFEN: Drug = ("L02BA01", "Tamoxifen");
const LETROZOLE: Drug = ("L02BG04", "Letrozol");
const TRASTUZUMAB: Drug = ("L01FD01", "Trastuzumab");
const PACLITAXEL: Drug = ("L01CD01", "Paclitaxel");
const OSIMERTINIB: Drug = ("L01EB04", "Osimertinib");
const PEMBROLIZUMAB: Drug = ("L01FF02", "Pembrolizumab");
const CARBOPLATIN: Drug = ("L01XA02", "Carboplatin");
const PEMETREXED: Drug = ("L01BA04", "Pemetrexed");
const DOCETAXEL: Drug = ("L01CD02", "Docetaxel");
const OXALIPLATIN: Drug = ("L01XA03", "Oxaliplatin");
const FLUOROURACIL: Drug = ("L01BC02", "Fluorouracil");
const IRINOTECAN: Drug = ("L01CE02", "Irinotecan");
const BEVACIZUMAB: Drug = ("L01FG01", "Bevacizumab");

/// Every drug the generator prescribes (the vocabulary lists them).
pub(crate) const DRUGS: [Drug; 26] = [
    CYTARABINE,
    DAUNORUBICIN,
    VENETOCLAX,
    AZACITIDINE,
    IBRUTINIB,
    RITUXIMAB,
    CYCLOPHOSPHAMIDE,
    DOXORUBICIN,
    VINCRISTINE,
    BORTEZOMIB,
    LENALIDOMIDE,
    DEXAMETHASONE,
    DARATUMUMAB,
    TAMOXIFEN,
    LETROZOLE,
    TRASTUZUMAB,
    PACLITAXEL,
    OSIMERTINIB,
    PEMBROLIZUMAB,
    CARBOPLATIN,
    PEMETREXED,
    DOCETAXEL,
    OXALIPLATIN,
    FLUOROURACIL,
    IRINOTECAN,
    BEVACIZUMAB,
];

/// A procedure: OPS code and display.
pub(crate) type Procedure = (&'static str, &'static str);

/// Surgeries, radiotherapy and transplant (OPS).
pub(crate) const BREAST_CONSERVING: Procedure = (
    "5-870",
    "Partielle (brusterhaltende) Exzision der Mamma und Destruktion von Mammagewebe",
);
pub(crate) const MASTECTOMY: Procedure = ("5-872", "(Modifizierte radikale) Mastektomie");
pub(crate) const LOBECTOMY: Procedure = ("5-324", "Einfache Lobektomie und Bilobektomie der Lunge");
pub(crate) const RECTAL_RESECTION: Procedure =
    ("5-484", "Rektumresektion unter Sphinktererhaltung");
pub(crate) const COLON_RESECTION: Procedure = ("5-455", "Partielle Resektion des Dickdarmes");
/// Radiotherapy.
pub(crate) const RADIOTHERAPY: Procedure = ("8-522", "Hochvoltstrahlentherapie");
/// Autologous or allogeneic stem cell transplant.
pub(crate) const STEM_CELL_TRANSPLANT: Procedure = (
    "8-805",
    "Transfusion von peripher gewonnenen hämatopoetischen Stammzellen",
);

/// Every procedure the generator records (the vocabulary lists them).
pub(crate) const PROCEDURES: [Procedure; 7] = [
    BREAST_CONSERVING,
    MASTECTOMY,
    LOBECTOMY,
    RECTAL_RESECTION,
    COLON_RESECTION,
    RADIOTHERAPY,
    STEM_CELL_TRANSPLANT,
];

const fn reg(drugs: &'static [Drug], min: i64, max: i64) -> Regimen {
    Regimen {
        drugs,
        days: (min, max),
    }
}

const SEVEN_PLUS_THREE: Regimen = reg(&[CYTARABINE, DAUNORUBICIN], 90, 180);
const AZA_VEN: Regimen = reg(&[AZACITIDINE, VENETOCLAX], 120, 900);
const HIDAC: Regimen = reg(&[CYTARABINE], 60, 120);
const IBRUTINIB_MONO: Regimen = reg(&[IBRUTINIB], 365, 2500);
const VEN_R: Regimen = reg(&[VENETOCLAX, RITUXIMAB], 700, 760);
const R_CHOP: Regimen = reg(
    &[RITUXIMAB, CYCLOPHOSPHAMIDE, DOXORUBICIN, VINCRISTINE],
    110,
    150,
);
const R_CARBO: Regimen = reg(&[RITUXIMAB, CARBOPLATIN], 60, 120);
const VRD: Regimen = reg(&[BORTEZOMIB, LENALIDOMIDE, DEXAMETHASONE], 120, 200);
const DARA_D: Regimen = reg(&[DARATUMUMAB, DEXAMETHASONE], 180, 900);
const LEN_MAINT: Regimen = reg(&[LENALIDOMIDE], 365, 1800);
const TAMOXIFEN_5Y: Regimen = reg(&[TAMOXIFEN], 1700, 1850);
const LETROZOLE_5Y: Regimen = reg(&[LETROZOLE], 1700, 1850);
const TRASTU_PAC: Regimen = reg(&[TRASTUZUMAB, PACLITAXEL], 330, 380);
const PACLITAXEL_MONO: Regimen = reg(&[PACLITAXEL], 90, 180);
const OSIMERTINIB_MONO: Regimen = reg(&[OSIMERTINIB], 365, 1500);
const CARBO_PEM_PEMBRO: Regimen = reg(&[CARBOPLATIN, PEMETREXED, PEMBROLIZUMAB], 180, 720);
const CARBO_PEMBRO: Regimen = reg(&[CARBOPLATIN, PEMBROLIZUMAB], 180, 720);
const CARBOPLATIN_MONO: Regimen = reg(&[CARBOPLATIN], 60, 120);
const DOCETAXEL_MONO: Regimen = reg(&[DOCETAXEL], 60, 180);
const FOLFOX: Regimen = reg(&[OXALIPLATIN, FLUOROURACIL], 150, 190);
const FOLFOX_BEV: Regimen = reg(&[OXALIPLATIN, FLUOROURACIL, BEVACIZUMAB], 150, 400);
const FOLFIRI: Regimen = reg(&[IRINOTECAN, FLUOROURACIL], 120, 360);

/// Treatment decisions made at diagnosis.
#[derive(Debug)]
pub(crate) struct TherapyPlan {
    /// First-line (or adjuvant) regimen and its delay after diagnosis in days.
    pub(crate) line1: Option<(&'static Regimen, i64)>,
    /// Regimens for later lines, used in order.
    pub(crate) later: &'static [&'static Regimen],
    /// Primary surgery (OPS code, display).
    pub(crate) surgery: Option<(&'static str, &'static str)>,
    /// Radiotherapy after surgery or as part of first-line treatment.
    pub(crate) radiotherapy: bool,
    /// Autologous or allogeneic stem-cell transplant after first line.
    pub(crate) transplant: bool,
}

impl TherapyPlan {
    /// Whether first-line treatment contains osimertinib (enters the hazard).
    pub(crate) fn osimertinib(&self) -> bool {
        self.line1
            .is_some_and(|(r, _)| r.drugs.contains(&OSIMERTINIB))
    }
}

/// Decides first-line treatment, surgery and transplant from the diagnosis.
pub(crate) fn plan_therapy(rng: &mut SynthRng, t: &Truth, adeno: bool) -> TherapyPlan {
    let stage = t.stage.map_or(0, Stage::number);
    let age = t.age_at_diagnosis;
    let fit = age < 75 && t.ecog <= 2;
    let soon = |rng: &mut SynthRng| draw::int(rng, 7, 42);
    let mut plan = TherapyPlan {
        line1: None,
        later: &[],
        surgery: None,
        radiotherapy: false,
        transplant: false,
    };
    match t.entity {
        Entity::Aml => {
            let r = if fit && draw::chance(rng, 0.85) {
                &SEVEN_PLUS_THREE
            } else {
                &AZA_VEN
            };
            plan.line1 = Some((r, draw::int(rng, 2, 10)));
            plan.later = &[&AZA_VEN, &HIDAC];
            plan.transplant = age < 70 && t.ecog <= 1 && draw::chance(rng, 0.5);
        }
        Entity::Cll => {
            // Early stages are watched and treated only at progression.
            let delay = if stage <= 1 {
                draw::int(rng, 365, 2500)
            } else {
                soon(rng)
            };
            let first = if draw::chance(rng, 0.6) {
                &IBRUTINIB_MONO
            } else {
                &VEN_R
            };
            plan.line1 = Some((first, delay));
            plan.later = if first.drugs[0] == IBRUTINIB {
                &[&VEN_R]
            } else {
                &[&IBRUTINIB_MONO]
            };
        }
        Entity::Dlbcl => {
            plan.line1 = Some((&R_CHOP, soon(rng)));
            plan.later = &[&R_CARBO, &R_CARBO];
            plan.radiotherapy = stage <= 2 && draw::chance(rng, 0.3);
        }
        Entity::Myeloma => {
            plan.line1 = Some((&VRD, soon(rng)));
            plan.transplant = age < 70 && draw::chance(rng, 0.6);
            plan.later = if plan.transplant {
                &[&LEN_MAINT, &DARA_D]
            } else {
                &[&DARA_D]
            };
        }
        Entity::Breast => {
            if stage <= 3 {
                let bcs = draw::chance(rng, 0.7);
                plan.surgery = Some(if bcs { BREAST_CONSERVING } else { MASTECTOMY });
                plan.radiotherapy = bcs || stage == 3;
            }
            let r = if t.marker(Marker::Erbb2) == Some(true) {
                &TRASTU_PAC
            } else if draw::chance(rng, 0.75) {
                if age < 52 {
                    &TAMOXIFEN_5Y
                } else {
                    &LETROZOLE_5Y
                }
            } else {
                &PACLITAXEL_MONO
            };
            plan.line1 = Some((r, draw::int(rng, 28, 70)));
            plan.later = &[&PACLITAXEL_MONO, &CARBOPLATIN_MONO];
        }
        Entity::Nsclc => {
            let egfr = t.marker(Marker::Egfr) == Some(true);
            if stage <= 2 {
                plan.surgery = Some(LOBECTOMY);
                if egfr && draw::chance(rng, 0.6) {
                    plan.line1 = Some((&OSIMERTINIB_MONO, draw::int(rng, 42, 90)));
                } else if stage == 2 {
                    plan.line1 = Some((&CARBOPLATIN_MONO, draw::int(rng, 35, 70)));
                }
            } else if stage == 3 {
                plan.radiotherapy = true;
                let r = if egfr && draw::chance(rng, 0.6) {
                    &OSIMERTINIB_MONO
                } else {
                    &CARBOPLATIN_MONO
                };
                plan.line1 = Some((r, soon(rng)));
            } else {
                let r = if egfr && draw::chance(rng, 0.85) {
                    &OSIMERTINIB_MONO
                } else if adeno {
                    &CARBO_PEM_PEMBRO
                } else {
                    &CARBO_PEMBRO
                };
                plan.line1 = Some((r, soon(rng)));
            }
            plan.later = &[&DOCETAXEL_MONO, &CARBOPLATIN_MONO];
        }
        Entity::Colorectal => {
            let rectum = t.icd10 == "C20";
            if stage <= 3 || draw::chance(rng, 0.3) {
                plan.surgery = Some(if rectum {
                    RECTAL_RESECTION
                } else {
                    COLON_RESECTION
                });
            }
            plan.radiotherapy = rectum && (2..=3).contains(&stage);
            if stage == 3 {
                plan.line1 = Some((&FOLFOX, draw::int(rng, 28, 56)));
            } else if stage == 4 {
                plan.line1 = Some((&FOLFOX_BEV, soon(rng)));
            }
            plan.later = &[&FOLFIRI, &FOLFIRI];
        }
    }
    plan
}
