//! Pseudonym domains in the store: the tree with its settings, and the value ↔
//! pseudonym pairs of each domain (see [`crate::domains`] for the derivation).

use super::{Conn, Row, StoreError, Tx, now, params};
use crate::domains::{Deriver, DomainSettings, MAX_CANDIDATES};
use oncofed_trustee_api::{CheckDigit, DomainInfo};

/// Why a domain operation was refused (mapped to `invalid_request`/`not_found`).
#[derive(Debug)]
pub(crate) enum DomainError {
    /// A domain of this name exists.
    Exists,
    /// The request is inconsistent with the tree (field, problem).
    Invalid(&'static str, &'static str),
    /// Every candidate of a value is taken: the domain's space is too small.
    Full,
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// A domain row.
#[derive(Debug, Clone)]
pub(crate) struct Domain {
    /// Row id.
    pub id: i64,
    /// Public description.
    pub info: DomainInfo,
    /// Validated settings.
    pub settings: DomainSettings,
}

fn check_text(c: CheckDigit) -> &'static str {
    match c {
        CheckDigit::None => "none",
        CheckDigit::Damm => "damm",
        CheckDigit::Verhoeff => "verhoeff",
        CheckDigit::LuhnModN => "luhn-mod-n",
    }
}

fn check_from(s: &str) -> Result<CheckDigit, StoreError> {
    Ok(match s {
        "none" => CheckDigit::None,
        "damm" => CheckDigit::Damm,
        "verhoeff" => CheckDigit::Verhoeff,
        "luhn-mod-n" => CheckDigit::LuhnModN,
        _ => return Err(StoreError::Corrupt("stored check digit".into())),
    })
}

const SELECT: &str =
    "SELECT d.id, d.name, p.name, d.depth, d.site, d.alphabet, d.length, d.check_digit
     FROM pseudonym_domains d LEFT JOIN pseudonym_domains p ON p.id = d.parent_id";

fn read_row(r: &Row<'_>) -> Result<Domain, StoreError> {
    let alphabet: String = r.get(5)?;
    let length: i64 = r.get(6)?;
    let check = check_from(&r.get::<String>(7)?)?;
    let settings = DomainSettings::new(&alphabet, length as usize, check)
        .map_err(|_| StoreError::Corrupt("stored domain settings".into()))?;
    Ok(Domain {
        id: r.get(0)?,
        info: DomainInfo {
            name: r.get(1)?,
            parent: r.get(2)?,
            depth: r.get::<i64>(3)? as u8,
            site: r.get(4)?,
            alphabet,
            length: length as usize,
            check,
        },
        settings,
    })
}

/// The domain called `name`.
pub(crate) fn get(conn: &mut Conn, name: &str) -> Result<Option<Domain>, StoreError> {
    let mut tx = conn.read_tx()?;
    let domain = find(&mut tx, name)?;
    tx.commit()?;
    Ok(domain)
}

fn find(tx: &mut Tx<'_>, name: &str) -> Result<Option<Domain>, StoreError> {
    tx.query_opt(
        &format!("{SELECT} WHERE d.name = ?1"),
        params![name],
        read_row,
    )
}

/// Every domain, parents before children.
pub(crate) fn list(conn: &mut Conn) -> Result<Vec<DomainInfo>, StoreError> {
    let mut tx = conn.read_tx()?;
    let rows = tx.query(
        &format!("{SELECT} ORDER BY d.depth, d.name"),
        params![],
        |r| read_row(r).map(|d| d.info),
    )?;
    tx.commit()?;
    Ok(rows)
}

/// A validated creation request.
pub(crate) struct NewDomain {
    /// Name.
    pub name: String,
    /// Parent name.
    pub parent: Option<String>,
    /// Site to bind, if any (already checked against the registry).
    pub site: Option<String>,
    /// Alphabet, if given.
    pub alphabet: Option<String>,
    /// Length, if given.
    pub length: Option<usize>,
    /// Check character, if given.
    pub check: Option<CheckDigit>,
}

/// Creates a domain, inheriting unspecified settings and the site from its parent.
pub(crate) fn create(conn: &mut Conn, new: NewDomain) -> Result<DomainInfo, DomainError> {
    let mut tx = conn.write_tx()?;
    if find(&mut tx, &new.name)?.is_some() {
        return Err(DomainError::Exists);
    }
    let parent = match &new.parent {
        None => None,
        Some(p) => Some(find(&mut tx, p)?.ok_or(DomainError::Invalid("parent", "no such domain"))?),
    };
    let depth = parent.as_ref().map_or(0, |p| p.info.depth + 1);
    if depth > crate::domains::MAX_DEPTH {
        return Err(DomainError::Invalid(
            "parent",
            "the tree has three levels (root, site, project)",
        ));
    }
    let site = match (parent.as_ref().and_then(|p| p.info.site.clone()), new.site) {
        (Some(inherited), Some(own)) if inherited != own => {
            return Err(DomainError::Invalid(
                "site",
                "differs from the site of an ancestor domain",
            ));
        }
        (inherited, own) => own.or(inherited),
    };
    let alphabet = new
        .alphabet
        .or_else(|| parent.as_ref().map(|p| p.info.alphabet.clone()))
        .unwrap_or_else(|| crate::domains::DEFAULT_ALPHABET.into());
    let length = new
        .length
        .or(parent.as_ref().map(|p| p.info.length))
        .unwrap_or(crate::domains::DEFAULT_LENGTH);
    let check = new
        .check
        .or(parent.as_ref().map(|p| p.info.check))
        .unwrap_or(CheckDigit::LuhnModN);
    let settings = DomainSettings::new(&alphabet, length, check)
        .map_err(|e| DomainError::Invalid("settings", e))?;
    tx.execute(
        "INSERT INTO pseudonym_domains (name, parent_id, depth, site, alphabet, length, check_digit, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            new.name,
            parent.as_ref().map(|p| p.id),
            i64::from(depth),
            site,
            settings.alphabet(),
            settings.length() as i64,
            check_text(check),
            now()
        ],
    )?;
    tx.commit()?;
    Ok(DomainInfo {
        name: new.name,
        parent: new.parent,
        depth,
        site,
        alphabet,
        length,
        check,
    })
}

/// Pseudonymises `values` in `domain`, in one transaction. `first[i]` is the first
/// candidate of `values[i]`, computed outside the store lock; later candidates are
/// derived here only on collision. Returns the pseudonyms and how many were new.
pub(crate) fn pseudonymise(
    conn: &mut Conn,
    domain: &Domain,
    deriver: &Deriver,
    values: &[String],
    first: Vec<String>,
) -> Result<(Vec<String>, usize), DomainError> {
    let mut tx = conn.write_tx()?;
    let mut out = Vec::with_capacity(values.len());
    let mut created = 0;
    for (value, candidate) in values.iter().zip(first) {
        if let Some(p) = tx.query_opt(
            "SELECT pseudonym FROM domain_pseudonyms WHERE domain_id = ?1 AND value = ?2",
            params![domain.id, value],
            |r| r.get::<String>(0),
        )? {
            out.push(p);
            continue;
        }
        let mut candidate = candidate;
        let mut k = 0;
        // The value is new (looked up above), so a conflict is a taken pseudonym.
        while tx.execute(
            "INSERT INTO domain_pseudonyms (domain_id, value, pseudonym) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![domain.id, value, candidate],
        )? == 0
        {
            k += 1;
            if k >= MAX_CANDIDATES {
                return Err(DomainError::Full);
            }
            candidate = deriver.candidate(&domain.settings, value, k);
        }
        created += 1;
        out.push(candidate);
    }
    tx.commit()?;
    Ok((out, created))
}

/// The values behind `pseudonyms`; `None` for unknown or malformed ones.
pub(crate) fn resolve(
    conn: &mut Conn,
    domain: &Domain,
    pseudonyms: &[String],
) -> Result<Vec<Option<String>>, StoreError> {
    let mut tx = conn.read_tx()?;
    let mut out = Vec::with_capacity(pseudonyms.len());
    for p in pseudonyms {
        out.push(if domain.settings.is_well_formed(p) {
            tx.query_opt(
                "SELECT value FROM domain_pseudonyms WHERE domain_id = ?1 AND pseudonym = ?2",
                params![domain.id, p],
                |r| r.get(0),
            )?
        } else {
            None
        });
    }
    tx.commit()?;
    Ok(out)
}
