//! What the clerical-review queue is worth at scale: the recall the trust centre
//! reaches once a reviewer has decided every pending item correctly, and the
//! true pairs that no decision would join, by how the library's scores alone
//! classify them (so a loss by the scores tells apart from one by blocking or
//! by the queue holding one candidate per record).

use oncofed_linkage::Outcome;
use oncofed_linkage::Record;
use oncofed_linkage::febrl::entity;
use std::collections::HashMap;

/// Every pending review item: site, local id, other site, other local id.
pub const PENDING: &str =
    "SELECT site, local_id, other_site, other_local_id FROM review_items WHERE decision IS NULL";

/// One pending item as read from the store.
pub type Item = (String, String, String, String);

/// The assessment.
pub struct Worth<'r> {
    /// Pending items pairing a record of each file.
    pub cross_file: usize,
    /// Of those, the same person and not linked already.
    pub cross_file_true: usize,
    /// Recall once every pending item of the same person is decided a match
    /// (each decision merges two persons, and with them every record linked to
    /// either).
    pub recall_after_review: f64,
    /// True pairs still apart then, by the library's outcome for the pair:
    /// match, possible match, non-match.
    pub apart: [usize; 3],
    /// Those pairs (indices into the two files).
    pub apart_pairs: Vec<(usize, usize)>,
    /// The queued pairs of the same person not linked (records of the two
    /// files, borrowed), to show what the trust centre's rules held back.
    pub queued_true: Vec<(&'r Record, &'r Record)>,
}

/// Every row of the blocking index (key, site, local id), for
/// [`in_one_block`].
pub const BLOCK_ROWS: &str = "SELECT key, site, local_id FROM linkage_blocks";

/// How many of `pairs` ever shared a block (a key, split or leaf, under which
/// both have a row: split keys keep their rows, so a pair that met as
/// candidates in a block that later split still shows), given every row of
/// the index.
pub fn in_one_block(
    a: &[Record],
    b: &[Record],
    pairs: &[(usize, usize)],
    rows: impl Iterator<Item = (i64, String, String)>,
) -> usize {
    use std::collections::HashSet;
    // By (site, local id), owned: the rows come and go one at a time.
    let mut keys: HashMap<(String, String), HashSet<i64>> = HashMap::new();
    let at = |site: &str, id: &str| (site.to_owned(), id.to_owned());
    for &(i, j) in pairs {
        keys.entry(at("site-1", &a[i].id)).or_default();
        keys.entry(at("site-2", &b[j].id)).or_default();
    }
    for (key, site, local_id) in rows {
        if let Some(k) = keys.get_mut(&(site, local_id)) {
            k.insert(key);
        }
    }
    pairs
        .iter()
        .filter(|&&(i, j)| {
            let x = &keys[&at("site-1", &a[i].id)];
            let y = &keys[&at("site-2", &b[j].id)];
            !x.is_disjoint(y)
        })
        .count()
}

/// Each record's position by its id.
fn by_id(records: &[Record]) -> HashMap<&str, usize> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect()
}

/// Union–find over the persons (research pseudonyms), path-halving.
struct Persons {
    parent: Vec<usize>,
    id: HashMap<String, usize>,
}

impl Persons {
    fn id(&mut self, research: &str) -> usize {
        let n = self.parent.len();
        let id = *self.id.entry(research.to_owned()).or_insert(n);
        if id == n {
            self.parent.push(n);
        }
        id
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn union(&mut self, x: usize, y: usize) {
        let (rx, ry) = (self.find(x), self.find(y));
        self.parent[rx] = ry;
    }
}

/// Assesses the queue of a run that sent `a` as site 1 and `b` as site 2, with
/// the research pseudonyms each record got (`ra`, `rb`).
pub fn assess<'r>(
    a: &'r [Record],
    b: &'r [Record],
    ra: &[String],
    rb: &[String],
    pending: &[Item],
) -> Worth<'r> {
    let mut persons = Persons {
        parent: Vec::new(),
        id: HashMap::new(),
    };
    let pa: Vec<usize> = ra.iter().map(|r| persons.id(r)).collect();
    let pb: Vec<usize> = rb.iter().map(|r| persons.id(r)).collect();
    let (ia, ib) = (by_id(a), by_id(b));
    // A record by site and local id: its comparison record and its person.
    let record = |site: &str, id: &str| -> Option<(&'r Record, usize)> {
        match site {
            "site-1" => ia.get(id).map(|&i| (&a[i], pa[i])),
            "site-2" => ib.get(id).map(|&j| (&b[j], pb[j])),
            _ => None,
        }
    };
    let (mut cross_file, mut cross_file_true) = (0, 0);
    let mut merges = Vec::new();
    let mut queued_true = Vec::new();
    for (s, l, os, ol) in pending {
        let (Some((x, px)), Some((y, py))) = (record(s, l), record(os, ol)) else {
            continue;
        };
        let same = entity(&x.id).is_some() && entity(&x.id) == entity(&y.id);
        if s != os {
            cross_file += 1;
            if same && px != py {
                cross_file_true += 1;
                queued_true.push((x, y));
            }
        }
        if same {
            merges.push((px, py));
        }
    }
    for (x, y) in merges {
        persons.union(x, y);
    }
    let mut by_entity: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in a.iter().enumerate() {
        if let Some(e) = entity(&r.id) {
            by_entity.entry(e).or_default().push(i);
        }
    }
    use oncofed_linkage::probabilistic::{compare, score};
    let cfg = oncofed_linkage::Config::default();
    let (mut true_links, mut joined, mut apart) = (0usize, 0usize, [0; 3]);
    let mut apart_pairs = Vec::new();
    for (j, r) in b.iter().enumerate() {
        let partners = entity(&r.id).and_then(|e| by_entity.get(e));
        for &i in partners.into_iter().flatten() {
            true_links += 1;
            if persons.find(pa[i]) == persons.find(pb[j]) {
                joined += 1;
                continue;
            }
            apart_pairs.push((i, j));
            let s = score(&compare(&a[i], r, &cfg), &cfg.weights);
            apart[match cfg.classify(s) {
                Outcome::Match => 0,
                Outcome::PossibleMatch => 1,
                Outcome::NonMatch => 2,
            }] += 1;
        }
    }
    Worth {
        cross_file,
        cross_file_true,
        recall_after_review: joined as f64 / true_links.max(1) as f64,
        apart,
        apart_pairs,
        queued_true,
    }
}
