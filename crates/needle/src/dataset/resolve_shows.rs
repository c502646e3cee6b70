//! Cross-source resolution of podcast shows: the same show from the 2019 and the 2023
//! Apple scrapes under two iTunes ids, and from Apple Podcasts and Podcast Index.
//!
//! Titles are compared by their strict key ([`strict_key`]: folded words run together).
//!
//! 1. **Apple with Apple.** Two Apple shows are one when their titles and their
//!    publishers (`producer`) have the same key ("Critical Role" by "geekandsundry" and
//!    by "Geek & Sundry"). A shared title alone is not enough: "Science Vs" is a Gimlet
//!    show and an ABC one. The survivor is the more popular (more reviews).
//! 2. **Apple with Podcast Index.** An Apple show and a Podcast Index show are one when
//!    the title key belongs to exactly one show on each side (854,807 Podcast Index
//!    feeds hold many "The Daily"s; none of those merges) and there is evidence beyond
//!    the title: a word of the Apple genre among the Podcast Index categories
//!    ("Comedy" / `comedy`, "TV & Film" / `film|tv`), or the title's or the publisher's
//!    key (5 characters or more) inside the feed URL (`communitycatspodcast.libsyn.com`).
//!    The Apple id survives (it has the description, publisher and popularity); the
//!    Podcast Index id becomes an alias id, its feed URL `extra.feed_url`, its language
//!    and categories fill what the Apple show lacks.

use super::resolve::strict_key;
use super::sink::{Entity, Hold, Sink};
use super::text::{clean_name, hash_hex};
use super::{apple, podcastindex};
use anyhow::Result;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Shortest key that counts as found in a feed URL.
const MIN_URL_KEY: usize = 5;

/// Keys of placeholder titles and publishers ("NA": 37 Apple 2019 shows have it for both),
/// which are no evidence of anything.
const PLACEHOLDERS: &[&str] = &["na", "nan", "null", "none", "unknown", "untitled", "tbd"];

/// The key of a title or publisher, `None` when it is empty or a placeholder.
fn key(s: &str) -> Option<String> {
    Some(strict_key(s)).filter(|k| !k.is_empty() && !PLACEHOLDERS.contains(&k.as_str()))
}

/// What [`convert_shows`] merged.
#[derive(Debug, Default)]
pub(crate) struct ShowResolution {
    /// (survivor id, absorbed id, rule) for every merge.
    pub merges: Vec<(String, String, &'static str)>,
    /// Apple shows whose title key one Podcast Index show has, without evidence.
    pub no_evidence: u64,
    /// Apple shows whose title key several Podcast Index shows have.
    pub ambiguous: u64,
}

/// Convert the Podcast Index and Apple datasets into `sink`, resolved (the Podcast
/// Index shows first, then the Apple ones).
pub(crate) fn convert_shows(pi_dir: &Path, apple_dir: &Path, sink: &mut Sink) -> Result<ShowResolution> {
    let mut res = ShowResolution::default();
    sink.hold(Hold::All);
    apple::convert(apple_dir, sink)?;
    let mut shows = merge_apple(sink.release(), &mut res);

    // Titles unique among the Apple shows, and what Podcast Index has under them.
    let mut by_title: HashMap<String, Option<usize>> = HashMap::new();
    for (i, s) in shows.iter().enumerate() {
        if let Some(key) = key(&s.name) {
            by_title.entry(key).and_modify(|v| *v = None).or_insert(Some(i));
        }
    }
    let mut found: HashMap<usize, Vec<(String, String)>> = HashMap::new();
    podcastindex::for_each_row(pi_dir, |row| {
        if let Some(row) = row {
            if let Some(&Some(i)) = key(&clean_name(row.title)).and_then(|k| by_title.get(&k)) {
                found
                    .entry(i)
                    .or_default()
                    .push((row.url.to_string(), row.categories.to_string()));
            }
        }
        Ok(())
    })?;
    let mut pi_to_apple: HashMap<String, usize> = HashMap::new();
    for (i, feeds) in found {
        match feeds.as_slice() {
            [(url, categories)] if evidence(&shows[i], url, categories) => {
                pi_to_apple.insert(format!("pi:show:{}", hash_hex(url)), i);
            }
            [_] => res.no_evidence += 1,
            _ => res.ambiguous += 1,
        }
    }

    sink.hold(Hold::Ids(pi_to_apple.keys().cloned().collect()));
    podcastindex::convert(pi_dir, sink)?;
    for pi in sink.release() {
        let Some(i) = pi_to_apple.remove(&pi.id) else { continue };
        res.merges
            .push((shows[i].id.clone(), pi.id.clone(), "apple-podcastindex"));
        absorb(&mut shows[i], pi);
    }
    for show in shows {
        sink.write(show)?;
    }
    Ok(res)
}

/// Rule 1: Apple shows with the same title and publisher keys become one.
fn merge_apple(shows: Vec<Entity>, res: &mut ShowResolution) -> Vec<Entity> {
    let mut first: HashMap<(String, String), usize> = HashMap::new();
    let mut out: Vec<Entity> = Vec::with_capacity(shows.len());
    for s in shows {
        let (Some(title), Some(publisher)) = (key(&s.name), key(s.publisher.as_deref().unwrap_or(""))) else {
            out.push(s);
            continue;
        };
        let key = (title, publisher);
        match first.get(&key) {
            Some(&i) => {
                let (keep, other) = if s.popularity.unwrap_or(0.0) > out[i].popularity.unwrap_or(0.0) {
                    (s, std::mem::take(&mut out[i]))
                } else {
                    (std::mem::take(&mut out[i]), s)
                };
                res.merges.push((keep.id.clone(), other.id.clone(), "apple-apple"));
                out[i] = keep;
                absorb(&mut out[i], other);
            }
            None => {
                first.insert(key, out.len());
                out.push(s);
            }
        }
    }
    out
}

/// Rule 2's evidence beyond the title.
fn evidence(apple: &Entity, feed_url: &str, categories: &str) -> bool {
    let stop: HashSet<&str> = ["and", "the"].into();
    let genre: HashSet<String> = apple
        .tags
        .iter()
        .flat_map(|t| needle_core::text::words(t))
        .filter(|w| !stop.contains(w.as_str()))
        .collect();
    let shared_genre = categories
        .split('|')
        .flat_map(needle_core::text::words)
        .any(|w| genre.contains(&w));
    let url: String = feed_url
        .to_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let in_url = |name: &str| {
        let key = strict_key(name);
        key.len() >= MIN_URL_KEY && key.is_ascii() && url.contains(&key)
    };
    shared_genre || in_url(&apple.name) || apple.publisher.as_deref().is_some_and(in_url)
}

/// Fold `other` into `survivor`: its id to alias ids, its title to aliases, its tags
/// after, its fields and `extra` keys where the survivor has none.
fn absorb(survivor: &mut Entity, other: Entity) {
    survivor.alias_ids.push(other.id);
    survivor.alias_ids.extend(other.alias_ids);
    survivor.aliases.push(other.name);
    survivor.aliases.extend(other.aliases);
    survivor.tags.extend(other.tags);
    survivor.language = survivor.language.take().or(other.language);
    survivor.description = survivor
        .description
        .take()
        .filter(|d| !d.is_empty())
        .or(other.description);
    survivor.publisher = survivor.publisher.take().filter(|p| !p.is_empty()).or(other.publisher);
    survivor.popularity = survivor.popularity.or(other.popularity);
    for (k, v) in other.extra {
        survivor.extra.entry(k).or_insert(v);
    }
    for m in other.markets {
        if !survivor.markets.contains(&m) {
            survivor.markets.push(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(id: &str, title: &str, publisher: &str, genre: &str, popularity: f64) -> Entity {
        let mut e = Entity::new("show", id.into(), title.into());
        e.publisher = Some(publisher.into());
        e.tags = vec![genre.into()];
        e.popularity = Some(popularity);
        e
    }

    #[test]
    fn apple_shows_merge_on_title_and_publisher() {
        let mut res = ShowResolution::default();
        let out = merge_apple(
            vec![
                show("apple:show:1", "Critical Role", "geekandsundry", "Leisure", 5.0),
                show("apple:show:2", "Science Vs", "Gimlet Media", "Science", 9.0),
                show("apple:show:3", "Science Vs", "ABC Podcasts", "Science", 1.0),
                show("apple:show:4", "Critical Role", "Geek & Sundry", "Leisure", 50.0),
                show("apple:show:5", "NA", "NA", "Arts", 1.0),
                show("apple:show:6", "NA", "NA", "News", 1.0),
            ],
            &mut res,
        );
        let ids: Vec<&str> = out.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "apple:show:4",
                "apple:show:2",
                "apple:show:3",
                "apple:show:5",
                "apple:show:6"
            ],
            "placeholders are no evidence"
        );
        assert_eq!(out[0].alias_ids, ["apple:show:1"]);
        assert_eq!(res.merges.len(), 1);
    }

    /// Both converters end to end on tiny folders.
    #[test]
    fn one_show_per_podcast() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let gz = |name: &str, text: &str| {
            let file = fs_err::File::create(dir.path().join(name)).unwrap();
            let mut w = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            w.write_all(text.as_bytes()).unwrap();
            w.finish().unwrap();
        };
        let apple_lines = [
            r#"{"title": "Drilled", "producer": "Critical Frequency", "genre": "Science", "num_reviews": 2100, "rating": 5, "link": "https://podcasts.apple.com/us/podcast/drilled/id1"}"#,
            r#"{"title": "The Daily", "producer": "NYT", "genre": "News", "link": "https://podcasts.apple.com/us/podcast/x/id2"}"#,
            r#"{"title": "Quiet Show", "producer": "Someone", "genre": "Arts", "link": "https://podcasts.apple.com/us/podcast/x/id3"}"#,
            r#"{"title": "Drilled", "producer": "Critical  Frequency", "genre": "Science", "num_reviews": 10, "link": "https://podcasts.apple.com/us/podcast/drilled/id4"}"#,
        ];
        gz(apple::FILE_2023, &(apple_lines.join("\n") + "\n"));
        let pi = "feed_url\ttitle\tlanguage\tcategories\n\
            https://feeds.example.com/a\tDrilled\teng\tscience|nature\n\
            https://one.example.com/daily\tThe Daily\teng\tnews\n\
            https://two.example.com/daily\tThe Daily\teng\tnews\n\
            https://feeds.example.com/q\tQuiet Show\teng\tcomedy\n\
            https://feeds.example.com/z\tOther\teng\tnews\n";
        gz(podcastindex::FILE, pi);
        let out = dir.path().join("out.jsonl");
        let mut sink = Sink::create(&out, false).unwrap();
        let res = convert_shows(dir.path(), dir.path(), &mut sink).unwrap();
        let summary = sink.finish().unwrap();
        let lines: Vec<serde_json::Value> = fs_err::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let named = |name: &str| lines.iter().filter(|v| v["name"] == name).cloned().collect::<Vec<_>>();
        let drilled = named("Drilled");
        assert_eq!(drilled.len(), 1, "{drilled:?}");
        assert_eq!(drilled[0]["id"], "apple:show:1");
        let alias_ids = drilled[0]["alias_ids"].as_array().unwrap();
        assert_eq!(
            alias_ids.len(),
            2,
            "the other Apple id and the Podcast Index id: {alias_ids:?}"
        );
        assert_eq!(drilled[0]["extra"]["feed_url"], "https://feeds.example.com/a");
        assert_eq!(drilled[0]["language"], "en");
        assert_eq!(named("The Daily").len(), 3, "Podcast Index has two: no evidence which");
        assert_eq!(named("Quiet Show").len(), 2, "a title alone is no evidence");
        assert_eq!((res.merges.len(), res.ambiguous, res.no_evidence), (2, 1, 1));
        assert_eq!(summary.written, 7);
    }

    #[test]
    fn podcast_index_evidence() {
        let s = show(
            "apple:show:1",
            "Community Cats Podcast",
            "Cat People",
            "Government",
            1.0,
        );
        assert!(evidence(
            &s,
            "https://communitycatspodcast.libsyn.com/rss",
            "animals|pets"
        ));
        assert!(!evidence(&s, "https://feeds.example.com/x.rss", "animals|pets"));
        let s = show("apple:show:2", "Archive", "Dead Signals", "TV & Film", 1.0);
        assert!(evidence(&s, "https://feeds.example.com/x.rss", "arts|film|tv"));
        assert!(!evidence(&s, "https://feeds.example.com/x.rss", "and|the"));
        let s = show("apple:show:3", "Rough Translation", "NPR", "News", 1.0);
        assert!(
            !evidence(&s, "https://feeds.npr.org/510324/podcast.xml", "commentary"),
            "NPR is too short a key"
        );
    }
}
