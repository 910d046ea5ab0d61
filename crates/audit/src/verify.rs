//! Verification of an audit trail, from memory or from a JSON Lines export.

use crate::entry::{AuditEntry, Checkpoint, GENESIS_HASH};
use oncofed_crypto::PublicKey;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{BufRead, BufReader, Read};

/// One line of an export: `{"entry":{...}}` or `{"checkpoint":{...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportRecord {
    /// An audit entry.
    Entry(AuditEntry),
    /// A signed checkpoint.
    Checkpoint(Checkpoint),
}

/// The parsed content of an export.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Export {
    /// Entries in file order.
    pub entries: Vec<AuditEntry>,
    /// Checkpoints in file order.
    pub checkpoints: Vec<Checkpoint>,
}

/// The first thing wrong with an audit trail, naming the entry at fault; see
/// [`verify`] for how each kind is told apart. JSON form:
/// `{"kind":"edited","seq":5}` etc.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Problem {
    /// A line of the export is not an entry or checkpoint (1-based line number).
    Malformed {
        /// Line number in the export.
        line: u64,
        /// What is wrong, without quoting the line.
        reason: String,
    },
    /// The entry's hash does not match its content.
    Edited {
        /// The entry's `seq` as recorded.
        seq: u64,
    },
    /// Entries are missing between `after_seq` (`None`: from the start) and `next_seq`.
    Deleted {
        /// The last entry before the gap.
        after_seq: Option<u64>,
        /// The first entry after the gap.
        next_seq: u64,
    },
    /// An entry that does not belong to the chain.
    Inserted {
        /// The `seq` the intruding entry carries.
        seq: u64,
    },
    /// Entries are present but in the wrong order.
    Reordered {
        /// The lowest `seq` not at its place.
        seq: u64,
    },
    /// The entry's `prev_hash` or `seq` does not continue from its predecessor.
    BrokenLink {
        /// The entry whose link is broken.
        seq: u64,
    },
    /// A checkpoint's signature does not verify against the trusted key.
    BadCheckpoint {
        /// The `seq` the checkpoint claims to cover.
        seq: u64,
    },
    /// A validly signed checkpoint disagrees with the entry it covers.
    CheckpointMismatch {
        /// The entry covered.
        seq: u64,
    },
    /// A validly signed checkpoint covers an entry no longer in the log.
    TruncatedAfterCheckpoint {
        /// The entry the checkpoint covers.
        checkpoint_seq: u64,
        /// The last entry present (`None`: no entries at all).
        last_seq: Option<u64>,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { line, reason } => {
                write!(f, "line {line} is not an audit record: {reason}")
            }
            Self::Edited { seq } => {
                write!(
                    f,
                    "entry {seq} was edited: its content does not match its hash"
                )
            }
            Self::Deleted {
                after_seq: Some(a),
                next_seq,
            } => {
                write!(
                    f,
                    "entries were deleted between entry {a} and entry {next_seq}"
                )
            }
            Self::Deleted {
                after_seq: None,
                next_seq,
            } => {
                write!(
                    f,
                    "entries were deleted before entry {next_seq} (the log must start at entry 0)"
                )
            }
            Self::Inserted { seq } => {
                write!(
                    f,
                    "an entry numbered {seq} was inserted: it is not part of the original chain"
                )
            }
            Self::Reordered { seq } => {
                write!(f, "entries were reordered: entry {seq} is not in its place")
            }
            Self::BrokenLink { seq } => write!(
                f,
                "entry {seq} does not link to the entry before it: that entry was replaced, \
                 or entry {seq} was renumbered or relinked"
            ),
            Self::BadCheckpoint { seq } => {
                write!(
                    f,
                    "the checkpoint for entry {seq} has an invalid signature (forged or altered)"
                )
            }
            Self::CheckpointMismatch { seq } => write!(
                f,
                "the signed checkpoint for entry {seq} does not match it: entries up to {seq} were rewritten"
            ),
            Self::TruncatedAfterCheckpoint {
                checkpoint_seq,
                last_seq,
            } => {
                let last =
                    last_seq.map_or_else(|| "no entries".to_owned(), |s| format!("entry {s}"));
                write!(
                    f,
                    "the log ends at {last}, but a signed checkpoint covers entry {checkpoint_seq}: \
                     entries were deleted from the end"
                )
            }
        }
    }
}

/// The outcome of a verification. Serialisable for `--json` output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// No problem found.
    pub ok: bool,
    /// Entries read.
    pub entries: u64,
    /// Checkpoints read.
    pub checkpoints: u64,
    /// The highest entry covered by a valid checkpoint before any problem:
    /// entries up to here are authenticated, later ones only chained.
    pub signed_through: Option<u64>,
    /// The first problem, if any.
    pub first_problem: Option<Problem>,
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.first_problem {
            Some(problem) => write!(f, "audit log NOT valid: {problem}"),
            None => {
                write!(
                    f,
                    "audit log valid: {} entries, {} checkpoints",
                    self.entries, self.checkpoints
                )?;
                match self.signed_through {
                    Some(s) if s + 1 == self.entries => write!(f, ", all signed"),
                    Some(s) => write!(
                        f,
                        ", signed through entry {s}; later entries are chained but not signed"
                    ),
                    None if self.entries > 0 => write!(f, "; no entry is signed yet"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Verifies entries (in file order) and checkpoints against the hub's key.
///
/// # How problems are told apart
///
/// Entries are walked in file order; position `p` must hold the entry with
/// `seq == p` whose `prev_hash` is the hash of the entry before it and whose
/// hash recomputes. At the first position where this fails:
///
/// - **Edited**: the entry's hash does not recompute (a field was changed
///   without re-hashing; an unrepresentable timestamp counts too).
/// - **Inserted**: another entry in the file carries the same `seq` (a forged
///   or copied entry), or an entry with an unexpected `seq` sits where the
///   expected entry follows directly and links on, while no entry links back
///   to it.
/// - **Reordered**: the expected `seq` is present, but further down the file.
///   Names the lowest `seq` that is out of place (for a swap of 4 and 5: 4).
/// - **Deleted**: the `seq` jumps ahead, the skipped numbers appear nowhere,
///   and the entry's `prev_hash` does not link to its predecessor (it links to
///   the missing one).
/// - **BrokenLink**: the `seq` is the expected one (or jumps ahead while the
///   link is intact), but `prev_hash` differs from the predecessor's hash: the
///   predecessor was replaced by a re-hashed edit, or this entry's link or
///   number was changed and re-hashed.
///
/// Then checkpoints, in `seq` order, for entries before that position:
/// **BadCheckpoint** if the signature does not verify against the trusted key,
/// **CheckpointMismatch** if it is validly signed but the entry at its `seq`
/// has another hash (entries up to there were rewritten and re-chained).
/// With an intact chain, a validly signed checkpoint beyond the last entry
/// gives **TruncatedAfterCheckpoint**. The problem with the lowest `seq` wins.
///
/// # Limits
///
/// A hash chain can be extended by anyone: only entries up to the last valid
/// checkpoint are authenticated ([`VerifyReport::signed_through`]). Deleting
/// entries from the end is detected only up to the last checkpoint still in
/// the file; deleting the trailing checkpoints as well goes unnoticed unless
/// the verifier is given a checkpoint kept elsewhere (pass it to [`verify`]).
/// A genuine last entry moved into the middle is reported as Inserted, as no
/// entry links back to it. [`verify_export`] holds the whole export in memory.
pub fn verify(
    entries: &[AuditEntry],
    checkpoints: &[Checkpoint],
    trusted: &PublicKey,
) -> VerifyReport {
    let (intact, chain_problem) = walk(entries);
    let mut sorted: Vec<&Checkpoint> = checkpoints.iter().collect();
    sorted.sort_by_key(|c| c.seq);

    let mut signed_through = None;
    let mut checkpoint_problem = None;
    for checkpoint in sorted {
        let seq = checkpoint.seq;
        let Some(entry) = usize::try_from(seq)
            .ok()
            .filter(|&i| i < intact)
            .map(|i| &entries[i])
        else {
            // Beyond the trustworthy prefix: only meaningful if the chain is intact.
            if chain_problem.is_none() {
                checkpoint_problem = Some(if checkpoint.verify(trusted).is_ok() {
                    Problem::TruncatedAfterCheckpoint {
                        checkpoint_seq: seq,
                        last_seq: entries.last().map(|e| e.seq),
                    }
                } else {
                    Problem::BadCheckpoint { seq }
                });
            }
            break;
        };
        if checkpoint.verify(trusted).is_err() {
            checkpoint_problem = Some(Problem::BadCheckpoint { seq });
            break;
        }
        if checkpoint.hash != entry.hash {
            checkpoint_problem = Some(Problem::CheckpointMismatch { seq });
            break;
        }
        signed_through = Some(seq);
    }

    let first_problem = checkpoint_problem.or(chain_problem);
    VerifyReport {
        ok: first_problem.is_none(),
        entries: entries.len() as u64,
        checkpoints: checkpoints.len() as u64,
        signed_through,
        first_problem,
    }
}

/// Reads an export (see [`AuditLog::export`](crate::AuditLog::export)) and
/// verifies it. An unreadable line is reported as [`Problem::Malformed`], with
/// the counts of records read before it.
pub fn verify_export(reader: impl Read, trusted: &PublicKey) -> VerifyReport {
    match parse_export(reader) {
        (export, None) => verify(&export.entries, &export.checkpoints, trusted),
        (export, Some(problem)) => VerifyReport {
            ok: false,
            entries: export.entries.len() as u64,
            checkpoints: export.checkpoints.len() as u64,
            signed_through: None,
            first_problem: Some(problem),
        },
    }
}

/// Parses an export without verifying it, e.g. to display entries. Blank
/// lines are skipped.
pub fn read_export(reader: impl Read) -> Result<Export, Problem> {
    match parse_export(reader) {
        (export, None) => Ok(export),
        (_, Some(problem)) => Err(problem),
    }
}

/// The records up to the first unreadable line, and that line's problem.
fn parse_export(reader: impl Read) -> (Export, Option<Problem>) {
    let mut export = Export::default();
    let mut buf = Vec::new();
    let mut reader = BufReader::new(reader);
    let mut line_no = 0u64;
    loop {
        buf.clear();
        line_no += 1;
        let malformed = |reason: String| {
            Some(Problem::Malformed {
                line: line_no,
                reason,
            })
        };
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => return (export, None),
            Ok(_) => {}
            Err(e) => return (export, malformed(format!("read error: {e}"))),
        }
        let Ok(text) = std::str::from_utf8(&buf) else {
            return (export, malformed("not valid UTF-8".to_owned()));
        };
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<ExportRecord>(text) {
            Ok(ExportRecord::Entry(entry)) => export.entries.push(entry),
            Ok(ExportRecord::Checkpoint(checkpoint)) => export.checkpoints.push(checkpoint),
            Err(e) => {
                let what = match e.classify() {
                    serde_json::error::Category::Data => "not a valid entry or checkpoint",
                    _ => "not valid JSON",
                };
                return (export, malformed(format!("{what} (column {})", e.column())));
            }
        }
    }
}

/// Walks the chain; returns the length of the intact prefix and the problem
/// found at its end, if any.
fn walk(entries: &[AuditEntry]) -> (usize, Option<Problem>) {
    let mut prev = GENESIS_HASH;
    for (pos, entry) in entries.iter().enumerate() {
        if !entry.hash_is_valid() {
            return (pos, Some(Problem::Edited { seq: entry.seq }));
        }
        if entry.seq == pos as u64 && entry.prev_hash == prev {
            prev = &entry.hash;
            continue;
        }
        return (pos, Some(classify(entries, pos, prev)));
    }
    (entries.len(), None)
}

/// Names the problem at `pos`, where the entry is internally consistent but
/// does not continue the intact prefix whose last hash is `prev`.
fn classify(entries: &[AuditEntry], pos: usize, prev: &str) -> Problem {
    let entry = &entries[pos];
    let expected = pos as u64;
    let mut seq_count: HashMap<u64, usize> = HashMap::new();
    let mut links: HashSet<(u64, &str)> = HashSet::new();
    for e in entries {
        *seq_count.entry(e.seq).or_default() += 1;
        links.insert((e.seq, e.prev_hash.as_str()));
    }

    if seq_count[&entry.seq] > 1 || entry.seq < expected {
        return Problem::Inserted { seq: entry.seq };
    }
    if entry.seq == expected {
        return Problem::BrokenLink { seq: entry.seq };
    }
    // entry.seq > expected
    if seq_count.contains_key(&expected) {
        let next_continues = entries
            .get(pos + 1)
            .is_some_and(|next| next.seq == expected && next.prev_hash == prev);
        let linked_back = entry
            .seq
            .checked_add(1)
            .is_some_and(|s| links.contains(&(s, entry.hash.as_str())));
        if next_continues && !linked_back {
            return Problem::Inserted { seq: entry.seq };
        }
        return Problem::Reordered { seq: expected };
    }
    if entry.prev_hash == prev {
        return Problem::BrokenLink { seq: entry.seq };
    }
    Problem::Deleted {
        after_seq: expected.checked_sub(1),
        next_seq: entry.seq,
    }
}
