#![no_main]
//! The `body` target: see `needle_fuzz::body` for the input layout and the invariants.

libfuzzer_sys::fuzz_target!(|data: &[u8]| needle_fuzz::body::run(data));
