//! Sequencing fixtures shared by the genomics tests: three persons (two with
//! the genetic opt-in) and a Mutect2-style tumour/normal VCF.

use serde_json::{Value, json};
use std::path::Path;

/// The header of `samples.csv`.
pub const HEAD: &str = "file,sample,patient_id,family,given,birth_date,sex,collected,origin\n";

/// Anna (p-1) and Clara (p-3) opted in to genetic research; Berta (p-2) did not.
pub fn fhir() -> Vec<Value> {
    let patient = |id: &str, given: &str, birth: &str| {
        json!({"fullUrl": format!("urn:uuid:{id}"),
               "resource": {"resourceType": "Patient", "id": id, "gender": "female", "birthDate": birth,
                            "name": [{"use": "official", "family": "Probe", "given": [given]}]},
               "request": {"method": "PUT", "url": format!("Patient/{id}")}})
    };
    let opt_in = |id: &str, patient: &str| {
        json!({"fullUrl": format!("urn:uuid:{id}"),
               "resource": {"resourceType": "Consent", "id": id, "status": "active", "dateTime": "2020-01-01",
                            "patient": {"reference": format!("urn:uuid:{patient}")},
                            "provision": {"type": "permit", "period": {"start": "2020-01-01", "end": "2049-12-31"},
                                "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "genetic-research"}]}]}},
               "request": {"method": "PUT", "url": format!("Consent/{id}")}})
    };
    vec![
        patient("p-1", "Anna", "1961-02-03"),
        patient("p-2", "Berta", "1970-05-06"),
        patient("p-3", "Clara", "1980-07-08"),
        opt_in("c-1", "p-1"),
        opt_in("c-3", "p-3"),
    ]
}

/// A Mutect2 tumour/normal file on GRCh38 with EGFR p.L858R (VEP-annotated)
/// and an unannotated KRAS call the gene table names.
pub fn mutect2(path: &Path, bad_pos_on_line: Option<usize>) {
    let mut text = String::from(
        "##fileformat=VCFv4.2\n\
         ##reference=GRCh38\n\
         ##tumor_sample=T-ANNA-0815\n\
         ##normal_sample=N-ANNA-0815\n\
         ##contig=<ID=chr7,length=159345973>\n\
         ##contig=<ID=chr12,length=133275309>\n\
         ##INFO=<ID=CSQ,Number=.,Type=String,Description=\"Consequence annotations from Ensembl VEP. Format: Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|HGVSc|HGVSp|CANONICAL|HGNC_ID\">\n\
         ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
         ##FORMAT=<ID=AD,Number=R,Type=Integer,Description=\"Allelic depths\">\n\
         ##FORMAT=<ID=AF,Number=A,Type=Float,Description=\"Allele fraction\">\n\
         ##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Depth\">\n\
         #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT-ANNA-0815\tN-ANNA-0815\n",
    );
    let records = [
        "chr7\t55191822\t.\tT\tG\t.\tPASS\tCSQ=G|missense_variant|MODERATE|EGFR|ENSG00000146648|Transcript|ENST00000275493|protein_coding|ENST00000275493.7:c.2573T>G|ENSP00000275493.2:p.Leu858Arg|YES|HGNC:3236\tGT:AD:AF:DP\t0/1:138,62:0.31:200\t0/0:120,0:0.0:120",
        "chr12\t25245350\t.\tC\tT\t.\tPASS\t.\tGT:AD:AF:DP\t0/1:150,50:0.25:200\t0/0:99,0:0.0:99",
    ];
    for (i, r) in records.iter().enumerate() {
        let line = if bad_pos_on_line == Some(i) {
            r.replacen("55191822", "55x91822", 1)
        } else {
            (*r).to_owned()
        };
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}
