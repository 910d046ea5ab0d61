//! Where the external test data lives.

use std::path::{Path, PathBuf};

/// The environment variable that names the shared data folder instead.
pub const SHARED_DATA_ENV: &str = "ONCOFED_SHARED_DATA";

/// The external test data (Synthea sample, NCCTG lung, FEBRL, MII consent
/// examples …): `$ONCOFED_SHARED_DATA` if set, else `../shared/data` beside the
/// workspace. Panics with the path it looked at when the folder is missing, so a
/// test that needs the data fails loudly instead of passing on nothing.
pub fn shared_data() -> PathBuf {
    let dir = std::env::var_os(SHARED_DATA_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/data"));
    assert!(
        dir.is_dir(),
        "external test data expected at {} (set {SHARED_DATA_ENV})",
        dir.display()
    );
    dir
}

/// The workspace root (the folder holding the top `Cargo.toml`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
