//! The DICOM community's command-line tools as the tests run them.

use std::path::Path;
use std::process::Command;

/// Runs `program args file` and returns stdout and stderr together (dcmtk
/// and dicom3tools report on both). Fails, never skips, when it is missing.
pub fn run(program: &str, args: &[&str], file: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}; run scripts/setup-peers"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text
}

/// `dciodvfy`'s error lines for `file` (warnings are not counted).
pub fn iod_errors(file: &Path) -> Vec<String> {
    run("dciodvfy", &[], file)
        .lines()
        .filter(|l| l.starts_with("Error"))
        .map(str::to_owned)
        .collect()
}

/// `dcmdump` of `file`: every element of every sequence item, long values
/// in full, text as UTF-8.
pub fn dump(file: &Path) -> String {
    run("dcmdump", &["+L", "+U8"], file)
}
