//! Image rows and quarantine entries on SQLite: written inside the batch's
//! transaction, deleted with their patient, counted for reports.

use crate::columns::{self, ImageColumns};
use crate::{ImageRow, ImageStats, StoreError, WriteBatch, WriteOutcome};
use oncofed_model::Pseudonym;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashMap;

/// Upserts the batch's images (by SOP Instance UID) and records its quarantine
/// entries, inside the caller's transaction.
pub(super) fn write(
    tx: &Connection,
    batch: &WriteBatch,
    outcome: &mut WriteOutcome,
) -> Result<(), StoreError> {
    if !batch.images.is_empty() {
        let mut exists = tx.prepare_cached("SELECT 1 FROM image WHERE sop_uid = ?1")?;
        let mut upsert = tx.prepare_cached(&format!(
            "INSERT INTO image ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (sop_uid) DO UPDATE SET psn = excluded.psn, study_uid = excluded.study_uid,
               series_uid = excluded.series_uid, modality = excluded.modality,
               body_part = excluded.body_part, study_date = excluded.study_date,
               object_key = excluded.object_key, bytes = excluded.bytes, face_risk = excluded.face_risk",
            columns::IMAGE_COLUMNS
        ))?;
        for i in &batch.images {
            if exists
                .query_row([i.sop_uid.as_str()], |_| Ok(()))
                .optional()?
                .is_none()
            {
                outcome.images_new += 1;
            }
            upsert.execute(params![
                i.sop_uid,
                i.pseudonym.as_str(),
                i.study_uid,
                i.series_uid,
                i.modality,
                i.body_part,
                i.study_date.map(columns::date_text),
                i.object_key,
                columns::image_bytes(i.bytes),
                i.face_risk,
            ])?;
        }
    }
    if !batch.quarantine.is_empty() {
        let mut insert = tx.prepare_cached(
            "INSERT INTO quarantine (source, reason_code, reason, at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for q in &batch.quarantine {
            insert.execute(params![
                q.source,
                q.reason_code,
                q.reason,
                q.at.to_rfc3339()
            ])?;
        }
    }
    Ok(())
}

/// Deletes the person's image rows inside the caller's transaction; returns their
/// object keys, sorted and each once.
pub(super) fn delete(tx: &Connection, pseudonym: &Pseudonym) -> Result<Vec<String>, StoreError> {
    let mut stmt = tx.prepare_cached("DELETE FROM image WHERE psn = ?1 RETURNING object_key")?;
    let mut keys: Vec<String> = stmt
        .query_map([pseudonym.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    keys.sort_unstable();
    keys.dedup();
    Ok(keys)
}

fn decode(r: &Row<'_>) -> Result<ImageRow, StoreError> {
    columns::decode_image(ImageColumns {
        sop_uid: r.get(0)?,
        psn: r.get(1)?,
        study_uid: r.get(2)?,
        series_uid: r.get(3)?,
        modality: r.get(4)?,
        body_part: r.get(5)?,
        study_date: r.get(6)?,
        object_key: r.get(7)?,
        bytes: r.get(8)?,
        face_risk: r.get(9)?,
    })
}

/// The image rows of `pseudonyms`, in [`columns::IMAGE_ORDER`].
pub(super) fn of(conn: &Connection, pseudonyms: &[Pseudonym]) -> Result<Vec<ImageRow>, StoreError> {
    let mut wanted: Vec<&str> = pseudonyms.iter().map(Pseudonym::as_str).collect();
    // One seek per person, in pseudonym order, gives the whole order.
    wanted.sort_unstable();
    wanted.dedup();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM image WHERE psn = ?1 ORDER BY {}",
        columns::IMAGE_COLUMNS,
        columns::IMAGE_ORDER
    ))?;
    let mut out = Vec::new();
    for psn in wanted {
        let mut rows = stmt.query([psn])?;
        while let Some(row) = rows.next()? {
            out.push(decode(row)?);
        }
    }
    Ok(out)
}

/// `SELECT COUNT(...) ... WHERE <column> = ?1` for each UID: every UID a key.
pub(super) fn counts(
    conn: &Connection,
    sql: &str,
    uids: &[String],
) -> Result<HashMap<String, u64>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut out = HashMap::with_capacity(uids.len());
    for uid in uids {
        let n: i64 = stmt.query_row([uid], |r| r.get(0))?;
        out.insert(uid.clone(), columns::count(n));
    }
    Ok(out)
}

/// Instances per series.
pub(super) const SERIES_INSTANCES: &str = "SELECT COUNT(*) FROM image WHERE series_uid = ?1";
/// Distinct series per study.
pub(super) const STUDY_SERIES: &str =
    "SELECT COUNT(DISTINCT series_uid) FROM image WHERE study_uid = ?1";

/// Objects and bytes per modality, quarantined objects per reason.
pub(super) fn stats(conn: &Connection) -> Result<ImageStats, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT modality, COUNT(*), COALESCE(SUM(bytes), 0) FROM image GROUP BY modality ORDER BY modality",
    )?;
    let by_modality = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                columns::count(r.get(1)?),
                columns::count(r.get(2)?),
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT reason_code, COUNT(*) FROM quarantine GROUP BY reason_code ORDER BY reason_code",
    )?;
    let quarantined_by_reason = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, columns::count(r.get(1)?)))
        })?
        .collect::<Result<_, _>>()?;
    Ok(ImageStats {
        by_modality,
        quarantined_by_reason,
    })
}
