//! Integration tests of the search engine on a small fixture catalog.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // test helpers fail loudly; tests may use std::fs

mod browse;
mod fixture;
mod relevance;
