//! The reading stage: files → mapped units, on a blocking thread.

use crate::discover::InputFile;
use oncofed_fhir::{Batch, map_document, map_ndjson_line};
use std::io::{BufRead, BufReader};
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
pub fn spawn(inputs: Vec<InputFile>, chunk_resources: usize) -> mpsc::Receiver<Vec<Unit>> {
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
                InputFile::Json(path) => emit(read_json(path)),
                InputFile::BundleLines(path) => read_bundle_lines(path, &mut emit),
                InputFile::BulkResources(paths) => emit(read_bulk(paths)),
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

fn read_json(path: &Path) -> Unit {
    match std::fs::read(path) {
        Ok(bytes) => Unit {
            label: path.display().to_string(),
            bytes: bytes.len() as u64,
            batch: map_document(&bytes, &path.display().to_string()).map_err(|e| e.to_string()),
        },
        Err(e) => Unit {
            label: path.display().to_string(),
            bytes: 0,
            batch: Err(io_error(path, &e)),
        },
    }
}

fn read_bundle_lines(path: &Path, emit: &mut dyn FnMut(Unit) -> bool) -> bool {
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
    for (i, line) in BufReader::with_capacity(1 << 20, file).lines().enumerate() {
        let unit = match line {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => Unit {
                label: format!("{source} line {}", i + 1),
                bytes: line.len() as u64 + 1,
                batch: map_ndjson_line(&line, &source, i + 1).map_err(|e| e.to_string()),
            },
            Err(e) => Unit {
                label: format!("{source} line {}", i + 1),
                bytes: 0,
                batch: Err(format!("{source} line {}: cannot read: {e}", i + 1)),
            },
        };
        if !emit(unit) {
            return false;
        }
    }
    true
}

fn read_bulk(paths: &[std::path::PathBuf]) -> Unit {
    let label = match paths.first().and_then(|p| p.parent()) {
        Some(dir) => format!("{} (bulk export)", dir.display()),
        None => "bulk export".to_owned(),
    };
    let mut batch = Batch::default();
    let mut bytes = 0;
    for path in paths {
        let source = path.display().to_string();
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                return Unit {
                    label,
                    bytes,
                    batch: Err(io_error(path, &e)),
                };
            }
        };
        for (i, line) in BufReader::with_capacity(1 << 20, file).lines().enumerate() {
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    return Unit {
                        label,
                        bytes,
                        batch: Err(format!("{source} line {}: cannot read: {e}", i + 1)),
                    };
                }
            };
            bytes += line.len() as u64 + 1;
            if line.trim().is_empty() {
                continue;
            }
            match map_ndjson_line(&line, &source, i + 1) {
                Ok(b) => batch.merge(b),
                Err(e) => {
                    let batch = Err(format!(
                        "{e} (the bulk export in this folder landed nothing)"
                    ));
                    return Unit {
                        label,
                        bytes,
                        batch,
                    };
                }
            }
        }
    }
    Unit {
        label,
        bytes,
        batch: Ok(batch),
    }
}
