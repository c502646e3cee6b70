//! CRC-framed append-only files, shared by the write log and the event file.
//!
//! A file is a sequence of frames `[len: u32 LE][crc32: u32 LE][payload: len bytes]`. A
//! crash mid-append leaves at most one torn frame at the tail, which [`open`] detects (short
//! read or CRC mismatch) and cuts off; a failed [`append`] truncates back to the last good
//! frame, so a full disk never leaves a partial frame in front of later ones. Payloads are
//! never empty, so a zero-filled tail (a crash after the size but before the data reached
//! the disk) reads as torn, not as frames.

use crate::error::{Error, Result};
use fs_err::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// An IO error naming `path`.
pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Read frames from `r`, calling `f` per payload, and stop at the first frame that is
/// short or fails its CRC (nothing after it is shown). Returns the offset after the last
/// good frame and whether anything followed it (a torn or corrupt tail). Public for the
/// fuzz harness (`needle-fuzz`); the files' owners are [`crate::FileLog`] and
/// [`crate::FileEventLog`].
pub fn scan(r: &mut impl Read, mut f: impl FnMut(&[u8]) -> Result<()>) -> Result<(u64, bool)> {
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
        // No owner writes an empty payload, and an empty frame's CRC is 0: eight zero
        // bytes would pass as a frame. A crash can leave a zero-filled tail (the file's
        // size reached the disk before its data), so a zero length ends the good frames.
        if len == 0 {
            return Ok((offset, true));
        }
        // Read through `take` rather than into a buffer of `len` zeros: a corrupt length
        // (up to 4 GiB) then costs what the file holds, not a 4 GiB allocation.
        buf.clear();
        match read_payload(r, len as u64, &mut buf) {
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

/// Append up to `len` bytes of `r` to `buf`, growing it as data arrives (at most 1 MiB
/// ahead of it); the count read.
fn read_payload(r: &mut impl Read, len: u64, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    buf.reserve(len.min(1 << 20) as usize);
    r.by_ref().take(len).read_to_end(buf)
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

pub(crate) fn write_frame(w: &mut impl Write, payload: &[u8]) -> std::io::Result<()> {
    debug_assert!(!payload.is_empty(), "an empty payload would read as a torn tail");
    w.write_all(&(payload.len() as u32).to_le_bytes())?;
    w.write_all(&crc32fast::hash(payload).to_le_bytes())?;
    w.write_all(payload)
}

/// Open (or create) the framed file `path`, showing each good frame's payload to `f` and
/// cutting a torn tail (`what` names the file in the warning). Returns the file and the
/// length of its good frames.
pub(crate) fn open(path: &Path, what: &str, f: impl FnMut(&[u8]) -> Result<()>) -> Result<(File, u64)> {
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io(path))?;
    let (good, torn) = scan(&mut BufReader::new(&mut file), f)?;
    let len = file.metadata().map_err(io(path))?.len();
    if torn || good < len {
        tracing::warn!(path = %path.display(), kept = good, dropped = len - good, "cutting a torn tail off the {what}");
        file.set_len(good).map_err(io(path))?;
        file.sync_all().map_err(io(path))?;
    }
    Ok((file, good))
}

/// Append one frame of `payload` at `len` (the end of the good frames), fdatasync'd when
/// `sync`; on failure the file is cut back to `len`. Returns the frame's size.
pub(crate) fn append(file: &mut File, path: &Path, len: u64, payload: &[u8], sync: bool) -> Result<u64> {
    let mut frame = Vec::with_capacity(payload.len() + 8);
    write_frame(&mut frame, payload).map_err(io(path))?;
    let written = file
        .seek(SeekFrom::Start(len))
        .and_then(|_| file.write_all(&frame))
        .and_then(|()| if sync { file.sync_data() } else { Ok(()) });
    if let Err(e) = written {
        if let Err(cut) = file.set_len(len).and_then(|()| file.sync_all()) {
            tracing::error!(error = %cut, path = %path.display(), "cannot cut a failed append off");
        }
        return Err(Error::Io {
            path: path.display().to_string(),
            source: e,
        });
    }
    Ok(frame.len() as u64)
}

/// Show the payload of every frame in the first `len` bytes of `path` to `f`, in order.
pub(crate) fn read(path: &Path, len: u64, f: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let file = File::open(path).map_err(io(path))?;
    let mut r = BufReader::with_capacity(1 << 20, file.take(len));
    scan(&mut r, f)?;
    Ok(())
}

/// Put the rewritten file `tmp` (already fsync'd) in place of `path` atomically (rename,
/// then fsync of the directory), and reopen it; returns the file and its length.
pub(crate) fn replace(path: &Path, tmp: &Path) -> Result<(File, u64)> {
    fs_err::rename(tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    let file = OpenOptions::new().read(true).write(true).open(path).map_err(io(path))?;
    let len = file.metadata().map_err(io(path))?.len();
    Ok((file, len))
}
