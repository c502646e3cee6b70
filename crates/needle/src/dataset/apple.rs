//! Apple Podcasts scrapes (2019 `apple-podcasts-2019-siddgood/podcasts_info.jsonl.gz`
//! and 2023 `apple-podcasts-2023-mille055/podcasts.jsonl.gz`) to shows.
//!
//! Shows are keyed by iTunes id (`apple:show:<itunes_id>`; from the `itunes_id` field,
//! else parsed from the link). A show present in both scrapes is written once, each
//! field taken from 2023 when it is non-empty there and from 2019 otherwise.
//! `publisher` = producer, `tags` = [genre], `markets` = the storefront in the link
//! (`/us/` -> `US`). `popularity` = `num_reviews * rating / 5`: the review count, as
//! the audience-size signal, discounted by the star rating (a 5.0 show keeps its count,
//! a 2.5 show half of it); just `num_reviews` when the rating is missing, omitted when
//! the review count is. Reviews and rating come together from the newest scrape that
//! has them. `extra` has `itunes_url`, `num_episodes`, `rating`, `num_reviews` and
//! `sources` (the scrape years).

use super::sink::{Entity, Sink};
use super::text::{clean_name, Lines};
use anyhow::{bail, Result};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const FILE_2019: &str = "podcasts_info.jsonl.gz";
pub(crate) const FILE_2023: &str = "podcasts.jsonl.gz";

#[derive(Default)]
struct Show {
    title: String,
    producer: String,
    genre: String,
    description: String,
    link: String,
    episodes: Option<u64>,
    /// (num_reviews, rating) from one scrape.
    reviews: Option<(f64, Option<f64>)>,
    sources: Vec<&'static str>,
}

/// Convert the 2019 and/or 2023 files found in `dir` (a data root holding the two
/// `apple-podcasts-*` folders, or one of those folders) into `sink`.
pub(crate) fn convert(dir: &Path, sink: &mut Sink) -> Result<()> {
    let files = find_files(dir);
    if files.is_empty() {
        bail!(
            "{} has no {FILE_2023} or {FILE_2019} (nor apple-podcasts-*/ folders with them)",
            dir.display()
        );
    }
    let mut order: Vec<String> = Vec::new();
    let mut shows: HashMap<String, Show> = HashMap::new();
    for (year, path) in files {
        let mut lines = Lines::open(&path)?;
        while let Some(line) = lines.next_line()? {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let Ok(Value::Object(rec)) = serde_json::from_slice::<Value>(line) else {
                sink.skip();
                continue;
            };
            let text = |k: &str| rec.get(k).and_then(Value::as_str).map(clean_name).unwrap_or_default();
            let link = text("link");
            let id = Some(text("itunes_id"))
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .or_else(|| id_from_link(&link));
            let Some(id) = id else {
                sink.skip();
                continue;
            };
            let show = shows.entry(id.clone()).or_insert_with(|| {
                order.push(id);
                Show::default()
            });
            // Files are read newest first, so only fill what is still empty.
            for (slot, value) in [
                (&mut show.title, text("title")),
                (&mut show.producer, text("producer")),
                (&mut show.genre, text("genre")),
                (&mut show.description, text("description")),
                (&mut show.link, link),
            ] {
                if slot.is_empty() {
                    *slot = value;
                }
            }
            show.episodes = show
                .episodes
                .or_else(|| number(rec.get("num_episodes")).map(|n| n as u64));
            if show.reviews.is_none() {
                show.reviews = number(rec.get("num_reviews")).map(|n| (n, number(rec.get("rating"))));
            }
            show.sources.push(year);
        }
    }
    for id in order {
        let Some(s) = shows.remove(&id) else { continue };
        let mut e = Entity::new("show", format!("apple:show:{id}"), s.title);
        e.publisher = Some(s.producer);
        e.tags = vec![s.genre];
        e.description = Some(s.description);
        if let Some(market) = market_from_link(&s.link) {
            e.markets = vec![market];
        }
        if let Some((reviews, rating)) = s.reviews {
            let stars = rating.filter(|r| (0.0..=5.0).contains(r));
            let popularity = stars.map_or(reviews, |r| reviews * r / 5.0);
            e.popularity = Some((popularity * 100.0).round() / 100.0);
            e.extra("num_reviews", reviews.round() as u64);
            e.extra("rating", stars);
        }
        e.extra("itunes_url", Some(s.link).filter(|l| !l.is_empty()));
        e.extra("num_episodes", s.episodes);
        let mut sources = s.sources;
        sources.sort_unstable();
        sources.dedup();
        e.extra("sources", sources);
        sink.write(e)?;
    }
    Ok(())
}

/// `(year, file)` for each scrape found, newest first.
fn find_files(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let mut out = Vec::new();
    for (year, file, folder) in [
        ("2023", FILE_2023, "apple-podcasts-2023-mille055"),
        ("2019", FILE_2019, "apple-podcasts-2019-siddgood"),
    ] {
        for candidate in [dir.join(file), dir.join(folder).join(file)] {
            if candidate.is_file() {
                out.push((year, candidate));
                break;
            }
        }
    }
    out
}

/// A non-negative number from a JSON number or numeric string (`"NA"` and nulls are
/// `None`).
fn number(v: Option<&Value>) -> Option<f64> {
    let n = match v? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then_some(n)
}

/// `1352800687` from `https://podcasts.apple.com/us/podcast/slug/id1352800687?x=y`.
fn id_from_link(link: &str) -> Option<String> {
    let start = link.rfind("/id")? + 3;
    let digits: String = link[start..].chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}

/// `US` from `https://podcasts.apple.com/us/podcast/...`.
fn market_from_link(link: &str) -> Option<String> {
    let rest = link.split("://").nth(1)?;
    let cc = rest.split('/').nth(1)?;
    (cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_alphabetic())).then(|| cc.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links() {
        let link = "https://podcasts.apple.com/us/podcast/history-hyenas/id1352800687?mt=2";
        assert_eq!(id_from_link(link).as_deref(), Some("1352800687"));
        assert_eq!(market_from_link(link).as_deref(), Some("US"));
        assert_eq!(id_from_link("https://example.com/x"), None);
        assert_eq!(market_from_link("https://podcasts.apple.com/podcast/x"), None);
        assert_eq!(market_from_link(""), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(number(Some(&serde_json::json!(699.0))), Some(699.0));
        assert_eq!(number(Some(&serde_json::json!("12"))), Some(12.0));
        assert_eq!(number(Some(&serde_json::json!("NA"))), None);
        assert_eq!(number(Some(&Value::Null)), None);
        assert_eq!(number(Some(&serde_json::json!(-1))), None);
        assert_eq!(number(None), None);
    }
}
