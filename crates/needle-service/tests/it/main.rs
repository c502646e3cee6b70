//! Integration tests of the service facade: the write path (log, applier, stores),
//! durability across reopening, and personalization.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod durability;
mod fixture;
mod log;
mod personal;
