//! Unit tests of the reading rules on small inline VCF texts.

use crate::*;

const HEAD: &str = "##fileformat=VCFv4.2\n##contig=<ID=chr7,length=159345973>\n\
##contig=<ID=chr17,length=83257441>\n##contig=<ID=chrX,length=156040895>\n\
##contig=<ID=chrUn_KI270302v1,length=2274>\n";

fn opts(origin: Option<Origin>) -> ReadOptions {
    ReadOptions {
        declared_origin: origin,
        ..ReadOptions::default()
    }
}

fn read(text: &str, o: &ReadOptions) -> Result<VcfReader, VcfError> {
    VcfReader::from_bytes(text.as_bytes().to_vec(), o)
}

fn calls(text: &str, o: &ReadOptions) -> Vec<Call> {
    let mut r = read(text, o).unwrap();
    r.calls().collect::<Result<Vec<_>, _>>().unwrap()
}

fn first_error(text: &str, o: &ReadOptions) -> VcfError {
    let mut r = read(text, o).unwrap();
    r.calls().find_map(Result::err).expect("an error")
}

#[test]
fn mutect2_tumour_normal() {
    let text = format!(
        "{HEAD}##tumor_sample=T-123\n##normal_sample=N-123\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tN-123\tT-123\n\
chr7\t55191822\t.\tT\tG\t.\tPASS\t.\tGT:AD:AF:DP\t0/0:40,0:0.02:40\t0/1:30,10:0.26:41\n"
    );
    let r = read(&text, &opts(None)).unwrap();
    assert_eq!(r.build(), GenomeBuild::Grch38);
    assert_eq!(r.samples()[0].role, SampleRole::Normal);
    assert_eq!(r.samples()[1].role, SampleRole::Tumor);
    assert!(!format!("{:?} {r:?}", r.samples()).contains("T-123"));
    let c = calls(&text, &opts(None));
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].sample, 1);
    assert_eq!(c[0].origin, Origin::Somatic);
    assert_eq!(c[0].vaf, Some(0.26));
    assert_eq!(c[0].depth, Some(41));
    assert_eq!(c[0].line, 9);
    assert_eq!(c[0].zygosity, Some(Zygosity::Heterozygous));
    assert_eq!(c[0].variant.chrom.as_str(), "7");
    assert!(c[0].filter_pass);
}

#[test]
fn germline_in_both_columns_only_with_germline_declaration() {
    let text = format!(
        "{HEAD}##tumor_sample=T\n##normal_sample=N\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tN\tT\n\
chr7\t100\t.\tA\tC\t.\tPASS\t.\tGT:AD\t0/1:10,10\t0/1:12,8\n"
    );
    assert_eq!(calls(&text, &opts(None))[0].origin, Origin::Somatic);
    let c = calls(&text, &opts(Some(Origin::Germline)));
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].origin, Origin::Germline);
    assert_eq!(c[0].vaf, Some(0.4));
    assert_eq!(c[0].depth, Some(20));
}

#[test]
fn strelka_tumour_normal_tier1_counts() {
    let text = format!(
        "{HEAD}##source=strelka\n##INFO=<ID=SOMATIC,Number=0,Type=Flag,Description=\"Somatic\">\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNORMAL\tTUMOR\n\
chr17\t7674220\t.\tC\tT\t.\tPASS\tSOMATIC\tDP:AU:CU:GU:TU\t30:0,0:30,31:0,0:0,0\t40:0,0:30,30:0,0:10,11\n\
chr17\t7675000\t.\tCA\tC\t.\tPASS\tSOMATIC\tDP:TAR:TIR\t30:30,30:0,0\t40:15,15:5,6\n"
    );
    let c = calls(&text, &opts(None));
    assert_eq!(c.len(), 2);
    assert!(
        c.iter()
            .all(|c| c.sample == 1 && c.origin == Origin::Somatic)
    );
    assert_eq!(c[0].vaf, Some(0.25));
    assert_eq!(c[0].zygosity, None);
    assert_eq!(c[1].vaf, Some(0.25));
    assert_eq!(c[1].variant.reference, "CA");
}

#[test]
fn vcf43_sample_and_pedigree() {
    let text = "##fileformat=VCFv4.3\n##assembly=GRCh38\n\
##SAMPLE=<ID=Blood,Genomes=Germline,Mixture=1.,Description=\"Germline\">\n\
##SAMPLE=<ID=Biopsy,Genomes=Germline;Tumor,Mixture=.3;.7,Description=\"Tumour\">\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tBlood\tBiopsy\n\
7\t100\t.\tA\tC\t.\tPASS\t.\tGT\t0/0\t0/1\n";
    let r = read(text, &opts(None)).unwrap();
    assert_eq!(
        r.samples().iter().map(|s| s.role).collect::<Vec<_>>(),
        vec![SampleRole::Normal, SampleRole::Tumor]
    );
    let ped = "##fileformat=VCFv4.3\n##assembly=GRCh38\n##PEDIGREE=<Derived=D,Original=O>\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tO\tD\n\
7\t100\t.\tA\tC\t.\tPASS\t.\tGT\t0/0\t1/1\n";
    let c = calls(ped, &opts(None));
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].sample, c[0].origin), (1, Origin::Somatic));
    assert_eq!(c[0].zygosity, Some(Zygosity::Homozygous));
}

#[test]
fn somatic_flag_and_undeclared_origin() {
    let base = format!(
        "{HEAD}##INFO=<ID=SOMATIC,Number=0,Type=Flag,Description=\"Somatic\">\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n\
chr7\t100\t.\tA\tC\t.\tPASS\tSOMATIC\tGT\t0/1\n"
    );
    assert_eq!(calls(&base, &opts(None))[0].origin, Origin::Somatic);
    // Flag wins over a germline declaration.
    let c = calls(&base, &opts(Some(Origin::Germline)));
    assert_eq!(c[0].origin, Origin::Somatic);
    let unflagged = format!("{base}chr7\t200\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\n");
    let e = first_error(&unflagged, &opts(None));
    assert_eq!(
        (e.line, e.field.as_deref()),
        (Some(9), Some("INFO/SOMATIC"))
    );
    let c = calls(&unflagged, &opts(Some(Origin::Germline)));
    assert_eq!(c[1].origin, Origin::Germline);
    // No header evidence and no declaration: refused at open.
    let plain = format!(
        "{HEAD}#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n\
chr7\t100\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\n"
    );
    let e = read(&plain, &opts(None)).unwrap_err();
    assert!(e.message.contains("declare the origin"), "{e}");
    let c = calls(&plain, &opts(Some(Origin::Somatic)));
    assert_eq!(c[0].origin, Origin::Somatic);
}

#[test]
fn multiallelic_split_and_trim() {
    let text = format!(
        "{HEAD}#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\n\
chr7\t100\t.\tGTT\tGT,G,<DEL>\t.\tPASS\t.\tGT:AD\t1/2:0,5,5,0\t0/1:5,5,0,0\n\
chrX\t100\t.\tA\tC,T\t.\tq10\t.\tGT\t2\t./1\n"
    );
    let mut r = read(&text, &opts(Some(Origin::Germline))).unwrap();
    let c: Vec<Call> = r.calls().collect::<Result<_, _>>().unwrap();
    let got: Vec<_> = c
        .iter()
        .map(|c| {
            (
                c.sample,
                c.variant.pos,
                c.variant.reference.as_str(),
                c.variant.alternate.as_str(),
                c.zygosity,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (0, 100, "GT", "G", Some(Zygosity::Heterozygous)),
            (0, 100, "GTT", "G", Some(Zygosity::Heterozygous)),
            (1, 100, "GT", "G", Some(Zygosity::Heterozygous)),
            (0, 100, "A", "T", Some(Zygosity::Hemizygous)),
            (1, 100, "A", "C", None),
        ]
    );
    assert_eq!(c[0].vaf, Some(0.5));
    assert!(!c[3].filter_pass);
    assert_eq!(r.skip_counts().symbolic, 1);
    let mut strict = opts(Some(Origin::Germline));
    strict.pass_only = true;
    assert_eq!(calls(&text, &strict).len(), 3);
}

#[test]
fn contig_names_and_skips() {
    let text = format!(
        "{HEAD}#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n\
chrUn_KI270302v1\t5\t.\tA\tC\t.\t.\t.\tGT\t0/1\n\
NC_000007.14\t5\t.\tA\tC\t.\t.\t.\tGT\t0/1\n\
chrM\t5\t.\tA\tC\t.\t.\t.\tGT\t1\n\
chr7\t6\t.\tA\t<NON_REF>\t.\t.\tEND=9\tGT\t0/0\n\
chr7\t7\t.\tA\t.\t.\t.\t.\tGT\t0/0\n"
    );
    let mut r = read(&text, &opts(Some(Origin::Germline))).unwrap();
    let c: Vec<Call> = r.calls().collect::<Result<_, _>>().unwrap();
    let chroms: Vec<&str> = c.iter().map(|c| c.variant.chrom.as_str()).collect();
    assert_eq!(chroms, vec!["7", "MT"]);
    assert_eq!(r.skip_counts().unknown_contig, 1);
    assert_eq!(r.skip_counts().reference_block, 2);
    for (name, want) in [
        ("chr1", Some("1")),
        ("1", Some("1")),
        ("NC_000001.10", Some("1")),
        ("NC_000001.11", Some("1")),
        ("NC_000023.11", Some("X")),
        ("NC_012920.1", Some("MT")),
        ("MT", Some("MT")),
        ("chrM", Some("MT")),
        ("GL000192.1", None),
        ("chr1_KI270706v1_random", None),
        ("HLA-A*01:01:01:01", None),
        ("hs37d5", None),
        ("chr23", None),
        ("chr01", None),
        ("c¤hr1", None),
        ("ch¤", None),
    ] {
        assert_eq!(Chrom::normalise(name).map(|c| c.as_str()), want, "{name}");
    }
}

#[test]
fn genome_build_detection() {
    let one = |h: &str, b: Option<GenomeBuild>| {
        let text =
            format!("##fileformat=VCFv4.2\n{h}#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n");
        read(
            &text,
            &ReadOptions {
                build: b,
                ..opts(None)
            },
        )
        .map(|r| r.build())
    };
    use GenomeBuild::*;
    assert_eq!(one("##contig=<ID=1,length=249250621>\n", None), Ok(Grch37));
    assert_eq!(
        one("##contig=<ID=chr1,length=248956422>\n", None),
        Ok(Grch38)
    );
    assert_eq!(one("##reference=file:///ref/hs37d5.fa\n", None), Ok(Grch37));
    assert_eq!(
        one(
            "##reference=file:///ref/Homo_sapiens_assembly38.fasta\n",
            None
        ),
        Ok(Grch38)
    );
    assert_eq!(one("##reference=hg38\n", None), Ok(Grch38));
    assert_eq!(one("##contig=<ID=NC_000007.13>\n", None), Ok(Grch37));
    assert_eq!(one("", Some(Grch38)), Ok(Grch38));
    // Declared name contradicting the lengths: refused.
    let e = one(
        "##reference=GRCh38\n##contig=<ID=1,length=249250621>\n",
        None,
    )
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("header"));
    assert!(
        e.message.contains("GRCh38") && e.message.contains("GRCh37"),
        "{e}"
    );
    assert!(one("##contig=<ID=1,length=249250621>\n", Some(Grch38)).is_err());
    assert!(one("##contig=<ID=1,length=1000>\n", None).is_err());
    let e = one("", None).unwrap_err();
    assert!(e.message.contains("declare the build"), "{e}");
}

#[test]
fn errors_name_line_and_field() {
    let head =
        format!("{HEAD}#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tSECRET-SAMPLE\n");
    let cases = [
        ("chr7\tx12\t.\tA\tC\t.\t.\t.\tGT\t0/1", "POS"),
        ("chr7\t0\t.\tA\tC\t.\t.\t.\tGT\t0/1", "POS"),
        ("chr7\t2147483648\t.\tA\tC\t.\t.\t.\tGT\t0/1", "POS"),
        ("chr7\t12\t.\tAQ\tC\t.\t.\t.\tGT\t0/1", "REF"),
        ("chr7\t12\t.\tA\tC!\t.\t.\t.\tGT\t0/1", "ALT"),
        ("chr7\t12\t.\tA\tC,a\t.\t.\t.\tGT\t0/1", "ALT"),
        ("chr7\t12\t.\tA\tC\t.\t.\t.\tGT\t0/2", "FORMAT/GT"),
        ("chr7\t12\t.\tA\tC\t.\t.\t.\tGT:AD\t0/1:3,4,5", "FORMAT/AD"),
        ("chr7\t12\t.\tA\tC\t.\t.\t.\tGT:DP\t0/1:many", "FORMAT/DP"),
        ("chr7\t12\t.\tA\tC\t.\t.\t.\tGT:AF\t0/1:1.5", "FORMAT/AF"),
        ("chr7\t12\t.\tA\tC\t.\t.\t.\tGT", "sample columns"),
        ("chr7\t12", "ID"),
    ];
    for (line, field) in cases {
        let text = format!("{head}chr7\t1\t.\tA\tC\t.\t.\t.\tGT\t0/1\n{line}\n");
        let e = first_error(&text, &opts(Some(Origin::Germline)));
        assert_eq!(e.line, Some(8), "{line}");
        assert_eq!(e.field.as_deref(), Some(field), "{line}");
        let shown = e.to_string();
        assert!(shown.starts_with("<memory> line 8 field "), "{shown}");
        assert!(
            !shown.contains("0/1") && !shown.contains("SECRET"),
            "{shown}"
        );
    }
    // Reading goes on after a bad line.
    let text =
        format!("{head}chr7\tx\t.\tA\tC\t.\t.\t.\tGT\t0/1\nchr7\t5\t.\tA\tC\t.\t.\t.\tGT\t0/1\n");
    let mut r = read(&text, &opts(Some(Origin::Germline))).unwrap();
    let all: Vec<_> = r.calls().collect();
    assert!(all[0].is_err() && all[1].is_ok());
}

#[test]
fn header_errors() {
    let e = read("hello\n", &opts(None)).unwrap_err();
    assert_eq!((e.line, e.field.as_deref()), (Some(1), Some("header")));
    let e = read("##fileformat=VCFv4.2\n", &opts(None)).unwrap_err();
    assert!(e.message.contains("#CHROM"));
    let e = read("##fileformat=VCFv4.2\n##reference=GRCh37\n##tumor_sample=T\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tX\n", &opts(None)).unwrap_err();
    assert!(e.message.contains("##tumor_sample"), "{e}");
}

#[test]
fn csq_and_ann_annotations() {
    let text = "##fileformat=VCFv4.2\n##contig=<ID=7,length=159138663>\n\
##INFO=<ID=CSQ,Number=.,Type=String,Description=\"Consequence annotations from Ensembl VEP. Format: Allele|Consequence|IMPACT|SYMBOL|HGVSc|HGVSp|CANONICAL\">\n\
##INFO=<ID=ANN,Number=.,Type=String,Description=\"Functional annotations: 'Allele | Annotation | ...'\">\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n\
7\t140453136\t.\tA\tT\t.\tPASS\tCSQ=T|missense_variant|MODERATE|BRAF|ENST00000288602.6:c.1799T>A|ENSP00000288602.6:p.Val600Glu|YES\tGT\t0/1\n\
7\t55259515\t.\tTCT\tT,TC\t.\tPASS\tCSQ=-|frameshift_variant|HIGH|EGFR|||YES,C|inframe_deletion|MODERATE|EGFR|||YES\tGT\t1/2\n\
7\t100\t.\tA\tG\t.\tPASS\tANN=G|synonymous_variant|LOW|GENE1|ENSG|transcript|ENST|protein_coding|1/2|c.3A>G|p.Leu1Leu|||||\tGT\t0/1\n";
    let c = calls(text, &opts(Some(Origin::Somatic)));
    let a = c[0].annotation.as_ref().unwrap();
    assert_eq!(a.gene.as_deref(), Some("BRAF"));
    assert_eq!(a.hgvs_p.as_deref(), Some("p.V600E"));
    assert_eq!(a.hgvs_c.as_deref(), Some("ENST00000288602.6:c.1799T>A"));
    assert_eq!(a.impact, Some(Impact::Moderate));
    assert_eq!(a.source, AnnotationSource::Vep);
    assert_eq!(
        c[1].annotation.as_ref().unwrap().consequence,
        vec!["frameshift_variant"]
    );
    assert_eq!(
        c[2].annotation.as_ref().unwrap().consequence,
        vec!["inframe_deletion"]
    );
    let s = c[3].annotation.as_ref().unwrap();
    assert_eq!(s.source, AnnotationSource::SnpEff);
    assert_eq!(s.hgvs_p.as_deref(), Some("p.L1L"));
}

#[test]
fn sites_of_a_sites_only_file() {
    let text = "##fileformat=VCFv4.2\n##contig=<ID=1,length=249250621>\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n\
1\t10\t.\tA\tC,T\t.\tPASS\t.\n1\t20\t.\tA\t<DEL>\t.\tPASS\t.\n";
    let mut r = read(text, &opts(None)).unwrap();
    assert!(r.samples().is_empty());
    let sites: Vec<Site> = r.sites().collect::<Result<_, _>>().unwrap();
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[1].variant.alternate, "T");
    let mut r = read(text, &opts(None)).unwrap();
    assert_eq!(r.calls().count(), 0);
}

#[test]
fn regions_parse() {
    let r: Region = "chr7:55,019,017-55211628".parse().unwrap();
    assert_eq!(
        (r.chrom.as_str(), r.start, r.end),
        ("7", 55019017, 55211628)
    );
    let r: Region = "X".parse().unwrap();
    assert_eq!((r.start, r.end), (1, u64::MAX));
    assert!("7:10-5".parse::<Region>().is_err());
    assert!("chrUn:1-5".parse::<Region>().is_err());
    assert_eq!("7:5-10".parse::<Region>().unwrap().to_string(), "7:5-10");
}

#[test]
fn gene_table_annotates_unannotated_calls() {
    let text = format!(
        "{HEAD}#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n\
chr7\t140753336\t.\tA\tT\t.\tPASS\t.\tGT\t0/1\n\
chr7\t1000\t.\tA\tT\t.\tPASS\t.\tGT\t0/1\n"
    );
    let c = calls(&text, &opts(Some(Origin::Somatic)));
    let a = c[0].annotation.as_ref().unwrap();
    assert_eq!(
        (a.gene.as_deref(), a.source),
        (Some("BRAF"), AnnotationSource::GeneTable)
    );
    assert!(a.consequence.is_empty() && a.hgvs_p.is_none());
    assert!(c[1].annotation.is_none());
}

#[test]
fn bcf_record_lengths_are_checked_before_allocation() {
    let text = "##fileformat=VCFv4.2\n##FILTER=<ID=PASS,Description=\"All filters passed\">\n\
##contig=<ID=1,length=249250621>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n\0";
    let mut bcf = b"BCF\x02\x02".to_vec();
    bcf.extend_from_slice(&(text.len() as u32).to_le_bytes());
    bcf.extend_from_slice(text.as_bytes());
    // A record claiming 4 GiB of site data.
    bcf.extend_from_slice(&u32::MAX.to_le_bytes());
    bcf.extend_from_slice(&0u32.to_le_bytes());
    let mut r = VcfReader::from_bytes(bcf, &opts(None)).unwrap();
    assert_eq!(r.encoding(), Encoding::Bcf);
    assert_eq!(r.build(), GenomeBuild::Grch37);
    let e = r.sites().next().unwrap().unwrap_err();
    assert_eq!(e.line, Some(1));
    assert!(e.message.contains("longer than"), "{e}");
}

/// A one-sample BCF (uncompressed) with one record whose GT series is `gt`
/// (type descriptor and values).
fn tiny_bcf(gt: &[u8]) -> Vec<u8> {
    let text = "##fileformat=VCFv4.2\n##FILTER=<ID=PASS,Description=\"All filters passed\">\n\
##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
##contig=<ID=1,length=249250621>\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n\0";
    let mut bcf = b"BCF\x02\x02".to_vec();
    bcf.extend_from_slice(&(text.len() as u32).to_le_bytes());
    bcf.extend_from_slice(text.as_bytes());
    let mut site = Vec::new();
    site.extend_from_slice(&0i32.to_le_bytes()); // contig 1
    site.extend_from_slice(&99i32.to_le_bytes()); // POS 100
    site.extend_from_slice(&1i32.to_le_bytes()); // rlen
    site.extend_from_slice(&0x7F80_0001u32.to_le_bytes()); // QUAL missing
    site.extend_from_slice(&0u16.to_le_bytes()); // n_info
    site.extend_from_slice(&2u16.to_le_bytes()); // n_allele
    site.extend_from_slice(&[1, 0, 0, 1]); // n_sample 1, n_fmt 1
    site.extend_from_slice(&[0x07, 0x17, b'A', 0x17, b'C', 0x11, 0x00]); // ID, REF, ALT, PASS
    let mut indiv = vec![0x11, 0x01]; // key GT (dictionary index 1)
    indiv.extend_from_slice(gt);
    bcf.extend_from_slice(&(site.len() as u32).to_le_bytes());
    bcf.extend_from_slice(&(indiv.len() as u32).to_le_bytes());
    bcf.extend_from_slice(&site);
    bcf.extend_from_slice(&indiv);
    bcf
}

#[test]
fn bcf_records_decoded_and_malformed_samples_refused() {
    let o = opts(Some(Origin::Germline));
    // GT 0/1: int8 x2, (0+1)<<1 and (1+1)<<1.
    let mut r = VcfReader::from_bytes(tiny_bcf(&[0x21, 0x02, 0x04]), &o).unwrap();
    let c: Vec<Call> = r.calls().collect::<Result<_, _>>().unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].line, c[0].variant.pos), (1, 100));
    assert_eq!(c[0].variant.alternate, "C");
    assert_eq!(c[0].zygosity, Some(Zygosity::Heterozygous));
    // A GT series of no type, of float type, and one shorter than declared.
    for gt in [&[0x00][..], &[0x25, 0, 0, 0, 0, 0, 0, 0, 0], &[0x21, 0x02]] {
        let mut r = VcfReader::from_bytes(tiny_bcf(gt), &o).unwrap();
        let e = r.calls().next().unwrap().unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("BCF"), "{e}");
    }
}

#[test]
fn bcf_header_errors_quote_nothing() {
    let text = "##fileformat=VCFv4.2\n##INFO=<ID=SECRET-NAME-1\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tSECRET-NAME-1\n\0";
    let mut bcf = b"BCF\x02\x02".to_vec();
    bcf.extend_from_slice(&(text.len() as u32).to_le_bytes());
    bcf.extend_from_slice(text.as_bytes());
    let e = VcfReader::from_bytes(bcf, &opts(None)).unwrap_err();
    assert!(!e.to_string().contains("SECRET"), "{e}");
    assert!(e.message.contains("BCF header"), "{e}");
}

#[test]
fn bcf_dictionary_indices_are_bounded() {
    let text = "##fileformat=VCFv4.2\n##FILTER=<ID=PASS,Description=\"All filters passed\",IDX=0>\n\
##contig=<ID=1,length=249250621,IDX=44444444444440>\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n\0";
    let mut bcf = b"BCF\x02\x02".to_vec();
    bcf.extend_from_slice(&(text.len() as u32).to_le_bytes());
    bcf.extend_from_slice(text.as_bytes());
    let e = VcfReader::from_bytes(bcf, &opts(None)).unwrap_err();
    assert!(e.message.contains("BCF header"), "{e}");
}
