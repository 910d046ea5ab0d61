//! The request model: shapes, coordinates, reference-name normalisation, errors.
use oncofed_beacon::model::{
    Assembly, Chromosome, Granularity, QueryError, RequestBody, RequestError, VariantQuery,
};

fn post(json: &str) -> Result<VariantQuery, QueryError> {
    RequestBody::from_json(json.as_bytes())
        .unwrap()
        .variant_query()
}

#[test]
fn every_spelling_of_chromosome_7_is_the_same_query() {
    let spellings = [
        r#"{"meta":{},"query":{"requestParameters":{"assemblyId":"GRCh38","referenceName":"chr7","start":[140753335],"referenceBases":"a","alternateBases":"T"}}}"#,
        r#"{"meta":{},"query":{"requestParameters":{"assemblyId":"hg38","referenceName":"7","start":140753335,"referenceBases":"A","alternateBases":"T"}}}"#,
        r#"{"meta":{},"query":{"requestParameters":{"referenceName":"NC_000007.14","start":[140753335],"referenceBases":"A","alternateBases":"t"}}}"#,
        r#"{"meta":{},"query":{"requestParameters":{"g_variant":{"referenceName":"refseq:NC_000007.14","start":[140753335],"referenceBases":"A","alternateBases":"T"}}}}"#,
    ];
    let first = post(spellings[0]).unwrap();
    for s in spellings {
        assert_eq!(post(s).unwrap().fingerprint(), first.fingerprint());
    }
    assert_eq!(first.vcf_position(), Some(140_753_336));
}

#[test]
fn refseq_accessions_fix_the_assembly() {
    assert_eq!(
        Chromosome::parse("NC_000007.13").unwrap(),
        (Chromosome::Autosome(7), Some(Assembly::Grch37))
    );
    assert_eq!(
        Chromosome::parse("NC_000023.11").unwrap(),
        (Chromosome::X, Some(Assembly::Grch38))
    );
    assert_eq!(
        Chromosome::Autosome(1).refseq(Assembly::Grch38),
        "NC_000001.11"
    );
    assert_eq!(Chromosome::Y.refseq(Assembly::Grch37), "NC_000024.9");
    assert!(Chromosome::parse("NC_000007.12").is_err());
    let contradiction = post(
        r#"{"meta":{},"query":{"requestParameters":{"assemblyId":"GRCh38","referenceName":"NC_000007.13","start":[5],"referenceBases":"A","alternateBases":"T"}}}"#,
    );
    assert!(matches!(
        contradiction,
        Err(QueryError::Invalid {
            field: "assemblyId",
            ..
        })
    ));
    assert!(Chromosome::parse("chr23").is_err());
    assert!(Chromosome::parse("").is_err());
}

#[test]
fn range_and_gene_queries() {
    let r = post(r#"{"meta":{},"query":{"requestParameters":{"assemblyId":"GRCh37","referenceName":"17","start":[7571719],"end":[7590868],"variantType":"del"}}}"#).unwrap();
    assert_eq!(r.vcf_range(), Some((7_571_720, 7_590_868)));
    let g = post(r#"{"meta":{},"query":{"requestParameters":{"geneId":"BRAF","aminoacidChange":"p.V600E"}}}"#).unwrap();
    assert!(
        matches!(g, VariantQuery::Gene { ref amino_acid_change, .. } if amino_acid_change.as_deref() == Some("V600E"))
    );
}

#[test]
fn malformed_queries_say_what_is_wrong() {
    let cases = [
        (
            r#"{"meta":{},"query":{"requestParameters":{"referenceName":"7","start":[5],"referenceBases":"A","alternateBases":"T"}}}"#,
            "assemblyId",
        ),
        (
            r#"{"meta":{},"query":{"requestParameters":{"assemblyId":"GRCh38","referenceName":"7","start":[5]}}}"#,
            "end",
        ),
        (
            r#"{"meta":{},"query":{"requestParameters":{"assemblyId":"GRCh38","referenceName":"7","start":[5,9],"end":[20,30]}}}"#,
            "bracket",
        ),
        (
            r#"{"meta":{},"query":{"requestParameters":{"assemblyId":"GRCh38","referenceName":"7","start":[50],"end":[20]}}}"#,
            "greater than start",
        ),
        (
            r#"{"meta":{},"query":{"requestParameters":{"assemblyId":"GRCh38","referenceName":"7","start":[5],"referenceBases":"A","alternateBases":"R"}}}"#,
            "alternateBases",
        ),
        (
            r#"{"meta":{},"query":{"requestParameters":{"assemblyId":"GRCh39","referenceName":"7","start":[5],"end":[9]}}}"#,
            "assemblyId",
        ),
        (
            r#"{"meta":{},"query":{"requestParameters":{"geneId":"BRAF","mateName":"7"}}}"#,
            "mateName",
        ),
        (
            r#"{"meta":{},"query":{"requestParameters":{"geneId":"BRAF","start":[5]}}}"#,
            "gene query",
        ),
        (
            r#"{"meta":{},"query":{"requestParameters":{"aminoacidChange":"V600E"}}}"#,
            "geneId",
        ),
        (
            r#"{"meta":{},"query":{"requestParameters":{"assemblyId":"GRCh37","referenceName":"chrM","start":[5],"end":[9]}}}"#,
            "NC_001807",
        ),
    ];
    for (json, needle) in cases {
        let err = post(json).unwrap_err().to_string();
        assert!(err.contains(needle), "{json}: {err}");
    }
    assert!(matches!(
        RequestBody::from_json(b"{\"meta\": 3}"),
        Err(RequestError::Json(_))
    ));
}

#[test]
fn get_parameters_build_the_same_request() {
    let body = RequestBody::from_query_pairs([
        ("assemblyId", "GRCh38"),
        ("referenceName", "chr7"),
        ("start", "140753335"),
        ("referenceBases", "A"),
        ("alternateBases", "T"),
        ("requestedGranularity", "count"),
        ("filters", "NCIT:C3224, HP:0002664"),
    ])
    .unwrap();
    assert_eq!(body.query.requested_granularity, Some(Granularity::Count));
    assert_eq!(body.query.filters.len(), 2);
    let q = body.variant_query().unwrap();
    assert_eq!(q.fingerprint(), "seq|GRCh38|7|140753335|A|T");
    assert!(RequestBody::from_query_pairs([("start", "1"), ("start", "2")]).is_err());
    assert!(RequestBody::from_query_pairs([("foo", "1")]).is_err());
    assert!(RequestBody::from_query_pairs([("start", "-1")]).is_err());
}
