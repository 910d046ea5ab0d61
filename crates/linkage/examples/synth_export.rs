//! Writes a two-site synthetic cohort (`oncofed-synth`) as Febrl-format CSVs, so
//! `febrl_bench` and the anonlink peer can run on it too:
//!
//! `cargo run -p oncofed-linkage --example synth_export -- /tmp/synth [persons]`
//! then `cargo run --release -p oncofed-linkage --example febrl_bench -- /tmp/synth/a.csv /tmp/synth/b.csv`.
//!
//! Values are written normalised (umlauts transliterated), ids as
//! `rec-<person>-org` (site 1) and `rec-<person>-dup-0` (site 2).

use oncofed_linkage::Record;
use oncofed_synth::{MultiSiteRates, SynthConfig, person};
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: synth_export DIR [persons]")?,
    );
    let persons: u64 = std::env::args().nth(2).map_or(Ok(6000), |s| s.parse())?;
    std::fs::create_dir_all(&dir)?;
    let cfg = SynthConfig {
        persons,
        sites: 2,
        multi_site: MultiSiteRates {
            two_sites: 0.3,
            three_sites: 0.0,
        },
        ..SynthConfig::default()
    };
    let header = "rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id\n";
    let mut a = std::io::BufWriter::new(std::fs::File::create(dir.join("a.csv"))?);
    let mut b = std::io::BufWriter::new(std::fs::File::create(dir.join("b.csv"))?);
    a.write_all(header.as_bytes())?;
    b.write_all(header.as_bytes())?;
    for i in 0..persons {
        let p = person(&cfg, i);
        for rec in &p.sites {
            let r = Record::from_idat(&p.person_id, &rec.identity);
            let site_one = rec.site.as_str() == "site-1";
            let id = format!(
                "rec-{}-{}",
                p.person_id,
                if site_one { "org" } else { "dup-0" }
            );
            let line = format!(
                "{id}, {}, {}, {}, {}, , {}, {}, , {}, {}\n",
                r.given,
                r.family,
                r.house_number,
                r.street,
                r.city,
                r.postal_code,
                r.birth_date_string(),
                r.insurance_id
            );
            if site_one {
                a.write_all(line.as_bytes())?
            } else {
                b.write_all(line.as_bytes())?
            }
        }
    }
    Ok(())
}
