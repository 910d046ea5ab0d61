//! Simulated experts: accurate as their skill says, wrong the way
//! cytomorphologists are (class-dependent), deterministic by seed.

mod support;

use oncofed_model::CellClass::{self, *};
use oncofed_validation::simulate::confusions;
use oncofed_validation::{
    AnnotationSet, Method, Rule, SimulatedExpert, ValidationPolicy, agreement,
    simulate_annotations, validate,
};
use std::collections::BTreeMap;

#[test]
fn observed_accuracy_is_near_the_skill() {
    let truth = support::truth(6000, 11);
    for skill in [0.95, 0.85, 0.7] {
        let expert = SimulatedExpert::new("dr-x", skill, 5).unwrap();
        let right = truth
            .iter()
            .filter(|c| expert.label(c.class, &c.cell_id) == c.class)
            .count() as f64
            / truth.len() as f64;
        // Binomial SE at n = 6000 is at most 0.0065: 4 SE.
        assert!(
            (right - skill).abs() < 0.026,
            "skill {skill}: observed {right}"
        );
    }
}

#[test]
fn confusions_depend_on_the_class_and_follow_morphology() {
    let truth = support::truth(8000, 12);
    let expert = SimulatedExpert::new("dr-y", 0.6, 9).unwrap();
    // errors[true][given]
    let mut errors: BTreeMap<CellClass, BTreeMap<CellClass, usize>> = BTreeMap::new();
    for c in &truth {
        let given = expert.label(c.class, &c.cell_id);
        if given != c.class {
            *errors.entry(c.class).or_default().entry(given).or_default() += 1;
        }
    }
    let top = |class: CellClass| {
        errors[&class]
            .iter()
            .max_by_key(|&(_, n)| *n)
            .map(|(&c, _)| c)
            .unwrap()
    };
    assert_eq!(top(Myeloblast), Promyelocyte);
    assert_eq!(top(SegmentedNeutrophil), Myelocyte);
    assert_eq!(top(Erythroblast), Lymphocyte);
    assert_eq!(top(Eosinophil), SegmentedNeutrophil);
    // Only morphological neighbours: an erythroblast is never called an
    // eosinophil, a myeloblast never a segmented neutrophil.
    for (class, given) in &errors {
        for wrong in given.keys() {
            assert!(
                confusions(*class).iter().any(|(c, _)| c == wrong),
                "{class} mistaken for {wrong}"
            );
        }
    }
    assert!(!errors[&Erythroblast].contains_key(&Eosinophil));
    assert!(!errors[&Myeloblast].contains_key(&SegmentedNeutrophil));
    for class in CellClass::ALL {
        let total: f64 = confusions(class).iter().map(|(_, w)| w).sum();
        assert!((total - 1.0).abs() < 1e-12, "{class}");
        assert!(confusions(class).iter().all(|(c, _)| *c != class));
    }
}

#[test]
fn labels_are_deterministic_by_seed_and_independent_of_order() {
    let truth = support::truth(500, 13);
    let experts = SimulatedExpert::parse_list("dr-a:0.9, dr-b:0.8", 42).unwrap();
    let start = support::start();
    let once = simulate_annotations(&experts, &truth, start);
    assert_eq!(once, simulate_annotations(&experts, &truth, start));
    assert_eq!(once.len(), 1000);
    let mut reversed = truth.clone();
    reversed.reverse();
    let back = simulate_annotations(&experts, &reversed, start);
    let label_of = |v: &[oncofed_validation::Annotation], cell: &str, who: &str| {
        v.iter()
            .find(|a| a.cell_id == cell && a.expert == who)
            .map(|a| a.label)
    };
    for c in truth.iter().take(50) {
        assert_eq!(
            label_of(&once, &c.cell_id, "dr-a"),
            label_of(&back, &c.cell_id, "dr-a")
        );
    }
    let other_seed = SimulatedExpert::parse_list("dr-a:0.9,dr-b:0.8", 43).unwrap();
    assert_ne!(once, simulate_annotations(&other_seed, &truth, start));
    // Better experts agree more: κ(a, b) between the skilled pair is higher.
    let set = AnnotationSet::new(once).unwrap();
    let k = agreement(&set).pairs[0]
        .cohen
        .as_ref()
        .unwrap()
        .kappa
        .unwrap();
    assert!(k > 0.6 && k < 0.85, "{k}");
}

#[test]
fn bad_expert_lists_are_refused() {
    for bad in [
        "dr-a",
        "dr-a:high",
        "dr-a:1.5",
        "dr-a:0.9,dr-a:0.8",
        ":0.9",
        "dr;a:0.9",
    ] {
        assert!(SimulatedExpert::parse_list(bad, 1).is_err(), "{bad}");
    }
}

/// What validation is for: labels that three imperfect experts agree on are
/// more often right than the best expert alone.
#[test]
fn validated_labels_are_more_accurate_than_the_best_expert() {
    let truth = support::truth(2000, 14);
    let experts = SimulatedExpert::parse_list("dr-a:0.9,dr-b:0.85,dr-c:0.8", 3).unwrap();
    let annotations = simulate_annotations(&experts, &truth, support::start());
    let class_of: BTreeMap<&str, CellClass> = truth
        .iter()
        .map(|c| (c.cell_id.as_str(), c.class))
        .collect();
    let best = annotations
        .iter()
        .filter(|a| a.expert == "dr-a" && class_of[a.cell_id.as_str()] == a.label)
        .count() as f64
        / truth.len() as f64;
    let set = AnnotationSet::new(annotations).unwrap();
    let policy = ValidationPolicy {
        min_experts: 2,
        rule: Rule::Majority,
    };
    let v = validate(&set, &[], policy).unwrap();
    let accuracy = |method: Option<Method>| {
        let chosen: Vec<_> = v
            .labels
            .iter()
            .filter(|l| method.is_none_or(|m| l.method == m))
            .collect();
        let right = chosen
            .iter()
            .filter(|l| class_of[l.cell_id.as_str()] == l.label)
            .count();
        right as f64 / chosen.len() as f64
    };
    let all = accuracy(None);
    assert!(all > best + 0.03, "validated {all} vs best expert {best}");
    assert!(accuracy(Some(Method::Consensus)) > 0.99);
    // The queue holds the cells with three different labels only.
    assert!(v.queue.iter().all(|q| q.distinct_labels == 3));
    assert!(v.summary.queued < truth.len() / 10, "{:?}", v.summary);
}
