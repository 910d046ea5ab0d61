//! Plain-text renderings for people (the CLI prints these; `--json` prints
//! the serde form instead).

use crate::agreement::{AgreementReport, PairAgreement};
use crate::kappa::Confusion;
use crate::validate::{QueueEntry, QueueReason, Rule, Validation, ValidationSummary};
use oncofed_model::CellClass;
use std::fmt::{self, Display, Formatter, Write as _};

/// A four-letter column heading for a class.
fn short(c: CellClass) -> &'static str {
    match c {
        CellClass::Myeloblast => "mbl",
        CellClass::Promyelocyte => "pro",
        CellClass::Myelocyte => "myc",
        CellClass::SegmentedNeutrophil => "seg",
        CellClass::Lymphocyte => "lym",
        CellClass::Monocyte => "mon",
        CellClass::Eosinophil => "eos",
        CellClass::Basophil => "bas",
        CellClass::Erythroblast => "ebl",
        CellClass::Leukocyte => "wbc",
        CellClass::Erythrocyte => "rbc",
        CellClass::Platelet => "plt",
        CellClass::Other => "oth",
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "undefined".to_string(), |v| format!("{v:.3}"))
}

impl Display for Confusion {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{:>22}", "")?;
        for c in &self.classes {
            write!(f, " {:>5}", short(*c))?;
        }
        writeln!(f)?;
        for (c, row) in self.classes.iter().zip(&self.counts) {
            write!(f, "{:>22}", c.code())?;
            for n in row {
                write!(f, " {n:>5}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

impl Display for PairAgreement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} × {}: ", self.expert_a, self.expert_b)?;
        match &self.cohen {
            None => write!(f, "no cell labelled by both"),
            Some(k) => {
                write!(
                    f,
                    "n {}, observed {:.3}, expected {:.3}, kappa {}",
                    k.n,
                    k.observed,
                    k.expected,
                    opt(k.kappa)
                )?;
                if let Some([lo, hi]) = k.ci95 {
                    write!(f, " (95% CI {lo:.3} to {hi:.3})")?;
                }
                if let Some(why) = &k.undefined {
                    write!(f, " ({why})")?;
                }
                Ok(())
            }
        }
    }
}

impl Display for AgreementReport {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let per_cell: Vec<String> = self
            .experts_per_cell
            .iter()
            .map(|(m, n)| format!("{n} by {m}"))
            .collect();
        writeln!(
            f,
            "{} cells, {} labels by {} experts ({}); cells labelled: {}",
            self.cells,
            self.annotations,
            self.experts.len(),
            self.experts.join(", "),
            per_cell.join(", ")
        )?;
        writeln!(f, "\nCohen's kappa per pair of experts")?;
        for p in &self.pairs {
            writeln!(f, "  {p}")?;
        }
        match &self.fleiss {
            None => writeln!(f, "\nFleiss' kappa: no cell has two or more experts")?,
            Some(fl) => {
                write!(
                    f,
                    "\nFleiss' kappa {} (observed {:.3}, expected {:.3}) {}",
                    opt(fl.kappa),
                    fl.observed,
                    fl.expected,
                    fl.note
                )?;
                if let Some(why) = &fl.undefined {
                    write!(f, " ({why})")?;
                }
                writeln!(
                    f,
                    "\n\nPer class (Fleiss' kappa for the class against the rest)"
                )?;
                for c in &fl.per_class {
                    writeln!(
                        f,
                        "  {:<22} share {:.3}  kappa {}",
                        c.class.code(),
                        c.share,
                        opt(c.kappa)
                    )?;
                }
            }
        }
        for p in &self.pairs {
            if p.cells > 0 {
                write!(
                    f,
                    "\nConfusion {} (rows) × {} (columns)\n{}",
                    p.expert_a, p.expert_b, p.confusion
                )?;
            }
        }
        Ok(())
    }
}

impl Display for Rule {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Unanimous => "unanimous",
            Rule::Majority => "majority",
        })
    }
}

impl Display for QueueEntry {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let reason = match self.reason {
            QueueReason::Disagreement => "disagreement",
            QueueReason::TooFewExperts => "too few experts",
        };
        let mut labels = String::new();
        for (expert, label) in &self.labels {
            let _ = write!(labels, " {expert}={label}");
        }
        write!(
            f,
            "{:<20} {:<16} {:>5.2}{}",
            self.cell_id, reason, self.agreement, labels
        )
    }
}

/// The queue as a table, with a heading naming the policy.
pub(crate) fn queue_text(v: &Validation) -> String {
    let mut out = format!(
        "{} of {} cells wait for an adjudicator (policy: at least {} experts, {})\n",
        v.queue.len(),
        v.summary.cells,
        v.policy.min_experts,
        v.policy.rule
    );
    if !v.queue.is_empty() {
        let _ = writeln!(out, "{:<20} {:<16} {:>5} labels", "cell", "reason", "agree");
        for q in &v.queue {
            let _ = writeln!(out, "{q}");
        }
    }
    out
}

impl Validation {
    /// The disagreement queue as a table for people, most disputed first.
    pub fn queue_text(&self) -> String {
        queue_text(self)
    }
}

impl Display for ValidationSummary {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} cells: {} validated, {} queued ({} disagreements, {} with too few experts)",
            self.cells,
            self.validated,
            self.queued,
            self.queued_disagreement,
            self.queued_too_few_experts
        )?;
        let methods: Vec<String> = self
            .by_method
            .iter()
            .map(|(m, n)| format!("{m} {n}"))
            .collect();
        writeln!(f, "by method: {}", methods.join(", "))?;
        writeln!(f, "by class:")?;
        for (c, n) in &self.by_class {
            writeln!(f, "  {:<22} {n}", c.code())?;
        }
        Ok(())
    }
}
