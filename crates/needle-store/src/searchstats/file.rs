//! The on-disk form of the state, `searchstats.bin`: [`MAGIC`], the format version (u32,
//! little-endian), then the state's serde types in bincode (varint integers) compressed
//! by one zstd frame with its checksum. The per-query daily counts dominate; JSON spelled
//! every field name of every day (201 MB at 10 million searches).
//!
//! The JSON file of earlier versions ([`LEGACY_FILE_NAME`]) is read once when the binary
//! one is absent; the next checkpoint writes the binary file and removes it.

use super::state::State;
use crate::error::{Error, Result};
use crate::frames::io;
use bincode::Options;
use std::path::Path;

/// First bytes of the file: what it is, before its version.
pub const MAGIC: &[u8; 8] = b"NDLSSTAT";
/// Format version; a reader refuses any other (the layout of [`State`] is in it).
pub const VERSION: u32 = 1;
/// Where the state was kept before the binary format (JSON): read once, then removed.
pub const LEGACY_FILE_NAME: &str = "searchstats.json";

/// zstd level. At 10 million searches (BENCHMARKS.md 3.1) the 68 MB body compresses to
/// 40 MB in 0.15 s at level 1 and to 34 MB in 0.29 s at level 3: most of what is left is
/// random listener keys, which no level compresses; the write comes once a minute.
const LEVEL: i32 = 1;

fn options() -> impl Options {
    bincode::DefaultOptions::new()
}

fn corrupt(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        id: path.display().to_string(),
        message: message.to_string(),
    }
}

/// The uncompressed body (taken under the state's lock: compression happens outside it).
pub(super) fn encode(state: &State) -> Result<Vec<u8>> {
    options()
        .serialize(state)
        .map_err(|e| Error::Storage(format!("cannot encode search statistics: {e}")))
}

/// The whole file for the body of [`encode`].
pub(super) fn frame(body: &[u8]) -> Result<Vec<u8>> {
    let fail = |e: std::io::Error| Error::Storage(format!("cannot compress search statistics: {e}"));
    let mut out = Vec::with_capacity(body.len() / 4 + 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    let mut z = zstd::stream::Encoder::new(out, LEVEL).map_err(fail)?;
    z.include_checksum(true).map_err(fail)?;
    z.set_pledged_src_size(Some(body.len() as u64)).map_err(fail)?;
    std::io::Write::write_all(&mut z, body).map_err(fail)?;
    z.finish().map_err(fail)
}

/// Decode the file `path` read as `bytes`: [`Error::Corrupt`] naming it when it is not
/// this format, another version, truncated or damaged.
pub(super) fn decode(path: &Path, bytes: &[u8]) -> Result<State> {
    let header = MAGIC.len() + 4;
    if bytes.len() < header || &bytes[..MAGIC.len()] != MAGIC {
        return Err(corrupt(path, "not a search statistics file (bad magic)"));
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(&bytes[MAGIC.len()..header]);
    let version = u32::from_le_bytes(v);
    if version != VERSION {
        return Err(corrupt(
            path,
            format!("search statistics format version {version}, this build reads {VERSION}"),
        ));
    }
    let body = zstd::stream::decode_all(&bytes[header..]).map_err(|e| corrupt(path, format!("zstd: {e}")))?;
    options()
        .deserialize(&body)
        .map_err(|e| corrupt(path, format!("decoding: {e}")))
}

/// What [`load`] found.
pub(super) struct Loaded {
    pub state: State,
    /// The legacy JSON file exists and must go once the binary file is written.
    pub legacy: bool,
}

/// Read the state of `dir`: `path` (the binary file), else the legacy JSON file, else an
/// empty state covering nothing.
pub(super) fn load(dir: &Path, path: &Path) -> Result<Loaded> {
    let legacy_path = dir.join(LEGACY_FILE_NAME);
    let legacy = legacy_path.exists();
    let state = match fs_err::read(path) {
        Ok(bytes) => decode(path, &bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match fs_err::read(&legacy_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| corrupt(&legacy_path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(io(&legacy_path)(e)),
        },
        Err(e) => return Err(io(path)(e)),
    };
    Ok(Loaded { state, legacy })
}

/// Remove the legacy JSON file of `dir` (after the binary one was written). Not fsync'd:
/// should it come back after a crash, the binary file still wins.
pub(super) fn remove_legacy(dir: &Path) -> Result<()> {
    let p = dir.join(LEGACY_FILE_NAME);
    match fs_err::remove_file(&p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&p)(e)),
        _ => Ok(()),
    }
}
