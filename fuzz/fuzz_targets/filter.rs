#![no_main]
//! The `filter` target: see `needle_fuzz::filter` for the input layout and the invariants.

libfuzzer_sys::fuzz_target!(|data: &[u8]| needle_fuzz::filter::run(data));
