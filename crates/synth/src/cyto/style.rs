//! How a site's staining and scanner turn stain concentrations into pixels.
//!
//! Real clinics differ: one lab's May-Grünwald-Giemsa comes out more purple,
//! another's paler and pinker; a halogen lamp is warmer than an LED; one
//! camera is slightly out of focus, another noisy, and one scanner stores
//! JPEG at low quality. [`SiteStyle`] carries these differences and
//! [`SiteStyle::render`] applies them: Beer–Lambert absorption through the
//! site's stain hues and strength, lamp colour (white balance), saturation,
//! brightness, contrast and gamma, Gaussian blur, sensor noise, and a real
//! JPEG encode–decode round trip through the `image` codec.

use super::canvas::{Canvas, PIXELS, SIZE, STAINS};
use crate::draw::aux_rng;
use image::RgbImage;
use rand::Rng;
use rand_distr::StandardNormal;
use serde::Serialize;

/// Optical density per unit concentration (R, G, B) of each stain in the
/// reference protocol: chromatin dark purple, basophilic cytoplasm blue,
/// eosin pink, azurophilic granules red-purple, eosinophil granules orange.
const REFERENCE_OD: [[f32; 3]; STAINS] = [
    [0.99, 1.63, 0.67],
    [0.75, 0.53, 0.19],
    [0.08, 0.53, 0.47],
    [0.75, 2.14, 0.84],
    [0.08, 0.84, 1.45],
];

/// Stream offset of the site styles (apart from persons and smears).
const STREAM: u64 = 0x57E1_0000_0000;

/// One site's staining protocol and imaging chain (issue 15: sites differ as
/// real clinics do, so that federated training has a real site shift to
/// overcome). Public fields, so a test harness can build its own shifts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteStyle {
    /// The stain as the lab names it (`smears.csv` `stain`).
    pub stain: String,
    /// The microscope or scanner (`smears.csv` `scanner`).
    pub scanner: String,
    /// Objective magnification (`smears.csv` `magnification`).
    pub magnification: String,
    /// Optical density (R, G, B) per unit concentration of each stain:
    /// chromatin, basophilic cytoplasm, eosin, azurophil, eosinophil granules.
    pub stain_od: [[f32; 3]; STAINS],
    /// Overall staining strength (multiplies every concentration).
    pub strength: f32,
    /// Lamp colour after the camera's white balance (R, G, B in 0..1).
    pub illuminant: [f32; 3],
    /// Colour saturation factor (1 = unchanged).
    pub saturation: f32,
    /// Added to every channel (in 0..1 units).
    pub brightness: f32,
    /// Contrast factor around mid-grey.
    pub contrast: f32,
    /// Gamma applied after contrast (1 = linear).
    pub gamma: f32,
    /// Gaussian blur sigma in pixels (focus, optics).
    pub blur_sigma: f32,
    /// Sensor noise standard deviation (in 0..255 units).
    pub noise: f32,
    /// JPEG quality of the stored image; `None` stores lossless.
    pub jpeg_quality: Option<u8>,
    /// Pixel size relative to the reference (cells look larger above 1).
    pub scale: f32,
}

/// Multiplies each stain's OD by per-channel factors (a hue shift of that stain).
fn tint(od: [[f32; 3]; STAINS], factors: [[f32; 3]; STAINS]) -> [[f32; 3]; STAINS] {
    let mut out = od;
    for (o, f) in out.iter_mut().zip(factors) {
        for (v, k) in o.iter_mut().zip(f) {
            *v *= k;
        }
    }
    out
}

impl SiteStyle {
    /// The reference style: an automated scanner with a standard stain.
    fn reference() -> Self {
        Self {
            stain: "May-Grünwald-Giemsa".into(),
            scanner: "Metafer 4".into(),
            magnification: "100x".into(),
            stain_od: REFERENCE_OD,
            strength: 1.0,
            illuminant: [0.97, 0.96, 0.95],
            saturation: 1.0,
            brightness: 0.0,
            contrast: 1.0,
            gamma: 1.0,
            blur_sigma: 0.5,
            noise: 2.0,
            jpeg_quality: Some(95),
            scale: 1.0,
        }
    }

    /// The style of site number `index` (0-based) in a cohort drawn with `seed`.
    ///
    /// Sites 0, 1 and 2 are fixed archetypes (clearly different from each
    /// other at every seed) with a small seed-dependent jitter: 0 a scanner
    /// with a standard stain, 1 a darker and more purple Pappenheim stain
    /// under a warm halogen lamp, slightly blurred, JPEG 80; 2 a pale, pink
    /// Wright-Giemsa under a cool LED, noisy, JPEG 55, at a smaller pixel
    /// scale. Further sites are drawn at random from the range these span.
    pub fn for_site(index: usize, seed: u64) -> Self {
        let mut rng = aux_rng(seed, STREAM + index as u64);
        let mut s = Self::reference();
        match index {
            0 => {}
            1 => {
                s.stain = "Pappenheim (May-Grünwald-Giemsa)".into();
                s.scanner = "Olympus BX43 + camera".into();
                s.stain_od = tint(
                    REFERENCE_OD,
                    [
                        [1.25, 1.0, 0.85],
                        [1.1, 1.3, 1.6],
                        [1.7, 0.9, 0.7],
                        [1.1, 1.0, 0.9],
                        [1.3, 1.0, 0.8],
                    ],
                );
                s.strength = 1.3;
                s.illuminant = [1.0, 0.94, 0.84];
                s.saturation = 0.9;
                s.contrast = 0.9;
                s.blur_sigma = 1.1;
                s.noise = 4.0;
                s.jpeg_quality = Some(80);
                s.scale = 1.08;
            }
            2 => {
                s.stain = "Wright-Giemsa".into();
                s.scanner = "CellaVision DM96".into();
                s.stain_od = tint(
                    REFERENCE_OD,
                    [
                        [0.75, 1.0, 0.85],
                        [0.9, 1.0, 1.0],
                        [1.0, 1.35, 1.1],
                        [0.9, 1.0, 1.0],
                        [0.9, 1.1, 1.0],
                    ],
                );
                s.strength = 0.7;
                s.illuminant = [0.9, 0.96, 1.0];
                s.saturation = 1.2;
                s.brightness = 0.03;
                s.gamma = 0.85;
                s.blur_sigma = 0.8;
                s.noise = 6.0;
                s.jpeg_quality = Some(55);
                s.scale = 0.92;
            }
            _ => {
                s.stain = [
                    "May-Grünwald-Giemsa",
                    "Pappenheim",
                    "Wright-Giemsa",
                    "Giemsa",
                ][rng.random_range(0..4)]
                .into();
                s.scanner = [
                    "Metafer 4",
                    "Olympus BX43 + camera",
                    "CellaVision DM96",
                    "Zeiss Axio Imager + camera",
                ][rng.random_range(0..4)]
                .into();
                let mut factors = [[1.0; 3]; STAINS];
                for f in &mut factors {
                    for v in f.iter_mut() {
                        *v = 0.75 + 0.75 * rng.random::<f32>();
                    }
                }
                s.stain_od = tint(REFERENCE_OD, factors);
                s.strength = 0.7 + 0.6 * rng.random::<f32>();
                s.illuminant = [
                    0.88 + 0.12 * rng.random::<f32>(),
                    0.9 + 0.1 * rng.random::<f32>(),
                    0.8 + 0.2 * rng.random::<f32>(),
                ];
                s.saturation = 0.85 + 0.4 * rng.random::<f32>();
                s.brightness = -0.04 + 0.08 * rng.random::<f32>();
                s.contrast = 0.85 + 0.3 * rng.random::<f32>();
                s.gamma = 0.85 + 0.3 * rng.random::<f32>();
                s.blur_sigma = 0.3 + 1.0 * rng.random::<f32>();
                s.noise = 1.0 + 6.0 * rng.random::<f32>();
                s.jpeg_quality = Some(rng.random_range(50..=95));
                s.scale = 0.9 + 0.2 * rng.random::<f32>();
            }
        }
        // Seed jitter: the same archetype is never exactly the same lab.
        let mut jitter =
            |x: &mut f32, rel: f32| *x *= 1.0 + rel * (2.0 * rng.random::<f32>() - 1.0);
        jitter(&mut s.strength, 0.04);
        for c in &mut s.illuminant {
            jitter(c, 0.01);
            *c = c.min(1.0);
        }
        jitter(&mut s.blur_sigma, 0.1);
        jitter(&mut s.noise, 0.1);
        s
    }

    /// Turns stain concentrations into the image this site's microscope stores.
    pub(crate) fn render<R: Rng + ?Sized>(&self, canvas: &Canvas, rng: &mut R) -> RgbImage {
        let mut rgb = vec![[0f32; 3]; PIXELS];
        for (out, c) in rgb.iter_mut().zip(&canvas.px) {
            for (ch, v) in out.iter_mut().enumerate() {
                let od: f32 = (0..STAINS)
                    .map(|s| c[s].max(0.0) * self.stain_od[s][ch])
                    .sum();
                *v = self.illuminant[ch] * (-od * self.strength).exp();
            }
            let lum = (out[0] + out[1] + out[2]) / 3.0;
            for v in out.iter_mut() {
                let sat = lum + self.saturation * (*v - lum);
                let c = (sat - 0.5) * self.contrast + 0.5 + self.brightness;
                *v = c.clamp(0.0, 1.0).powf(self.gamma);
            }
        }
        let rgb = blur(&rgb, self.blur_sigma);
        let mut img = RgbImage::new(SIZE, SIZE);
        for (p, v) in img.pixels_mut().zip(&rgb) {
            for (out, value) in p.0.iter_mut().zip(v) {
                let z: f32 = rng.sample(StandardNormal);
                *out = (value * 255.0 + self.noise * z).round().clamp(0.0, 255.0) as u8;
            }
        }
        match self.jpeg_quality {
            Some(q) => jpeg_round_trip(img, q),
            None => img,
        }
    }
}

/// Separable Gaussian blur with clamped edges; no-op below a tenth of a pixel.
fn blur(src: &[[f32; 3]], sigma: f32) -> Vec<[f32; 3]> {
    if sigma.is_nan() || sigma < 0.1 {
        return src.to_vec();
    }
    let radius = (3.0 * sigma).ceil() as i32;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let side = SIZE as i32;
    let pass = |src: &[[f32; 3]], horizontal: bool| -> Vec<[f32; 3]> {
        (0..PIXELS)
            .map(|i| {
                let (x, y) = (i as i32 % side, i as i32 / side);
                let mut acc = [0f32; 3];
                for (k, w) in kernel.iter().enumerate() {
                    let d = k as i32 - radius;
                    let (sx, sy) = if horizontal {
                        ((x + d).clamp(0, side - 1), y)
                    } else {
                        (x, (y + d).clamp(0, side - 1))
                    };
                    let s = src[(sy * side + sx) as usize];
                    for ch in 0..3 {
                        acc[ch] += w * s[ch];
                    }
                }
                acc.map(|a| a / total)
            })
            .collect()
    };
    pass(&pass(src, true), false)
}

/// Encodes `img` as JPEG at `quality` and decodes it again (the artefacts a
/// scanner's storage leaves). Falls back to the uncompressed image if the
/// codec refuses, which for an in-memory 64×64 RGB image it does not.
fn jpeg_round_trip(img: RgbImage, quality: u8) -> RgbImage {
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality.max(1));
    if img.write_with_encoder(encoder).is_err() {
        return img;
    }
    match image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg) {
        Ok(decoded) => decoded.to_rgb8(),
        Err(_) => img,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_are_deterministic_and_distinct() {
        assert_eq!(SiteStyle::for_site(1, 7), SiteStyle::for_site(1, 7));
        assert_ne!(SiteStyle::for_site(1, 7), SiteStyle::for_site(1, 8));
        for i in 0..10 {
            for j in 0..i {
                assert_ne!(SiteStyle::for_site(i, 7), SiteStyle::for_site(j, 7));
            }
        }
        let blurred = blur(&vec![[0.5; 3]; PIXELS], 1.3);
        assert!(blurred.iter().all(|p| (p[0] - 0.5).abs() < 1e-4));
    }
}
