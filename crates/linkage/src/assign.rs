//! Greedy one-to-one assignment of scored candidate pairs.

/// Keeps a one-to-one subset of scored pairs: best score first, a pair is taken
/// when neither of its records is taken yet (anonlink's `greedy_solve` for two
/// parties). Ties break on the lower `(a, b)` so results are deterministic.
///
/// Why greedy and not an optimal assignment (Hungarian, O(n³)): on linkage
/// candidate graphs almost every component is a single pair or a star, where
/// greedy is optimal, and it is O(n log n) in the number of candidates.
pub fn greedy_one_to_one<T>(mut pairs: Vec<T>, key: impl Fn(&T) -> (usize, usize, f64)) -> Vec<T> {
    pairs.sort_by(|x, y| {
        let (xa, xb, xs) = key(x);
        let (ya, yb, ys) = key(y);
        ys.total_cmp(&xs).then(xa.cmp(&ya)).then(xb.cmp(&yb))
    });
    let mut used_a = std::collections::HashSet::new();
    let mut used_b = std::collections::HashSet::new();
    pairs.retain(|p| {
        let (a, b, _) = key(p);
        if used_a.contains(&a) || used_b.contains(&b) {
            return false;
        }
        used_a.insert(a);
        used_b.insert(b);
        true
    });
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_first_and_one_to_one() {
        let pairs = vec![
            (0, 0, 0.8),
            (0, 1, 0.9),
            (1, 1, 0.85),
            (1, 0, 0.7),
            (2, 2, 0.9),
        ];
        let kept = greedy_one_to_one(pairs, |p| *p);
        assert_eq!(kept, vec![(0, 1, 0.9), (2, 2, 0.9), (1, 0, 0.7)]);
    }
}
