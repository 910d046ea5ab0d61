//! Permissions of the node's files: its data directory and the secret (token)
//! files it reads.
//!
//! The research store makes its own directory and files owner-only
//! (`oncofed-store`); here the node warns about what it does not create itself
//! and an operator should fix: a data directory or a token file that group or
//! others may read. Key files are refused in that state (`oncofed-crypto`); a
//! token file is only warned about, because refusing it would stop a running
//! deployment over a mode that the warning tells how to fix.

use std::path::{Path, PathBuf};

/// Why a secret file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// The file could not be read.
    #[error("cannot read secret file {path}: {source}; create it or pass another path")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds nothing but whitespace.
    #[error("secret file {path} is empty")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// Reads a secret file (a bearer token), trimmed of surrounding whitespace, and
/// logs a warning (path and the `chmod 600` that fixes it, never the secret) when
/// group or others may read it, as anyone who can read a token can act as its
/// owner.
pub fn read_secret_file(path: &Path) -> Result<String, SecretFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| SecretFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    if let Some(warning) = mode_of(path).and_then(|m| secret_file_warning(path, m)) {
        tracing::warn!(path = %path.display(), "{warning}");
    }
    let secret = text.trim();
    if secret.is_empty() {
        return Err(SecretFileError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(secret.to_owned())
}

/// The warning for a secret file with permission bits `mode`, if group or others
/// may read (or write) it; `None` for owner-only modes (0600, 0400).
pub fn secret_file_warning(path: &Path, mode: u32) -> Option<String> {
    (mode & 0o077 != 0).then(|| {
        format!(
            "secret file {} has mode {:03o}: group or others can read the token in it; run chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

/// The warning for a data directory with permission bits `mode`, if group or
/// others may enter or list it; `None` for 0700.
pub fn data_dir_warning(path: &Path, mode: u32) -> Option<String> {
    (mode & 0o077 != 0).then(|| {
        format!(
            "data directory {} has mode {:03o}: group or others can reach the research store; run chmod 700 {}",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

/// Logs [`data_dir_warning`] for `dir`, if it applies.
pub(crate) fn warn_if_loose_data_dir(dir: &Path) {
    if let Some(warning) = mode_of(dir).and_then(|m| data_dir_warning(dir, m)) {
        tracing::warn!(path = %dir.display(), "{warning}");
    }
}

/// The permission bits of `path`; `None` where there are none to read (not Unix,
/// or the file vanished).
fn mode_of(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).ok().map(|m| m.permissions().mode())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn red_team_group_or_world_readable_token_file_warns() {
        let p = Path::new("/etc/oncofed/trustee.token");
        for mode in [0o644, 0o640, 0o604, 0o660, 0o100644, 0o777] {
            let w = secret_file_warning(p, mode).expect("should warn");
            assert!(
                w.contains("/etc/oncofed/trustee.token") && w.contains("chmod 600"),
                "{w}"
            );
            assert!(w.contains(&format!("{:03o}", mode & 0o777)), "{w}");
        }
        for mode in [0o600, 0o400, 0o100600, 0o700] {
            assert_eq!(secret_file_warning(p, mode), None, "{mode:o}");
        }
        let d = data_dir_warning(Path::new("/var/lib/oncofed"), 0o755).unwrap();
        assert!(d.contains("chmod 700 /var/lib/oncofed"), "{d}");
        assert_eq!(data_dir_warning(Path::new("/var/lib/oncofed"), 0o700), None);
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_are_read_trimmed_and_their_mode_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  s3cret-token\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        // The mode read from the file is the one the warning is about.
        let warning = mode_of(&path).and_then(|m| secret_file_warning(&path, m));
        assert!(warning.is_some_and(|w| w.contains("mode 644") && !w.contains("s3cret")));
        assert_eq!(read_secret_file(&path).unwrap(), "s3cret-token");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            mode_of(&path).and_then(|m| secret_file_warning(&path, m)),
            None
        );
        std::fs::write(&path, " \n").unwrap();
        assert!(matches!(
            read_secret_file(&path),
            Err(SecretFileError::Empty { .. })
        ));
        assert!(matches!(
            read_secret_file(&dir.path().join("missing")),
            Err(SecretFileError::Read { .. })
        ));
    }
}
