//! Class-specific morphology: what a cell of each class looks like, drawn
//! into a [`Canvas`] of stain concentrations.
//!
//! The neutrophil series is one continuum of maturation `t` (myeloblast 0–1,
//! promyelocyte 1–2, myelocyte 2–3, segmented neutrophil 3–4): cell size,
//! nuclear size, position and shape, chromatin coarseness, nucleoli, cytoplasm
//! colour and granules all follow `t`, and each class draws `t` from its range
//! widened by [`OVERLAP`] at both ends. Cells near a boundary are therefore
//! genuinely ambiguous (as a late promyelocyte and an early myelocyte are at
//! the microscope), which keeps a classifier honest. Erythroblasts mature
//! along their own continuum (basophilic → polychromatic → orthochromatic)
//! and their early forms overlap with large lymphocytes.

use super::canvas::{
    AZUROPHIL, BASOPHILIC, Blob, CHROMATIN, Canvas, Conc, EOSIN, Mask, ORANGE, SIZE, capsule, conc,
    disc, mask, value_noise,
};
use oncofed_model::CellClass;
use rand::Rng;
use std::f32::consts::{PI, TAU};

/// How far (in units of `t`) a class's maturation range reaches into its neighbours'.
const OVERLAP: f32 = 0.2;
/// The faint plasma (eosin) behind everything.
const PLASMA: f32 = 0.03;

/// Uniform in `[lo, hi)`.
fn u<R: Rng + ?Sized>(rng: &mut R, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.random::<f32>()
}

/// Piecewise-linear interpolation through `(t, value)` knots (sorted by `t`).
fn knots(t: f32, k: &[(f32, f32)]) -> f32 {
    let Some(first) = k.first() else { return 0.0 };
    if t <= first.0 {
        return first.1;
    }
    for w in k.windows(2) {
        let ((t0, v0), (t1, v1)) = (w[0], w[1]);
        if t <= t1 {
            return v0 + (v1 - v0) * (t - t0) / (t1 - t0).max(1e-6);
        }
    }
    k.last().map_or(0.0, |l| l.1)
}

/// The shape of a nucleus.
#[derive(Debug, Clone, Copy)]
enum Nucleus {
    /// Round to oval, `offset` × cell radius away from the cell centre.
    Round { r: f32, aspect: f32, offset: f32 },
    /// Oval with a notch of relative depth `notch` (kidney, folded, horseshoe).
    Kidney { r: f32, aspect: f32, notch: f32 },
    /// `n` lobes of radius `r` joined by thin chromatin filaments.
    Lobes { n: usize, r: f32 },
    /// A curved band (unsegmented, horseshoe-shaped rod).
    Band { r: f32, bend: f32 },
}

/// Everything that decides one cell's look, drawn before any pixel is painted.
#[derive(Debug, Clone)]
struct Plan {
    cell_r: f32,
    cell_aspect: f32,
    cytoplasm: Conc,
    nucleus: Nucleus,
    /// Mean chromatin concentration.
    chromatin: f32,
    /// Lattice spacing of the chromatin texture (px): small = fine.
    chromatin_grain: f32,
    /// Relative amplitude of the texture (0 = smooth, 1 = clumped).
    chromatin_contrast: f32,
    nucleoli: u32,
    /// Granule count, radius, stain, and whether they also lie over the nucleus.
    granules: Option<(u32, f32, Conc, bool)>,
    vacuoles: u32,
    auer_rod: bool,
}

impl Plan {
    fn new(cell_r: f32, cytoplasm: Conc, nucleus: Nucleus) -> Self {
        Self {
            cell_r,
            cell_aspect: 1.0,
            cytoplasm,
            nucleus,
            chromatin: 1.0,
            chromatin_grain: 3.0,
            chromatin_contrast: 0.4,
            nucleoli: 0,
            granules: None,
            vacuoles: 0,
            auer_rod: false,
        }
    }
}

/// A cell of the neutrophil series at maturation `t` (0 blast … 4 segmented).
fn myeloid<R: Rng + ?Sized>(rng: &mut R, t: f32) -> Plan {
    let cell_r = knots(t, &[(0.0, 19.5), (1.5, 23.5), (2.5, 19.5), (4.0, 16.0)]) * u(rng, 0.9, 1.1);
    let baso = knots(t, &[(0.0, 0.85), (1.5, 0.5), (2.5, 0.15), (3.3, 0.03)]);
    let eosin = knots(t, &[(0.0, 0.04), (1.5, 0.12), (2.5, 0.32), (3.5, 0.36)]);
    let nuc_frac = knots(t, &[(0.0, 0.8), (1.5, 0.62), (2.6, 0.55)]) * u(rng, 0.93, 1.07);
    let nucleus = if t < 2.75 {
        Nucleus::Round {
            r: cell_r * nuc_frac,
            aspect: u(rng, 1.0, 1.25),
            offset: knots(t, &[(0.0, 0.05), (1.3, 0.3), (2.6, 0.3)]) * u(rng, 0.5, 1.2),
        }
    } else if t < 3.2 {
        // Metamyelocyte to band: the round nucleus indents, then bends.
        if rng.random::<f32>() < (t - 2.75) / 0.45 {
            Nucleus::Band {
                r: cell_r * u(rng, 0.17, 0.22),
                bend: u(rng, 1.6, 2.6),
            }
        } else {
            Nucleus::Kidney {
                r: cell_r * 0.55,
                aspect: u(rng, 1.1, 1.35),
                notch: u(rng, 0.25, 0.45),
            }
        }
    } else {
        let n = match t {
            t if t < 3.45 => 2 + usize::from(rng.random::<f32>() < 0.6),
            t if t < 3.75 => 3 + usize::from(rng.random::<f32>() < 0.4),
            _ => 4 + usize::from(rng.random::<f32>() < 0.35),
        };
        Nucleus::Lobes {
            n,
            r: cell_r * u(rng, 0.25, 0.31),
        }
    };
    let mut cyt = conc(BASOPHILIC, baso);
    cyt[EOSIN] = eosin;
    let mut p = Plan::new(cell_r, cyt, nucleus);
    p.cell_aspect = u(rng, 1.0, 1.12);
    p.chromatin = knots(t, &[(0.0, 0.72), (2.0, 0.95), (3.5, 1.25)]);
    p.chromatin_grain = knots(t, &[(0.0, 1.6), (2.0, 2.8), (3.5, 3.5)]);
    p.chromatin_contrast = knots(t, &[(0.0, 0.18), (2.0, 0.45), (3.5, 0.5)]);
    p.nucleoli = if t < 0.9 {
        rng.random_range(1..=3)
    } else if t < 1.4 {
        u32::from(rng.random::<f32>() < 0.4)
    } else {
        0
    };
    // Primary (azurophilic) granules appear at the promyelocyte stage;
    // secondary granules are finer and lilac.
    let primary = knots(
        t,
        &[
            (0.7, 0.0),
            (1.1, 70.0),
            (1.9, 90.0),
            (2.3, 15.0),
            (2.8, 0.0),
        ],
    );
    let secondary = knots(t, &[(1.6, 0.0), (2.3, 45.0), (3.2, 30.0), (4.0, 20.0)]);
    let granule_count = (primary + secondary) * u(rng, 0.6, 1.4);
    if granule_count >= 1.0 {
        let share = primary / (primary + secondary).max(1e-6);
        let mut g = conc(AZUROPHIL, 0.25 + 0.75 * share);
        g[EOSIN] = 0.35 * (1.0 - share);
        let radius = 0.7 + 0.5 * share;
        p.granules = Some((granule_count as u32, radius, g, share > 0.5));
    }
    p
}

/// A lymphocyte: small, round dense nucleus, a thin sky-blue rim; some large
/// lymphocytes with more cytoplasm and a few azurophilic granules.
fn lymphocyte<R: Rng + ?Sized>(rng: &mut R) -> Plan {
    let large = rng.random::<f32>() < 0.2;
    let cell_r = if large {
        u(rng, 14.0, 17.5)
    } else {
        u(rng, 10.5, 13.5)
    };
    let frac = if large {
        u(rng, 0.62, 0.75)
    } else {
        u(rng, 0.8, 0.9)
    };
    let mut cyt = conc(BASOPHILIC, u(rng, 0.55, 0.85));
    cyt[EOSIN] = 0.04;
    let nucleus = Nucleus::Round {
        r: cell_r * frac,
        aspect: u(rng, 1.0, 1.15),
        offset: u(rng, 0.0, 0.15),
    };
    let mut p = Plan::new(cell_r, cyt, nucleus);
    p.chromatin = u(rng, 1.15, 1.4);
    p.chromatin_grain = u(rng, 2.5, 3.5);
    p.chromatin_contrast = u(rng, 0.4, 0.6);
    if large && rng.random::<f32>() < 0.4 {
        p.granules = Some((rng.random_range(3..=10), 0.9, conc(AZUROPHIL, 0.9), false));
    }
    p
}

/// A monocyte: large, irregular, grey-blue cytoplasm with fine dust and
/// vacuoles; kidney-shaped or folded nucleus with lacy chromatin.
fn monocyte<R: Rng + ?Sized>(rng: &mut R) -> Plan {
    let cell_r = u(rng, 19.0, 25.0);
    let mut cyt = conc(BASOPHILIC, u(rng, 0.28, 0.42));
    cyt[EOSIN] = u(rng, 0.12, 0.2);
    let nucleus = Nucleus::Kidney {
        r: cell_r * u(rng, 0.55, 0.68),
        aspect: u(rng, 1.15, 1.5),
        notch: u(rng, 0.25, 0.65),
    };
    let mut p = Plan::new(cell_r, cyt, nucleus);
    p.cell_aspect = u(rng, 1.0, 1.25);
    p.chromatin = u(rng, 0.8, 0.95);
    p.chromatin_grain = u(rng, 2.0, 2.8);
    p.chromatin_contrast = u(rng, 0.3, 0.45);
    p.vacuoles = rng.random_range(0..=4);
    p.granules = Some((rng.random_range(15..=50), 0.6, conc(AZUROPHIL, 0.35), false));
    p
}

/// An eosinophil: bilobed nucleus, cytoplasm packed with coarse orange-red granules.
fn eosinophil<R: Rng + ?Sized>(rng: &mut R) -> Plan {
    let cell_r = u(rng, 16.0, 20.0);
    let n = if rng.random::<f32>() < 0.15 { 3 } else { 2 };
    let mut cyt = conc(EOSIN, 0.2);
    cyt[BASOPHILIC] = 0.05;
    let mut p = Plan::new(
        cell_r,
        cyt,
        Nucleus::Lobes {
            n,
            r: cell_r * u(rng, 0.26, 0.32),
        },
    );
    p.chromatin = u(rng, 1.05, 1.3);
    p.chromatin_grain = 3.2;
    p.chromatin_contrast = 0.45;
    let mut g = conc(ORANGE, u(rng, 0.75, 1.05));
    g[EOSIN] = 0.3;
    p.granules = Some((rng.random_range(70..=130), u(rng, 1.15, 1.55), g, false));
    p
}

/// A basophil: lobed nucleus obscured by coarse dark-purple granules.
fn basophil<R: Rng + ?Sized>(rng: &mut R) -> Plan {
    let cell_r = u(rng, 14.0, 17.0);
    let mut p = Plan::new(
        cell_r,
        conc(EOSIN, 0.12),
        Nucleus::Lobes {
            n: rng.random_range(2..=3),
            r: cell_r * 0.3,
        },
    );
    p.chromatin = 0.9;
    let mut g = conc(AZUROPHIL, 1.0);
    g[CHROMATIN] = 0.6;
    p.granules = Some((rng.random_range(30..=60), u(rng, 1.3, 1.8), g, true));
    p
}

/// An erythroblast at maturity `s` in 0..1: basophilic (large, deep blue)
/// to orthochromatic (small, pink-grey, pyknotic nucleus).
fn erythroblast<R: Rng + ?Sized>(rng: &mut R) -> Plan {
    let s = rng.random::<f32>();
    let cell_r = knots(s, &[(0.0, 15.0), (1.0, 10.5)]) * u(rng, 0.92, 1.08);
    let mut cyt = conc(
        BASOPHILIC,
        knots(s, &[(0.0, 0.95), (0.6, 0.4), (1.0, 0.12)]),
    );
    cyt[EOSIN] = knots(s, &[(0.0, 0.08), (0.6, 0.35), (1.0, 0.55)]);
    let nucleus = Nucleus::Round {
        r: cell_r * knots(s, &[(0.0, 0.68), (1.0, 0.45)]) * u(rng, 0.93, 1.07),
        aspect: u(rng, 1.0, 1.08),
        offset: u(rng, 0.0, 0.12),
    };
    let mut p = Plan::new(cell_r, cyt, nucleus);
    p.chromatin = knots(s, &[(0.0, 1.2), (1.0, 1.7)]);
    p.chromatin_grain = 3.0;
    p.chromatin_contrast = knots(s, &[(0.0, 0.55), (1.0, 0.2)]);
    p
}

/// Draws the plan of a cell of `class`.
fn plan<R: Rng + ?Sized>(class: CellClass, rng: &mut R) -> Plan {
    let mut series = |lo: f32, hi: f32| {
        let t = u(rng, lo - OVERLAP, hi + OVERLAP).clamp(0.0, 3.99);
        myeloid(rng, t)
    };
    match class {
        CellClass::Myeloblast => {
            let mut p = series(0.0, 1.0);
            p.auer_rod = rng.random::<f32>() < 0.25;
            p
        }
        CellClass::Promyelocyte => series(1.0, 2.0),
        CellClass::Myelocyte => series(2.0, 2.9),
        CellClass::SegmentedNeutrophil => series(3.1, 4.0),
        CellClass::Lymphocyte => lymphocyte(rng),
        CellClass::Monocyte => monocyte(rng),
        CellClass::Eosinophil => eosinophil(rng),
        CellClass::Basophil => basophil(rng),
        CellClass::Erythroblast => erythroblast(rng),
        // Not part of the differential: a generic white cell, a red cell
        // alone, a platelet, or debris.
        CellClass::Leukocyte => series(0.0, 4.0),
        CellClass::Erythrocyte | CellClass::Platelet | CellClass::Other => {
            let mut p = Plan::new(
                if class == CellClass::Platelet {
                    3.0
                } else {
                    11.0
                },
                conc(EOSIN, 0.45),
                Nucleus::Round {
                    r: 0.0,
                    aspect: 1.0,
                    offset: 0.0,
                },
            );
            if class != CellClass::Erythrocyte {
                p.cytoplasm = conc(AZUROPHIL, 0.5);
            }
            p.chromatin = 0.0;
            p
        }
    }
}

/// A random point `(x, y)` at distance ≤ `r` from `c`, uniform in the disc.
fn in_disc<R: Rng + ?Sized>(rng: &mut R, c: (f32, f32), r: f32) -> (f32, f32) {
    let a = TAU * rng.random::<f32>();
    let d = r * rng.random::<f32>().sqrt();
    (c.0 + d * a.cos(), c.1 + d * a.sin())
}

/// Pale pink red cells (with central pallor), some partly in frame.
fn red_cells<R: Rng + ?Sized>(canvas: &mut Canvas, rng: &mut R, scale: f32) {
    let n = rng.random_range(3..=8);
    let side = SIZE as f32;
    for _ in 0..n {
        let c = (u(rng, -6.0, side + 6.0), u(rng, -6.0, side + 6.0));
        let r = u(rng, 9.5, 12.0) * scale;
        let aspect = u(rng, 1.0, 1.12);
        let body = Blob::random(rng, c, r, aspect, 0.03).mask();
        canvas.paint(&body, |_| conc(EOSIN, 0.45));
        let pallor = mask(|x, y| disc(x, y, c, r * 0.45) * 0.7);
        canvas.lighten(&pallor, 0.45);
    }
}

/// The nucleus mask of `shape` centred near `c` in a cell of radius `cell_r`.
fn nucleus_mask<R: Rng + ?Sized>(rng: &mut R, shape: Nucleus, c: (f32, f32), cell_r: f32) -> Mask {
    let dir = TAU * rng.random::<f32>();
    match shape {
        Nucleus::Round { r, aspect, offset } => {
            let o = (
                c.0 + offset * cell_r * dir.cos(),
                c.1 + offset * cell_r * dir.sin(),
            );
            Blob::random(rng, o, r, aspect, 0.03).mask()
        }
        Nucleus::Kidney { r, aspect, notch } => {
            let mut body = Blob::random(rng, c, r, aspect, 0.05);
            // The notch bites into the long side.
            let side = body.angle + PI / 2.0;
            let d = r / aspect;
            let bite = (c.0 + d * side.cos(), c.1 + d * side.sin());
            let bite_r = notch * r * 1.1;
            body.wobble[0].0 *= 0.5;
            mask(|x, y| body.coverage(x, y) * (1.0 - disc(x, y, bite, bite_r)))
        }
        Nucleus::Band { r, bend } => {
            let arc_r = cell_r * 0.5;
            let start = dir - bend / 2.0;
            let pts: Vec<(f32, f32)> = (0..=6)
                .map(|i| {
                    let a = start + bend * i as f32 / 6.0;
                    (c.0 + arc_r * a.cos(), c.1 + arc_r * a.sin())
                })
                .collect();
            mask(|x, y| {
                pts.windows(2)
                    .map(|w| capsule(x, y, w[0], w[1], r))
                    .fold(0.0, f32::max)
            })
        }
        Nucleus::Lobes { n, r } => {
            // A chain of lobes with random turns, centred on the cell.
            let step = r * u(rng, 2.0, 2.4);
            let mut pts = vec![(0.0f32, 0.0f32)];
            let mut heading = dir;
            for _ in 1..n {
                heading += u(rng, -1.0, 1.0);
                let last = pts[pts.len() - 1];
                pts.push((last.0 + step * heading.cos(), last.1 + step * heading.sin()));
            }
            let mx = pts.iter().map(|p| p.0).sum::<f32>() / n as f32;
            let my = pts.iter().map(|p| p.1).sum::<f32>() / n as f32;
            let lobes: Vec<Blob> = pts
                .iter()
                .map(|p| {
                    let at = (c.0 + p.0 - mx, c.1 + p.1 - my);
                    let (size, aspect) = (u(rng, 0.85, 1.15), u(rng, 1.0, 1.3));
                    Blob::random(rng, at, r * size, aspect, 0.05)
                })
                .collect();
            let filament = r * 0.22 + 0.3;
            mask(|x, y| {
                let lobe = lobes.iter().map(|b| b.coverage(x, y)).fold(0.0, f32::max);
                let link = lobes
                    .windows(2)
                    .map(|w| capsule(x, y, (w[0].cx, w[0].cy), (w[1].cx, w[1].cy), filament))
                    .fold(0.0, f32::max);
                lobe.max(link)
            })
        }
    }
}

/// Draws one cell of `class` (stain concentrations), sizes multiplied by `scale`.
pub(crate) fn draw<R: Rng + ?Sized>(class: CellClass, scale: f32, rng: &mut R) -> Canvas {
    let p = plan(class, rng);
    let mut canvas = Canvas::new(conc(EOSIN, PLASMA));
    red_cells(&mut canvas, rng, scale);
    let mid = SIZE as f32 / 2.0;
    let c = (mid + u(rng, -3.5, 3.5), mid + u(rng, -3.5, 3.5));
    let cell_r = p.cell_r * scale;
    let cell = Blob::random(rng, c, cell_r, p.cell_aspect, 0.04).mask();
    let texture = value_noise(rng, 5.0);
    canvas.paint(&cell, |i| {
        p.cytoplasm.map(|v| v * (0.88 + 0.24 * texture[i]))
    });

    let shape = match p.nucleus {
        Nucleus::Round { r, aspect, offset } => Nucleus::Round {
            r: r * scale,
            aspect,
            offset,
        },
        Nucleus::Kidney { r, aspect, notch } => Nucleus::Kidney {
            r: r * scale,
            aspect,
            notch,
        },
        Nucleus::Lobes { n, r } => Nucleus::Lobes { n, r: r * scale },
        Nucleus::Band { r, bend } => Nucleus::Band { r: r * scale, bend },
    };
    // Keep the nucleus inside the cell.
    let nucleus: Mask = nucleus_mask(rng, shape, c, cell_r)
        .iter()
        .zip(&cell)
        .map(|(n, c)| n.min(*c))
        .collect();
    if p.chromatin > 0.0 {
        let grain = value_noise(rng, p.chromatin_grain * scale);
        let fine = value_noise(rng, 1.2);
        canvas.paint(&nucleus, |i| {
            let tex = 1.0 + p.chromatin_contrast * (2.0 * grain[i] - 1.0) + 0.12 * (fine[i] - 0.5);
            let mut n = conc(CHROMATIN, (p.chromatin * tex).max(0.0));
            n[BASOPHILIC] = 0.12;
            n
        });
    }
    for _ in 0..p.nucleoli {
        // A pale, slightly blue round area inside the nucleus.
        let at = in_disc(rng, c, cell_r * 0.4);
        let r = u(rng, 1.4, 2.4) * scale;
        let m: Mask = mask(|x, y| disc(x, y, at, r))
            .iter()
            .zip(&nucleus)
            .map(|(a, n)| a * n)
            .collect();
        canvas.lighten(&m, 0.5);
        canvas.add(&m, conc(BASOPHILIC, 0.25));
    }
    for _ in 0..p.vacuoles {
        let at = in_disc(rng, c, cell_r * 0.85);
        let r = u(rng, 0.9, 1.8) * scale;
        let m: Mask = mask(|x, y| disc(x, y, at, r))
            .iter()
            .zip(&nucleus)
            .map(|(a, n)| a * (1.0 - n))
            .collect();
        canvas.lighten(&m, 0.25);
    }
    if let Some((count, radius, stain, over_nucleus)) = p.granules {
        let mut placed = 0;
        let mut tries = 0;
        let side = SIZE as usize;
        while placed < count && tries < count * 5 {
            tries += 1;
            let at = in_disc(rng, c, cell_r * 0.95);
            let (ix, iy) = (at.0 as usize, at.1 as usize);
            if at.0 < 0.0 || at.1 < 0.0 || ix >= side || iy >= side {
                continue;
            }
            let i = iy * side + ix;
            if cell[i] < 0.9 {
                continue;
            }
            let weight = if nucleus[i] > 0.3 {
                if over_nucleus { 0.8 } else { continue }
            } else {
                1.0
            };
            let r = radius * u(rng, 0.7, 1.3) * scale;
            canvas.add_disc(at, r, stain.map(|v| v * weight));
            placed += 1;
        }
    }
    if p.auer_rod {
        // A thin red-purple needle in the cytoplasm.
        let a = TAU * rng.random::<f32>();
        let from = in_disc(rng, c, cell_r * 0.7);
        let len = u(rng, 5.0, 9.0) * scale;
        let to = (from.0 + len * a.cos(), from.1 + len * a.sin());
        let m: Mask = mask(|x, y| capsule(x, y, from, to, 0.55))
            .iter()
            .zip(&cell)
            .map(|(r, c)| r * c)
            .collect();
        let mut rod = conc(AZUROPHIL, 1.5);
        rod[CHROMATIN] = 0.3;
        canvas.add(&m, rod);
    }
    canvas
}
