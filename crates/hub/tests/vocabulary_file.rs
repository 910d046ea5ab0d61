//! The code list the portal searches (`crates/hub/data/vocabulary.tsv`) is
//! exactly what the synthetic generator codes its data in: the hub ships the
//! file instead of linking the generator (which uses the identity crates).
//! `ONCOFED_BLESS=1 cargo test -p oncofed-hub --test vocabulary_file` rewrites it.

#[test]
fn the_shipped_vocabulary_is_the_generators() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/vocabulary.tsv");
    let expected = oncofed_synth::vocabulary::to_tsv();
    if std::env::var_os("ONCOFED_BLESS").is_some() {
        std::fs::write(path, &expected).unwrap();
    }
    let shipped = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        shipped == expected,
        "{path} differs from the generator's vocabulary; rewrite it with ONCOFED_BLESS=1"
    );
}
