//! Image rows and quarantine entries on PostgreSQL, with SQLite's semantics: a
//! fixed number of statements per batch (rows as arrays, spread with `unnest`),
//! deleted with their patient, counted for reports.

use super::write::last_of;
use crate::columns::{self, ImageColumns};
use crate::{ImageRow, ImageStats, StoreError, WriteBatch, WriteOutcome};
use oncofed_model::Pseudonym;
use postgres::{GenericClient, Row};
use std::collections::HashMap;

const UPSERT_IMAGES: &str = "INSERT INTO image (sop_uid, psn, study_uid, series_uid, modality, body_part, study_date,
       object_key, bytes, face_risk)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
       $8::text[], $9::int8[], $10::bool[])
     ON CONFLICT (sop_uid) DO UPDATE SET psn = excluded.psn, study_uid = excluded.study_uid,
       series_uid = excluded.series_uid, modality = excluded.modality, body_part = excluded.body_part,
       study_date = excluded.study_date, object_key = excluded.object_key, bytes = excluded.bytes,
       face_risk = excluded.face_risk";

/// Upserts the batch's images (the last occurrence of a SOP Instance UID wins,
/// as SQLite's row-by-row upserts leave it) and records its quarantine entries,
/// inside the caller's transaction. An image counts as new if its UID was not in
/// the store before the batch.
pub(super) fn write(
    tx: &mut impl GenericClient,
    batch: &WriteBatch,
    outcome: &mut WriteOutcome,
) -> Result<(), StoreError> {
    if !batch.images.is_empty() {
        let rows: Vec<&ImageRow> = last_of(batch.images.iter().map(|i| i.sop_uid.as_str()))
            .into_iter()
            .map(|i| &batch.images[i])
            .collect();
        let sop: Vec<&str> = rows.iter().map(|i| i.sop_uid.as_str()).collect();
        let existing: i64 = tx
            .query_one(
                "SELECT count(*) FROM image WHERE sop_uid = ANY($1::text[])",
                &[&sop],
            )?
            .try_get(0)?;
        outcome.images_new = sop.len() - usize::try_from(existing).unwrap_or(0);
        let psn: Vec<&str> = rows.iter().map(|i| i.pseudonym.as_str()).collect();
        let study: Vec<&str> = rows.iter().map(|i| i.study_uid.as_str()).collect();
        let series: Vec<&str> = rows.iter().map(|i| i.series_uid.as_str()).collect();
        let modality: Vec<&str> = rows.iter().map(|i| i.modality.as_str()).collect();
        let part: Vec<Option<&str>> = rows.iter().map(|i| i.body_part.as_deref()).collect();
        let date: Vec<Option<String>> = rows
            .iter()
            .map(|i| i.study_date.map(columns::date_text))
            .collect();
        let key: Vec<&str> = rows.iter().map(|i| i.object_key.as_str()).collect();
        let bytes: Vec<i64> = rows.iter().map(|i| columns::image_bytes(i.bytes)).collect();
        let face: Vec<bool> = rows.iter().map(|i| i.face_risk).collect();
        tx.execute(
            UPSERT_IMAGES,
            &[
                &sop, &psn, &study, &series, &modality, &part, &date, &key, &bytes, &face,
            ],
        )?;
    }
    if !batch.quarantine.is_empty() {
        let q = &batch.quarantine;
        let source: Vec<&str> = q.iter().map(|q| q.source.as_str()).collect();
        let code: Vec<&str> = q.iter().map(|q| q.reason_code.as_str()).collect();
        let reason: Vec<&str> = q.iter().map(|q| q.reason.as_str()).collect();
        let at: Vec<chrono::DateTime<chrono::Utc>> = q.iter().map(|q| q.at).collect();
        tx.execute(
            "INSERT INTO quarantine (source, reason_code, reason, at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])",
            &[&source, &code, &reason, &at],
        )?;
    }
    Ok(())
}

/// Deletes the person's image rows inside the caller's transaction; returns their
/// object keys, sorted and each once.
pub(super) fn delete(
    tx: &mut impl GenericClient,
    pseudonym: &Pseudonym,
) -> Result<Vec<String>, StoreError> {
    let mut keys: Vec<String> = tx
        .query(
            "DELETE FROM image WHERE psn = $1 RETURNING object_key",
            &[&pseudonym.as_str()],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    keys.sort_unstable();
    keys.dedup();
    Ok(keys)
}

fn decode(r: &Row) -> Result<ImageRow, StoreError> {
    columns::decode_image(ImageColumns {
        sop_uid: r.try_get(0)?,
        psn: r.try_get(1)?,
        study_uid: r.try_get(2)?,
        series_uid: r.try_get(3)?,
        modality: r.try_get(4)?,
        body_part: r.try_get(5)?,
        study_date: r.try_get(6)?,
        object_key: r.try_get(7)?,
        bytes: r.try_get(8)?,
        face_risk: r.try_get(9)?,
    })
}

/// The image rows of `pseudonyms`, in [`columns::IMAGE_ORDER`], in one statement.
pub(super) fn of(
    c: &mut impl GenericClient,
    pseudonyms: &[Pseudonym],
) -> Result<Vec<ImageRow>, StoreError> {
    let names: Vec<&str> = pseudonyms.iter().map(Pseudonym::as_str).collect();
    c.query(
        &format!(
            "SELECT {} FROM image WHERE psn = ANY($1::text[]) ORDER BY {}",
            columns::IMAGE_COLUMNS,
            columns::IMAGE_ORDER
        ),
        &[&names],
    )?
    .iter()
    .map(decode)
    .collect()
}

/// Instances per series (`SELECT uid, count`): every UID asked for a key.
pub(super) const SERIES_INSTANCES: &str = "SELECT series_uid, COUNT(*) FROM image
     WHERE series_uid = ANY($1::text[]) GROUP BY series_uid";
/// Distinct series per study.
pub(super) const STUDY_SERIES: &str = "SELECT study_uid, COUNT(DISTINCT series_uid) FROM image
     WHERE study_uid = ANY($1::text[]) GROUP BY study_uid";

/// Runs one of the grouped counts for `uids`; UIDs without rows count 0.
pub(super) fn counts(
    c: &mut impl GenericClient,
    sql: &str,
    uids: &[String],
) -> Result<HashMap<String, u64>, StoreError> {
    let mut out: HashMap<String, u64> = uids.iter().map(|u| (u.clone(), 0)).collect();
    for row in c.query(sql, &[&uids])? {
        let n: i64 = row.try_get(1)?;
        out.insert(row.try_get(0)?, columns::count(n));
    }
    Ok(out)
}

/// Objects and bytes per modality, quarantined objects per reason.
pub(super) fn stats(c: &mut impl GenericClient) -> Result<ImageStats, StoreError> {
    let by_modality = c
        .query(
            "SELECT modality, COUNT(*), COALESCE(SUM(bytes), 0)::BIGINT FROM image
             GROUP BY modality ORDER BY modality",
            &[],
        )?
        .iter()
        .map(|r| {
            let (n, bytes): (i64, i64) = (r.try_get(1)?, r.try_get(2)?);
            Ok((r.try_get(0)?, columns::count(n), columns::count(bytes)))
        })
        .collect::<Result<_, StoreError>>()?;
    let quarantined_by_reason = c
        .query(
            "SELECT reason_code, COUNT(*) FROM quarantine GROUP BY reason_code ORDER BY reason_code",
            &[],
        )?
        .iter()
        .map(|r| {
            let n: i64 = r.try_get(1)?;
            Ok((r.try_get(0)?, columns::count(n)))
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(ImageStats {
        by_modality,
        quarantined_by_reason,
    })
}
