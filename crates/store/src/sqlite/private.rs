//! Owner-only files: the research store holds pseudonyms and clinical facts, so
//! like the trust centre's store its directory is created 0700 and its database,
//! WAL and shared-memory files are 0600.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// Creates `dir` and any missing parents with mode 0700. An existing directory is
/// left as it is (it may be shared on purpose); the node warns about a loose one.
pub(crate) fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The store file and the `-wal` and `-shm` files SQLite keeps beside it.
pub(crate) fn store_files(db: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = OsString::from(db.as_os_str());
        name.push(suffix);
        PathBuf::from(name)
    };
    [db.to_owned(), with("-wal"), with("-shm")]
}

/// Creates the store file with mode 0600 if it is missing (SQLite gives the WAL
/// and shared-memory files the mode of the database file), and takes group and
/// others' access away from those of the three files that exist with it, as a
/// store created before this rule (0644) had.
pub(crate) fn secure_files(db: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(db) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    #[cfg(unix)]
    for file in store_files(db) {
        use std::os::unix::fs::PermissionsExt;
        let mode = match std::fs::metadata(&file) {
            Ok(meta) => meta.permissions().mode(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    Ok(())
}
