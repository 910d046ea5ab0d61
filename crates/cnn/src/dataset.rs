//! A site's cells as the network sees them: square RGB crops of one size.

use crate::{Error, Result};
use candle_core::{Device, Tensor};

/// Cells of one site: `images` holds N × size × size × 3 bytes (RGB, row-major,
/// pixel-interleaved), `labels` one class index per cell (into
/// `ModelSpec::classes`), or is empty for unlabelled cells (inference only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dataset {
    /// Pixel bytes, N × size × size × 3.
    pub images: Vec<u8>,
    /// Class index per cell, or empty.
    pub labels: Vec<u8>,
    /// Side length in pixels.
    pub size: u32,
}

impl Dataset {
    /// An empty dataset of `size × size` crops.
    pub fn new(size: u32) -> Self {
        Self {
            images: Vec::new(),
            labels: Vec::new(),
            size,
        }
    }

    /// Bytes per image.
    pub fn image_len(&self) -> usize {
        let s = self.size as usize;
        s * s * 3
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.images.len().checked_div(self.image_len()).unwrap_or(0)
    }

    /// Whether the dataset holds no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds one RGB image of any size (`width × height × 3` bytes), resized
    /// to `size × size` by area averaging (nearest pixel when enlarging),
    /// with its class index (`None` for an unlabelled cell; a dataset is
    /// either fully labelled or not at all).
    pub fn push_rgb(
        &mut self,
        width: u32,
        height: u32,
        rgb: &[u8],
        label: Option<u8>,
    ) -> Result<()> {
        let (w, h, s) = (width as usize, height as usize, self.size as usize);
        if w == 0 || h == 0 || rgb.len() != w * h * 3 {
            return Err(Error::Data(format!(
                "image {}: {} bytes do not hold {w}×{h} RGB pixels",
                self.len(),
                rgb.len()
            )));
        }
        match (label, self.labels.len() == self.len()) {
            (Some(l), true) => self.labels.push(l),
            (None, _) if self.labels.is_empty() => {}
            _ => {
                return Err(Error::Data(format!(
                    "image {}: labelled and unlabelled cells mixed",
                    self.len()
                )));
            }
        }
        for y in 0..s {
            let (y0, y1) = (y * h / s, ((y + 1) * h / s).max(y * h / s + 1).min(h));
            for x in 0..s {
                let (x0, x1) = (x * w / s, ((x + 1) * w / s).max(x * w / s + 1).min(w));
                let mut acc = [0u32; 3];
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        let o = (yy * w + xx) * 3;
                        for (a, &v) in acc.iter_mut().zip(&rgb[o..o + 3]) {
                            *a += u32::from(v);
                        }
                    }
                }
                let n = ((y1 - y0) * (x1 - x0)) as u32;
                self.images.extend(acc.map(|a| ((a + n / 2) / n) as u8));
            }
        }
        Ok(())
    }

    /// Checks that the bytes hold whole images of side `size`, that labels
    /// are absent or one per image, and (when `classes` is given) below it.
    pub fn validate(&self, size: u32, classes: Option<usize>) -> Result<()> {
        if self.size != size {
            return Err(Error::Data(format!(
                "size: images are {}×{0}, the model takes {size}×{size}",
                self.size
            )));
        }
        if self.image_len() == 0 || !self.images.len().is_multiple_of(self.image_len()) {
            return Err(Error::Data(format!(
                "images: {} bytes are not whole {size}×{size} RGB images",
                self.images.len()
            )));
        }
        if let Some(k) = classes {
            if self.labels.len() != self.len() {
                return Err(Error::Data(format!(
                    "labels: {} for {} images",
                    self.labels.len(),
                    self.len()
                )));
            }
            if let Some(i) = self.labels.iter().position(|&l| usize::from(l) >= k) {
                return Err(Error::Data(format!(
                    "labels: cell {i} has class index {} of {k}",
                    self.labels[i]
                )));
            }
        }
        Ok(())
    }

    /// The cells at `indices` as an N×3×size×size f32 tensor, every channel
    /// scaled as `(v/255 − 0.5)/0.25` (the same fixed normalisation at every site).
    pub fn batch(&self, indices: &[usize], device: &Device) -> Result<Tensor> {
        let s = self.size as usize;
        let plane = s * s;
        let mut out = vec![0f32; indices.len() * 3 * plane];
        for (b, &i) in indices.iter().enumerate() {
            let img = self
                .images
                .get(i * plane * 3..(i + 1) * plane * 3)
                .ok_or_else(|| Error::Data(format!("images: cell {i} out of range")))?;
            let dst = &mut out[b * 3 * plane..(b + 1) * 3 * plane];
            for (p, px) in img.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    dst[c * plane + p] = (f32::from(px[c]) / 255.0 - 0.5) / 0.25;
                }
            }
        }
        Ok(Tensor::from_vec(out, (indices.len(), 3, s, s), device)?)
    }

    /// The labels at `indices` as a u32 tensor.
    pub fn label_batch(&self, indices: &[usize], device: &Device) -> Result<Tensor> {
        let labels = indices
            .iter()
            .map(|&i| {
                self.labels
                    .get(i)
                    .map(|&l| u32::from(l))
                    .ok_or_else(|| Error::Data(format!("labels: cell {i} has none")))
            })
            .collect::<Result<Vec<u32>>>()?;
        Ok(Tensor::from_vec(labels, indices.len(), device)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_rgb_averages_areas_and_checks_input() {
        let mut d = Dataset::new(2);
        // 4×4: left half black, right half white
        let mut img = Vec::new();
        for _y in 0..4 {
            for x in 0..4 {
                img.extend(if x < 2 { [0, 0, 0] } else { [255, 255, 255] });
            }
        }
        d.push_rgb(4, 4, &img, Some(1)).unwrap();
        assert_eq!(
            d.images,
            vec![0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255]
        );
        assert_eq!(d.len(), 1);
        assert!(d.push_rgb(4, 4, &img[..10], Some(0)).is_err());
        assert!(d.push_rgb(4, 4, &img, None).is_err());
        assert!(d.validate(2, Some(2)).is_ok());
        assert!(d.validate(2, Some(1)).is_err());
        assert!(d.validate(4, None).is_err());
        let t = d.batch(&[0], &Device::Cpu).unwrap();
        assert_eq!(t.dims(), &[1, 3, 2, 2]);
        assert!(d.batch(&[1], &Device::Cpu).is_err());
    }
}
