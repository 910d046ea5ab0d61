//! The same migration rules for the PostgreSQL stores, and the connection rules
//! they share.
//!
//! `user_version` is SQLite's, so a PostgreSQL store keeps its version in a
//! one-row table of its own (the research store `oncofed_schema`, the trust centre
//! `trustee_schema`, so both may share a database). [`apply`] runs each step in
//! its own transaction that first takes a transaction-level advisory lock and then
//! re-reads the version: two processes starting against one database at once
//! apply every step exactly once. A database newer than the build is refused
//! before anything is written.
//!
//! [`Target`] parses a URL, refuses hosts reached over a network (this build has
//! no TLS to PostgreSQL) and describes the database without its password, for
//! messages.

use postgres::config::Host;
use postgres::{Client, Config};

/// Why a PostgreSQL database could not be brought to this build's schema.
#[derive(Debug, thiserror::Error)]
pub enum PgMigrateError {
    /// The database was written by a newer build.
    #[error(
        "the {store} schema is version {found}, newer than this build's {supported}: \
         run the newer OncoFed that wrote it, or restore a backup taken before the upgrade"
    )]
    TooNew {
        /// Which store.
        store: &'static str,
        /// The version found.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// PostgreSQL failed while reading the version or applying a step.
    #[error("migrating the {store} schema: {source}")]
    Postgres {
        /// Which store.
        store: &'static str,
        /// The driver's error.
        source: postgres::Error,
    },
}

/// Where a store's schema version lives and which advisory lock guards it.
#[derive(Debug, Clone, Copy)]
pub struct Ledger {
    /// Names the store in errors and logs.
    pub store: &'static str,
    /// The one-row version table (a plain identifier).
    pub table: &'static str,
    /// The `pg_advisory_xact_lock` key migrations take.
    pub lock_key: i64,
}

/// The schema version of the database (0 before the first migration).
pub fn version(client: &mut Client, ledger: Ledger) -> Result<i64, PgMigrateError> {
    let pg = |source| PgMigrateError::Postgres {
        store: ledger.store,
        source,
    };
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&ledger.table])
        .and_then(|r| r.try_get(0))
        .map_err(pg)?;
    if !exists {
        return Ok(0);
    }
    client
        .query_one(&format!("SELECT version FROM {}", ledger.table), &[])
        .and_then(|r| r.try_get(0))
        .map_err(pg)
}

/// Brings the database to `steps.len()`, each step in its own transaction under
/// the advisory lock; returns the version found before. Step `i` brings the
/// schema from version `i` to `i + 1`; steps are append-only.
pub fn apply(client: &mut Client, ledger: Ledger, steps: &[&str]) -> Result<i64, PgMigrateError> {
    let store = ledger.store;
    let pg = |source| PgMigrateError::Postgres { store, source };
    let supported = steps.len() as i64;
    let mut first = None;
    loop {
        let mut tx = client.transaction().map_err(pg)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ledger.lock_key])
            .map_err(pg)?;
        let exists: bool = tx
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&ledger.table])
            .and_then(|r| r.try_get(0))
            .map_err(pg)?;
        if !exists {
            // One row at most: the boolean key can only be TRUE.
            tx.batch_execute(&format!(
                "CREATE TABLE {t} (
                    one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
                    version BIGINT NOT NULL
                 );
                 INSERT INTO {t} (version) VALUES (0);",
                t = ledger.table
            ))
            .map_err(pg)?;
        }
        let found: i64 = tx
            .query_one(&format!("SELECT version FROM {}", ledger.table), &[])
            .and_then(|r| r.try_get(0))
            .map_err(pg)?;
        let from = *first.get_or_insert(found);
        if found > supported {
            return Err(PgMigrateError::TooNew {
                store,
                found,
                supported,
            });
        }
        let Some(sql) = usize::try_from(found).ok().and_then(|i| steps.get(i)) else {
            // Up to date (the transaction only held the lock).
            tx.commit().map_err(pg)?;
            return Ok(from);
        };
        tx.batch_execute(sql).map_err(pg)?;
        tx.execute(
            &format!("UPDATE {} SET version = $1", ledger.table),
            &[&(found + 1)],
        )
        .map_err(pg)?;
        tx.commit().map_err(pg)?;
        tracing::info!(store, version = found + 1, "applied schema migration");
    }
}

/// A parsed PostgreSQL URL that stays on this machine.
#[derive(Clone)]
pub struct Target {
    /// The driver's configuration (with the password, if the URL had one).
    pub config: Config,
    /// The same for the asynchronous driver under it, for connections that
    /// pipeline statements (`postgres::Config` does not expose it).
    pub async_config: tokio_postgres::Config,
    /// `postgres://user@host:port/database`, never the password.
    pub described: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.described)
    }
}

/// Why a URL was refused before connecting.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Not a PostgreSQL URL or connection string (the text is not repeated: it may
    /// hold a password).
    #[error("the PostgreSQL URL cannot be parsed: {0}")]
    Unparsable(postgres::Error),
    /// A host reached over the network in plain text.
    #[error(
        "refusing to connect to {0}: this build has no TLS to PostgreSQL, so the server must be \
         on 127.0.0.1, ::1, localhost or a Unix socket (tunnel a remote server over TLS, e.g. \
         with stunnel or an SSH tunnel)"
    )]
    PlainTextRemote(String),
}

impl Target {
    /// Parses `url` (`postgres://user[:password]@host:port/db` or `key=value`
    /// pairs), refusing non-local hosts; sets a 10 s connect timeout and
    /// `application_name` unless given.
    pub fn parse(url: &str, application: &str) -> Result<Self, TargetError> {
        let mut config: Config = url.parse().map_err(TargetError::Unparsable)?;
        let mut async_config: tokio_postgres::Config =
            url.parse().map_err(TargetError::Unparsable)?;
        let described = describe(&config);
        if !local_only(&config) {
            return Err(TargetError::PlainTextRemote(described));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
            async_config.connect_timeout(std::time::Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name(application);
            async_config.application_name(application);
        }
        Ok(Self {
            config,
            async_config,
            described,
        })
    }
}

/// `postgres://user@host:port/database` (never the password) for messages.
pub fn describe(config: &Config) -> String {
    let user = config.get_user().unwrap_or("");
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            Host::Tcp(name) => format!("{name}:{port}"),
            #[cfg(unix)]
            Host::Unix(path) => format!("{}:{port}", path.display()),
        })
        .collect();
    let db = config.get_dbname().unwrap_or(user);
    let at = if user.is_empty() { "" } else { "@" };
    format!("postgres://{user}{at}{}/{db}", hosts.join(","))
}

/// Whether every host is reached without crossing a network (loopback,
/// `localhost` or a Unix socket directory).
pub fn local_only(config: &Config) -> bool {
    let loopback = |name: &str| {
        name == "localhost"
            || name
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    let addrs_ok = config.get_hostaddrs().iter().all(|ip| ip.is_loopback());
    let hosts_ok = config.get_hosts().iter().all(|host| match host {
        Host::Tcp(name) => loopback(name) || name.starts_with('/'),
        #[cfg(unix)]
        Host::Unix(_) => true,
    });
    addrs_ok && hosts_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_hosts_are_refused_and_passwords_never_described() {
        let t = Target::parse("postgres://u:secret@127.0.0.1:5433/tc", "t").unwrap();
        assert_eq!(t.described, "postgres://u@127.0.0.1:5433/tc");
        assert!(!format!("{t:?}").contains("secret"));
        assert!(Target::parse("postgres://u@localhost/tc", "t").is_ok());
        assert!(Target::parse("host=/run/postgresql dbname=tc", "t").is_ok());
        for remote in [
            "postgres://u:secret@db.example.org/tc",
            "postgres://u@10.0.0.5/tc",
            "postgres://u@127.0.0.1,db.example.org/tc",
        ] {
            let e = Target::parse(remote, "t").unwrap_err();
            assert!(matches!(e, TargetError::PlainTextRemote(_)), "{remote}");
            assert!(!e.to_string().contains("secret"));
        }
    }
}
