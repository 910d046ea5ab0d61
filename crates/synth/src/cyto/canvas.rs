//! The drawing surface of a synthetic cell: a 64×64 grid of stain
//! concentrations (not colours), with soft-edged masks and value-noise fields.
//!
//! Drawing in stain space keeps morphology and staining apart: the cell is
//! drawn once as "how much chromatin, basophilic cytoplasm, eosin, azurophilic
//! and eosinophilic granule stain lies at each pixel", and a site's
//! [`super::SiteStyle`] turns that into colour through Beer–Lambert absorption
//! with its own stain hues, strength and lamp, the way a different staining
//! protocol and microscope change the look of the same cell.

use rand::Rng;

/// Image side in pixels.
pub const SIZE: u32 = 64;
/// Pixels per image.
pub(crate) const PIXELS: usize = (SIZE * SIZE) as usize;
/// Number of stain channels.
pub(crate) const STAINS: usize = 5;

/// Stain concentrations at one pixel, indexed by the `*_STAIN` constants.
pub(crate) type Conc = [f32; STAINS];
/// Nuclear chromatin (azure–eosinate complex: dark purple).
pub(crate) const CHROMATIN: usize = 0;
/// Basophilic (RNA-rich) cytoplasm: methylene blue.
pub(crate) const BASOPHILIC: usize = 1;
/// Eosin: red cells, neutrophil cytoplasm.
pub(crate) const EOSIN: usize = 2;
/// Azurophilic granules and Auer rods: red-purple.
pub(crate) const AZUROPHIL: usize = 3;
/// Eosinophil granules: orange-red.
pub(crate) const ORANGE: usize = 4;

/// A concentration vector with one stain set.
pub(crate) fn conc(stain: usize, amount: f32) -> Conc {
    let mut c = [0.0; STAINS];
    c[stain] = amount;
    c
}

/// Coverage in `[0, 1]` per pixel (anti-aliased shape).
pub(crate) type Mask = Vec<f32>;

/// The centre of pixel `i`.
pub(crate) fn centre(i: usize) -> (f32, f32) {
    let s = SIZE as usize;
    ((i % s) as f32 + 0.5, (i / s) as f32 + 0.5)
}

/// A mask from a coverage function of pixel centres.
pub(crate) fn mask(f: impl Fn(f32, f32) -> f32) -> Mask {
    (0..PIXELS)
        .map(|i| {
            let (x, y) = centre(i);
            f(x, y)
        })
        .collect()
}

/// A rounded shape: an ellipse with a wavy outline (radius modulated by the
/// 2nd to 4th harmonics), rotated by `angle`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Blob {
    /// Centre.
    pub cx: f32,
    /// Centre.
    pub cy: f32,
    /// Radius along the long axis.
    pub r: f32,
    /// Long over short axis (≥ 1).
    pub aspect: f32,
    /// Rotation in radians.
    pub angle: f32,
    /// Amplitude (fraction of `r`) and phase of harmonics 2, 3 and 4.
    pub wobble: [(f32, f32); 3],
}

impl Blob {
    /// A blob with random orientation and outline irregularity up to `irregular`.
    pub(crate) fn random<R: Rng + ?Sized>(
        rng: &mut R,
        (cx, cy): (f32, f32),
        r: f32,
        aspect: f32,
        irregular: f32,
    ) -> Self {
        let mut wobble = [(0.0, 0.0); 3];
        for w in &mut wobble {
            *w = (
                irregular * rng.random::<f32>(),
                std::f32::consts::TAU * rng.random::<f32>(),
            );
        }
        Self {
            cx,
            cy,
            r,
            aspect: aspect.max(1.0),
            angle: std::f32::consts::TAU * rng.random::<f32>(),
            wobble,
        }
    }

    /// Anti-aliased coverage of the pixel centred at `(x, y)`.
    pub(crate) fn coverage(&self, x: f32, y: f32) -> f32 {
        let (dx, dy) = (x - self.cx, y - self.cy);
        let (s, c) = self.angle.sin_cos();
        let u = dx * c + dy * s;
        let v = (-dx * s + dy * c) * self.aspect;
        let d = (u * u + v * v).sqrt();
        let phi = v.atan2(u);
        let mut edge = self.r;
        for (k, (a, p)) in self.wobble.iter().enumerate() {
            edge += self.r * a * ((k as f32 + 2.0) * phi + p).cos();
        }
        (edge - d + 0.5).clamp(0.0, 1.0)
    }

    /// The blob's mask.
    pub(crate) fn mask(&self) -> Mask {
        mask(|x, y| self.coverage(x, y))
    }
}

/// Coverage of a disc.
pub(crate) fn disc(x: f32, y: f32, (cx, cy): (f32, f32), r: f32) -> f32 {
    (r - ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() + 0.5).clamp(0.0, 1.0)
}

/// Coverage of a capsule: all points within `r` of the segment `a`–`b`.
pub(crate) fn capsule(x: f32, y: f32, a: (f32, f32), b: (f32, f32), r: f32) -> f32 {
    let (abx, aby) = (b.0 - a.0, b.1 - a.1);
    let len2 = abx * abx + aby * aby;
    let t = if len2 > 0.0 {
        (((x - a.0) * abx + (y - a.1) * aby) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (px, py) = (a.0 + t * abx, a.1 + t * aby);
    (r - ((x - px).powi(2) + (y - py).powi(2)).sqrt() + 0.5).clamp(0.0, 1.0)
}

/// Smooth value noise in `[0, 1]`: random values on a lattice `spacing`
/// pixels apart, interpolated with a smoothstep. Small spacing gives fine
/// texture (blast chromatin), large spacing coarse clumps.
pub(crate) fn value_noise<R: Rng + ?Sized>(rng: &mut R, spacing: f32) -> Vec<f32> {
    let spacing = spacing.max(0.5);
    let n = (SIZE as f32 / spacing).ceil() as usize + 2;
    let lattice: Vec<f32> = (0..n * n).map(|_| rng.random::<f32>()).collect();
    let at = |i: usize, j: usize| lattice[(j.min(n - 1)) * n + i.min(n - 1)];
    let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
    (0..PIXELS)
        .map(|p| {
            let (x, y) = centre(p);
            let (gx, gy) = (x / spacing, y / spacing);
            let (i, j) = (gx.floor() as usize, gy.floor() as usize);
            let (fx, fy) = (smooth(gx.fract()), smooth(gy.fract()));
            let top = at(i, j) * (1.0 - fx) + at(i + 1, j) * fx;
            let bottom = at(i, j + 1) * (1.0 - fx) + at(i + 1, j + 1) * fx;
            top * (1.0 - fy) + bottom * fy
        })
        .collect()
}

/// The stain concentrations of a whole image.
#[derive(Debug, Clone)]
pub(crate) struct Canvas {
    /// One concentration vector per pixel, row-major.
    pub px: Vec<Conc>,
}

impl Canvas {
    /// A canvas filled with `fill` (the faint plasma background).
    pub(crate) fn new(fill: Conc) -> Self {
        Self {
            px: vec![fill; PIXELS],
        }
    }

    /// Covers the masked area with per-pixel concentrations `f(pixel)`
    /// (what lies beneath shows through only at partial coverage).
    pub(crate) fn paint(&mut self, m: &Mask, f: impl Fn(usize) -> Conc) {
        for (i, (px, &a)) in self.px.iter_mut().zip(m).enumerate() {
            if a > 0.0 {
                let c = f(i);
                for (p, v) in px.iter_mut().zip(c) {
                    *p = *p * (1.0 - a) + v * a;
                }
            }
        }
    }

    /// Adds `c` (scaled by coverage) on top of what is there (granules).
    pub(crate) fn add(&mut self, m: &Mask, c: Conc) {
        self.add_where(m, |_| c);
    }

    /// Adds per-pixel concentrations `f(pixel)` scaled by coverage.
    pub(crate) fn add_where(&mut self, m: &Mask, f: impl Fn(usize) -> Conc) {
        for (i, (px, &a)) in self.px.iter_mut().zip(m).enumerate() {
            if a > 0.0 {
                for (p, v) in px.iter_mut().zip(f(i)) {
                    *p += v * a;
                }
            }
        }
    }

    /// Adds `c` inside a small disc (a granule), touching only its bounding box.
    pub(crate) fn add_disc(&mut self, at: (f32, f32), r: f32, c: Conc) {
        let side = SIZE as i32;
        let lo = |v: f32| ((v - r - 1.0).floor() as i32).clamp(0, side);
        let hi = |v: f32| ((v + r + 1.0).ceil() as i32).clamp(0, side);
        for y in lo(at.1)..hi(at.1) {
            for x in lo(at.0)..hi(at.0) {
                let a = disc(x as f32 + 0.5, y as f32 + 0.5, at, r);
                if a > 0.0 {
                    let px = &mut self.px[(y * side + x) as usize];
                    for (p, v) in px.iter_mut().zip(c) {
                        *p += v * a;
                    }
                }
            }
        }
    }

    /// Multiplies every stain by `factor` where the mask covers (clear
    /// vacuoles, pale nucleoli, a red cell's central pallor).
    pub(crate) fn lighten(&mut self, m: &Mask, factor: f32) {
        for (px, &a) in self.px.iter_mut().zip(m) {
            if a > 0.0 {
                let k = 1.0 - a * (1.0 - factor);
                for p in px.iter_mut() {
                    *p *= k;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn shapes_cover_their_inside_and_not_their_outside() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let b = Blob::random(&mut rng, (32.0, 32.0), 10.0, 1.0, 0.0);
        assert_eq!(b.coverage(32.0, 32.0), 1.0);
        assert_eq!(b.coverage(32.0, 50.0), 0.0);
        let area: f32 = b.mask().iter().sum();
        assert!((area - std::f32::consts::PI * 100.0).abs() < 10.0, "{area}");
        assert_eq!(capsule(5.0, 5.0, (0.0, 5.0), (10.0, 5.0), 1.0), 1.0);
        assert_eq!(capsule(5.0, 9.0, (0.0, 5.0), (10.0, 5.0), 1.0), 0.0);
        let n = value_noise(&mut rng, 4.0);
        assert!(n.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(n.iter().any(|v| *v > 0.6) && n.iter().any(|v| *v < 0.4));
    }
}
