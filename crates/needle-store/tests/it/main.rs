//! Integration tests of the stores (one test binary for the crate).
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // test helpers fail loudly; tests may use std::fs

mod catalog;
mod compression;
mod events;
mod frames;

#[global_allocator]
static ALLOC: frames::Largest = frames::Largest;
