//! Staff admissions past a tombstone: the remedy for a namesake refused as a
//! withdrawn person.
//!
//! A tombstone ([`crate::keys::Keys::tombstone_keys`]) refuses every record whose
//! identity is close to an erased person's: the same person sent again, or,
//! rarely, a namesake under the same postal code. Only staff can tell the two
//! apart (they ask the site, which checks the patient's documents). When the
//! record is a different person, staff admit it ([`admit`],
//! `POST /v1/admin/admissions`): the site sends it again and it is registered
//! as usual, while the tombstone keeps refusing everyone else.
//!
//! An admission is bound to one site, one local id and the record's whole
//! normalised comparison record ([`crate::keys::Keys::admission_key`]): a site
//! cannot reuse it for other identifying data. It stores no IDAT, only that
//! keyed hash, who admitted it and why. Two refusals cannot be admitted,
//! because they are not guesses: a local id the withdrawn person had, and an
//! insurance number that names them. Their erasure is final.

use super::{Conn, StoreError, Tx, params};
use crate::keys::{BlockingKey, Keys};
use oncofed_idat::IdentifyingData;
use oncofed_linkage::Record;

/// Schema for SQLite (migration 11).
pub(crate) const MIGRATION_SQLITE: &str = "
    CREATE TABLE tombstone_admissions (
        site TEXT NOT NULL,
        local_id TEXT NOT NULL,
        record_key BLOB NOT NULL,          -- Keys::admission_key of the admitted record
        person_id INTEGER NOT NULL REFERENCES persons(id), -- the erased person it resembled
        reviewer TEXT NOT NULL,
        reason TEXT NOT NULL,
        admitted_at INTEGER NOT NULL,
        PRIMARY KEY (site, local_id)
    ) WITHOUT ROWID;";

/// Schema for PostgreSQL (migration 6).
pub(crate) const MIGRATION_POSTGRES: &str = r#"
    CREATE TABLE tombstone_admissions (
        site TEXT COLLATE "C" NOT NULL,
        local_id TEXT COLLATE "C" NOT NULL,
        record_key BYTEA NOT NULL,
        person_id BIGINT NOT NULL REFERENCES persons(id),
        reviewer TEXT NOT NULL,
        reason TEXT NOT NULL,
        admitted_at BIGINT NOT NULL,
        PRIMARY KEY (site, local_id)
    );"#;

/// Whether staff admitted this record (site, local id and its admission key)
/// past the tombstone it meets.
pub(crate) fn admitted(
    tx: &mut Tx<'_>,
    site: &str,
    local_id: &str,
    record_key: &BlockingKey,
) -> Result<bool, StoreError> {
    tx.exists(
        "SELECT 1 FROM tombstone_admissions
         WHERE site = ?1 AND local_id = ?2 AND record_key = ?3",
        params![site, local_id, &record_key[..]],
    )
}

/// What staff ask to admit.
pub(crate) struct Admission<'a> {
    /// The site that sent the record, and its local id.
    pub site: &'a str,
    /// The site's local id of the record.
    pub local_id: &'a str,
    /// The record's IDAT, exactly as the site sends it.
    pub idat: &'a IdentifyingData,
    /// Who admits it (staff name or id).
    pub reviewer: &'a str,
    /// Why (e.g. which documents showed a different person).
    pub reason: &'a str,
}

/// Why a record cannot be admitted.
#[derive(Debug)]
pub(crate) enum AdmitError {
    /// The record would be registered as it is: no tombstone refuses it, or
    /// the local id is registered already.
    NotRefused,
    /// The refusal is final: the local id was the withdrawn person's, or the
    /// insurance number names them.
    Final {
        /// The request field that makes it final (`local_id`, `idat.kvnr`).
        field: &'static str,
        /// Why, for the error message.
        why: &'static str,
    },
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for AdmitError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// Admits one refused record (see the module docs) in one transaction; the
/// admission's key ([`Keys::admission_key`]) is passed to `before_commit` (the
/// audit entry), and the admission is stored only if that succeeds. Returns
/// the row of the erased person whose tombstone the record met.
pub(crate) fn admit<E>(
    conn: &mut Conn,
    keys: &Keys,
    a: &Admission<'_>,
    now: i64,
    before_commit: impl FnOnce(&BlockingKey) -> Result<(), E>,
) -> Result<Result<i64, E>, AdmitError> {
    let mut tx = conn.write_tx()?;
    let known: Option<bool> = tx.query_opt(
        "SELECT p.erased_at IS NOT NULL OR l.idat = ?3 FROM local_ids l
         JOIN persons p ON p.id = l.person_id WHERE l.site = ?1 AND l.local_id = ?2",
        params![a.site, a.local_id, super::ERASED_IDAT],
        |r| r.get(0),
    )?;
    match known {
        Some(true) => {
            return Err(AdmitError::Final {
                field: "local_id",
                why: "this local id was the withdrawn person's",
            });
        }
        Some(false) => return Err(AdmitError::NotRefused),
        None => {}
    }
    let ours = keys.blocking_keys(a.idat).kvnr;
    if let Some(k) = &ours
        && owner(&mut tx, k)?.is_some_and(|o| o.erased)
    {
        return Err(AdmitError::Final {
            field: "idat.kvnr",
            why: "the insurance number names the withdrawn person",
        });
    }
    let record = Record::from_idat("", a.idat);
    let mut met = None;
    for probe in keys.tombstone_probes(&record) {
        if let Some(o) = owner(&mut tx, &probe)?
            && o.erased
            && super::linkage::tombstone_applies(
                o.kvnr_key.as_deref(),
                ours.as_ref().map(|k| &k[..]),
            )
        {
            met = Some(o.person);
            break;
        }
    }
    let Some(person) = met else {
        return Err(AdmitError::NotRefused);
    };
    let record_key = keys.admission_key(&record);
    tx.execute(
        "INSERT INTO tombstone_admissions
           (site, local_id, record_key, person_id, reviewer, reason, admitted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (site, local_id) DO UPDATE SET record_key = excluded.record_key,
           person_id = excluded.person_id, reviewer = excluded.reviewer,
           reason = excluded.reason, admitted_at = excluded.admitted_at",
        params![
            a.site,
            a.local_id,
            &record_key[..],
            person,
            a.reviewer,
            a.reason,
            now
        ],
    )?;
    if let Err(e) = before_commit(&record_key) {
        return Ok(Err(e));
    }
    tx.commit()?;
    Ok(Ok(person))
}

/// The owner of a linkage key as an admission needs it.
struct KeyOwner {
    person: i64,
    erased: bool,
    /// Their insurance-number key.
    kvnr_key: Option<Vec<u8>>,
}

fn owner(tx: &mut Tx<'_>, key: &BlockingKey) -> Result<Option<KeyOwner>, StoreError> {
    tx.query_opt(
        "SELECT b.person_id, p.erased_at IS NOT NULL, p.kvnr_key FROM blocking_keys b
         JOIN persons p ON p.id = b.person_id WHERE b.key = ?1",
        params![&key[..]],
        |r| {
            Ok(KeyOwner {
                person: r.get(0)?,
                erased: r.get(1)?,
                kvnr_key: r.get(2)?,
            })
        },
    )
}
