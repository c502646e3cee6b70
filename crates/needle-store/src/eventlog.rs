//! The durable, append-only event log (embedded implementation of [`EventLog`]).
//!
//! File format: a sequence of frames `[len: u32 LE][crc32: u32 LE][payload: len bytes]`;
//! one frame per group commit, its payload the batch's events as JSON lines. A frame is
//! acknowledged only after `fdatasync`, so after `kill -9` the file holds every
//! acknowledged frame and at most one torn frame at the tail, which [`FileEventLog::open`]
//! detects (short read or CRC mismatch) and cuts off.

use crate::error::{Error, Result};
use needle_core::Event;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A durable log of listening events. Implementations: [`FileEventLog`] (embedded, the
/// default); a replicated log (NATS JetStream, Kafka) can implement the same trait.
pub trait EventLog: Send {
    /// Append a batch; durable when this returns.
    fn append(&mut self, events: &[Event]) -> Result<()>;
    /// Visit every event in log order.
    fn replay(&mut self, f: &mut dyn FnMut(Event)) -> Result<()>;
    /// Remove every event of `user_id` for good, showing each removed event to
    /// `removed`; returns how many were removed.
    fn erase_user(&mut self, user_id: &str, removed: &mut dyn FnMut(&Event)) -> Result<u64>;
    /// Bytes on disk.
    fn size_bytes(&self) -> u64;
}

/// The embedded event log: one file, fsync'd per batch.
pub struct FileEventLog {
    path: PathBuf,
    file: File,
    len: u64,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Read frames from `r`, calling `f` per payload; returns the offset after the last good frame.
fn scan(r: &mut impl Read, mut f: impl FnMut(&[u8]) -> Result<()>) -> Result<(u64, bool)> {
    let mut offset = 0u64;
    let mut header = [0u8; 8];
    let mut buf = Vec::new();
    loop {
        match read_full(r, &mut header) {
            Ok(0) => return Ok((offset, false)),
            Ok(8) => {}
            Ok(_) => return Ok((offset, true)),
            Err(e) => return Err(Error::Storage(e.to_string())),
        }
        let len = u32::from_le_bytes(header[..4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().unwrap_or_default());
        buf.resize(len, 0);
        match read_full(r, &mut buf) {
            Ok(n) if n == len => {}
            Ok(_) => return Ok((offset, true)),
            Err(e) => return Err(Error::Storage(e.to_string())),
        }
        if crc32fast::hash(&buf) != crc {
            return Ok((offset, true));
        }
        f(&buf)?;
        offset += 8 + len as u64;
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn encode(events: &[Event]) -> Result<Vec<u8>> {
    let mut payload = Vec::with_capacity(events.len() * 128);
    for e in events {
        serde_json::to_writer(&mut payload, e).map_err(|e| Error::Storage(e.to_string()))?;
        payload.push(b'\n');
    }
    Ok(payload)
}

fn write_frame(w: &mut impl Write, payload: &[u8]) -> std::io::Result<()> {
    w.write_all(&(payload.len() as u32).to_le_bytes())?;
    w.write_all(&crc32fast::hash(payload).to_le_bytes())?;
    w.write_all(payload)
}

fn decode(payload: &[u8], f: &mut dyn FnMut(Event)) -> Result<()> {
    for line in payload.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
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
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join("events.log");
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io(&path))?;
        let (good, torn) = scan(&mut BufReader::new(&mut file), |_| Ok(()))?;
        let len = file.metadata().map_err(io(&path))?.len();
        if torn || good < len {
            tracing::warn!(path = %path.display(), kept = good, dropped = len - good, "cutting a torn tail off the event log");
            file.set_len(good).map_err(io(&path))?;
            file.sync_all().map_err(io(&path))?;
        }
        Ok(FileEventLog { path, file, len: good })
    }
}

impl EventLog for FileEventLog {
    fn append(&mut self, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let payload = encode(events)?;
        let mut frame = Vec::with_capacity(payload.len() + 8);
        write_frame(&mut frame, &payload).map_err(io(&self.path))?;
        self.file.write_all(&frame).map_err(io(&self.path))?;
        self.file.sync_data().map_err(io(&self.path))?;
        self.len += frame.len() as u64;
        Ok(())
    }

    fn replay(&mut self, f: &mut dyn FnMut(Event)) -> Result<()> {
        let mut file = File::open(&self.path).map_err(io(&self.path))?;
        file.seek(SeekFrom::Start(0)).map_err(io(&self.path))?;
        let mut r = BufReader::with_capacity(1 << 20, file.take(self.len));
        scan(&mut r, |p| decode(p, f))?;
        Ok(())
    }

    fn erase_user(&mut self, user_id: &str, on_removed: &mut dyn FnMut(&Event)) -> Result<u64> {
        let tmp = self.path.with_extension("log.rewrite");
        let mut removed = 0u64;
        {
            let out = File::create(&tmp).map_err(io(&tmp))?;
            let mut w = BufWriter::new(out);
            let src = File::open(&self.path).map_err(io(&self.path))?;
            let mut r = BufReader::with_capacity(1 << 20, src.take(self.len));
            let mut err: Option<Error> = None;
            scan(&mut r, |payload| {
                let mut keep = Vec::new();
                decode(payload, &mut |e| {
                    if e.user_id == user_id {
                        on_removed(&e);
                        removed += 1;
                    } else {
                        keep.push(e);
                    }
                })?;
                if !keep.is_empty() {
                    if let Err(e) = encode(&keep).and_then(|p| write_frame(&mut w, &p).map_err(io(&tmp))) {
                        err = Some(e);
                    }
                }
                Ok(())
            })?;
            if let Some(e) = err {
                return Err(e);
            }
            let out = w.into_inner().map_err(|e| Error::Storage(e.to_string()))?;
            out.sync_all().map_err(io(&tmp))?;
        }
        if removed == 0 {
            let _ = std::fs::remove_file(&tmp);
            return Ok(0);
        }
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        if let Some(dir) = self.path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
        }
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(io(&self.path))?;
        self.len = self.file.metadata().map_err(io(&self.path))?.len();
        Ok(removed)
    }

    fn size_bytes(&self) -> u64 {
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
        log.append(&[ev("u", "a", 1), ev("v", "b", 2)]).unwrap();
        log.append(&[ev("u", "c", 3)]).unwrap();
        drop(log);
        let mut log = FileEventLog::open(d.path()).unwrap();
        assert_eq!(all(&mut log).len(), 3);
    }

    #[test]
    fn torn_tail_is_cut_at_every_possible_length() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("events.log");
        let mut log = FileEventLog::open(d.path()).unwrap();
        log.append(&[ev("u", "a", 1)]).unwrap();
        let good = log.size_bytes();
        log.append(&[ev("u", "b", 2), ev("u", "c", 3)]).unwrap();
        let full = std::fs::read(&path).unwrap();
        drop(log);
        for cut in good as usize..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let mut log = FileEventLog::open(d.path()).unwrap();
            assert_eq!(all(&mut log).len(), 1, "cut at {cut}");
            assert_eq!(log.size_bytes(), good);
            log.append(&[ev("u", "d", 4)]).unwrap();
            assert_eq!(all(&mut log).len(), 2);
        }
        // A flipped bit in the last frame is a torn frame too.
        let mut bad = full.clone();
        let n = bad.len();
        bad[n - 3] ^= 0x40;
        std::fs::write(&path, &bad).unwrap();
        let mut log = FileEventLog::open(d.path()).unwrap();
        assert_eq!(all(&mut log).len(), 1);
    }

    #[test]
    fn erase_user_rewrites_without_them() {
        let d = tempfile::tempdir().unwrap();
        let mut log = FileEventLog::open(d.path()).unwrap();
        log.append(&[ev("u", "a", 1), ev("v", "b", 2)]).unwrap();
        log.append(&[ev("u", "c", 3)]).unwrap();
        let mut seen = 0;
        assert_eq!(log.erase_user("u", &mut |_| seen += 1).unwrap(), 2);
        assert_eq!(seen, 2);
        assert_eq!(log.erase_user("nobody", &mut |_| ()).unwrap(), 0);
        log.append(&[ev("w", "d", 4)]).unwrap();
        drop(log);
        let mut log = FileEventLog::open(d.path()).unwrap();
        let users: Vec<String> = all(&mut log).into_iter().map(|e| e.user_id).collect();
        assert_eq!(users, vec!["v", "w"]);
        let raw = std::fs::read_to_string(d.path().join("events.log")).unwrap_or_default();
        assert!(!raw.contains("\"u\""));
    }
}
