//! Probabilistic linkage in the pseudonymise path: blocking keys stored in the
//! trust-centre store, candidate search, Fellegi–Sunter/EpiLink scoring with
//! `oncofed-linkage`.
//!
//! Every registered record is indexed under the keys of the four blocking passes
//! of [`oncofed_linkage::BlockingKey`] (phonetic family name + birth year + initial,
//! phonetic given name + postal code, birth date, insurance number) in
//! `linkage_blocks`, with its normalised comparison record in `linkage_records`
//! ([`super::blocks`]). A new record is compared only with the records that
//! share a leaf block; blocks split when they grow past a bound, so the cost per
//! record stays bounded as the store grows.

use super::blocks::Neighbour;
use crate::db::{LinkBatch, Row, StoreError, Tx, params, pid_from};
use crate::keys::PersonId;
use oncofed_idat::IdentifyingData;
use oncofed_linkage::probabilistic::{compare, score};
use oncofed_linkage::{Config, Field, Outcome, Record};

/// The trust centre's linkage settings: the crate defaults (thresholds 0.60 and
/// 0.45, chosen on Febrl4; see the `oncofed-linkage` docs), one thread.
pub(crate) fn config() -> Config {
    Config {
        threads: 1,
        ..Config::default()
    }
}

/// The normalised linkage record of stored IDAT JSON; `None` if unreadable.
pub(crate) fn record_of(idat_json: &str) -> Option<Record> {
    serde_json::from_str::<IdentifyingData>(idat_json)
        .ok()
        .map(|idat| Record::from_idat("", &idat))
}

/// Whether `person` has an insurance-number key on record that differs from `ours`.
pub(crate) fn person_kvnr_differs(
    tx: &mut Tx<'_>,
    person: i64,
    ours: Option<&[u8]>,
) -> Result<bool, StoreError> {
    let Some(ours) = ours else { return Ok(false) };
    let theirs: Option<Vec<u8>> = tx.query_one(
        "SELECT kvnr_key FROM persons WHERE id = ?1",
        params![person],
        |r| r.get(0),
    )?;
    Ok(theirs.is_some_and(|t| t != ours))
}

/// The best-scoring earlier record for a new one.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// Site of the earlier record.
    pub site: String,
    /// Its local id.
    pub local_id: String,
    /// The person it belongs to (store row).
    pub person: i64,
    /// That person's `pid`, if it was read with them.
    pub pid: Option<PersonId>,
    /// EpiLink score in `[0, 1]`.
    pub score: f64,
    /// Decision; [`Outcome::NonMatch`] never leaves [`best_candidate`].
    pub outcome: Outcome,
}

/// How many of the three identity cores disagree outright: given name, family
/// name (similarity 0 with both present; swaps and birth names are already
/// tried by the comparator) and birth date (all parts present on both sides and
/// fewer than two of day, month and year agree, a day/month swap counting as
/// agreement). Missing values never count as disagreement.
pub(crate) fn core_disagreements(sims: &[Option<f64>; 11]) -> usize {
    let name = [Field::Given, Field::Family]
        .iter()
        .filter(|&&f| sims[f as usize] == Some(0.0))
        .count();
    let date: Vec<f64> = [Field::BirthDay, Field::BirthMonth, Field::BirthYear]
        .iter()
        .filter_map(|&f| sims[f as usize])
        .collect();
    let date_disagrees = date.len() == 3 && date.iter().filter(|&&s| s >= 0.5).count() < 2;
    name + usize::from(date_disagrees)
}

/// Least similarity (after the string floor) at which a given or family name
/// counts as agreeing for an automatic match: Jaro–Winkler 0.85. One typo in a
/// three-letter name (`tim`/`tm`) still scores 0.67; unrelated short names
/// (`tanja`/`anna`, `kraus`/`kuhn`) score 0.1–0.3 and used to add enough to an
/// equal birth date and town to pass the match threshold.
const NAME_AGREEMENT: f64 = 0.5;

/// Whether given and family name, where present on both sides, each agree at
/// least [`NAME_AGREEMENT`]; birth names and swapped fields are already tried.
fn names_agree(sims: &[Option<f64>; 11]) -> bool {
    [Field::Given, Field::Family]
        .iter()
        .all(|&f| sims[f as usize].is_none_or(|s| s >= NAME_AGREEMENT))
}

/// Whether the two records live in different towns: postal code and city both
/// present on both sides and both disagreeing outright (not even one typo).
fn located_apart(sims: &[Option<f64>; 11]) -> bool {
    sims[Field::PostalCode as usize] == Some(0.0) && sims[Field::City as usize] == Some(0.0)
}

/// Whether given name, family name and all birth-date parts present agree exactly.
fn cores_exact(sims: &[Option<f64>; 11]) -> bool {
    [
        Field::Given,
        Field::Family,
        Field::BirthDay,
        Field::BirthMonth,
        Field::BirthYear,
    ]
    .iter()
    .all(|&f| sims[f as usize].is_none_or(|s| s == 1.0))
}

/// Whether a field beyond name, birth date and sex backs the pair up: postal
/// code, street or insurance number agreeing at least up to one typo.
fn corroborated(sims: &[Option<f64>; 11]) -> bool {
    [Field::PostalCode, Field::Street, Field::InsuranceId]
        .iter()
        .any(|&f| sims[f as usize].is_some_and(|s| s >= 0.5))
}

/// Why a pair the score calls a match may not link automatically, judged on
/// the two records alone (the person-level checks come after, in
/// [`best_candidate`]): the first of its pair rules that holds, by a stable
/// name (no personal data); `None` when the pair may link. `d` is the pair's
/// [`core_disagreements`] with a differing insurance number counted (0 when
/// the numbers agree).
pub(crate) fn demotion(
    sims: &[Option<f64>; 11],
    d: usize,
    record: &Record,
    other: &Record,
) -> Option<&'static str> {
    let vouched = sims[Field::InsuranceId as usize] == Some(1.0);
    if d >= 1 {
        Some("core-disagrees")
    } else if !vouched && !names_agree(sims) {
        Some("names-apart")
    } else if !vouched && located_apart(sims) {
        Some("located-apart")
    } else if !vouched && !cores_exact(sims) && !corroborated(sims) {
        Some("uncorroborated")
    } else if !record.insurance_id.is_empty()
        && !other.insurance_id.is_empty()
        && record.insurance_id != other.insurance_id
    {
        Some("numbers-differ")
    } else {
        None
    }
}

/// Scores the records sharing a block with `record` (its
/// [`super::blocks::search`]) and returns the best one that is at least a
/// possible match.
///
/// The EpiLink score decides only together with vetoes, because a false link
/// merges two people's data while a missed one waits for review, and a review
/// queue full of neighbours is useless. With `d` = [`core_disagreements`]:
/// - a match needs `d = 0`, else it becomes a possible match: with the default
///   weights same-sex twins at one address (other given name) score about 0.8,
///   a father and son of the same name at one address (other birth date) 0.75;
/// - a possible match needs `d ≤ 1`, else it is a non-match: otherwise people
///   sharing a given name and postal code, or given name, birth year and town,
///   flood the queue (half the records of a 200,000-person synthetic cohort
///   without insurance numbers were queued before this rule);
/// - a match whose name or birth date is not exact (a typo, a day/month swap)
///   also needs a corroborating postal code, street or insurance number, else it
///   becomes a possible match: on names, birth date and sex alone, "Lena Fischer,
///   3 April" and "Lena Fischer, 4 April" may well be two people;
/// - none of these vetoes applies when the insurance numbers agree exactly; two
///   different numbers (not one typo apart) count as one more disagreement;
/// - two different insurance numbers (validated KVNRs with a check digit) never
///   give a match, only a possible one (the rule of the exact path too); checked
///   on the two records and on the person (`persons.kvnr_key` against the new
///   record's `kvnr_key`), so a record without a number cannot bridge two people;
/// - a match needs given and family name each to agree at least
///   [`NAME_AGREEMENT`] (unless the insurance numbers agree): two women born on
///   the same day in one town, Tanja Kraus and Anna Bergmann, scored 0.65 on
///   birth date, town and weakly similar names (100k × 5 ground truth);
/// - a match between records in different towns (postal code and city both
///   disagree) needs agreeing insurance numbers: two women named Barbara
///   Friedrich born on the same day, one in Tübingen, one in Dresden, both in a
///   Meisenweg, scored 0.64 (200k × 5 ground truth); a person who moved waits
///   for review;
/// - a match whose person has a record from the same site (`site`, another local
///   id) or one that disagrees on sex or birth date ([`super::veto`]) becomes a
///   possible match. No score outweighs these (issue 9: a birth name like the
///   other's family name, similar given names and one postal code had merged a
///   man and a woman born 15 days apart).
///
/// On Febrl4, whose generator replaces whole names, the name veto sends 13 % of
/// the true pairs to review instead of linking them (`tests/linkage_febrl.rs`); on
/// the synthetic German cohort it costs nothing (`tests/linkage_synth.rs`).
/// What a new record is scored with: the configuration, the record's site,
/// the record, and its keyed insurance number.
pub(crate) struct Scoring<'a> {
    /// Weights, thresholds and passes.
    pub cfg: &'a Config,
    /// The site the record comes from.
    pub site: &'a str,
    /// Its comparison record.
    pub record: &'a Record,
    /// Its keyed insurance number, if it has one.
    pub kvnr_key: Option<&'a [u8]>,
}

pub(crate) fn best_candidate(
    tx: &mut Tx<'_>,
    scoring: &Scoring<'_>,
    neighbours: &[Neighbour],
    batch: &LinkBatch,
) -> Result<Option<Candidate>, StoreError> {
    let &Scoring {
        cfg,
        site: site_of_record,
        record,
        kvnr_key,
    } = scoring;
    let mut best: Option<Candidate> = None;
    // One record decoded into for every neighbour: most are dropped at once.
    let mut decoded = Record::default();
    for n in neighbours {
        // A row whose record cannot be read is skipped; `rebuild` restores it.
        if !decoded.read_bytes(&n.record) {
            continue;
        }
        let other = &decoded;
        let sims = compare(record, other, cfg);
        let s = score(&sims, &cfg.weights);
        let mut outcome = cfg.classify(s);
        let number = sims[Field::InsuranceId as usize];
        let d = if number == Some(1.0) {
            0
        } else {
            // Two different insurance numbers are a fourth disagreeing core.
            core_disagreements(&sims) + usize::from(number == Some(0.0))
        };
        if d >= 2 {
            continue;
        }
        if outcome == Outcome::NonMatch {
            continue;
        }
        // The person is read only for the few candidates that get this far,
        // with their `pid` and insurance-number key in the same row: one round
        // trip where three were. A neighbour indexed earlier in this batch is
        // held in it (its person's number is read when needed).
        let found = match batch.person_of(&n.site, &n.local_id) {
            Some(p) => Some((p, None)),
            // Written (or re-sent) in this batch: read in the transaction.
            None if batch.touches(&n.site, &n.local_id) => {
                tx.query_opt(CANDIDATE_PERSON, params![n.site, n.local_id], candidate_row)?
            }
            // Any other local id is as committed, and so is its person but
            // for a number given in this batch. Read beside the transaction,
            // not behind the searches it sent ahead: this read was the
            // longest wait of the path on PostgreSQL (BENCHMARKS.md).
            None => tx
                .query_committed_opt(CANDIDATE_PERSON, params![n.site, n.local_id], candidate_row)?
                .map(|(person, known)| {
                    let known = known.map(|(pid, number)| {
                        let given = || batch.number_given(person).map(|k| k.to_vec());
                        (pid, number.or_else(given))
                    });
                    (person, known)
                }),
        };
        let Some((person, known)) = found else {
            continue;
        };
        let kvnr_differs = |tx: &mut Tx<'_>| match &known {
            Some((_, theirs)) => {
                Ok(kvnr_key.is_some_and(|ours| theirs.as_ref().is_some_and(|t| t != ours)))
            }
            None => person_kvnr_differs(tx, person, kvnr_key),
        };
        if outcome == Outcome::Match
            && (demotion(&sims, d, record, other).is_some()
                || kvnr_differs(tx)?
                || candidate_veto(tx, batch, person, site_of_record, record)?.is_some())
        {
            outcome = Outcome::PossibleMatch;
        }
        let better = match &best {
            None => true,
            // A match beats a possible match even at a lower score (capped by KVNR).
            Some(b) => (outcome == Outcome::Match, s) > (b.outcome == Outcome::Match, b.score),
        };
        if better {
            best = Some(Candidate {
                site: n.site.clone(),
                local_id: n.local_id.clone(),
                person,
                pid: known.map(|(pid, _)| pid),
                score: s,
                outcome,
            });
        }
    }
    Ok(best)
}

/// The identity veto against joining a scored candidate's `person`
/// ([`super::veto::person_veto`]), with their stored records as the batch read
/// them up front; else, when the batch wrote none of theirs, as committed
/// (read beside the transaction, not behind the searches sent ahead: on
/// PostgreSQL this read had become the longest wait of the second site's
/// records); else read in the transaction.
fn candidate_veto(
    tx: &mut Tx<'_>,
    batch: &LinkBatch,
    person: i64,
    site: &str,
    record: &Record,
) -> Result<Option<super::veto::PersonVeto>, StoreError> {
    let stored = match batch.stored_records_of(person) {
        Some(stored) => Some(stored),
        None if !batch.wrote_for(person) => {
            Some(super::veto::committed_person_records(tx, person)?)
        }
        None => None,
    };
    let held = batch.local_ids_of(person);
    super::veto::person_veto(tx, person, site, Some(record), &held, stored)
}

/// A candidate's person, `pid` and insurance-number key, by its local id.
const CANDIDATE_PERSON: &str = "SELECT l.person_id, p.pid, p.kvnr_key FROM local_ids l
     JOIN persons p ON p.id = l.person_id
     WHERE l.site = ?1 AND l.local_id = ?2";

/// A candidate's person and, read with it, their `pid` and number.
type CandidateRow = (i64, Option<(PersonId, Option<Vec<u8>>)>);

/// Maps a row of [`CANDIDATE_PERSON`].
fn candidate_row(r: &Row<'_>) -> Result<CandidateRow, StoreError> {
    let known = (pid_from(r.get(1)?)?, r.get::<Option<Vec<u8>>>(2)?);
    Ok((r.get::<i64>(0)?, Some(known)))
}

/// A review candidate for a record whose exact key named a person a veto kept
/// it from: the person's record `(site, local_id)`, scored against `record`.
pub(crate) fn vetoed_candidate(
    tx: &mut Tx<'_>,
    cfg: &Config,
    record: Option<&Record>,
    (site, local_id): (String, String),
    person: i64,
) -> Result<Candidate, StoreError> {
    let score = match (record, super::veto::stored_record(tx, &site, &local_id)?) {
        (Some(ours), Some(theirs)) => score(&compare(ours, &theirs, cfg), &cfg.weights),
        _ => 0.0,
    };
    Ok(Candidate {
        site,
        local_id,
        person,
        pid: None,
        score,
        outcome: Outcome::PossibleMatch,
    })
}
