//! The network: parameters as candle variables in the flat layout of
//! [`ModelSpec::layers`], and its forward pass.

use crate::{Dataset, Error, Result};
use candle_core::{D, Device, Tensor, Var};
use oncofed_learn::ModelSpec;
use oncofed_model::CellClass;

/// The CNN of [`oncofed_learn::ARCHITECTURE`] with its parameters as trainable variables.
#[derive(Debug)]
pub struct Net {
    spec: ModelSpec,
    vars: Vec<Var>,
}

impl Net {
    /// Builds the network from flat parameters (length [`ModelSpec::parameter_count`]).
    pub fn from_flat(spec: &ModelSpec, params: &[f32], device: &Device) -> Result<Self> {
        spec.validate()?;
        spec.check_params("network parameters", params)?;
        let mut vars = Vec::new();
        let mut at = 0;
        for layer in spec.layers() {
            let n = layer.len();
            let t = Tensor::from_slice(&params[at..at + n], layer.shape.as_slice(), device)?;
            vars.push(Var::from_tensor(&t)?);
            at += n;
        }
        Ok(Self {
            spec: spec.clone(),
            vars,
        })
    }

    /// The parameters, flat, in [`ModelSpec::layers`] order.
    pub fn to_flat(&self) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(self.spec.parameter_count());
        for v in &self.vars {
            out.extend(v.as_tensor().flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    }

    /// The trainable variables (for the optimiser).
    pub fn vars(&self) -> &[Var] {
        &self.vars
    }

    /// Class scores (logits), N×k, for an N×3×s×s input.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let [c1, c2] = self.spec.conv_channels;
        let v = |i: usize| self.vars[i].as_tensor();
        let h = x
            .conv2d(v(0), 1, 1, 1, 1)?
            .broadcast_add(&v(1).reshape((1, c1, 1, 1))?)?
            .relu()?
            .max_pool2d(2)?;
        let h = h
            .conv2d(v(2), 1, 1, 1, 1)?
            .broadcast_add(&v(3).reshape((1, c2, 1, 1))?)?
            .relu()?
            .max_pool2d(2)?
            .flatten_from(1)?;
        Ok(h.matmul(&v(4).t()?)?.broadcast_add(v(5))?)
    }

    /// Softmax probabilities, one row per cell of `data`, in batches of 256.
    pub fn probabilities(&self, data: &Dataset) -> Result<Vec<Vec<f32>>> {
        let device = self
            .vars
            .first()
            .map(|v| v.device().clone())
            .unwrap_or(Device::Cpu);
        let mut out = Vec::with_capacity(data.len());
        let indices: Vec<usize> = (0..data.len()).collect();
        for chunk in indices.chunks(256) {
            let logits = self.forward(&data.batch(chunk, &device)?)?;
            let probs = candle_nn::ops::softmax(&logits, D::Minus1)?;
            out.extend(probs.to_vec2::<f32>()?);
        }
        Ok(out)
    }
}

/// Classifies every cell of `images` (labels, if any, are ignored): the most
/// probable class and its softmax probability.
pub fn predict(
    spec: &ModelSpec,
    params: &[f32],
    images: &Dataset,
) -> Result<Vec<(CellClass, f32)>> {
    images.validate(spec.input_size, None)?;
    let net = Net::from_flat(spec, params, &Device::Cpu)?;
    net.probabilities(images)?
        .into_iter()
        .map(|p| {
            let (i, conf) =
                p.iter().enumerate().fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                );
            spec.classes
                .get(i)
                .map(|&c| (c, conf))
                .ok_or_else(|| Error::Data(format!("prediction: output {i} has no class")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_parameters_round_trip_and_shape_the_output() {
        let spec = ModelSpec::differential();
        let params = spec.initial_params(5);
        let net = Net::from_flat(&spec, &params, &Device::Cpu).unwrap();
        assert_eq!(net.to_flat().unwrap(), params);
        let mut data = Dataset::new(32);
        data.images = vec![128; 2 * 32 * 32 * 3];
        let p = net.probabilities(&data).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].len(), 8);
        assert!((p[0].iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(predict(&spec, &params, &data).unwrap().len(), 2);
        assert!(Net::from_flat(&spec, &params[1..], &Device::Cpu).is_err());
    }
}
