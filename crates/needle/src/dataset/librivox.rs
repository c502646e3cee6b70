//! LibriVox 2017 catalog (`librivox_books.jsonl.gz`, `librivox_sections.tsv.gz`) to
//! audiobooks and chapters.
//!
//! * Audiobook `lv:book:<id>`: `description` from `description_html` (tags stripped;
//!   the pre-stripped `description` as fallback), `authors` as "First Last" (just the
//!   last name when there is no first name, e.g. "Homer"), `narrators` = distinct
//!   reader names over its sections in first-read order, `language` from the English
//!   language name,
//!   `tags` = genres (LibriVox's leading `*` marker removed), `popularity` =
//!   `archive_org_downloads`, `release_date` = `copyright_year` when it is a plausible
//!   four-digit year (1000..=2017; `0` means unknown). `extra` has the LibriVox,
//!   archive.org and source-text URLs, `translators`, `num_sections`,
//!   `totaltime_secs` and `publicdate`.
//! * Chapter `lv:ch:<section_id>`: `audiobook_id`, `duration_ms` from `playtime_secs`,
//!   `language`, and `extra.readers` / `extra.section_number` (chapters have no
//!   narrator field). An untitled section is named "Section <n>" rather than dropped.
//!   Section titles often are HTML (`<a href=...>Book 01</a>`, `<i>...</i>`, 737 of
//!   them): like every name, they lose the tags of HTML elements and keep their text
//!   ([`clean_name`]).
//!   Sections of books that were not written are skipped.

use super::lang::to_iso639_1;
use super::sink::{Entity, Sink};
use super::text::{clean_name, non_empty, strip_html, Lines};
use anyhow::Result;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Last year a copyright year can plausibly be (the snapshot is from 2017).
const LAST_YEAR: u32 = 2017;

#[derive(Deserialize)]
struct Book {
    id: Value,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    description_html: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    copyright_year: Option<Value>,
    #[serde(default)]
    num_sections: Option<Value>,
    #[serde(default)]
    totaltime_secs: Option<Value>,
    #[serde(default)]
    authors: Vec<Person>,
    #[serde(default)]
    genres: Vec<Value>,
    #[serde(default)]
    translators: Vec<Person>,
    #[serde(default)]
    url_librivox: Option<String>,
    #[serde(default)]
    url_iarchive: Option<String>,
    #[serde(default)]
    url_text_source: Option<String>,
    #[serde(default)]
    archive_org_downloads: Option<Value>,
    #[serde(default)]
    publicdate: Option<String>,
}

#[derive(Deserialize)]
struct Person {
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
}

impl Person {
    fn full_name(&self) -> String {
        let first = clean_name(self.first_name.as_deref().unwrap_or(""));
        let last = clean_name(self.last_name.as_deref().unwrap_or(""));
        clean_name(&format!("{first} {last}"))
    }
}

/// Convert the dataset folder `dir` into `sink`.
pub(crate) fn convert(dir: &Path, sink: &mut Sink) -> Result<()> {
    let sections = dir.join("librivox_sections.tsv.gz");
    let mut langs: HashMap<String, Option<&'static str>> = HashMap::new();
    // Pass 1: readers per book, for the audiobooks' narrators.
    let mut readers: HashMap<String, Vec<String>> = HashMap::new();
    for_sections(&sections, |f| {
        let list = readers.entry(f[0].trim().to_string()).or_default();
        for r in f[7].split('|').map(clean_name).filter(|r| !r.is_empty()) {
            if !list.contains(&r) {
                list.push(r);
            }
        }
        Ok(true)
    })?;

    let mut written: HashSet<String> = HashSet::new();
    let mut lines = Lines::open(&dir.join("librivox_books.jsonl.gz"))?;
    while let Some(line) = lines.next_line()? {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(b) = serde_json::from_slice::<Book>(line) else {
            sink.skip();
            continue;
        };
        let Some(id) = scalar(&b.id).filter(|s| !s.is_empty()) else {
            sink.skip();
            continue;
        };
        let mut e = Entity::new(
            "audiobook",
            format!("lv:book:{id}"),
            clean_name(b.title.as_deref().unwrap_or("")),
        );
        e.authors = b.authors.iter().map(Person::full_name).collect();
        e.narrators = readers.remove(&id).unwrap_or_default();
        // The HTML has cleaner spacing than the pre-stripped text ("Monte-Cristo )").
        e.description = b
            .description_html
            .as_deref()
            .map(strip_html)
            .and_then(non_empty)
            .or_else(|| b.description.as_deref().map(clean_name).and_then(non_empty));
        e.language = b
            .language
            .as_deref()
            .and_then(|l| lang(&mut langs, l))
            .map(str::to_string);
        e.tags = b
            .genres
            .iter()
            .filter_map(scalar)
            .map(|g| g.trim_start_matches('*').to_string())
            .collect();
        e.popularity = b
            .archive_org_downloads
            .as_ref()
            .and_then(scalar)
            .and_then(|d| d.parse().ok());
        e.release_date = b.copyright_year.as_ref().and_then(scalar).filter(|y| plausible_year(y));
        let translators: Vec<String> = b
            .translators
            .iter()
            .map(Person::full_name)
            .filter(|t| !t.is_empty() && t != "Unknown")
            .collect();
        if !translators.is_empty() {
            e.extra("translators", translators);
        }
        for (key, url) in [
            ("url_librivox", b.url_librivox),
            ("url_iarchive", b.url_iarchive),
            ("url_text_source", b.url_text_source),
        ] {
            e.extra(key, url.map(|u| u.trim().to_string()).filter(|u| !u.is_empty()));
        }
        e.extra(
            "num_sections",
            b.num_sections
                .as_ref()
                .and_then(scalar)
                .and_then(|n| n.parse::<u64>().ok()),
        );
        e.extra(
            "totaltime_secs",
            b.totaltime_secs
                .as_ref()
                .and_then(scalar)
                .and_then(|n| n.parse::<u64>().ok()),
        );
        e.extra("publicdate", b.publicdate.filter(|d| !d.trim().is_empty()));
        if sink.write(e)? {
            written.insert(id);
        }
    }

    // Pass 2: chapters, after all audiobooks.
    let bad = for_sections(&sections, |f| {
        let book = f[0].trim();
        let section = f[1].trim();
        if section.is_empty() || !written.contains(book) {
            return Ok(false);
        }
        let number = f[2].trim();
        let name = non_empty(clean_name(&f[3])).unwrap_or_else(|| format!("Section {number}"));
        let mut e = Entity::new("chapter", format!("lv:ch:{section}"), name);
        e.audiobook_id = Some(format!("lv:book:{book}"));
        e.duration_ms = f[4].trim().parse::<u64>().ok().and_then(|s| s.checked_mul(1000));
        e.language = lang(&mut langs, &f[5]).map(str::to_string);
        let readers: Vec<String> = f[7].split('|').map(clean_name).filter(|r| !r.is_empty()).collect();
        if !readers.is_empty() {
            e.extra("readers", readers);
        }
        e.extra("section_number", number.parse::<u64>().ok());
        sink.write(e)?;
        Ok(true)
    })?;
    for _ in 0..bad {
        sink.skip();
    }
    Ok(())
}

/// Call `row` with the fields of each section line that has all 8; returns the number
/// of lines that were short or for which `row` returned `false`.
fn for_sections(path: &Path, mut row: impl FnMut(&[String]) -> Result<bool>) -> Result<u64> {
    let mut lines = Lines::open(path)?;
    let mut header = true;
    let mut bad = 0;
    while let Some(line) = lines.next_line()? {
        if std::mem::take(&mut header) || line.is_empty() {
            continue;
        }
        let f = super::text::tsv_fields(line);
        if f.len() < 8 || !row(&f)? {
            bad += 1;
        }
    }
    Ok(bad)
}

fn lang(cache: &mut HashMap<String, Option<&'static str>>, name: &str) -> Option<&'static str> {
    if let Some(l) = cache.get(name) {
        return *l;
    }
    *cache.entry(name.to_string()).or_insert_with(|| to_iso639_1(name))
}

/// A JSON string or number as a trimmed string.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn plausible_year(y: &str) -> bool {
    y.len() == 4 && y.parse::<u32>().is_ok_and(|y| (1000..=LAST_YEAR).contains(&y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years() {
        assert!(plausible_year("1844"));
        assert!(!plausible_year("0"));
        assert!(!plausible_year("0800"));
        assert!(!plausible_year("2030"));
        assert!(!plausible_year("18xx"));
    }

    #[test]
    fn names() {
        let p = |f: &str, l: &str| {
            Person {
                first_name: Some(f.into()),
                last_name: Some(l.into()),
            }
            .full_name()
        };
        assert_eq!(p("Alexandre", "Dumas"), "Alexandre Dumas");
        assert_eq!(p("", "Homer"), "Homer");
        assert_eq!(p(" ", " "), "");
    }
}
