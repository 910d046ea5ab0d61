//! Migrations and the key check on both backends.

use super::{Backend, count, idat, item, keys};
use crate::config::PseudonymKey;
use crate::db::{StoreError, params, pseudonymise};
use crate::keys::Keys;
use oncofed_model::Sex;

/// Data survives reopening; the schema is at this build's version.
pub(super) fn reopening_keeps_data_and_the_schema_is_current(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    let p = pseudonymise(
        &mut conn,
        &k,
        &super::site("uk-a"),
        &[item(
            &k,
            "1",
            &idat("Ute", "Lang", (1980, 3, 4), Sex::Female, None),
        )],
    )
    .unwrap();
    drop(conn);
    let mut conn = b.conn();
    let r = crate::db::resolve(&mut conn, &k, &super::site("uk-a"), &["1".into()]).unwrap();
    assert_eq!(r[0].as_ref(), Some(&p[0]));
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM persons", params![]),
        1
    );
    let (found, current) = b.versions();
    assert_eq!(found, current);
}

/// A database written by a newer build is refused, and left as it was.
pub(super) fn a_newer_schema_is_refused_before_anything_is_written(b: &dyn Backend) {
    drop(b.conn());
    let (_, current) = b.versions();
    b.set_version(current + 5);
    let err = b.db(&keys().fingerprint()).err().expect("refused");
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, known } if found == current + 5 && known == current),
        "{err:?}"
    );
    assert_eq!(b.versions().0, current + 5, "nothing written");
}

/// A store opens only with the key it was created with.
pub(super) fn another_key_is_refused(b: &dyn Backend) {
    drop(b.db(&keys().fingerprint()).unwrap());
    drop(b.db(&keys().fingerprint()).unwrap());
    let other = Keys::new(&PseudonymKey::from_bytes(vec![8; 32]).unwrap());
    let err = b.db(&other.fingerprint()).err().expect("refused");
    assert!(matches!(err, StoreError::KeyMismatch), "{err:?}");
    // The message tells the operator what to do and names no key material.
    assert!(err.to_string().contains("restore the original key file"));
}

/// An engine error names the constraint, never the values: PostgreSQL's
/// `DETAIL` ("Key (site, local_id)=(…) already exists") is dropped.
pub(super) fn engine_errors_carry_no_values(b: &dyn Backend) {
    let mut conn = b.conn();
    let mut tx = conn.write_tx().unwrap();
    let person: i64 = tx
        .query_one(
            "INSERT INTO persons (pid, created_at) VALUES (?1, 0) RETURNING id",
            params![&[1u8; 16][..]],
            |r| r.get(0),
        )
        .unwrap();
    let insert = "INSERT INTO local_ids (site, local_id, person_id, idat, updated_at)
                  VALUES ('uk-a', ?1, ?2, ?3, 0)";
    let secret = "Geheimnisvoll-4711";
    tx.execute(insert, params![secret, person, secret]).unwrap();
    let err = tx
        .execute(insert, params![secret, person, secret])
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("4711"), "{text}");
    assert!(text.contains("local_ids"), "{text}");
}
