//! The column encoding both backends share: how model types become column values
//! and back, and the fact selection by [`FactFilter`]. Each backend only moves these
//! values in and out of its driver's rows.
//!
//! Dates are `YYYY-MM-DD` text (orders like the date), vital status and kinds are
//! their names, codes are text, a fact's value is spread over `value_num`,
//! `value_unit`, `value_system` and `value_code`.

use crate::feasibility::{Dialect, Param};
use crate::{FactFilter, FactKey, ImageRow, PatientRow, StoreError, StoredFact};
use chrono::NaiveDate;
use oncofed_model::{
    CodeSystem, Coding, DataCategory, Demographics, Fact, FactKind, FactValue, Pseudonym,
    SecurityLevel, Sex, VitalStatus,
};

/// The fact columns in the order [`FactRow`] reads them.
pub(crate) const FACT_COLUMNS: &str = "key, psn, kind, system, code, modifier_system, modifier_code, value_num, value_unit, \
                            value_system, value_code, start_date, end_date, category, level";

/// The patient columns in the order [`PatientColumns`] reads them.
pub(crate) const PATIENT_COLUMNS: &str =
    "psn, research_psn, sex, birth_year, vital_status, death_date, last_contact";

/// The image columns in the order [`ImageColumns`] reads them.
pub(crate) const IMAGE_COLUMNS: &str = "sop_uid, psn, study_uid, series_uid, modality, body_part, study_date, \
                            object_key, bytes, face_risk";

/// The order of [`ResearchStore::images_of`](crate::ResearchStore::images_of).
pub(crate) const IMAGE_ORDER: &str = "psn, study_uid, series_uid, sop_uid";

/// An object size as stored: a signed 64-bit integer (saturating; no object has
/// 2^63 bytes).
pub(crate) fn image_bytes(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// A count or sum read back from the engine (never negative).
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A date as stored: `YYYY-MM-DD`.
pub(crate) fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A vital status as stored.
pub(crate) fn vital_status_name(v: VitalStatus) -> &'static str {
    match v {
        VitalStatus::Alive => "alive",
        VitalStatus::Deceased => "deceased",
        VitalStatus::Unknown => "unknown",
    }
}

/// A fact's value as (`value_num`, `value_unit`, `value_system`, `value_code`).
pub(crate) fn value_columns(
    value: &FactValue,
) -> (Option<f64>, Option<&str>, Option<&str>, Option<&str>) {
    match value {
        FactValue::None => (None, None, None, None),
        FactValue::Quantity { value, unit } => (Some(*value), Some(unit.as_str()), None, None),
        FactValue::Code(c) => (None, None, Some(c.system.as_str()), Some(c.code.as_str())),
    }
}

/// SQL and arguments selecting facts by `filter`; every user value is a bound parameter.
pub(crate) fn select_facts(filter: &FactFilter, dialect: Dialect) -> (String, Vec<Param>) {
    let mut sql = format!("SELECT {FACT_COLUMNS} FROM fact WHERE 1 = 1");
    let mut args = Vec::new();
    let mut push = |sql: &mut String, fragment: &str, arg: Param| {
        sql.push_str(fragment);
        args.push(arg);
        dialect.placeholder(sql, args.len());
    };
    if let Some(kind) = filter.kind {
        push(&mut sql, " AND kind = ", Param::Text(kind.as_str().into()));
    }
    if let Some(system) = filter.system {
        push(
            &mut sql,
            " AND system = ",
            Param::Text(system.as_str().into()),
        );
    }
    if let Some(prefix) = &filter.code_prefix {
        // substr comparison instead of LIKE: no wildcard escaping, index-friendly enough.
        let length = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
        push(&mut sql, " AND substr(code, 1, ", Param::Int32(length));
        push(&mut sql, ") = ", Param::Text(prefix.clone()));
    }
    if let Some(category) = filter.category {
        push(
            &mut sql,
            " AND category = ",
            Param::Text(category.as_str().into()),
        );
    }
    sql.push_str(" ORDER BY psn, key");
    if let Some(limit) = filter.limit {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        push(&mut sql, " LIMIT ", Param::Int64(limit));
    }
    (sql, args)
}

/// The raw columns of one fact row.
pub(crate) struct FactRow {
    pub key: Vec<u8>,
    pub psn: String,
    pub kind: String,
    pub system: String,
    pub code: String,
    pub modifier_system: Option<String>,
    pub modifier_code: Option<String>,
    pub value_num: Option<f64>,
    pub value_unit: Option<String>,
    pub value_system: Option<String>,
    pub value_code: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub category: String,
    pub level: u8,
}

/// The raw columns of one patient row.
pub(crate) struct PatientColumns {
    pub psn: String,
    pub research_psn: String,
    pub sex: String,
    pub birth_year: Option<i32>,
    pub vital_status: String,
    pub death_date: Option<String>,
    pub last_contact: Option<String>,
}

/// The raw columns of one image row.
pub(crate) struct ImageColumns {
    pub sop_uid: String,
    pub psn: String,
    pub study_uid: String,
    pub series_uid: String,
    pub modality: String,
    pub body_part: Option<String>,
    pub study_date: Option<String>,
    pub object_key: String,
    pub bytes: i64,
    pub face_risk: bool,
}

pub(crate) fn decode_image(row: ImageColumns) -> Result<ImageRow, StoreError> {
    Ok(ImageRow {
        pseudonym: pseudonym("psn", &row.psn)?,
        study_date: date("study_date", row.study_date)?,
        bytes: u64::try_from(row.bytes).map_err(|_| corrupt("bytes", row.bytes.to_string()))?,
        sop_uid: row.sop_uid,
        study_uid: row.study_uid,
        series_uid: row.series_uid,
        modality: row.modality,
        body_part: row.body_part,
        object_key: row.object_key,
        face_risk: row.face_risk,
    })
}

pub(crate) fn corrupt(column: &'static str, detail: impl Into<String>) -> StoreError {
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

/// A stored pseudonym, or [`StoreError::Corrupt`] naming the column.
pub(crate) fn pseudonym(column: &'static str, text: &str) -> Result<Pseudonym, StoreError> {
    Pseudonym::new(text).map_err(|e| corrupt(column, e.to_string()))
}

pub(crate) fn decode_fact(row: FactRow) -> Result<StoredFact, StoreError> {
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

pub(crate) fn decode_patient(row: PatientColumns) -> Result<PatientRow, StoreError> {
    let demographics = Demographics {
        sex: Sex::from_fhir(&row.sex).ok_or_else(|| corrupt("sex", row.sex.clone()))?,
        birth_year: row.birth_year,
        vital_status: match row.vital_status.as_str() {
            "alive" => VitalStatus::Alive,
            "deceased" => VitalStatus::Deceased,
            "unknown" => VitalStatus::Unknown,
            other => return Err(corrupt("vital_status", other.to_owned())),
        },
        death_date: date("death_date", row.death_date)?,
        last_contact: date("last_contact", row.last_contact)?,
    };
    Ok(PatientRow {
        pseudonym: pseudonym("psn", &row.psn)?,
        research_pseudonym: pseudonym("research_psn", &row.research_psn)?,
        demographics,
    })
}
