//! Owner-only files for the hub's data directory, as the trust centre does it:
//! the directory is created `0700`, the stores `0600` before SQLite opens them
//! (SQLite gives its `-wal` and `-shm` files the permissions of the database),
//! and an existing directory or file that group or others can read is reported
//! with the command that fixes it. The hub's store holds queries, task
//! envelopes, masked site vectors and the budget ledger; nobody but the hub's
//! user needs to read them.

use std::path::Path;

/// Creates `path` (and missing parents) with mode `0700`; warns if an existing
/// directory is accessible to group or others.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)?;
    warn_if_shared(path, "chmod 700")
}

/// Creates an empty file at `path` with mode `0600` unless one exists; warns if
/// an existing file is accessible to group or others.
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            warn_if_shared(path, "chmod 600")
        }
        Err(e) => Err(e),
    }
}

fn warn_if_shared(path: &Path, fix: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", mode & 0o777),
                "hub data is accessible to group or others; run `{fix}` on it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, fix);
    Ok(())
}
