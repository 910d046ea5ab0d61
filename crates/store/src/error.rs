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
    /// A PostgreSQL database name that is not a plain identifier.
    #[error("database name {0:?} is not a plain name: use [a-z_][a-z0-9_]*, at most 63 bytes")]
    DatabaseName(String),
    /// The PostgreSQL database URL could not be parsed, or the server could not be
    /// reached or refused the login. `target` is the URL without its password.
    #[error(
        "cannot connect to the research store at {target}: {source}; check the database URL, the server and its pg_hba.conf"
    )]
    Connect {
        /// `postgres://user@host:port/database`, never with the password.
        target: String,
        /// The driver's error.
        source: postgres::Error,
    },
    /// The PostgreSQL URL names a server reached over the network in plain text.
    /// This build speaks to PostgreSQL without TLS, so only loopback addresses and
    /// Unix sockets are accepted: health data must not cross a network unencrypted.
    #[error(
        "refusing to connect to the research store at {target}: this build has no TLS to PostgreSQL, so the server must be on 127.0.0.1, ::1, localhost or a Unix socket (tunnel a remote server over TLS, e.g. with stunnel or an SSH tunnel)"
    )]
    PlainTextRemote {
        /// The URL without its password.
        target: String,
    },
    /// PostgreSQL failed.
    #[error("research store error (PostgreSQL): {0}")]
    Postgres(#[from] postgres::Error),
}
