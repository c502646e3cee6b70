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

/// Give freed memory back to the OS after a model load or a training job
/// ([`needle_core::mem`]): mimalloc collects the calling thread's heap and, forced, purges
/// the pages it keeps for reuse; every rayon worker (the index build and training run
/// there) collects its own heap.
#[cfg(feature = "mimalloc")]
fn release_free_memory() {
    // SAFETY: `mi_collect` is part of the mimalloc library the global allocator links; it
    // takes no pointers and may be called from any thread at any time.
    extern "C" {
        fn mi_collect(force: bool);
    }
    unsafe { mi_collect(true) };
    rayon::broadcast(|_| unsafe { mi_collect(true) });
}

/// glibc: return the free top of every arena (`malloc_trim`).
#[cfg(all(not(feature = "mimalloc"), target_os = "linux", target_env = "gnu"))]
fn release_free_memory() {
    // SAFETY: `malloc_trim` is glibc's; it takes a byte count and touches only free memory.
    extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    unsafe { malloc_trim(0) };
}

#[cfg(all(not(feature = "mimalloc"), not(all(target_os = "linux", target_env = "gnu"))))]
fn release_free_memory() {}

fn main() -> std::process::ExitCode {
    needle_core::mem::set_release_hook(release_free_memory);
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
