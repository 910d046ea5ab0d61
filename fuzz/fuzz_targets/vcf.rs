//! Fuzz target `vcf`: arbitrary bytes through [`oncofed_fuzz::vcf::check`], which
//! asserts the properties documented there (not only "no panic").
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| oncofed_fuzz::vcf::check(data));
