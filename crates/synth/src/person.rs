//! Drawing one person: disease, demographics, markers, survival, consent, sites.
//!
//! A person is a pure function of (seed, index, config): [`person`] seeds a ChaCha
//! stream for the index and draws everything from it in a fixed order, so persons can
//! be generated one at a time (bounded memory), in any order, or in parallel.
//!
//! Survival follows a Weibull proportional-hazards model,
//! `h(t | x) = λ k t^(k-1) · HR(x)`, with the entity's shape `k` and a scale `λ` fixed
//! by the reference patient's median, and `HR(x)` the product of the hazard ratios
//! below. Time is then censored administratively at [`ADMIN_CENSORING`] and by random
//! loss to follow-up, so Kaplan–Meier and Cox analyses on the output recover the
//! planted effects.

use crate::clinical;
use crate::config::SynthConfig;
use crate::draw::{self, SynthRng};
use crate::entities::{ENTITIES, Entity, Marker, Stage};
use crate::identity;
use crate::record::{SiteRecord, Truth};
use chrono::NaiveDate;
use oncofed_idat::IdentifyingData;
use oncofed_model::{Sex, SiteId};

/// Hazard ratio per stage group step above stage I.
pub const HR_STAGE_STEP: f64 = 1.6;
/// Hazard ratio per 10 years of age at diagnosis (relative to [`REFERENCE_AGE`]).
pub const HR_AGE_PER_10_YEARS: f64 = 1.3;
/// Hazard ratio per ECOG point.
pub const HR_ECOG_POINT: f64 = 1.5;
/// Hazard ratio of FLT3-ITD (AML).
pub const HR_FLT3_ITD: f64 = 1.8;
/// Hazard ratio of NPM1 mutated without FLT3-ITD (AML, favourable).
pub const HR_NPM1_WITHOUT_FLT3: f64 = 0.6;
/// Hazard ratio of a TP53 mutation (any entity).
pub const HR_TP53: f64 = 2.0;
/// Hazard ratio of EGFR-mutated NSCLC treated with osimertinib.
pub const HR_EGFR_OSIMERTINIB: f64 = 0.6;
/// Age at which the age effect is 1.
pub const REFERENCE_AGE: f64 = 60.0;
/// Yearly hazard of loss to follow-up (exponential censoring).
pub const LOSS_TO_FOLLOW_UP_PER_YEAR: f64 = 0.03;
/// Administrative censoring date: end of follow-up for everyone.
pub const ADMIN_CENSORING: NaiveDate = NaiveDate::from_ymd_opt(2026, 6, 30).expect("valid date");
/// First possible diagnosis date.
pub const FIRST_DIAGNOSIS: NaiveDate = NaiveDate::from_ymd_opt(2012, 1, 1).expect("valid date");
/// Last possible diagnosis date.
pub const LAST_DIAGNOSIS: NaiveDate = NaiveDate::from_ymd_opt(2025, 12, 31).expect("valid date");

/// One generated person: the truth, the true identity, and each site's record.
#[derive(Debug, Clone)]
pub struct Person {
    /// 0-based index in the cohort.
    pub index: u64,
    /// Ground-truth person id (`P00000001` for index 0), used only in `ground-truth/`.
    pub person_id: String,
    /// Person-level truth (`cohort.csv`).
    pub truth: Truth,
    /// The true identifying data (sites hold varied copies).
    pub identity: IdentifyingData,
    /// One record per site the person was treated at; the first is the primary site.
    pub sites: Vec<SiteRecord>,
}

/// The hazard ratio of a person's covariates against the reference patient
/// (stage I or unstaged, age 60, ECOG 0, no adverse markers, no osimertinib).
pub fn hazard_ratio(
    stage: Option<Stage>,
    age: f64,
    ecog: u8,
    marker: impl Fn(Marker) -> Option<bool>,
    osimertinib: bool,
) -> f64 {
    let mut hr = HR_AGE_PER_10_YEARS.powf((age - REFERENCE_AGE) / 10.0)
        * HR_ECOG_POINT.powi(i32::from(ecog));
    if let Some(s) = stage {
        hr *= HR_STAGE_STEP.powi(i32::from(s.number()) - 1);
    }
    let flt3 = marker(Marker::Flt3Itd) == Some(true);
    if flt3 {
        hr *= HR_FLT3_ITD;
    }
    if marker(Marker::Npm1) == Some(true) && !flt3 {
        hr *= HR_NPM1_WITHOUT_FLT3;
    }
    if marker(Marker::Tp53) == Some(true) {
        hr *= HR_TP53;
    }
    if marker(Marker::Egfr) == Some(true) && osimertinib {
        hr *= HR_EGFR_OSIMERTINIB;
    }
    hr
}

/// Generates person `index` of the cohort described by `config` (deterministic).
pub fn person(config: &SynthConfig, index: u64) -> Person {
    let rng = &mut draw::person_rng(config.seed, index);

    // Disease.
    let weights: Vec<f64> = ENTITIES.iter().map(|e| e.weight).collect();
    let spec = &ENTITIES[draw::weighted(rng, &weights)];
    let entity = spec.entity;
    let loc = spec.localisations[draw::weighted(
        rng,
        &spec
            .localisations
            .iter()
            .map(|l| l.weight)
            .collect::<Vec<_>>(),
    )];
    let morph = spec.morphologies[draw::weighted(
        rng,
        &spec.morphologies.iter().map(|m| m.2).collect::<Vec<_>>(),
    )];

    // Demographics.
    let sex = if draw::chance(rng, 0.001) {
        Sex::Other
    } else if draw::chance(rng, spec.p_male) {
        Sex::Male
    } else {
        Sex::Female
    };
    let (mean, sd, lo, hi) = spec.age;
    let age_years = draw::normal(rng, mean, sd).clamp(lo, hi);
    let diagnosis_date = draw::date_between(rng, FIRST_DIAGNOSIS, LAST_DIAGNOSIS);
    let birth_date = draw::sub_days(diagnosis_date, (age_years * 365.25) as i64);
    let age_at_diagnosis = diagnosis_date.years_since(birth_date).unwrap_or(0);

    // Stage and performance status.
    let stage = spec.stages.map(|w| Stage::ALL[draw::weighted(rng, &w)]);
    let stage_term = stage.map_or(0.0, |s| f64::from(s.number()) - 2.0);
    let ecog_mean = 0.6
        + 0.03 * (age_years - 65.0)
        + 0.3 * stage_term
        + if entity == Entity::Aml { 0.4 } else { 0.0 };
    let ecog = draw::normal(rng, ecog_mean, 0.8).round().clamp(0.0, 4.0) as u8;

    // Molecular markers.
    let adeno = morph.0 == "8140/3";
    let markers = draw_markers(rng, entity, adeno);

    let mut truth = Truth {
        entity,
        icd10: loc.icd10,
        morphology: morph.0,
        sex,
        birth_date,
        diagnosis_date,
        age_at_diagnosis,
        stage,
        ecog,
        markers,
        osimertinib: false,
        hazard_ratio: 1.0,
        survival_days: 0,
        event: false,
        broad_consent: false,
        gdng_objection: false,
        genetic_opt_in: false,
        withdrawn: false,
    };

    // Treatment decided at diagnosis, then survival.
    let plan = crate::therapy::plan_therapy(rng, &truth, adeno);
    truth.osimertinib = plan.osimertinib();
    truth.hazard_ratio = hazard_ratio(
        stage,
        age_years,
        ecog,
        |m| truth.marker(m),
        truth.osimertinib,
    );
    let k = spec.weibull_shape;
    let lambda = std::f64::consts::LN_2 / spec.reference_median_years.powf(k);
    let e1 = -(1.0 - draw::unit(rng)).ln();
    let death_years = (e1 / (lambda * truth.hazard_ratio)).powf(1.0 / k);
    let death_days = (death_years * 365.25).min(1e6) as i64;
    let admin_days = draw::days_between(diagnosis_date, ADMIN_CENSORING);
    let ltfu_days =
        (-(1.0 - draw::unit(rng)).ln() / LOSS_TO_FOLLOW_UP_PER_YEAR * 365.25).min(1e6) as i64;
    truth.event = death_days <= admin_days.min(ltfu_days);
    truth.survival_days = death_days.min(admin_days).min(ltfu_days);

    // Consent (independent person-level draws).
    truth.broad_consent = draw::chance(rng, config.consent.broad_consent);
    truth.gdng_objection = draw::chance(rng, config.consent.gdng_objection);
    truth.genetic_opt_in = draw::chance(rng, config.consent.genetic_opt_in);
    truth.withdrawn = draw::chance(rng, config.consent.withdrawal);

    // Sites.
    let site_numbers = draw_sites(rng, config);
    let identity = identity::true_identity(rng, sex, birth_date);
    let courses = clinical::course(rng, &truth, &plan, site_numbers.len());
    let end = truth.end_date();
    let sites = site_numbers
        .iter()
        .zip(courses)
        .map(|(&k, course)| {
            let (copy, variations) = identity::site_copy(rng, &identity, &config.variation);
            let dead_here = truth.event && course.last_contact == end;
            SiteRecord {
                site: SynthConfig::site_id(k),
                local_id: local_id(config.seed, k, index),
                patient_uuid: draw::uuid(rng),
                bundle_uuid: draw::uuid(rng),
                identity: copy,
                variations,
                deceased: dead_here.then_some(end),
                first_contact: course.first_contact,
                last_contact: course.last_contact,
                resources: course.resources,
            }
        })
        .collect();

    Person {
        index,
        person_id: person_id(index),
        truth,
        identity,
        sites,
    }
}

/// Ground-truth person id of `index`.
pub fn person_id(index: u64) -> String {
    format!("P{:08}", index + 1)
}

/// The local patient id of person `index` at site `k`: looks random, never collides
/// within a site (a bijection of the index keyed by seed and site).
pub fn local_id(seed: u64, k: u32, index: u64) -> String {
    let key = draw::mix64(seed ^ (u64::from(k) << 40) ^ 0x0A11_CE5E);
    format!("PID-{:016X}", draw::mix64(index ^ key))
}

/// The site ids of `person` (primary first).
pub fn site_ids(person: &Person) -> Vec<&SiteId> {
    person.sites.iter().map(|s| &s.site).collect()
}

fn draw_markers(rng: &mut SynthRng, entity: Entity, adeno: bool) -> Vec<(Marker, bool)> {
    let mut m = Vec::new();
    match entity {
        Entity::Aml => {
            let npm1 = draw::chance(rng, 0.30);
            let flt3 = draw::chance(rng, if npm1 { 0.40 } else { 0.18 });
            let tp53 = draw::chance(rng, if npm1 { 0.02 } else { 0.12 });
            m.extend([
                (Marker::Npm1, npm1),
                (Marker::Flt3Itd, flt3),
                (Marker::Tp53, tp53),
            ]);
        }
        Entity::Nsclc => {
            let tp53 = draw::chance(rng, 0.50);
            let egfr = draw::chance(rng, if adeno { 0.14 } else { 0.02 });
            let kras = !egfr && draw::chance(rng, if adeno { 0.32 } else { 0.06 });
            m.extend([
                (Marker::Tp53, tp53),
                (Marker::Egfr, egfr),
                (Marker::Kras, kras),
            ]);
        }
        Entity::Colorectal => {
            let kras = draw::chance(rng, 0.42);
            let braf = !kras && draw::chance(rng, 0.12);
            m.extend([(Marker::Kras, kras), (Marker::Braf, braf)]);
        }
        Entity::Dlbcl => m.push((Marker::Tp53, draw::chance(rng, 0.20))),
        Entity::Myeloma => m.push((Marker::Tp53, draw::chance(rng, 0.10))),
        Entity::Cll => m.push((Marker::Tp53, draw::chance(rng, 0.08))),
        Entity::Breast => m.push((Marker::Erbb2, draw::chance(rng, 0.15))),
    }
    m.sort_by_key(|(marker, _)| *marker);
    m
}

/// Site numbers (1-based) of a person: how many from the multi-site rates, which ones
/// by a mildly decreasing site-size weight (site-1 is the largest centre).
fn draw_sites(rng: &mut SynthRng, config: &SynthConfig) -> Vec<u32> {
    let u = draw::unit(rng);
    let rates = &config.multi_site;
    let wanted = if u < rates.three_sites {
        3
    } else if u < rates.three_sites + rates.two_sites {
        2
    } else {
        1
    };
    let n = wanted.min(config.sites as usize);
    let mut weights: Vec<f64> = (0..config.sites)
        .map(|k| 1.0 / (1.0 + 0.15 * f64::from(k)))
        .collect();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let i = draw::weighted(rng, &weights);
        weights[i] = 0.0;
        out.push(i as u32 + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hazard_ratio_combines_effects() {
        let none = |_| None;
        assert!((hazard_ratio(Some(Stage::I), 60.0, 0, none, false) - 1.0).abs() < 1e-12);
        let hr = hazard_ratio(Some(Stage::IV), 70.0, 1, none, false);
        assert!((hr - 1.6f64.powi(3) * 1.3 * 1.5).abs() < 1e-9);
        let npm1_only = |m| Some(m == Marker::Npm1);
        assert!((hazard_ratio(None, 60.0, 0, npm1_only, false) - 0.6).abs() < 1e-12);
        let both = |m| Some(matches!(m, Marker::Npm1 | Marker::Flt3Itd));
        assert!((hazard_ratio(None, 60.0, 0, both, false) - 1.8).abs() < 1e-12);
    }

    #[test]
    fn local_ids_do_not_collide() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|i| local_id(7, 2, i)).collect();
        assert_eq!(ids.len(), 10_000);
        assert_ne!(local_id(7, 1, 0), local_id(7, 2, 0));
    }
}
