//! The event file: every stored listening event, in log order (the events part of the
//! derived state; profiles are rebuilt from it on start).
//!
//! File format: a sequence of frames `[len: u32 LE][crc32: u32 LE][payload: len bytes]`.
//! A payload written since the write log exists is `#`, the sequence number (u64 LE) of the
//! log entry it applies, then the entry's new events as JSON lines (none for a mark that
//! only records the sequence number); older payloads are bare JSON lines (sequence 0).
//! Frames are appended without fsync ([`FileEventLog::sync`] makes them durable; the write
//! log holds the entries until then), so after `kill -9` the file may end in a torn frame,
//! which [`FileEventLog::open`] cuts off; the write log re-applies what it held. A failed
//! append truncates back to the last good frame, so a full disk never leaves a partial
//! frame in front of later ones.

use crate::error::{Error, Result};
use crate::frames::{self, io, scan, write_frame};
use fs_err::File;
use needle_core::Event;
use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

/// The event file of one data directory.
pub struct FileEventLog {
    path: PathBuf,
    file: File,
    len: u64,
    applied_seq: u64,
}

/// The dedup key of a listener's event id.
pub(crate) fn dedup_key(user: &str, event_id: &str) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(user.as_bytes());
    h.update(&[0]);
    h.update(event_id.as_bytes());
    h.digest()
}

/// A tagged payload: `#`, `seq`, then `events` as JSON lines.
fn encode(seq: u64, events: &[Event]) -> Result<Vec<u8>> {
    let mut payload = Vec::with_capacity(9 + events.len() * 128);
    payload.push(b'#');
    payload.extend_from_slice(&seq.to_le_bytes());
    for e in events {
        serde_json::to_writer(&mut payload, e).map_err(|e| Error::Storage(e.to_string()))?;
        payload.push(b'\n');
    }
    Ok(payload)
}

/// How a frame's events are written.
#[derive(Clone, Copy)]
enum Body {
    /// One event per JSON line.
    Lines,
    /// The write-log entry as the log encoded it (`{"op":"events",...}`): written without
    /// re-encoding; may hold events that were duplicates when applied (skipped on replay).
    Entry,
}

/// Split a payload into its sequence number (0 for an untagged, older one), how its body is
/// written, and the body.
fn split(payload: &[u8]) -> Result<(u64, Body, &[u8])> {
    match payload.first() {
        Some(&tag @ (b'#' | b'E')) if payload.len() >= 9 => {
            let body = if tag == b'E' { Body::Entry } else { Body::Lines };
            let mut b = [0u8; 8];
            b.copy_from_slice(&payload[1..9]);
            Ok((u64::from_le_bytes(b), body, &payload[9..]))
        }
        Some(b'#' | b'E') => Err(Error::Corrupt {
            id: "event log".into(),
            message: "frame shorter than its sequence number".into(),
        }),
        _ => Ok((0, Body::Lines, payload)),
    }
}

fn decode(body: Body, bytes: &[u8], f: &mut dyn FnMut(Event)) -> Result<()> {
    match body {
        Body::Lines => decode_lines(bytes, f),
        Body::Entry => match serde_json::from_slice::<crate::log::Entry>(bytes) {
            Ok(crate::log::Entry::Events { events }) => {
                events.into_iter().for_each(f);
                Ok(())
            }
            Ok(other) => Err(Error::Corrupt {
                id: "event log".into(),
                message: format!("a `{}` entry in the event file", other.kind()),
            }),
            Err(e) => Err(Error::Corrupt {
                id: "event log".into(),
                message: e.to_string(),
            }),
        },
    }
}

fn decode_lines(lines: &[u8], f: &mut dyn FnMut(Event)) -> Result<()> {
    for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let e: Event = serde_json::from_slice(line).map_err(|e| Error::Corrupt {
            id: "event log".into(),
            message: e.to_string(),
        })?;
        f(e);
    }
    Ok(())
}

impl FileEventLog {
    /// Open (or create) `dir/events.log`, cutting a torn tail if there is one.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join("events.log");
        let mut applied_seq = 0;
        let (file, good) = frames::open(&path, "event log", |p| {
            applied_seq = applied_seq.max(split(p)?.0);
            Ok(())
        })?;
        Ok(FileEventLog {
            path,
            file,
            len: good,
            applied_seq,
        })
    }

    /// The sequence number of the last write-log entry this file covers.
    pub fn applied_seq(&self) -> u64 {
        self.applied_seq
    }

    /// Append the events of log entry `seq` (an empty slice records `seq` only). Not
    /// durable until [`FileEventLog::sync`]; on failure the file is left as it was.
    pub fn append(&mut self, seq: u64, events: &[Event]) -> Result<()> {
        let payload = encode(seq, events)?;
        self.append_payload(seq, &payload)
    }

    fn append_payload(&mut self, seq: u64, payload: &[u8]) -> Result<()> {
        self.len += frames::append(&mut self.file, &self.path, self.len, payload, false)?;
        self.applied_seq = self.applied_seq.max(seq);
        Ok(())
    }

    /// Append log entry `seq` as the log encoded it (an `events` entry, duplicates
    /// included: they are skipped on replay). Not durable until [`FileEventLog::sync`].
    pub fn append_entry(&mut self, seq: u64, entry: &[u8]) -> Result<()> {
        let mut payload = Vec::with_capacity(9 + entry.len());
        payload.push(b'E');
        payload.extend_from_slice(&seq.to_le_bytes());
        payload.extend_from_slice(entry);
        self.append_payload(seq, &payload)
    }

    /// Make every append so far durable.
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync_data().map_err(io(&self.path))
    }

    /// Visit every event in log order.
    pub fn replay(&mut self, f: &mut dyn FnMut(Event)) -> Result<()> {
        frames::read(&self.path, self.len, |p| {
            let (_, body, bytes) = split(p)?;
            decode(body, bytes, f)
        })
    }

    /// Remove every event of `user_id` for good (rewrite, fsync, rename), showing each
    /// removed event to `removed`, and record `seq`; returns how many were removed.
    pub fn erase_user(&mut self, seq: u64, user_id: &str, on_removed: &mut dyn FnMut(&Event)) -> Result<u64> {
        let tmp = self.path.with_extension("log.rewrite");
        let mut removed = 0u64;
        // Entry frames may hold events that were duplicates when applied: they were never
        // counted as stored, so they are neither counted as removed nor kept.
        let mut seen = std::collections::HashSet::new();
        {
            let out = File::create(&tmp).map_err(io(&tmp))?;
            let mut w = BufWriter::new(out);
            let src = File::open(&self.path).map_err(io(&self.path))?;
            let mut r = BufReader::with_capacity(1 << 20, src.take(self.len));
            let mut err: Option<Error> = None;
            scan(&mut r, |payload| {
                let (frame_seq, body, bytes) = split(payload)?;
                let mut keep = Vec::new();
                decode(body, bytes, &mut |e| {
                    if let Some(id) = &e.event_id {
                        if !seen.insert(dedup_key(&e.user_id, id)) {
                            return;
                        }
                    }
                    if e.user_id == user_id {
                        on_removed(&e);
                        removed += 1;
                    } else {
                        keep.push(e);
                    }
                })?;
                if !keep.is_empty() {
                    if let Err(e) = encode(frame_seq, &keep).and_then(|p| write_frame(&mut w, &p).map_err(io(&tmp))) {
                        err = Some(e);
                    }
                }
                Ok(())
            })?;
            if let Some(e) = err {
                return Err(e);
            }
            if removed == 0 {
                drop(w);
                let _ = fs_err::remove_file(&tmp);
                self.append(seq, &[])?;
                return Ok(0);
            }
            encode(seq.max(self.applied_seq), &[]).and_then(|p| write_frame(&mut w, &p).map_err(io(&tmp)))?;
            let out = w.into_inner().map_err(|e| Error::Storage(e.to_string()))?;
            out.sync_all().map_err(io(&tmp))?;
        }
        (self.file, self.len) = frames::replace(&self.path, &tmp)?;
        self.applied_seq = self.applied_seq.max(seq);
        Ok(removed)
    }

    /// Copy the file's good frames (its first `len` bytes) to `to`.
    pub fn copy_to(&self, to: &Path) -> Result<()> {
        let src = File::open(&self.path).map_err(io(&self.path))?;
        let mut out = File::create(to).map_err(io(to))?;
        std::io::copy(&mut src.take(self.len), &mut out).map_err(io(to))?;
        out.sync_all().map_err(io(to))
    }

    /// Bytes on disk.
    pub fn size_bytes(&self) -> u64 {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use needle_core::EventType;

    fn ev(user: &str, item: &str, ts: i64) -> Event {
        Event {
            event_id: None,
            user_id: user.into(),
            kind: EventType::Play,
            item_id: item.into(),
            ts,
            ms_played: None,
            count: 1,
            context: None,
        }
    }

    fn all(log: &mut FileEventLog) -> Vec<Event> {
        let mut v = vec![];
        log.replay(&mut |e| v.push(e)).unwrap();
        v
    }

    #[test]
    fn append_replay_reopen() {
        let d = tempfile::tempdir().unwrap();
        let mut log = FileEventLog::open(d.path()).unwrap();
        log.append(1, &[ev("u", "a", 1), ev("v", "b", 2)]).unwrap();
        log.append(2, &[ev("u", "c", 3)]).unwrap();
        drop(log);
        let mut log = FileEventLog::open(d.path()).unwrap();
        assert_eq!(all(&mut log).len(), 3);
    }

    #[test]
    fn torn_tail_is_cut_at_every_possible_length() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("events.log");
        let mut log = FileEventLog::open(d.path()).unwrap();
        log.append(1, &[ev("u", "a", 1)]).unwrap();
        let good = log.size_bytes();
        log.append(2, &[ev("u", "b", 2), ev("u", "c", 3)]).unwrap();
        log.sync().unwrap();
        let full = fs_err::read(&path).unwrap();
        drop(log);
        for cut in good as usize..full.len() {
            fs_err::write(&path, &full[..cut]).unwrap();
            let mut log = FileEventLog::open(d.path()).unwrap();
            assert_eq!(all(&mut log).len(), 1, "cut at {cut}");
            assert_eq!(log.size_bytes(), good);
            log.append(3, &[ev("u", "d", 4)]).unwrap();
            assert_eq!(all(&mut log).len(), 2);
        }
        // A flipped bit in the last frame is a torn frame too.
        let mut bad = full.clone();
        let n = bad.len();
        bad[n - 3] ^= 0x40;
        fs_err::write(&path, &bad).unwrap();
        let mut log = FileEventLog::open(d.path()).unwrap();
        assert_eq!(all(&mut log).len(), 1);
    }

    #[test]
    fn erase_user_rewrites_without_them() {
        let d = tempfile::tempdir().unwrap();
        let mut log = FileEventLog::open(d.path()).unwrap();
        log.append(1, &[ev("u", "a", 1), ev("v", "b", 2)]).unwrap();
        log.append(2, &[ev("u", "c", 3)]).unwrap();
        let mut seen = 0;
        assert_eq!(log.erase_user(3, "u", &mut |_| seen += 1).unwrap(), 2);
        assert_eq!(seen, 2);
        assert_eq!(log.erase_user(4, "nobody", &mut |_| ()).unwrap(), 0);
        log.append(5, &[ev("w", "d", 4)]).unwrap();
        assert_eq!(log.applied_seq(), 5);
        drop(log);
        let mut log = FileEventLog::open(d.path()).unwrap();
        let users: Vec<String> = all(&mut log).into_iter().map(|e| e.user_id).collect();
        assert_eq!(users, vec!["v", "w"]);
        let raw = fs_err::read_to_string(d.path().join("events.log")).unwrap_or_default();
        assert!(!raw.contains("\"u\""));
    }
}
