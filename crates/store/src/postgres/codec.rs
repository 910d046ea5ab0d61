//! Moving the shared column values ([`crate::columns`]) in and out of PostgreSQL rows.

use crate::columns::{self, FactRow, PatientColumns};
use crate::feasibility::Param;
use crate::{PatientRow, StoreError, StoredFact};
use postgres::types::ToSql;
use postgres::{Row, Statement, Transaction};

/// Inserts a fact unless its (psn, key) exists (then changes nothing: 0 rows).
pub const INSERT_FACT: &str =
    "INSERT INTO fact (key, psn, kind, system, code, modifier_system, modifier_code,
        value_num, value_unit, value_system, value_code, start_date, end_date, category, level)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
     ON CONFLICT (psn, key) DO NOTHING";

/// Overwrites the fact with the same (psn, key). `psn` is matched, never set: it is
/// part of the key (and the distribution column under Citus, which cannot change).
pub const UPDATE_FACT: &str =
    "UPDATE fact SET kind = $3, system = $4, code = $5, modifier_system = $6,
        modifier_code = $7, value_num = $8, value_unit = $9, value_system = $10, value_code = $11,
        start_date = $12, end_date = $13, category = $14, level = $15
     WHERE key = $1 AND psn = $2";

/// Inserts or updates a patient row.
pub const UPSERT_PATIENT: &str =
    "INSERT INTO patient (psn, research_psn, sex, birth_year, vital_status, death_date, last_contact)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (psn) DO UPDATE SET research_psn = excluded.research_psn, sex = excluded.sex,
       birth_year = excluded.birth_year, vital_status = excluded.vital_status,
       death_date = excluded.death_date, last_contact = excluded.last_contact";

/// Compiled parameters as driver parameters, each of the type PostgreSQL infers
/// for its position (see [`Param`]).
pub fn params(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| -> &(dyn ToSql + Sync) {
            match p {
                Param::Text(s) => s,
                Param::Int32(n) => n,
                Param::Int64(n) => n,
                Param::Real(x) => x,
            }
        })
        .collect()
}

/// Binds a fact to [`INSERT_FACT`] or [`UPDATE_FACT`] (same parameter order) and
/// runs it; returns rows changed.
pub fn execute_fact(
    tx: &mut Transaction<'_>,
    stmt: &Statement,
    f: &StoredFact,
) -> Result<u64, StoreError> {
    let fact = &f.fact;
    let (num, unit, vsys, vcode) = columns::value_columns(&fact.value);
    let n = tx.execute(
        stmt,
        &[
            &&f.key.0[..],
            &f.pseudonym.as_str(),
            &fact.kind.as_str(),
            &fact.code.system.as_str(),
            &fact.code.code,
            &fact.modifier.as_ref().map(|m| m.system.as_str()),
            &fact.modifier.as_ref().map(|m| m.code.as_str()),
            &num,
            &unit,
            &vsys,
            &vcode,
            &fact.start.map(columns::date_text),
            &fact.end.map(columns::date_text),
            &fact.category.as_str(),
            &i16::from(u8::from(fact.level)),
        ],
    )?;
    Ok(n)
}

/// Binds a patient to [`UPSERT_PATIENT`] and runs it.
pub fn upsert_patient(
    tx: &mut Transaction<'_>,
    stmt: &Statement,
    p: &PatientRow,
) -> Result<(), StoreError> {
    let d = &p.demographics;
    tx.execute(
        stmt,
        &[
            &p.pseudonym.as_str(),
            &p.research_pseudonym.as_str(),
            &d.sex.as_fhir(),
            &d.birth_year,
            &columns::vital_status_name(d.vital_status),
            &d.death_date.map(columns::date_text),
            &d.last_contact.map(columns::date_text),
        ],
    )?;
    Ok(())
}

/// Reads and decodes the columns of [`columns::FACT_COLUMNS`].
pub fn decode_fact(r: &Row) -> Result<StoredFact, StoreError> {
    let level: i16 = r.try_get(14)?;
    columns::decode_fact(FactRow {
        key: r.try_get(0)?,
        psn: r.try_get(1)?,
        kind: r.try_get(2)?,
        system: r.try_get(3)?,
        code: r.try_get(4)?,
        modifier_system: r.try_get(5)?,
        modifier_code: r.try_get(6)?,
        value_num: r.try_get(7)?,
        value_unit: r.try_get(8)?,
        value_system: r.try_get(9)?,
        value_code: r.try_get(10)?,
        start: r.try_get(11)?,
        end: r.try_get(12)?,
        category: r.try_get(13)?,
        level: u8::try_from(level).map_err(|_| columns::corrupt("level", level.to_string()))?,
    })
}

/// Reads and decodes the columns of [`columns::PATIENT_COLUMNS`].
pub fn decode_patient(r: &Row) -> Result<PatientRow, StoreError> {
    columns::decode_patient(PatientColumns {
        psn: r.try_get(0)?,
        research_psn: r.try_get(1)?,
        sex: r.try_get(2)?,
        birth_year: r.try_get(3)?,
        vital_status: r.try_get(4)?,
        death_date: r.try_get(5)?,
        last_contact: r.try_get(6)?,
    })
}
