//! κ against worked textbook examples, and the edge cases where κ is undefined.

use oncofed_model::CellClass;
use oncofed_validation::kappa::{self, Confusion, FleissInputError};

const C: [CellClass; 5] = [
    CellClass::Myeloblast,
    CellClass::Promyelocyte,
    CellClass::Myelocyte,
    CellClass::SegmentedNeutrophil,
    CellClass::Lymphocyte,
];

/// Subjects from a table of counts n_ij (ratings of subject i in category j).
fn subjects(table: &[[usize; 5]]) -> Vec<Vec<CellClass>> {
    table
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .flat_map(|(j, &n)| std::iter::repeat_n(C[j], n))
                .collect()
        })
        .collect()
}

/// Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5
/// categories; P̄ = 0.378, P̄e = 0.213, κ = 0.210.
#[test]
fn fleiss_matches_the_worked_example() {
    let table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ];
    let f = kappa::fleiss(&subjects(&table)).unwrap();
    assert_eq!((f.subjects, f.raters), (10, 14));
    assert_eq!(format!("{:.3}", f.observed), "0.378");
    assert_eq!(format!("{:.3}", f.expected), "0.213");
    let k = f.kappa.unwrap();
    assert_eq!(format!("{k:.3}"), "0.210");
    // Exactly: P̄ = 0.37802197802..., P̄e = 0.21297959183...
    assert!((k - 0.209_930_704_421_955_2).abs() < 1e-12, "{k}");
    let shares: Vec<String> = f
        .categories
        .iter()
        .map(|c| format!("{:.3}", c.share))
        .collect();
    assert_eq!(shares, ["0.143", "0.200", "0.279", "0.150", "0.229"]);
    // κ_j (Fleiss 1971, eq. 12), e.g. category 5: 1 − Σ n_i5 (14 − n_i5) /
    // (10·14·13·p5·q5) = 1 − 392 / (1820 · 0.22857 · 0.77143) = 0.50766.
    let expected_kj = [
        0.201_282_05,
        0.079_670_33,
        0.171_597_63,
        0.030_381_38,
        0.507_656_7,
    ];
    for (c, want) in f.categories.iter().zip(expected_kj) {
        assert!((c.kappa.unwrap() - want).abs() < 1e-8, "{c:?}");
    }
}

/// With two categories, each κ_j equals the overall κ (Fleiss 1971).
#[test]
fn fleiss_per_category_equals_overall_with_two_categories() {
    let table = [
        [3, 0, 0, 0, 0],
        [2, 1, 0, 0, 0],
        [0, 3, 0, 0, 0],
        [1, 2, 0, 0, 0],
        [3, 0, 0, 0, 0],
        [0, 3, 0, 0, 0],
    ];
    let f = kappa::fleiss(&subjects(&table)).unwrap();
    let k = f.kappa.unwrap();
    assert_eq!(f.categories.len(), 2);
    for c in &f.categories {
        assert!((c.kappa.unwrap() - k).abs() < 1e-12, "{c:?} vs {k}");
    }
}

/// Wikipedia, "Cohen's kappa", first example: 50 grant proposals, yes/yes 20,
/// yes/no 5, no/yes 10, no/no 15: p_o = 0.7, p_e = 0.5, κ = 0.4. The
/// Fleiss–Cohen–Everitt variance by hand (p = [[.4,.1],[.2,.3]], rows .5/.5,
/// columns .6/.4): A = .4(1 − 1.1·.6)² + .3(1 − .9·.6)² = .10972,
/// B = .36(.1·1.1² + .2·.9²) = .10188, C = (.4 − .5·.6)² = .01,
/// var = (A + B − C) / (.5² · 50) = .016128, SE = 0.126996.
#[test]
fn cohen_matches_the_worked_example() {
    let (yes, no) = (CellClass::Myeloblast, CellClass::Lymphocyte);
    let mut pairs = Vec::new();
    pairs.extend(std::iter::repeat_n((yes, yes), 20));
    pairs.extend(std::iter::repeat_n((yes, no), 5));
    pairs.extend(std::iter::repeat_n((no, yes), 10));
    pairs.extend(std::iter::repeat_n((no, no), 15));
    let table = Confusion::from_pairs(&pairs);
    assert_eq!(table.counts, vec![vec![20, 5], vec![10, 15]]);
    let k = kappa::cohen(&table).unwrap();
    assert_eq!(k.n, 50);
    assert!((k.observed - 0.7).abs() < 1e-12);
    assert!((k.expected - 0.5).abs() < 1e-12);
    assert!((k.kappa.unwrap() - 0.4).abs() < 1e-12);
    let se = k.std_error.unwrap();
    assert!((se - 0.016_128f64.sqrt()).abs() < 1e-12, "{se}");
    let [lo, hi] = k.ci95.unwrap();
    assert!((lo - (0.4 - 1.959_963_984_540_054 * se)).abs() < 1e-12);
    assert!((hi - (0.4 + 1.959_963_984_540_054 * se)).abs() < 1e-12);
}

#[test]
fn kappa_is_undefined_not_nan_when_chance_agreement_is_one() {
    let m = CellClass::Monocyte;
    let k = kappa::cohen(&Confusion::from_pairs(&[(m, m), (m, m)])).unwrap();
    assert_eq!(k.kappa, None);
    assert_eq!(k.ci95, None);
    assert!(k.undefined.unwrap().contains("expected agreement is 1"));
    assert_eq!(k.observed, 1.0);

    let f = kappa::fleiss(&[vec![m, m], vec![m, m]]).unwrap();
    assert_eq!(f.kappa, None);
    assert!(f.undefined.is_some());
    assert_eq!(f.categories[0].kappa, None);

    assert_eq!(kappa::cohen(&Confusion::from_pairs(&[])), None);
    assert_eq!(kappa::fleiss(&[]), Err(FleissInputError::Empty));
    assert_eq!(
        kappa::fleiss(&[vec![m]]),
        Err(FleissInputError::TooFewRaters(1))
    );
    assert_eq!(
        kappa::fleiss(&[vec![m, m], vec![m, m, m]]),
        Err(FleissInputError::Unequal(2, 3))
    );
}

#[test]
fn perfect_and_systematically_opposite_agreement() {
    let (a, b) = (CellClass::Eosinophil, CellClass::Erythroblast);
    let perfect = kappa::cohen(&Confusion::from_pairs(&[(a, a), (b, b), (a, a)])).unwrap();
    assert_eq!(perfect.kappa, Some(1.0));
    assert!(perfect.std_error.unwrap() < 1e-7, "{perfect:?}");
    // Always the other class, balanced: p_o = 0, p_e = 0.5, κ = −1.
    let opposite = kappa::cohen(&Confusion::from_pairs(&[(a, b), (b, a)])).unwrap();
    assert!((opposite.kappa.unwrap() + 1.0).abs() < 1e-12);
    // One rater always a, the other always b: p_e = 0, κ = 0, defined.
    let disjoint = kappa::cohen(&Confusion::from_pairs(&[(a, b), (a, b)])).unwrap();
    assert_eq!(disjoint.kappa, Some(0.0));
}
