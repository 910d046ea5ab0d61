//! The set-wise statements of the blocking index: one statement for up to
//! [`KEYS_PER_STATEMENT`] keys instead of one per key.
//!
//! A new record touches about five leaves, each found by walking split keys; one
//! statement per key cost about 20 statements per record. On SQLite a statement
//! is a function call; on PostgreSQL it is a round trip through the client and
//! the server's protocol handling, which made that store 5–7× slower than
//! SQLite (BENCHMARKS.md). A record's keys at every level are known before
//! anything is read (`super::chains`), so one statement asks which of them are
//! split and one reads (or counts) the rows under all of them, sent together
//! (`*_later`, read with [`take_all`]): one round trip for the search.
//!
//! Each statement is one equality lookup per key joined by `UNION ALL`, never
//! `IN (…)`. The PostgreSQL connection plans each statement once
//! (`plan_cache_mode = force_generic_plan`), possibly while a table is still
//! empty, and an `IN` planned then can stay a scan.
//!
//! The statements take a fixed number of keys, unused ones bound as `NULL`
//! (`key = NULL` matches nothing), so each is prepared once per connection.
//! They are built once from the same templates for both engines; the search
//! differs only in the `ORDER BY` SQLite must not have
//! (`super::tests::the_search_is_planned_once`).

use super::{MAX_BLOCK, MAX_BLOCK_READ, StoreError, Tx};
use crate::db::sql::{Later, Param};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// Keys one statement asks for: a record's keys at every level (about five
/// passes, three levels each) in one.
pub(super) const KEYS_PER_STATEMENT: usize = 16;

/// Leaves a narrow statement asks for: a record's leaves, one per pass (four
/// or five), when the split keys are known ([`super::splits`]), so that a
/// search or placement on PostgreSQL does not start sixteen branches, most
/// of them padding, per record.
pub(super) const FEW_KEYS: usize = 6;

/// Keys one split lookup asks for: a record's keys at every level that can
/// split (about five passes, two levels each) in one statement.
pub(super) const SPLIT_KEYS_PER_STATEMENT: usize = 16;

/// The split keys among up to [`SPLIT_KEYS_PER_STATEMENT`] keys: an equality
/// lookup each rather than `IN (…)`, whose plan, made once per connection and
/// maybe on an empty table, can be a scan (`db::linkage`'s batch reads).
static SPLIT_AMONG: LazyLock<String> = LazyLock::new(|| {
    (1..=SPLIT_KEYS_PER_STATEMENT)
        .map(|i| format!("SELECT key FROM linkage_splits WHERE key = ?{i}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
});

/// The rows of up to [`KEYS_PER_STATEMENT`] leaves, each read up to
/// [`MAX_BLOCK_READ`] rows: one bounded range scan per leaf. SQLite walks a key
/// range of the clustered primary key in its order; PostgreSQL is told to, so
/// the cap takes the same rows on both.
fn leaf_rows(order_by: &str, n: usize) -> String {
    (1..=n)
        .map(|i| {
            format!(
                "SELECT key, site, local_id, record FROM (SELECT key, site, local_id, record
                 FROM linkage_blocks WHERE key = ?{i}{order_by} LIMIT {MAX_BLOCK_READ}) AS leaf{i}"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// [`leaf_rows`] for SQLite: no ORDER BY, which makes it re-plan.
pub(super) static LEAF_ROWS_SQLITE: LazyLock<String> =
    LazyLock::new(|| leaf_rows("", KEYS_PER_STATEMENT));

/// [`leaf_rows`] for PostgreSQL.
static LEAF_ROWS_POSTGRES: LazyLock<String> =
    LazyLock::new(|| leaf_rows(" ORDER BY site, local_id", KEYS_PER_STATEMENT));

/// [`LEAF_ROWS_POSTGRES`] for up to [`FEW_KEYS`] leaves.
static FEW_LEAF_ROWS_POSTGRES: LazyLock<String> =
    LazyLock::new(|| leaf_rows(" ORDER BY site, local_id", FEW_KEYS));

/// Adds one record to `n` leaves (1 ≤ n ≤ [`KEYS_PER_STATEMENT`]).
static INSERT_ROWS: LazyLock<Vec<String>> = LazyLock::new(|| {
    (1..=KEYS_PER_STATEMENT)
        .map(|n| {
            let rows: Vec<String> = (1..=n)
                .map(|i| format!("(?{i}, ?{}, ?{}, ?{})", n + 1, n + 2, n + 3))
                .collect();
            format!(
                "INSERT INTO linkage_blocks (key, site, local_id, record) VALUES {}
                 ON CONFLICT DO NOTHING",
                rows.join(", ")
            )
        })
        .collect()
});

/// Rows one [`insert_members`] statement adds.
const MEMBERS_PER_STATEMENT: usize = 16;

/// Adds `n` records (1 ≤ n ≤ [`MEMBERS_PER_STATEMENT`]) to one leaf.
static INSERT_MEMBERS: LazyLock<Vec<String>> = LazyLock::new(|| {
    (1..=MEMBERS_PER_STATEMENT)
        .map(|n| {
            let rows: Vec<String> = (0..n)
                .map(|i| format!("(?1, ?{}, ?{}, ?{})", 3 * i + 2, 3 * i + 3, 3 * i + 4))
                .collect();
            format!(
                "INSERT INTO linkage_blocks (key, site, local_id, record) VALUES {}
                 ON CONFLICT DO NOTHING",
                rows.join(", ")
            )
        })
        .collect()
});

/// The rows of up to [`KEYS_PER_STATEMENT`] leaves, each counted up to one past
/// [`MAX_BLOCK`] (enough to decide a split).
static COUNT_LEAVES: LazyLock<String> = LazyLock::new(|| count_leaves(KEYS_PER_STATEMENT));

/// [`COUNT_LEAVES`] for up to [`FEW_KEYS`] leaves (PostgreSQL).
static FEW_COUNT_LEAVES: LazyLock<String> = LazyLock::new(|| count_leaves(FEW_KEYS));

/// The statement of [`COUNT_LEAVES`] for `n` leaves.
fn count_leaves(n: usize) -> String {
    (1..=n)
        .map(|i| {
            format!(
                "SELECT CAST(?{i} AS BIGINT), count(*) FROM (SELECT 1 FROM linkage_blocks
                 WHERE key = ?{i} LIMIT {}) AS leaf{i}",
                MAX_BLOCK + 1
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// The statement for `keys` and how many keys it takes: on PostgreSQL a
/// narrow one for a record's few leaves (each branch, padding or not, is a
/// plan node started at every run), else `wide`.
fn sized<'s>(tx: &Tx<'_>, keys: &[i64], few: &'s str, wide: &'s str) -> (&'s str, usize) {
    if tx.is_postgres() && keys.len() <= FEW_KEYS {
        (few, FEW_KEYS)
    } else {
        (wide, KEYS_PER_STATEMENT)
    }
}

/// A chunk of keys padded with `NULL` to [`KEYS_PER_STATEMENT`].
#[cfg(test)]
fn padded(chunk: &[i64]) -> Vec<Option<i64>> {
    crate::db::sql::padded(chunk, KEYS_PER_STATEMENT)
}

/// Which of `keys` are split.
pub(super) fn split_among(tx: &mut Tx<'_>, keys: &[i64]) -> Result<HashSet<i64>, StoreError> {
    let sent = split_among_later(tx, keys)?;
    Ok(take_all(tx, sent)?.into_iter().collect())
}

/// [`split_among`], sent now and read with [`take_all`].
pub(super) fn split_among_later(
    tx: &mut Tx<'_>,
    keys: &[i64],
) -> Result<Vec<Later<i64>>, StoreError> {
    keys.chunks(SPLIT_KEYS_PER_STATEMENT)
        .map(|chunk| {
            let keys = crate::db::sql::padded(chunk, SPLIT_KEYS_PER_STATEMENT);
            let params: Vec<&dyn Param> = keys.iter().map(|k| k as &dyn Param).collect();
            tx.query_later(&SPLIT_AMONG, &params, |r| r.get::<i64>(0))
        })
        .collect()
}

/// The rows of every query sent, in order.
pub(super) fn take_all<T>(tx: &mut Tx<'_>, sent: Vec<Later<T>>) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for later in sent {
        out.extend(tx.take(later)?);
    }
    Ok(out)
}

/// A leaf's size as [`counts_of_later`] reads it: key (`NULL` for padding) and
/// rows, counted up to `MAX_BLOCK + 1`.
pub(super) type LeafCount = (Option<i64>, i64);

/// The rows each of the leaves `keys` holds, counted up to `MAX_BLOCK + 1`.
pub(super) fn counts_of(tx: &mut Tx<'_>, keys: &[i64]) -> Result<HashMap<i64, i64>, StoreError> {
    let sent = counts_of_later(tx, keys)?;
    Ok(counts(take_all(tx, sent)?))
}

/// [`counts_of`], sent now; read with [`take_all`] and [`counts`].
pub(super) fn counts_of_later(
    tx: &mut Tx<'_>,
    keys: &[i64],
) -> Result<Vec<Later<LeafCount>>, StoreError> {
    let (sql, width) = sized(tx, keys, &FEW_COUNT_LEAVES, &COUNT_LEAVES);
    keys.chunks(width)
        .map(|chunk| {
            let keys = crate::db::sql::padded(chunk, width);
            let params: Vec<&dyn Param> = keys.iter().map(|k| k as &dyn Param).collect();
            tx.query_later(sql, &params, |r| {
                Ok((r.get::<Option<i64>>(0)?, r.get::<i64>(1)?))
            })
        })
        .collect()
}

/// The sizes of the leaves counted (padding dropped).
pub(super) fn counts(rows: Vec<LeafCount>) -> HashMap<i64, i64> {
    rows.into_iter()
        .filter_map(|(k, n)| Some((k?, n)))
        .collect()
}

/// One block row: its leaf key, site, local id and comparison record bytes.
pub(super) type BlockRow = (i64, String, String, Vec<u8>);

/// The rows of the leaves `keys`, each read up to [`MAX_BLOCK_READ`]; sent now
/// and read with [`take_all`].
pub(super) fn rows_of_later(
    tx: &mut Tx<'_>,
    keys: &[i64],
) -> Result<Vec<Later<BlockRow>>, StoreError> {
    let (sql, width) = if tx.is_postgres() {
        sized(tx, keys, &FEW_LEAF_ROWS_POSTGRES, &LEAF_ROWS_POSTGRES)
    } else {
        (LEAF_ROWS_SQLITE.as_str(), KEYS_PER_STATEMENT)
    };
    keys.chunks(width)
        .map(|chunk| {
            let keys = crate::db::sql::padded(chunk, width);
            let params: Vec<&dyn Param> = keys.iter().map(|k| k as &dyn Param).collect();
            tx.query_later(sql, &params, |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
        })
        .collect()
}

/// Adds the record `(site, local_id)` with its comparison record `bytes` to the
/// leaves `keys` (an existing row is kept). Sent without waiting
/// ([`Tx::execute_later`]).
pub(super) fn insert_rows(
    tx: &mut Tx<'_>,
    keys: &[i64],
    (site, local_id): (&str, &str),
    bytes: &[u8],
) -> Result<(), StoreError> {
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        let tail: [&dyn Param; 3] = [&site, &local_id, &bytes];
        let params: Vec<&dyn Param> = chunk.iter().map(|k| k as &dyn Param).chain(tail).collect();
        tx.execute_later(&INSERT_ROWS[chunk.len() - 1], &params)?;
    }
    Ok(())
}

/// A split block's records `(site, local_id, record bytes)` to add to one leaf.
pub(super) type Member = (String, String, Vec<u8>);

/// Adds `members` to the leaf `key`, [`MEMBERS_PER_STATEMENT`] rows per
/// statement (an existing row is kept). Sent without waiting.
pub(super) fn insert_members(
    tx: &mut Tx<'_>,
    key: i64,
    members: &[&Member],
) -> Result<(), StoreError> {
    for chunk in members.chunks(MEMBERS_PER_STATEMENT) {
        let mut params: Vec<&dyn Param> = vec![&key];
        for (site, local_id, bytes) in chunk.iter().copied() {
            params.extend([site as &dyn Param, local_id, bytes]);
        }
        tx.execute_later(&INSERT_MEMBERS[chunk.len() - 1], &params)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::StatementStatus;

    /// Runs `sql` for 1,000 searches of one key each over 50 leaves of 40 rows;
    /// returns the rows read and how often SQLite re-prepared the statement.
    fn search_sqlite(sql: &str) -> (usize, i32) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::sqlite::open(&dir.path().join("t.db")).unwrap();
        let key = |i: i64| (i % 50).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as i64);
        for i in 0..2_000_i64 {
            conn.execute(
                "INSERT INTO linkage_blocks (key, site, local_id, record) VALUES (?1, 's', ?2, x'00')",
                rusqlite::params![key(i), i.to_string()],
            )
            .unwrap();
        }
        let mut stmt = conn.prepare(sql).unwrap();
        let mut rows = 0;
        for i in 0..1_000_i64 {
            let keys = padded(&[key(i)]);
            let mut found = stmt.query(rusqlite::params_from_iter(keys)).unwrap();
            while found.next().unwrap().is_some() {
                rows += 1;
            }
        }
        (rows, stmt.get_status(StatementStatus::RePrepare))
    }

    /// The search runs for every new record: SQLite must reuse its plan rather
    /// than re-prepare it per run, as it did for an ORDER BY on some bound keys
    /// (a quarter of the time per record at 1 M records). `LEAF_ROWS_POSTGRES`
    /// run here re-prepared 40 times in 1,000 (SQLite 3.54.1).
    #[test]
    fn the_search_is_planned_once() {
        assert_eq!(search_sqlite(&LEAF_ROWS_SQLITE), (1_000 * 40, 0));
    }

    /// The leaf limits are the constants, on both engines.
    #[test]
    fn the_leaf_limits_are_the_bounds() {
        let read = format!("LIMIT {MAX_BLOCK_READ})");
        for sql in [&LEAF_ROWS_SQLITE, &LEAF_ROWS_POSTGRES] {
            assert_eq!(sql.matches(&read).count(), KEYS_PER_STATEMENT);
        }
        assert_eq!(FEW_LEAF_ROWS_POSTGRES.matches(&read).count(), FEW_KEYS);
        let count = format!("LIMIT {})", MAX_BLOCK + 1);
        assert_eq!(COUNT_LEAVES.matches(&count).count(), KEYS_PER_STATEMENT);
        assert_eq!(FEW_COUNT_LEAVES.matches(&count).count(), FEW_KEYS);
    }

    /// Counting finds each leaf's rows up to the bound, and nothing for unknown keys.
    #[test]
    fn leaves_are_counted_up_to_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn =
            crate::db::Conn::Sqlite(crate::db::sqlite::open(&dir.path().join("t.db")).unwrap());
        let mut tx = conn.write_tx().unwrap();
        for (key, n) in [(7_i64, 3), (-9, 100)] {
            for i in 0..n {
                insert_rows(&mut tx, &[key], ("s", &i.to_string()), b"r").unwrap();
            }
        }
        let counts = counts_of(&mut tx, &[7, -9, 11]).unwrap();
        assert_eq!(
            counts,
            HashMap::from([(7, 3), (-9, MAX_BLOCK + 1), (11, 0)])
        );
    }

    /// The statements bind exactly the parameters the callers pass.
    #[test]
    fn placeholders_match_the_parameters() {
        let max = |sql: &str| {
            sql.split('?')
                .skip(1)
                .filter_map(|s| {
                    s.split(|c: char| !c.is_ascii_digit())
                        .next()?
                        .parse::<usize>()
                        .ok()
                })
                .max()
        };
        assert_eq!(max(&SPLIT_AMONG), Some(SPLIT_KEYS_PER_STATEMENT));
        assert_eq!(max(&COUNT_LEAVES), Some(KEYS_PER_STATEMENT));
        assert_eq!(max(&LEAF_ROWS_SQLITE), Some(KEYS_PER_STATEMENT));
        assert_eq!(max(&LEAF_ROWS_POSTGRES), Some(KEYS_PER_STATEMENT));
        assert_eq!(max(&FEW_LEAF_ROWS_POSTGRES), Some(FEW_KEYS));
        assert_eq!(max(&FEW_COUNT_LEAVES), Some(FEW_KEYS));
        for (i, sql) in INSERT_ROWS.iter().enumerate() {
            assert_eq!(max(sql), Some(i + 1 + 3), "{sql}");
        }
        for (i, sql) in INSERT_MEMBERS.iter().enumerate() {
            assert_eq!(max(sql), Some(1 + 3 * (i + 1)), "{sql}");
        }
    }
}
