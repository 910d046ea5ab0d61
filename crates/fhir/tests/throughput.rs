//! Throughput, single-threaded. Run in release:
//! `cargo test -p oncofed-fhir --release --test throughput -- --ignored --nocapture`

use oncofed_fhir::{Batch, map_document, map_ndjson_line};
use std::time::Instant;

const BUNDLE: &str = include_str!("fixtures/oncology-bundle.json");

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn resources_per_second() {
    // Oncology resources as NDJSON lines (references as Patient/<id>).
    let bundle: serde_json::Value = serde_json::from_str(BUNDLE).unwrap();
    let onc: Vec<String> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut r = e["resource"].clone();
            r["id"] = r.get("id").cloned().unwrap_or_else(|| "pat-2".into());
            r.to_string()
                .replace(
                    "urn:uuid:0b6c2f4e-1111-4c6a-9a55-000000000001",
                    "Patient/pat-1",
                )
                .replace(
                    "urn:uuid:0b6c2f4e-2222-4c6a-9a55-000000000002",
                    "Patient/pat-2",
                )
        })
        .collect();
    let mut sets: Vec<(&str, Vec<String>)> = vec![("oncology profile lines", onc)];
    let dir = oncofed_testkit::shared_data().join("synthea-bulk-10-patients");
    for name in [
        "Patient",
        "Condition",
        "Procedure",
        "MedicationRequest",
        "Encounter",
    ] {
        if let Ok(text) = std::fs::read_to_string(dir.join(format!("{name}.000.ndjson"))) {
            sets.push((name, text.lines().map(str::to_owned).collect()));
        }
    }
    for (name, lines) in &sets {
        let bytes: usize = lines.iter().map(String::len).sum();
        let rounds = (200_000 / lines.len()).max(1);
        let start = Instant::now();
        let mut n = 0;
        for _ in 0..rounds {
            let mut all = Batch::default();
            for (i, l) in lines.iter().enumerate() {
                all.merge(map_ndjson_line(l, "t.ndjson", i + 1).unwrap());
            }
            n += all.resources;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name:>24}: {:>9.0} resources/s, {:>6.0} MB/s ({} B/resource)",
            n as f64 / secs,
            (bytes * rounds) as f64 / secs / 1e6,
            bytes / lines.len()
        );
    }
    let start = Instant::now();
    let rounds = 5_000;
    for _ in 0..rounds {
        map_document(BUNDLE.as_bytes(), "b.json").unwrap();
    }
    let per = start.elapsed().as_secs_f64() / rounds as f64;
    println!(
        "{:>24}: {:>9.0} resources/s",
        "pretty-printed Bundle",
        21.0 / per
    );
}
