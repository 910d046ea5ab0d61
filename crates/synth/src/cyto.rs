//! Synthetic cytomorphology (issue 15, item 2): procedurally drawn 64×64 RGB
//! images of single haematopoietic cells, as a bone-marrow or blood smear
//! scanner at a given site would store them, with the true class of every cell.
//!
//! Three independent parts make a cell image:
//! - **morphology** ([`draw_cell`]'s class): cell and nuclear size and shape
//!   (round, kidney-shaped or folded, 3–5 lobes, bilobed), chromatin texture
//!   (fine in blasts, clumped in mature cells), nucleoli, cytoplasm colour,
//!   granules (azurophilic, eosinophilic, basophilic), Auer rods in some
//!   myeloblasts, with pale red cells partly in frame behind the cell; drawn as
//!   stain concentrations, with random size, position, rotation and shape,
//!   and a maturation continuum so neighbouring classes overlap a little;
//! - **the site** ([`SiteStyle`]): stain hue and strength, lamp, contrast,
//!   blur, noise and JPEG quality, which turn the stains into pixels;
//! - **the patient** ([`ClassMix`]): which classes a smear holds, following
//!   the diagnosis (AML marrow rich in blasts, CLL blood full of lymphocytes).
//!
//! [`cell_samples`] gives labelled images in memory (training harnesses);
//! [`write_cells`] writes per-site smear batches in the shared cell-batch
//! format (`smears.csv`, `cells.csv`, PNG files) with the truth in
//! `ground-truth/cells-<site>.csv`. Everything is deterministic by seed.

mod canvas;
mod mix;
mod morph;
mod style;
mod writer;
pub use canvas::SIZE as CELL_IMAGE_SIZE;
pub use mix::ClassMix;
use oncofed_model::CellClass;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
pub use style::SiteStyle;
pub use writer::{
    CELLS_HEADER, CellsSummary, MAX_CELLS_PER_SMEAR, SMEARS_HEADER, TRUTH_HEADER, write_cells,
};

/// Draws one 64×64 RGB image of a cell of `class` as site `style` stores it.
///
/// Every class of [`CellClass::ALL`] can be drawn; the eight of the
/// differential and basophils have their own morphology, `leukocyte` is a
/// cell of the neutrophil series at a random stage, and `erythrocyte`,
/// `platelet` and `other` are simple non-nucleated shapes.
pub fn draw_cell<R: Rng + ?Sized>(
    class: CellClass,
    style: &SiteStyle,
    rng: &mut R,
) -> image::RgbImage {
    let stains = morph::draw(class, style.scale, rng);
    style.render(&stains, rng)
}

/// `count` labelled cell images of site `style`, classes drawn from `mix`.
///
/// Deterministic: the same arguments give the same images, and sample `i` is
/// the same whatever `count` is (each sample has its own random stream of `seed`).
pub fn cell_samples(
    style: &SiteStyle,
    count: usize,
    mix: &ClassMix,
    seed: u64,
) -> Vec<(image::RgbImage, CellClass)> {
    (0..count)
        .map(|i| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xCE11_5A3B_1E5D_0000);
            rng.set_stream(i as u64);
            let class = mix.sample(&mut rng);
            (draw_cell(class, style, &mut rng), class)
        })
        .collect()
}

#[cfg(test)]
mod tests;
