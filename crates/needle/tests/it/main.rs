//! Integration tests of the `needle` binary.

mod cli;
mod kill9;
