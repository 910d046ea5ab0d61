//! Where screenshots and accessibility reports go: `browser-artefacts/`
//! under the workspace's cargo target directory, so CI keeps them with the
//! build and `git status` never sees them.

use std::path::{Path, PathBuf};

/// The directory of all walks' artefacts: `<target>/browser-artefacts`.
///
/// The target directory is `CARGO_TARGET_DIR` when it is set to an absolute
/// path, else the directory holding cargo's `CACHEDIR.TAG` above the running
/// test binary, else `<workspace>/target`.
pub fn artefacts_root() -> PathBuf {
    target_dir().join("browser-artefacts")
}

fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from)
        && dir.is_absolute()
    {
        return dir;
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.ancestors().find(|d| d.join("CACHEDIR.TAG").is_file())
    {
        return dir.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

/// A file-name-safe form of a walk's or step's name: lower-case ASCII
/// letters, digits and dashes.
pub(crate) fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_owned();
    if out.is_empty() {
        "step".to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_name_safe() {
        assert_eq!(slug("Site admin: Ledger (2026)"), "site-admin-ledger-2026");
        assert_eq!(slug("../../etc"), "etc");
        assert_eq!(slug("ÄÖÜ"), "step");
    }
}
