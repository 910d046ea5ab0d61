//! Properties of generated cohorts: determinism, valid identifiers, consistent dates,
//! configured shares, structurally sound bundles, and a survival signal.

use chrono::NaiveDate;
use oncofed_idat::Kvnr;
use oncofed_synth::{
    ConsentKind, Entity, Marker, OutputFormat, ResourceBody, Stage, SynthConfig, SynthError,
    VariationRates, generate, patient_bundle, person,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

fn run(config: &SynthConfig) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cohort");
    let mut last = 0;
    let summary = generate(config, &out, &mut |n| last = n).unwrap();
    assert_eq!(last, config.persons, "progress reports the final count");
    assert_eq!(summary.persons, config.persons);
    (dir, out)
}

fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// Every Bundle in a site directory (one per NDJSON line or JSON file).
fn bundles(out: &Path) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for (path, bytes) in files(out) {
        let name = path.to_string_lossy().to_string();
        if !name.starts_with("site-") {
            continue;
        }
        let text = String::from_utf8(bytes).unwrap();
        if name.ends_with(".ndjson") {
            for (i, line) in text.lines().enumerate() {
                all.push((
                    format!("{name}:{}", i + 1),
                    serde_json::from_str(line).unwrap(),
                ));
            }
        } else {
            all.push((name, serde_json::from_str(&text).unwrap()));
        }
    }
    all
}

fn csv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split(',').map(str::to_owned))
                .collect()
        })
        .collect()
}

fn small(seed: u64, persons: u64) -> SynthConfig {
    SynthConfig {
        seed,
        persons,
        sites: 3,
        ..SynthConfig::default()
    }
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
    for format in [OutputFormat::Ndjson, OutputFormat::Json] {
        let config = SynthConfig {
            format,
            bundle_size: 25,
            ..small(11, 120)
        };
        let (_a, out_a) = run(&config);
        let (_b, out_b) = run(&config);
        let (_c, out_c) = run(&SynthConfig {
            seed: 12,
            ..config.clone()
        });
        let (fa, fb, fc) = (files(&out_a), files(&out_b), files(&out_c));
        assert!(fa.len() >= 6, "{:?}", fa.keys());
        assert_eq!(
            fa, fb,
            "{format:?}: same seed must give byte-identical output"
        );
        assert_ne!(
            fa.get(Path::new("ground-truth/cohort.csv")),
            fc.get(Path::new("ground-truth/cohort.csv"))
        );
        assert_ne!(
            fa.get(Path::new("site-1/bundles-00000.ndjson"))
                .or(fa.get(Path::new("site-1/bundle-00000.json"))),
            fc.get(Path::new("site-1/bundles-00000.ndjson"))
                .or(fc.get(Path::new("site-1/bundle-00000.json")))
        );
    }
    // The in-memory API draws the very same persons.
    let c = small(11, 10);
    assert_eq!(
        patient_bundle(&person(&c, 3).sites[0]),
        patient_bundle(&person(&c, 3).sites[0])
    );
}

#[test]
fn bundles_are_structurally_valid_and_kvnrs_check_out() {
    for format in [OutputFormat::Ndjson, OutputFormat::Json] {
        let config = SynthConfig {
            format,
            bundle_size: 40,
            ..small(5, 150)
        };
        let (_d, out) = run(&config);
        let mut kvnrs = 0;
        let mut patients = 0;
        for (where_, b) in bundles(&out) {
            assert_eq!(b["resourceType"], "Bundle", "{where_}");
            assert_eq!(b["type"], "transaction", "{where_}");
            let entries = b["entry"].as_array().unwrap();
            let full_urls: HashSet<&str> = entries
                .iter()
                .map(|e| e["fullUrl"].as_str().unwrap())
                .collect();
            assert_eq!(full_urls.len(), entries.len(), "{where_}: fullUrls unique");
            let mut in_bundle = 0;
            for e in entries {
                let r = &e["resource"];
                let rtype = r["resourceType"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{where_}: resourceType"));
                let id = r["id"].as_str().unwrap();
                assert!(e["fullUrl"].as_str().unwrap().starts_with("urn:uuid:"));
                assert_eq!(e["request"]["method"], "PUT");
                assert_eq!(e["request"]["url"], format!("{rtype}/{id}"));
                let mut refs = Vec::new();
                collect_refs(r, &mut refs);
                check_loinc(r);
                for reference in refs {
                    assert!(
                        full_urls.contains(reference.as_str()),
                        "{where_}: {reference} does not resolve"
                    );
                }
                if rtype == "Patient" {
                    in_bundle += 1;
                    for ident in r["identifier"].as_array().unwrap() {
                        if ident["system"] == Kvnr::SYSTEM {
                            Kvnr::new(ident["value"].as_str().unwrap()).expect("valid KVNR");
                            kvnrs += 1;
                        }
                    }
                }
            }
            assert!(
                in_bundle >= 1 && in_bundle <= config.bundle_size,
                "{where_}: {in_bundle} patients"
            );
            patients += in_bundle;
        }
        assert!(
            kvnrs as f64 > 0.9 * patients as f64,
            "most patients carry a KVNR"
        );
    }
    // And the true identities too.
    for i in 0..500 {
        let p = person(&small(9, 500), i);
        Kvnr::new(p.identity.kvnr.as_ref().unwrap().as_str()).unwrap();
    }
}

/// Every LOINC code (not answer codes `LA…`) in `v` has a correct mod-10 check digit.
fn check_loinc(v: &Value) {
    match v {
        Value::Object(m) => {
            if m.get("system").and_then(Value::as_str) == Some("http://loinc.org") {
                let code = m["code"].as_str().unwrap();
                if !code.starts_with("LA") {
                    let (num, check) = code.split_once('-').unwrap();
                    let sum: u32 = num
                        .bytes()
                        .rev()
                        .enumerate()
                        .map(|(i, b)| {
                            let d = u32::from(b - b'0') * if i % 2 == 0 { 2 } else { 1 };
                            if d > 9 { d - 9 } else { d }
                        })
                        .sum();
                    assert_eq!(
                        (10 - sum % 10) % 10,
                        check.parse::<u32>().unwrap(),
                        "LOINC {code}"
                    );
                }
            }
            m.values().for_each(check_loinc);
        }
        Value::Array(a) => a.iter().for_each(check_loinc),
        _ => {}
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("reference", Value::String(s)) => out.push(s.clone()),
                    _ => collect_refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

#[test]
fn death_is_never_before_diagnosis_nor_diagnosis_before_birth() {
    let config = small(21, 3000);
    for i in 0..config.persons {
        let p = person(&config, i);
        let t = &p.truth;
        let end = t.end_date();
        assert!(
            t.birth_date < t.diagnosis_date && t.diagnosis_date <= end,
            "{}",
            p.person_id
        );
        assert!(t.survival_days >= 0);
        for s in &p.sites {
            assert!(s.identity.birth_date.unwrap() < t.diagnosis_date);
            assert!(
                t.diagnosis_date <= s.first_contact
                    && s.first_contact <= s.last_contact
                    && s.last_contact <= end
            );
            if let Some(d) = s.deceased {
                assert!(t.event && d == end);
            }
            for r in &s.resources {
                let dates: Vec<NaiveDate> = match &r.body {
                    ResourceBody::Condition(c) => vec![c.onset, c.recorded],
                    ResourceBody::Observation(o) => vec![o.date],
                    ResourceBody::Procedure(x) => vec![x.date],
                    ResourceBody::Medication(m) => {
                        assert!(m.end.is_none_or(|e| e >= m.start));
                        assert!(
                            m.end.is_some() || !t.event,
                            "a dead person's therapy has ended"
                        );
                        vec![m.start]
                    }
                    ResourceBody::Consent(c) => vec![c.date],
                };
                for d in dates {
                    assert!(
                        t.diagnosis_date <= d && d <= end,
                        "{}: {} on {d}",
                        p.person_id,
                        r.resource_type()
                    );
                }
            }
        }
        assert_eq!(
            p.sites[0].deceased.is_some(),
            t.event,
            "the primary site knows about a death"
        );
    }
}

#[test]
fn multi_site_persons_appear_in_linkage_csv_with_the_configured_shares() {
    let (_d, out) = run(&small(33, 3000));
    let linkage = csv(&out.join("ground-truth/linkage.csv"));
    let cohort = csv(&out.join("ground-truth/cohort.csv"));
    assert_eq!(cohort.len(), 3000);
    let mut per_person: HashMap<&str, Vec<&HashMap<String, String>>> = HashMap::new();
    let mut local_ids = HashSet::new();
    for row in &linkage {
        per_person
            .entry(row["person_id"].as_str())
            .or_default()
            .push(row);
        assert!(
            local_ids.insert((row["site"].clone(), row["local_id"].clone())),
            "local ids unique per site"
        );
    }
    assert_eq!(per_person.len(), 3000);
    let share = |n: usize| per_person.values().filter(|v| v.len() == n).count() as f64 / 3000.0;
    assert!((share(2) - 0.12).abs() < 0.025, "two sites: {}", share(2));
    assert!((share(3) - 0.03).abs() < 0.012, "three sites: {}", share(3));
    for c in &cohort {
        let rows = &per_person[c["person_id"].as_str()];
        assert_eq!(rows.len().to_string(), c["n_sites"]);
        assert_eq!(rows[0]["site"], c["first_site"]);
        let sites: HashSet<&str> = rows.iter().map(|r| r["site"].as_str()).collect();
        assert_eq!(sites.len(), rows.len(), "a person's sites are distinct");
    }
    // The site files hold exactly the linked patients.
    let mut patients_per_site: BTreeMap<String, u64> = BTreeMap::new();
    for row in &linkage {
        *patients_per_site.entry(row["site"].clone()).or_default() += 1;
    }
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["patients_per_site"],
        serde_json::to_value(&patients_per_site).unwrap()
    );
    assert_eq!(
        manifest["resources_by_type"]["Patient"],
        linkage.len() as u64
    );
}

#[test]
fn variation_and_consent_rates_are_honoured() {
    let all = VariationRates {
        name_typo: 1.0,
        surname_change: 1.0,
        day_month_swap: 1.0,
        missing_kvnr: 1.0,
    };
    let config = SynthConfig {
        variation: all,
        ..small(8, 200)
    };
    for i in 0..config.persons {
        for s in &person(&config, i).sites {
            assert!(s.identity.kvnr.is_none());
            assert!(s.variations.len() >= 3, "{:?}", s.variations);
        }
    }
    let none = VariationRates {
        name_typo: 0.0,
        surname_change: 0.0,
        day_month_swap: 0.0,
        missing_kvnr: 0.0,
    };
    let config = SynthConfig {
        variation: none,
        ..small(8, 200)
    };
    for i in 0..config.persons {
        let p = person(&config, i);
        assert!(
            p.sites
                .iter()
                .all(|s| s.variations.is_empty() && s.identity == p.identity)
        );
    }

    let config = small(8, 4000);
    let mut counts = [0usize; 4];
    for i in 0..config.persons {
        let p = person(&config, i);
        let t = &p.truth;
        for (c, flag) in counts.iter_mut().zip([
            t.broad_consent,
            t.gdng_objection,
            t.genetic_opt_in,
            t.withdrawn,
        ]) {
            *c += usize::from(flag);
        }
        for s in &p.sites {
            let kinds: Vec<ConsentKind> = s
                .resources
                .iter()
                .filter_map(|r| match &r.body {
                    ResourceBody::Consent(c) => Some(c.kind),
                    _ => None,
                })
                .collect();
            assert_eq!(kinds.contains(&ConsentKind::BroadConsent), t.broad_consent);
            assert_eq!(
                kinds.contains(&ConsentKind::GdngObjection),
                t.gdng_objection
            );
            assert_eq!(
                kinds.contains(&ConsentKind::GeneticResearch),
                t.genetic_opt_in
            );
            assert_eq!(kinds.contains(&ConsentKind::Withdrawal), t.withdrawn);
        }
    }
    let rate = |i: usize| counts[i] as f64 / 4000.0;
    assert!((rate(0) - 0.75).abs() < 0.03 && (rate(1) - 0.05).abs() < 0.015);
    assert!((rate(2) - 0.55).abs() < 0.03 && rate(3) < 0.025);
}

#[test]
fn broad_consent_is_written_as_the_profile_says() {
    let config = SynthConfig {
        consent: oncofed_synth::ConsentRates {
            broad_consent: 1.0,
            ..Default::default()
        },
        ..small(1, 1)
    };
    let b = patient_bundle(&person(&config, 0).sites[0]);
    let consent = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| {
            r["resourceType"] == "Consent"
                && r["policy"][0]["uri"] == "urn:oid:2.16.840.1.113883.3.1937.777.24.2.1791"
        });
    let c = consent.expect("broad consent");
    assert_eq!(c["provision"]["type"], "deny");
    let codes: Vec<&str> = c["provision"]["provision"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|p| assert_eq!(p["type"], "permit"))
        .map(|p| p["code"][0]["coding"][0]["code"].as_str().unwrap())
        .collect();
    for n in [6, 7, 8] {
        assert!(
            codes.contains(&format!("2.16.840.1.113883.3.1937.777.24.5.3.{n}").as_str()),
            "{codes:?}"
        );
    }
}

/// Kaplan–Meier median survival in days (None when not reached).
fn km_median(mut data: Vec<(i64, bool)>) -> Option<i64> {
    data.sort();
    let mut at_risk = data.len() as f64;
    let mut s = 1.0;
    let mut i = 0;
    while i < data.len() {
        let t = data[i].0;
        let (mut deaths, mut leaving) = (0.0, 0.0);
        while i < data.len() && data[i].0 == t {
            deaths += f64::from(u8::from(data[i].1));
            leaving += 1.0;
            i += 1;
        }
        s *= 1.0 - deaths / at_risk;
        at_risk -= leaving;
        if s <= 0.5 {
            return Some(t);
        }
    }
    None
}

#[test]
fn weibull_model_shows_its_signal() {
    let config = small(2024, 20_000);
    let mut by_stage: HashMap<(Entity, Stage), Vec<(i64, bool)>> = HashMap::new();
    let mut aml: HashMap<&str, Vec<(i64, bool)>> = HashMap::new();
    for i in 0..config.persons {
        let t = person(&config, i).truth;
        let obs = (t.survival_days, t.event);
        if let Some(s) = t.stage {
            by_stage.entry((t.entity, s)).or_default().push(obs);
        }
        if t.entity == Entity::Aml {
            let group = match (t.marker(Marker::Npm1), t.marker(Marker::Flt3Itd)) {
                (_, Some(true)) => "flt3",
                (Some(true), _) => "npm1",
                _ => "other",
            };
            aml.entry(group).or_default().push(obs);
        }
    }
    for entity in [Entity::Nsclc, Entity::Colorectal] {
        let i = km_median(by_stage[&(entity, Stage::I)].clone()).unwrap_or(i64::MAX);
        let iv =
            km_median(by_stage[&(entity, Stage::IV)].clone()).expect("stage IV median reached");
        assert!(
            (iv as f64) < 0.4 * i as f64,
            "{entity}: stage IV median {iv} d vs stage I {i} d"
        );
    }
    let flt3 = km_median(aml["flt3"].clone()).unwrap();
    let npm1 = km_median(aml["npm1"].clone()).unwrap_or(i64::MAX);
    assert!(
        flt3 * 2 < npm1,
        "AML FLT3-ITD {flt3} d vs NPM1 without FLT3 {npm1} d"
    );
}

#[test]
fn refuses_a_non_empty_directory_and_bad_parameters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("old.txt"), "x").unwrap();
    let err = generate(&small(1, 1), dir.path(), &mut |_| {}).unwrap_err();
    assert!(matches!(err, SynthError::OutputNotEmpty { .. }), "{err}");
    let bad = SynthConfig {
        sites: 0,
        ..small(1, 1)
    };
    let err = generate(&bad, &dir.path().join("new"), &mut |_| {}).unwrap_err();
    assert!(matches!(err, SynthError::InvalidConfig(_)), "{err}");
}
