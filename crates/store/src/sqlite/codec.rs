//! Mapping between model types and SQLite columns.

use crate::{FactFilter, FactKey, PatientRow, StoreError, StoredFact};
use chrono::NaiveDate;
use oncofed_model::{
    CodeSystem, Coding, DataCategory, Demographics, Fact, FactKind, FactValue, Pseudonym,
    SecurityLevel, Sex, VitalStatus,
};
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

const FACT_COLUMNS: &str = "key, psn, kind, system, code, modifier_system, modifier_code, value_num, value_unit, \
                            value_system, value_code, start_date, end_date, category, level";

pub fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub fn vital_status_name(v: VitalStatus) -> &'static str {
    match v {
        VitalStatus::Alive => "alive",
        VitalStatus::Deceased => "deceased",
        VitalStatus::Unknown => "unknown",
    }
}

/// Binds a fact to INSERT_FACT or UPDATE_FACT (same parameter order) and runs it; returns rows changed.
pub fn execute_fact(stmt: &mut CachedStatement<'_>, f: &StoredFact) -> Result<usize, StoreError> {
    let fact = &f.fact;
    let (num, unit, vsys, vcode) = match &fact.value {
        FactValue::None => (None, None, None, None),
        FactValue::Quantity { value, unit } => (Some(*value), Some(unit.as_str()), None, None),
        FactValue::Code(c) => (None, None, Some(c.system.as_str()), Some(c.code.as_str())),
    };
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
        fact.start.map(date_text),
        fact.end.map(date_text),
        fact.category.as_str(),
        u8::from(fact.level),
    ])?;
    Ok(n)
}

/// SQL and arguments selecting facts by `filter`; every user value is a bound parameter.
pub fn select_facts(filter: &FactFilter) -> (String, Vec<Value>) {
    let mut sql = format!("SELECT {FACT_COLUMNS} FROM fact WHERE 1 = 1");
    let mut args = Vec::new();
    if let Some(kind) = filter.kind {
        sql.push_str(" AND kind = ?");
        args.push(Value::Text(kind.as_str().into()));
    }
    if let Some(system) = filter.system {
        sql.push_str(" AND system = ?");
        args.push(Value::Text(system.as_str().into()));
    }
    if let Some(prefix) = &filter.code_prefix {
        // substr comparison instead of LIKE: no wildcard escaping, index-friendly enough.
        sql.push_str(" AND substr(code, 1, ?) = ?");
        args.push(Value::Integer(prefix.chars().count() as i64));
        args.push(Value::Text(prefix.clone()));
    }
    if let Some(category) = filter.category {
        sql.push_str(" AND category = ?");
        args.push(Value::Text(category.as_str().into()));
    }
    sql.push_str(" ORDER BY psn, key");
    if let Some(limit) = filter.limit {
        sql.push_str(" LIMIT ?");
        args.push(Value::Integer(limit.min(i64::MAX as usize) as i64));
    }
    (sql, args)
}

/// The raw columns of one fact row.
pub struct FactRow {
    key: Vec<u8>,
    psn: String,
    kind: String,
    system: String,
    code: String,
    modifier_system: Option<String>,
    modifier_code: Option<String>,
    value_num: Option<f64>,
    value_unit: Option<String>,
    value_system: Option<String>,
    value_code: Option<String>,
    start: Option<String>,
    end: Option<String>,
    category: String,
    level: u8,
}

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

fn corrupt(column: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        column,
        detail: detail.into(),
    }
}

fn system(column: &'static str, name: &str) -> Result<CodeSystem, StoreError> {
    CodeSystem::from_name(name)
        .ok_or_else(|| corrupt(column, format!("unknown code system '{name}'")))
}

fn date(column: &'static str, text: Option<String>) -> Result<Option<NaiveDate>, StoreError> {
    text.map(|t| {
        NaiveDate::parse_from_str(&t, "%Y-%m-%d").map_err(|e| corrupt(column, e.to_string()))
    })
    .transpose()
}

fn pseudonym(column: &'static str, text: &str) -> Result<Pseudonym, StoreError> {
    Pseudonym::new(text).map_err(|e| corrupt(column, e.to_string()))
}

pub fn decode_fact(row: FactRow) -> Result<StoredFact, StoreError> {
    let key: [u8; 16] = row
        .key
        .as_slice()
        .try_into()
        .map_err(|_| corrupt("key", "not 16 bytes"))?;
    let modifier = match (row.modifier_system, row.modifier_code) {
        (Some(s), Some(c)) => Some(Coding::new(system("modifier_system", &s)?, c)),
        _ => None,
    };
    let value = match (
        row.value_num,
        row.value_unit,
        row.value_system,
        row.value_code,
    ) {
        (Some(value), Some(unit), _, _) => FactValue::Quantity { value, unit },
        (_, _, Some(s), Some(c)) => FactValue::Code(Coding::new(system("value_system", &s)?, c)),
        _ => FactValue::None,
    };
    let fact = Fact {
        kind: FactKind::from_name(&row.kind).ok_or_else(|| corrupt("kind", row.kind.clone()))?,
        code: Coding::new(system("system", &row.system)?, row.code),
        modifier,
        value,
        start: date("start_date", row.start)?,
        end: date("end_date", row.end)?,
        category: row
            .category
            .parse::<DataCategory>()
            .map_err(|e| corrupt("category", e))?,
        level: SecurityLevel::try_from(row.level).map_err(|e| corrupt("level", e))?,
    };
    Ok(StoredFact {
        key: FactKey(key),
        pseudonym: pseudonym("psn", &row.psn)?,
        fact,
    })
}

pub fn decode_patient(r: &Row<'_>) -> Result<PatientRow, StoreError> {
    let sex: String = r.get(2)?;
    let vital: String = r.get(4)?;
    let demographics = Demographics {
        sex: Sex::from_fhir(&sex).ok_or_else(|| corrupt("sex", sex.clone()))?,
        birth_year: r.get(3)?,
        vital_status: match vital.as_str() {
            "alive" => VitalStatus::Alive,
            "deceased" => VitalStatus::Deceased,
            "unknown" => VitalStatus::Unknown,
            other => return Err(corrupt("vital_status", other.to_owned())),
        },
        death_date: date("death_date", r.get(5)?)?,
        last_contact: date("last_contact", r.get(6)?)?,
    };
    Ok(PatientRow {
        pseudonym: pseudonym("psn", &r.get::<_, String>(0)?)?,
        research_pseudonym: pseudonym("research_psn", &r.get::<_, String>(1)?)?,
        demographics,
    })
}
