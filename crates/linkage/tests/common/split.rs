#![allow(dead_code)] // shared by tests and an example; each uses part of it
//! A two-file linkage split from the synthetic generator (`oncofed-synth`) in
//! which most records of the larger file have no partner: file A holds every
//! person's true identity (the "originals"), file B holds one to three
//! corrupted copies of about a quarter of them (the site copies the generator
//! draws with its IDAT variation: typos, married names, day/month swaps,
//! missing insurance numbers; plus moves, see [`split`]).
//!
//! Both files are written in the Febrl column layout so that the anonlink
//! peer (`scripts/peers/linkage/anonlink_febrl.py`) and
//! [`oncofed_linkage::febrl::load`] read the very same bytes. Record ids are
//! `rec-<person>-org` in A and `rec-<person>-dup-<n>` in B, so that
//! [`oncofed_linkage::febrl::quality`] and the peer count true links alike
//! (every copy is a true link of its original).
//!
//! Shared by `tests/anonlink_peer.rs` and `examples/dice_histogram.rs`
//! (included there with `#[path]`).

use oncofed_linkage::Record;
use oncofed_synth::{MultiSiteRates, SynthConfig, VariationRates, person};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Seed of the cohort the default threshold was chosen on
/// (`examples/dice_histogram.rs`); no test uses it.
pub const TUNING_SEED: u64 = 20_261_204;

/// Seed of the cohort the tests link; differs from [`TUNING_SEED`].
pub const TEST_SEED: u64 = 7_001;

/// Share of persons (in percent) whose site copies go to file B.
const WITH_COPIES_PERCENT: u64 = 25;

/// Share of copies (in percent) that carry another address (the person moved).
const MOVED_PERCENT: u64 = 10;

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The generator settings: three sites, so a person has one to three site
/// copies (50 % / 30 % / 20 % of those with copies), and variation rates a
/// few times the generator's defaults so that copies differ the way records
/// of one person in different registries do.
fn config(seed: u64, persons: u64) -> SynthConfig {
    SynthConfig {
        seed,
        persons,
        sites: 3,
        multi_site: MultiSiteRates {
            two_sites: 0.3,
            three_sites: 0.2,
        },
        variation: VariationRates {
            name_typo: 0.25,
            surname_change: 0.08,
            day_month_swap: 0.06,
            missing_kvnr: 0.15,
        },
        ..SynthConfig::default()
    }
}

/// One Febrl-format line (`rec_id, given_name, surname, street_number,
/// address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id`).
fn line(id: &str, r: &Record) -> String {
    format!(
        "{id}, {}, {}, {}, {}, , {}, {}, , {}, {}\n",
        r.given,
        r.family,
        r.house_number,
        r.street,
        r.city,
        r.postal_code,
        r.birth_date_string(),
        r.insurance_id
    )
}

/// Writes `a.csv` (originals) and `b.csv` (copies) of `persons` persons drawn
/// with `seed` into `dir` and returns their paths. Deterministic: the same
/// arguments give the same bytes.
///
/// A person gets copies when `mix(seed ^ index) % 100 < 25`; each of its site
/// copies then goes to B, and one copy in ten takes the address of another
/// person of the cohort (a move).
pub fn split(dir: &Path, seed: u64, persons: u64) -> std::io::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let cfg = config(seed, persons);
    let header = "rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id\n";
    let (pa, pb) = (dir.join("a.csv"), dir.join("b.csv"));
    let mut a = std::io::BufWriter::new(std::fs::File::create(&pa)?);
    let mut b = std::io::BufWriter::new(std::fs::File::create(&pb)?);
    a.write_all(header.as_bytes())?;
    b.write_all(header.as_bytes())?;
    for i in 0..persons {
        let p = person(&cfg, i);
        let original = Record::from_idat("", &p.identity);
        a.write_all(line(&format!("rec-{i}-org"), &original).as_bytes())?;
        if mix(seed ^ i) % 100 >= WITH_COPIES_PERCENT {
            continue;
        }
        for (n, site) in p.sites.iter().enumerate() {
            let mut copy = Record::from_idat("", &site.identity);
            let roll = mix(mix(seed ^ i) ^ n as u64);
            if roll % 100 < MOVED_PERCENT {
                let other = person(&cfg, (roll >> 8) % persons);
                let moved = Record::from_idat("", &other.identity);
                copy.house_number = moved.house_number;
                copy.street = moved.street;
                copy.postal_code = moved.postal_code;
                copy.city = moved.city;
            }
            b.write_all(line(&format!("rec-{i}-dup-{n}"), &copy).as_bytes())?;
        }
    }
    a.flush()?;
    b.flush()?;
    Ok((pa, pb))
}
