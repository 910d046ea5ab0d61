//! The clinical course: how a person's data is spread over sites and over time.
//!
//! [`course`] lays out the dated resources of each site between diagnosis and death or
//! censoring, given the plan from [`crate::therapy`]: the primary site holds the
//! diagnostic work-up (histology, staging, ECOG, markers, labs), first-line therapy,
//! surgery and the follow-up to the end; further sites hold their own record of the
//! diagnosis, their labs and ECOG, later therapy lines and transplants, and know only
//! their own last contact. Every date lies in `[diagnosis, end]`.

use crate::draw::{self, SynthRng};
use crate::fhir_writer::{COURSE_SNOMED, ECOG_SYSTEM, TNM_SYSTEM};
use crate::findings::{lab_panel, tnm};
use crate::record::{
    Condition, Consent, ConsentKind, Medication, ObsValue, Observation, Procedure, Resource,
    ResourceBody, Truth,
};
use crate::therapy::{self, TherapyPlan};
use chrono::NaiveDate;
use oncofed_model::CodeSystem;

/// Each site's resources, first and last contact, as laid out by [`course`].
pub(crate) struct SiteCourse {
    pub first_contact: NaiveDate,
    pub last_contact: NaiveDate,
    pub resources: Vec<Resource>,
}

/// Lays out the clinical course over `n_sites` sites (slot 0 is the primary site).
pub(crate) fn course(
    rng: &mut SynthRng,
    t: &Truth,
    plan: &TherapyPlan,
    n_sites: usize,
) -> Vec<SiteCourse> {
    let d = t.diagnosis_date;
    let end = t.end_date();
    let span = draw::days_between(d, end);
    let clamp = |x: NaiveDate| x.clamp(d, end);
    let mut first: Vec<NaiveDate> = vec![d];
    let mut extra: Vec<NaiveDate> = (1..n_sites)
        .map(|_| draw::add_days(d, (draw::uniform(rng, 0.0, 0.5) * span as f64) as i64))
        .collect();
    extra.sort();
    first.extend(extra);
    let mut res: Vec<Vec<Resource>> = (0..n_sites).map(|_| Vec::new()).collect();
    let mut last: Vec<NaiveDate> = first.clone();
    fn push(rng: &mut SynthRng, res: &mut [Vec<Resource>], slot: usize, body: ResourceBody) {
        res[slot].push(Resource {
            uuid: draw::uuid(rng),
            body,
        });
    }

    // Primary site: diagnosis and work-up.
    let condition = |recorded: NaiveDate| {
        let loc = t
            .entity
            .spec()
            .localisations
            .iter()
            .find(|l| l.icd10 == t.icd10)
            .expect("drawn from table");
        ResourceBody::Condition(Condition {
            icd10: loc.icd10,
            display: loc.display,
            icd_version: chrono::Datelike::year(&d),
            topography: loc.topography,
            onset: d,
            recorded,
        })
    };
    push(rng, &mut res, 0, condition(d));
    let morphology = t
        .entity
        .spec()
        .morphologies
        .iter()
        .find(|m| m.0 == t.morphology)
        .expect("drawn from table");
    let coded =
        |system: &'static str, code: String, display: Option<&'static str>| ObsValue::Coded {
            system,
            code,
            display,
        };
    let obs = |loinc, display, date, value| {
        ResourceBody::Observation(Observation {
            loinc,
            display,
            date,
            value,
        })
    };
    push(
        rng,
        &mut res,
        0,
        obs(
            "59847-4",
            "Histology and Behavior ICD-O-3 Cancer",
            d,
            coded(
                CodeSystem::IcdO3.uri(),
                t.morphology.into(),
                Some(morphology.1),
            ),
        ),
    );
    if let Some(stage) = t.stage {
        if t.entity.is_solid() {
            let (tc, nc, mc) = tnm(rng, t.entity, stage);
            push(
                rng,
                &mut res,
                0,
                obs(
                    "21905-5",
                    "Primary tumor.clinical [Class] Cancer",
                    d,
                    coded(TNM_SYSTEM, tc, None),
                ),
            );
            push(
                rng,
                &mut res,
                0,
                obs(
                    "21906-3",
                    "Regional lymph nodes.clinical [Class] Cancer",
                    d,
                    coded(TNM_SYSTEM, nc, None),
                ),
            );
            push(
                rng,
                &mut res,
                0,
                obs(
                    "21907-1",
                    "Distant metastases.clinical [Class] Cancer",
                    d,
                    coded(TNM_SYSTEM, mc, None),
                ),
            );
        }
        push(
            rng,
            &mut res,
            0,
            obs(
                "21908-9",
                "Stage group.clinical Cancer",
                d,
                coded(TNM_SYSTEM, stage.as_str().into(), None),
            ),
        );
    }
    push(
        rng,
        &mut res,
        0,
        obs(
            "89247-1",
            "ECOG Performance Status score",
            d,
            coded(ECOG_SYSTEM, t.ecog.to_string(), None),
        ),
    );
    for o in lab_panel(rng, t, d, true) {
        push(rng, &mut res, 0, ResourceBody::Observation(o));
    }
    let marker_date = clamp(draw::add_days(d, draw::int(rng, 7, 21)));
    for &(marker, present) in &t.markers {
        push(
            rng,
            &mut res,
            0,
            obs(
                "69548-6",
                "Genetic variant assessment",
                marker_date,
                ObsValue::Marker { marker, present },
            ),
        );
    }
    last[0] = last[0].max(marker_date);

    // Surgery and radiotherapy at the primary site.
    let mut cursor = d;
    if let Some((ops, display)) = plan.surgery {
        let date = draw::add_days(d, draw::int(rng, 10, 40));
        if date <= end {
            push(
                rng,
                &mut res,
                0,
                ResourceBody::Procedure(Procedure { ops, display, date }),
            );
            cursor = date;
        }
    }
    if plan.radiotherapy {
        let date = draw::add_days(cursor, draw::int(rng, 20, 60));
        if date <= end {
            push(
                rng,
                &mut res,
                0,
                ResourceBody::Procedure(Procedure {
                    ops: therapy::RADIOTHERAPY.0,
                    display: therapy::RADIOTHERAPY.1,
                    date,
                }),
            );
        }
    }

    // Therapy lines: line 1 at the primary site, later lines mostly where the person went next.
    let mut line_start = plan.line1.map(|(_, delay)| draw::add_days(d, delay));
    let mut regimen = plan.line1.map(|(r, _)| r);
    let mut line: u8 = 1;
    let mut later = plan.later.iter();
    while let (Some(start), Some(r)) = (line_start, regimen) {
        if start > end {
            break;
        }
        let slot = if line == 1 {
            0
        } else {
            let eligible: Vec<usize> = (1..n_sites).filter(|&s| first[s] <= start).collect();
            match eligible.last() {
                Some(&s) if draw::chance(rng, 0.75) => s,
                _ => 0,
            }
        };
        let planned_end = draw::add_days(start, draw::int(rng, r.days.0, r.days.1));
        // Whether there is a next line, and when it starts.
        let p_next = match (line, t.event) {
            (1, true) => 0.65,
            (1, false) => 0.30,
            (_, true) => 0.35,
            _ => 0.10,
        };
        let next_start = if draw::days_between(start, end) > 90 && draw::chance(rng, p_next) {
            let lo = (draw::days_between(start, planned_end) + 21)
                .min(draw::days_between(start, end) - 30)
                .max(30);
            let hi = draw::days_between(start, end) - 14;
            Some(draw::add_days(start, draw::int(rng, lo, hi.max(lo))))
        } else {
            None
        };
        let stop = next_start.map_or(planned_end, |n| planned_end.min(draw::sub_days(n, 7)));
        // A next line follows a progression (or, after curative surgery, a
        // recurrence), recorded as the MII onco course observation two weeks
        // before it. Its resource id comes from a side stream of the
        // generator, so every other draw stays as it was.
        if let Some(n) = next_start {
            let date = draw::sub_days(n, 14).max(start);
            let (code, display) = if line == 1 && plan.surgery.is_some() {
                ("Y", "Rezidiv")
            } else {
                ("P", "Progression")
            };
            // the person's own stream (its index) with high bits no person
            // stream has, and the line: unique per person and line
            let mut side = rng.clone();
            side.set_stream(rng.get_stream() ^ 0x6f6e_636f_0000_0000 ^ (u64::from(line) << 40));
            res[slot].push(Resource {
                uuid: draw::uuid(&mut side),
                body: ResourceBody::Observation(Observation {
                    loinc: COURSE_SNOMED,
                    display: "Status of regression of tumor (observable entity)",
                    date,
                    value: ObsValue::Coded {
                        system: CodeSystem::OncoCourse.uri(),
                        code: code.into(),
                        display: Some(display),
                    },
                }),
            });
            last[slot] = last[slot].max(date);
        }
        let end_date = if stop >= end {
            if t.event { Some(end) } else { None }
        } else {
            Some(stop.max(start))
        };
        for &(atc, display) in r.drugs {
            push(
                rng,
                &mut res,
                slot,
                ResourceBody::Medication(Medication {
                    atc,
                    display,
                    line,
                    start,
                    end: end_date,
                }),
            );
        }
        for o in lab_panel(rng, t, start, false) {
            push(rng, &mut res, slot, ResourceBody::Observation(o));
        }
        last[slot] = last[slot].max(end_date.unwrap_or(end).min(end));
        if line == 1 && plan.transplant {
            let date = draw::add_days(stop.min(end), draw::int(rng, 20, 60));
            if date <= end && next_start.is_none_or(|n| date < n) {
                let slot = if n_sites > 1 { 1 } else { 0 };
                first[slot] = first[slot].min(date);
                push(
                    rng,
                    &mut res,
                    slot,
                    ResourceBody::Procedure(Procedure {
                        ops: therapy::STEM_CELL_TRANSPLANT.0,
                        display: therapy::STEM_CELL_TRANSPLANT.1,
                        date,
                    }),
                );
                last[slot] = last[slot].max(date);
            }
        }
        line += 1;
        line_start = next_start;
        regimen = later.next().copied();
    }

    // Further sites: their own record of the diagnosis, ECOG and labs at first contact.
    for slot in 1..n_sites {
        let c = first[slot];
        let mut own = vec![Resource {
            uuid: draw::uuid(rng),
            body: condition(c),
        }];
        let ecog = (t.ecog + u8::from(draw::chance(rng, 0.3))).min(4);
        own.push(Resource {
            uuid: draw::uuid(rng),
            body: obs(
                "89247-1",
                "ECOG Performance Status score",
                c,
                coded(ECOG_SYSTEM, ecog.to_string(), None),
            ),
        });
        for o in lab_panel(rng, t, c, false) {
            own.push(Resource {
                uuid: draw::uuid(rng),
                body: ResourceBody::Observation(o),
            });
        }
        own.append(&mut res[slot]);
        res[slot] = own;
        last[slot] = last[slot].max(c).min(end);
    }
    last[0] = end;

    // Vital status at each site's last contact; only the primary site follows up to the end.
    for (slot, &last_contact) in last.iter().enumerate() {
        let dead = t.event && last_contact == end;
        let code = if dead { "T" } else { "L" };
        let value = coded(
            CodeSystem::VitalStatus.uri(),
            code.into(),
            Some(if dead { "verstorben" } else { "lebendig" }),
        );
        push(
            rng,
            &mut res,
            slot,
            obs("75186-7", "Vital status", last_contact, value),
        );
    }

    // Consents: signed at each site's first contact; objection and withdrawal are person-level.
    let signed: Vec<NaiveDate> = first
        .iter()
        .map(|&c| clamp(draw::add_days(c, draw::int(rng, 0, 14))))
        .collect();
    let gdng_date = draw::date_between(rng, d, end);
    let latest_signed = signed.iter().copied().max().unwrap_or(d);
    let withdrawal_date = draw::date_between(rng, latest_signed, end);
    for (slot, &signed_here) in signed.iter().enumerate() {
        let kinds = [
            (t.broad_consent, ConsentKind::BroadConsent, signed_here),
            (t.genetic_opt_in, ConsentKind::GeneticResearch, signed_here),
            (t.gdng_objection, ConsentKind::GdngObjection, gdng_date),
            (t.withdrawn, ConsentKind::Withdrawal, withdrawal_date),
        ];
        for (yes, kind, date) in kinds {
            if yes {
                push(
                    rng,
                    &mut res,
                    slot,
                    ResourceBody::Consent(Consent { kind, date }),
                );
            }
        }
    }

    res.into_iter()
        .enumerate()
        .map(|(slot, resources)| SiteCourse {
            first_contact: first[slot],
            last_contact: last[slot],
            resources,
        })
        .collect()
}
