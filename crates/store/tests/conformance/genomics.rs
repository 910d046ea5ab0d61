//! Sequencing files and variant calls: written atomically with their patients,
//! idempotent by key, found by allele, range and gene, matched by the `variant`
//! feasibility leaf field by field, deleted with their patient (returning the
//! files' object keys), counted for reports.

use super::Backend;
use super::store::{patient, psn};
use chrono::NaiveDate;
use oncofed_criteria::Criteria;
use oncofed_model::*;
use oncofed_store::*;

fn file(key: &str, n: u8, origin: VariantOrigin) -> SequenceFileRow {
    SequenceFileRow {
        object_key: key.into(),
        pseudonym: psn(n),
        file_key: format!("f-{key}"),
        build: GenomeBuild::Grch38,
        origin,
        calls: 1,
        bytes: 1000,
        collected: NaiveDate::from_ymd_opt(2024, 3, n.into()),
        whole: true,
    }
}

#[allow(clippy::too_many_arguments)]
fn call(
    key: &str,
    n: u8,
    object: &str,
    gene: &str,
    protein: Option<&str>,
    consequence: &str,
    origin: VariantOrigin,
    vaf: Option<f64>,
    pos: u64,
) -> VariantRow {
    VariantRow {
        call_key: key.into(),
        pseudonym: psn(n),
        object_key: object.into(),
        collected: NaiveDate::from_ymd_opt(2024, 3, n.into()),
        filter_pass: true,
        variant: GeneticVariant {
            gene: Some(gene.into()),
            hgnc: (gene == "EGFR").then(|| "HGNC:3236".into()),
            hgvs_c: None,
            hgvs_p: protein.map(str::to_owned),
            consequence: Some(consequence.into()),
            origin,
            vaf,
            depth: Some(200),
            zygosity: Some(Zygosity::Heterozygous),
            locus: Some(VariantLocus {
                build: GenomeBuild::Grch38,
                chrom: "7".into(),
                pos,
                reference: "T".into(),
                alternate: "G".into(),
            }),
        },
    }
}

fn matching(store: &dyn ResearchStore, json: &str) -> Vec<Pseudonym> {
    let c: Criteria = serde_json::from_str(json).unwrap();
    c.validate().unwrap();
    let mut out: Vec<Pseudonym> = store
        .feasibility(&c)
        .unwrap()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    out.sort();
    out
}

pub fn variants_round_trip_match_and_go_with_their_patient(backend: &dyn Backend) {
    use VariantOrigin::*;
    let mut store = backend.open();
    let egfr = call(
        "v1",
        1,
        "o1",
        "EGFR",
        Some("p.L858R"),
        "missense_variant",
        Somatic,
        Some(0.31),
        55191822,
    );
    let brca = call(
        "v2",
        2,
        "o2",
        "BRCA1",
        Some("p.E23Vfs*17"),
        "frameshift_variant",
        Germline,
        None,
        100,
    );
    let low = call(
        "v3",
        3,
        "o3",
        "EGFR",
        Some("p.L858R"),
        "missense_variant",
        Somatic,
        Some(0.04),
        55191822,
    );
    let batch = WriteBatch {
        patients: vec![patient(1), patient(2), patient(3)],
        sequence_files: vec![
            file("o1", 1, Somatic),
            file("o2", 2, Germline),
            file("o3", 3, Somatic),
        ],
        variants: vec![egfr.clone(), brca.clone(), low.clone()],
        ..Default::default()
    };
    store.write(&batch).unwrap();
    store.write(&batch).unwrap(); // idempotent
    assert_eq!(store.variants_of(&[psn(1)]).unwrap(), vec![egfr.clone()]);
    assert_eq!(
        store.sequence_files_of(&[psn(2)]).unwrap(),
        vec![file("o2", 2, Germline)]
    );
    let allele = VariantLookup::Allele {
        build: GenomeBuild::Grch38,
        chrom: "7".into(),
        pos: 55191822,
        reference: "T".into(),
        alternate: "G".into(),
    };
    assert_eq!(
        store.variant_lookup(&allele).unwrap(),
        vec![egfr.clone(), low.clone()]
    );
    let other_allele = VariantLookup::Allele {
        build: GenomeBuild::Grch38,
        chrom: "7".into(),
        pos: 55191822,
        reference: "T".into(),
        alternate: "A".into(),
    };
    assert!(store.variant_lookup(&other_allele).unwrap().is_empty());
    let range = VariantLookup::Range {
        build: GenomeBuild::Grch38,
        chrom: "7".into(),
        start: 50,
        end: 1000,
    };
    assert_eq!(store.variant_lookup(&range).unwrap(), vec![brca.clone()]);
    let gene = VariantLookup::Gene {
        symbol: "BRCA1".into(),
    };
    assert_eq!(store.variant_lookup(&gene).unwrap(), vec![brca.clone()]);

    assert_eq!(
        matching(&*store, r#"{"variant": {"gene": "EGFR"}}"#),
        vec![psn(1), psn(3)]
    );
    assert_eq!(
        matching(
            &*store,
            r#"{"variant": {"gene": "HGNC:3236", "vaf_min": 0.1}}"#
        ),
        vec![psn(1)]
    );
    assert_eq!(
        matching(
            &*store,
            r#"{"variant": {"gene": "EGFR", "protein": "p.Leu858Arg", "vaf_max": 0.05}}"#
        ),
        vec![psn(3)]
    );
    assert_eq!(
        matching(&*store, r#"{"variant": {"consequence": "truncating"}}"#),
        vec![psn(2)]
    );
    assert_eq!(
        matching(&*store, r#"{"variant": {"origin": "germline"}}"#),
        vec![psn(2)]
    );
    assert_eq!(
        matching(
            &*store,
            r#"{"variant": {"origin": "somatic", "from": "2024-03-02"}}"#
        ),
        vec![psn(3)]
    );
    assert_eq!(
        matching(&*store, r#"{"not": {"variant": {"gene": "EGFR"}}}"#),
        vec![psn(2)]
    );

    let stats = store.genomics_stats().unwrap();
    assert_eq!(
        (
            stats.files,
            stats.bytes,
            stats.somatic_calls,
            stats.germline_calls,
            stats.persons
        ),
        (3, 3000, 2, 1, 3)
    );

    // A call of a file that is not there fails the whole batch.
    let orphan = WriteBatch {
        variants: vec![call(
            "v9",
            1,
            "missing",
            "KRAS",
            None,
            "missense_variant",
            Somatic,
            None,
            5,
        )],
        ..Default::default()
    };
    assert!(store.write(&orphan).is_err());
    assert!(
        store
            .variants_of(&[psn(1)])
            .unwrap()
            .iter()
            .all(|v| v.call_key != "v9")
    );

    let deleted = store.delete_patient(&psn(2)).unwrap();
    assert_eq!(deleted.sequences, vec!["o2".to_owned()]);
    assert!(store.variants_of(&[psn(2)]).unwrap().is_empty());
    assert!(store.variant_lookup(&gene).unwrap().is_empty());
    drop(store);
    let store = backend.open();
    assert_eq!(store.genomics_stats().unwrap().files, 2);
}
