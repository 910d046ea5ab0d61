//! [`ResearchStore::write`](crate::ResearchStore::write) on PostgreSQL in a fixed
//! number of statements per batch, whatever its size: the rows travel as arrays
//! and are spread with `unnest`, so a store on a database server costs a handful
//! of round trips per batch instead of one or two per row.
//!
//! Same outcome as SQLite's row-by-row upserts: rows repeated within a batch are
//! applied once with their last values (SQLite applies each in turn, so the last
//! wins there too); a fact counts as new if its key was not in the store before
//! the batch, and every further occurrence counts as existing. Images and
//! quarantine entries are in `images.rs`, written in the same transaction.

use crate::columns;
use crate::{PatientRow, StoreError, StoredFact, WriteBatch, WriteOutcome};
use oncofed_model::Demographics;
use postgres::Transaction;
use postgres::types::ToSql;
use std::collections::{HashMap, HashSet};

const UPSERT_PATIENTS: &str = "INSERT INTO patient (psn, research_psn, sex, birth_year, vital_status, death_date, last_contact)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::text[], $7::text[])
     ON CONFLICT (psn) DO UPDATE SET research_psn = excluded.research_psn, sex = excluded.sex,
       birth_year = excluded.birth_year, vital_status = excluded.vital_status,
       death_date = excluded.death_date, last_contact = excluded.last_contact";

const FACT_ROWS: &str = "unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
       $8::float8[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::int2[])
     AS u (key, psn, kind, system, code, modifier_system, modifier_code, value_num, value_unit,
           value_system, value_code, start_date, end_date, category, level)";

/// The index of the last occurrence of each key, in order of first occurrence.
pub(super) fn last_of<K: std::hash::Hash + Eq>(keys: impl Iterator<Item = K>) -> Vec<usize> {
    let mut slot: HashMap<K, usize> = HashMap::new();
    let mut order: Vec<usize> = Vec::new();
    for (i, k) in keys.enumerate() {
        match slot.get(&k) {
            Some(&at) => order[at] = i,
            None => {
                slot.insert(k, order.len());
                order.push(i);
            }
        }
    }
    order
}

/// The fact columns of some rows, as arrays in [`columns::FACT_COLUMNS`] order.
struct FactArrays<'a> {
    key: Vec<&'a [u8]>,
    psn: Vec<&'a str>,
    kind: Vec<&'a str>,
    system: Vec<&'a str>,
    code: Vec<&'a str>,
    mod_system: Vec<Option<&'a str>>,
    mod_code: Vec<Option<&'a str>>,
    num: Vec<Option<f64>>,
    unit: Vec<Option<&'a str>>,
    vsys: Vec<Option<&'a str>>,
    vcode: Vec<Option<&'a str>>,
    start: Vec<Option<String>>,
    end: Vec<Option<String>>,
    category: Vec<&'a str>,
    level: Vec<i16>,
}

impl<'a> FactArrays<'a> {
    fn new(rows: &[&'a StoredFact]) -> Self {
        let mut a = Self {
            key: Vec::new(),
            psn: Vec::new(),
            kind: Vec::new(),
            system: Vec::new(),
            code: Vec::new(),
            mod_system: Vec::new(),
            mod_code: Vec::new(),
            num: Vec::new(),
            unit: Vec::new(),
            vsys: Vec::new(),
            vcode: Vec::new(),
            start: Vec::new(),
            end: Vec::new(),
            category: Vec::new(),
            level: Vec::new(),
        };
        for f in rows {
            let fact = &f.fact;
            let (num, unit, vsys, vcode) = columns::value_columns(&fact.value);
            a.key.push(&f.key.0[..]);
            a.psn.push(f.pseudonym.as_str());
            a.kind.push(fact.kind.as_str());
            a.system.push(fact.code.system.as_str());
            a.code.push(fact.code.code.as_str());
            a.mod_system
                .push(fact.modifier.as_ref().map(|m| m.system.as_str()));
            a.mod_code
                .push(fact.modifier.as_ref().map(|m| m.code.as_str()));
            a.num.push(num);
            a.unit.push(unit);
            a.vsys.push(vsys);
            a.vcode.push(vcode);
            a.start.push(fact.start.map(columns::date_text));
            a.end.push(fact.end.map(columns::date_text));
            a.category.push(fact.category.as_str());
            a.level.push(i16::from(u8::from(fact.level)));
        }
        a
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 15] {
        [
            &self.key,
            &self.psn,
            &self.kind,
            &self.system,
            &self.code,
            &self.mod_system,
            &self.mod_code,
            &self.num,
            &self.unit,
            &self.vsys,
            &self.vcode,
            &self.start,
            &self.end,
            &self.category,
            &self.level,
        ]
    }
}

/// Applies `batch` inside `tx` (the caller commits).
pub fn write(tx: &mut Transaction<'_>, batch: &WriteBatch) -> Result<WriteOutcome, StoreError> {
    let mut outcome = WriteOutcome::default();
    let patients: Vec<&PatientRow> = last_of(batch.patients.iter().map(|p| p.pseudonym.as_str()))
        .into_iter()
        .map(|i| &batch.patients[i])
        .collect();
    if !patients.is_empty() {
        let psn: Vec<&str> = patients.iter().map(|p| p.pseudonym.as_str()).collect();
        let existing: i64 = tx
            .query_one(
                "SELECT count(*) FROM patient WHERE psn = ANY($1::text[])",
                &[&psn],
            )?
            .try_get(0)?;
        outcome.patients_new = psn.len() - usize::try_from(existing).unwrap_or(0);
        let research: Vec<&str> = patients
            .iter()
            .map(|p| p.research_pseudonym.as_str())
            .collect();
        let d: Vec<&Demographics> = patients.iter().map(|p| &p.demographics).collect();
        let sex: Vec<&str> = d.iter().map(|d| d.sex.as_fhir()).collect();
        let born: Vec<Option<i32>> = d.iter().map(|d| d.birth_year).collect();
        let vital: Vec<&str> = d
            .iter()
            .map(|d| columns::vital_status_name(d.vital_status))
            .collect();
        let death: Vec<Option<String>> = d
            .iter()
            .map(|d| d.death_date.map(columns::date_text))
            .collect();
        let contact: Vec<Option<String>> = d
            .iter()
            .map(|d| d.last_contact.map(columns::date_text))
            .collect();
        tx.execute(
            UPSERT_PATIENTS,
            &[&psn, &research, &sex, &born, &vital, &death, &contact],
        )?;
    }
    super::images::write(tx, batch, &mut outcome)?;
    if batch.facts.is_empty() {
        return Ok(outcome);
    }
    let rows: Vec<&StoredFact> =
        last_of(batch.facts.iter().map(|f| (f.pseudonym.as_str(), f.key.0)))
            .into_iter()
            .map(|i| &batch.facts[i])
            .collect();
    // New facts in one statement, which reports the ones that went in.
    let inserted: HashSet<(String, Vec<u8>)> = tx
        .query(
            &format!(
                "INSERT INTO fact ({cols}) SELECT u.key, u.psn, u.kind, u.system, u.code, u.modifier_system,
                   u.modifier_code, u.value_num, u.value_unit, u.value_system, u.value_code, u.start_date,
                   u.end_date, u.category, u.level FROM {FACT_ROWS}
                 ON CONFLICT (psn, key) DO NOTHING RETURNING psn, key",
                cols = columns::FACT_COLUMNS
            ),
            &FactArrays::new(&rows).params(),
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, StoreError>>()?;
    // The others existed: overwrite them in place, in a second statement.
    let existing: Vec<&StoredFact> = rows
        .iter()
        .copied()
        .filter(|f| !inserted.contains(&(f.pseudonym.as_str().to_owned(), f.key.0.to_vec())))
        .collect();
    if !existing.is_empty() {
        tx.execute(
            &format!(
                "UPDATE fact SET kind = u.kind, system = u.system, code = u.code,
                   modifier_system = u.modifier_system, modifier_code = u.modifier_code,
                   value_num = u.value_num, value_unit = u.value_unit, value_system = u.value_system,
                   value_code = u.value_code, start_date = u.start_date, end_date = u.end_date,
                   category = u.category, level = u.level
                 FROM {FACT_ROWS} WHERE fact.psn = u.psn AND fact.key = u.key"
            ),
            &FactArrays::new(&existing).params(),
        )?;
    }
    outcome.facts_new = inserted.len();
    outcome.facts_existing = batch.facts.len() - inserted.len();
    Ok(outcome)
}
