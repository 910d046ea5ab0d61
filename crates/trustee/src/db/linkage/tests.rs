//! Unit tests of the exact-match and probabilistic linkage rules.

use super::*;
use crate::config::PseudonymKey;
use chrono::NaiveDate;
use oncofed_idat::{IdentifyingData, Kvnr};
use oncofed_model::Sex;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Conn,
    keys: Keys,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Conn::Sqlite(crate::db::sqlite::open(&dir.path().join("t.db")).unwrap());
    let keys = Keys::new(&PseudonymKey::from_bytes(vec![3; 32]).unwrap());
    Fixture {
        _dir: dir,
        store,
        keys,
    }
}

fn item(keys: &Keys, local_id: &str, given: &str, kvnr: Option<(u8, u8)>) -> LinkItem {
    let idat = IdentifyingData {
        given: vec![given.into()],
        family: Some("Muster".into()),
        birth_name: None,
        birth_date: NaiveDate::from_ymd_opt(1960, 5, 6),
        sex: Sex::Male,
        address: None,
        kvnr: kvnr.map(|(letter, d)| Kvnr::from_parts(letter, &[d; 8]).unwrap()),
    };
    LinkItem {
        local_id: local_id.into(),
        idat_json: serde_json::to_string(&idat).unwrap(),
        keys: keys.blocking_keys(&idat),
    }
}

fn run(f: &mut Fixture, site: &str, items: Vec<LinkItem>) -> Vec<PseudonymPair> {
    pseudonymise(&mut f.store, &f.keys, &SiteId::new(site).unwrap(), &items).unwrap()
}

#[test]
fn linkage_rules() {
    let mut f = fixture();
    let k = f.keys.clone();
    let a = run(
        &mut f,
        "uk-a",
        vec![
            item(&k, "1", "Max", None),
            item(&k, "2", "Moritz", Some((b'A', 1))),
        ],
    );
    // Name match (scored: names, birth date and sex agree, nothing disagrees), KVNR
    // match with a different name, and a name match with a conflicting KVNR.
    let b = run(
        &mut f,
        "uk-b",
        vec![
            item(&k, "x", "MAX", Some((b'B', 2))),
            item(&k, "y", "Mauritius", Some((b'A', 1))),
            item(&k, "z", "Max", Some((b'C', 3))),
        ],
    );
    assert_eq!(a[0].research, b[0].research);
    assert_eq!(a[1].research, b[1].research);
    assert_ne!(
        a[0].research, b[2].research,
        "different KVNRs are different people"
    );
    assert_ne!(a[0].site, b[0].site);
    // Re-pseudonymisation with changed IDAT keeps the person.
    let again = run(&mut f, "uk-a", vec![item(&k, "1", "Erich", None)]);
    assert_eq!(again[0], a[0]);
    let resolved = resolve(
        &mut f.store,
        &k,
        &SiteId::new("uk-b").unwrap(),
        &["y".into(), "nope".into()],
    )
    .unwrap();
    assert_eq!(resolved, vec![Some(b[1].clone()), None]);
}
