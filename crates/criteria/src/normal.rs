//! A semantic normal form of a criteria tree, so that rewordings of one query
//! share one key: the site's noise seed and the hub's sketch key.
//!
//! Deterministic noise protects against averaging only if every way of asking the
//! same question gets the same draw. Keyed by [`Criteria::canonical_json`], seven
//! equivalent forms of one query (reordered, duplicated clause, double negation,
//! tautology, nesting) got seven independent draws (issue 11). Keyed by
//! [`Criteria::semantic_key`] they get one.
//!
//! # What the normal form does
//!
//! Every step is an equivalence under the documented leaf semantics (each leaf is
//! two-valued, `NOT c` matches exactly the patients `c` does not):
//!
//! - negations pushed to the leaves (De Morgan), double negations removed;
//! - nested `and` in `and` (and `or` in `or`) flattened, operands sorted by
//!   their canonical JSON and deduplicated, a single operand unwrapped;
//! - constants: `x AND NOT x` is false, `x OR NOT x` true; true operands of an
//!   `and` and false operands of an `or` dropped, a false `and` operand (true
//!   `or` operand) decides the node; true is written `{"and": []}`, false
//!   `{"or": []}` (forms [`Criteria::validate`] refuses: the normal form is a
//!   key, never compiled);
//! - absorption: `a AND (a OR b)` is `a`, `a OR (a AND b)` is `a` (also with
//!   several shared operands);
//! - leaves: stage groups and TNM prefixes sorted and deduplicated, a TNM prefix
//!   covered by a shorter one of the same axis dropped; ECOG `min 0` / `max 5`
//!   written as absent (the compiler's defaults); an empty range (age or ECOG
//!   `min > max`, a date range with `from > to`, no stage group) is false;
//!   `-0` lab thresholds are `0`; imaging modalities sorted and deduplicated,
//!   the body part upper-cased (it is compared case-insensitively), an imaging
//!   leaf with no modality or a day window with `min_days > max_days` false;
//! - single-valued attributes: two different `sex` (or `vital_status`) values
//!   under one `and` are false; age-at-diagnosis ranges with the same `icd10`
//!   intersect under `and` and merge under `or` when they overlap or touch
//!   (ages are whole years, one per patient and prefix).
//!
//! # What it does not recognise
//!
//! Equivalences that need the code hierarchy or value domains are not decided:
//! `diagnosis C9 OR diagnosis C92` (prefix containment), `NOT lab < 10` against
//! `lab >= 10` (not equivalent: "some observation"), unions of date ranges,
//! ECOG ranges under `or`, lab thresholds written differently (`< 10` vs `<= 9.99`).
//! Such a rewording gets its own key and so its own noise draw: it is a new
//! query and counts as one against the researcher's rate limit and weekly quota.

use super::{AgeCriterion, Criteria, EcogCriterion, TnmCriterion};
use chrono::NaiveDate;

/// Most normalisation passes: each pass is a fixed-point step, and a tree within
/// the validation limits settles in two or three.
const MAX_PASSES: usize = 16;

impl Criteria {
    /// The constant "every patient": an empty `and`.
    pub const fn always() -> Self {
        Self::And(Vec::new())
    }

    /// The constant "no patient": an empty `or`.
    pub const fn never() -> Self {
        Self::Or(Vec::new())
    }

    /// The tree's semantic normal form: equivalent rewordings it recognises give
    /// equal trees, so keys derived from it do not multiply noise draws.
    ///
    /// Decided: negations pushed to the leaves and double negations removed;
    /// nested `and`/`or` flattened, operands sorted and deduplicated; `x AND NOT x`
    /// false, `x OR NOT x` true, constants folded; absorption (`a AND (a OR b)` is
    /// `a`); stage groups and TNM prefixes sorted, deduplicated, covered prefixes
    /// dropped; ECOG `min 0`/`max 5` as absent; empty ranges (`min > max`,
    /// `from > to`) false; two different `sex` or `vital_status` values under one
    /// `and` false; age ranges of one `icd10` intersected under `and`, merged
    /// under `or` when they overlap or touch; `-0` lab thresholds as `0`;
    /// imaging modalities sorted and deduplicated, body parts upper-cased.
    ///
    /// Not decided (each such rewording is a new query with its own noise, and
    /// counts as one against the rate limit and weekly quota): code-prefix
    /// containment between leaves (`C9` vs `C92`), lab thresholds written
    /// differently, unions of date or ECOG ranges, De Morgan-equivalent
    /// rewritings that need value domains (`NOT lab < 10` is *not* `lab >= 10`).
    ///
    /// Idempotent; matches exactly the same patients as `self`. May contain the
    /// constants [`Criteria::always`] / [`Criteria::never`], which
    /// [`Criteria::validate`] refuses: use it as a key, compile the original.
    pub fn normalised(&self) -> Criteria {
        let mut current = normalise(self, false);
        for _ in 0..MAX_PASSES {
            let next = normalise(&current, false);
            if next == current {
                break;
            }
            current = next;
        }
        current
    }

    /// The key of the query's meaning: the canonical JSON of
    /// [`Criteria::normalised`]. Sites seed their noise and the hub derives its
    /// sketch key from it, so reworded queries get the same noise and sketch.
    ///
    /// A tree that is already in normal form keeps its canonical JSON as key, so
    /// answers released before this key existed keep their noise.
    pub fn semantic_key(&self) -> String {
        self.normalised().canonical_json()
    }
}

/// One pass: negation pushed down (`negated`), every node simplified bottom-up.
fn normalise(c: &Criteria, negated: bool) -> Criteria {
    match c {
        Criteria::Not(inner) => normalise(inner, !negated),
        Criteria::And(v) | Criteria::Or(v) => {
            // NOT (a AND b) = NOT a OR NOT b, and dually.
            let is_and = matches!(c, Criteria::And(_)) != negated;
            let children = v.iter().map(|x| normalise(x, negated)).collect();
            simplify(is_and, children)
        }
        leaf => {
            let canon = canonical_leaf(leaf);
            if !negated {
                canon
            } else if canon == Criteria::always() {
                Criteria::never()
            } else if canon == Criteria::never() {
                Criteria::always()
            } else {
                Criteria::not(canon)
            }
        }
    }
}

/// An `and` (`is_and`) or `or` node over already normalised children.
fn simplify(is_and: bool, children: Vec<Criteria>) -> Criteria {
    let (unit, zero) = if is_and {
        (Criteria::always(), Criteria::never())
    } else {
        (Criteria::never(), Criteria::always())
    };
    // Flatten: a child of the same kind contributes its operands (the unit,
    // an empty node of the same kind, contributes none).
    let mut flat = Vec::with_capacity(children.len());
    for child in children {
        match child {
            Criteria::And(v) if is_and => flat.extend(v),
            Criteria::Or(v) if !is_and => flat.extend(v),
            other => flat.push(other),
        }
    }
    let mut flat = if is_and {
        intersect_singletons(flat)
    } else {
        merge_ages(flat, false)
    };
    if flat.contains(&zero) {
        return zero;
    }
    flat.retain(|c| *c != unit);
    sort_dedup(&mut flat);
    // Complements: x and NOT x together decide the node.
    if flat
        .iter()
        .any(|x| matches!(x, Criteria::Not(inner) if flat.contains(inner)))
    {
        return zero;
    }
    absorb(is_and, &mut flat);
    match flat.len() {
        0 => unit,
        1 => flat.pop().unwrap_or(unit),
        _ if is_and => Criteria::And(flat),
        _ => Criteria::Or(flat),
    }
}

fn sort_dedup(v: &mut Vec<Criteria>) {
    let mut keyed: Vec<(String, Criteria)> = v.drain(..).map(|c| (c.canonical_json(), c)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    v.extend(keyed.into_iter().map(|(_, c)| c));
}

/// Absorption: under `and`, drop an operand whose disjuncts include all the
/// disjuncts of another operand (it is implied by it); dually under `or`.
fn absorb(is_and: bool, flat: &mut Vec<Criteria>) {
    let parts = |c: &Criteria| -> Vec<Criteria> {
        match c {
            Criteria::Or(v) if is_and => v.clone(),
            Criteria::And(v) if !is_and => v.clone(),
            other => vec![other.clone()],
        }
    };
    let sets: Vec<Vec<Criteria>> = flat.iter().map(parts).collect();
    let keep: Vec<bool> = (0..flat.len())
        .map(|i| {
            !(0..flat.len()).any(|j| {
                j != i
                    && sets[j].len() < sets[i].len()
                    && sets[j].iter().all(|x| sets[i].contains(x))
            })
        })
        .collect();
    let mut k = keep.into_iter();
    flat.retain(|_| k.next().unwrap_or(true));
}

/// Under `and`: different values of a single-valued attribute are false, and
/// age ranges of the same prefix intersect.
fn intersect_singletons(flat: Vec<Criteria>) -> Vec<Criteria> {
    let mut sex = None;
    let mut vital = None;
    for c in &flat {
        match c {
            Criteria::Sex(s) if *sex.get_or_insert(*s) != *s => return vec![Criteria::never()],
            Criteria::VitalStatus(v) if *vital.get_or_insert(*v) != *v => {
                return vec![Criteria::never()];
            }
            _ => {}
        }
    }
    merge_ages(flat, true)
}

/// Combines the age leaves of one `icd10` prefix: intersection under `and`
/// (`is_and`), union of overlapping or touching ranges under `or`.
fn merge_ages(flat: Vec<Criteria>, is_and: bool) -> Vec<Criteria> {
    let (mut ages, mut out): (Vec<AgeCriterion>, Vec<Criteria>) = (Vec::new(), Vec::new());
    for c in flat {
        match c {
            Criteria::AgeAtDiagnosis(a) => ages.push(a),
            other => out.push(other),
        }
    }
    // `None` (no lower bound) sorts first, as the widest start.
    ages.sort_by(|a, b| (&a.icd10, a.min).cmp(&(&b.icd10, b.min)));
    let mut merged: Vec<AgeCriterion> = Vec::new();
    for a in ages {
        match merged.last_mut() {
            Some(last) if last.icd10 == a.icd10 && is_and => {
                last.min = last.min.max(a.min);
                last.max = match (last.max, a.max) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (x, y) => x.or(y),
                };
            }
            // Sorted by min: `a` starts at or after `last`; it joins when it
            // starts no later than one year after `last` ends.
            Some(last)
                if last.icd10 == a.icd10
                    && a.min
                        .is_none_or(|lo| last.max.is_none_or(|m| lo <= m.saturating_add(1))) =>
            {
                last.max = match (last.max, a.max) {
                    (Some(x), Some(y)) => Some(x.max(y)),
                    _ => None,
                };
            }
            _ => merged.push(a),
        }
    }
    out.extend(
        merged
            .into_iter()
            .map(|a| canonical_leaf(&Criteria::AgeAtDiagnosis(a))),
    );
    out
}

/// An empty date range (`from > to`) matches nothing.
fn empty_dates(from: Option<NaiveDate>, to: Option<NaiveDate>) -> bool {
    matches!((from, to), (Some(f), Some(t)) if f > t)
}

/// A leaf in canonical form, or a constant when its range is empty.
fn canonical_leaf(c: &Criteria) -> Criteria {
    let mut c = c.clone();
    let empty = match &mut c {
        Criteria::Diagnosis(d) => empty_dates(d.from, d.to),
        Criteria::AgeAtDiagnosis(a) => matches!((a.min, a.max), (Some(lo), Some(hi)) if lo > hi),
        Criteria::Stage(s) => {
            s.group.sort();
            s.group.dedup();
            s.group.is_empty() || empty_dates(s.from, s.to)
        }
        Criteria::Tnm(t) => {
            canonical_prefixes(t);
            empty_dates(t.from, t.to)
        }
        Criteria::Ecog(e) => {
            if e.min == Some(0) {
                e.min = None;
            }
            if e.max == Some(EcogCriterion::MAX_GRADE) {
                e.max = None;
            }
            let (lo, hi) = (
                e.min.unwrap_or(0),
                e.max.unwrap_or(EcogCriterion::MAX_GRADE),
            );
            lo > hi || empty_dates(e.from, e.to)
        }
        Criteria::Lab(l) => {
            if l.value == 0.0 {
                l.value = 0.0; // -0 and 0 compare equal: one spelling
            }
            empty_dates(l.from, l.to)
        }
        Criteria::Marker(m) => empty_dates(m.from, m.to),
        Criteria::Variant(v) => {
            if let Some(p) = v.protein_normalised() {
                v.protein = Some(p);
            }
            let (lo, hi) = (v.vaf_min.unwrap_or(0.0), v.vaf_max.unwrap_or(1.0));
            lo > hi || empty_dates(v.from, v.to)
        }
        Criteria::Therapy(t) => empty_dates(t.from, t.to),
        Criteria::Procedure(p) => empty_dates(p.from, p.to),
        Criteria::Cytology(c) => {
            let (lo, hi) = (
                c.blast_percent_min.unwrap_or(0),
                c.blast_percent_max.unwrap_or(100),
            );
            lo > hi || empty_dates(c.from, c.to)
        }
        Criteria::Imaging(i) => {
            i.modality.sort();
            i.modality.dedup();
            i.body_part = i.body_part_upper();
            i.modality.is_empty()
                || empty_dates(i.from, i.to)
                || i.after_diagnosis
                    .as_ref()
                    .is_some_and(|w| w.min_days > w.max_days)
        }
        _ => false,
    };
    if empty { Criteria::never() } else { c }
}

/// Sorts and deduplicates each axis, dropping prefixes a shorter one covers.
fn canonical_prefixes(t: &mut TnmCriterion) {
    for axis in [&mut t.t, &mut t.n, &mut t.m] {
        axis.sort();
        axis.dedup();
        let all = axis.clone();
        axis.retain(|p| {
            !all.iter()
                .any(|q| q.len() < p.len() && p.starts_with(q.as_str()))
        });
    }
}

#[cfg(test)]
#[path = "normal_tests.rs"]
mod tests;
