//! Integration tests of the stores (one test binary for the crate).
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod catalog;
mod events;
