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
//!
//! The same sweep erases the person's identifying data here ([`erase`]): the IDAT
//! of every local id, the probabilistic blocking index derived from it and the
//! clerical-review items showing it. What stays is what the withdrawal itself
//! needs: the person row with its random `pid` and keyed insurance-number hash,
//! the local ids and site pseudonyms (to address the orders), the consents (the
//! withdrawal is the proof) and the orders with their receipts. None of these is
//! IDAT. A **tombstone** is added to the linkage keys: keyed hashes of each
//! record's identity, each with one part left out or blurred
//! ([`Keys::tombstone_keys`]), and their bits in the tombstone filter
//! ([`super::tombstones`]). With the insurance-number hash and the local ids it
//! makes pseudonymisation refuse the person from then on (`db::linkage`,
//! [`super::Refusal::Withdrawn`]): a site registering the patient again, under
//! the old or a new local id, at the old or a new site, gets a per-record error
//! and nothing is stored. The erasure is final; only a namesake the tombstone
//! refused by resemblance can be admitted by staff ([`super::admissions`]).
//!
//! [`missing_orders`] still finds persons a site registered after their erasure
//! in stores written before tombstones (issue 18), and orders their deletion.

use super::{Conn, StoreError, Tx, now, params};
use crate::consent::{ParsedConsent, PolicyCode, Provision, ProvisionType, parse_consent};
use crate::keys::Keys;
use oncofed_model::{DataCategory, Pseudonym, Purpose, SiteId};
use oncofed_trustee_api::{DeletionOrder, DeletionReceipt, SampleDestruction};

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
    /// Persons whose IDAT this sweep erased.
    pub erased: usize,
}

fn watermark(tx: &mut Tx<'_>) -> Result<i64, StoreError> {
    let v: Option<Vec<u8>> = tx.query_opt(
        "SELECT value FROM meta WHERE name = ?1",
        params![WATERMARK],
        |r| r.get(0),
    )?;
    Ok(v.and_then(|b| b.try_into().ok())
        .map(i64::from_be_bytes)
        .unwrap_or(0))
}

/// Whether consent rows arrived since the last sweep (cheap; reader connection).
pub(crate) fn sweep_due(conn: &mut Conn) -> Result<bool, StoreError> {
    let mut tx = conn.read_tx()?;
    let newest: i64 = tx.query_one(
        "SELECT COALESCE(MAX(id), 0) FROM consents",
        params![],
        |r| r.get(0),
    )?;
    let due = newest > watermark(&mut tx)?;
    tx.commit()?;
    Ok(due)
}

/// Issues the orders for withdrawals recorded since the last sweep (writer connection).
pub(crate) fn sweep(conn: &mut Conn, keys: &Keys) -> Result<Issued, StoreError> {
    let mut tx = conn.write_tx()?;
    let from = watermark(&mut tx)?;
    let (persons, newest) = {
        // At most SWEEP_CHUNK consent rows per sweep, so that a sweep after a large
        // ingest does not hold the writer for long; the next poll takes the rest.
        let rows = tx.query(
            "SELECT id, person_id FROM consents WHERE id > ?1 ORDER BY id LIMIT ?2",
            params![from, SWEEP_CHUNK],
            |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?)),
        )?;
        let newest = rows.last().map_or(from, |(id, _)| *id);
        let persons: std::collections::BTreeSet<i64> = rows.into_iter().map(|(_, p)| p).collect();
        (persons, newest)
    };
    let today = chrono::Utc::now().date_naive();
    let mut issued = Issued::default();
    let mut tombstones = Vec::new();
    for person in persons {
        let consents = current_consents(&mut tx, person)?;
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
        issue(&mut tx, person, consent_id, &mut issued)?;
        if erase(&mut tx, keys, person, &mut tombstones)? {
            issued.erased += 1;
        }
    }
    super::tombstones::add(&mut tx, &tombstones)?;
    tx.execute(
        "INSERT INTO meta (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![WATERMARK, &newest.to_be_bytes()[..]],
    )?;
    tx.commit()?;
    Ok(issued)
}

/// The person's current consents with their row ids.
fn current_consents(tx: &mut Tx<'_>, person: i64) -> Result<Vec<(i64, ParsedConsent)>, StoreError> {
    let rows = tx.query(
        "SELECT id, resource FROM consents WHERE person_id = ?1 AND superseded_by IS NULL
         ORDER BY id",
        params![person],
        |r| Ok((r.get::<i64>(0)?, r.get::<String>(1)?)),
    )?;
    let mut out = Vec::new();
    for (id, json) in rows {
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
    tx: &mut Tx<'_>,
    person: i64,
    consent_id: i64,
    issued: &mut Issued,
) -> Result<(), StoreError> {
    let now = now();
    let holders = tx.query(
        "SELECT site, pseudonym FROM site_pseudonyms WHERE person_id = ?1 ORDER BY site, pseudonym",
        params![person],
        |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
    )?;
    for (site, pseudonym) in holders {
        let id: Option<i64> = tx.query_opt(
            "INSERT INTO deletion_orders (person_id, site, pseudonym, consent_id, ordered_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING RETURNING id",
            params![person, site, pseudonym, consent_id, now],
            |r| r.get(0),
        )?;
        if let Some(id) = id {
            issued.deletions.push((id, site, pseudonym, consent_id));
        }
    }
    let id: Option<i64> = tx.query_opt(
        "INSERT INTO sample_destructions (person_id, consent_id, ordered_at)
         VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING RETURNING id",
        params![person, consent_id, now],
        |r| r.get(0),
    )?;
    if let Some(id) = id {
        issued.samples.push((id, consent_id));
    }
    Ok(())
}

/// Erases the identifying data of a withdrawn person (see the module docs): keeps
/// the tombstone of each record ([`Keys::tombstone_keys`]),
/// empties the IDAT of their local ids, removes those records from the
/// probabilistic blocking index (blocks and comparison records), deletes the review items that name them, and
/// marks the person erased. Returns whether the person was not erased before.
/// The tombstone keys it stored are appended to `tombstones`: the caller adds
/// them to the filter ([`super::tombstones::add`]) before it commits.
pub(crate) fn erase(
    tx: &mut Tx<'_>,
    keys: &Keys,
    person: i64,
    tombstones: &mut Vec<crate::keys::BlockingKey>,
) -> Result<bool, StoreError> {
    let first = tx.execute(
        "UPDATE persons SET erased_at = ?2 WHERE id = ?1 AND erased_at IS NULL",
        params![person, now()],
    )? == 1;
    let stored = tx.query(
        "SELECT idat FROM local_ids WHERE person_id = ?1 AND idat <> ?2 ORDER BY site, local_id",
        params![person, super::ERASED_IDAT],
        |r| r.get::<String>(0),
    )?;
    for idat in stored {
        let tombstone = crate::linkage::probabilistic::record_of(&idat)
            .map(|r| keys.tombstone_keys(&r))
            .unwrap_or_default();
        for key in tombstone {
            tx.execute(
                "INSERT INTO blocking_keys (key, person_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![&key[..], person],
            )?;
            tombstones.push(key);
        }
    }
    tx.execute(
        "DELETE FROM linkage_blocks WHERE EXISTS (SELECT 1 FROM local_ids l
           WHERE l.person_id = ?1 AND l.site = linkage_blocks.site
             AND l.local_id = linkage_blocks.local_id)",
        params![person],
    )?;
    tx.execute(
        "DELETE FROM linkage_records WHERE (site, local_id) IN
           (SELECT site, local_id FROM local_ids WHERE person_id = ?1)",
        params![person],
    )?;
    tx.execute(
        "DELETE FROM review_items WHERE person_id = ?1 OR other_person_id = ?1
           OR EXISTS (SELECT 1 FROM local_ids l WHERE l.person_id = ?1
             AND ((l.site = review_items.site AND l.local_id = review_items.local_id)
               OR (l.site = review_items.other_site AND l.local_id = review_items.other_local_id)))",
        params![person],
    )?;
    tx.execute(
        "UPDATE local_ids SET idat = ?2 WHERE person_id = ?1 AND idat <> ?2",
        params![person, super::ERASED_IDAT],
    )?;
    Ok(first)
}

/// Withdrawn persons the site holds without an order for their withdrawal: a site
/// that registered the person after the sweep (its consent copy is a duplicate, so
/// it adds no consent row). Reader connection; usually empty.
pub(crate) fn missing_orders(
    conn: &mut Conn,
    site: &SiteId,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut tx = conn.read_tx()?;
    let rows = tx.query(
        "SELECT DISTINCT o.person_id, o.consent_id FROM deletion_orders o
         WHERE EXISTS (SELECT 1 FROM site_pseudonyms sp WHERE sp.person_id = o.person_id AND sp.site = ?1)
           AND NOT EXISTS (SELECT 1 FROM deletion_orders x WHERE x.consent_id = o.consent_id AND x.site = ?1)
         ORDER BY o.person_id, o.consent_id",
        params![site.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    tx.commit()?;
    Ok(rows)
}

/// Issues the orders [`missing_orders`] found (writer connection).
pub(crate) fn issue_missing(
    conn: &mut Conn,
    keys: &Keys,
    missing: &[(i64, i64)],
) -> Result<Issued, StoreError> {
    let mut tx = conn.write_tx()?;
    let mut issued = Issued::default();
    let mut tombstones = Vec::new();
    for &(person, consent_id) in missing {
        issue(&mut tx, person, consent_id, &mut issued)?;
        // The site registered the person after the erasure: erase its record too.
        erase(&mut tx, keys, person, &mut tombstones)?;
    }
    super::tombstones::add(&mut tx, &tombstones)?;
    tx.commit()?;
    Ok(issued)
}

/// The site's open deletion orders, oldest first.
pub(crate) fn open_orders(
    conn: &mut Conn,
    site: &SiteId,
) -> Result<Vec<DeletionOrder>, StoreError> {
    let mut tx = conn.read_tx()?;
    let rows = tx.query(
        "SELECT id, pseudonym, ordered_at FROM deletion_orders
         WHERE site = ?1 AND done_at IS NULL ORDER BY id",
        params![site.as_str()],
        |r| Ok((r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<i64>(2)?)),
    )?;
    tx.commit()?;
    let mut out = Vec::new();
    for (id, pseudonym, ordered_at) in rows {
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
    conn: &mut Conn,
    site: &SiteId,
    order_id: i64,
    receipt: &DeletionReceipt,
) -> Result<ReceiptOutcome, StoreError> {
    let mut tx = conn.write_tx()?;
    let row: Option<(String, Option<i64>)> = tx.query_opt(
        "SELECT pseudonym, done_at FROM deletion_orders WHERE id = ?1 AND site = ?2",
        params![order_id, site.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
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
    tx.execute(
        "UPDATE deletion_orders SET done_at = ?2, receipt = ?3 WHERE id = ?1",
        params![order_id, now(), json],
    )?;
    tx.commit()?;
    Ok(ReceiptOutcome::Recorded)
}

/// Every sample-destruction order with the person's site pseudonyms, oldest first.
pub(crate) fn sample_destructions(conn: &mut Conn) -> Result<Vec<SampleDestruction>, StoreError> {
    let mut tx = conn.read_tx()?;
    let orders = tx.query(
        "SELECT id, person_id, ordered_at, confirmed_at, confirmed_by
         FROM sample_destructions ORDER BY id",
        params![],
        |r| {
            Ok((
                r.get::<i64>(0)?,
                r.get::<i64>(1)?,
                r.get::<i64>(2)?,
                r.get::<Option<i64>>(3)?,
                r.get::<Option<String>>(4)?,
            ))
        },
    )?;
    let mut out = Vec::with_capacity(orders.len());
    for (id, person, ordered_at, confirmed_at, confirmed_by) in orders {
        let rows = tx.query(
            "SELECT site, pseudonym FROM site_pseudonyms WHERE person_id = ?1
             ORDER BY site, pseudonym",
            params![person],
            |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
        )?;
        let mut pseudonyms = Vec::new();
        for (site, p) in rows {
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
    conn: &mut Conn,
    id: i64,
    staff: &str,
) -> Result<Option<bool>, StoreError> {
    let mut tx = conn.write_tx()?;
    let row: Option<Option<i64>> = tx.query_opt(
        "SELECT confirmed_at FROM sample_destructions WHERE id = ?1",
        params![id],
        |r| r.get(0),
    )?;
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
