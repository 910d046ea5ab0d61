//! Moving the shared column values ([`crate::columns`]) in and out of SQLite rows.

use crate::columns::{self, FactRow, PatientColumns};
use crate::feasibility::Param;
use crate::{PatientRow, StoreError, StoredFact};
use rusqlite::types::Value;
use rusqlite::{CachedStatement, Row, params};

/// Inserts a fact unless its key exists (then changes nothing and reports 0 rows).
pub const INSERT_FACT: &str =
    "INSERT OR IGNORE INTO fact (key, psn, kind, system, code, modifier_system, modifier_code,
        value_num, value_unit, value_system, value_code, start_date, end_date, category, level)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

/// Overwrites the fact with the same key (re-ingest of changed source data).
pub const UPDATE_FACT: &str = "UPDATE fact SET psn = ?2, kind = ?3, system = ?4, code = ?5, modifier_system = ?6,
        modifier_code = ?7, value_num = ?8, value_unit = ?9, value_system = ?10, value_code = ?11, start_date = ?12,
        end_date = ?13, category = ?14, level = ?15
     WHERE key = ?1";

/// A compiled parameter as an SQLite value.
pub fn value(p: &Param) -> Value {
    match p {
        Param::Text(s) => Value::Text(s.clone()),
        Param::Int32(n) => Value::Integer(i64::from(*n)),
        Param::Int64(n) => Value::Integer(*n),
        Param::Real(x) => Value::Real(*x),
    }
}

/// Compiled parameters as SQLite values.
pub fn values(params: &[Param]) -> Vec<Value> {
    params.iter().map(value).collect()
}

/// Binds a fact to INSERT_FACT or UPDATE_FACT (same parameter order) and runs it; returns rows changed.
pub fn execute_fact(stmt: &mut CachedStatement<'_>, f: &StoredFact) -> Result<usize, StoreError> {
    let fact = &f.fact;
    let (num, unit, vsys, vcode) = columns::value_columns(&fact.value);
    let n = stmt.execute(params![
        &f.key.0[..],
        f.pseudonym.as_str(),
        fact.kind.as_str(),
        fact.code.system.as_str(),
        fact.code.code,
        fact.modifier.as_ref().map(|m| m.system.as_str()),
        fact.modifier.as_ref().map(|m| m.code.as_str()),
        num,
        unit,
        vsys,
        vcode,
        fact.start.map(columns::date_text),
        fact.end.map(columns::date_text),
        fact.category.as_str(),
        u8::from(fact.level),
    ])?;
    Ok(n)
}

/// Reads the columns of [`columns::FACT_COLUMNS`].
pub fn read_fact_row(r: &Row<'_>) -> rusqlite::Result<FactRow> {
    Ok(FactRow {
        key: r.get(0)?,
        psn: r.get(1)?,
        kind: r.get(2)?,
        system: r.get(3)?,
        code: r.get(4)?,
        modifier_system: r.get(5)?,
        modifier_code: r.get(6)?,
        value_num: r.get(7)?,
        value_unit: r.get(8)?,
        value_system: r.get(9)?,
        value_code: r.get(10)?,
        start: r.get(11)?,
        end: r.get(12)?,
        category: r.get(13)?,
        level: r.get(14)?,
    })
}

/// Reads and decodes the columns of [`columns::PATIENT_COLUMNS`].
pub fn decode_patient(r: &Row<'_>) -> Result<PatientRow, StoreError> {
    columns::decode_patient(PatientColumns {
        psn: r.get(0)?,
        research_psn: r.get(1)?,
        sex: r.get(2)?,
        birth_year: r.get(3)?,
        vital_status: r.get(4)?,
        death_date: r.get(5)?,
        last_contact: r.get(6)?,
    })
}
