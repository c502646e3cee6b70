//! HetRec 2011 Last.fm (`artists.dat`, `tags.dat`, `user_taggedartists.dat`,
//! `user_artists.dat`) to artists.
//!
//! Id `lfm:artist:<artistID>`. `tags` are the artist's ten most applied tags (by number
//! of user tag assignments, ties by tag id); `tags.dat` is ISO-8859-1 and is decoded as
//! such. `popularity` is the artist's total play count over all users (omitted for the
//! few artists nobody played); `extra` has `listeners` (users who played the artist),
//! `url` and `image`.

use super::sink::{Entity, Sink};
use super::text::{clean_name, latin1, Lines};
use anyhow::Result;
use std::collections::HashMap;
use std::path::Path;

/// Tags kept per artist.
const TOP_TAGS: usize = 10;

/// Convert the dataset folder `dir` into `sink`.
pub(crate) fn convert(dir: &Path, sink: &mut Sink) -> Result<()> {
    let tag_names = read_tags(&dir.join("tags.dat"), sink)?;

    let mut tag_counts: HashMap<u32, HashMap<u32, u32>> = HashMap::new();
    for_rows(&dir.join("user_taggedartists.dat"), sink, |f| {
        let artist = f.get(1)?.trim().parse().ok()?;
        let tag = f.get(2)?.trim().parse().ok()?;
        *tag_counts.entry(artist).or_default().entry(tag).or_insert(0) += 1;
        Some(())
    })?;

    let mut plays: HashMap<u32, (u64, u32)> = HashMap::new();
    for_rows(&dir.join("user_artists.dat"), sink, |f| {
        let artist = f.get(1)?.trim().parse().ok()?;
        let weight: u64 = f.get(2)?.trim().parse().ok()?;
        let p = plays.entry(artist).or_insert((0, 0));
        p.0 += weight;
        p.1 += 1;
        Some(())
    })?;

    let mut artists: Vec<Entity> = Vec::new();
    for_rows(&dir.join("artists.dat"), sink, |f| {
        let id: u32 = f.first()?.trim().parse().ok()?;
        let name = clean_name(f.get(1)?);
        let mut e = Entity::new("artist", format!("lfm:artist:{id}"), name);
        if let Some(counts) = tag_counts.get(&id) {
            let mut top: Vec<(u32, u32)> = counts.iter().map(|(t, n)| (*t, *n)).collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            e.tags = top
                .into_iter()
                .filter_map(|(t, _)| tag_names.get(&t).cloned())
                .take(TOP_TAGS)
                .collect();
        }
        if let Some((total, listeners)) = plays.get(&id) {
            e.popularity = Some(*total as f64);
            e.extra("listeners", *listeners);
        }
        e.extra("url", f.get(2).map(|s| s.trim()).filter(|s| !s.is_empty()));
        e.extra("image", f.get(3).map(|s| s.trim()).filter(|s| !s.is_empty()));
        artists.push(e);
        Some(())
    })?;
    for e in artists {
        sink.write(e)?;
    }
    Ok(())
}

/// `tagID -> tagValue`, decoding ISO-8859-1.
fn read_tags(path: &Path, sink: &mut Sink) -> Result<HashMap<u32, String>> {
    let mut out = HashMap::new();
    let mut lines = Lines::open(path)?;
    let mut header = true;
    while let Some(line) = lines.next_line()? {
        if std::mem::take(&mut header) || line.is_empty() {
            continue;
        }
        let text = latin1(line);
        let mut f = text.splitn(2, '\t');
        match (
            f.next().and_then(|id| id.trim().parse::<u32>().ok()),
            f.next().map(clean_name),
        ) {
            (Some(id), Some(tag)) if !tag.is_empty() => {
                out.insert(id, tag);
            }
            _ => sink.skip(),
        }
    }
    Ok(out)
}

/// Call `row` with the tab-separated fields of each UTF-8 data line after the header;
/// a line for which it returns `None` is counted as skipped.
fn for_rows(path: &Path, sink: &mut Sink, mut row: impl FnMut(&[&str]) -> Option<()>) -> Result<()> {
    let mut lines = Lines::open(path)?;
    let mut header = true;
    while let Some(line) = lines.next_line()? {
        if std::mem::take(&mut header) || line.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(line);
        let fields: Vec<&str> = text.split('\t').collect();
        if row(&fields).is_none() {
            sink.skip();
        }
    }
    Ok(())
}
