//! Store errors.

use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error(
        "cannot open research store at {path}: {source}; check the --data-dir path and its permissions"
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// The engine's error.
        source: rusqlite::Error,
    },
    /// The database was written by a newer OncoFed.
    #[error(
        "research store schema version {found} is newer than this build supports ({supported}); upgrade oncofed"
    )]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// A stored value could not be read back (corruption or manual edits).
    #[error("research store holds an unreadable value in column {column}: {detail}")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The engine failed.
    #[error("research store error: {0}")]
    Engine(#[from] rusqlite::Error),
}
