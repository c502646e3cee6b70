#![no_main]
//! The `frames` target: see `needle_fuzz::frames` for the input layout and the invariants.

libfuzzer_sys::fuzz_target!(|data: &[u8]| needle_fuzz::frames::run(data));
