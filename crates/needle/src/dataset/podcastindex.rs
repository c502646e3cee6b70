//! Podcast Index show titles (`podcast_shows.tsv.gz`: feed_url, title, language,
//! categories) to shows.
//!
//! Id `pi:show:<xxh3-64 of the feed URL, hex>` (the feed URL is the only key and can
//! be long). `name` = title with HTML entities decoded; `language` = the ISO 639-2/3
//! code mapped to ISO 639-1 (when it has no two-letter form, e.g. `grc`, the raw code
//! is kept in `extra.language_code`); `tags` = categories split on `|`;
//! `extra.feed_url`. The source has no popularity signal, so none is written.

use super::lang::to_iso639_1;
use super::sink::{Entity, Sink};
use super::text::{clean_name, hash_hex, Lines};
use anyhow::Result;
use std::collections::HashMap;
use std::path::Path;

/// The Podcast Index file in a dataset folder.
pub(crate) const FILE: &str = "podcast_shows.tsv.gz";

/// One row of [`FILE`], as written (trimmed feed URL, raw title).
pub(crate) struct Row<'a> {
    pub url: &'a str,
    pub title: &'a str,
    /// ISO 639 code as the feed declares it (trimmed; may be empty).
    pub language: &'a str,
    /// `|`-separated categories.
    pub categories: &'a str,
}

/// Visit every data row of [`FILE`] in `dir` (the header and empty lines skipped): `f`
/// gets `Some(row)`, or `None` for a row without a feed URL or a title.
pub(crate) fn for_each_row(dir: &Path, mut f: impl FnMut(Option<Row<'_>>) -> Result<()>) -> Result<()> {
    let mut lines = Lines::open(&dir.join(FILE))?;
    let mut header = true;
    while let Some(line) = lines.next_line()? {
        if std::mem::take(&mut header) || line.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(line);
        let mut fields = text.split('\t');
        let row = match (fields.next().map(str::trim), fields.next()) {
            (Some(url), Some(title)) if !url.is_empty() => Some(Row {
                url,
                title,
                language: fields.next().unwrap_or("").trim(),
                categories: fields.next().unwrap_or(""),
            }),
            _ => None,
        };
        f(row)?;
    }
    Ok(())
}

/// Convert the dataset folder `dir` into `sink`.
pub(crate) fn convert(dir: &Path, sink: &mut Sink) -> Result<()> {
    let mut langs: HashMap<String, Option<&'static str>> = HashMap::new();
    for_each_row(dir, |row| {
        let Some(Row {
            url,
            title,
            language: code,
            categories,
        }) = row
        else {
            sink.skip();
            return Ok(());
        };
        let mut e = Entity::new("show", format!("pi:show:{}", hash_hex(url)), clean_name(title));
        let language = match langs.get(code) {
            Some(l) => *l,
            None => *langs.entry(code.to_string()).or_insert_with(|| to_iso639_1(code)),
        };
        e.language = language.map(str::to_string);
        if language.is_none() && !matches!(code, "" | "?" | "mul" | "und" | "zxx") {
            e.extra("language_code", code);
        }
        e.tags = categories
            .split('|')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        e.extra("feed_url", url);
        sink.write(e)?;
        Ok(())
    })
}
