#![no_main]
//! The `query` target: see `needle_fuzz::query` for the input layout and the invariants.

libfuzzer_sys::fuzz_target!(|data: &[u8]| needle_fuzz::query::run(data));
