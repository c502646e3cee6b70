//! Revoked listener tokens: per listener, a "not before" time — every token of that
//! listener issued before it is refused.
//!
//! Derived from the write log like every other store: a `RevokeTokens` entry (or an
//! `EraseListener` entry carrying a time) is applied with its sequence number, and the
//! whole state is written to `tokens.json` (temporary file, fsync, rename, fsync of the
//! directory) before the applier moves on. Revocations are rare and the file small, so
//! each is durable at once: the store never holds the log's trim point back, and replaying
//! an entry it already holds is skipped by its `applied_seq` (and would be harmless: a
//! not-before only grows).
//!
//! The file stays bounded: an entry older than the longest token lifetime (passed in
//! as `horizon_ms`) can refuse no token that has not expired anyway, and is dropped when a
//! later entry is applied — by the time in that entry, so every replica drops the same.

use crate::error::{Error, Result};
use crate::frames::io;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file of a data directory holding the revocations.
pub const FILE_NAME: &str = "tokens.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    /// The last write-log entry applied.
    applied_seq: u64,
    /// Listener → tokens issued before this time (epoch ms) are refused.
    not_before: BTreeMap<String, i64>,
}

/// The revocations of a data directory (`<data_dir>/tokens.json`).
#[derive(Debug)]
pub struct TokenRevocations {
    path: PathBuf,
    state: RwLock<State>,
}

impl TokenRevocations {
    /// Open `dir/tokens.json` (absent: nothing revoked yet).
    pub fn open(dir: &Path) -> Result<TokenRevocations> {
        let path = dir.join(FILE_NAME);
        let state: State = match fs_err::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                id: path.display().to_string(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(io(&path)(e)),
        };
        Ok(TokenRevocations {
            path,
            state: RwLock::new(state),
        })
    }

    /// The last write-log entry applied here.
    pub fn applied_seq(&self) -> u64 {
        self.state.read().applied_seq
    }

    /// Apply entry `seq`: refuse every token of `user_id` issued before `before_ms`, and
    /// forget revocations older than `before_ms - horizon_ms`. Durable when it returns;
    /// an entry at or below [`applied_seq`](Self::applied_seq) is skipped.
    pub fn apply(&self, seq: u64, user_id: &str, before_ms: i64, horizon_ms: i64) -> Result<()> {
        let mut state = self.state.write();
        if seq <= state.applied_seq {
            return Ok(());
        }
        let mut next = state.clone();
        next.applied_seq = seq;
        let slot = next.not_before.entry(user_id.to_string()).or_insert(before_ms);
        *slot = (*slot).max(before_ms);
        let oldest = before_ms.saturating_sub(horizon_ms);
        next.not_before.retain(|_, nb| *nb >= oldest);
        self.write(&next)?;
        *state = next;
        Ok(())
    }

    /// Tokens of `user_id` issued before this time (epoch ms) are refused; `None` when none
    /// of theirs is.
    pub fn not_before(&self, user_id: &str) -> Option<i64> {
        self.state.read().not_before.get(user_id).copied()
    }

    /// Listeners with a revocation on record.
    pub fn len(&self) -> usize {
        self.state.read().not_before.len()
    }

    /// Whether no revocation is on record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A hash of the state (replicas at the same entry agree on it).
    pub fn digest(&self) -> u64 {
        let state = self.state.read();
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for (user, nb) in &state.not_before {
            h.update(user.as_bytes());
            h.update(&[0]);
            h.update(&nb.to_le_bytes());
        }
        h.digest()
    }

    /// Copy the file into `dir` (a snapshot), when there is one.
    pub fn copy_to(&self, dir: &Path) -> Result<()> {
        let _state = self.state.read();
        crate::files::copy_into(&self.path, dir)
    }

    fn write(&self, state: &State) -> Result<()> {
        let bytes = serde_json::to_vec(state).map_err(|e| Error::Storage(format!("cannot encode revocations: {e}")))?;
        crate::files::write_atomically(&self.path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn revocations_are_durable_idempotent_and_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = TokenRevocations::open(dir.path()).expect("opens");
        assert_eq!((r.applied_seq(), r.not_before("u1")), (0, None));
        r.apply(3, "u1", 10 * DAY, 30 * DAY).expect("applies");
        r.apply(5, "u2", 20 * DAY, 30 * DAY).expect("applies");
        // Replayed or older entries change nothing.
        r.apply(4, "u1", 50 * DAY, 30 * DAY).expect("skips");
        assert_eq!(r.not_before("u1"), Some(10 * DAY));
        // A not-before never moves back.
        r.apply(6, "u2", 15 * DAY, 30 * DAY).expect("applies");
        assert_eq!(r.not_before("u2"), Some(20 * DAY));
        let digest = r.digest();
        drop(r);
        let r = TokenRevocations::open(dir.path()).expect("reopens");
        assert_eq!(r.applied_seq(), 6);
        assert_eq!(
            (r.not_before("u1"), r.not_before("u2")),
            (Some(10 * DAY), Some(20 * DAY))
        );
        assert_eq!(r.digest(), digest);
        // Entries older than the horizon go when a later entry is applied.
        r.apply(7, "u3", 45 * DAY, 30 * DAY).expect("applies");
        assert_eq!(r.not_before("u1"), None);
        assert_eq!(r.not_before("u2"), Some(20 * DAY));
        assert_eq!(r.len(), 2);
        let copy = tempfile::tempdir().expect("tempdir");
        r.copy_to(copy.path()).expect("copies");
        let c = TokenRevocations::open(copy.path()).expect("opens the copy");
        assert_eq!((c.applied_seq(), c.digest()), (7, r.digest()));
    }

    #[test]
    fn a_damaged_file_is_an_error_not_an_empty_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs_err::write(dir.path().join(FILE_NAME), b"{not json").expect("writes");
        assert!(matches!(TokenRevocations::open(dir.path()), Err(Error::Corrupt { .. })));
    }
}
