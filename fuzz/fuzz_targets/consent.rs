//! Fuzz target `consent`: arbitrary bytes through [`oncofed_fuzz::consent::check`], which
//! asserts the properties documented there (not only "no panic").
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| oncofed_fuzz::consent::check(data));
