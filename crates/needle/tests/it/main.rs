//! Integration tests of the `needle` binary.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // test helpers fail loudly; tests may use std::fs

mod cli;
mod cluster;
mod convert;
mod disk_full;
mod events_cli;
mod events_kill9;
mod kill9;
mod server;
