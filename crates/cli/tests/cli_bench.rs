//! `oncofed bench federation` on a tiny federation: every part runs (sites as
//! separate `oncofed node agent` processes included) and reports figures.

mod support;

use support::run_ok;

#[test]
fn bench_federation_runs_every_part_and_reports_complete_answers() {
    let report = run_ok(&[
        "bench",
        "federation",
        "--part",
        "site,hub,processes",
        "--site-persons",
        "300",
        "--hub-sites",
        "3",
        "--hub-persons-per-site",
        "5",
        "--process-sites",
        "2",
        "--process-persons",
        "200",
        "--queries",
        "4",
        "--plain-http",
        "--json",
    ]);
    let site = &report["site"];
    assert_eq!(site["patients"], 300, "{report}");
    assert_eq!(site["answer"]["n"], 4);
    assert!(site["answer"]["p95_ms"].as_f64().unwrap() > 0.0);
    assert!(
        site["consent_path"]
            .as_str()
            .unwrap()
            .contains("ConsentGate")
    );
    let hub = &report["hub"];
    assert_eq!(hub["sites"], 3);
    assert_eq!(hub["incomplete"], 0, "{report}");
    assert!(hub["definition"].as_str().unwrap().contains("minus"));
    let processes = &report["processes"];
    assert_eq!(processes["sites"], 2);
    assert_eq!(processes["incomplete"], 0, "{report}");
    assert_eq!(processes["end_to_end"]["n"], 4);
    assert!(report.get("sizes").is_none(), "not asked for");
}
