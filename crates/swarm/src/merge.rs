//! The merge (FedAvg), the model hash, and the binary payloads of updates and
//! merged models.
//!
//! **Order of summation.** [`fedavg`] computes, per coordinate `j`,
//! `(Σ_k n_k · θ_kj) / (Σ_k n_k)` in `f64`, adding the contributions in the
//! order of the slice it is given, then rounds once to `f32`. The swarm passes
//! contributions in ascending site-name order (byte order of the names, as a
//! `BTreeMap` iterates), so any party that sorts the same `(θ_k, n_k)` by site
//! name and calls [`fedavg`] gets bit-identical parameters; a FedAvg in another
//! order or in `f32` agrees to rounding (`f64` sums of `f32` products carry
//! ~1e-16 relative error before the final rounding to `f32`'s ~6e-8).

use crate::SwarmError;
use sha2::{Digest, Sha256};

/// Most parameters in one model (32 MiB of `f32`; the hub's message limit
/// leaves room for its base64 encoding).
pub const MAX_PARAMS: usize = 8 << 20;

/// The contributors of a merged model and their sample counts, in name order.
pub type Contributors = Vec<(String, u64)>;

/// Most contributors a merged model lists.
pub const MAX_CONTRIBUTORS: usize = 1024;

/// The sample-weighted mean `Σ n_k θ_k / Σ n_k` of `updates`, summed in `f64`
/// in the slice's order. Refuses an empty set, zero total samples, vectors of
/// different lengths and non-finite values.
pub fn fedavg(updates: &[(Vec<f32>, u64)]) -> Result<Vec<f32>, SwarmError> {
    let bad = |rule| SwarmError::Malformed {
        what: "merge input",
        rule,
    };
    let Some((first, _)) = updates.first() else {
        return Err(bad("no contributions"));
    };
    let len = first.len();
    if updates.iter().any(|(p, _)| p.len() != len) {
        return Err(bad("contributions of different lengths"));
    }
    if updates
        .iter()
        .any(|(p, _)| p.iter().any(|x| !x.is_finite()))
    {
        return Err(bad("a non-finite parameter"));
    }
    let total: u128 = updates.iter().map(|(_, n)| u128::from(*n)).sum();
    if total == 0 {
        return Err(bad("zero samples in total"));
    }
    let total = total as f64;
    let weights: Vec<f64> = updates.iter().map(|(_, n)| *n as f64).collect();
    let mut out = Vec::with_capacity(len);
    for j in 0..len {
        let mut acc = 0f64;
        for ((p, _), w) in updates.iter().zip(&weights) {
            acc += w * f64::from(p[j]);
        }
        out.push((acc / total) as f32);
    }
    Ok(out)
}

/// SHA-256 of `"oncofed-swarm/v1 model" ‖ len (u64 BE) ‖ parameters (f32 LE)`:
/// what sites sign to show they hold the same model.
pub fn model_hash(params: &[f32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"oncofed-swarm/v1 model");
    h.update((params.len() as u64).to_be_bytes());
    for p in params {
        h.update(p.to_le_bytes());
    }
    h.finalize().into()
}

fn put_params(out: &mut Vec<u8>, params: &[f32]) {
    out.extend_from_slice(&(params.len() as u32).to_le_bytes());
    for p in params {
        out.extend_from_slice(&p.to_le_bytes());
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SwarmError> {
        if self.bytes.len() < n {
            return Err(SwarmError::Malformed {
                what: self.what,
                rule: "truncated",
            });
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32, SwarmError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, SwarmError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn params(&mut self) -> Result<Vec<f32>, SwarmError> {
        let len = self.u32()? as usize;
        if len > MAX_PARAMS {
            return Err(SwarmError::Malformed {
                what: self.what,
                rule: "more parameters than MAX_PARAMS",
            });
        }
        let raw = self.take(len * 4)?;
        let params: Vec<f32> = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if params.iter().any(|x| !x.is_finite()) {
            return Err(SwarmError::Malformed {
                what: self.what,
                rule: "a non-finite parameter",
            });
        }
        Ok(params)
    }
    fn end(&self) -> Result<(), SwarmError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(SwarmError::Malformed {
                what: self.what,
                rule: "trailing bytes",
            })
        }
    }
}

/// The plaintext of an update: samples (u64 LE), count (u32 LE), parameters (f32 LE).
pub fn encode_update(params: &[f32], samples: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + 4 * params.len());
    out.extend_from_slice(&samples.to_le_bytes());
    put_params(&mut out, params);
    out
}

/// Parses [`encode_update`]'s bytes.
pub fn decode_update(bytes: &[u8]) -> Result<(Vec<f32>, u64), SwarmError> {
    let mut r = Reader {
        bytes,
        what: "update",
    };
    let samples = r.u64()?;
    let params = r.params()?;
    r.end()?;
    Ok((params, samples))
}

/// The plaintext of a merged model: contributor count (u32 LE), per
/// contributor name length (u32 LE), name and samples (u64 LE), then the
/// parameters as in [`encode_update`].
pub fn encode_model(contributors: &[(String, u64)], params: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + 4 * params.len() + 64 * contributors.len());
    out.extend_from_slice(&(contributors.len() as u32).to_le_bytes());
    for (name, n) in contributors {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&n.to_le_bytes());
    }
    put_params(&mut out, params);
    out
}

/// Parses [`encode_model`]'s bytes.
pub fn decode_model(bytes: &[u8]) -> Result<(Contributors, Vec<f32>), SwarmError> {
    let mut r = Reader {
        bytes,
        what: "merged model",
    };
    let count = r.u32()? as usize;
    if count > MAX_CONTRIBUTORS {
        return Err(SwarmError::Malformed {
            what: "merged model",
            rule: "more contributors than MAX_CONTRIBUTORS",
        });
    }
    let mut contributors = Vec::with_capacity(count);
    for _ in 0..count {
        let len = r.u32()? as usize;
        if len > 128 {
            return Err(SwarmError::Malformed {
                what: "merged model",
                rule: "a contributor name longer than 128 bytes",
            });
        }
        let name = std::str::from_utf8(r.take(len)?).map_err(|_| SwarmError::Malformed {
            what: "merged model",
            rule: "a contributor name is not UTF-8",
        })?;
        contributors.push((name.to_owned(), r.u64()?));
    }
    let params = r.params()?;
    r.end()?;
    Ok((contributors, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fedavg_is_the_sample_weighted_mean() {
        let m = fedavg(&[(vec![1.0, 10.0], 1), (vec![4.0, -2.0], 3)]).unwrap();
        assert_eq!(m, vec![3.25, 1.0]);
        assert!(fedavg(&[]).is_err());
        assert!(fedavg(&[(vec![1.0], 0)]).is_err());
        assert!(fedavg(&[(vec![1.0], 1), (vec![1.0, 2.0], 1)]).is_err());
        assert!(fedavg(&[(vec![f32::NAN], 1)]).is_err());
    }

    #[test]
    fn payloads_round_trip_and_refuse_truncation() {
        let u = encode_update(&[1.5, -2.25], 7);
        assert_eq!(decode_update(&u).unwrap(), (vec![1.5, -2.25], 7));
        for cut in 0..u.len() {
            assert!(decode_update(&u[..cut]).is_err());
        }
        let mut long = u.clone();
        long.push(0);
        assert!(decode_update(&long).is_err());
        let c = vec![("site-a".to_owned(), 3), ("site-b".to_owned(), 4)];
        let m = encode_model(&c, &[0.5]);
        assert_eq!(decode_model(&m).unwrap(), (c, vec![0.5]));
        for cut in 0..m.len() {
            assert!(decode_model(&m[..cut]).is_err());
        }
        assert_ne!(model_hash(&[0.0]), model_hash(&[-0.0]));
        assert_ne!(model_hash(&[]), model_hash(&[0.0]));
    }
}
