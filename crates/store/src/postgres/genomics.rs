//! Sequencing files and variant calls on PostgreSQL, with the statements of
//! [`crate::genomics`] (one statement per row: batches are one person's calls).

use crate::genomics::{
    self, GenomicsStats, SequenceColumns, SequenceFileRow, Value, VariantColumns, VariantLookup,
    VariantRow,
};
use crate::{StoreError, WriteBatch, columns};
use oncofed_model::Pseudonym;
use postgres::types::ToSql;
use postgres::{GenericClient, Row};

fn bind(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|v| match v {
            Value::Text(s) => s as &(dyn ToSql + Sync),
            Value::Int(n) => n as &(dyn ToSql + Sync),
            Value::Real(x) => x as &(dyn ToSql + Sync),
        })
        .collect()
}

/// Upserts the batch's sequencing files and calls, inside the caller's transaction.
pub(super) fn write(tx: &mut impl GenericClient, batch: &WriteBatch) -> Result<(), StoreError> {
    if !batch.sequence_files.is_empty() {
        let upsert = tx.prepare(genomics::UPSERT_SEQUENCE)?;
        for r in &batch.sequence_files {
            let values = genomics::sequence_values(r);
            tx.execute(&upsert, &bind(&values))?;
        }
    }
    if !batch.variants.is_empty() {
        let upsert = tx.prepare(genomics::UPSERT_VARIANT)?;
        for r in &batch.variants {
            let values = genomics::variant_values(r);
            tx.execute(&upsert, &bind(&values))?;
        }
    }
    Ok(())
}

/// Deletes the person's calls and files inside the caller's transaction;
/// returns the files' object keys, sorted.
pub(super) fn delete(
    tx: &mut impl GenericClient,
    pseudonym: &Pseudonym,
) -> Result<Vec<String>, StoreError> {
    let psn = pseudonym.as_str();
    let mut keys: Vec<String> = tx
        .query(
            "SELECT object_key FROM sequence_file WHERE psn = $1 ORDER BY object_key",
            &[&psn],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    keys.dedup();
    tx.execute("DELETE FROM variant_call WHERE psn = $1", &[&psn])?;
    tx.execute("DELETE FROM sequence_file WHERE psn = $1", &[&psn])?;
    Ok(keys)
}

fn read_variant(r: &Row) -> Result<VariantColumns, StoreError> {
    Ok(VariantColumns {
        call_key: r.try_get(0)?,
        psn: r.try_get(1)?,
        object_key: r.try_get(2)?,
        collected: r.try_get(3)?,
        filter_pass: r.try_get(4)?,
        origin: r.try_get(5)?,
        build: r.try_get(6)?,
        chrom: r.try_get(7)?,
        pos: r.try_get(8)?,
        reference: r.try_get(9)?,
        alternate: r.try_get(10)?,
        gene: r.try_get(11)?,
        hgnc: r.try_get(12)?,
        hgvs_c: r.try_get(13)?,
        hgvs_p: r.try_get(14)?,
        consequence: r.try_get(15)?,
        vaf: r.try_get(16)?,
        depth: r.try_get(17)?,
        zygosity: r.try_get(18)?,
    })
}

fn read_sequence(r: &Row) -> Result<SequenceColumns, StoreError> {
    Ok(SequenceColumns {
        object_key: r.try_get(0)?,
        psn: r.try_get(1)?,
        file_key: r.try_get(2)?,
        build: r.try_get(3)?,
        origin: r.try_get(4)?,
        calls: r.try_get(5)?,
        bytes: r.try_get(6)?,
        collected: r.try_get(7)?,
        whole: r.try_get(8)?,
    })
}

/// The calls a lookup selects.
pub(super) fn lookup(
    c: &mut impl GenericClient,
    q: &VariantLookup,
) -> Result<Vec<VariantRow>, StoreError> {
    let (sql, values) = genomics::lookup_query(q);
    c.query(&sql, &bind(&values))?
        .iter()
        .map(|r| genomics::decode_variant(read_variant(r)?))
        .collect()
}

/// The calls of the persons, per person in call-key order.
pub(super) fn calls_of(
    c: &mut impl GenericClient,
    pseudonyms: &[Pseudonym],
) -> Result<Vec<VariantRow>, StoreError> {
    let stmt = c.prepare(&genomics::calls_of_query())?;
    let mut out = Vec::new();
    for p in pseudonyms {
        for r in c.query(&stmt, &[&p.as_str()])? {
            out.push(genomics::decode_variant(read_variant(&r)?)?);
        }
    }
    Ok(out)
}

/// The sequencing files of the persons.
pub(super) fn files_of(
    c: &mut impl GenericClient,
    pseudonyms: &[Pseudonym],
) -> Result<Vec<SequenceFileRow>, StoreError> {
    let stmt = c.prepare(&genomics::files_of_query())?;
    let mut out = Vec::new();
    for p in pseudonyms {
        for r in c.query(&stmt, &[&p.as_str()])? {
            out.push(genomics::decode_sequence(read_sequence(&r)?)?);
        }
    }
    Ok(out)
}

/// Counts for reports.
pub(super) fn stats(c: &mut impl GenericClient) -> Result<GenomicsStats, StoreError> {
    let r = c.query_one(genomics::STATS_QUERY, &[])?;
    let n = |i: usize| -> Result<u64, StoreError> { Ok(columns::count(r.try_get::<_, i64>(i)?)) };
    Ok(GenomicsStats {
        files: n(0)?,
        bytes: n(1)?,
        somatic_calls: n(2)?,
        germline_calls: n(3)?,
        persons: n(4)?,
    })
}
