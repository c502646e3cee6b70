#![no_main]
//! The `record` target: see `needle_fuzz::record` for the input layout and the invariants.

libfuzzer_sys::fuzz_target!(|data: &[u8]| needle_fuzz::record::run(data));
