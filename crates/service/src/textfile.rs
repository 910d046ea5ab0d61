//! Metrics of batch jobs (an ingest run) for Prometheus: a job does not live
//! long enough to be scraped, so it leaves its figures in a text file that the
//! node exporter's textfile collector (`--collector.textfile.directory`) serves
//! with the host's metrics, the usual way to monitor cron jobs.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::path::Path;
use std::sync::atomic::AtomicU64;

/// One figure of a finished job: a name (without prefix), its help text and value.
pub type Figure<'a> = (&'a str, &'a str, f64);

/// The figures in the Prometheus text format, each name prefixed
/// `oncofed_<job>_` (e.g. `oncofed_node_ingest_resources`).
pub fn render(job: &str, figures: &[Figure<'_>]) -> String {
    let mut registry = Registry::with_prefix(format!("oncofed_{job}"));
    for (name, help, value) in figures {
        let gauge = Gauge::<f64, AtomicU64>::default();
        gauge.set(*value);
        registry.register(*name, *help, gauge);
    }
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut text, &registry);
    text
}

/// Writes [`render`]'s text to `path` atomically (a temporary file beside it,
/// then a rename), so the collector never reads half a file.
pub fn write(path: &Path, job: &str, figures: &[Figure<'_>]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, render(job, figures).as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn figures_are_written_in_the_text_format_and_replace_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ingest.prom");
        let figures = [
            ("ingest_resources", "Resources read", 1200.0),
            ("ingest_seconds", "Wall time", 2.5),
        ];
        super::write(&path, "node", &figures).unwrap();
        super::write(&path, "node", &figures[..1]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("# HELP oncofed_node_ingest_resources Resources read"));
        assert!(text.contains("# TYPE oncofed_node_ingest_resources gauge"));
        assert!(
            text.contains("oncofed_node_ingest_resources 1200"),
            "{text}"
        );
        assert!(!text.contains("ingest_seconds"), "the file is replaced");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
