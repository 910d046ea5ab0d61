//! Writes a contact sheet of synthetic cells: one row per class (the eight of
//! the differential and basophils), four cells per site style for sites 0, 1
//! and 2 side by side, so that morphology and site shift can be judged by eye.
//!
//! `cargo run -p oncofed-synth --example cells_contact_sheet -- OUT.png [SEED]`

use oncofed_model::CellClass;
use oncofed_synth::cyto::CELL_IMAGE_SIZE;
use oncofed_synth::{SiteStyle, draw_cell};
use rand::SeedableRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .ok_or("usage: cells_contact_sheet OUT.png [SEED]")?;
    let seed: u64 = args.next().map_or(Ok(42), |s| s.parse())?;
    let mut classes = CellClass::DIFFERENTIAL.to_vec();
    classes.push(CellClass::Basophil);
    let (sites, per_site, gap, site_gap) = (3u32, 4u32, 2u32, 10u32);
    let cell = CELL_IMAGE_SIZE;
    let width = sites * (per_site * (cell + gap)) + (sites - 1) * site_gap;
    let height = classes.len() as u32 * (cell + gap);
    let mut sheet = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for site in 0..sites {
        let style = SiteStyle::for_site(site as usize, seed);
        for (row, class) in classes.iter().enumerate() {
            for k in 0..per_site {
                let img = draw_cell(*class, &style, &mut rng);
                let x = site * (per_site * (cell + gap) + site_gap) + k * (cell + gap);
                let y = row as u32 * (cell + gap);
                image::imageops::replace(&mut sheet, &img, i64::from(x), i64::from(y));
            }
        }
    }
    sheet.save(&out)?;
    println!(
        "rows: {}",
        classes
            .iter()
            .map(|c| c.code())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
