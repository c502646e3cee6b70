//! The `needle` binary: serve, import, import-events, search, dataset convert, benches.

mod bench_ingest;
mod cli;
mod dataset;
mod eval_cmd;
mod import;
mod model_cmd;

use clap::Parser;

/// mimalloc instead of the system allocator: import and search allocate many small,
/// short-lived strings and vectors across threads, where glibc's malloc took ~19% of an
/// import's CPU (BENCHMARKS.md §0). Off with `--no-default-features` (heap profilers).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
