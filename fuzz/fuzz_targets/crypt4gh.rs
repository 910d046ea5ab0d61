//! Fuzz target `crypt4gh`: arbitrary bytes through [`oncofed_fuzz::crypt4gh::check`]
//! (header parsing, decryption, header re-encryption and the encrypt/decrypt round
//! trip with edit lists), which asserts the properties documented there.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| oncofed_fuzz::crypt4gh::check(data));
