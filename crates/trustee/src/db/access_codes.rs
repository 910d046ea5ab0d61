//! One-time access codes for the patients' portal (`crate::patient_portal`).
//!
//! A code is 16 characters of an unambiguous alphabet, shown in four groups
//! (`K7QM-4XRT-P2HW-9CFN`). The first group is the *selector*: it finds the code
//! (stored as its SHA-256, unique). All 16 characters are the secret: stored as
//! the SHA-256 of the normalised code and compared in constant time. The code
//! itself is shown once, to the staff member or site that issued it, and never
//! stored. 60 secret bits beyond the selector, five tries per code: guessing
//! is hopeless, and the portal also throttles failed sign-ins overall.
//!
//! A code is valid once, for a limited time (14 days by default, see
//! [`crate::TrusteeConfig::with_access_code_validity`]), and is locked after
//! [`MAX_FAILURES`] wrong tries with its selector. Issuing a new code for a
//! person closes the person's open ones.

use super::{Conn, StoreError, params};
use oncofed_service::tokens::TokenDigest;

/// The code alphabet: A–Z and 2–9 without `I`, `O`, `0`, `1` (read aloud or
/// typed from a letter without mix-ups); 32 symbols, 5 bits each.
pub(crate) const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Characters of a code (four groups of four).
pub(crate) const CODE_LEN: usize = 16;

/// Characters of the selector (the first group).
const SELECTOR_LEN: usize = 4;

/// Wrong tries with a code's selector before the code is locked.
pub(crate) const MAX_FAILURES: i64 = 5;

/// A newly issued code, to be shown once.
#[derive(Debug, Clone)]
pub(crate) struct NewCode {
    /// The code's row id (for the audit trail; says nothing about the code).
    pub id: i64,
    /// The person it is for (store row id).
    pub person: i64,
    /// The code, grouped for reading (`XXXX-XXXX-XXXX-XXXX`).
    pub code: String,
    /// When it stops being valid (seconds since the epoch).
    pub expires_at: i64,
}

/// How the issuer names the person.
#[derive(Debug, Clone)]
pub(crate) enum PersonRef {
    /// A site pseudonym of any site (staff).
    SitePseudonym(String),
    /// A site's own local id (the treating site).
    LocalId {
        /// The calling site.
        site: String,
        /// Its local id of the person.
        local_id: String,
    },
}

/// What a sign-in attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Redeemed {
    /// The code was right and unused: it is used now.
    SignedIn {
        /// The code's row id.
        code: i64,
        /// The person (store row id; never leaves the trust centre).
        person: i64,
    },
    /// No such code, or a wrong one (a failure counted against its selector).
    Invalid,
    /// The code was locked after too many wrong tries, or replaced by a newer one.
    Locked,
    /// The right code, but expired.
    Expired,
    /// The right code, but already used.
    Used,
}

/// Normalises what a person typed: letters upper-cased, spaces and dashes
/// dropped. `None` unless exactly [`CODE_LEN`] characters of [`ALPHABET`] remain.
pub(crate) fn normalise(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

fn selector_hash(code: &str) -> Vec<u8> {
    TokenDigest::of(&format!("selector:{}", &code[..SELECTOR_LEN]))
        .bytes()
        .to_vec()
}

fn code_hash(code: &str) -> TokenDigest {
    TokenDigest::of(&format!("access-code:{code}"))
}

fn random_code() -> String {
    (0..CODE_LEN)
        .map(|_| ALPHABET[usize::from(rand::random::<u8>() & 31)] as char)
        .collect()
}

fn grouped(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("ASCII"))
        .collect::<Vec<_>>()
        .join("-")
}

/// Issues a code for the person `who` names, closing the person's open codes.
/// `None` when the trust centre does not know the person that way.
pub(crate) fn issue(
    conn: &mut Conn,
    who: &PersonRef,
    issued_by: &str,
    now: i64,
    validity_secs: i64,
) -> Result<Option<NewCode>, StoreError> {
    let mut tx = conn.write_tx()?;
    let person: Option<i64> = match who {
        PersonRef::SitePseudonym(p) => tx.query_opt(
            "SELECT person_id FROM site_pseudonyms WHERE pseudonym = ?1",
            params![p],
            |r| r.get(0),
        )?,
        PersonRef::LocalId { site, local_id } => {
            super::linkage::person_of_local_id(&mut tx, site, local_id)?
        }
    };
    let Some(person) = person else {
        return Ok(None);
    };
    tx.execute(
        "UPDATE access_codes SET closed_at = ?2, closed_reason = 'replaced'
         WHERE person_id = ?1 AND used_at IS NULL AND closed_at IS NULL",
        params![person, now],
    )?;
    let expires_at = now + validity_secs;
    // Selectors are 20 random bits: on the rare clash with an earlier code, draw again.
    for _ in 0..16 {
        let code = random_code();
        let id: Option<i64> = tx.query_opt(
            "INSERT INTO access_codes (person_id, selector, verifier, issued_by, issued_at, expires_at, failures)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0) ON CONFLICT (selector) DO NOTHING RETURNING id",
            params![
                person,
                selector_hash(&code),
                code_hash(&code).bytes().to_vec(),
                issued_by,
                now,
                expires_at
            ],
            |r| r.get(0),
        )?;
        if let Some(id) = id {
            tx.commit()?;
            return Ok(Some(NewCode {
                id,
                person,
                code: grouped(&code),
                expires_at,
            }));
        }
    }
    Err(StoreError::Corrupt(
        "no free access-code selector after 16 draws".into(),
    ))
}

/// Checks a typed code at `now` and, when it is right and valid, uses it up.
/// A wrong code with a known selector counts a failure and locks the code at
/// [`MAX_FAILURES`]. The state of a code (expired, used) is only told to
/// someone who typed it right.
pub(crate) fn redeem(conn: &mut Conn, typed: &str, now: i64) -> Result<Redeemed, StoreError> {
    let Some(code) = normalise(typed) else {
        return Ok(Redeemed::Invalid);
    };
    let mut tx = conn.write_tx()?;
    type CodeRow = (i64, i64, Vec<u8>, i64, i64, Option<i64>, Option<i64>);
    let row: Option<CodeRow> = tx.query_opt(
        "SELECT id, person_id, verifier, expires_at, failures, used_at, closed_at
         FROM access_codes WHERE selector = ?1",
        params![selector_hash(&code)],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        },
    )?;
    let Some((id, person, verifier, expires_at, failures, used_at, closed_at)) = row else {
        return Ok(Redeemed::Invalid);
    };
    if closed_at.is_some() {
        return Ok(Redeemed::Locked);
    }
    let stored = TokenDigest::from_bytes(
        verifier
            .try_into()
            .map_err(|_| StoreError::Corrupt("access-code hash".into()))?,
    );
    let outcome = if !code_hash(&code).matches(&stored) {
        let failures = failures + 1;
        let locked = failures >= MAX_FAILURES;
        if locked {
            tx.execute(
                "UPDATE access_codes SET failures = ?2, closed_at = ?3, closed_reason = 'locked'
                 WHERE id = ?1",
                params![id, failures, now],
            )?;
        } else {
            tx.execute(
                "UPDATE access_codes SET failures = ?2 WHERE id = ?1",
                params![id, failures],
            )?;
        }
        if locked {
            Redeemed::Locked
        } else {
            Redeemed::Invalid
        }
    } else if used_at.is_some() {
        Redeemed::Used
    } else if now >= expires_at {
        Redeemed::Expired
    } else {
        tx.execute(
            "UPDATE access_codes SET used_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        Redeemed::SignedIn { code: id, person }
    };
    tx.commit()?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_codes_are_normalised_and_checked_against_the_alphabet() {
        assert_eq!(
            normalise(" k7qm-4xrt p2hw-9cfn ").as_deref(),
            Some("K7QM4XRTP2HW9CFN")
        );
        assert_eq!(normalise("K7QM-4XRT-P2HW-9CF"), None, "too short");
        assert_eq!(
            normalise("K7QM-4XRT-P2HW-9CF0"),
            None,
            "0 is not in the alphabet"
        );
        assert_eq!(normalise("K7QM-4XRT-P2HW-9CFNN"), None, "too long");
    }

    #[test]
    fn new_codes_are_grouped_and_use_the_alphabet_only() {
        for _ in 0..100 {
            let c = grouped(&random_code());
            assert_eq!(c.len(), 19);
            assert_eq!(normalise(&c).map(|n| grouped(&n)), Some(c));
        }
    }
}
