//! The acceptance harness's shared parts: synthetic sites with site shift
//! (from `oncofed_synth::cyto`), an in-process aggregator that simply sums
//! the site vectors, and the training baselines (pooled, local-only).

#![allow(dead_code)]

use oncofed_cnn::{Dataset, site_evaluate_vector, site_train_vector, train_local, validation_loss};
use oncofed_learn::{
    Aggregator, EvaluateRound, Evaluation, LocalConfig, ModelSpec, Result, TrainRound,
    evaluate_vector_len, train_vector_len,
};
use oncofed_model::CellClass;
use oncofed_synth::cyto::{ClassMix, SiteStyle, cell_samples};

/// One site's cells, split into training, validation and held-out test cells.
pub struct Site {
    pub train: Dataset,
    pub val: Dataset,
    pub test: Dataset,
}

/// `n` sites of `per_site` cells each, every site with its own stain and
/// scanner (`SiteStyle::for_site`) and its own class mix (a uniform mix with
/// one over-represented class per site), split 60/20/20.
pub fn make_sites(spec: &ModelSpec, n: usize, per_site: usize, seed: u64) -> Vec<Site> {
    (0..n)
        .map(|i| {
            let style = SiteStyle::for_site(i, seed);
            let mix = ClassMix::uniform(&spec.classes)
                .with_share(spec.classes[i % spec.classes.len()], 0.3);
            let cells = cell_samples(&style, per_site, &mix, seed ^ (i as u64 + 1) * 7919);
            let mut parts = [
                Dataset::new(spec.input_size),
                Dataset::new(spec.input_size),
                Dataset::new(spec.input_size),
            ];
            for (j, (img, class)) in cells.iter().enumerate() {
                let label = spec
                    .classes
                    .iter()
                    .position(|c| c == class)
                    .expect("synthetic class in the spec") as u8;
                let part = match j % 5 {
                    0..=2 => 0,
                    3 => 1,
                    _ => 2,
                };
                parts[part]
                    .push_rgb(img.width(), img.height(), img.as_raw(), Some(label))
                    .expect("synthetic image");
            }
            let [train, val, test] = parts;
            Site { train, val, test }
        })
        .collect()
}

/// Sums the sites' vectors in process: secure aggregation's result without its protocol.
pub struct InProcess<'a> {
    pub sites: &'a [Site],
}

impl Aggregator for InProcess<'_> {
    fn sum_train(&mut self, round: &TrainRound) -> Result<Vec<f64>> {
        let mut sum = vec![0.0; train_vector_len(&round.spec)];
        for s in self.sites {
            let v = site_train_vector(round, &s.train, &s.val)?;
            sum.iter_mut().zip(v).for_each(|(a, b)| *a += b);
        }
        Ok(sum)
    }

    fn sum_evaluate(&mut self, round: &EvaluateRound) -> Result<Vec<f64>> {
        let mut sum = vec![0.0; evaluate_vector_len(round.spec.classes.len(), round.bins)];
        for s in self.sites {
            let v = site_evaluate_vector(round, &s.test)?;
            sum.iter_mut().zip(v).for_each(|(a, b)| *a += b);
        }
        Ok(sum)
    }
}

/// One site's evaluation of `params` on its held-out cells.
pub fn evaluate(spec: &ModelSpec, params: &[f32], data: &Dataset) -> Evaluation {
    let round = EvaluateRound {
        spec: spec.clone(),
        params: params.to_vec(),
        bins: 10,
    };
    let v = site_evaluate_vector(&round, data).expect("evaluation vector");
    Evaluation::from_sum(&round, &v).expect("evaluation")
}

/// Trains centrally on `train` in chunks of `local.epochs` epochs (`chunks`
/// times, as many epochs as the federated run), keeping the parameters with
/// the lowest loss on `val`, stopping after [`PATIENCE`] chunks without
/// improvement: the baseline for pooled and local-only models.
pub fn train_central(
    spec: &ModelSpec,
    train: &Dataset,
    val: &Dataset,
    local: &LocalConfig,
    chunks: u32,
    seed: u64,
) -> Vec<f32> {
    let mut params = spec.initial_params(seed);
    let mut best = (
        validation_loss(spec, &params, val).expect("val loss").0,
        params.clone(),
    );
    let mut since_best = 0;
    for c in 0..chunks {
        let cfg = LocalConfig {
            seed: local.seed.wrapping_add(u64::from(c)),
            ..local.clone()
        };
        params = train_local(spec, &params, train, &cfg)
            .expect("local training")
            .params;
        let (loss, _) = validation_loss(spec, &params, val).expect("val loss");
        if loss < best.0 {
            best = (loss, params.clone());
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= PATIENCE {
                break;
            }
        }
    }
    best.1
}

/// Chunks without a lower validation loss before central training stops
/// (the federated runs stop after as many rounds without improvement).
pub const PATIENCE: u32 = 8;

/// All sites' cells of one split in one dataset (pooled training, test harness only).
pub fn pool(parts: impl Iterator<Item = Dataset>, size: u32) -> Dataset {
    let mut out = Dataset::new(size);
    for d in parts {
        out.images.extend(d.images);
        out.labels.extend(d.labels);
    }
    out
}

/// The eight classes of the differential, as the spec's labels.
pub fn classes() -> Vec<CellClass> {
    CellClass::DIFFERENTIAL.to_vec()
}
