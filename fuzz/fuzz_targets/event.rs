#![no_main]
//! The `event` target: see `needle_fuzz::event` for the input layout and the invariants.

libfuzzer_sys::fuzz_target!(|data: &[u8]| needle_fuzz::event::run(data));
