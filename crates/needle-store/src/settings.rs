//! Curation settings (synonyms, query rules), derived from the write log like every other
//! store: a `SetSynonyms` or `SetRules` entry is applied with its sequence number and the
//! whole state is written to `settings.json` (temporary file, fsync, rename, fsync of the
//! directory) before the applier moves on — like `tokens.json`, durable at each entry, so
//! it never holds the log's trim point back, and an entry at or below its `applied_seq`
//! is skipped on replay.
//!
//! Each of the two settings carries a version (1 for the first write, +1 per write) and
//! the sequence number of the entry that set it: every replica applying the same log
//! reports the same versions.

use crate::error::{Error, Result};
use crate::frames::io;
use needle_core::curation::{Rule, SynonymGroup};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file of a data directory holding the settings.
pub const FILE_NAME: &str = "settings.json";

/// One setting's current value, its version and the entry that set it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned<T> {
    /// 0 before the first write, then 1, 2, ...
    pub version: u64,
    /// Write-log sequence number of the entry that set it (0: never set).
    pub seq: u64,
    /// The value.
    pub value: T,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    applied_seq: u64,
    synonyms: Versioned<Vec<SynonymGroup>>,
    rules: Versioned<Vec<Rule>>,
}

/// The settings of a data directory (`<data_dir>/settings.json`).
#[derive(Debug)]
pub struct Settings {
    path: PathBuf,
    state: RwLock<State>,
}

impl Settings {
    /// Open `dir/settings.json` (absent: nothing set yet).
    pub fn open(dir: &Path) -> Result<Settings> {
        let path = dir.join(FILE_NAME);
        let state: State = match fs_err::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                id: path.display().to_string(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(io(&path)(e)),
        };
        Ok(Settings {
            path,
            state: RwLock::new(state),
        })
    }

    /// The last write-log entry applied here.
    pub fn applied_seq(&self) -> u64 {
        self.state.read().applied_seq
    }

    /// The current synonym groups.
    pub fn synonyms(&self) -> Versioned<Vec<SynonymGroup>> {
        self.state.read().synonyms.clone()
    }

    /// The current rules.
    pub fn rules(&self) -> Versioned<Vec<Rule>> {
        self.state.read().rules.clone()
    }

    /// Apply entry `seq` replacing the synonyms; durable when it returns. `None` when the
    /// entry was already applied (skipped).
    pub fn set_synonyms(&self, seq: u64, groups: Vec<SynonymGroup>) -> Result<Option<u64>> {
        self.update(seq, |s| {
            s.synonyms = Versioned {
                version: s.synonyms.version + 1,
                seq,
                value: groups,
            };
            s.synonyms.version
        })
    }

    /// Apply entry `seq` replacing the rules; durable when it returns. `None` when the
    /// entry was already applied (skipped).
    pub fn set_rules(&self, seq: u64, rules: Vec<Rule>) -> Result<Option<u64>> {
        self.update(seq, |s| {
            s.rules = Versioned {
                version: s.rules.version + 1,
                seq,
                value: rules,
            };
            s.rules.version
        })
    }

    fn update(&self, seq: u64, f: impl FnOnce(&mut State) -> u64) -> Result<Option<u64>> {
        let mut state = self.state.write();
        if seq <= state.applied_seq {
            return Ok(None);
        }
        let mut next = state.clone();
        next.applied_seq = seq;
        let version = f(&mut next);
        self.write(&next)?;
        *state = next;
        Ok(Some(version))
    }

    /// A hash of the settings (replicas at the same entry agree on it); `None` while
    /// nothing was ever set, so states without settings keep their digests.
    pub fn digest(&self) -> Option<u64> {
        let state = self.state.read();
        if state.synonyms.version == 0 && state.rules.version == 0 {
            return None;
        }
        let bytes = serde_json::to_vec(&(&state.synonyms, &state.rules)).unwrap_or_default();
        Some(xxhash_rust::xxh3::xxh3_64(&bytes))
    }

    /// Copy the file into `dir` (a snapshot), when there is one.
    pub fn copy_to(&self, dir: &Path) -> Result<()> {
        let _state = self.state.read();
        crate::files::copy_into(&self.path, dir)
    }

    fn write(&self, state: &State) -> Result<()> {
        let bytes = serde_json::to_vec(state).map_err(|e| Error::Storage(format!("cannot encode settings: {e}")))?;
        crate::files::write_atomically(&self.path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_versioned_durable_and_skip_replayed_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Settings::open(dir.path()).expect("opens");
        assert_eq!((s.synonyms().version, s.digest()), (0, None));
        let g = vec![SynonymGroup::MultiWay {
            synonyms: vec!["dj".into(), "disc jockey".into()],
        }];
        assert_eq!(s.set_synonyms(3, g.clone()).expect("applies"), Some(1));
        assert_eq!(s.set_synonyms(3, Vec::new()).expect("skips"), None);
        assert_eq!(s.set_rules(5, Vec::new()).expect("applies"), Some(1));
        assert_eq!(s.set_synonyms(6, g.clone()).expect("applies"), Some(2));
        drop(s);
        let s = Settings::open(dir.path()).expect("reopens");
        assert_eq!((s.applied_seq(), s.synonyms().version, s.synonyms().seq), (6, 2, 6));
        assert_eq!(s.synonyms().value, g);
        assert_eq!((s.rules().version, s.rules().seq), (1, 5));
        let copy = tempfile::tempdir().expect("tempdir");
        s.copy_to(copy.path()).expect("copies");
        let c = Settings::open(copy.path()).expect("opens");
        assert_eq!((c.synonyms(), c.digest()), (s.synonyms(), s.digest()));
        assert!(s.digest().is_some());
    }
}
