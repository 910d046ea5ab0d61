//! Re-contact requests (R5: re-contact only through the trustee): a staff member
//! files one with a stated reason, a second, distinct staff member approves it, and
//! only then, and only if the person's consent permits re-contact for that reason,
//! does the treating site see it.
//!
//! # Consent rule for re-contact
//!
//! Re-contact is opt-in: [`oncofed_consent::may_recontact`] (rule 9 of that crate)
//! decides, over the person's current Consents, for the kind of re-contact the
//! reason code names; a withdrawal or a refusal denies, and so does a stored
//! Consent that no longer parses (fail closed).

use super::{Conn, StoreError, Tx, now, params};
use crate::consent::{RecontactKind, may_recontact, parse_consent};
use oncofed_model::{Pseudonym, SiteId};
use oncofed_trustee_api::{RecontactNotice, RecontactReason, RecontactState, RecontactStatus};

/// Distinct people needed before a request reaches the site (the requester counts).
pub(crate) const APPROVALS_NEEDED: usize = 2;

/// The consent engine's kind of re-contact for a reason code.
fn kind_of(reason: RecontactReason) -> RecontactKind {
    match reason {
        RecontactReason::IncidentalFinding => RecontactKind::AdditionalFindings,
        RecontactReason::FurtherStudies => RecontactKind::FurtherStudies,
        RecontactReason::FurtherSurvey => RecontactKind::FurtherData,
        RecontactReason::LinkDatabases => RecontactKind::LinkDatabases,
        RecontactReason::Questionnaires => RecontactKind::Questionnaires,
    }
}

/// Whether the person (row `person`) may be re-contacted for `reason` today.
fn permitted(tx: &mut Tx<'_>, person: i64, reason: RecontactReason) -> Result<bool, StoreError> {
    let rows = tx.query(
        "SELECT resource FROM consents WHERE person_id = ?1 AND superseded_by IS NULL ORDER BY id",
        params![person],
        |r| r.get::<String>(0),
    )?;
    let mut consents = Vec::new();
    for json in rows {
        let value: serde_json::Value = serde_json::from_str(&json)
            .map_err(|_| StoreError::Corrupt("stored consent is not JSON".into()))?;
        match parse_consent(&value) {
            Ok(c) => consents.push(c),
            Err(_) => return Ok(false), // fail closed
        }
    }
    let today = chrono::Utc::now().date_naive();
    Ok(may_recontact(&consents, today, kind_of(reason)).permits())
}

fn reason_text(reason: RecontactReason) -> &'static str {
    match reason {
        RecontactReason::IncidentalFinding => "incidental-finding",
        RecontactReason::FurtherStudies => "further-studies",
        RecontactReason::FurtherSurvey => "further-survey",
        RecontactReason::LinkDatabases => "link-databases",
        RecontactReason::Questionnaires => "questionnaires",
    }
}

fn reason_from(s: &str) -> Result<RecontactReason, StoreError> {
    match s {
        "incidental-finding" => Ok(RecontactReason::IncidentalFinding),
        "further-studies" => Ok(RecontactReason::FurtherStudies),
        "further-survey" => Ok(RecontactReason::FurtherSurvey),
        "link-databases" => Ok(RecontactReason::LinkDatabases),
        "questionnaires" => Ok(RecontactReason::Questionnaires),
        _ => Err(StoreError::Corrupt("stored re-contact reason".into())),
    }
}

fn state_text(s: RecontactState) -> &'static str {
    match s {
        RecontactState::Pending => "pending",
        RecontactState::Released => "released",
        RecontactState::RefusedByConsent => "refused-by-consent",
    }
}

fn state_from(s: &str) -> Result<RecontactState, StoreError> {
    match s {
        "pending" => Ok(RecontactState::Pending),
        "released" => Ok(RecontactState::Released),
        "refused-by-consent" => Ok(RecontactState::RefusedByConsent),
        _ => Err(StoreError::Corrupt("stored re-contact state".into())),
    }
}

/// A re-contact request with what the audit trail records about it.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Its status as the caller sees it.
    pub status: RecontactStatus,
    /// The treating site.
    pub site: String,
    /// Whether this call changed it (a repeated approval by the same person does not).
    pub changed: bool,
}

/// Files a request by `requester` for the person behind a site pseudonym. The
/// requester's filing is their approval. Checks consent at once: a person who
/// never permitted re-contact gets a request in state `refused-by-consent`.
pub(crate) fn create(
    conn: &mut Conn,
    pseudonym: &Pseudonym,
    reason_code: RecontactReason,
    reason: &str,
    requester: &str,
) -> Result<Outcome, StoreError> {
    let mut tx = conn.write_tx()?;
    let (person, site): (i64, String) = tx
        .query_opt(
            "SELECT person_id, site FROM site_pseudonyms WHERE pseudonym = ?1",
            params![pseudonym.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .ok_or(StoreError::UnknownPseudonym)?;
    let state = if permitted(&mut tx, person, reason_code)? {
        RecontactState::Pending
    } else {
        RecontactState::RefusedByConsent
    };
    let now = now();
    let id: i64 = tx.query_one(
        "INSERT INTO recontact_requests (person_id, site, pseudonym, reason_code, reason, requester, state, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        params![person, site, pseudonym.as_str(), reason_text(reason_code), reason, requester, state_text(state), now],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO recontact_approvals (request_id, staff, approved_at) VALUES (?1, ?2, ?3)",
        params![id, requester, now],
    )?;
    tx.commit()?;
    Ok(Outcome {
        status: RecontactStatus {
            id,
            state,
            approvals: vec![requester.to_owned()],
        },
        site,
        changed: true,
    })
}

/// Adds `staff`'s approval to request `id`; `Ok(None)` for an unknown request.
/// With [`APPROVALS_NEEDED`] distinct approvals the consent is checked again (it may
/// have changed since filing) and the request is released or refused.
pub(crate) fn approve(
    conn: &mut Conn,
    id: i64,
    staff: &str,
) -> Result<Option<Outcome>, StoreError> {
    let mut tx = conn.write_tx()?;
    let row: Option<(i64, String, String, String)> = tx.query_opt(
        "SELECT person_id, site, reason_code, state FROM recontact_requests WHERE id = ?1",
        params![id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let Some((person, site, reason_code, state)) = row else {
        return Ok(None);
    };
    let mut state = state_from(&state)?;
    let mut changed = false;
    if state == RecontactState::Pending {
        changed = tx.execute(
            "INSERT INTO recontact_approvals (request_id, staff, approved_at) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![id, staff, now()],
        )? == 1;
    }
    let approvals = approvals_of(&mut tx, id)?;
    if state == RecontactState::Pending && approvals.len() >= APPROVALS_NEEDED {
        state = if permitted(&mut tx, person, reason_from(&reason_code)?)? {
            RecontactState::Released
        } else {
            RecontactState::RefusedByConsent
        };
        tx.execute(
            "UPDATE recontact_requests SET state = ?2, released_at = ?3 WHERE id = ?1",
            params![
                id,
                state_text(state),
                (state == RecontactState::Released).then(now)
            ],
        )?;
    }
    tx.commit()?;
    Ok(Some(Outcome {
        status: RecontactStatus {
            id,
            state,
            approvals,
        },
        site,
        changed,
    }))
}

fn approvals_of(tx: &mut Tx<'_>, id: i64) -> Result<Vec<String>, StoreError> {
    // The requester first, then the others in the order they approved.
    tx.query(
        "SELECT a.staff FROM recontact_approvals a JOIN recontact_requests r ON r.id = a.request_id
         WHERE a.request_id = ?1 ORDER BY a.staff <> r.requester, a.approved_at, a.staff",
        params![id],
        |r| r.get::<String>(0),
    )
}

/// How long a delivered request is still returned (a site whose response was lost
/// fetches it again): 7 days.
const REDELIVER_SECS: i64 = 7 * 24 * 3600;

/// Released requests for `site` not delivered, or delivered within the last 7 days,
/// oldest first (what the treating site may see), and the ids among them fetched
/// now for the first time (marked delivered).
pub(crate) fn released_for(
    conn: &mut Conn,
    site: &SiteId,
) -> Result<(Vec<RecontactNotice>, Vec<i64>), StoreError> {
    let mut tx = conn.write_tx()?;
    let mut out = Vec::new();
    let mut first = Vec::new();
    let rows = tx.query(
        "SELECT id, pseudonym, reason_code, reason, released_at, delivered_at FROM recontact_requests
         WHERE site = ?1 AND state = 'released' AND (delivered_at IS NULL OR delivered_at > ?2)
         ORDER BY id",
        params![site.as_str(), now() - REDELIVER_SECS],
        |r| {
            Ok((
                r.get::<i64>(0)?,
                r.get::<String>(1)?,
                r.get::<String>(2)?,
                r.get::<String>(3)?,
                r.get::<i64>(4)?,
                r.get::<Option<i64>>(5)?,
            ))
        },
    )?;
    for (id, pseudonym, code, reason, released_at, delivered) in rows {
        if delivered.is_none() {
            first.push(id);
        }
        // Through the pseudonym, not the stored person: a clerical-review merge
        // moves pseudonyms and local ids to the surviving person.
        let local_ids = tx.query(
            "SELECT l.local_id FROM local_ids l JOIN site_pseudonyms sp
               ON sp.person_id = l.person_id AND sp.site = l.site
             WHERE sp.pseudonym = ?1 AND l.site = ?2 ORDER BY l.local_id",
            params![pseudonym, site.as_str()],
            |r| r.get::<String>(0),
        )?;
        out.push(RecontactNotice {
            id,
            pseudonym: Pseudonym::new(&pseudonym)
                .map_err(|_| StoreError::Corrupt("stored pseudonym".into()))?,
            reason_code: reason_from(&code)?,
            reason,
            released_at,
            local_ids,
        });
    }
    let now = now();
    for id in &first {
        tx.execute(
            "UPDATE recontact_requests SET delivered_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
    }
    tx.commit()?;
    Ok((out, first))
}
