//! Small state files written whole (`tokens.json`, `settings.json`, `searchstats.bin`):
//! an atomic, durable replace and the copy a snapshot takes.

use crate::error::Result;
use crate::frames::io;
use std::path::Path;

/// Replace `path` with `bytes` durably: written to `<path>.tmp`, fsync'd, renamed over
/// `path`, then the directory fsync'd, so a crash leaves the old file or the new one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut f = fs_err::File::create(&tmp).map_err(io(&tmp))?;
        std::io::Write::write_all(&mut f, bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs_err::rename(&tmp, path).map_err(io(path))?;
    if let Some(parent) = path.parent() {
        fs_err::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io(parent))?;
    }
    Ok(())
}

/// Copy `path` into `dir` under its own name (a snapshot), when it exists.
pub(crate) fn copy_into(path: &Path, dir: &Path) -> Result<()> {
    if let Some(name) = path.file_name().filter(|_| path.exists()) {
        let to = dir.join(name);
        fs_err::copy(path, &to).map_err(io(&to))?;
    }
    Ok(())
}
