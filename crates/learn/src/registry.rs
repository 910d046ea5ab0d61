//! The model registry's record: what was trained, from what, how, with what
//! result — and the model card rendered from it.

use crate::{Evaluation, ModelSpec};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// SHA-256 (lowercase hex) of flat parameters as little-endian f32 bytes.
pub fn params_hash(params: &[f32]) -> String {
    let mut h = Sha256::new();
    for v in params {
        h.update(v.to_le_bytes());
    }
    format!("{:x}", h.finalize())
}

/// One round as the hub saw it: who took part, the aggregate weight, the loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundProvenance {
    /// Round number, 0-based.
    pub round: u32,
    /// Sites that contributed to the round's sum.
    pub sites: Vec<String>,
    /// Σ training cells (number of sites under DP).
    pub samples: u64,
    /// Federated validation loss of the round's starting parameters.
    pub val_loss: f64,
}

/// The data one site trained on, by hash (no content).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteData {
    /// The site.
    pub site: String,
    /// Hash of the site's training set (e.g. over the content addresses of its images and labels).
    pub hash: String,
    /// Training cells.
    pub train_cells: u64,
    /// Validation cells.
    pub validation_cells: u64,
    /// Label source (`validated`, `submitted`).
    pub labels: String,
}

/// Evaluation of the registered model at one site (released under disclosure control).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteMetrics {
    /// The site (or `pooled`).
    pub site: String,
    /// The metrics.
    pub evaluation: Evaluation,
}

/// Client-level DP of the training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpRecord {
    /// Clip norm C.
    pub clip_norm: f64,
    /// Noise multiplier σ.
    pub noise_multiplier: f64,
    /// δ.
    pub delta: f64,
    /// ε spent (RDP accountant, Balle et al. 2020 conversion).
    pub epsilon: f64,
    /// Training rounds charged.
    pub rounds: u32,
}

/// A registered model with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    /// SHA-256 over spec hash, parameter hash, algorithm, code version, data hashes and rounds.
    pub id: String,
    /// Human name (`aml-differential`).
    pub name: String,
    /// The network.
    pub spec: ModelSpec,
    /// [`params_hash`] of the parameters.
    pub params_hash: String,
    /// `FedAvg`, `FedProx(mu=0.01)`, `DP-FedAvg`.
    pub algorithm: String,
    /// Every round run.
    pub rounds: Vec<RoundProvenance>,
    /// The training data per site.
    pub data: Vec<SiteData>,
    /// Version of the code that trained it (crate version and commit).
    pub code_version: String,
    /// Federated evaluation per site.
    pub metrics: Vec<SiteMetrics>,
    /// DP, if on.
    pub dp: Option<DpRecord>,
}

impl ModelRecord {
    /// Builds a record and computes its id.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: &str,
        spec: ModelSpec,
        params: &[f32],
        algorithm: &str,
        rounds: Vec<RoundProvenance>,
        data: Vec<SiteData>,
        code_version: &str,
        metrics: Vec<SiteMetrics>,
        dp: Option<DpRecord>,
    ) -> Self {
        let params_hash = params_hash(params);
        let mut h = Sha256::new();
        h.update(spec.hash());
        h.update(&params_hash);
        h.update(algorithm);
        h.update(code_version);
        for d in &data {
            h.update(format!(
                "{}:{}:{}:{}",
                d.site, d.hash, d.train_cells, d.validation_cells
            ));
        }
        for r in &rounds {
            h.update(format!("{}:{}:{}", r.round, r.sites.join(","), r.samples));
        }
        Self {
            id: format!("{:x}", h.finalize()),
            name: name.to_string(),
            spec,
            params_hash,
            algorithm: algorithm.to_string(),
            rounds,
            data,
            code_version: code_version.to_string(),
            metrics,
            dp,
        }
    }
}

fn pct(v: f64) -> String {
    format!("{:.1} %", 100.0 * v)
}

/// The model card (Markdown, after Mitchell et al. 2019): intended use, data,
/// training, metrics per site, limitations, differential privacy.
pub fn model_card(r: &ModelRecord) -> String {
    let mut s = String::new();
    let classes: Vec<&str> = r.spec.classes.iter().map(|c| c.code()).collect();
    let _ = writeln!(s, "# Model card: {}\n", r.name);
    let _ = writeln!(
        s,
        "- id: `{}`\n- parameters: `{}` ({} values)\n- spec: `{}`\n- code: `{}`\n",
        r.id,
        r.params_hash,
        r.spec.parameter_count(),
        r.spec.hash(),
        r.code_version
    );
    let _ = writeln!(s, "## Intended use\n");
    let _ = writeln!(
        s,
        "Research use only: classifies single-cell crops of May-Grünwald-Giemsa stained \
        bone-marrow or blood smears into {} classes ({}) and supports blast counting for research \
        questions within an approved project. Not a medical device; not for diagnosis or treatment \
        decisions. Input: {}×{} RGB crops centred on one cell.\n",
        classes.len(),
        classes.join(", "),
        r.spec.input_size,
        r.spec.input_size
    );
    let _ = writeln!(
        s,
        "## Data\n\n| site | training cells | validation cells | labels | data hash |\n|---|---|---|---|---|"
    );
    for d in &r.data {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | `{}` |",
            d.site, d.train_cells, d.validation_cells, d.labels, d.hash
        );
    }
    let _ = writeln!(
        s,
        "\nThe data never left the sites; the hub received only securely aggregated sums.\n"
    );
    let _ = writeln!(
        s,
        "## Training\n\nAlgorithm: {}, {} rounds (architecture: {}).\n",
        r.algorithm,
        r.rounds.len(),
        crate::ARCHITECTURE
    );
    let _ = writeln!(
        s,
        "| round | sites | weight | validation loss |\n|---|---|---|---|"
    );
    for p in &r.rounds {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.4} |",
            p.round,
            p.sites.join(", "),
            p.samples,
            p.val_loss
        );
    }
    let _ = writeln!(
        s,
        "\n## Metrics per site\n\n| site | cells | accuracy | macro-F1 | ECE | mean loss |\n|---|---|---|---|---|---|"
    );
    for m in &r.metrics {
        let e = &m.evaluation;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.3} | {:.3} |",
            m.site,
            e.n,
            pct(e.accuracy),
            pct(e.macro_f1),
            e.ece,
            e.mean_loss
        );
    }
    let _ = writeln!(s, "\n## Differential privacy\n");
    match &r.dp {
        Some(d) => {
            let _ = writeln!(
                s,
                "Client-level DP-FedAvg: each site's update clipped to L2 norm {}, Gaussian noise σ = {} \
                (×C) on the sum, ({:.3}, {:e})-DP over {} rounds for every site's whole contribution \
                (RDP accountant, Balle et al. 2020 conversion). The validation losses above are released without noise.\n",
                d.clip_norm, d.noise_multiplier, d.epsilon, d.delta, d.rounds
            );
        }
        None => {
            let _ = writeln!(
                s,
                "None: the aggregated model may memorise rare cells of a site; \
                release it only inside the project.\n"
            );
        }
    }
    let _ = writeln!(
        s,
        "## Limitations\n\n- Trained on the sites, stains and scanners listed above; \
        accuracy on other staining protocols, scanners or magnifications is unknown until evaluated there.\n\
        - Classes outside the list (basophils, plasma cells, smudge cells, artefacts) are forced into one of the listed classes.\n\
        - Small input ({}×{}): fine chromatin and granule detail is partly lost.\n\
        - Per-site metrics come from held-out cells of the same sites, not from an external cohort.",
        r.spec.input_size, r.spec.input_size
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EvalAccumulator;

    #[test]
    fn record_id_tracks_content_and_card_names_everything() {
        let spec = ModelSpec::differential();
        let params = spec.initial_params(1);
        let mut acc = EvalAccumulator::new(8, 5);
        acc.add(0, &[0.9, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
            .unwrap();
        let evaluation = Evaluation::from_counts(&spec.classes, 5, &acc.into_vector()).unwrap();
        let data = vec![SiteData {
            site: "site-a".into(),
            hash: "ab".into(),
            train_cells: 10,
            validation_cells: 2,
            labels: "validated".into(),
        }];
        let rounds = vec![RoundProvenance {
            round: 0,
            sites: vec!["site-a".into()],
            samples: 10,
            val_loss: 2.0,
        }];
        let metrics = vec![SiteMetrics {
            site: "site-a".into(),
            evaluation,
        }];
        let dp = Some(DpRecord {
            clip_norm: 1.0,
            noise_multiplier: 1.2,
            delta: 1e-5,
            epsilon: 8.0,
            rounds: 1,
        });
        let a = ModelRecord::new(
            "m",
            spec.clone(),
            &params,
            "FedAvg",
            rounds.clone(),
            data.clone(),
            "0.1.0",
            metrics.clone(),
            dp,
        );
        let b = ModelRecord::new(
            "m",
            spec.clone(),
            &spec.initial_params(2),
            "FedAvg",
            rounds,
            data,
            "0.1.0",
            metrics,
            None,
        );
        assert_ne!(a.id, b.id);
        let card = model_card(&a);
        for needle in [
            "# Model card: m",
            "## Intended use",
            "site-a",
            "| 0 | site-a | 10 | 2.0000 |",
            "100.0 %",
            "(8.000, 1e-5)-DP",
            "## Limitations",
        ] {
            assert!(card.contains(needle), "card lacks {needle:?}:\n{card}");
        }
        let json = serde_json::to_string(&a).unwrap();
        let back: ModelRecord = serde_json::from_str(&json).unwrap();
        // (floats may move by one ulp through serde_json's default parser)
        assert_eq!(
            (&back.id, &back.spec, &back.rounds, &back.data, &back.dp),
            (&a.id, &a.spec, &a.rounds, &a.data, &a.dp)
        );
        assert_eq!(
            back.metrics[0].evaluation.confusion,
            a.metrics[0].evaluation.confusion
        );
    }
}
