//! A batch links its records exactly as one record at a time would: the reads
//! it makes up front and the writes it holds to its end (`db::linkage`'s
//! batch) must not change a single link, review item, block or feed entry.

use super::{Backend, idat, item, keys, site};
use crate::db::{Conn, LinkItem, params, pseudonymise_each};
use crate::keys::Keys;
use oncofed_model::Sex;
use std::collections::{BTreeMap, BTreeSet};

/// A local id: site and id.
type At = (String, String);

/// The items of one site's batch, with every in-batch interplay: a block that
/// outgrows its limit and splits, the same insurance number twice at one site
/// (vetoed, queued), the same local id again with the same and with changed
/// IDAT, records without an insurance number that link by score, and at the
/// second site partners of the first site's records (some with typos, some
/// without numbers) and duplicates among themselves, some with a changed
/// record between the two (there the batch writes what it held so far, after
/// the reads it made up front).
fn batches(k: &Keys) -> Vec<(&'static str, Vec<LinkItem>)> {
    const GIVEN: [&str; 10] = [
        "Anna",
        "Andrea",
        "Anja",
        "Angelika",
        "Antje",
        "Astrid",
        "Agnes",
        "Alexandra",
        "Alina",
        "Amelie",
    ];
    let person = |i: usize, typo: bool| {
        let given = if typo {
            GIVEN[i % 10].replacen('n', "m", 1)
        } else {
            GIVEN[i % 10].to_string()
        };
        let born = (1970, (i % 12) as u32 + 1, (i % 28) as u32 + 1);
        let kvnr = (!i.is_multiple_of(3)).then(|| (b'A' + (i % 26) as u8, (i / 26) as u8));
        idat(&given, "Schmidt", born, Sex::Female, kvnr)
    };
    let mut a = Vec::new();
    for i in 0..90 {
        a.push(item(k, &format!("a{i}"), &person(i, false)));
        if i % 15 == 4 {
            // The same person again at this site under another local id.
            a.push(item(k, &format!("a{i}-dup"), &person(i, false)));
        }
        if i % 20 == 7 {
            // The same local id again: once as it was, once changed.
            a.push(item(k, &format!("a{i}"), &person(i, false)));
            a.push(item(k, &format!("a{i}"), &person(i, true)));
        }
    }
    let mut b = Vec::new();
    for i in (0..90).step_by(2) {
        b.push(item(k, &format!("b{i}"), &person(i, i.is_multiple_of(4))));
        if i.is_multiple_of(10) {
            if i > 0 {
                // The record before again with changed IDAT, which writes what
                // the batch held so far, between a record and its duplicate.
                let before = i - 2;
                let changed = person(before, !before.is_multiple_of(4));
                b.push(item(k, &format!("b{before}"), &changed));
            }
            b.push(item(k, &format!("b{i}-dup"), &person(i, false)));
        }
    }
    vec![("uk-a", a), ("uk-b", b)]
}

/// Everything linkage decided in a store, with persons as their local ids.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    persons: BTreeSet<Vec<At>>,
    reviews: BTreeSet<(At, At)>,
    idat: BTreeMap<At, String>,
    blocks: BTreeSet<(i64, At)>,
    splits: BTreeSet<i64>,
    records: BTreeSet<At>,
    keys: usize,
    pseudonyms: usize,
    /// The feed's persons in version order.
    feed: Vec<Vec<At>>,
}

fn outcome(conn: &mut Conn) -> Outcome {
    let mut tx = conn.read_tx().unwrap();
    let rows: Vec<(String, String, i64, String)> = tx
        .query(
            "SELECT site, local_id, person_id, idat FROM local_ids",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    let mut of_person: BTreeMap<i64, Vec<At>> = BTreeMap::new();
    let mut idat = BTreeMap::new();
    for (s, l, p, i) in rows {
        of_person.entry(p).or_default().push((s.clone(), l.clone()));
        idat.insert((s, l), i);
    }
    for ats in of_person.values_mut() {
        ats.sort();
    }
    let at_of = |p: i64| of_person.get(&p).cloned().unwrap_or_default();
    let reviews = tx
        .query(
            "SELECT site, local_id, other_site, other_local_id FROM review_items",
            params![],
            |r| Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?))),
        )
        .unwrap()
        .into_iter()
        .collect();
    let blocks = tx
        .query(
            "SELECT key, site, local_id FROM linkage_blocks",
            params![],
            |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))),
        )
        .unwrap()
        .into_iter()
        .collect();
    let splits = tx
        .query("SELECT key FROM linkage_splits", params![], |r| r.get(0))
        .unwrap()
        .into_iter()
        .collect();
    let records = tx
        .query(
            "SELECT site, local_id FROM linkage_records",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
        .into_iter()
        .collect();
    let mut feed: Vec<(i64, i64)> = tx
        .query(
            "SELECT version, person_id FROM consent_changes",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    feed.sort_unstable();
    let count = |tx: &mut crate::db::Tx<'_>, sql: &str| -> usize {
        tx.query_one(sql, params![], |r| r.get::<i64>(0)).unwrap() as usize
    };
    Outcome {
        persons: of_person.values().cloned().collect(),
        reviews,
        idat,
        blocks,
        splits,
        records,
        keys: count(&mut tx, "SELECT count(*) FROM blocking_keys"),
        pseudonyms: count(&mut tx, "SELECT count(*) FROM site_pseudonyms"),
        feed: feed.into_iter().map(|(_, p)| at_of(p)).collect(),
    }
}

/// The batches as two batches, and one record at a time in a second store,
/// decide the same: persons, review items, IDAT, blocks and splits, stored
/// records, keys, pseudonyms and the feed's order.
pub(super) fn a_batch_links_as_one_record_at_a_time_would(b: &dyn Backend) {
    let k = keys();
    let twin = b.twin();
    let (mut batched, mut single) = (b.conn(), twin.conn());
    for (s, items) in batches(&k) {
        let s = site(s);
        let whole = pseudonymise_each(&mut batched, &k, &s, &items).unwrap();
        let one_by_one: Vec<_> = items
            .iter()
            .map(|i| {
                let one = std::slice::from_ref(i);
                pseudonymise_each(&mut single, &k, &s, one)
                    .unwrap()
                    .remove(0)
            })
            .collect();
        assert_eq!(whole.len(), one_by_one.len());
    }
    let (x, y) = (outcome(&mut batched), outcome(&mut single));
    // The batches exercise what they are meant to.
    assert!(!x.splits.is_empty(), "a block split");
    assert!(!x.reviews.is_empty(), "review items");
    assert!(x.persons.iter().any(|p| p.len() > 1), "links");
    // Field by field, so a failure names what differs.
    assert_eq!(x.persons, y.persons, "persons");
    assert_eq!(x.reviews, y.reviews, "review items");
    assert_eq!(x.idat, y.idat, "IDAT");
    assert_eq!(x.blocks, y.blocks, "block rows");
    assert_eq!(x.splits, y.splits, "splits");
    assert_eq!(x.records, y.records, "comparison records");
    assert_eq!(
        (x.keys, x.pseudonyms),
        (y.keys, y.pseudonyms),
        "keys, pseudonyms"
    );
    assert_eq!(x.feed, y.feed, "feed order");
    assert_eq!(x, y);
}
