//! Measures how fast synthetic cells are drawn (images per second on one
//! core), at each of the three archetype site styles.
//!
//! `cargo run --release -p oncofed-synth --example cells_rate -- [CELLS]`

use oncofed_model::CellClass;
use oncofed_synth::{ClassMix, SiteStyle, cell_samples};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args().nth(1).map_or(Ok(2000), |s| s.parse())?;
    let mix = ClassMix::uniform(&CellClass::DIFFERENTIAL);
    for site in 0..3 {
        let style = SiteStyle::for_site(site, 42);
        let started = Instant::now();
        let cells = cell_samples(&style, count, &mix, 1);
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "site {site} (JPEG {:?}, blur {:.2}): {} cells in {seconds:.2} s = {:.0} cells/s",
            style.jpeg_quality,
            style.blur_sigma,
            cells.len(),
            cells.len() as f64 / seconds.max(1e-9)
        );
    }
    Ok(())
}
