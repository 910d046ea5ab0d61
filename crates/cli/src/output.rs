//! Output helpers shared by the commands: logging, JSON, progress bars.

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Logs go to stderr so that stdout stays clean for `--json`. `RUST_LOG` overrides.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A byte-progress bar on stderr, hidden when `quiet` (e.g. with `--json`) or not a terminal.
pub fn byte_bar(quiet: bool, message: &'static str) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

/// A count-progress bar on stderr.
pub fn count_bar(quiet: bool, total: u64, message: &'static str) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

/// Reads a secret (token, key) from a file, trimming the trailing newline.
pub fn read_secret(path: &std::path::Path) -> anyhow::Result<String> {
    // Warns when group or others can read the file (`oncofed_node::files`).
    Ok(oncofed_node::files::read_secret_file(path)?)
}
