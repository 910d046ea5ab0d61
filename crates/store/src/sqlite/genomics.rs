//! Sequencing files and variant calls on SQLite, with the statements of
//! [`crate::genomics`].

use crate::genomics::{
    self, GenomicsStats, SequenceColumns, SequenceFileRow, Value, VariantColumns, VariantLookup,
    VariantRow,
};
use crate::{StoreError, WriteBatch, columns};
use oncofed_model::Pseudonym;
use rusqlite::{Connection, Row, types};

fn bind(values: Vec<Value>) -> Vec<types::Value> {
    values
        .into_iter()
        .map(|v| match v {
            Value::Text(Some(s)) => types::Value::Text(s),
            Value::Int(Some(n)) => types::Value::Integer(n),
            Value::Real(Some(x)) => types::Value::Real(x),
            Value::Text(None) | Value::Int(None) | Value::Real(None) => types::Value::Null,
        })
        .collect()
}

/// Upserts the batch's sequencing files and calls, inside the caller's transaction.
pub(super) fn write(tx: &Connection, batch: &WriteBatch) -> Result<(), StoreError> {
    if !batch.sequence_files.is_empty() {
        let mut upsert = tx.prepare_cached(&genomics::sqlite_sql(genomics::UPSERT_SEQUENCE))?;
        for r in &batch.sequence_files {
            upsert.execute(rusqlite::params_from_iter(bind(genomics::sequence_values(
                r,
            ))))?;
        }
    }
    if !batch.variants.is_empty() {
        let mut upsert = tx.prepare_cached(&genomics::sqlite_sql(genomics::UPSERT_VARIANT))?;
        for r in &batch.variants {
            upsert.execute(rusqlite::params_from_iter(bind(genomics::variant_values(
                r,
            ))))?;
        }
    }
    Ok(())
}

/// Deletes the person's calls and files inside the caller's transaction;
/// returns the files' object keys, sorted.
pub(super) fn delete(tx: &Connection, pseudonym: &Pseudonym) -> Result<Vec<String>, StoreError> {
    let psn = pseudonym.as_str();
    let mut keys: Vec<String> = tx
        .prepare("SELECT object_key FROM sequence_file WHERE psn = ?1 ORDER BY object_key")?
        .query_map([psn], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    keys.dedup();
    tx.execute("DELETE FROM variant_call WHERE psn = ?1", [psn])?;
    tx.execute("DELETE FROM sequence_file WHERE psn = ?1", [psn])?;
    Ok(keys)
}

fn read_variant(r: &Row<'_>) -> rusqlite::Result<VariantColumns> {
    Ok(VariantColumns {
        call_key: r.get(0)?,
        psn: r.get(1)?,
        object_key: r.get(2)?,
        collected: r.get(3)?,
        filter_pass: r.get(4)?,
        origin: r.get(5)?,
        build: r.get(6)?,
        chrom: r.get(7)?,
        pos: r.get(8)?,
        reference: r.get(9)?,
        alternate: r.get(10)?,
        gene: r.get(11)?,
        hgnc: r.get(12)?,
        hgvs_c: r.get(13)?,
        hgvs_p: r.get(14)?,
        consequence: r.get(15)?,
        vaf: r.get(16)?,
        depth: r.get(17)?,
        zygosity: r.get(18)?,
    })
}

fn read_sequence(r: &Row<'_>) -> rusqlite::Result<SequenceColumns> {
    Ok(SequenceColumns {
        object_key: r.get(0)?,
        psn: r.get(1)?,
        file_key: r.get(2)?,
        build: r.get(3)?,
        origin: r.get(4)?,
        calls: r.get(5)?,
        bytes: r.get(6)?,
        collected: r.get(7)?,
        whole: r.get(8)?,
    })
}

/// The calls a lookup selects.
pub(super) fn lookup(conn: &Connection, q: &VariantLookup) -> Result<Vec<VariantRow>, StoreError> {
    let (sql, values) = genomics::lookup_query(q);
    let mut stmt = conn.prepare_cached(&genomics::sqlite_sql(&sql))?;
    let rows = stmt.query_map(rusqlite::params_from_iter(bind(values)), read_variant)?;
    rows.map(|r| genomics::decode_variant(r?)).collect()
}

/// The calls of the persons, per person in call-key order.
pub(super) fn calls_of(
    conn: &Connection,
    pseudonyms: &[Pseudonym],
) -> Result<Vec<VariantRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&genomics::sqlite_sql(&genomics::calls_of_query()))?;
    let mut out = Vec::new();
    for p in pseudonyms {
        for r in stmt.query_map([p.as_str()], read_variant)? {
            out.push(genomics::decode_variant(r?)?);
        }
    }
    Ok(out)
}

/// The sequencing files of the persons.
pub(super) fn files_of(
    conn: &Connection,
    pseudonyms: &[Pseudonym],
) -> Result<Vec<SequenceFileRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&genomics::sqlite_sql(&genomics::files_of_query()))?;
    let mut out = Vec::new();
    for p in pseudonyms {
        for r in stmt.query_map([p.as_str()], read_sequence)? {
            out.push(genomics::decode_sequence(r?)?);
        }
    }
    Ok(out)
}

/// Counts for reports.
pub(super) fn stats(conn: &Connection) -> Result<GenomicsStats, StoreError> {
    let row: [i64; 5] = conn.query_row(genomics::STATS_QUERY, [], |r| {
        Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])
    })?;
    Ok(GenomicsStats {
        files: columns::count(row[0]),
        bytes: columns::count(row[1]),
        somatic_calls: columns::count(row[2]),
        germline_calls: columns::count(row[3]),
        persons: columns::count(row[4]),
    })
}
