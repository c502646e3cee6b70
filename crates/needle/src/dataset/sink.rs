//! The output side of a conversion: the import-format entity, and a writer that
//! sanitises each entity against the format's rules, drops duplicates, counts, and
//! shows progress.

use super::text::{collapse_ws, truncate_bytes};
use super::ConvertSummary;
use anyhow::{Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use fs_err::File;
use indicatif::{ProgressBar, ProgressStyle};
use needle_core::validate::{
    MAX_DESCRIPTION_BYTES, MAX_EXTRA_BYTES, MAX_NAMES, MAX_TAGS, MAX_TAG_CHARS, MAX_TRANSCRIPT_BYTES,
};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

/// Longest id the import format accepts, in bytes.
const MAX_ID_BYTES: usize = 256;
/// Longest name the importer accepts, in bytes.
const MAX_NAME_BYTES: usize = 1024;
/// Most entries in one list field.
const MAX_LIST_LEN: usize = 10_000;

/// One line of the import format. Empty and `None` fields are not written.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Entity {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub popularity: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alias_ids: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub markets: Vec<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artist_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub narrators: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audiobook_id: Option<String>,
}

impl Entity {
    /// A new entity with the common required fields.
    pub(crate) fn new(kind: &'static str, id: String, name: String) -> Entity {
        Entity {
            id,
            kind,
            name,
            ..Entity::default()
        }
    }

    /// Set `extra[key]` (anything serialisable; nulls are not stored).
    pub(crate) fn extra(&mut self, key: &str, value: impl Into<Value>) {
        let v = value.into();
        if !v.is_null() {
            self.extra.insert(key.to_string(), v);
        }
    }
}

enum Out {
    Gz(GzEncoder<File>),
    Plain(File),
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Out::Gz(w) => w.write(buf),
            Out::Plain(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::Gz(w) => w.flush(),
            Out::Plain(w) => w.flush(),
        }
    }
}

/// Writes entities as JSON Lines, gzip-compressed when the path ends in `.gz`.
pub(crate) struct Sink {
    out: BufWriter<Out>,
    summary: ConvertSummary,
    /// 64-bit hashes of the ids written (a false collision among ~1M ids has a
    /// probability of about 1e-7; it would drop one entity, counted as skipped).
    seen: HashSet<u64>,
    progress: Option<ProgressBar>,
    /// Entities kept back instead of written (see [`Sink::hold`]).
    held: Vec<Entity>,
    hold: Hold,
}

/// Which entities [`Sink::write`] keeps back for a later pass (entity resolution).
#[derive(Debug, Default)]
pub(crate) enum Hold {
    /// None: everything is written.
    #[default]
    Nothing,
    /// Every entity.
    All,
    /// The entities with these ids.
    Ids(HashSet<String>),
}

impl Sink {
    /// Create (truncate) `path`.
    pub(crate) fn create(path: &Path, progress: bool) -> Result<Sink> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs_err::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let out = if path.extension().is_some_and(|e| e == "gz") {
            Out::Gz(GzEncoder::new(file, Compression::fast()))
        } else {
            Out::Plain(file)
        };
        let progress = progress.then(|| {
            let pb = ProgressBar::new_spinner();
            pb.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}: {human_pos} entities ({per_sec})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.enable_steady_tick(Duration::from_millis(120));
            pb
        });
        Ok(Sink {
            out: BufWriter::with_capacity(1 << 17, out),
            summary: ConvertSummary::default(),
            seen: HashSet::new(),
            progress,
            held: Vec::new(),
            hold: Hold::Nothing,
        })
    }

    /// From now on keep back, unwritten and unchecked, the entities `hold` selects, until
    /// [`Sink::release`]. Held entities are written (checked, sanitised) only when they
    /// are passed to [`Sink::write`] again after the release.
    pub(crate) fn hold(&mut self, hold: Hold) {
        self.hold = hold;
    }

    /// Stop holding; the entities held, in the order they came.
    pub(crate) fn release(&mut self) -> Vec<Entity> {
        self.hold = Hold::Nothing;
        std::mem::take(&mut self.held)
    }

    /// Name the stage shown next to the progress counter.
    pub(crate) fn stage(&self, label: &str) {
        if let Some(pb) = &self.progress {
            pb.set_message(label.to_string());
        }
    }

    /// Count one input record that could not be converted.
    pub(crate) fn skip(&mut self) {
        self.summary.skipped += 1;
    }

    /// Sanitise and write `e`. Returns `false` (and counts it as skipped) when it cannot
    /// be written: an empty name, an invalid id or an id already written.
    /// A held entity (see [`Sink::hold`]) counts as written (`true`).
    pub(crate) fn write(&mut self, mut e: Entity) -> Result<bool> {
        let held = match &self.hold {
            Hold::Nothing => false,
            Hold::All => true,
            Hold::Ids(ids) => ids.contains(&e.id),
        };
        if held {
            self.held.push(e);
            return Ok(true);
        }
        e.name = collapse_ws(&e.name);
        truncate_bytes(&mut e.name, MAX_NAME_BYTES);
        e.name.truncate(e.name.trim_end().len());
        let id_ok = !e.id.trim().is_empty() && e.id.len() <= MAX_ID_BYTES && !e.id.chars().any(char::is_control);
        if e.name.is_empty() || !id_ok || !self.seen.insert(xxhash_rust::xxh3::xxh3_64(e.id.as_bytes())) {
            self.summary.skipped += 1;
            return Ok(false);
        }
        sanitize(&mut e);
        serde_json::to_writer(&mut self.out, &e)?;
        self.out.write_all(b"\n")?;
        self.summary.written += 1;
        match self.summary.by_type.get_mut(e.kind) {
            Some(n) => *n += 1,
            None => {
                self.summary.by_type.insert(e.kind.to_string(), 1);
            }
        }
        if let Some(pb) = &self.progress {
            pb.inc(1);
        }
        Ok(true)
    }

    /// Flush and close the output, returning the counts.
    pub(crate) fn finish(self) -> Result<ConvertSummary> {
        if let Some(pb) = &self.progress {
            pb.finish_with_message("done");
        }
        let out = self.out.into_inner().map_err(|e| e.into_error())?;
        match out {
            Out::Gz(gz) => gz.finish()?.sync_all()?,
            Out::Plain(mut f) => {
                f.flush()?;
                f.sync_all()?
            }
        }
        Ok(self.summary)
    }
}

/// Enforce the import format's rules on the optional fields, dropping what does not fit:
/// tags longer than the import's limit (sentences, not tags) are dropped, long texts
/// cut to their limits, an oversized `extra` left out.
fn sanitize(e: &mut Entity) {
    if e.popularity.is_some_and(|p| !p.is_finite() || p < 0.0) {
        e.popularity = None;
    }
    if e.release_date.as_deref().is_some_and(|d| !valid_date(d)) {
        e.release_date = None;
    }
    if e.language.as_deref().is_some_and(|l| l.is_empty() || l.len() > 35) {
        e.language = None;
    }
    for field in [&mut e.description, &mut e.publisher, &mut e.transcript] {
        if field.as_deref().is_some_and(|s| s.trim().is_empty()) {
            *field = None;
        }
    }
    for list in [&mut e.tags, &mut e.aliases, &mut e.authors, &mut e.narrators] {
        clean_list(list);
    }
    for list in [&mut e.aliases, &mut e.authors, &mut e.narrators] {
        list.truncate(MAX_NAMES);
    }
    if let Some(publisher) = &mut e.publisher {
        truncate_bytes(publisher, MAX_NAME_BYTES);
    }
    e.tags.retain(|t| t.chars().count() <= MAX_TAG_CHARS);
    e.tags.truncate(MAX_TAGS);
    for (field, max) in [
        (&mut e.description, MAX_DESCRIPTION_BYTES),
        (&mut e.transcript, MAX_TRANSCRIPT_BYTES),
    ] {
        if let Some(text) = field {
            truncate_bytes(text, max);
        }
    }
    if serde_json::to_vec(&e.extra).map_or(true, |json| json.len() > MAX_EXTRA_BYTES) {
        e.extra.clear();
    }
    let name = e.name.clone();
    e.aliases.retain(|a| *a != name);
    e.markets
        .retain(|m| m.len() == 2 && m.bytes().all(|b| b.is_ascii_uppercase()));
    for ids in [&mut e.artist_ids, &mut e.alias_ids] {
        ids.retain(|id| !id.is_empty() && id.len() <= MAX_ID_BYTES && !id.chars().any(char::is_control));
        ids.truncate(MAX_LIST_LEN);
    }
    let id = e.id.clone();
    e.alias_ids.retain(|a| *a != id);
}

/// Collapse whitespace, drop empty entries and duplicates (case-insensitively), cap length.
fn clean_list(list: &mut Vec<String>) {
    if list.is_empty() {
        return;
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(list.len());
    for item in list.drain(..) {
        let mut item = collapse_ws(&item);
        truncate_bytes(&mut item, MAX_NAME_BYTES);
        item.truncate(item.trim_end().len());
        if !item.is_empty() && seen.insert(item.to_lowercase()) {
            out.push(item);
        }
    }
    out.truncate(MAX_LIST_LEN);
    *list = out;
}

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD` with a real month and day.
pub(crate) fn valid_date(d: &str) -> bool {
    let parts: Vec<&str> = d.split('-').collect();
    let num = |s: &str, len: usize| -> Option<u32> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let Some(year) = parts.first().and_then(|y| num(y, 4)) else {
        return false;
    };
    if parts.len() > 3 {
        return false;
    }
    let Some(m) = parts.get(1) else { return true };
    let Some(month) = num(m, 2).filter(|m| (1..=12).contains(m)) else {
        return false;
    };
    let Some(dd) = parts.get(2) else { return true };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let max = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    num(dd, 2).is_some_and(|d| (1..=max).contains(&d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        for ok in ["1958", "1958-08", "1958-08-04", "2000-02-29"] {
            assert!(valid_date(ok), "{ok}");
        }
        for bad in [
            "",
            "0",
            "58",
            "1958-13",
            "1958-8-4",
            "1900-02-29",
            "1958-08-04T00",
            "abcd",
        ] {
            assert!(!valid_date(bad), "{bad}");
        }
    }

    #[test]
    fn writes_sanitised_lines_and_counts() {
        let dir = std::env::temp_dir().join(format!("needle-sink-{}", std::process::id()));
        let path = dir.join("out.jsonl");
        let mut sink = Sink::create(&path, false).unwrap();
        let mut e = Entity::new("artist", "a:1".into(), "  Some\n Name ".into());
        e.popularity = Some(f64::NAN);
        e.tags = vec!["rock".into(), " Rock ".into(), "".into(), "pop".into()];
        e.release_date = Some("1999-02-30".into());
        e.aliases = vec!["Some Name".into(), "SN".into()];
        assert!(sink.write(e).unwrap());
        assert!(!sink.write(Entity::new("artist", "a:1".into(), "dup".into())).unwrap());
        assert!(!sink.write(Entity::new("artist", "a:2".into(), " \t ".into())).unwrap());
        assert!(!sink
            .write(Entity::new("artist", "x".repeat(300), "long id".into()))
            .unwrap());
        let summary = sink.finish().unwrap();
        assert_eq!((summary.written, summary.skipped), (1, 3));
        let text = fs_err::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\"id\":\"a:1\",\"type\":\"artist\",\"name\":\"Some Name\",\"tags\":[\"rock\",\"pop\"],\"aliases\":[\"SN\"]}\n"
        );
        fs_err::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn what_it_writes_fits_the_import_limits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let mut sink = Sink::create(&path, false).unwrap();
        let mut e = Entity::new("episode", "e:1".into(), "Long".into());
        e.tags = (0..80).map(|i| format!("tag {i}")).collect();
        e.tags.insert(3, "a sentence of a tag ".repeat(20));
        e.description = Some("é".repeat(MAX_DESCRIPTION_BYTES));
        e.transcript = Some("word ".repeat(MAX_TRANSCRIPT_BYTES));
        e.extra("big", "x".repeat(MAX_EXTRA_BYTES));
        assert!(sink.write(e).unwrap());
        assert!(!sink
            .write(Entity::new("episode", "  ".into(), "Blank id".into()))
            .unwrap());
        sink.finish().unwrap();
        let text = fs_err::read_to_string(&path).unwrap();
        let value: Value = serde_json::from_str(text.trim_end()).unwrap();
        let record = needle_core::validate::parse_record(&value);
        let Ok(needle_core::Record::Upsert(entity)) = record else {
            panic!("the sink wrote a record the import rejects: {record:?}")
        };
        assert_eq!(entity.tags.len(), MAX_TAGS);
        assert_eq!(
            &entity.tags[2..5],
            ["tag 2", "tag 3", "tag 4"],
            "the sentence is dropped, not cut"
        );
        assert!(entity.description.is_some_and(|d| d.len() <= MAX_DESCRIPTION_BYTES));
        assert!(entity.transcript.is_some_and(|t| t.len() == MAX_TRANSCRIPT_BYTES));
        assert_eq!(entity.extra, None);
    }
}
