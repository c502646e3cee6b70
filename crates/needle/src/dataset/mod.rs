//! Converters from the public datasets in `shared/data` to Needle's catalog import
//! format (JSON Lines, one entity per line, gzip-compressed when the output path ends
//! in `.gz`).
//!
//! Every converter streams its input, writes referenced entities (artists, shows,
//! audiobooks) before the entities that reference them, prefixes ids with its source
//! (`bb:`, `lfm:`, `pi:`, `apple:`, `lv:`, `cl:`) so that all datasets fit in one
//! catalog, and skips (and counts) input records it cannot use instead of failing.
//!
//! Converting `all` also resolves entities across sources: one artist from Billboard and
//! Last.fm is one entity ([`resolve`]), one show from Apple Podcasts and Podcast Index
//! one show ([`resolve_shows`]); the other sources' ids are kept as `alias_ids`.

mod apple;
mod billboard;
mod changelog;
mod credit_lex;
mod credits;
mod entities;
mod lang;
mod lastfm;
mod lastfm_events;
mod librivox;
mod podcastindex;
mod report;
mod resolve;
mod resolve_shows;
mod sink;
mod text;
mod transcript;

use anyhow::{bail, Result};
pub use lastfm_events::EventsSummary;
use sink::{Hold, Sink};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A dataset that can be converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetName {
    /// `billboard-hot-100`: Billboard Hot 100 tracks and their artists.
    Billboard,
    /// `hetrec2011-lastfm-2k`: Last.fm artists with tags and play counts.
    Lastfm,
    /// `podcastindex-show-titles`: Podcast Index show titles.
    PodcastIndex,
    /// `apple-podcasts`: the 2019 and 2023 Apple Podcasts scrapes, merged.
    ApplePodcasts,
    /// `librivox-catalog-2017`: LibriVox audiobooks and their chapters.
    Librivox,
    /// `changelog-podcast-transcripts`: Changelog Media shows and episode transcripts.
    Changelog,
}

impl DatasetName {
    /// Every dataset, in the order `convert_all` writes them.
    pub const ALL: [DatasetName; 6] = [
        DatasetName::Billboard,
        DatasetName::Lastfm,
        DatasetName::PodcastIndex,
        DatasetName::ApplePodcasts,
        DatasetName::Librivox,
        DatasetName::Changelog,
    ];

    /// The canonical name, which is also the dataset's folder under the data root
    /// (except `apple-podcasts`, which spans two folders).
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Billboard => "billboard-hot-100",
            DatasetName::Lastfm => "hetrec2011-lastfm-2k",
            DatasetName::PodcastIndex => "podcastindex-show-titles",
            DatasetName::ApplePodcasts => "apple-podcasts",
            DatasetName::Librivox => "librivox-catalog-2017",
            DatasetName::Changelog => "changelog-podcast-transcripts",
        }
    }

    /// The short alias accepted by [`FromStr`].
    fn short(self) -> &'static str {
        match self {
            DatasetName::Billboard => "billboard",
            DatasetName::Lastfm => "lastfm",
            DatasetName::PodcastIndex => "podcastindex",
            DatasetName::ApplePodcasts => "apple",
            DatasetName::Librivox => "librivox",
            DatasetName::Changelog => "changelog",
        }
    }

    /// A file that identifies the dataset's folder.
    fn marker(self) -> &'static str {
        match self {
            DatasetName::Billboard => "hot100_songs.tsv.gz",
            DatasetName::Lastfm => "artists.dat",
            DatasetName::PodcastIndex => podcastindex::FILE,
            DatasetName::ApplePodcasts => "",
            DatasetName::Librivox => "librivox_books.jsonl.gz",
            DatasetName::Changelog => "transcripts.jsonl.gz",
        }
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetName {
    type Err = anyhow::Error;

    /// Canonical names (`billboard-hot-100`) and short names (`billboard`), any case.
    /// The two Apple folder names are also accepted for `apple-podcasts`.
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        if s.starts_with("apple-podcasts") {
            return Ok(DatasetName::ApplePodcasts);
        }
        DatasetName::ALL
            .into_iter()
            .find(|d| d.as_str() == s || d.short() == s)
            .ok_or_else(|| {
                let names: Vec<String> = DatasetName::ALL
                    .iter()
                    .map(|d| format!("{} ({})", d.as_str(), d.short()))
                    .collect();
                anyhow::anyhow!("unknown dataset `{s}`; expected one of: {}", names.join(", "))
            })
    }
}

/// What a conversion wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertSummary {
    /// Entities written.
    pub written: u64,
    /// Entities written, by `type`.
    pub by_type: BTreeMap<String, u64>,
    /// Input records (or derived entities) skipped: unparseable lines, empty names,
    /// duplicate ids, references to records that were not written.
    pub skipped: u64,
    /// Entities resolved into another one of another source (kept as its alias ids).
    pub merged: u64,
}

impl fmt::Display for ConvertSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wrote {} entities (", self.written)?;
        for (i, (t, n)) in self.by_type.iter().enumerate() {
            write!(f, "{}{t}: {n}", if i > 0 { ", " } else { "" })?;
        }
        write!(f, "), skipped {}", self.skipped)?;
        if self.merged > 0 {
            write!(f, ", merged {} into entities of other sources", self.merged)?;
        }
        Ok(())
    }
}

/// Convert one dataset. `input` is the dataset folder (e.g.
/// `shared/data/billboard-hot-100`); the data root that contains it is accepted too.
/// For [`DatasetName::ApplePodcasts`], `input` may be the data root (both scrapes,
/// merged) or one of the two `apple-podcasts-*` folders (that scrape only).
/// Writes gzip JSON Lines to `out`, or plain JSON Lines when `out` does not end in
/// `.gz`. With `progress`, an indicatif counter is drawn on stderr.
pub fn convert(name: DatasetName, input: &Path, out: &Path, progress: bool) -> Result<ConvertSummary> {
    let dir = locate(name, input)?;
    let mut sink = Sink::create(out, progress)?;
    run(name, &dir, &mut sink)?;
    sink.finish()
}

/// Name of the listening-events conversion of the Last.fm dataset (not a catalog: its
/// output is for `needle import-events` / `POST /v1/events`).
pub const LASTFM_EVENTS: &str = "lastfm-events";

/// Convert the HetRec Last.fm plays (`user_artists.dat`) to `play` events whose ids
/// match the catalog of [`DatasetName::Lastfm`]. `input` is the dataset folder or the data
/// root that contains it. Writes gzip JSON Lines to `out` (plain when it does not end in
/// `.gz`).
pub fn convert_lastfm_events(input: &Path, out: &Path, progress: bool) -> Result<EventsSummary> {
    let dir = locate(DatasetName::Lastfm, input)?;
    if !dir.join("user_artists.dat").is_file() {
        bail!("{} has no user_artists.dat", dir.display());
    }
    lastfm_events::convert(&dir, out, progress)
}

/// Convert every dataset under `data_root` into one catalog file (about 1.1M entities
/// on the full data). Ids carry a per-source prefix, so they never collide across
/// datasets; artists and shows are resolved across sources (see [`resolve`] and
/// [`resolve_shows`]): Billboard and Last.fm first, then Podcast Index and Apple, then
/// the rest in the order of [`DatasetName::ALL`]. Fails if a dataset folder is missing.
pub fn convert_all(data_root: &Path, out: &Path, progress: bool) -> Result<ConvertSummary> {
    let dirs: BTreeMap<&str, PathBuf> = DatasetName::ALL
        .into_iter()
        .map(|name| Ok((name.as_str(), locate(name, data_root)?)))
        .collect::<Result<_>>()?;
    let dir = |name: DatasetName| dirs[name.as_str()].as_path();
    let mut sink = Sink::create(out, progress)?;
    let artists = convert_artists(dir(DatasetName::Billboard), dir(DatasetName::Lastfm), &mut sink)?;
    sink.stage("podcast shows");
    let shows = resolve_shows::convert_shows(
        dir(DatasetName::PodcastIndex),
        dir(DatasetName::ApplePodcasts),
        &mut sink,
    )?;
    for name in [DatasetName::Librivox, DatasetName::Changelog] {
        run(name, dir(name), &mut sink)?;
    }
    let mut summary = sink.finish()?;
    summary.merged = (artists.artists_before - artists.artists_after + shows.merges.len()) as u64;
    Ok(summary)
}

/// Billboard and Last.fm into `sink`, their artists resolved ([`resolve`]).
fn convert_artists(billboard: &Path, lastfm: &Path, sink: &mut Sink) -> Result<resolve::Resolution> {
    sink.hold(Hold::All);
    run(DatasetName::Billboard, billboard, sink)?;
    run(DatasetName::Lastfm, lastfm, sink)?;
    let (entities, resolution) = resolve::resolve_artists(sink.release());
    sink.stage("resolved artists and tracks");
    for e in entities {
        sink.write(e)?;
    }
    Ok(resolution)
}

/// Print, as Markdown, the artist resolution of the Billboard and Last.fm datasets under
/// `data_root`: counts, the rules' collisions and a random sample (fixed `seed`) of
/// `sample` merges and of as many near-misses to judge by hand
/// (`docs/entity-resolution.md`).
pub fn resolve_report(data_root: &Path, seed: u64, sample: usize, out: &mut dyn std::io::Write) -> Result<()> {
    let billboard = locate(DatasetName::Billboard, data_root)?;
    let lastfm = locate(DatasetName::Lastfm, data_root)?;
    let scratch = std::env::temp_dir().join(format!("needle-resolve-report-{}.jsonl", std::process::id()));
    let mut sink = Sink::create(&scratch, false)?;
    sink.hold(Hold::All);
    run(DatasetName::Billboard, &billboard, &mut sink)?;
    run(DatasetName::Lastfm, &lastfm, &mut sink)?;
    let held = sink.release();
    sink.finish()?;
    fs_err::remove_file(&scratch)?;
    report::write(held, seed, sample, out)
}

fn run(name: DatasetName, dir: &Path, sink: &mut Sink) -> Result<()> {
    sink.stage(name.as_str());
    match name {
        DatasetName::Billboard => billboard::convert(dir, sink),
        DatasetName::Lastfm => lastfm::convert(dir, sink),
        DatasetName::PodcastIndex => podcastindex::convert(dir, sink),
        DatasetName::ApplePodcasts => apple::convert(dir, sink),
        DatasetName::Librivox => librivox::convert(dir, sink),
        DatasetName::Changelog => changelog::convert(dir, sink),
    }
}

/// The folder holding `name`'s files: `input` itself, or `input/<canonical name>`.
fn locate(name: DatasetName, input: &Path) -> Result<PathBuf> {
    if !input.is_dir() {
        bail!(
            "{} is not a directory (expected the {name} dataset folder)",
            input.display()
        );
    }
    if name == DatasetName::ApplePodcasts {
        return Ok(input.to_path_buf()); // apple::convert looks for its files itself
    }
    if input.join(name.marker()).is_file() {
        return Ok(input.to_path_buf());
    }
    let nested = input.join(name.as_str());
    if nested.join(name.marker()).is_file() {
        return Ok(nested);
    }
    bail!(
        "{} does not contain the {name} dataset (no {} there or in {name}/)",
        input.display(),
        name.marker()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_names() {
        for d in DatasetName::ALL {
            assert_eq!(d.as_str().parse::<DatasetName>().unwrap(), d);
            assert_eq!(d.short().parse::<DatasetName>().unwrap(), d);
            assert_eq!(d.to_string().to_uppercase().parse::<DatasetName>().unwrap(), d);
        }
        assert_eq!(
            "apple-podcasts-2019-siddgood".parse::<DatasetName>().unwrap(),
            DatasetName::ApplePodcasts
        );
        assert!("spotify".parse::<DatasetName>().is_err());
    }

    #[test]
    fn summary_display() {
        let mut s = ConvertSummary {
            written: 3,
            skipped: 1,
            ..Default::default()
        };
        s.by_type.insert("artist".into(), 1);
        s.by_type.insert("track".into(), 2);
        assert_eq!(s.to_string(), "wrote 3 entities (artist: 1, track: 2), skipped 1");
    }
}
