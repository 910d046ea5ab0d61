//! Finding input files and cutting them into ingest units.
//!
//! A unit is what lands atomically: one `.json` file (a Bundle or a resource),
//! one line of an NDJSON file of Bundles, or all resource-per-line NDJSON files of
//! one folder together (a FHIR Bulk Data export, whose files reference each other).

use crate::ingest::lines::{Line, Lines};
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// Why input could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read input {path}: {source}")]
pub struct DiscoverError {
    /// The path.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// How one input file is cut into units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputFile {
    /// A `.json` file: one unit.
    Json(PathBuf),
    /// An NDJSON file whose lines are Bundles: one unit per line.
    BundleLines(PathBuf),
    /// NDJSON files of plain resources from one folder: one unit together.
    BulkResources(Vec<PathBuf>),
}

impl InputFile {
    /// The files this input reads.
    pub fn paths(&self) -> Vec<&Path> {
        match self {
            Self::Json(p) | Self::BundleLines(p) => vec![p.as_path()],
            Self::BulkResources(ps) => ps.iter().map(PathBuf::as_path).collect(),
        }
    }
}

/// Lists the inputs under `paths` (files or folders, recursively), in a stable order.
/// NDJSON lines longer than `max_line` bytes are skipped when a file is classified.
pub fn discover(paths: &[PathBuf], max_line: usize) -> Result<Vec<InputFile>, DiscoverError> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files)?;
    }
    files.sort();
    files.dedup();
    let mut inputs = Vec::new();
    let mut bulk: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    for f in files {
        let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "json" {
            inputs.push(InputFile::Json(f));
        } else if holds_bundles(&f, max_line)? {
            inputs.push(InputFile::BundleLines(f));
        } else {
            let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
            match bulk.iter_mut().find(|(d, _)| *d == dir) {
                Some((_, group)) => group.push(f),
                None => bulk.push((dir, vec![f])),
            }
        }
    }
    for (_, mut group) in bulk {
        // Patients first, so that a bulk export reads in reference order.
        group.sort_by_key(|p| (!file_name(p).starts_with("Patient"), p.clone()));
        inputs.push(InputFile::BulkResources(group));
    }
    Ok(inputs)
}

fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), DiscoverError> {
    let err = |source| DiscoverError {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(err)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).map_err(err)? {
            let entry = entry.map_err(err)?;
            let p = entry.path();
            let name = file_name(&p);
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                collect(&p, out)?;
            } else if name.ends_with(".json") || name.ends_with(".ndjson") {
                out.push(p);
            }
        }
    } else {
        out.push(path.to_owned());
    }
    Ok(())
}

/// How many non-empty lines [`holds_bundles`] looks at.
const PEEK_LINES: usize = 16;

/// Whether an NDJSON file holds Bundles: decided by the first of its first
/// [`PEEK_LINES`] non-empty lines whose `resourceType` can be read.
///
/// Lines that are not UTF-8, not JSON or over-long are passed over here (the
/// mapper reports each of them, naming file and line), so one bad first line
/// neither stops the run nor turns a file of Bundles into one bulk unit that
/// would land nothing. A file with no readable line among those is read line
/// by line, each line its own unit, so that no line's error takes others along.
fn holds_bundles(path: &Path, max_line: usize) -> Result<bool, DiscoverError> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "resourceType")]
        resource_type: Option<String>,
    }
    let err = |source| DiscoverError {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(err)?;
    let mut lines = Lines::new(BufReader::new(file), max_line);
    let mut peeked = 0;
    while peeked < PEEK_LINES {
        let Some((_, _, line)) = lines.next_line().map_err(err)? else {
            break;
        };
        let text = match line {
            Line::Text(t) if t.iter().all(u8::is_ascii_whitespace) => continue,
            Line::Text(t) => t,
            Line::TooLong { .. } => &[][..],
        };
        peeked += 1;
        let head = serde_json::from_slice::<Head>(text).ok();
        if let Some(t) = head.and_then(|h| h.resource_type) {
            return Ok(t == "Bundle");
        }
    }
    // Nothing readable: a Bundle-per-line file rejects each bad line alone.
    Ok(peeked > 0)
}
