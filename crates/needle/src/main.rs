//! The `needle` binary: serve, import, import-events, search, dataset convert, benches.

mod bench_ingest;
mod cli;
mod dataset;
mod eval_cmd;
mod import;

use clap::Parser;

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
