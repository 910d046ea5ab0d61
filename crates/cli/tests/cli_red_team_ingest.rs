//! `oncofed node ingest` against the red-team inputs of issue 9 (defects 5 and 6),
//! end to end through a separate trust-centre process: a malformed Consent, a line
//! that is not UTF-8 (the first of its file) and an over-long line are each one
//! rejected unit, the good bundles around them land, the exit status is 2; a token
//! file others can read is warned about; the node's data is owner-only.

mod support;

use support::{oncofed, serve_trustee};

fn bundle(id: &str, labs: usize, consent: Option<serde_json::Value>) -> Vec<u8> {
    let mut entries = vec![serde_json::json!({"fullUrl": format!("urn:uuid:{id}"),
        "resource": {"resourceType": "Patient", "id": id, "gender": "male", "birthDate": "1952-03-09",
            "name": [{"family": "Oberländer", "given": ["Friedhelm"]}]}})];
    for n in 0..labs {
        entries.push(serde_json::json!({"resource": {"resourceType": "Observation",
            "id": format!("{id}-obs-{n}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
            "subject": {"reference": format!("urn:uuid:{id}")}, "effectiveDateTime": "2024-02-01",
            "valueQuantity": {"value": 12.1, "system": "http://unitsofmeasure.org", "code": "g/dL"}}}));
    }
    if let Some(mut c) = consent {
        c["patient"] = serde_json::json!({"reference": format!("urn:uuid:{id}")});
        entries.push(serde_json::json!({"resource": c}));
    }
    serde_json::json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
        .to_string()
        .into_bytes()
}

#[test]
fn red_team_ingest_rejects_bad_units_alone_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    std::fs::create_dir_all(d("tc")).unwrap();
    let out = oncofed()
        .args(["trustee", "add-site", "--sites-file", &d("tc/sites.txt")])
        .args(["--site", "site-1", "--token-out", &d("site-1.token")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (_served, url) = serve_trustee(&dir.path().join("tc"));

    // A Consent without status (defect 5), the trust centre would refuse it with 400.
    let no_status = serde_json::json!({"resourceType": "Consent", "dateTime": "2024-01-01",
        "provision": {"type": "deny", "code": [{"coding": [
            {"system": "urn:oncofed:consent-policy", "code": "withdrawal"}]}]}});
    let mut not_utf8 = bundle("u1", 1, None);
    let at = not_utf8
        .windows(2)
        .position(|w| w == "ä".as_bytes())
        .unwrap();
    not_utf8.splice(at..at + 2, [0xe4]);
    std::fs::create_dir_all(d("in")).unwrap();
    std::fs::write(
        d("in/a.ndjson"),
        [not_utf8, bundle("u2", 1, None)].join(&b'\n'),
    )
    .unwrap();
    let long = bundle("u4", 12_000, None);
    assert!(long.len() > 1 << 20);
    std::fs::write(
        d("in/b.ndjson"),
        [
            bundle("u3", 1, Some(no_status)),
            long,
            bundle("u5", 1, None),
        ]
        .join(&b'\n'),
    )
    .unwrap();

    // Defect 6: a token file others can read is used, with a warning.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let loose = std::fs::Permissions::from_mode(0o644);
        std::fs::set_permissions(d("site-1.token"), loose).unwrap();
    }
    let out = oncofed()
        .args(["node", "ingest", "--data-dir", &d("n1"), "--trustee", &url])
        .args(["--token-file", &d("site-1.token"), "--max-line-mib", "1"])
        .args(["--json", &d("in")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["units_ok"], 2, "{report}");
    assert_eq!(report["units_failed"], 3, "{report}");
    assert_eq!(report["written"]["facts_new"], 2, "{report}");
    let errors: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    let find = |needle: &str| errors.iter().any(|e| e.contains(needle));
    assert!(find("a.ndjson line 1: not UTF-8"), "{errors:?}");
    assert!(
        find("b.ndjson line 1, entry 2 (Consent): field status: invalid Consent"),
        "{errors:?}"
    );
    assert!(find("b.ndjson line 2: the line has"), "{errors:?}");
    for personal in ["Friedhelm", "Oberl", "1952"] {
        assert!(!report.to_string().contains(personal) && !stderr.contains(personal));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert!(
            stderr.contains("site-1.token") && stderr.contains("chmod 600"),
            "{stderr}"
        );
        let mode = |p: &str| std::fs::metadata(d(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("n1"), 0o700);
        assert_eq!(mode("n1/research.db"), 0o600);
    }
}
