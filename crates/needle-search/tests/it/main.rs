//! Integration tests of the search engine on a small fixture catalog.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod fixture;
mod relevance;
