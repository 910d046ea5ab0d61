//! The queue and the validated set on a small panel that exercises every
//! method and reason, the adjudication rules, and the CSV formats.

use chrono::{DateTime, TimeZone, Utc};
use oncofed_model::CellClass::{self, *};
use oncofed_validation::csv_io;
use oncofed_validation::{
    Adjudication, Annotation, AnnotationSet, Method, QueueReason, Rule, ValidationError,
    ValidationPolicy, agreement, validate,
};

fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 9, minute, 0).unwrap()
}

fn ann(cell: &str, expert: &str, label: CellClass, minute: u32) -> Annotation {
    Annotation {
        cell_id: cell.into(),
        expert: expert.into(),
        label,
        at: t(minute),
    }
}

fn adj(cell: &str, who: &str, label: CellClass, minute: u32) -> Adjudication {
    Adjudication {
        cell_id: cell.into(),
        adjudicator: who.into(),
        label,
        at: t(minute),
        note: "Auer rod visible, \"blast\"".into(),
    }
}

/// c1 unanimous (3), c2 two against one, c3 three different labels, c4 one
/// expert only, c5 two disagreeing, c6 unanimous (2), c7 unanimous after
/// dr-b revised an earlier label.
fn panel() -> Vec<Annotation> {
    vec![
        ann("c1", "dr-a", Myeloblast, 1),
        ann("c1", "dr-b", Myeloblast, 2),
        ann("c1", "dr-c", Myeloblast, 3),
        ann("c2", "dr-a", Myeloblast, 1),
        ann("c2", "dr-b", Myeloblast, 2),
        ann("c2", "dr-c", Promyelocyte, 3),
        ann("c3", "dr-a", Myeloblast, 1),
        ann("c3", "dr-b", Promyelocyte, 2),
        ann("c3", "dr-c", Lymphocyte, 3),
        ann("c4", "dr-a", Lymphocyte, 1),
        ann("c5", "dr-a", Monocyte, 1),
        ann("c5", "dr-b", Lymphocyte, 2),
        ann("c6", "dr-a", Eosinophil, 1),
        ann("c6", "dr-b", Eosinophil, 2),
        ann("c7", "dr-a", SegmentedNeutrophil, 1),
        ann("c7", "dr-b", SegmentedNeutrophil, 9),
        ann("c7", "dr-b", Myelocyte, 2),
    ]
}

#[test]
fn majority_policy_with_an_adjudication_uses_every_method() {
    let set = AnnotationSet::new(panel()).unwrap();
    let policy = ValidationPolicy {
        min_experts: 2,
        rule: Rule::Majority,
    };
    let v = validate(&set, &[adj("c3", "dr-z", Promyelocyte, 30)], policy).unwrap();
    let got: Vec<(&str, CellClass, Method)> = v
        .labels
        .iter()
        .map(|l| (l.cell_id.as_str(), l.label, l.method))
        .collect();
    assert_eq!(
        got,
        [
            ("c1", Myeloblast, Method::Consensus),
            ("c2", Myeloblast, Method::Majority),
            ("c3", Promyelocyte, Method::Adjudicated),
            ("c6", Eosinophil, Method::Consensus),
            ("c7", SegmentedNeutrophil, Method::Consensus),
        ]
    );
    let c2 = &v.labels[1];
    assert!((c2.agreement - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(c2.experts, ["dr-a", "dr-b", "dr-c"]);
    assert_eq!((c2.adjudicator.as_deref(), c2.at), (None, t(3)));
    let c3 = &v.labels[2];
    assert_eq!((c3.adjudicator.as_deref(), c3.at), (Some("dr-z"), t(30)));
    assert!((c3.agreement - 1.0 / 3.0).abs() < 1e-12);
    // The revision counts (latest label), and so does its time.
    assert_eq!(v.labels[4].at, t(9));

    let queue: Vec<(&str, QueueReason)> = v
        .queue
        .iter()
        .map(|q| (q.cell_id.as_str(), q.reason))
        .collect();
    assert_eq!(
        queue,
        [
            ("c5", QueueReason::Disagreement),
            ("c4", QueueReason::TooFewExperts)
        ]
    );
    assert_eq!(v.queue[0].labels["dr-a"], Monocyte);
    assert_eq!(v.queue[0].labels["dr-b"], Lymphocyte);
    let s = &v.summary;
    assert_eq!((s.cells, s.validated, s.queued), (7, 5, 2));
    assert_eq!((s.queued_disagreement, s.queued_too_few_experts), (1, 1));
    assert_eq!(s.by_method[&Method::Consensus], 3);
    assert_eq!(s.by_class[&Myeloblast], 2);
    assert!(s.to_string().contains("5 validated, 2 queued"));
}

#[test]
fn unanimous_policy_queues_every_dispute_most_disputed_first() {
    let set = AnnotationSet::new(panel()).unwrap();
    let v = validate(&set, &[], ValidationPolicy::default()).unwrap();
    let queue: Vec<&str> = v.queue.iter().map(|q| q.cell_id.as_str()).collect();
    // c3: 1/3 agree; c5: 1/2; c2: 2/3; c4: a single expert.
    assert_eq!(queue, ["c3", "c5", "c2", "c4"]);
    assert_eq!(v.queue[0].distinct_labels, 3);
    assert!(v.labels.iter().all(|l| l.method == Method::Consensus));
    assert!(v.queue_text().contains("4 of 7 cells wait"));
    // With one expert enough, c4 validates.
    let one = ValidationPolicy {
        min_experts: 1,
        rule: Rule::Unanimous,
    };
    let v1 = validate(&set, &[], one).unwrap();
    assert!(v1.labels.iter().any(|l| l.cell_id == "c4"));
    assert!(matches!(
        validate(
            &set,
            &[],
            ValidationPolicy {
                min_experts: 0,
                rule: Rule::Majority
            }
        ),
        Err(ValidationError::Policy(_))
    ));
}

#[test]
fn adjudication_overrides_consensus_and_the_latest_counts() {
    let set = AnnotationSet::new(panel()).unwrap();
    let adjs = [
        adj("c1", "dr-z", Promyelocyte, 20),
        adj("c1", "dr-y", Myelocyte, 25),
        adj("c4", "dr-z", Lymphocyte, 20),
    ];
    let v = validate(&set, &adjs, ValidationPolicy::default()).unwrap();
    let c1 = v.labels.iter().find(|l| l.cell_id == "c1").unwrap();
    assert_eq!((c1.label, c1.method), (Myelocyte, Method::Adjudicated));
    assert_eq!(c1.adjudicator.as_deref(), Some("dr-y"));
    assert_eq!(c1.agreement, 0.0);
    // Adjudication also settles a cell with too few experts.
    assert!(v.queue.iter().all(|q| q.cell_id != "c4"));
}

#[test]
fn an_adjudicator_who_annotated_the_cell_is_refused() {
    let set = AnnotationSet::new(panel()).unwrap();
    let err = validate(
        &set,
        &[adj("c3", "dr-b", Promyelocyte, 30)],
        ValidationPolicy::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ValidationError::AdjudicatorIsAnnotator { cell_id, adjudicator }
            if cell_id == "c3" && adjudicator == "dr-b"),
        "{err:?}"
    );
    assert!(err.to_string().contains("did not annotate"), "{err}");
    let unknown = validate(
        &set,
        &[adj("c99", "dr-z", Promyelocyte, 30)],
        ValidationPolicy::default(),
    )
    .unwrap_err();
    assert!(matches!(
        unknown,
        ValidationError::AdjudicationWithoutAnnotations { .. }
    ));
}

#[test]
fn two_labels_at_the_same_instant_conflict() {
    let err = AnnotationSet::new([
        ann("c1", "dr-a", Myeloblast, 1),
        ann("c1", "dr-a", Monocyte, 1),
    ])
    .unwrap_err();
    assert!(matches!(
        err,
        ValidationError::ConflictingAnnotations { .. }
    ));
    // The same label twice is harmless.
    let set = AnnotationSet::new([
        ann("c1", "dr-a", Myeloblast, 1),
        ann("c1", "dr-a", Myeloblast, 1),
    ])
    .unwrap();
    assert_eq!(set.annotation_count(), 1);
}

#[test]
fn agreement_report_on_the_panel() {
    let set = AnnotationSet::new(panel()).unwrap();
    let r = agreement(&set);
    assert_eq!(r.experts, ["dr-a", "dr-b", "dr-c"]);
    assert_eq!(r.pairs.len(), 3);
    let ab = &r.pairs[0];
    // dr-a × dr-b over c1, c2, c3, c5, c6, c7: agree on c1, c2, c6, c7.
    assert_eq!(ab.cells, 6);
    assert!((ab.cohen.as_ref().unwrap().observed - 4.0 / 6.0).abs() < 1e-12);
    let fleiss = r.fleiss.as_ref().unwrap();
    // c1, c2, c3 have 3 experts; c5, c6, c7 have 2: a tie, broken towards the
    // larger count.
    assert_eq!((fleiss.experts_per_cell, fleiss.cells), (3, 3));
    assert_eq!(fleiss.cells_excluded, 4);
    assert!(fleiss.note.contains("exactly 3 experts"), "{}", fleiss.note);
    let text = r.to_string();
    assert!(text.contains("Fleiss' kappa"), "{text}");
    assert!(text.contains("dr-a × dr-b"), "{text}");
}

#[test]
fn csv_files_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("annotations.csv");
    csv_io::write_annotations_file(&path, &panel()).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("cell_id,expert,label,at\nc1,dr-a,myeloblast,2026-12-04T09:01:00Z\n"));
    assert_eq!(csv_io::read_annotations_file(&path).unwrap(), panel());

    let adjs = vec![adj("c3", "dr-z", Promyelocyte, 30)];
    let apath = dir.path().join("adjudications.csv");
    csv_io::write_adjudications_file(&apath, &adjs).unwrap();
    assert_eq!(csv_io::read_adjudications_file(&apath).unwrap(), adjs);

    let set = AnnotationSet::new(panel()).unwrap();
    let policy = ValidationPolicy {
        min_experts: 2,
        rule: Rule::Majority,
    };
    let v = validate(&set, &adjs, policy).unwrap();
    let vpath = dir.path().join("validated.csv");
    csv_io::write_validated_file(&vpath, &v.labels).unwrap();
    let text = std::fs::read_to_string(&vpath).unwrap();
    assert!(text.starts_with("cell_id,label,method,experts,agreement,adjudicator,at\n"));
    assert!(
        text.contains("c3,promyelocyte,adjudicated,dr-a;dr-b;dr-c,"),
        "{text}"
    );
    assert_eq!(csv_io::read_validated_file(&vpath).unwrap(), v.labels);
}

fn read_err(text: &str) -> String {
    csv_io::read_annotations(text.as_bytes(), "ann.csv")
        .unwrap_err()
        .to_string()
}

#[test]
fn csv_errors_name_file_line_and_field() {
    let head = "cell_id,expert,label,at\nc1,dr-a,myeloblast,2026-12-04T09:00:00Z\n";
    let e = read_err(&format!("{head}c2,dr-a,blastoid,2026-12-04T09:00:00Z\n"));
    assert!(
        e.starts_with("ann.csv, line 3, field label: unknown cell class"),
        "{e}"
    );
    let e = read_err(&format!("{head}c2,dr-a,monocyte,yesterday\n"));
    assert!(
        e.starts_with("ann.csv, line 3, field at:") && e.contains("RFC 3339"),
        "{e}"
    );
    let e = read_err(&format!("{head}c2,,monocyte,2026-12-04T09:00:00Z\n"));
    assert!(e.starts_with("ann.csv, line 3, field expert: empty"), "{e}");
    let e = read_err(&format!("{head}c2,dr;x,monocyte,2026-12-04T09:00:00Z\n"));
    assert!(e.contains("field expert"), "{e}");
    let e = read_err(&format!("{head}c2,dr-a\n"));
    assert!(
        e.starts_with("ann.csv, line 3: malformed CSV: 2 fields"),
        "{e}"
    );
    let e = read_err("cell_id,who,label,at\n");
    assert!(e.contains("no column \"expert\""), "{e}");
    let e = csv_io::read_annotations_file(std::path::Path::new("/nonexistent/a.csv"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("/nonexistent/a.csv:"), "{e}");
    let bad = "cell_id,label,method,experts,agreement,adjudicator,at\n\
               c1,myeloblast,adjudicated,dr-a,1,,2026-12-04T09:00:00Z\n";
    let e = csv_io::read_validated(bad.as_bytes(), "v.csv")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("v.csv, line 2, field adjudicator"), "{e}");
}

#[test]
fn truth_is_read_by_column_name_and_duplicates_are_refused() {
    let text = "smear_id,cell_id,true_label,person_id,entity\n\
                s1,c1,myeloblast,p1,aml\ns1,c2,segmented-neutrophil,p1,aml\n";
    let truth = csv_io::read_truth(text.as_bytes(), "truth.csv").unwrap();
    assert_eq!(truth.len(), 2);
    assert_eq!(
        (truth[1].cell_id.as_str(), truth[1].class),
        ("c2", SegmentedNeutrophil)
    );
    let dup = format!("{text}s2,c1,monocyte,p2,aml\n");
    let e = csv_io::read_truth(dup.as_bytes(), "truth.csv")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("truth.csv, line 4, field cell_id") && e.contains("first on line 2"),
        "{e}"
    );
}
