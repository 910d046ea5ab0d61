//! Two processes of one node (an ingest and the agent, say) may open a new
//! store at the same moment: both must succeed, and the schema is created once.

use oncofed_store::SqliteStore;

#[test]
fn concurrent_first_opens_of_one_store_all_succeed() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("research.db");
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || SqliteStore::open(&path).map(|s| s.schema_version()))
            })
            .collect();
        for opener in openers {
            let version = opener
                .join()
                .unwrap()
                .expect("every opener succeeds")
                .unwrap();
            assert_eq!(version, SqliteStore::SCHEMA_VERSION);
        }
    }
}
