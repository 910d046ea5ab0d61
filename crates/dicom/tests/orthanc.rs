//! Side by side with Orthanc's `/instances/{id}/anonymize` (PS3.15 2021b
//! Basic Profile): every pydicom wheel file both tools accept is
//! de-identified by both, and every attribute, sequences included, is
//! compared. Each difference must fall into a named, explained class
//! (`support::classes`); a difference in none of them fails the test, so a
//! regression, or a new unexplained difference, is caught.
//!
//! Two runs: the Basic Profile alone, and OncoFed's research options
//! (modified dates, patient characteristics, clean descriptors) against
//! Orthanc keeping what those options keep (it cannot shift dates or clean
//! text). Results: `docs/dicom-orthanc-comparison.md`.
//!
//! Skips, with the reason printed, only when Orthanc is not installed and
//! `ONCOFED_REQUIRE_PEERS` is unset.

mod support;

use oncofed_dicom::profile::{Action, table};
use oncofed_dicom::{Deidentifier, ProfileOption, Subject};
use oncofed_test_peers::Orthanc;
use std::collections::{BTreeMap, BTreeSet};
use support::classes::{Class, classify};
use support::compare::{Act, act, flatten, gone_with_parent};

const PSEUDONYM: &str = "PSN-ORTHANC";

/// Which comparison: the options applied by us and the body sent to Orthanc.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Run {
    Basic,
    Research,
}

impl Run {
    fn options(self) -> Vec<ProfileOption> {
        match self {
            Run::Basic => vec![],
            Run::Research => vec![
                ProfileOption::RetainLongitudinalModifiedDates,
                ProfileOption::RetainPatientCharacteristics,
                ProfileOption::CleanDescriptors,
            ],
        }
    }

    /// Orthanc's request: 2021b, private tags removed, Patient ID and Name
    /// set to the same pseudonym as ours; for the research run, `Keep` lists
    /// the input's attributes that the options keep or clean (Orthanc can
    /// only keep them as they are), except dates, which it cannot shift.
    fn body(self, input: &InMemDicomObject) -> serde_json::Value {
        let mut keep = BTreeSet::new();
        if self == Run::Research {
            let options: BTreeSet<ProfileOption> = self.options().into_iter().collect();
            for leaf in flatten(input).values() {
                let id = (u32::from(leaf.tag.group()) << 16) | u32::from(leaf.tag.element());
                let keeps = match table().rule(id).map(|r| r.action(&options)) {
                    Some(Action::Keep) => true,
                    Some(Action::Clean(o)) => o == ProfileOption::CleanDescriptors,
                    _ => false,
                };
                if keeps && leaf.tag.group() != 0x0002 {
                    keep.insert(format!(
                        "{:04x},{:04x}",
                        leaf.tag.group(),
                        leaf.tag.element()
                    ));
                }
            }
        }
        serde_json::json!({
            "Force": true,
            "DicomVersion": "2021b",
            "KeepPrivateTags": false,
            "Keep": keep,
            "Replace": { "PatientID": PSEUDONYM, "PatientName": PSEUDONYM },
        })
    }

    fn name(self) -> &'static str {
        match self {
            Run::Basic => "Basic Profile",
            Run::Research => "research options",
        }
    }
}

use dicom_object::InMemDicomObject;

/// Counts of one run.
#[derive(Default)]
struct Tally {
    files: usize,
    refused: Vec<String>,
    /// Same action by both, by outcome (UIDs replaced by both apart).
    agree: BTreeMap<String, usize>,
    classes: BTreeMap<Class, usize>,
    /// Unexplained differences by (tag, our action, Orthanc's): count and
    /// the first example.
    unexplained: BTreeMap<String, (usize, String)>,
    /// (file, path, value): identifying values of the input in Orthanc's
    /// output that ours does not hold.
    orthanc_leaks: Vec<String>,
    /// The reverse: in ours, not in Orthanc's. Must stay empty.
    our_leaks: Vec<String>,
}

fn compare_run(orthanc: &Orthanc, run: Run, files: &[std::path::PathBuf]) -> Tally {
    let de = Deidentifier::new(run.options(), &[9; 32]).unwrap();
    let subject = Subject {
        pseudonym: PSEUDONYM.into(),
        date_offset_days: -173,
        identifiers: vec![],
    };
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tally::default();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(input) = oncofed_dicom::read::open(path) else {
            t.refused.push(format!("{name}: dicom-rs cannot read it"));
            continue;
        };
        let bytes = std::fs::read(path).unwrap();
        let id = match orthanc.upload(&bytes) {
            Ok(id) => id,
            Err(e) => {
                t.refused
                    .push(format!("{name}: Orthanc refuses the upload ({e})"));
                continue;
            }
        };
        // Files sharing a SOP Instance UID (rtdose*.dcm, MR_small*.dcm) are
        // one instance to Orthanc: delete each before the next is uploaded.
        let anonymized = orthanc.anonymize(&id, &run.body(&input));
        orthanc.delete(&id).unwrap();
        let theirs = match anonymized {
            Ok(b) => b,
            Err(e) => {
                t.refused
                    .push(format!("{name}: Orthanc cannot anonymize it ({e})"));
                continue;
            }
        };
        let theirs_path = dir.path().join(format!("orthanc-{name}"));
        std::fs::write(&theirs_path, &theirs).unwrap();
        let theirs = match oncofed_dicom::read::open(&theirs_path) {
            Ok(f) => f,
            Err(e) => {
                t.refused
                    .push(format!("{name}: Orthanc's output unreadable ({e})"));
                continue;
            }
        };
        let secrets = support::secrets(&input, de.options());
        let (ours, _) = de.deidentify(input.clone(), &subject).unwrap();
        t.files += 1;
        let (i, o, r) = (flatten(&input), flatten(&ours), flatten(&theirs));
        let paths: BTreeSet<&String> = i.keys().chain(o.keys()).chain(r.keys()).collect();
        for p in paths {
            if gone_with_parent(p, &o) && gone_with_parent(p, &r) {
                continue;
            }
            if (gone_with_parent(p, &o) || gone_with_parent(p, &r)) && i.contains_key(p) {
                continue; // decided by the parent sequence's row
            }
            let (a, b) = (act(i.get(p), o.get(p)), act(i.get(p), r.get(p)));
            let (leaf_i, leaf_o, leaf_r) = (i.get(p), o.get(p), r.get(p));
            let tag = leaf_i.or(leaf_o).or(leaf_r).unwrap().tag;
            let same_value = leaf_o.map(|l| &l.val) == leaf_r.map(|l| &l.val);
            if a == b && (a != Some(Act::Added) || same_value) {
                let a = a.unwrap();
                let key = match leaf_o.map(|l| l.vr) {
                    Some(dicom_core::VR::UI) if a == Act::Replaced => {
                        "replaced by both: UIDs (ours keyed 2.25., Orthanc random)".to_owned()
                    }
                    _ if a == Act::Replaced && same_value => {
                        format!("replaced by both, same value: {tag}")
                    }
                    _ => format!("{} by both", a.name()),
                };
                *t.agree.entry(key).or_default() += 1;
                continue;
            }
            match classify(
                run == Run::Research,
                p,
                tag,
                leaf_i,
                (a, leaf_o),
                (b, leaf_r),
            ) {
                Some(c) => *t.classes.entry(c).or_default() += 1,
                None => {
                    let (a, b) = (a.map_or("-", Act::name), b.map_or("-", Act::name));
                    let key = format!("{tag} ours {a} / Orthanc {b}");
                    let example = format!(
                        "{name} {p}: input {:?} ours {:?} Orthanc {:?}",
                        leaf_i.map(|l| &l.val),
                        leaf_o.map(|l| &l.val),
                        leaf_r.map(|l| &l.val),
                    );
                    t.unexplained.entry(key).or_insert((0, example)).0 += 1;
                }
            }
        }
        let strings = |ds: &InMemDicomObject| {
            let mut v = Vec::new();
            support::all_strings(ds, &mut v);
            v
        };
        let (ours_s, theirs_s) = (strings(&ours), strings(&theirs));
        for s in &secrets {
            let hit = |v: &Vec<(dicom_core::Tag, String)>| {
                v.iter()
                    .find(|(_, x)| x.contains(s.as_str()))
                    .map(|(tag, _)| *tag)
            };
            match (hit(&ours_s), hit(&theirs_s)) {
                (None, Some(tag)) => t.orthanc_leaks.push(format!("{name} {tag}: {s:?}")),
                (Some(tag), None) => t.our_leaks.push(format!("{name} {tag}: {s:?}")),
                _ => {}
            }
        }
    }
    t
}

#[test]
fn orthanc_anonymize_differs_only_in_explained_classes() {
    let Some(orthanc) = Orthanc::builder().start_or_skip() else {
        return;
    };
    let version = orthanc.version();
    let files = support::dcm_files(&support::pydicom_test_files());
    let mut failures = Vec::new();
    for run in [Run::Basic, Run::Research] {
        let t = compare_run(&orthanc, run, &files);
        println!(
            "\n== Orthanc {version} /anonymize (2021b) vs OncoFed, {}: {} files compared, {} refused",
            run.name(),
            t.files,
            t.refused.len()
        );
        for r in &t.refused {
            println!("  refused: {r}");
        }
        println!("| outcome | attributes |\n|---|---|");
        for (a, n) in &t.agree {
            println!("| {a} | {n} |");
        }
        for (c, n) in &t.classes {
            println!("| differ: {} | {n} |", c.name());
        }
        let unexplained: usize = t.unexplained.values().map(|(n, _)| n).sum();
        println!("| differ: UNEXPLAINED | {unexplained} |");
        for l in &t.orthanc_leaks {
            println!("  Orthanc's output holds what ours withholds: {l}");
        }
        for l in &t.our_leaks {
            println!("  OURS holds what Orthanc's withholds: {l}");
        }
        assert!(t.files >= 60, "{} files compared", t.files);
        failures.extend(
            t.unexplained
                .iter()
                .map(|(k, (n, ex))| format!("{}: {k}: {n}× e.g. {ex}", run.name())),
        );
        failures.extend(
            t.our_leaks
                .iter()
                .map(|u| format!("{}: ours leaks {u}", run.name())),
        );
    }
    assert!(
        failures.is_empty(),
        "{} unexplained differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
