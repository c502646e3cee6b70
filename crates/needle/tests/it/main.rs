//! Integration tests of the `needle` binary.

mod cli;
mod convert;
mod kill9;
