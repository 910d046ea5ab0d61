//! What a site computes in a round.

use crate::{Dataset, Error, Net, Result};
use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use oncofed_learn::{
    EvalAccumulator, EvaluateRound, LocalConfig, ModelSpec, TrainRound, train_vector_len,
};
use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// The result of local training.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalResult {
    /// The trained parameters (flat).
    pub params: Vec<f32>,
    /// Training cells used.
    pub samples: usize,
    /// Mean cross-entropy over the last epoch's minibatches (0 when nothing was trained).
    pub mean_loss: f64,
}

/// Trains from `global` on `data` for `local.epochs` epochs of Adam over
/// shuffled minibatches (order from `local.seed`), minimising the mean
/// cross-entropy plus FedProx's `μ/2 ‖θ − θ_global‖²` when `local.prox_mu > 0`.
/// The optimiser's moments start from zero in every call (every round):
/// sites keep no state between rounds.
pub fn train_local(
    spec: &ModelSpec,
    global: &[f32],
    data: &Dataset,
    local: &LocalConfig,
) -> Result<LocalResult> {
    local.validate()?;
    data.validate(spec.input_size, Some(spec.classes.len()))?;
    let device = Device::Cpu;
    let net = Net::from_flat(spec, global, &device)?;
    if local.epochs == 0 || data.is_empty() {
        return Ok(LocalResult {
            params: global.to_vec(),
            samples: data.len(),
            mean_loss: 0.0,
        });
    }
    let anchors: Vec<Tensor> = net
        .vars()
        .iter()
        .map(|v| v.as_detached_tensor().copy())
        .collect::<candle_core::Result<_>>()?;
    let mut opt = AdamW::new(
        net.vars().to_vec(),
        ParamsAdamW {
            lr: f64::from(local.learning_rate),
            weight_decay: 0.0,
            ..ParamsAdamW::default()
        },
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(local.seed);
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut mean_loss = 0.0;
    for _ in 0..local.epochs {
        order.shuffle(&mut rng);
        let (mut total, mut seen) = (0.0, 0usize);
        for batch in order.chunks(local.batch_size as usize) {
            let x = data.batch(batch, &device)?;
            let y = data.label_batch(batch, &device)?;
            let ce = candle_nn::loss::cross_entropy(&net.forward(&x)?, &y)?;
            total += f64::from(ce.to_scalar::<f32>()?) * batch.len() as f64;
            seen += batch.len();
            let loss = if local.prox_mu > 0.0 {
                let mut prox = Tensor::zeros((), candle_core::DType::F32, &device)?;
                for (v, a) in net.vars().iter().zip(&anchors) {
                    prox = (prox + (v.as_tensor() - a)?.sqr()?.sum_all()?)?;
                }
                (ce + (prox * f64::from(local.prox_mu / 2.0))?)?
            } else {
                ce
            };
            opt.backward_step(&loss)?;
        }
        mean_loss = total / seen.max(1) as f64;
    }
    Ok(LocalResult {
        params: net.to_flat()?,
        samples: data.len(),
        mean_loss,
    })
}

/// Mean cross-entropy of `params` on `data` and the number of cells (0, 0 for no cells).
pub fn validation_loss(spec: &ModelSpec, params: &[f32], data: &Dataset) -> Result<(f64, usize)> {
    data.validate(spec.input_size, Some(spec.classes.len()))?;
    if data.is_empty() {
        return Ok((0.0, 0));
    }
    let net = Net::from_flat(spec, params, &Device::Cpu)?;
    let mut sum = 0.0;
    for (p, &l) in net.probabilities(data)?.iter().zip(&data.labels) {
        sum -= f64::from(p[usize::from(l)]).max(1e-12).ln();
    }
    Ok((sum / data.len() as f64, data.len()))
}

/// The site's training vector for `round` (layout in `oncofed_learn::round`):
/// validation loss of the round's global parameters on `val`, local training
/// on `train`, then either `n·θ` (no DP) or the clipped update plus this
/// site's share of the Gaussian noise, drawn from an OS-seeded CSPRNG so that
/// neither the hub nor another site can reproduce and subtract it.
pub fn site_train_vector(round: &TrainRound, train: &Dataset, val: &Dataset) -> Result<Vec<f64>> {
    round.validate()?;
    let (val_loss, n_val) = validation_loss(&round.spec, &round.global, val)?;
    let local = train_local(&round.spec, &round.global, train, &round.local)?;
    let p = round.spec.parameter_count();
    let mut v = Vec::with_capacity(train_vector_len(&round.spec));
    match &round.dp {
        None => {
            let n = local.samples as f64;
            v.extend(local.params.iter().map(|&t| n * f64::from(t)));
            v.push(n);
        }
        Some(dp) => {
            let delta: Vec<f64> = local
                .params
                .iter()
                .zip(&round.global)
                .map(|(&t, &g)| f64::from(t) - f64::from(g))
                .collect();
            let norm = delta.iter().map(|d| d * d).sum::<f64>().sqrt();
            let scale = if norm > dp.clip_norm {
                dp.clip_norm / norm
            } else {
                1.0
            };
            let sd = dp.noise_multiplier * dp.clip_norm / (round.sites as f64).sqrt();
            let noise = Normal::new(0.0, sd).map_err(|e| Error::Data(format!("dp noise: {e}")))?;
            let mut rng = StdRng::from_os_rng();
            v.extend(delta.iter().map(|d| d * scale + noise.sample(&mut rng)));
            v.push(1.0);
        }
    }
    v.push(val_loss * n_val as f64);
    v.push(n_val as f64);
    debug_assert_eq!(v.len(), p + 3);
    Ok(v)
}

/// The site's evaluation vector for `round` on its labelled `data`
/// (layout in `oncofed_learn::eval`).
pub fn site_evaluate_vector(round: &EvaluateRound, data: &Dataset) -> Result<Vec<f64>> {
    round.validate()?;
    let k = round.spec.classes.len();
    data.validate(round.spec.input_size, Some(k))?;
    let net = Net::from_flat(&round.spec, &round.params, &Device::Cpu)?;
    let mut acc = EvalAccumulator::new(k, round.bins);
    for (p, &l) in net.probabilities(data)?.iter().zip(&data.labels) {
        acc.add(usize::from(l), p)?;
    }
    Ok(acc.into_vector())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oncofed_learn::{DpConfig, Evaluation};
    use oncofed_model::CellClass;

    /// Three classes told apart by where the bright half of a noisy 8×8 image lies.
    fn toy(n: usize, seed: u64) -> Dataset {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut d = Dataset::new(8);
        for i in 0..n {
            let class = (i % 3) as u8;
            let mut img = Vec::with_capacity(8 * 8 * 3);
            for y in 0..8 {
                for x in 0..8 {
                    let lit = match class {
                        0 => x < 4,
                        1 => y < 4,
                        _ => (2..6).contains(&x) && (2..6).contains(&y),
                    };
                    let base: i32 = if lit { 200 } else { 60 };
                    for _ in 0..3 {
                        img.push((base + rng.random_range(-40..40)).clamp(0, 255) as u8);
                    }
                }
            }
            d.push_rgb(8, 8, &img, Some(class)).unwrap();
        }
        d
    }

    fn spec() -> ModelSpec {
        ModelSpec {
            classes: vec![
                CellClass::Myeloblast,
                CellClass::Lymphocyte,
                CellClass::Monocyte,
            ],
            input_size: 8,
            conv_channels: [4, 4],
        }
    }

    fn local(prox_mu: f32) -> LocalConfig {
        LocalConfig {
            epochs: 5,
            batch_size: 16,
            learning_rate: 0.01,
            prox_mu,
            seed: 9,
        }
    }

    #[test]
    fn local_training_learns_and_is_deterministic() {
        let (spec, data) = (spec(), toy(150, 1));
        let global = spec.initial_params(1);
        let a = train_local(&spec, &global, &data, &local(0.0)).unwrap();
        let b = train_local(&spec, &global, &data, &local(0.0)).unwrap();
        assert_eq!(a, b);
        let (before, _) = validation_loss(&spec, &global, &toy(60, 2)).unwrap();
        let (after, n) = validation_loss(&spec, &a.params, &toy(60, 2)).unwrap();
        assert_eq!(n, 60);
        assert!(after < 0.5 * before, "loss {before} → {after}");
        let round = EvaluateRound {
            spec: spec.clone(),
            params: a.params,
            bins: 10,
        };
        let e = Evaluation::from_sum(&round, &site_evaluate_vector(&round, &toy(60, 3)).unwrap())
            .unwrap();
        assert!(e.accuracy > 0.9, "accuracy {}", e.accuracy);
    }

    #[test]
    fn fedprox_keeps_the_update_near_the_global() {
        let (spec, data) = (spec(), toy(90, 4));
        let global = spec.initial_params(2);
        let dist = |p: &[f32]| {
            p.iter()
                .zip(&global)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f32>()
                .sqrt()
        };
        let free = train_local(&spec, &global, &data, &local(0.0)).unwrap();
        let prox = train_local(&spec, &global, &data, &local(10.0)).unwrap();
        assert!(
            dist(&prox.params) < 0.7 * dist(&free.params),
            "{} vs {}",
            dist(&prox.params),
            dist(&free.params)
        );
    }

    #[test]
    fn train_vectors_follow_the_layout_with_and_without_dp() {
        let spec = spec();
        let p = spec.parameter_count();
        let mut round = TrainRound {
            spec: spec.clone(),
            round: 0,
            global: spec.initial_params(3),
            local: local(0.0),
            dp: None,
            sites: 3,
        };
        let (train, val) = (toy(30, 5), toy(12, 6));
        let v = site_train_vector(&round, &train, &val).unwrap();
        assert_eq!(v.len(), p + 3);
        assert_eq!((v[p], v[p + 2]), (30.0, 12.0));
        let (loss, _) = validation_loss(&spec, &round.global, &val).unwrap();
        assert!((v[p + 1] - 12.0 * loss).abs() < 1e-6);
        // DP with a vanishing noise multiplier: the update is clipped to C
        round.dp = Some(DpConfig {
            clip_norm: 0.05,
            noise_multiplier: 1e-9,
            delta: 1e-5,
        });
        let v = site_train_vector(&round, &train, &val).unwrap();
        let norm = v[..p].iter().map(|d| d * d).sum::<f64>().sqrt();
        assert!((norm - 0.05).abs() < 1e-6, "clipped norm {norm}");
        assert_eq!(v[p], 1.0);
        // real noise: runs differ (OS-seeded), and the noise has the share's scale
        round.dp = Some(DpConfig {
            clip_norm: 0.05,
            noise_multiplier: 2.0,
            delta: 1e-5,
        });
        let runs: Vec<Vec<f64>> = (0..8)
            .map(|_| site_train_vector(&round, &train, &val).unwrap())
            .collect();
        assert_ne!(runs[0][..p], runs[1][..p]);
        // The per-coordinate variance across the runs, pooled over p × 7 degrees
        // of freedom: the estimate's relative standard error is about
        // 1/sqrt(2 × 7p), under 2 %, so the 10 % bound below is over five of
        // them. (From two runs it was about 4 %, and the check failed now and then.)
        let k = runs.len() as f64;
        let pooled = (0..p)
            .map(|i| {
                let mean = runs.iter().map(|r| r[i]).sum::<f64>() / k;
                runs.iter().map(|r| (r[i] - mean).powi(2)).sum::<f64>()
            })
            .sum::<f64>()
            / (p as f64 * (k - 1.0));
        let sd = pooled.sqrt();
        let expected = 2.0 * 0.05 / 3f64.sqrt();
        assert!(
            (sd / expected - 1.0).abs() < 0.1,
            "noise sd {sd}, expected {expected}"
        );
    }

    #[test]
    fn mismatched_data_are_rejected() {
        let spec = spec();
        let mut data = toy(3, 7);
        data.labels[0] = 7;
        assert!(train_local(&spec, &spec.initial_params(1), &data, &local(0.0)).is_err());
        let other = Dataset {
            images: vec![0; 16 * 16 * 3],
            labels: vec![0],
            size: 16,
        };
        assert!(validation_loss(&spec, &spec.initial_params(1), &other).is_err());
    }
}
