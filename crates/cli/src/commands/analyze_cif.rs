//! The table of a cumulative-incidence release (`oncofed analyze cif`), kept
//! apart from `analyze.rs`.

use oncofed_analysis::cif::CifResult;

fn show(c: &Option<u64>) -> String {
    c.map_or_else(|| "<suppressed>".into(), |n| n.to_string())
}

/// One block per group: n and both event counts, then the released steps.
pub fn cif_table(r: &CifResult) -> String {
    let mut out = String::new();
    for c in &r.curves {
        out.push_str(&format!(
            "{}: n {}, events {}, competing deaths {}\n  {:>6} {:>10} {:>9} {:>10} {:>8}\n",
            c.label,
            show(&c.n),
            show(&c.events),
            show(&c.competing),
            "day",
            "incidence",
            "SE",
            "competing",
            "at risk"
        ));
        for s in &c.steps {
            out.push_str(&format!(
                "  {:>6.0} {:>10.4} {:>9.4} {:>10.4} {:>8}\n",
                s.time,
                s.incidence,
                s.std_error,
                s.competing_incidence,
                show(&s.at_risk)
            ));
        }
    }
    if r.run.epsilon.is_some() {
        out.push_str(
            "numbers at risk are withheld in a differentially private release (n and event counts are noised)\n",
        );
    }
    out
}
