//! Billboard Hot 100 (`hot100_songs.tsv.gz` + `hot100_weekly_entries.tsv.gz`) to
//! artists and tracks.
//!
//! * Tracks are the songs file's (song, credit) rows. Rows whose title and credit are
//!   the same after normalisation (case, punctuation, `&`/`and`) are one track: their
//!   chart runs are combined and the other spellings become `aliases`.
//!   Id: `bb:track:<credit slug>:<title slug>`.
//! * Track popularity is the chart points of its weekly entries: the sum over every
//!   charted week of `101 - position` (a number-one week scores 100, a week at 100
//!   scores 1). `release_date` is the first chart date; `extra` has the credited
//!   string (`credit`), `peak_position`, `weeks_charted` and `last_chart_date`.
//! * Artists come from splitting credits (see [`super::credits`]); id
//!   `bb:artist:<name slug>`, display name = the most used spelling, popularity = the
//!   sum of their tracks' popularity. Artists are written before tracks.

use super::credits::{artist_key, KnownArtists};
use super::sink::{Entity, Sink};
use super::text::{clean_name, slugify, tsv_fields, Lines};
use anyhow::Result;
use std::collections::HashMap;
use std::path::Path;

struct Track {
    id: String,
    title: String,
    credit: String,
    aliases: Vec<String>,
    first: String,
    last: String,
    peak: Option<u32>,
    weeks: u32,
    points: u64,
}

#[derive(Default)]
struct Artist {
    spellings: HashMap<String, u32>,
    popularity: u64,
    tracks: u32,
    first_seen: usize,
}

/// Convert the dataset folder `dir` into `sink`.
pub(crate) fn convert(dir: &Path, sink: &mut Sink) -> Result<()> {
    let mut tracks: Vec<Track> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut by_pair: HashMap<(String, String), usize> = HashMap::new();
    let mut lines = Lines::open(&dir.join("hot100_songs.tsv.gz"))?;
    let mut header = true;
    while let Some(line) = lines.next_line()? {
        if std::mem::take(&mut header) || line.is_empty() {
            continue;
        }
        let f = tsv_fields(line);
        let (title, credit) = match f.as_slice() {
            [song, artist, ..] if f.len() >= 6 => (clean_name(song), clean_name(artist)),
            _ => {
                sink.skip();
                continue;
            }
        };
        if title.is_empty() || credit.is_empty() {
            sink.skip();
            continue;
        }
        let id = format!("bb:track:{}:{}", artist_key(&credit), slugify(&title, 80));
        let weeks: u32 = f[5].trim().parse().unwrap_or(0);
        let peak: Option<u32> = f[4].trim().parse().ok().filter(|p| (1..=100).contains(p));
        let idx = *by_id.entry(id.clone()).or_insert_with(|| {
            tracks.push(Track {
                id,
                title: title.clone(),
                credit: credit.clone(),
                aliases: Vec::new(),
                first: f[2].trim().to_string(),
                last: f[3].trim().to_string(),
                peak: None,
                weeks: 0,
                points: 0,
            });
            tracks.len() - 1
        });
        let t = &mut tracks[idx];
        if t.weeks < weeks {
            // The best-charting spelling names the track; the others become aliases.
            if t.title != title {
                t.aliases.push(std::mem::replace(&mut t.title, title.clone()));
            }
            t.credit = credit.clone();
        } else if t.title != title {
            t.aliases.push(title.clone());
        }
        t.weeks += weeks;
        t.peak = match (t.peak, peak) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let (first, last) = (f[2].trim(), f[3].trim());
        if !first.is_empty() && (t.first.is_empty() || first < t.first.as_str()) {
            t.first = first.to_string();
        }
        if last > t.last.as_str() {
            t.last = last.to_string();
        }
        by_pair.insert((f[0].clone(), f[1].clone()), idx);
    }
    add_chart_points(dir, &mut tracks, &by_pair, sink)?;

    let known = KnownArtists::from_credits(tracks.iter().map(|t| t.credit.as_str()));
    let mut artists: HashMap<String, Artist> = HashMap::new();
    let mut track_artists: Vec<Vec<String>> = Vec::with_capacity(tracks.len());
    for t in &tracks {
        let mut ids = Vec::new();
        for name in known.split(&t.credit) {
            let key = artist_key(&name);
            if key.is_empty() {
                continue;
            }
            let next = artists.len();
            let a = artists.entry(key.clone()).or_insert_with(|| Artist {
                first_seen: next,
                ..Artist::default()
            });
            *a.spellings.entry(name).or_insert(0) += 1;
            a.popularity += t.points;
            a.tracks += 1;
            ids.push(format!("bb:artist:{key}"));
        }
        track_artists.push(ids);
    }

    let mut artists: Vec<(String, Artist)> = artists.into_iter().collect();
    artists.sort_by_key(|(_, a)| a.first_seen);
    for (key, a) in artists {
        let mut spellings: Vec<(String, u32)> = a.spellings.into_iter().collect();
        spellings.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
        let mut e = Entity::new("artist", format!("bb:artist:{key}"), spellings[0].0.clone());
        e.popularity = Some(a.popularity as f64);
        e.aliases = spellings.into_iter().skip(1).map(|s| s.0).collect();
        e.extra("chart_tracks", a.tracks);
        sink.write(e)?;
    }
    for (t, artist_ids) in tracks.into_iter().zip(track_artists) {
        let mut e = Entity::new("track", t.id, t.title);
        e.artist_ids = artist_ids;
        e.aliases = t.aliases;
        e.popularity = Some(t.points as f64);
        e.release_date = Some(t.first);
        e.extra("credit", t.credit);
        e.extra("peak_position", t.peak);
        e.extra("weeks_charted", t.weeks);
        e.extra("last_chart_date", Some(t.last).filter(|d| !d.is_empty()));
        sink.write(e)?;
    }
    Ok(())
}

/// Sum `101 - position` over the weekly entries of each track.
fn add_chart_points(
    dir: &Path,
    tracks: &mut [Track],
    by_pair: &HashMap<(String, String), usize>,
    sink: &mut Sink,
) -> Result<()> {
    let mut lines = Lines::open(&dir.join("hot100_weekly_entries.tsv.gz"))?;
    let mut header = true;
    let mut key = (String::new(), String::new());
    while let Some(line) = lines.next_line()? {
        if std::mem::take(&mut header) || line.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(line);
        let f: Vec<&str> = text.split('\t').collect();
        let (Some(pos), Some(song), Some(artist)) = (f.get(1), f.get(2), f.get(3)) else {
            sink.skip();
            continue;
        };
        let Some(pos) = pos.trim().parse::<u64>().ok().filter(|p| (1..=100).contains(p)) else {
            sink.skip();
            continue;
        };
        key.0.clear();
        key.0.push_str(song);
        key.1.clear();
        key.1.push_str(artist);
        match by_pair.get(&key) {
            Some(&idx) => tracks[idx].points += 101 - pos,
            None => sink.skip(),
        }
    }
    Ok(())
}
