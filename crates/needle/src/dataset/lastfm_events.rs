//! HetRec 2011 Last.fm plays (`user_artists.dat`) to listening events in the
//! `POST /v1/events` format.
//!
//! One `play` event per (user, artist) row, with `count` = the row's `weight` (the
//! user's total plays of the artist), `user_id` = `lfm:user:<userID>`, `item_id` =
//! `lfm:artist:<artistID>` (the ids of the catalog converter, [`super::lastfm`]) and a
//! deterministic `event_id` = `lfm:play:<userID>:<artistID>`, so loading the file twice
//! counts every play once.
//!
//! The file has no timestamps. Each user's events get the date of the user's latest tag
//! assignment in `user_taggedartists.dat` (day/month/year, years before 2005 ignored as
//! bogus), at 00:00 UTC; users who never tagged, or when that file is missing, get
//! [`DEFAULT_TS`]. Friendships (`user_friends.dat`) are not converted.

use super::sink::valid_date;
use super::text::Lines;
use anyhow::{Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use fs_err::File;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

/// Timestamp of users without a dated tag (the dataset was released in May 2011).
pub const DEFAULT_TS: &str = "2011-05-01T00:00:00Z";
/// Tag years outside this range are not trusted (Last.fm started in 2002; the dataset is
/// from 2011; a few rows say 1956).
const YEARS: std::ops::RangeInclusive<u32> = 2005..=2011;

/// What a conversion wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsSummary {
    /// Events written.
    pub written: u64,
    /// Distinct listeners.
    pub users: u64,
    /// Distinct artists.
    pub items: u64,
    /// Listeners whose timestamp comes from their tags (the others have [`DEFAULT_TS`]).
    pub dated_users: u64,
    /// Rows skipped: unparseable lines, a weight of 0, repeated (user, artist) pairs.
    pub skipped: u64,
}

impl fmt::Display for EventsSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote {} play events of {} listeners about {} artists ({} listeners dated by their tags, the others at {DEFAULT_TS}), skipped {}",
            self.written, self.users, self.items, self.dated_users, self.skipped
        )
    }
}

/// One output line.
#[derive(Serialize)]
struct PlayEvent<'a> {
    event_id: String,
    user_id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    item_id: String,
    ts: &'a str,
    count: u64,
}

/// Convert the dataset folder `dir` (holding `user_artists.dat`) into `out`
/// (gzip JSON Lines when it ends in `.gz`).
pub(crate) fn convert(dir: &Path, out: &Path, progress: bool) -> Result<EventsSummary> {
    let mut summary = EventsSummary::default();
    let dates = user_dates(&dir.join("user_taggedartists.dat"))?;
    let mut w = Writer::create(out)?;
    let pb = if progress {
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] lastfm-events: {human_pos} events ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.enable_steady_tick(Duration::from_millis(120));
        pb
    } else {
        ProgressBar::hidden()
    };
    let mut users: HashSet<u32> = HashSet::new();
    let mut items: HashSet<u32> = HashSet::new();
    let mut pairs: HashSet<(u32, u32)> = HashSet::new();
    let mut lines = Lines::open(&dir.join("user_artists.dat"))?;
    let mut header = true;
    let mut dated: HashSet<u32> = HashSet::new();
    while let Some(line) = lines.next_line()? {
        if std::mem::take(&mut header) || line.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(line);
        let mut f = text.split('\t').map(str::trim);
        let parsed = (|| -> Option<(u32, u32, u64)> {
            let user = f.next()?.parse().ok()?;
            let artist = f.next()?.parse().ok()?;
            let weight = f.next()?.parse().ok()?;
            Some((user, artist, weight))
        })();
        let Some((user, artist, weight)) = parsed else {
            summary.skipped += 1;
            continue;
        };
        if weight == 0 || !pairs.insert((user, artist)) {
            summary.skipped += 1;
            continue;
        }
        let ts = match dates.get(&user) {
            Some(ts) => {
                dated.insert(user);
                ts.as_str()
            }
            None => DEFAULT_TS,
        };
        w.write(&PlayEvent {
            event_id: format!("lfm:play:{user}:{artist}"),
            user_id: format!("lfm:user:{user}"),
            kind: "play",
            item_id: format!("lfm:artist:{artist}"),
            ts,
            count: weight.min(u32::MAX as u64),
        })?;
        users.insert(user);
        items.insert(artist);
        summary.written += 1;
        pb.inc(1);
    }
    pb.finish_and_clear();
    w.finish()?;
    summary.users = users.len() as u64;
    summary.items = items.len() as u64;
    summary.dated_users = dated.len() as u64;
    Ok(summary)
}

/// `userID -> RFC 3339 timestamp` of the user's latest plausible tag date. A missing file
/// gives no dates.
fn user_dates(path: &Path) -> Result<HashMap<u32, String>> {
    let mut latest: HashMap<u32, (u32, u32, u32)> = HashMap::new();
    if !path.is_file() {
        return Ok(HashMap::new());
    }
    let mut lines = Lines::open(path)?;
    let mut header = true;
    while let Some(line) = lines.next_line()? {
        if std::mem::take(&mut header) || line.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(line);
        let f: Vec<&str> = text.split('\t').map(str::trim).collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u32>().ok());
        let (Some(user), Some(day), Some(month), Some(year)) = (num(0), num(3), num(4), num(5)) else {
            continue;
        };
        if !YEARS.contains(&year) || !valid_date(&format!("{year:04}-{month:02}-{day:02}")) {
            continue;
        }
        let d = latest.entry(user).or_insert((year, month, day));
        *d = (*d).max((year, month, day));
    }
    Ok(latest
        .into_iter()
        .map(|(u, (y, m, d))| (u, format!("{y:04}-{m:02}-{d:02}T00:00:00Z")))
        .collect())
}

/// JSON Lines output, gzip-compressed when the path ends in `.gz`.
enum Writer {
    Gz(BufWriter<GzEncoder<File>>),
    Plain(BufWriter<File>),
}

impl Writer {
    fn create(path: &Path) -> Result<Writer> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs_err::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(if path.extension().is_some_and(|e| e == "gz") {
            Writer::Gz(BufWriter::with_capacity(
                1 << 17,
                GzEncoder::new(file, Compression::fast()),
            ))
        } else {
            Writer::Plain(BufWriter::with_capacity(1 << 17, file))
        })
    }

    fn write(&mut self, e: &PlayEvent) -> Result<()> {
        let out: &mut dyn Write = match self {
            Writer::Gz(w) => w,
            Writer::Plain(w) => w,
        };
        serde_json::to_writer(&mut *out, e)?;
        out.write_all(b"\n")?;
        Ok(())
    }

    /// Flush, write the gzip trailer, and sync the file.
    fn finish(self) -> Result<()> {
        let file = match self {
            Writer::Gz(w) => w.into_inner().map_err(|e| e.into_error())?.finish()?,
            Writer::Plain(w) => w.into_inner().map_err(|e| e.into_error())?,
        };
        file.sync_all()?;
        Ok(())
    }
}
