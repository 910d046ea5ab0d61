//! Smears, cells and cell labels on PostgreSQL, with SQLite's semantics: one
//! statement per table and batch (rows as arrays spread with `unnest`, the last
//! occurrence of a key winning), deleted with their patient, listed for training
//! and reports.

use super::write::last_of;
use crate::cells::{
    CELL_COLUMNS, CellColumns, CellLabelRow, CellListing, CellRow, CellStats, LABEL_COLUMNS,
    SMEAR_COLUMNS, SmearColumns, SmearRow,
};
use crate::{StoreError, WriteBatch, columns};
use oncofed_model::Pseudonym;
use postgres::{GenericClient, Row};

/// Upserts the batch's smears, cells and labels, inside the caller's transaction.
pub(super) fn write(tx: &mut impl GenericClient, batch: &WriteBatch) -> Result<(), StoreError> {
    if !batch.smears.is_empty() {
        let rows: Vec<&SmearRow> = last_of(batch.smears.iter().map(|s| s.smear_key.as_str()))
            .into_iter()
            .map(|i| &batch.smears[i])
            .collect();
        let key: Vec<&str> = rows.iter().map(|s| s.smear_key.as_str()).collect();
        let psn: Vec<&str> = rows.iter().map(|s| s.pseudonym.as_str()).collect();
        let specimen: Vec<&str> = rows.iter().map(|s| s.specimen.code()).collect();
        let stain: Vec<&str> = rows.iter().map(|s| s.stain.as_str()).collect();
        let scanner: Vec<&str> = rows.iter().map(|s| s.scanner.as_str()).collect();
        let magnification: Vec<&str> = rows.iter().map(|s| s.magnification.as_str()).collect();
        let collected: Vec<Option<String>> = rows
            .iter()
            .map(|s| s.collected.map(columns::date_text))
            .collect();
        tx.execute(
            "INSERT INTO smear (smear_key, psn, specimen, stain, scanner, magnification, collected)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
               $6::text[], $7::text[])
             ON CONFLICT (smear_key) DO UPDATE SET psn = excluded.psn, specimen = excluded.specimen,
               stain = excluded.stain, scanner = excluded.scanner,
               magnification = excluded.magnification, collected = excluded.collected",
            &[
                &key,
                &psn,
                &specimen,
                &stain,
                &scanner,
                &magnification,
                &collected,
            ],
        )?;
    }
    if !batch.cells.is_empty() {
        let rows: Vec<&CellRow> = last_of(batch.cells.iter().map(|c| c.cell_key.as_str()))
            .into_iter()
            .map(|i| &batch.cells[i])
            .collect();
        let key: Vec<&str> = rows.iter().map(|c| c.cell_key.as_str()).collect();
        let smear: Vec<&str> = rows.iter().map(|c| c.smear_key.as_str()).collect();
        let object: Vec<&str> = rows.iter().map(|c| c.object_key.as_str()).collect();
        let width: Vec<i64> = rows.iter().map(|c| i64::from(c.width)).collect();
        let height: Vec<i64> = rows.iter().map(|c| i64::from(c.height)).collect();
        let lab: Vec<Option<&str>> = rows.iter().map(|c| c.lab_label.map(|l| l.code())).collect();
        tx.execute(
            "INSERT INTO cell (cell_key, smear_key, object_key, width, height, lab_label)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::text[])
             ON CONFLICT (cell_key) DO UPDATE SET smear_key = excluded.smear_key,
               object_key = excluded.object_key, width = excluded.width,
               height = excluded.height, lab_label = excluded.lab_label",
            &[&key, &smear, &object, &width, &height, &lab],
        )?;
    }
    if !batch.cell_labels.is_empty() {
        let l = &batch.cell_labels;
        let rows: Vec<&CellLabelRow> = last_of(
            l.iter()
                .map(|l| (l.cell_key.as_str(), l.role, l.expert.as_str())),
        )
        .into_iter()
        .map(|i| &l[i])
        .collect();
        let key: Vec<&str> = rows.iter().map(|l| l.cell_key.as_str()).collect();
        let role: Vec<&str> = rows.iter().map(|l| l.role.as_str()).collect();
        let expert: Vec<&str> = rows.iter().map(|l| l.expert.as_str()).collect();
        let label: Vec<&str> = rows.iter().map(|l| l.label.code()).collect();
        let method: Vec<Option<&str>> = rows.iter().map(|l| l.method.as_deref()).collect();
        let at: Vec<chrono::DateTime<chrono::Utc>> = rows.iter().map(|l| l.at).collect();
        tx.execute(
            "INSERT INTO cell_label (cell_key, role, expert, label, method, at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
               $6::timestamptz[])
             ON CONFLICT (cell_key, role, expert) DO UPDATE SET label = excluded.label,
               method = excluded.method, at = excluded.at",
            &[&key, &role, &expert, &label, &method, &at],
        )?;
    }
    Ok(())
}

/// Deletes the person's labels, cells and smears inside the caller's
/// transaction; returns the cells' object keys, sorted and each once.
pub(super) fn delete(
    tx: &mut impl GenericClient,
    pseudonym: &Pseudonym,
) -> Result<Vec<String>, StoreError> {
    let psn = pseudonym.as_str();
    tx.execute(
        "DELETE FROM cell_label WHERE cell_key IN (SELECT c.cell_key FROM cell c
           JOIN smear s ON s.smear_key = c.smear_key WHERE s.psn = $1)",
        &[&psn],
    )?;
    let mut keys: Vec<String> = tx
        .query(
            "DELETE FROM cell WHERE smear_key IN (SELECT smear_key FROM smear WHERE psn = $1)
             RETURNING object_key",
            &[&psn],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    tx.execute("DELETE FROM smear WHERE psn = $1", &[&psn])?;
    keys.sort_unstable();
    keys.dedup();
    Ok(keys)
}

fn smear(r: &Row, at: usize) -> Result<SmearRow, StoreError> {
    SmearColumns {
        smear_key: r.try_get(at)?,
        psn: r.try_get(at + 1)?,
        specimen: r.try_get(at + 2)?,
        stain: r.try_get(at + 3)?,
        scanner: r.try_get(at + 4)?,
        magnification: r.try_get(at + 5)?,
        collected: r.try_get(at + 6)?,
    }
    .decode()
}

fn cell(r: &Row, at: usize) -> Result<CellRow, StoreError> {
    CellColumns {
        cell_key: r.try_get(at)?,
        smear_key: r.try_get(at + 1)?,
        object_key: r.try_get(at + 2)?,
        width: r.try_get(at + 3)?,
        height: r.try_get(at + 4)?,
        lab_label: r.try_get(at + 5)?,
    }
    .decode()
}

/// The smears of `pseudonyms` (all smears when `None`), by smear key.
pub(super) fn smears(
    c: &mut impl GenericClient,
    pseudonyms: Option<&[Pseudonym]>,
) -> Result<Vec<SmearRow>, StoreError> {
    let rows = match pseudonyms {
        None => c.query(
            &format!("SELECT {SMEAR_COLUMNS} FROM smear s ORDER BY s.smear_key"),
            &[],
        )?,
        Some(list) => {
            let names: Vec<&str> = list.iter().map(Pseudonym::as_str).collect();
            c.query(
                &format!(
                    "SELECT {SMEAR_COLUMNS} FROM smear s WHERE s.psn = ANY($1::text[])
                     ORDER BY s.smear_key"
                ),
                &[&names],
            )?
        }
    };
    rows.iter().map(|r| smear(r, 0)).collect()
}

/// The cells of the smears `smear_keys`, by smear key and cell key.
pub(super) fn cells(
    c: &mut impl GenericClient,
    smear_keys: &[String],
) -> Result<Vec<CellRow>, StoreError> {
    c.query(
        &format!(
            "SELECT {CELL_COLUMNS} FROM cell c WHERE c.smear_key = ANY($1::text[])
             ORDER BY c.smear_key, c.cell_key"
        ),
        &[&smear_keys],
    )?
    .iter()
    .map(|r| cell(r, 0))
    .collect()
}

/// The stored cells among `cell_keys`, by cell key.
pub(super) fn by_key(
    c: &mut impl GenericClient,
    cell_keys: &[String],
) -> Result<Vec<CellRow>, StoreError> {
    c.query(
        &format!(
            "SELECT {CELL_COLUMNS} FROM cell c WHERE c.cell_key = ANY($1::text[])
             ORDER BY c.cell_key"
        ),
        &[&cell_keys],
    )?
    .iter()
    .map(|r| cell(r, 0))
    .collect()
}

/// The labels of the cells `cell_keys`, by cell key, role and expert.
pub(super) fn labels(
    c: &mut impl GenericClient,
    cell_keys: &[String],
) -> Result<Vec<CellLabelRow>, StoreError> {
    c.query(
        &format!(
            "SELECT {LABEL_COLUMNS} FROM cell_label l WHERE l.cell_key = ANY($1::text[])
             ORDER BY l.cell_key, l.role, l.expert"
        ),
        &[&cell_keys],
    )?
    .iter()
    .map(|r| {
        Ok(CellLabelRow {
            cell_key: r.try_get(0)?,
            expert: r.try_get(1)?,
            label: crate::cells::class("cell_label.label", r.try_get(2)?)?,
            role: crate::cells::role(r.try_get(3)?)?,
            method: r.try_get(4)?,
            at: r.try_get(5)?,
        })
    })
    .collect()
}

/// Every cell with its smear and newest validated label, by smear and cell key.
pub(super) fn listing(c: &mut impl GenericClient) -> Result<Vec<CellListing>, StoreError> {
    c.query(
        &format!(
            "SELECT {SMEAR_COLUMNS}, {CELL_COLUMNS},
               (SELECT l.label FROM cell_label l WHERE l.cell_key = c.cell_key
                  AND l.role = 'validated' ORDER BY l.at DESC, l.expert LIMIT 1)
             FROM cell c JOIN smear s ON s.smear_key = c.smear_key
             ORDER BY s.smear_key, c.cell_key"
        ),
        &[],
    )?
    .iter()
    .map(|r| {
        let validated: Option<String> = r.try_get(13)?;
        Ok(CellListing {
            smear: smear(r, 0)?,
            cell: cell(r, 7)?,
            validated: validated
                .map(|v| crate::cells::class("cell_label.label", &v))
                .transpose()?,
        })
    })
    .collect()
}

/// Smears, cells, labels and cells per smear.
pub(super) fn stats(c: &mut impl GenericClient) -> Result<CellStats, StoreError> {
    let mut one = |sql: &str| -> Result<u64, StoreError> {
        let n: i64 = c.query_one(sql, &[])?.try_get(0)?;
        Ok(columns::count(n))
    };
    let smears = one("SELECT COUNT(*) FROM smear")?;
    let cells = one("SELECT COUNT(*) FROM cell")?;
    let labels = one("SELECT COUNT(*) FROM cell_label")?;
    let cells_per_smear = c
        .query(
            "SELECT s.smear_key, COUNT(c.cell_key) FROM smear s
             LEFT JOIN cell c ON c.smear_key = s.smear_key GROUP BY s.smear_key ORDER BY s.smear_key",
            &[],
        )?
        .iter()
        .map(|r| {
            let n: i64 = r.try_get(1)?;
            Ok((r.try_get(0)?, columns::count(n)))
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(CellStats {
        smears,
        cells,
        labels,
        cells_per_smear,
    })
}
