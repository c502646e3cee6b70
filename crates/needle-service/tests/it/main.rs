//! Integration tests of the service facade: the write path (log, applier, stores),
//! durability across reopening, and personalization.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // test helpers fail loudly; tests may use std::fs

mod cluster;
mod durability;
mod fixture;
mod log;
mod personal;
