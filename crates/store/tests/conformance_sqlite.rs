//! The conformance suite ([`conformance`]) on [`SqliteStore`], and the checks only
//! SQLite has: owner-only files.

mod conformance;

use conformance::Backend;
use oncofed_store::{ResearchStore, SqliteStore, WriteBatch};

/// A store directory of its own.
struct Sqlite(tempfile::TempDir);

impl Backend for Sqlite {
    fn open(&self) -> Box<dyn ResearchStore> {
        Box::new(SqliteStore::open_in(self.0.path()).unwrap())
    }

    fn schema_versions(&self) -> (i64, i64) {
        let store = SqliteStore::open_in(self.0.path()).unwrap();
        (store.schema_version().unwrap(), SqliteStore::SCHEMA_VERSION)
    }
}

fn backend() -> Option<Sqlite> {
    Some(Sqlite(tempfile::tempdir().unwrap()))
}

conformance_tests!(backend());

/// Issue 9, defect 6: node data directories were 0755 and `research.db` 0644.
#[cfg(unix)]
#[test]
fn red_team_store_directory_and_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node").join("data");
    let patient = conformance::store::patient(1);
    {
        let mut store = SqliteStore::open_in(&dir).unwrap();
        store
            .write(&WriteBatch {
                patients: vec![patient],
                facts: vec![],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(mode(&tmp.path().join("node")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        for name in ["research.db", "research.db-wal", "research.db-shm"] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
    }
    // A store an older version left world-readable is tightened when opened.
    let db = dir.join("research.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = SqliteStore::open_in(&dir).unwrap();
    assert_eq!(mode(&db), 0o600);
    assert_eq!(store.stats().unwrap().patients, 1);
}
