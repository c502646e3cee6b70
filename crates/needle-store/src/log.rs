//! The write log: every state change is an [`Entry`] with a sequence number, appended
//! durably before it is applied (see ARCHITECTURE.md, "The log is the truth").
//!
//! [`Log`] is the standalone log's interface: Needle uses [`FileLog`], a local file fsync'd
//! per group commit. In a cluster the log is a NATS JetStream stream instead
//! (`needle_service::cluster::jetstream`): entries from every replica arrive in the
//! stream's order, so it is followed rather than appended to and replayed, and does not
//! implement this trait; [`Entry`] and its encoding are shared. Derived state (catalog store, search index, event store,
//! profiles, the active model) records the last sequence number it covers, so replaying
//! the log from there after a crash re-applies exactly what was missing.
//!
//! File format of [`FileLog`]: the frames of the event log (`[len u32][crc32 u32][payload]`),
//! one per group commit; a payload is the first entry's sequence number (u64 LE) followed
//! by one JSON line per entry. A failed append truncates the file back to its last good
//! frame, so a full disk never leaves a partial frame in front of later acknowledged ones.

use crate::error::{Error, Result};
use crate::frames::{self, io, write_frame};
use fs_err::File;
use needle_core::{Event, Record};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Entry {
    /// Catalog upserts and deletes (validated), applied in order.
    Catalog {
        /// The records.
        records: Vec<Record>,
    },
    /// Listening events (validated; duplicates are dropped when applied).
    Events {
        /// The events.
        events: Vec<Event>,
    },
    /// Erase a listener's events and profile.
    EraseListener {
        /// The listener.
        user_id: String,
        /// When the erasure was asked for (epoch ms): the listener's tokens issued before
        /// it are revoked too. Absent in entries written before revocations existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tokens_before_ms: Option<i64>,
    },
    /// Revoke every listener token of `user_id` issued before `before_ms`.
    RevokeTokens {
        /// The listener.
        user_id: String,
        /// Tokens issued before this time (epoch ms) are refused from now on.
        before_ms: i64,
    },
    /// Serve this recommendation model version (its file is already written).
    ActivateModel {
        /// The model version.
        version: u64,
        /// In a cluster: the xxh3-128 (hex) of the model file, which the training replica
        /// put in `<shared_dir>/models/<hash>/`; replicas without that file fetch it there.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hash: Option<String>,
    },
    /// Searches the server answered (its search log, one entry per batch) and search or
    /// click events clients sent (validated; a repeated `event_id` is counted once). Not
    /// acknowledged writes: the server's own searches may be lost in the last batch
    /// before a crash (see docs/search-analytics.md).
    Searches {
        /// Searches, in the order they were answered.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        searches: Vec<needle_core::search_event::LoggedSearch>,
        /// Clicks on search results.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        clicks: Vec<needle_core::search_event::Click>,
    },
    /// Replace the synonym groups (validated), a new version of them.
    SetSynonyms {
        /// Every group.
        groups: Vec<needle_core::curation::SynonymGroup>,
    },
    /// Replace the query rules (validated), a new version of them.
    SetRules {
        /// Every rule.
        rules: Vec<needle_core::curation::Rule>,
    },
}

impl Entry {
    /// The entry as the log stores it: one line of JSON.
    pub fn encode(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::Storage(format!("cannot encode a {} entry: {e}", self.kind())))
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Entry::Catalog { .. } => "catalog",
            Entry::Events { .. } => "events",
            Entry::EraseListener { .. } => "erase_listener",
            Entry::RevokeTokens { .. } => "revoke_tokens",
            Entry::ActivateModel { .. } => "activate_model",
            Entry::Searches { .. } => "searches",
            Entry::SetSynonyms { .. } => "set_synonyms",
            Entry::SetRules { .. } => "set_rules",
        }
    }
}

/// An ordered, durable log of [`Entry`]s.
pub trait Log: Send {
    /// Append entries ([`Entry::encode`]d) durably; they get consecutive sequence numbers,
    /// and the first one's is returned. Nothing is appended when this fails.
    fn append(&mut self, entries: &[Vec<u8>]) -> Result<u64>;
    /// Visit every entry with a sequence number above `after`, in order.
    fn replay_after(&mut self, after: u64, f: &mut dyn FnMut(u64, Entry) -> Result<()>) -> Result<()>;
    /// The sequence number of the last entry appended (or the floor given at open).
    fn last_seq(&self) -> u64;
    /// Drop entries up to `through`: every state derived from them is durable.
    fn trim(&mut self, through: u64) -> Result<()>;
    /// Bytes held.
    fn size_bytes(&self) -> u64;
}

/// The standalone log: one local file, fsync'd per append.
pub struct FileLog {
    path: PathBuf,
    file: File,
    len: u64,
    last_seq: u64,
}

fn corrupt(message: impl ToString) -> Error {
    Error::Corrupt {
        id: "write log".into(),
        message: message.to_string(),
    }
}

fn first_seq(payload: &[u8]) -> Result<(u64, &[u8])> {
    if payload.len() < 8 {
        return Err(corrupt("frame shorter than its sequence number"));
    }
    let (head, rest) = payload.split_at(8);
    let mut b = [0u8; 8];
    b.copy_from_slice(head);
    Ok((u64::from_le_bytes(b), rest))
}

fn decode(payload: &[u8], f: &mut dyn FnMut(u64, Entry) -> Result<()>) -> Result<u64> {
    let (mut seq, body) = first_seq(payload)?;
    let mut last = 0;
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let e: Entry = serde_json::from_slice(line).map_err(corrupt)?;
        f(seq, e)?;
        last = seq;
        // `open` refused frames numbered past u64::MAX: only the step after a frame's
        // last entry can saturate, and it is not used.
        seq = seq.saturating_add(1);
    }
    Ok(last)
}

/// A frame's payload for encoded `entries` starting at `seq`.
fn frame_payload(seq: u64, entries: &[Vec<u8>]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(8 + entries.iter().map(|e| e.len() + 1).sum::<usize>());
    payload.extend_from_slice(&seq.to_le_bytes());
    for e in entries {
        payload.extend_from_slice(e);
        payload.push(b'\n');
    }
    payload
}

impl FileLog {
    /// Open (or create) `dir/wal.log`, cutting a torn tail. `floor` is the highest sequence
    /// number any derived state covers: after a trim the file is empty, and numbering
    /// continues above it.
    pub fn open(dir: &Path, floor: u64) -> Result<FileLog> {
        let path = dir.join("wal.log");
        let mut last_seq = floor;
        let (file, good) = frames::open(&path, "write log", |p| {
            let (seq, body) = first_seq(p)?;
            let n = body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
            if n > 0 {
                let last = seq
                    .checked_add(n - 1)
                    .ok_or_else(|| corrupt(format!("a frame of {n} entries from seq {seq} runs past u64::MAX")))?;
                last_seq = last_seq.max(last);
            }
            Ok(())
        })?;
        Ok(FileLog {
            path,
            file,
            len: good,
            last_seq,
        })
    }
}

impl Log for FileLog {
    fn append(&mut self, entries: &[Vec<u8>]) -> Result<u64> {
        // Only a corrupt file (a CRC-good frame numbered near u64::MAX) gets here.
        let exhausted = || corrupt(format!("sequence numbers exhausted after {}", self.last_seq));
        let first = self.last_seq.checked_add(1).ok_or_else(exhausted)?;
        if entries.is_empty() {
            return Ok(first);
        }
        let last = first.checked_add(entries.len() as u64 - 1).ok_or_else(exhausted)?;
        let payload = frame_payload(first, entries);
        self.len += frames::append(&mut self.file, &self.path, self.len, &payload, true)?;
        self.last_seq = last;
        Ok(first)
    }

    fn replay_after(&mut self, after: u64, f: &mut dyn FnMut(u64, Entry) -> Result<()>) -> Result<()> {
        frames::read(&self.path, self.len, |p| {
            decode(p, &mut |seq, e| if seq > after { f(seq, e) } else { Ok(()) })?;
            Ok(())
        })
    }

    fn last_seq(&self) -> u64 {
        self.last_seq
    }

    fn trim(&mut self, through: u64) -> Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        if through >= self.last_seq {
            self.file.set_len(0).map_err(io(&self.path))?;
            self.file.sync_all().map_err(io(&self.path))?;
            self.len = 0;
            return Ok(());
        }
        // Partial trim: keep the entries above `through` (rare: the applier trims only
        // what it has applied, and it applies everything it appends).
        let mut keep: Vec<(u64, Entry)> = Vec::new();
        self.replay_after(through, &mut |s, e| {
            keep.push((s, e));
            Ok(())
        })?;
        let tmp = self.path.with_extension("log.trim");
        {
            let mut out = File::create(&tmp).map_err(io(&tmp))?;
            if let Some(&(first, _)) = keep.first() {
                let entries = keep.iter().map(|(_, e)| e.encode()).collect::<Result<Vec<_>>>()?;
                let payload = frame_payload(first, &entries);
                write_frame(&mut out, &payload).map_err(io(&tmp))?;
            }
            out.sync_all().map_err(io(&tmp))?;
        }
        (self.file, self.len) = frames::replace(&self.path, &tmp)?;
        Ok(())
    }

    fn size_bytes(&self) -> u64 {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(e: Entry) -> Vec<u8> {
        e.encode().unwrap()
    }

    fn erase(u: &str) -> Entry {
        Entry::EraseListener {
            user_id: u.into(),
            tokens_before_ms: None,
        }
    }

    #[test]
    fn entries_of_older_versions_still_decode() {
        let old: Entry = serde_json::from_slice(br#"{"op":"erase_listener","user_id":"a"}"#).unwrap();
        assert_eq!(old, erase("a"));
        assert_eq!(enc(erase("a")), br#"{"op":"erase_listener","user_id":"a"}"#.to_vec());
        let revoke = Entry::RevokeTokens {
            user_id: "a".into(),
            before_ms: 7,
        };
        assert_eq!(serde_json::from_slice::<Entry>(&enc(revoke.clone())).unwrap(), revoke);
        assert_eq!(revoke.kind(), "revoke_tokens");
    }

    fn all(log: &mut FileLog, after: u64) -> Vec<(u64, Entry)> {
        let mut v = vec![];
        log.replay_after(after, &mut |s, e| {
            v.push((s, e));
            Ok(())
        })
        .unwrap();
        v
    }

    #[test]
    fn sequence_numbers_continue_across_reopen_and_trim() {
        let d = tempfile::tempdir().unwrap();
        let mut log = FileLog::open(d.path(), 0).unwrap();
        assert_eq!(log.append(&[enc(erase("a")), enc(erase("b"))]).unwrap(), 1);
        assert_eq!(log.append(&[enc(erase("c"))]).unwrap(), 3);
        drop(log);
        let mut log = FileLog::open(d.path(), 0).unwrap();
        assert_eq!(log.last_seq(), 3);
        let got = all(&mut log, 1);
        assert_eq!(got, vec![(2, erase("b")), (3, erase("c"))]);
        log.trim(2).unwrap();
        assert_eq!(all(&mut log, 0), vec![(3, erase("c"))]);
        log.trim(3).unwrap();
        assert_eq!(log.size_bytes(), 0);
        drop(log);
        // An empty log numbers on from the floor its derived state reports.
        let mut log = FileLog::open(d.path(), 3).unwrap();
        assert_eq!(log.append(&[enc(erase("d"))]).unwrap(), 4);
    }

    #[test]
    fn torn_tail_is_cut_and_numbering_resumes() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("wal.log");
        let mut log = FileLog::open(d.path(), 0).unwrap();
        log.append(&[enc(erase("a"))]).unwrap();
        let good = log.size_bytes() as usize;
        log.append(&[enc(erase("b"))]).unwrap();
        drop(log);
        let full = fs_err::read(&path).unwrap();
        for cut in good..full.len() {
            fs_err::write(&path, &full[..cut]).unwrap();
            let mut log = FileLog::open(d.path(), 0).unwrap();
            assert_eq!(all(&mut log, 0).len(), 1, "cut at {cut}");
            assert_eq!(log.append(&[enc(erase("c"))]).unwrap(), 2);
        }
    }

    /// A crash can leave the file longer than its data (size written, blocks not): a
    /// zero-filled tail. It read as empty frames (length 0, CRC 0) and made `open` refuse
    /// the log as corrupt; it is a torn tail.
    #[test]
    fn a_zero_filled_tail_is_cut_like_a_torn_one() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("wal.log");
        let mut log = FileLog::open(d.path(), 0).unwrap();
        log.append(&[enc(erase("a")), enc(erase("b"))]).unwrap();
        drop(log);
        let mut file = fs_err::read(&path).unwrap();
        let good = file.len();
        for zeros in [1usize, 8, 9, 4096] {
            file.truncate(good);
            file.resize(good + zeros, 0);
            fs_err::write(&path, &file).unwrap();
            let mut log = FileLog::open(d.path(), 0).unwrap();
            assert_eq!(
                all(&mut log, 0),
                vec![(1, erase("a")), (2, erase("b"))],
                "{zeros} zeros"
            );
            assert_eq!(log.append(&[enc(erase("c"))]).unwrap(), 3);
            drop(log);
            let mut log = FileLog::open(d.path(), 0).unwrap();
            assert_eq!(all(&mut log, 2), vec![(3, erase("c"))], "{zeros} zeros, appended after");
            drop(log);
            file = fs_err::read(&path).unwrap();
            file.truncate(good);
        }
    }

    /// Found by the `frames` fuzz target: a CRC-good frame numbered near u64::MAX (a
    /// corrupt file) overflowed the sequence arithmetic of `open` (a panic in debug builds,
    /// wrapped numbering in release ones).
    #[test]
    fn frames_numbered_past_u64_max_are_corrupt_not_a_panic() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("wal.log");
        let frame = |seq: u64, lines: &[Entry]| {
            let entries: Vec<Vec<u8>> = lines.iter().map(|e| e.encode().unwrap()).collect();
            let mut out = Vec::new();
            write_frame(&mut out, &frame_payload(seq, &entries)).unwrap();
            out
        };
        fs_err::write(&path, frame(u64::MAX, &[erase("a"), erase("b")])).unwrap();
        assert!(matches!(FileLog::open(d.path(), 0), Err(Error::Corrupt { .. })));
        // The last number there is: it replays, but nothing can follow it.
        fs_err::write(&path, frame(u64::MAX, &[erase("a")])).unwrap();
        let mut log = FileLog::open(d.path(), 0).unwrap();
        assert_eq!(log.last_seq(), u64::MAX);
        assert_eq!(all(&mut log, 0), vec![(u64::MAX, erase("a"))]);
        assert!(matches!(log.append(&[enc(erase("c"))]), Err(Error::Corrupt { .. })));
        assert_eq!(all(&mut log, 0).len(), 1);
    }

    #[test]
    fn entries_round_trip_as_json() {
        let e = Entry::Catalog {
            records: vec![Record::Delete("tr:1".into())],
        };
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(s, r#"{"op":"catalog","records":[{"delete":"tr:1"}]}"#);
        assert_eq!(serde_json::from_str::<Entry>(&s).unwrap(), e);
    }
}
