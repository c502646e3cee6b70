//! Integration tests of the stores (one test binary for the crate).

mod catalog;
mod events;
