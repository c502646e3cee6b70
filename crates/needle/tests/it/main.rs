//! Integration tests of the `needle` binary.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod cli;
mod convert;
mod events_cli;
mod events_kill9;
mod kill9;
mod server;
