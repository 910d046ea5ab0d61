//! Dated findings: TNM categories consistent with the stage group, and lab panels
//! (LOINC + UCUM) whose values carry each entity's typical derangement.

use crate::draw::{self, SynthRng};
use crate::entities::{Entity, Stage};
use crate::record::{ObsValue, Observation, Truth};
use chrono::NaiveDate;
use oncofed_model::Sex;

/// A laboratory value the generator reports: LOINC code, display, UCUM unit.
pub(crate) type Lab = (&'static str, &'static str, &'static str);

/// Hemoglobin [Mass/volume] in Blood (g/dL).
pub(crate) const HAEMOGLOBIN: Lab = ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL");
/// Leukocytes [#/volume] in Blood by Automated count (10*3/uL).
pub(crate) const LEUKOCYTES: Lab = (
    "6690-2",
    "Leukocytes [#/volume] in Blood by Automated count",
    "10*3/uL",
);
/// Platelets [#/volume] in Blood by Automated count (10*3/uL).
pub(crate) const PLATELETS: Lab = (
    "777-3",
    "Platelets [#/volume] in Blood by Automated count",
    "10*3/uL",
);
/// Lactate dehydrogenase [Enzymatic activity/volume] in Serum or Plasma (U/L).
pub(crate) const LDH: Lab = (
    "2532-0",
    "Lactate dehydrogenase [Enzymatic activity/volume] in Serum or Plasma",
    "U/L",
);
/// Creatinine [Mass/volume] in Serum or Plasma (mg/dL).
pub(crate) const CREATININE: Lab = (
    "2160-0",
    "Creatinine [Mass/volume] in Serum or Plasma",
    "mg/dL",
);
/// Beta-2-Microglobulin [Mass/volume] in Serum or Plasma (mg/L).
pub(crate) const BETA2_MICROGLOBULIN: Lab = (
    "1952-1",
    "Beta-2-Microglobulin [Mass/volume] in Serum or Plasma",
    "mg/L",
);
/// Blasts/100 leukocytes in Bone marrow (%).
pub(crate) const BLASTS_MARROW: Lab = ("11150-0", "Blasts/100 leukocytes in Bone marrow", "%");

/// Every laboratory value the generator reports (the vocabulary lists them).
pub(crate) const LABS: [Lab; 7] = [
    HAEMOGLOBIN,
    LEUKOCYTES,
    PLATELETS,
    LDH,
    CREATININE,
    BETA2_MICROGLOBULIN,
    BLASTS_MARROW,
];

/// Clinical T, N and M categories consistent with the stage group.
pub(crate) fn tnm(rng: &mut SynthRng, entity: Entity, stage: Stage) -> (String, String, String) {
    let max_n = if entity == Entity::Colorectal { 2 } else { 3 };
    let (t, n, m) = match stage {
        Stage::I => (
            if entity == Entity::Breast {
                1
            } else {
                draw::int(rng, 1, 2)
            },
            0,
            0,
        ),
        Stage::II => {
            if draw::chance(rng, 0.5) {
                (draw::int(rng, 2, 3), 0, 0)
            } else {
                (draw::int(rng, 1, 2), 1, 0)
            }
        }
        Stage::III => (draw::int(rng, 2, 4), draw::int(rng, 1, max_n), 0),
        Stage::IV => (draw::int(rng, 1, 4), draw::int(rng, 0, max_n), 1),
    };
    (format!("T{t}"), format!("N{n}"), format!("M{m}"))
}

/// A lab panel on `date`: the basic panel for everyone, plus β2-microglobulin for
/// myeloma and bone-marrow blasts for leukaemias. Values at diagnosis carry the
/// entity's typical derangement; later panels are closer to normal.
pub(crate) fn lab_panel(
    rng: &mut SynthRng,
    t: &Truth,
    date: NaiveDate,
    at_diagnosis: bool,
) -> Vec<Observation> {
    let f = if at_diagnosis { 1.0 } else { 0.4 };
    let stage = t.stage.map_or(0, Stage::number) as f64;
    let male = t.sex == Sex::Male;
    let q = |(loinc, display, unit): Lab, value: f64| Observation {
        loinc,
        display,
        date,
        value: ObsValue::Quantity { value, unit },
    };
    let hb_drop = match t.entity {
        Entity::Aml => 4.5,
        Entity::Myeloma => 2.5 + 0.5 * stage,
        Entity::Cll | Entity::Dlbcl => 1.0 + 0.3 * stage,
        Entity::Nsclc => 0.8 + 0.2 * stage,
        Entity::Colorectal => 1.0 + 0.4 * stage,
        Entity::Breast => 0.2 + 0.1 * stage,
    };
    let hb = draw::normal(rng, if male { 14.5 } else { 13.2 }, 1.1) - f * hb_drop;
    let (leuko_median, leuko_gsd) = match (t.entity, at_diagnosis) {
        (Entity::Aml, true) => (12.0, 3.5),
        (Entity::Cll, _) => (40.0 * f + 7.0, 1.8),
        _ => (7.0, 1.3),
    };
    let plt_median = match t.entity {
        Entity::Aml => 250.0 - 190.0 * f,
        Entity::Myeloma | Entity::Cll => 220.0 - 50.0 * f,
        _ => 250.0,
    };
    let ldh_factor = match t.entity {
        Entity::Aml => 2.2,
        Entity::Dlbcl if stage >= 3.0 => 1.8,
        Entity::Dlbcl => 1.2,
        Entity::Nsclc | Entity::Colorectal if stage >= 4.0 => 1.4,
        _ => 1.0,
    };
    let ldh = draw::lognormal(rng, 200.0 * (1.0 + f * (ldh_factor - 1.0)), 1.25);
    let crea_base =
        if male { 1.0 } else { 0.85 } + 0.006 * (f64::from(t.age_at_diagnosis) - 60.0).max(0.0);
    let crea_factor = if t.entity == Entity::Myeloma {
        1.0 + 0.5 * f
    } else {
        1.0
    };
    let mut panel = vec![
        q(HAEMOGLOBIN, draw::round(hb.clamp(5.0, 18.5), 1)),
        q(
            LEUKOCYTES,
            draw::round(
                draw::lognormal(rng, leuko_median, leuko_gsd).clamp(0.3, 400.0),
                1,
            ),
        ),
        q(
            PLATELETS,
            draw::round(draw::lognormal(rng, plt_median, 1.5).clamp(5.0, 900.0), 0),
        ),
        q(LDH, draw::round(ldh.clamp(90.0, 5000.0), 0)),
        q(
            CREATININE,
            draw::round(
                draw::lognormal(rng, crea_base * crea_factor, 1.2).clamp(0.3, 12.0),
                2,
            ),
        ),
    ];
    if t.entity == Entity::Myeloma {
        // ISS-like: β2M < 3.5 in stage I, 3.5–5.5 in II, ≥ 5.5 in III.
        let b2m = match (at_diagnosis, t.stage) {
            (true, Some(Stage::I)) => draw::uniform(rng, 1.5, 3.4),
            (true, Some(Stage::II)) => draw::uniform(rng, 3.5, 5.4),
            (true, _) => draw::uniform(rng, 5.5, 15.0),
            (false, _) => draw::lognormal(rng, 3.0, 1.4),
        };
        panel.push(q(BETA2_MICROGLOBULIN, draw::round(b2m, 1)));
    }
    if matches!(t.entity, Entity::Aml | Entity::Cll) {
        let blasts = match (t.entity, at_diagnosis) {
            (Entity::Aml, true) => draw::uniform(rng, 20.0, 95.0),
            (Entity::Aml, false) => draw::lognormal(rng, 3.0, 2.5).min(60.0),
            _ => draw::uniform(rng, 0.0, 3.0),
        };
        // docs/fhir-profile.md says 11150-2, whose LOINC check digit is wrong: the code
        // for blasts/100 leukocytes in bone marrow is 11150-0.
        panel.push(q(BLASTS_MARROW, draw::round(blasts, 1)));
    }
    panel
}
