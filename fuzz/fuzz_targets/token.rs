#![no_main]
//! The `token` target: see `needle_fuzz::token` for the input layout and the invariants.

libfuzzer_sys::fuzz_target!(|data: &[u8]| needle_fuzz::token::run(data));
