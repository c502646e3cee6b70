//! Every committed fuzz input through its harness, on stable: the seeds
//! (`fuzz/seeds/<target>/`) and the crash inputs kept as regressions
//! (`fuzz/regressions/<target>/`).
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // test helpers fail loudly; tests may use std::fs

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut v: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    v.sort();
    v
}

#[test]
fn every_seed_and_regression_passes_its_harness() {
    let mut replayed = 0;
    for (name, harness) in needle_fuzz::TARGETS {
        let seeds = files(&fuzz_dir().join("seeds").join(name));
        assert!(seeds.len() >= 3, "target {name} has {} seeds", seeds.len());
        for path in seeds.iter().chain(&files(&fuzz_dir().join("regressions").join(name))) {
            let data = std::fs::read(path).unwrap();
            eprintln!("{name}: {}", path.display());
            harness(&data);
            replayed += 1;
        }
    }
    assert!(replayed >= 3 * needle_fuzz::TARGETS.len());
}

#[test]
fn every_target_has_a_fuzz_binary() {
    for (name, _) in needle_fuzz::TARGETS {
        let bin = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let src = std::fs::read_to_string(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        assert!(
            src.contains(&format!("needle_fuzz::{name}::run")),
            "{} calls another harness",
            bin.display()
        );
    }
    assert!(!needle_fuzz::run("no such target", b""));
}
