//! PPRL mode: sites send hardened CLK encodings instead of IDAT; the trust centre
//! links them across sites on the Dice coefficient and answers with project-scoped
//! link ids.
//!
//! # Keys
//! The CLK secret of a project (`oncofed_linkage::pprl::ProjectSecret`, from which
//! the per-field HMAC keys, the balancing permutation and the blocking-key MAC are
//! derived) is shared by the sites of that project and **never held by the trust
//! centre**: it is agreed among the sites (or handed out by a party other than the
//! linking one) and stays at the sites. The trust centre thus sees only Bloom
//! filters and opaque 64-bit blocking keys; it cannot encode a guessed identity
//! to test it against them (a dictionary attack needs the secret), and a key
//! leaked from one project does not open another.
//!
//! # Linking
//! A submitted record is compared (bit-parallel popcount, `oncofed_linkage::pprl::dice`)
//! with the stored records of *other* sites that share one of its blocking keys.
//! Within a batch, candidate links are taken best Dice first (anonlink's greedy
//! solver), at most one record per site and link id, and only at or above the
//! project's threshold; a record without a partner gets a new random link id. A
//! record's link id is fixed when it is first submitted.

use super::api::PprlLink;
use crate::db::{Conn, StoreError, Tx, now, params};
use oncofed_linkage::pprl::{Clk, ClkConfig, MatchConfig, dice};
use std::collections::{HashMap, HashSet};

/// Records read per blocking key and record (bounds the work on huge blocks).
const MAX_BLOCK_READ: i64 = 1000;

/// The Dice threshold a new project starts with: the one that goes with the
/// default encoding the sites use (`ClkConfig::default`), so that it follows
/// the encoding when the library's default changes.
pub(crate) fn default_threshold() -> f64 {
    MatchConfig::for_encoding(&ClkConfig::default()).threshold
}

/// A decoded record of a submission.
pub(crate) struct Submitted {
    /// The site's record id.
    pub id: String,
    /// The encoding.
    pub clk: Clk,
    /// Keyed blocking keys.
    pub blocks: Vec<u64>,
}

/// The project's threshold, creating the project with the default if new.
fn threshold(tx: &mut Tx<'_>, project: &str) -> Result<f64, StoreError> {
    tx.execute(
        "INSERT INTO pprl_projects (name, threshold, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
        params![project, default_threshold(), now()],
    )?;
    tx.query_one(
        "SELECT threshold FROM pprl_projects WHERE name = ?1",
        params![project],
        |r| r.get(0),
    )
}

/// Sets a project's Dice threshold (creating the project).
pub(crate) fn set_threshold(conn: &mut Conn, project: &str, value: f64) -> Result<(), StoreError> {
    let mut tx = conn.write_tx()?;
    threshold(&mut tx, project)?;
    tx.execute(
        "UPDATE pprl_projects SET threshold = ?2 WHERE name = ?1",
        params![project, value],
    )?;
    tx.commit()?;
    Ok(())
}

fn clk_from_blob(blob: &[u8]) -> Option<Clk> {
    Some(Clk::from_bytes(blob.try_into().ok()?))
}

/// Links a batch of one site's records in one transaction; links in input order.
pub(crate) fn submit(
    conn: &mut Conn,
    project: &str,
    site: &str,
    records: &[Submitted],
) -> Result<Vec<PprlLink>, StoreError> {
    let mut tx = conn.write_tx()?;
    let t = threshold(&mut tx, project)?;
    let mut out: Vec<Option<PprlLink>> = vec![None; records.len()];
    // Candidates of the new records: (dice, record index, link id).
    let mut cands: Vec<(f64, usize, String)> = Vec::new();
    {
        let mut batch_ids = HashSet::new();
        for (i, r) in records.iter().enumerate() {
            if !batch_ids.insert(r.id.as_str()) {
                continue; // a repeated id within the batch takes the first one's link
            }
            if let Some(link_id) = tx.query_opt(
                "SELECT link_id FROM pprl_records WHERE project = ?1 AND site = ?2 AND record_id = ?3",
                params![project, site, r.id],
                |row| row.get::<String>(0),
            )? {
                out[i] = Some(PprlLink {
                    id: r.id.clone(),
                    link_id,
                    dice: None,
                });
                continue;
            }
            let mut others: Vec<(String, String)> = Vec::new();
            for k in &r.blocks {
                // Ordered, so the cap takes the same rows on both backends.
                let rows = tx.query(
                    "SELECT site, record_id FROM pprl_blocks WHERE project = ?1 AND key = ?2
                     ORDER BY site, record_id LIMIT ?3",
                    params![project, *k as i64, MAX_BLOCK_READ],
                    |row| Ok((row.get::<String>(0)?, row.get::<String>(1)?)),
                )?;
                for (s, id) in rows {
                    if s != site {
                        others.push((s, id));
                    }
                }
            }
            others.sort_unstable();
            others.dedup();
            for (s, id) in others {
                let (blob, link_id): (Vec<u8>, String) = tx.query_one(
                    "SELECT clk, link_id FROM pprl_records WHERE project = ?1 AND site = ?2 AND record_id = ?3",
                    params![project, s, id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )?;
                let Some(other) = clk_from_blob(&blob) else {
                    return Err(StoreError::Corrupt("stored CLK".into()));
                };
                let d = dice(&r.clk, &other);
                if d >= t {
                    cands.push((d, i, link_id));
                }
            }
        }
    }
    // Best Dice first; ties by record index and link id, so results are deterministic.
    cands.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut taken: HashSet<String> = HashSet::new();
    let mut assigned: HashMap<usize, (String, f64)> = HashMap::new();
    {
        for (d, i, link_id) in cands {
            if assigned.contains_key(&i) || taken.contains(&link_id) {
                continue;
            }
            // One record per site and person: a link id that already has a record
            // of this site is taken.
            if tx.exists(
                "SELECT 1 FROM pprl_records WHERE project = ?1 AND link_id = ?2 AND site = ?3 LIMIT 1",
                params![project, link_id, site],
            )? {
                taken.insert(link_id);
                continue;
            }
            taken.insert(link_id.clone());
            assigned.insert(i, (link_id, d));
        }
    }
    {
        let mut first: HashMap<&str, usize> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            if let Some(&j) = first.get(r.id.as_str()) {
                out[i] = out[j].clone();
                continue;
            }
            first.insert(&r.id, i);
            if out[i].is_some() {
                continue;
            }
            let (link_id, d) = match assigned.remove(&i) {
                Some((l, d)) => (l, Some(d)),
                None => (hex::encode(rand::random::<[u8; 16]>()), None),
            };
            tx.execute(
                "INSERT INTO pprl_records (project, site, record_id, clk, link_id) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![project, site, r.id, &r.clk.to_bytes()[..], link_id],
            )?;
            for k in &r.blocks {
                tx.execute(
                    "INSERT INTO pprl_blocks (project, key, site, record_id) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO NOTHING",
                    params![project, *k as i64, site, r.id],
                )?;
            }
            out[i] = Some(PprlLink {
                id: r.id.clone(),
                link_id,
                dice: d,
            });
        }
    }
    tx.commit()?;
    Ok(out
        .into_iter()
        .map(|l| l.expect("every record answered"))
        .collect())
}
