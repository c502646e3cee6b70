//! The CRC-framed files (`needle_store::frames`): the frame scan on any bytes, and the
//! write log ([`FileLog`]) and event file ([`FileEventLog`]) opened over torn and corrupt
//! files.
//!
//! Invariants (the contract `frames.rs` documents): the scan shows only frames whose CRC
//! holds, contiguous from the start, and stops at the first bad one (nothing after it is
//! shown); the offset it returns is where that bad frame begins. Opening a file keeps
//! exactly those good frames and cuts the rest; an append after that survives a reopen,
//! behind everything that was kept.

use needle_core::{Event, EventType};
use needle_store::{Entry, Error, FileEventLog, FileLog, Log};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A scratch directory per process, on tmpfs when there is one (fsyncs are free there).
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let b = tempfile::Builder::new()
            .prefix("needle-fuzz-frames")
            .tempdir_in(if shm.is_dir() {
                shm.to_path_buf()
            } else {
                std::env::temp_dir()
            });
        b.or_else(|_| tempfile::tempdir()).expect("a scratch directory")
    })
    .path()
}

/// One frame `[len u32 LE][crc32 u32 LE][payload]`.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The harness of the `frames` target. First byte bit 0 clear: the rest is the file as
/// is. Set: the rest is payloads, each `[len u16 LE][bytes]`, framed with good CRCs, then
/// cut to the length in the two bytes after the first (`0xffff`: not cut), so that the
/// fuzzer reaches the payloads' contents. Bit 1 chooses the write log or the event file.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = if mode & 1 == 0 { rest.to_vec() } else { build(rest) };
    check_scan(&file);
    if mode & 2 == 0 {
        check_event_file(&file);
    } else {
        check_write_log(&file);
    }
}

/// A file from framed payloads (see [`run`]).
pub fn build(spec: &[u8]) -> Vec<u8> {
    let (cut, mut rest) = match spec {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => (u16::MAX, spec),
    };
    let mut file = Vec::new();
    while let [a, b, tail @ ..] = rest {
        let n = usize::from(u16::from_le_bytes([*a, *b])).min(tail.len());
        file.extend_from_slice(&frame(&tail[..n]));
        rest = &tail[n..];
    }
    if cut != u16::MAX {
        file.truncate(usize::from(cut));
    }
    file
}

/// The frame at the start of `bytes`, if it is whole and its CRC holds.
fn good_frame(bytes: &[u8]) -> Option<&[u8]> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
    if len == 0 {
        return None; // never written; a zero-filled tail
    }
    let payload = bytes.get(8..8usize.checked_add(len)?)?;
    (crc32fast::hash(payload) == crc).then_some(payload)
}

/// The scan over `file` in memory: good frames only, in order, stopping at the first bad one.
pub fn check_scan(file: &[u8]) -> usize {
    let mut shown: Vec<Vec<u8>> = Vec::new();
    let (offset, torn) = needle_store::frames::scan(&mut &file[..], |p| {
        shown.push(p.to_vec());
        Ok(())
    })
    .expect("reading memory does not fail");
    let offset = usize::try_from(offset).expect("an offset within memory");
    assert!(offset <= file.len());
    assert_eq!(torn, offset < file.len(), "torn {torn} at {offset} of {}", file.len());
    let mut at = 0;
    for p in &shown {
        let good = good_frame(&file[at..]).expect("a shown frame is whole with a good CRC");
        assert_eq!(good, &p[..], "frame at {at}");
        at += 8 + p.len();
    }
    assert_eq!(at, offset, "frames shown end where the scan says");
    assert!(
        good_frame(&file[offset..]).is_none(),
        "a good frame at {offset} was not shown"
    );
    offset
}

fn write(name: &str, file: &[u8]) -> PathBuf {
    let dir = scratch().join(name);
    if dir.exists() {
        fs_err::remove_dir_all(&dir).expect("clear the scratch directory");
    }
    fs_err::create_dir_all(&dir).expect("a scratch directory");
    let file_name = if name == "events" { "events.log" } else { "wal.log" };
    fs_err::write(dir.join(file_name), file).expect("write the file");
    dir
}

fn corrupt_only(e: &Error) {
    assert!(matches!(e, Error::Corrupt { .. }), "not a corruption error: {e:?}");
}

/// The event file over `file`: the good frames kept, the rest cut, an append kept after them.
pub fn check_event_file(file: &[u8]) {
    let good = check_scan(file) as u64;
    let dir = write("events", file);
    let mut log = match FileEventLog::open(&dir) {
        Ok(log) => log,
        Err(e) => return corrupt_only(&e),
    };
    assert_eq!(log.size_bytes(), good, "kept bytes");
    let on_disk = fs_err::metadata(dir.join("events.log")).expect("the file").len();
    assert_eq!(on_disk, good, "the torn tail is cut on disk");
    let mut before = Vec::new();
    let replayed = log.replay(&mut |e| before.push(e));
    let seq = log.applied_seq().saturating_add(1);
    let ev = Event {
        event_id: Some("fuzz".into()),
        user_id: "u".into(),
        kind: EventType::Play,
        item_id: "t".into(),
        ts: 1,
        ms_played: None,
        count: 1,
        context: None,
    };
    log.append(seq, std::slice::from_ref(&ev)).expect("append after open");
    drop(log);
    let mut log = FileEventLog::open(&dir).expect("reopen after an append");
    assert!(
        log.applied_seq() >= seq,
        "applied_seq {} below {seq}",
        log.applied_seq()
    );
    let mut after = Vec::new();
    let again = log.replay(&mut |e| after.push(e));
    match replayed {
        Ok(()) => {
            again.expect("a file that replayed replays after an append");
            before.push(ev);
            assert_eq!(after, before, "the append is kept behind the old frames");
        }
        Err(e) => corrupt_only(&e),
    }
}

/// The write log over `file`: the good frames kept, the rest cut, an append numbered on
/// and kept after them.
pub fn check_write_log(file: &[u8]) {
    let good = check_scan(file) as u64;
    let dir = write("wal", file);
    let mut log = match FileLog::open(&dir, 0) {
        Ok(log) => log,
        Err(e) => return corrupt_only(&e),
    };
    assert_eq!(log.size_bytes(), good, "kept bytes");
    let on_disk = fs_err::metadata(dir.join("wal.log")).expect("the file").len();
    assert_eq!(on_disk, good, "the torn tail is cut on disk");
    let mut before = Vec::new();
    let replayed = log.replay_after(0, &mut |s, e| {
        before.push((s, e));
        Ok(())
    });
    let last = log.last_seq();
    if let Ok(()) = &replayed {
        assert!(before.iter().all(|(s, _)| *s <= last), "an entry above last_seq {last}");
    }
    let entry = Entry::EraseListener {
        user_id: "fuzz".into(),
        tokens_before_ms: Some(1),
    };
    let seq = match log.append(&[entry.encode().expect("an entry encodes")]) {
        Ok(seq) => seq,
        Err(e) => return corrupt_only(&e),
    };
    assert_eq!(seq, last + 1, "numbering goes on after the kept entries");
    drop(log);
    let mut log = FileLog::open(&dir, 0).expect("reopen after an append");
    assert_eq!(log.last_seq(), seq);
    let mut after = Vec::new();
    let again = log.replay_after(0, &mut |s, e| {
        after.push((s, e));
        Ok(())
    });
    match replayed {
        Ok(()) => {
            again.expect("a log that replayed replays after an append");
            before.push((seq, entry));
            assert_eq!(after, before, "the append is kept behind the old entries");
        }
        Err(e) => corrupt_only(&e),
    }
}
