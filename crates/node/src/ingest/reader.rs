//! The reading stage: files → mapped units, on a blocking thread.
//!
//! Memory is bounded by the caps in [`Limits`]: an NDJSON line is read with
//! [`Lines`] (an over-long one is skipped, not held), a `.json` document is read
//! whole only when it is within its cap. Every problem of a file or line is an
//! error of its unit; the run goes on with the next one.

use super::lines::{Line, Lines};
use crate::discover::InputFile;
use oncofed_fhir::{Batch, map_document, map_ndjson_bytes};
use std::io::{BufReader, Read as _};
use std::path::Path;
use tokio::sync::mpsc;

/// One atomic unit of input, mapped (or the reason it cannot land).
pub struct Unit {
    /// Where it came from (file, line), for error lines.
    pub label: String,
    /// The unit's mapping, or its error line for the report.
    pub batch: Result<Batch, String>,
    /// Bytes of input it covers (for progress).
    pub bytes: u64,
}

/// The size caps of one run (see [`super::IngestOptions`]).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest NDJSON line, in bytes.
    pub max_line: usize,
    /// Largest `.json` document, in bytes.
    pub max_document: u64,
}

/// Total input size in bytes.
pub fn total_bytes(inputs: &[InputFile]) -> u64 {
    inputs
        .iter()
        .flat_map(InputFile::paths)
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Starts the reader thread; it sends chunks of units of about `chunk_resources`
/// resources each. The channel is short, so reading stays one chunk ahead.
pub fn spawn(
    inputs: Vec<InputFile>,
    chunk_resources: usize,
    limits: Limits,
) -> mpsc::Receiver<Vec<Unit>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::new();
        let mut resources = 0;
        let mut emit = |unit: Unit| -> bool {
            resources += unit.batch.as_ref().map(|b| b.resources).unwrap_or(1);
            chunk.push(unit);
            if resources >= chunk_resources {
                resources = 0;
                return tx.blocking_send(std::mem::take(&mut chunk)).is_ok();
            }
            true
        };
        for input in inputs {
            let keep_going = match &input {
                InputFile::Json(path) => emit(read_json(path, limits.max_document)),
                InputFile::BundleLines(path) => read_bundle_lines(path, limits.max_line, &mut emit),
                InputFile::BulkResources(paths) => emit(read_bulk(paths, limits.max_line)),
            };
            if !keep_going {
                return;
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(chunk);
        }
    });
    rx
}

fn io_error(path: &Path, e: &std::io::Error) -> String {
    format!("{}: cannot read file: {e}", path.display())
}

fn too_big(source: &str, bytes: u64, max: u64) -> String {
    format!(
        "{source}: the file has {bytes} bytes, over the limit of {max} bytes for one .json document, \
         and was not read; export it as NDJSON (one Bundle per line) or raise --max-document-mib"
    )
}

fn too_long(source: &str, line_no: usize, bytes: u64, max: usize) -> String {
    format!(
        "{source} line {line_no}: the line has {bytes} bytes, over the limit of {max} bytes for one NDJSON \
         line, and was skipped unread; split it into several lines or raise --max-line-mib"
    )
}

fn read_failed(source: &str, line_no: usize, e: &std::io::Error) -> String {
    format!("{source} line {line_no}: cannot read: {e}; the rest of the file was not read")
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

fn read_json(path: &Path, max_document: u64) -> Unit {
    let label = path.display().to_string();
    let fail = |bytes, error| Unit {
        label: label.clone(),
        bytes,
        batch: Err(error),
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return fail(0, io_error(path, &e)),
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > max_document {
        return fail(size, too_big(&label, size, max_document));
    }
    // Read at most one byte past the cap, in case the file grew since its size was taken.
    let mut bytes = Vec::with_capacity(size as usize);
    if let Err(e) = file.take(max_document + 1).read_to_end(&mut bytes) {
        return fail(0, io_error(path, &e));
    }
    let read = bytes.len() as u64;
    if read > max_document {
        return fail(read, too_big(&label, read, max_document));
    }
    Unit {
        batch: map_document(&bytes, &label).map_err(|e| e.to_string()),
        label,
        bytes: read,
    }
}

fn read_bundle_lines(path: &Path, max_line: usize, emit: &mut dyn FnMut(Unit) -> bool) -> bool {
    let source = path.display().to_string();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            return emit(Unit {
                label: source,
                bytes: 0,
                batch: Err(io_error(path, &e)),
            });
        }
    };
    let mut lines = Lines::new(BufReader::with_capacity(1 << 20, file), max_line);
    loop {
        let next_no = lines.line_no() + 1;
        let unit = match lines.next_line() {
            Ok(None) => return true,
            Ok(Some((_, _, Line::Text(t)))) if is_blank(t) => continue,
            Ok(Some((no, bytes, Line::Text(t)))) => Unit {
                label: format!("{source} line {no}"),
                bytes,
                batch: map_ndjson_bytes(t, &source, no).map_err(|e| e.to_string()),
            },
            Ok(Some((no, bytes, Line::TooLong { bytes: len }))) => Unit {
                label: format!("{source} line {no}"),
                bytes,
                batch: Err(too_long(&source, no, len, max_line)),
            },
            Err(e) => {
                return emit(Unit {
                    label: format!("{source} line {next_no}"),
                    bytes: 0,
                    batch: Err(read_failed(&source, next_no, &e)),
                });
            }
        };
        if !emit(unit) {
            return false;
        }
    }
}

fn read_bulk(paths: &[std::path::PathBuf], max_line: usize) -> Unit {
    let label = match paths.first().and_then(|p| p.parent()) {
        Some(dir) => format!("{} (bulk export)", dir.display()),
        None => "bulk export".to_owned(),
    };
    let mut batch = Batch::default();
    let mut bytes = 0;
    let whole = " (the bulk export in this folder landed nothing)";
    for path in paths {
        let source = path.display().to_string();
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                return Unit {
                    label,
                    bytes,
                    batch: Err(format!("{}{whole}", io_error(path, &e))),
                };
            }
        };
        let mut lines = Lines::new(BufReader::with_capacity(1 << 20, file), max_line);
        loop {
            let next_no = lines.line_no() + 1;
            let error = match lines.next_line() {
                Ok(None) => break,
                Ok(Some((_, taken, Line::Text(t)))) => {
                    bytes += taken;
                    if is_blank(t) {
                        continue;
                    }
                    match map_ndjson_bytes(t, &source, next_no) {
                        Ok(b) => {
                            batch.merge(b);
                            continue;
                        }
                        Err(e) => e.to_string(),
                    }
                }
                Ok(Some((no, taken, Line::TooLong { bytes: len }))) => {
                    bytes += taken;
                    too_long(&source, no, len, max_line)
                }
                Err(e) => read_failed(&source, next_no, &e),
            };
            return Unit {
                label,
                bytes,
                batch: Err(format!("{error}{whole}")),
            };
        }
    }
    Unit {
        label,
        bytes,
        batch: Ok(batch),
    }
}
