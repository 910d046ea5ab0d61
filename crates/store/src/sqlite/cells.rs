//! Smears, cells and cell labels on SQLite: written inside the batch's
//! transaction, deleted with their patient, listed for training and reports.

use crate::cells::{
    CELL_COLUMNS, CellColumns, CellLabelRow, CellListing, CellRow, CellStats, LABEL_COLUMNS,
    SMEAR_COLUMNS, SmearColumns, SmearRow,
};
use crate::{StoreError, WriteBatch, columns};
use oncofed_model::Pseudonym;
use rusqlite::{Connection, Row, params};

/// Upserts the batch's smears, cells and labels, inside the caller's transaction.
pub(super) fn write(tx: &Connection, batch: &WriteBatch) -> Result<(), StoreError> {
    if !batch.smears.is_empty() {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO smear (smear_key, psn, specimen, stain, scanner, magnification, collected)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (smear_key) DO UPDATE SET psn = excluded.psn, specimen = excluded.specimen,
               stain = excluded.stain, scanner = excluded.scanner,
               magnification = excluded.magnification, collected = excluded.collected",
        )?;
        for s in &batch.smears {
            upsert.execute(params![
                s.smear_key,
                s.pseudonym.as_str(),
                s.specimen.code(),
                s.stain,
                s.scanner,
                s.magnification,
                s.collected.map(columns::date_text),
            ])?;
        }
    }
    if !batch.cells.is_empty() {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO cell (cell_key, smear_key, object_key, width, height, lab_label)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (cell_key) DO UPDATE SET smear_key = excluded.smear_key,
               object_key = excluded.object_key, width = excluded.width,
               height = excluded.height, lab_label = excluded.lab_label",
        )?;
        for c in &batch.cells {
            upsert.execute(params![
                c.cell_key,
                c.smear_key,
                c.object_key,
                i64::from(c.width),
                i64::from(c.height),
                c.lab_label.map(|l| l.code()),
            ])?;
        }
    }
    if !batch.cell_labels.is_empty() {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO cell_label (cell_key, role, expert, label, method, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (cell_key, role, expert) DO UPDATE SET label = excluded.label,
               method = excluded.method, at = excluded.at",
        )?;
        for l in &batch.cell_labels {
            upsert.execute(params![
                l.cell_key,
                l.role.as_str(),
                l.expert,
                l.label.code(),
                l.method,
                l.at.to_rfc3339(),
            ])?;
        }
    }
    Ok(())
}

/// Deletes the person's labels, cells and smears inside the caller's
/// transaction; returns the cells' object keys, sorted and each once.
pub(super) fn delete(tx: &Connection, pseudonym: &Pseudonym) -> Result<Vec<String>, StoreError> {
    let psn = pseudonym.as_str();
    tx.execute(
        "DELETE FROM cell_label WHERE cell_key IN (SELECT c.cell_key FROM cell c
           JOIN smear s ON s.smear_key = c.smear_key WHERE s.psn = ?1)",
        [psn],
    )?;
    let mut stmt = tx.prepare_cached(
        "DELETE FROM cell WHERE smear_key IN (SELECT smear_key FROM smear WHERE psn = ?1)
         RETURNING object_key",
    )?;
    let mut keys: Vec<String> = stmt
        .query_map([psn], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    tx.execute("DELETE FROM smear WHERE psn = ?1", [psn])?;
    keys.sort_unstable();
    keys.dedup();
    Ok(keys)
}

fn smear(r: &Row<'_>, at: usize) -> Result<SmearRow, StoreError> {
    SmearColumns {
        smear_key: r.get(at)?,
        psn: r.get(at + 1)?,
        specimen: r.get(at + 2)?,
        stain: r.get(at + 3)?,
        scanner: r.get(at + 4)?,
        magnification: r.get(at + 5)?,
        collected: r.get(at + 6)?,
    }
    .decode()
}

fn cell(r: &Row<'_>, at: usize) -> Result<CellRow, StoreError> {
    CellColumns {
        cell_key: r.get(at)?,
        smear_key: r.get(at + 1)?,
        object_key: r.get(at + 2)?,
        width: r.get(at + 3)?,
        height: r.get(at + 4)?,
        lab_label: r.get(at + 5)?,
    }
    .decode()
}

/// The smears of `pseudonyms` (all smears when `None`), by smear key.
pub(super) fn smears(
    conn: &Connection,
    pseudonyms: Option<&[Pseudonym]>,
) -> Result<Vec<SmearRow>, StoreError> {
    let mut out = Vec::new();
    match pseudonyms {
        None => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SMEAR_COLUMNS} FROM smear s ORDER BY s.smear_key"
            ))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                out.push(smear(r, 0)?);
            }
        }
        Some(list) => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SMEAR_COLUMNS} FROM smear s WHERE s.psn = ?1"
            ))?;
            for p in list {
                let mut rows = stmt.query([p.as_str()])?;
                while let Some(r) = rows.next()? {
                    out.push(smear(r, 0)?);
                }
            }
            out.sort_by(|a, b| a.smear_key.cmp(&b.smear_key));
            out.dedup_by(|a, b| a.smear_key == b.smear_key);
        }
    }
    Ok(out)
}

/// The cells of the smears `smear_keys`, by smear key and cell key.
pub(super) fn cells(conn: &Connection, smear_keys: &[String]) -> Result<Vec<CellRow>, StoreError> {
    let mut keys: Vec<&str> = smear_keys.iter().map(String::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CELL_COLUMNS} FROM cell c WHERE c.smear_key = ?1 ORDER BY c.cell_key"
    ))?;
    let mut out = Vec::new();
    for k in keys {
        let mut rows = stmt.query([k])?;
        while let Some(r) = rows.next()? {
            out.push(cell(r, 0)?);
        }
    }
    Ok(out)
}

/// The stored cells among `cell_keys`, by cell key.
pub(super) fn by_key(conn: &Connection, cell_keys: &[String]) -> Result<Vec<CellRow>, StoreError> {
    let mut keys: Vec<&str> = cell_keys.iter().map(String::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CELL_COLUMNS} FROM cell c WHERE c.cell_key = ?1"
    ))?;
    let mut out = Vec::new();
    for k in keys {
        let mut rows = stmt.query([k])?;
        while let Some(r) = rows.next()? {
            out.push(cell(r, 0)?);
        }
    }
    Ok(out)
}

/// The labels of the cells `cell_keys`, by cell key, role and expert.
pub(super) fn labels(
    conn: &Connection,
    cell_keys: &[String],
) -> Result<Vec<CellLabelRow>, StoreError> {
    let mut keys: Vec<&str> = cell_keys.iter().map(String::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {LABEL_COLUMNS} FROM cell_label l WHERE l.cell_key = ?1 ORDER BY l.role, l.expert"
    ))?;
    let mut out = Vec::new();
    for k in keys {
        let mut rows = stmt.query([k])?;
        while let Some(r) = rows.next()? {
            let at: String = r.get(5)?;
            out.push(CellLabelRow {
                cell_key: r.get(0)?,
                expert: r.get(1)?,
                label: crate::cells::class("cell_label.label", &r.get::<_, String>(2)?)?,
                role: crate::cells::role(&r.get::<_, String>(3)?)?,
                method: r.get(4)?,
                at: chrono::DateTime::parse_from_rfc3339(&at)
                    .map_err(|_| columns::corrupt("cell_label.at", format!("{at:?}")))?
                    .with_timezone(&chrono::Utc),
            });
        }
    }
    Ok(out)
}

/// Every cell with its smear and newest validated label, by smear and cell key.
pub(super) fn listing(conn: &Connection) -> Result<Vec<CellListing>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SMEAR_COLUMNS}, {CELL_COLUMNS},
           (SELECT l.label FROM cell_label l WHERE l.cell_key = c.cell_key AND l.role = 'validated'
            ORDER BY l.at DESC, l.expert LIMIT 1)
         FROM cell c JOIN smear s ON s.smear_key = c.smear_key
         ORDER BY s.smear_key, c.cell_key"
    ))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let validated: Option<String> = r.get(13)?;
        out.push(CellListing {
            smear: smear(r, 0)?,
            cell: cell(r, 7)?,
            validated: validated
                .map(|v| crate::cells::class("cell_label.label", &v))
                .transpose()?,
        });
    }
    Ok(out)
}

/// Smears, cells, labels and cells per smear.
pub(super) fn stats(conn: &Connection) -> Result<CellStats, StoreError> {
    let one = |sql: &str| -> Result<u64, StoreError> {
        Ok(columns::count(conn.query_row(sql, [], |r| r.get(0))?))
    };
    let mut stmt = conn.prepare_cached(
        "SELECT s.smear_key, COUNT(c.cell_key) FROM smear s
         LEFT JOIN cell c ON c.smear_key = s.smear_key GROUP BY s.smear_key ORDER BY s.smear_key",
    )?;
    let cells_per_smear = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, columns::count(r.get(1)?)))
        })?
        .collect::<Result<_, _>>()?;
    Ok(CellStats {
        smears: one("SELECT COUNT(*) FROM smear")?,
        cells: one("SELECT COUNT(*) FROM cell")?,
        labels: one("SELECT COUNT(*) FROM cell_label")?,
        cells_per_smear,
    })
}
