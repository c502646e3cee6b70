//! Fuzz harnesses: one function per cargo-fuzz target in `fuzz/` (`fuzz/fuzz_targets/<name>.rs`
//! calls [`run`] with its name), each feeding arbitrary bytes to one parser of Needle and
//! asserting invariants beyond "no panic" (a panic is what the fuzzer reports as a crash).
//!
//! The same functions run on stable: `tests/replay.rs` replays every committed seed
//! (`fuzz/seeds/<name>/`) and every crash input kept as a regression
//! (`fuzz/regressions/<name>/`). Panicking is this crate's job, so its asserts and
//! `expect`s are deliberate.
#![warn(missing_docs)]

pub mod body;
pub mod event;
pub mod filter;
pub mod frames;
pub mod query;
pub mod record;
pub mod token;

/// A harness: panics when an invariant does not hold for the input.
pub type Harness = fn(&[u8]);

/// Every target: its name (the cargo-fuzz target and the seed directory) and its harness.
pub const TARGETS: &[(&str, Harness)] = &[
    ("record", record::run),
    ("event", event::run),
    ("query", query::run),
    ("filter", filter::run),
    ("body", body::run),
    ("token", token::run),
    ("frames", frames::run),
];

/// Run the harness of target `name` on `data`; `false` when there is no such target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match TARGETS.iter().find(|(n, _)| *n == name) {
        Some((_, f)) => {
            f(data);
            true
        }
        None => false,
    }
}

/// `data` as text: itself when it is UTF-8, else its lossy decoding (the way a server
/// sees bytes that were percent-decoded into a query string).
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}
