//! Moving the shared column values ([`crate::columns`]) in and out of PostgreSQL rows.

use crate::columns::{self, FactRow, PatientColumns};
use crate::feasibility::Param;
use crate::{PatientRow, StoreError, StoredFact};
use postgres::Row;
use postgres::types::ToSql;

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
