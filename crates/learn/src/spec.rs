//! The network's shape as data: what hub and sites agree on before a round.

use crate::{Error, Result};
use oncofed_model::CellClass;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The architecture's name and version, part of [`ModelSpec::hash`]: a change
/// in layer order or layout must change every spec's hash.
pub const ARCHITECTURE: &str =
    "oncofed-cnn/v1: conv3x3(pad1)-relu-maxpool2, conv3x3(pad1)-relu-maxpool2, linear";

/// The shape of the cell classifier: two 3×3 convolutions (padding 1), each
/// followed by ReLU and 2×2 max-pooling, then one linear layer to the class
/// scores. Input `input_size × input_size` RGB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The output classes in output-index order (normally
    /// [`CellClass::DIFFERENTIAL`]); a site's label is an index into this list.
    pub classes: Vec<CellClass>,
    /// Width and height of the (square) input image in pixels; a multiple of 4.
    pub input_size: u32,
    /// Output channels of the two convolutions.
    pub conv_channels: [usize; 2],
}

/// One parameter tensor in the flat layout: its name and shape (row-major).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParamTensor {
    /// `conv1.weight`, `conv1.bias`, `conv2.weight`, `conv2.bias`, `fc.weight`, `fc.bias`.
    pub name: &'static str,
    /// Shape, outermost first: conv weights `[out, in, 3, 3]`, linear weight
    /// `[classes, c2·(s/4)²]` whose input index is channel-major
    /// (`c·(s/4)² + y·(s/4) + x`), biases `[n]`.
    pub shape: Vec<usize>,
}

impl ParamTensor {
    /// Number of values in this tensor.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor holds no values (never for a valid spec).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ModelSpec {
    /// The default differential classifier: the eight classes of
    /// [`CellClass::DIFFERENTIAL`], 32×32 input, 8 and 16 channels.
    pub fn differential() -> Self {
        Self {
            classes: CellClass::DIFFERENTIAL.to_vec(),
            input_size: 32,
            conv_channels: [8, 16],
        }
    }

    /// Checks that the spec describes a network: at least two distinct
    /// classes (at most 255, labels are `u8`), an input of 4 to 512 pixels
    /// divisible by 4, and 1 to 512 channels per convolution.
    pub fn validate(&self) -> Result<()> {
        if self.classes.len() < 2 || self.classes.len() > 255 {
            return Err(Error::Spec(format!(
                "classes: {} given, need 2 to 255",
                self.classes.len()
            )));
        }
        let mut seen = self.classes.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.classes.len() {
            return Err(Error::Spec("classes: a class is listed twice".into()));
        }
        if self.input_size < 4 || self.input_size > 512 || !self.input_size.is_multiple_of(4) {
            return Err(Error::Spec(format!(
                "input_size: {} is not a multiple of 4 between 4 and 512",
                self.input_size
            )));
        }
        if self.conv_channels.iter().any(|&c| c == 0 || c > 512) {
            return Err(Error::Spec(format!(
                "conv_channels: {:?}, each must be 1 to 512",
                self.conv_channels
            )));
        }
        Ok(())
    }

    /// Number of input features of the linear layer: `c2 · (s/4)²`.
    pub fn fc_inputs(&self) -> usize {
        let side = (self.input_size / 4) as usize;
        self.conv_channels[1] * side * side
    }

    /// The parameter tensors in the fixed order of the flat vector every
    /// round carries.
    pub fn layers(&self) -> Vec<ParamTensor> {
        let [c1, c2] = self.conv_channels;
        let k = self.classes.len();
        vec![
            ParamTensor {
                name: "conv1.weight",
                shape: vec![c1, 3, 3, 3],
            },
            ParamTensor {
                name: "conv1.bias",
                shape: vec![c1],
            },
            ParamTensor {
                name: "conv2.weight",
                shape: vec![c2, c1, 3, 3],
            },
            ParamTensor {
                name: "conv2.bias",
                shape: vec![c2],
            },
            ParamTensor {
                name: "fc.weight",
                shape: vec![k, self.fc_inputs()],
            },
            ParamTensor {
                name: "fc.bias",
                shape: vec![k],
            },
        ]
    }

    /// Length of the flat parameter vector (P).
    pub fn parameter_count(&self) -> usize {
        self.layers().iter().map(ParamTensor::len).sum()
    }

    /// A stable identifier of the spec (SHA-256, lowercase hex) over the
    /// architecture version, the class codes, the input size and the channels.
    /// Equal hashes mean equal parameter layouts.
    pub fn hash(&self) -> String {
        let classes: Vec<&str> = self.classes.iter().map(|c| c.code()).collect();
        let text = format!(
            "{ARCHITECTURE}\nclasses={}\ninput_size={}\nconv_channels={},{}\n",
            classes.join(","),
            self.input_size,
            self.conv_channels[0],
            self.conv_channels[1]
        );
        format!("{:x}", Sha256::digest(text.as_bytes()))
    }

    /// The initial global parameters, deterministic by `seed` (ChaCha20):
    /// every tensor uniform in ±1/√fan_in (PyTorch's default for convolutions
    /// and linear layers), fan_in = in-channels·9 or the linear inputs.
    pub fn initial_params(&self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let c1 = self.conv_channels[0];
        let fans = [27, 27, c1 * 9, c1 * 9, self.fc_inputs(), self.fc_inputs()];
        let mut out = Vec::with_capacity(self.parameter_count());
        for (layer, fan_in) in self.layers().iter().zip(fans) {
            let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
            out.extend((0..layer.len()).map(|_| rng.random_range(-bound..bound)));
        }
        out
    }

    /// Fails unless `params` has exactly [`Self::parameter_count`] finite values.
    pub fn check_params(&self, what: &'static str, params: &[f32]) -> Result<()> {
        let expected = self.parameter_count();
        if params.len() != expected {
            return Err(Error::Length {
                what,
                expected,
                got: params.len(),
            });
        }
        if let Some(i) = params.iter().position(|v| !v.is_finite()) {
            return Err(Error::Sum {
                what,
                reason: format!("value {i} is not finite"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_count_follows_the_layers() {
        let spec = ModelSpec::differential();
        // conv1 8·3·9 + 8, conv2 16·8·9 + 16, fc 8·(16·8·8) + 8
        assert_eq!(spec.parameter_count(), 216 + 8 + 1152 + 16 + 8 * 1024 + 8);
        assert_eq!(spec.initial_params(7).len(), spec.parameter_count());
        assert_eq!(spec.initial_params(7), spec.initial_params(7));
        assert_ne!(spec.initial_params(7), spec.initial_params(8));
    }

    #[test]
    fn hash_is_stable_and_tracks_every_field() {
        let a = ModelSpec::differential();
        assert_eq!(a.hash(), ModelSpec::differential().hash());
        assert_eq!(a.hash().len(), 64);
        let mut b = a.clone();
        b.input_size = 64;
        let mut c = a.clone();
        c.conv_channels = [8, 32];
        let mut d = a.clone();
        d.classes.swap(0, 1);
        for other in [b, c, d] {
            assert_ne!(a.hash(), other.hash());
        }
    }

    #[test]
    fn invalid_specs_are_rejected() {
        let mut s = ModelSpec::differential();
        s.input_size = 30;
        assert!(s.validate().is_err());
        let mut s = ModelSpec::differential();
        s.classes.push(s.classes[0]);
        assert!(s.validate().is_err());
        let mut s = ModelSpec::differential();
        s.conv_channels = [0, 4];
        assert!(s.validate().is_err());
        assert!(ModelSpec::differential().validate().is_ok());
    }
}
