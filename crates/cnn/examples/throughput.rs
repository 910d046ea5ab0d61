//! Training speed of the cell classifier on this machine: images per second
//! of local training (forward, backward, Adam step) and the time of one
//! federated round at 3 and 10 sites, in process (sites one after another).
//!
//! `RAYON_NUM_THREADS=1 cargo run -p oncofed-cnn --release --example throughput`
//! gives the per-core figure. Pixel content does not change the cost, so the
//! images are noise.

use oncofed_cnn::{Dataset, site_train_vector, train_local};
use oncofed_learn::{LocalConfig, ModelSpec, TrainRound};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn noise(spec: &ModelSpec, n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let s = spec.input_size as usize;
    let k = spec.classes.len() as u8;
    Dataset {
        images: (0..n * s * s * 3).map(|_| rng.random()).collect(),
        labels: (0..n).map(|_| rng.random_range(0..k)).collect(),
        size: spec.input_size,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut spec = ModelSpec::differential();
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    if let Some(s) = env("SIZE") {
        spec.input_size = s as u32;
    }
    if let (Some(a), Some(b)) = (env("C1"), env("C2")) {
        spec.conv_channels = [a, b];
    }
    let batch = env("BATCH").unwrap_or(32) as u32;
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    println!(
        "spec {}×{} channels {:?}, P = {} parameters, threads: {threads}",
        spec.input_size,
        spec.input_size,
        spec.conv_channels,
        spec.parameter_count()
    );
    let local = LocalConfig {
        epochs: 2,
        batch_size: batch,
        learning_rate: 0.003,
        prox_mu: 0.0,
        seed: 1,
    };
    let data = noise(&spec, 1000, 1);
    let global = spec.initial_params(1);
    train_local(
        &spec,
        &global,
        &noise(&spec, 64, 9),
        &LocalConfig {
            epochs: 1,
            ..local.clone()
        },
    )?;
    for mu in [0.0, 0.01] {
        let cfg = LocalConfig {
            prox_mu: mu,
            ..local.clone()
        };
        let t = Instant::now();
        train_local(&spec, &global, &data, &cfg)?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "local training, μ = {mu}: {:.0} images/s ({} images in {secs:.2} s)",
            2000.0 / secs,
            2000
        );
    }
    for (sites, per_site) in [(3, 180), (10, 90)] {
        let parts: Vec<(Dataset, Dataset)> = (0..sites)
            .map(|i| {
                (
                    noise(&spec, per_site, 10 + i),
                    noise(&spec, per_site / 3, 100 + i),
                )
            })
            .collect();
        let round = TrainRound {
            spec: spec.clone(),
            round: 0,
            global: global.clone(),
            local: local.clone(),
            dp: None,
            sites: sites as usize,
        };
        let t = Instant::now();
        let mut slowest: f64 = 0.0;
        for (train, val) in &parts {
            let ts = Instant::now();
            site_train_vector(&round, train, val)?;
            slowest = slowest.max(ts.elapsed().as_secs_f64());
        }
        println!(
            "round at {sites} sites × {per_site} training cells, {} epochs: {:.2} s in process (sites in turn), {:.2} s for the slowest site (sites in parallel)",
            local.epochs,
            t.elapsed().as_secs_f64(),
            slowest
        );
    }
    Ok(())
}
