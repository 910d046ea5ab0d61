//! A federation of three sites with the synthetic cohort's FHIR data and
//! sequencing batches ingested, and readers of the cohort's genomic truth.

use oncofed_hub_api::{BeaconReply, HubClient, beacon_request};
use oncofed_model::SiteId;
use oncofed_node::QueryService;
use oncofed_protocol::beacon::defence::DefenceConfig;
use oncofed_synth::SynthConfig;
use oncofed_synth::genomics::GenomicsConfig;
use oncofed_testkit::{Cohort, LocalFederation};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

pub const SITES: usize = 3;

/// The cohort: every person sequenced, a small germline panel.
pub fn cohort(persons: u64) -> Cohort {
    Cohort::generate_with(SynthConfig {
        seed: 16,
        sites: SITES as u32,
        persons,
        genomics: Some(GenomicsConfig {
            share: 1.0,
            panel_size: 1_000,
            ..GenomicsConfig::default()
        }),
        ..SynthConfig::default()
    })
}

/// A running federation with the cohort ingested (FHIR, then sequencing).
pub struct Running {
    pub fed: LocalFederation,
    pub services: Vec<QueryService>,
    pub _dir: tempfile::TempDir,
}

pub async fn start(cohort: &Cohort, defences: DefenceConfig) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let sites: Vec<SiteId> = (1..=SITES)
        .map(|k| SiteId::new(format!("site-{k}")).unwrap())
        .collect();
    let panel = oncofed_node::agent::beacon::AlleleFrequencies::read(
        &cohort.out().join("ground-truth/background-panel.tsv"),
        oncofed_model::GenomeBuild::Grch38,
    )
    .unwrap();
    let mut fed = LocalFederation::builder(dir.path(), sites)
        .tls(false)
        .beacon_defences(defences)
        .beacon_frequencies(Arc::new(panel))
        .start()
        .await
        .unwrap();
    let mut services = Vec::new();
    for i in 0..SITES {
        let site_dir = cohort.site_dir(&format!("site-{}", i + 1));
        let (service, _) = fed.ingest_site(i, &site_dir).await.unwrap();
        oncofed_testkit::beacon::ingest_genomics(&fed, i, &service, &site_dir.join("genomics"))
            .await
            .unwrap();
        fed.connect_site(i, &service, 2).await.unwrap();
        services.push(service);
    }
    Running {
        fed,
        services,
        _dir: dir,
    }
}

/// One call of the cohort's truth (`ground-truth/genomics.csv`).
#[derive(Debug, Clone)]
pub struct TruthCall {
    pub person: String,
    pub site: String,
    pub chrom: String,
    pub pos: u64,
    pub reference: String,
    pub alternate: String,
}

fn bare(chrom: &str) -> String {
    chrom.strip_prefix("chr").unwrap_or(chrom).to_owned()
}

pub fn truth_calls(cohort: &Cohort) -> Vec<TruthCall> {
    let text = std::fs::read_to_string(cohort.out().join("ground-truth/genomics.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (person, site, chrom, pos, r, a) = (
        col("person_id"),
        col("site"),
        col("chrom"),
        col("pos"),
        col("ref"),
        col("alt"),
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            TruthCall {
                person: f[person].into(),
                site: f[site].into(),
                chrom: bare(f[chrom]),
                pos: f[pos].parse().unwrap(),
                reference: f[r].into(),
                alternate: f[a].into(),
            }
        })
        .collect()
}

/// Whether the person's consents permit feasibility use of their genetic
/// data: the genetic opt-in and no withdrawal. The opt-in is an explicit
/// consent, so a GDNG objection (to use without consent) does not cancel it;
/// a broad consent without the opt-in does not cover genetic data.
pub fn consented(persons: &HashMap<String, BTreeMap<String, String>>, person: &str) -> bool {
    let p = &persons[person];
    p["genetic_opt_in"] == "1" && p["withdrawn"] == "0"
}

/// (site, person) pairs carrying an allele, per the truth.
pub fn carriers(
    calls: &[TruthCall],
    chrom: &str,
    pos: u64,
    r: &str,
    a: &str,
) -> BTreeSet<(String, String)> {
    calls
        .iter()
        .filter(|c| c.chrom == chrom && c.pos == pos && c.reference == r && c.alternate == a)
        .map(|c| (c.site.clone(), c.person.clone()))
        .collect()
}

/// `requestParameters` of one allele (VCF position).
pub fn allele(chrom: &str, pos: u64, r: &str, a: &str) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("assemblyId".into(), json!("GRCh38"));
    p.insert("referenceName".into(), json!(chrom));
    p.insert("start".into(), json!([pos - 1]));
    p.insert("referenceBases".into(), json!(r));
    p.insert("alternateBases".into(), json!(a));
    p
}

pub async fn ask(
    client: &HubClient,
    params: Map<String, Value>,
    project: Option<&str>,
) -> BeaconReply {
    client
        .beacon_g_variants(&beacon_request(params, Some("count")), project)
        .await
        .unwrap()
}

/// Allele as (chrom, VCF position, ref, alt).
pub type Allele = (String, u64, String, String);
/// A consented member: (person, site, local id) and their germline alleles.
pub type Member = ((String, String, String), Vec<Allele>);

/// Every patient's non-reference PASS germline alleles at `site`, by local
/// id, read from the site's germline VCFs through `samples.csv`.
pub fn germline_by_patient(cohort: &Cohort, site: &str) -> HashMap<String, Vec<Allele>> {
    let dir = cohort.site_dir(site).join("genomics");
    let manifest = std::fs::read_to_string(dir.join("samples.csv")).unwrap();
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (file, patient, origin) = (col("file"), col("patient_id"), col("origin"));
    let mut out: HashMap<String, Vec<Allele>> = HashMap::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        if f[origin] != "germline" {
            continue;
        }
        let vcf = std::fs::read_to_string(dir.join(f[file])).unwrap();
        let alleles = out.entry(f[patient].to_owned()).or_default();
        for line in vcf.lines().filter(|l| !l.starts_with('#')) {
            let v: Vec<&str> = line.split('\t').collect();
            let gt = v.get(9).and_then(|s| s.split(':').next()).unwrap_or("0/0");
            if gt.contains('1') && v[6] == "PASS" {
                alleles.push((bare(v[0]), v[1].parse().unwrap(), v[3].into(), v[4].into()));
            }
        }
        alleles.sort();
        alleles.dedup();
    }
    out
}

/// Population frequencies of the panel (`background-panel.tsv`).
pub fn panel(cohort: &Cohort) -> HashMap<(String, u64, String, String), f64> {
    let text =
        std::fs::read_to_string(cohort.out().join("ground-truth/background-panel.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                (bare(f[0]), f[1].parse().unwrap(), f[2].into(), f[3].into()),
                f[4].parse().unwrap(),
            )
        })
        .collect()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A Python with `jsonschema`, or `None` (skip, unless `ONCOFED_REQUIRE_PEERS`).
pub fn python() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("ONCOFED_BEACON_PYTHON") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(workspace().join(".venv-c4gh/bin/python"));
    let found = candidates.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import jsonschema, referencing"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if found.is_none() {
        assert!(
            !oncofed_test_peers::peers_required(),
            "no Python with jsonschema and ONCOFED_REQUIRE_PEERS is set: run scripts/setup-peers"
        );
        println!("skipped schema validation: no Python with jsonschema (run scripts/setup-peers)");
    }
    found
}

/// Validates `(name, schema file under framework/json/responses/, document)`
/// cases; returns the names of the invalid ones with their errors.
pub fn invalid(py: &Path, cases: &[(String, &str, Value)]) -> Vec<String> {
    use std::io::Write;
    let input: Vec<Value> = cases
        .iter()
        .map(|(name, schema, doc)| {
            json!({ "name": name, "schema": format!("framework/json/responses/{schema}"), "document": doc })
        })
        .collect();
    let mut child = Command::new(py)
        .arg(workspace().join("scripts/peers/beacon_validate.py"))
        .arg(workspace().join("crates/beacon/schemas"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    results
        .into_iter()
        .filter(|r| r["valid"] != json!(true))
        .map(|r| format!("{}: {}", r["name"], r["errors"]))
        .collect()
}

/// Consented carriers of each germline allele in the whole beacon, as the
/// sites count them: distinct (site, person) pairs with a PASS non-reference
/// call in a germline VCF whose person has the genetic opt-in; and each
/// (person, site, local id) with their alleles.
#[allow(clippy::type_complexity)]
pub fn germline_truth(
    cohort: &Cohort,
) -> (
    HashMap<Allele, usize>,
    Vec<((String, String, String), Vec<Allele>)>,
) {
    let truth = cohort.truth();
    let persons = truth.by_person();
    let mut carriers: HashMap<Allele, usize> = HashMap::new();
    let mut members = Vec::new();
    for k in 1..=SITES {
        let site = format!("site-{k}");
        let person_of: HashMap<String, String> = truth
            .records
            .iter()
            .filter(|r| r.site == site)
            .map(|r| (r.local_id.clone(), r.person_id.clone()))
            .collect();
        for (local_id, alleles) in germline_by_patient(cohort, &site) {
            let Some(person) = person_of.get(&local_id) else {
                continue;
            };
            if !consented(&persons, person) {
                continue;
            }
            for a in &alleles {
                *carriers.entry(a.clone()).or_default() += 1;
            }
            members.push(((person.clone(), site.clone(), local_id), alleles));
        }
    }
    members.sort();
    (carriers, members)
}
