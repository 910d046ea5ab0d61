//! Fuzz target `dicom`: arbitrary bytes through [`oncofed_fuzz::dicom::check`], which
//! asserts the properties documented there (not only "no panic").
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| oncofed_fuzz::dicom::check(data));
