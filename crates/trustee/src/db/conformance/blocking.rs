//! The blocking index on both backends: split blocks keep their records
//! findable, the keys are keyed and rotate, an old index is rebuilt.

use super::{Backend, count, idat, item, key, keys, site};
use crate::db::{StoreError, params, pseudonymise};
use crate::keys::Keys;
use crate::linkage::blocks::{self, MAX_BLOCK};
use crate::linkage::probabilistic::{config, record_of};
use oncofed_linkage::{BlockingKey, Record};
use oncofed_model::Sex;
use sha2::{Digest, Sha256};

/// Given and family names enough for a block of more than [`MAX_BLOCK`].
const GIVEN: [&str; 12] = [
    "Anna", "Berta", "Clara", "Doris", "Emma", "Frieda", "Greta", "Hanna", "Ida", "Jana", "Karla",
    "Lena",
];
const FAMILY: [&str; 12] = [
    "Albers", "Brandt", "Conrad", "Dietz", "Ebert", "Fuchs", "Graf", "Hahn", "Jung", "Kraft",
    "Lorenz", "Marx",
];

/// Everyone born on one day, across the country: the birth-date block
/// outgrows [`MAX_BLOCK`] and splits by postal region.
fn crowd() -> Vec<oncofed_idat::IdentifyingData> {
    GIVEN
        .iter()
        .flat_map(|g| FAMILY.iter().map(move |f| (g, f)))
        .enumerate()
        .map(|(i, (g, f))| in_region(idat(g, f, (1950, 3, 3), Sex::Female, None), i))
        .collect()
}

/// `p` living in one of eight postal zones (2 to 9) and ten regions in each,
/// by `i`, at an address of its own. Zone 1 is left to the people of
/// [`idat`] (postal code 12345).
fn in_region(mut p: oncofed_idat::IdentifyingData, i: usize) -> oncofed_idat::IdentifyingData {
    p.address = Some(oncofed_idat::Address {
        lines: vec![format!("Lindenweg {}", i + 1)],
        postal_code: Some(format!("{}{}{:03}", 2 + i % 8, i / 8 % 10, i)),
        city: None,
        country: None,
    });
    p
}

/// A store holding the [`crowd`] at `uk-a`.
fn with_crowd(b: &dyn Backend, k: &Keys) -> crate::db::Conn {
    let mut conn = b.conn();
    let crowd: Vec<_> = crowd()
        .iter()
        .enumerate()
        .map(|(i, p)| item(k, &format!("p{i}"), p))
        .collect();
    pseudonymise(&mut conn, k, &site("uk-a"), &crowd).unwrap();
    conn
}

/// Every leaf's rows as (key, local id), sorted: the index to compare as grown
/// and as rebuilt. A split key keeps the rows it had when it split, which no
/// search reads, and which depend on the order records came in.
fn block_rows(tx: &mut crate::db::Tx<'_>) -> Vec<(i64, String)> {
    let mut rows: Vec<(i64, String)> = tx
        .query(
            "SELECT key, local_id FROM linkage_blocks
             WHERE key NOT IN (SELECT key FROM linkage_splits)",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    rows.sort_unstable();
    rows
}

fn stored_keys(conn: &mut crate::db::Conn) -> Vec<i64> {
    let mut tx = conn.read_tx().unwrap();
    tx.query("SELECT key FROM linkage_blocks", params![], |r| r.get(0))
        .unwrap()
}

/// A block of 144 records born on one day splits (its key is recorded, its rows
/// move to child keys); every record is still found by searching with its own
/// data, and a search reads at most [`MAX_BLOCK`] records per leaf instead of
/// the whole block. Then a duplicate at a second site still links.
pub(super) fn an_oversized_block_splits_and_keeps_its_records_findable(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    let people = crowd();
    assert!(people.len() as i64 > 2 * MAX_BLOCK);
    let items: Vec<_> = people
        .iter()
        .enumerate()
        .map(|(i, p)| item(&k, &format!("p{i}"), p))
        .collect();
    let a = pseudonymise(&mut conn, &k, &site("uk-a"), &items).unwrap();
    let splits = count(&mut conn, "SELECT count(*) FROM linkage_splits", params![]);
    assert!(splits >= 1, "the birth-date block was split");
    // Records are only added, so the leaves are the same whatever the order:
    // rebuilt from the stored records it must not differ by a single row (a
    // split that lost the record that made it split would).
    let grown = block_rows(&mut conn.read_tx().unwrap());
    let mut tx = conn.write_tx().unwrap();
    blocks::rebuild(&mut tx, &k, &config()).unwrap();
    tx.commit().unwrap();
    let rebuilt = block_rows(&mut conn.read_tx().unwrap());
    assert_eq!(grown, rebuilt, "block rows as grown and as rebuilt");
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM linkage_records", params![]),
        people.len() as i64
    );
    let cfg = config();
    let mut tx = conn.write_tx().unwrap();
    for (i, p) in people.iter().enumerate() {
        let r = Record::from_idat("", p);
        let found = blocks::search(&mut tx, &k, &cfg, &r, None)
            .unwrap()
            .neighbours;
        assert!(
            found.iter().any(|n| n.local_id == format!("p{i}")),
            "p{i} not found after the split"
        );
        // Four passes (family, given, date; no insurance number): at most a
        // bounded leaf each, never the 144 of the day.
        assert!(found.len() as i64 <= 3 * MAX_BLOCK, "{}", found.len());
    }
    drop(tx);
    // A duplicate (typo in the given name) at a second site links to its person.
    let mut dup = people[40].clone();
    dup.given = vec!["Doriss".into()];
    let bb = pseudonymise(&mut conn, &k, &site("uk-b"), &[item(&k, "d", &dup)]).unwrap();
    assert_eq!(bb[0].research, a[40].research);
}

/// A new person's record costs a bounded number of statements however many
/// blocking passes, tombstone variants and leaves it has: each one a round trip
/// on PostgreSQL, where one statement per key and leaf (about 25 per record)
/// made that store 5–7× slower than SQLite. Eleven: the known local id, the
/// key owners, the first split level, the leaves, and one write each to
/// `persons`, `blocking_keys`, `local_ids`, `linkage_records`, `linkage_blocks`,
/// `site_pseudonyms` and `consent_changes`; and one more per further split
/// level walked (two here: the new people are born on the crowd's day, whose
/// block split, and live in a postal zone of their own, whose child of the day
/// is a leaf). Nobody in the crowd shares a name with them, so no candidate
/// is close enough to be looked up.
pub(super) fn a_new_record_costs_a_bounded_number_of_statements(b: &dyn Backend) {
    const NEW: [(&str, &str); 10] = [
        ("Xaver", "Neumann"),
        ("Yvonne", "Otto"),
        ("Zora", "Pohl"),
        ("Ottilie", "Quast"),
        ("Pia", "Roth"),
        ("Quirin", "Seidel"),
        ("Rosa", "Thiel"),
        ("Sophie", "Ulrich"),
        ("Theo", "Voigt"),
        ("Uwe", "Wolf"),
    ];
    let k = keys();
    let mut conn = with_crowd(b, &k);
    // Insurance number, sex, birth date, postal code: every pass and every
    // tombstone variant.
    let items: Vec<_> = NEW
        .iter()
        .enumerate()
        .map(|(i, (given, family))| {
            let p = idat(
                given,
                family,
                (1950, 3, 3),
                Sex::Female,
                Some((b'A' + i as u8, i as u8)),
            );
            item(&k, &format!("n{i}"), &p)
        })
        .collect();
    let before = crate::db::sql::STATEMENTS.with(|n| n.get());
    let waits_before = crate::db::pipelined::WAITS.with(|n| n.get());
    let pairs = pseudonymise(&mut conn, &k, &site("uk-b"), &items).unwrap();
    let statements = crate::db::sql::STATEMENTS.with(|n| n.get()) - before;
    let waits = crate::db::pipelined::WAITS.with(|n| n.get()) - waits_before;
    assert_eq!(pairs.len(), items.len());
    let n = items.len() as u64;
    // Per record: the split lookup and the rows of its keys, the new person's
    // id; per batch: the reads up front and the held writes at the end.
    assert!(
        statements <= 5 * n + 12,
        "{statements} statements for {n} new records"
    );
    // PostgreSQL waits for the split lookup with the rows, and for the new id;
    // the writes go unanswered until the commit. Per batch: begin, the reads
    // up front, preparing the held writes' statements, commit. (SQLite never
    // waits; 31 measured for 10 on PostgreSQL.)
    assert!(
        waits <= 2 * n + 12,
        "{waits} round trips for {n} new records"
    );
}

/// The pre-v2 key of a pass value: unkeyed SHA-256 (what an attacker with the
/// store file alone can compute for a guessed identity).
fn unkeyed(pass: BlockingKey, value: &str) -> i64 {
    let mut h = Sha256::new();
    h.update(b"oncofed linkage block v1\0");
    h.update([pass as u8, 0]);
    h.update(value.as_bytes());
    i64::from_le_bytes(h.finalize()[..8].try_into().unwrap())
}

/// Whoever holds the store but not the linkage key cannot test a guessed
/// identity against the index: neither the unkeyed hash of a stored record's
/// pass values, nor the keys under another key, match any stored key, while the
/// right key does (the control). Rotation re-keys every record in one step: the
/// old key then matches nothing and no longer opens the index, linkage goes on
/// under the new key, and an index without a marker (a store of an earlier
/// build) is rebuilt on open.
pub(super) fn blocking_keys_are_keyed_and_rotate(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    blocks::ensure_current(&mut conn, &k).unwrap();
    let w = idat(
        "Hieronymus",
        "Zwetschgenbaum",
        (1937, 11, 19),
        Sex::Male,
        None,
    );
    let first = pseudonymise(&mut conn, &k, &site("uk-a"), &[item(&k, "w", &w)]).unwrap();
    let record = record_of(&serde_json::to_string(&w).unwrap()).unwrap();
    let stored = stored_keys(&mut conn);
    let cfg = config();
    let ours: Vec<i64> = blocks::base_keys(&k, &record, &cfg)
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    assert!(!ours.is_empty() && ours.iter().all(|key| stored.contains(key)));
    let guesses: Vec<i64> = cfg
        .blocking
        .iter()
        .flat_map(|&pass| {
            pass.keys(&record)
                .into_iter()
                .map(move |v| unkeyed(pass, &v))
        })
        .collect();
    assert_eq!(guesses.len(), ours.len());
    assert!(
        guesses.iter().all(|g| !stored.contains(g)),
        "unkeyed guess matched"
    );
    let other = Keys::new(&key())
        .with_linkage_key(&crate::config::PseudonymKey::from_bytes(vec![9; 32]).unwrap());
    let theirs: Vec<i64> = blocks::base_keys(&other, &record, &cfg)
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    assert!(theirs.iter().all(|t| !stored.contains(t)));

    // Rotation to `other`.
    assert_eq!(blocks::rotate(&mut conn, &k, &other).unwrap(), 1);
    let rotated = stored_keys(&mut conn);
    assert_eq!(rotated.len(), stored.len());
    assert!(
        ours.iter().all(|o| !rotated.contains(o)),
        "old key still matches"
    );
    assert!(theirs.iter().all(|t| rotated.contains(t)));
    assert!(matches!(
        blocks::ensure_current(&mut conn, &k),
        Err(StoreError::LinkageKeyMismatch)
    ));
    assert!(matches!(
        blocks::rotate(&mut conn, &k, &other),
        Err(StoreError::LinkageKeyMismatch)
    ));
    blocks::ensure_current(&mut conn, &other).unwrap();
    // A duplicate without insurance number links only through the index.
    let mut dup = w.clone();
    dup.given = vec!["Hieronimus".into()];
    let again = pseudonymise(
        &mut conn,
        &other,
        &site("uk-b"),
        &[item(&other, "w2", &dup)],
    )
    .unwrap();
    assert_eq!(again[0].research, first[0].research);

    // An index of an earlier build (no marker, rows under other keys) is rebuilt.
    {
        let mut tx = conn.write_tx().unwrap();
        tx.execute("DELETE FROM meta WHERE name = 'linkage_index'", params![])
            .unwrap();
        tx.execute("UPDATE linkage_blocks SET key = key + 1", params![])
            .unwrap();
        tx.execute("DELETE FROM linkage_records", params![])
            .unwrap();
        tx.commit().unwrap();
    }
    blocks::ensure_current(&mut conn, &other).unwrap();
    let rebuilt = stored_keys(&mut conn);
    assert!(theirs.iter().all(|t| rebuilt.contains(t)));
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM linkage_records", params![]),
        2
    );
}

/// A store indexed by the previous scheme (v3: the given-name and birth-date
/// passes refined by the family name) under this key is re-indexed when the
/// service opens it: its leaves sit under children the current refinements
/// never walk to, so searching it as it is would miss them. Under another key
/// it is refused, as a current index is.
pub(super) fn an_index_of_the_previous_scheme_is_rebuilt_on_open(b: &dyn Backend) {
    let k = keys();
    let mut conn = with_crowd(b, &k);
    let fresh = block_rows(&mut conn.read_tx().unwrap());
    // Written out, not taken from `blocks::scheme`: a store written by v3
    // carries exactly these bytes, and must still be recognised.
    let previous = |keys: &Keys| {
        [
            &b"blocks v3: hmac-sha256-64, split at 64, records in blocks\x00"[..],
            &keys.linkage_fingerprint()[..],
        ]
        .concat()
    };
    // Stands in for the v3 layout: leaves under keys this scheme never derives.
    let as_v3 = |conn: &mut crate::db::Conn, keys: &Keys| {
        let mut tx = conn.write_tx().unwrap();
        tx.execute(
            "INSERT INTO meta (name, value) VALUES ('linkage_index', ?1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![previous(keys)],
        )
        .unwrap();
        tx.execute("UPDATE linkage_blocks SET key = key + 1", params![])
            .unwrap();
        tx.execute("DELETE FROM linkage_splits", params![]).unwrap();
        tx.commit().unwrap();
    };
    let other = Keys::new(&key())
        .with_linkage_key(&crate::config::PseudonymKey::from_bytes(vec![9; 32]).unwrap());
    as_v3(&mut conn, &other);
    assert!(matches!(
        blocks::ensure_current(&mut conn, &k),
        Err(StoreError::LinkageKeyMismatch)
    ));
    as_v3(&mut conn, &k);
    blocks::ensure_current(&mut conn, &k).unwrap();
    assert_eq!(
        block_rows(&mut conn.read_tx().unwrap()),
        fresh,
        "the index as rebuilt is the index as grown"
    );
    // Current now: opening again leaves it as it is.
    let keys_before = stored_keys(&mut conn);
    blocks::ensure_current(&mut conn, &k).unwrap();
    assert_eq!(stored_keys(&mut conn), keys_before);
    // And a namesake with a typo finds its person through the rebuilt leaves.
    let mut dup = crowd()[40].clone();
    dup.given = vec!["Dorris".into()];
    let r = Record::from_idat("", &dup);
    let mut tx = conn.write_tx().unwrap();
    let found = blocks::search(&mut tx, &k, &config(), &r, None).unwrap();
    assert!(found.neighbours.iter().any(|n| n.local_id == "p40"));
}

/// On PostgreSQL a batch's searches are sent a window ahead
/// (`linkage::blocks::ahead`) and used unless the index changed under them
/// since: new records with nothing in common all use theirs; new records born
/// on one new day share that day's block, so the first one's row makes the
/// others' searches stale, and they search again (the links are the same
/// either way: `conformance::batch`). SQLite sends nothing ahead.
pub(super) fn searches_sent_ahead_are_used_unless_the_index_changed(b: &dyn Backend) {
    const NAMES: [(&str, &str); 6] = [
        ("Xaver", "Neumann"),
        ("Yvonne", "Otto"),
        ("Zora", "Pohl"),
        ("Ottilie", "Quast"),
        ("Quirin", "Seidel"),
        ("Theo", "Voigt"),
    ];
    let k = keys();
    let mut conn = with_crowd(b, &k);
    let mut batch = |day: Option<u32>| -> (u64, u64) {
        let items: Vec<_> = NAMES
            .iter()
            .enumerate()
            .map(|(i, (given, family))| {
                // Apart: another year and month each; together: one day.
                let born = match day {
                    None => (1930 + i as i32, i as u32 + 1, 9),
                    Some(d) => (1941, 7, d),
                };
                let p = idat(given, family, born, Sex::Male, None);
                item(&k, &format!("{}{i}", day.map_or("x", |_| "y")), &p)
            })
            .collect();
        let before = crate::linkage::blocks::SENT_AHEAD.with(|n| n.get());
        pseudonymise(&mut conn, &k, &site("uk-b"), &items).unwrap();
        let (used, stale) = crate::linkage::blocks::SENT_AHEAD.with(|n| n.get());
        (used - before.0, stale - before.1)
    };
    let apart = batch(None);
    let together = batch(Some(20));
    let n = NAMES.len() as u64;
    if matches!(conn, crate::db::Conn::Postgres(_)) {
        assert_eq!(apart, (n, 0), "searches used, stale (nothing shared)");
        assert_eq!(together, (1, n - 1), "searches used, stale (one day)");
    } else {
        assert_eq!((apart, together), ((0, 0), (0, 0)), "SQLite sends nothing");
    }
}

/// A placement sent ahead (for a record whose insurance number names a
/// person) counts its leaves when it is sent, and the records linked since
/// may have filled them. Persons born on one day fill that day's block to
/// two below [`MAX_BLOCK`] at one site; five of them come again at a second
/// site, found by number: the block must split when the third passes the
/// limit, as it would one record at a time. Stale counts would leave it
/// oversized.
pub(super) fn placements_sent_ahead_never_miss_a_split(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    let person = |i: usize| {
        let kvnr = Some((b'A' + (i % 26) as u8, (i / 26) as u8));
        let p = idat(
            GIVEN[i % 12],
            FAMILY[i / 12],
            (1962, 8, 14),
            Sex::Female,
            kvnr,
        );
        in_region(p, i)
    };
    let n = MAX_BLOCK as usize - 2;
    let first: Vec<_> = (0..n)
        .map(|i| item(&k, &format!("p{i}"), &person(i)))
        .collect();
    let a = pseudonymise(&mut conn, &k, &site("uk-a"), &first).unwrap();
    let splits =
        |conn: &mut crate::db::Conn| count(conn, "SELECT count(*) FROM linkage_splits", params![]);
    assert_eq!(splits(&mut conn), 0, "the day's block is full, not split");
    let again: Vec<_> = (0..5)
        .map(|i| item(&k, &format!("q{i}"), &person(i)))
        .collect();
    let before = blocks::SENT_AHEAD.with(|n| n.get());
    let bb = pseudonymise(&mut conn, &k, &site("uk-b"), &again).unwrap();
    let (used, stale) = blocks::SENT_AHEAD.with(|n| n.get());
    for (i, pair) in bb.iter().enumerate() {
        assert_eq!(pair.research, a[i].research, "q{i} found by number");
    }
    let largest = count(
        &mut conn,
        "SELECT max(n) FROM (SELECT count(*) AS n FROM linkage_blocks
         WHERE key NOT IN (SELECT key FROM linkage_splits) GROUP BY key) AS sizes",
        params![],
    );
    assert!(largest <= MAX_BLOCK, "a block of {largest} rows");
    assert!(splits(&mut conn) >= 1, "the day's block split");
    if matches!(conn, crate::db::Conn::Postgres(_)) {
        // The first placement is used; the day's row it adds makes the
        // others stale.
        assert_eq!((used - before.0, stale - before.1), (1, 4));
    }
}

/// The split keys a connection keeps between batches (PostgreSQL,
/// `linkage::blocks::splits`) are not used once another path changed them.
/// The crowd's day splits; then most of the crowd is erased (IDAT and index
/// rows, as a withdrawal does) and the index rebuilt from the rest, whose day
/// no longer splits. A record born on that day must go where the rebuilt
/// index has the day's rows: a stale copy of the split keys would put it
/// under a child key nothing else is under. So the index as grown must be the
/// index rebuilt again, row for row.
pub(super) fn kept_split_keys_are_dropped_when_a_rebuild_changes_them(b: &dyn Backend) {
    let k = keys();
    let mut conn = with_crowd(b, &k);
    assert!(count(&mut conn, "SELECT count(*) FROM linkage_splits", params![]) >= 1);
    let mut tx = conn.write_tx().unwrap();
    let kept = MAX_BLOCK as usize / 2;
    for i in 0..crowd().len() - kept {
        let at = format!("p{i}");
        tx.execute(
            "UPDATE local_ids SET idat = ?1 WHERE site = 'uk-a' AND local_id = ?2",
            params![crate::db::ERASED_IDAT, at],
        )
        .unwrap();
    }
    blocks::rebuild(&mut tx, &k, &config()).unwrap();
    tx.commit().unwrap();
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM linkage_splits", params![]),
        0,
        "{kept} records of one day do not split"
    );
    let late = idat("Zora", "Zeller", (1950, 3, 3), Sex::Female, None);
    pseudonymise(&mut conn, &k, &site("uk-b"), &[item(&k, "late", &late)]).unwrap();
    let mut tx = conn.write_tx().unwrap();
    let grown = block_rows(&mut tx);
    blocks::rebuild(&mut tx, &k, &config()).unwrap();
    assert_eq!(
        grown,
        block_rows(&mut tx),
        "block rows as grown and as rebuilt"
    );
}

/// A split key keeps the rows it had when it split (`linkage::blocks`), so a
/// record sent again with other IDAT must leave no row of its old comparison
/// record there either: a row under a split key is never searched, but it is
/// IDAT the store would keep (and a rebuild after the key stops being split
/// would bring it back). The crowd's day splits in one batch, with `p0` among
/// the rows its key keeps; `p0` then moves and marries.
pub(super) fn a_changed_record_leaves_no_row_under_a_split_key(b: &dyn Backend) {
    let k = keys();
    let mut conn = with_crowd(b, &k);
    let under_split = |conn: &mut crate::db::Conn| {
        count(
            conn,
            "SELECT count(*) FROM linkage_blocks
             WHERE local_id = 'p0' AND key IN (SELECT key FROM linkage_splits)",
            params![],
        )
    };
    assert!(
        under_split(&mut conn) >= 1,
        "p0 was in the day's block when it split"
    );
    let old = Record::from_idat("", &crowd()[0]).to_bytes();
    let changed = idat("Anna", "Zimmermann", (1950, 3, 3), Sex::Female, None);
    pseudonymise(&mut conn, &k, &site("uk-a"), &[item(&k, "p0", &changed)]).unwrap();
    let rows_of = |conn: &mut crate::db::Conn, bytes: &[u8]| {
        count(
            conn,
            "SELECT count(*) FROM linkage_blocks WHERE local_id = 'p0' AND record = ?1",
            params![bytes],
        )
    };
    assert_eq!(
        rows_of(&mut conn, &old),
        0,
        "a row of p0's old record is left"
    );
    let new = Record::from_idat("", &changed).to_bytes();
    assert!(
        rows_of(&mut conn, &new) >= 1,
        "p0 is indexed with its new record"
    );
}
