//! The withdrawal cascade's store side: deletion orders per site, sample-destruction
//! orders for the biobank, and the sweep that issues them.
//!
//! A withdrawal is a Consent like any other (`POST /v1/consents` from a site,
//! `POST /v1/admin/consents` from staff). Rather than hooking every path that stores
//! a consent, [`sweep`] looks at consent rows newer than a watermark kept in `meta`,
//! and for every person whose current consents now evaluate to `DenyWithdrawn`
//! issues, once per withdrawal Consent, one deletion order per site holding the
//! person and one sample-destruction order. Sites trigger the sweep when they poll
//! (`GET /v1/deletions`), so an order exists by the first poll after the withdrawal.

use super::{StoreError, now};
use crate::consent::{ParsedConsent, PolicyCode, Provision, ProvisionType, parse_consent};
use oncofed_model::{DataCategory, Pseudonym, Purpose, SiteId};
use oncofed_trustee_api::{DeletionOrder, DeletionReceipt, SampleDestruction};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// Consent rows one sweep looks at, at most.
const SWEEP_CHUNK: i64 = 20_000;

/// The `meta` row holding the id of the last consent row the sweep looked at.
const WATERMARK: &str = "withdrawal_sweep_watermark";

/// What one sweep issued, for the audit trail.
#[derive(Debug, Default)]
pub(crate) struct Issued {
    /// (order id, site, site pseudonym, consent row id).
    pub deletions: Vec<(i64, String, String, i64)>,
    /// (order id, consent row id).
    pub samples: Vec<(i64, i64)>,
}

fn watermark(conn: &Connection) -> rusqlite::Result<i64> {
    let v: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE name = ?1", [WATERMARK], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(v.and_then(|b| b.try_into().ok())
        .map(i64::from_be_bytes)
        .unwrap_or(0))
}

/// Whether consent rows arrived since the last sweep (cheap; reader connection).
pub(crate) fn sweep_due(conn: &mut Connection) -> Result<bool, StoreError> {
    let newest: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM consents", [], |r| {
        r.get(0)
    })?;
    Ok(newest > watermark(conn)?)
}

/// Issues the orders for withdrawals recorded since the last sweep (writer connection).
pub(crate) fn sweep(conn: &mut Connection) -> Result<Issued, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let from = watermark(&tx)?;
    let (persons, newest) = {
        // At most SWEEP_CHUNK consent rows per sweep, so that a sweep after a large
        // ingest does not hold the writer for long; the next poll takes the rest.
        let mut stmt = tx.prepare_cached(
            "SELECT id, person_id FROM consents WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![from, SWEEP_CHUNK], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<(i64, i64)>>>()?;
        let newest = rows.last().map_or(from, |(id, _)| *id);
        let persons: std::collections::BTreeSet<i64> = rows.into_iter().map(|(_, p)| p).collect();
        (persons, newest)
    };
    let today = chrono::Utc::now().date_naive();
    let mut issued = Issued::default();
    for person in persons {
        let consents = current_consents(&tx, person)?;
        let parsed: Vec<ParsedConsent> = consents.iter().map(|(_, c)| c.clone()).collect();
        // A full withdrawal in force (not a partial one: that withdraws a module,
        // and the consent gate already withholds the module's data).
        let decision =
            oncofed_consent::evaluate(&parsed, DataCategory::Clinical, Purpose::Research, today);
        if !matches!(
            decision,
            crate::consent::Decision::Deny {
                reason: crate::consent::DenyReason::Withdrawn,
                ..
            }
        ) {
            continue;
        }
        let Some(consent_id) = withdrawal_consent(&consents) else {
            continue;
        };
        issue(&tx, person, consent_id, &mut issued)?;
    }
    tx.execute(
        "INSERT INTO meta (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![WATERMARK, &newest.to_be_bytes()[..]],
    )?;
    tx.commit()?;
    Ok(issued)
}

/// The person's current consents with their row ids.
fn current_consents(
    tx: &Transaction<'_>,
    person: i64,
) -> Result<Vec<(i64, ParsedConsent)>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, resource FROM consents WHERE person_id = ?1 AND superseded_by IS NULL",
    )?;
    let rows = stmt.query_map([person], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, json) = row?;
        let value: serde_json::Value = serde_json::from_str(&json)
            .map_err(|_| StoreError::Corrupt("stored consent is not JSON".into()))?;
        let parsed = parse_consent(&value)
            .map_err(|e| StoreError::Corrupt(format!("stored consent: {e}")))?;
        out.push((id, parsed));
    }
    Ok(out)
}

/// The row id of the latest active Consent holding a `withdrawal` deny: the
/// withdrawal the orders answer (re-submitting it or an unrelated consent issues nothing new).
fn withdrawal_consent(consents: &[(i64, ParsedConsent)]) -> Option<i64> {
    fn denies_withdrawal(p: &Provision, inherited: Option<ProvisionType>) -> bool {
        let kind = p.kind.or(inherited);
        (kind == Some(ProvisionType::Deny) && p.codes.contains(&PolicyCode::Withdrawal))
            || p.provisions.iter().any(|n| denies_withdrawal(n, kind))
    }
    consents
        .iter()
        .filter(|(_, c)| {
            c.status == crate::consent::ConsentStatus::Active
                && (c.document == oncofed_consent::DocumentKind::FullWithdrawal
                    || denies_withdrawal(&c.provision, None))
        })
        .max_by_key(|(id, c)| (c.date_time.instant, *id))
        .map(|(id, _)| *id)
}

fn issue(
    tx: &Transaction<'_>,
    person: i64,
    consent_id: i64,
    issued: &mut Issued,
) -> Result<(), StoreError> {
    let now = now();
    let holders = {
        let mut stmt = tx.prepare_cached(
            "SELECT site, pseudonym FROM site_pseudonyms WHERE person_id = ?1 ORDER BY site",
        )?;
        stmt.query_map([person], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
    };
    for (site, pseudonym) in holders {
        let n = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO deletion_orders (person_id, site, pseudonym, consent_id, ordered_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![person, site, pseudonym, consent_id, now])?;
        if n == 1 {
            issued
                .deletions
                .push((tx.last_insert_rowid(), site, pseudonym, consent_id));
        }
    }
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO sample_destructions (person_id, consent_id, ordered_at)
             VALUES (?1, ?2, ?3)",
        )?
        .execute(params![person, consent_id, now])?;
    if n == 1 {
        issued.samples.push((tx.last_insert_rowid(), consent_id));
    }
    Ok(())
}

/// Withdrawn persons the site holds without an order for their withdrawal: a site
/// that registered the person after the sweep (its consent copy is a duplicate, so
/// it adds no consent row). Reader connection; usually empty.
pub(crate) fn missing_orders(
    conn: &mut Connection,
    site: &SiteId,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT o.person_id, o.consent_id FROM deletion_orders o
         WHERE EXISTS (SELECT 1 FROM site_pseudonyms sp WHERE sp.person_id = o.person_id AND sp.site = ?1)
           AND NOT EXISTS (SELECT 1 FROM deletion_orders x WHERE x.consent_id = o.consent_id AND x.site = ?1)",
    )?;
    let rows = stmt.query_map([site.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Issues the orders [`missing_orders`] found (writer connection).
pub(crate) fn issue_missing(
    conn: &mut Connection,
    missing: &[(i64, i64)],
) -> Result<Issued, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut issued = Issued::default();
    for &(person, consent_id) in missing {
        issue(&tx, person, consent_id, &mut issued)?;
    }
    tx.commit()?;
    Ok(issued)
}

/// The site's open deletion orders, oldest first.
pub(crate) fn open_orders(
    conn: &mut Connection,
    site: &SiteId,
) -> Result<Vec<DeletionOrder>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, pseudonym, ordered_at FROM deletion_orders
         WHERE site = ?1 AND done_at IS NULL ORDER BY id",
    )?;
    let rows = stmt.query_map([site.as_str()], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, pseudonym, ordered_at) = row?;
        out.push(DeletionOrder {
            id,
            pseudonym: Pseudonym::new(&pseudonym)
                .map_err(|_| StoreError::Corrupt("stored pseudonym".into()))?,
            reason: "withdrawal".into(),
            ordered_at,
        });
    }
    Ok(out)
}

/// Why a receipt was not recorded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReceiptOutcome {
    /// Stored now.
    Recorded,
    /// The order had a receipt already; the first one stays.
    AlreadyDone,
    /// No open or closed order with this id for this site.
    NoSuchOrder,
    /// The digest does not match the fields, or rows remain.
    Invalid(&'static str),
}

/// Records a site's receipt for one of its own orders.
pub(crate) fn record_receipt(
    conn: &mut Connection,
    site: &SiteId,
    order_id: i64,
    receipt: &DeletionReceipt,
) -> Result<ReceiptOutcome, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let row: Option<(String, Option<i64>)> = tx
        .prepare_cached(
            "SELECT pseudonym, done_at FROM deletion_orders WHERE id = ?1 AND site = ?2",
        )?
        .query_row(params![order_id, site.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((pseudonym, done_at)) = row else {
        return Ok(ReceiptOutcome::NoSuchOrder);
    };
    if done_at.is_some() {
        return Ok(ReceiptOutcome::AlreadyDone);
    }
    let pseudonym =
        Pseudonym::new(&pseudonym).map_err(|_| StoreError::Corrupt("stored pseudonym".into()))?;
    if receipt.compute_digest(order_id, &pseudonym) != receipt.digest {
        return Ok(ReceiptOutcome::Invalid(
            "digest does not match the receipt's fields",
        ));
    }
    if receipt.remaining != 0 {
        return Ok(ReceiptOutcome::Invalid(
            "rows remain: the deletion is not complete",
        ));
    }
    let json = serde_json::to_string(receipt).expect("receipt serialises");
    tx.prepare_cached("UPDATE deletion_orders SET done_at = ?2, receipt = ?3 WHERE id = ?1")?
        .execute(params![order_id, now(), json])?;
    tx.commit()?;
    Ok(ReceiptOutcome::Recorded)
}

/// Every sample-destruction order with the person's site pseudonyms, oldest first.
pub(crate) fn sample_destructions(
    conn: &mut Connection,
) -> Result<Vec<SampleDestruction>, StoreError> {
    let tx = conn.transaction()?;
    let orders = {
        let mut stmt = tx.prepare_cached(
            "SELECT id, person_id, ordered_at, confirmed_at, confirmed_by
             FROM sample_destructions ORDER BY id",
        )?;
        stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
    };
    let mut out = Vec::with_capacity(orders.len());
    for (id, person, ordered_at, confirmed_at, confirmed_by) in orders {
        let mut stmt = tx.prepare_cached(
            "SELECT site, pseudonym FROM site_pseudonyms WHERE person_id = ?1 ORDER BY site",
        )?;
        let mut pseudonyms = Vec::new();
        for row in stmt.query_map([person], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })? {
            let (site, p) = row?;
            pseudonyms.push((
                site,
                Pseudonym::new(&p).map_err(|_| StoreError::Corrupt("stored pseudonym".into()))?,
            ));
        }
        out.push(SampleDestruction {
            id,
            pseudonyms,
            ordered_at,
            confirmed_at,
            confirmed_by,
        });
    }
    tx.commit()?;
    Ok(out)
}

/// Records that the biobank destroyed the samples of order `id`; `Ok(None)` for an
/// unknown order, `Ok(Some(false))` when it was confirmed before.
pub(crate) fn confirm_samples(
    conn: &mut Connection,
    id: i64,
    staff: &str,
) -> Result<Option<bool>, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let row: Option<Option<i64>> = tx
        .query_row(
            "SELECT confirmed_at FROM sample_destructions WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    let result = match row {
        None => None,
        Some(Some(_)) => Some(false),
        Some(None) => {
            tx.execute(
                "UPDATE sample_destructions SET confirmed_at = ?2, confirmed_by = ?3 WHERE id = ?1",
                params![id, now(), staff],
            )?;
            Some(true)
        }
    };
    tx.commit()?;
    Ok(result)
}
