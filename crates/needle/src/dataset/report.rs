//! `needle dataset resolve-report`: the artist resolution of the real data, as Markdown,
//! with random samples (fixed seed) of merges and of near-misses to judge by hand. The
//! judgements and the error rates they give are in `docs/entity-resolution.md`.
//!
//! Near-misses are cross-source pairs (one Billboard, one Last.fm artist) left apart
//! whose names are close: a key the rules met as a collision (rule 3), loose keys one
//! edit apart (both 5 characters or more), or one name the other plus one word ("Beyonce
//! Knowles"). Each shown member carries what a judge needs: popularity, Last.fm tags,
//! Billboard tracks with their first chart year.

use super::resolve::{loose_key, resolve_artists, Member, Resolution, Rule};
use super::sink::Entity;
use anyhow::Result;
use needle_core::text::words;
use std::collections::{BTreeSet, HashMap};
use std::io::Write;

/// Resolve `held` (Billboard and Last.fm, as converted) and write the report.
pub(crate) fn write(held: Vec<Entity>, seed: u64, sample: usize, out: &mut dyn Write) -> Result<()> {
    let evidence = Evidence::of(&held);
    let artists: Vec<(String, String)> = held
        .iter()
        .filter(|e| e.kind == "artist")
        .map(|e| (e.id.clone(), e.name.clone()))
        .collect();
    let (_, res) = resolve_artists(held);
    writeln!(out, "# Artist resolution report (seed {seed}, samples of {sample})\n")?;
    counts(&res, out)?;
    let mut rng = SplitMix(seed);

    writeln!(out, "\n## Sample of merges\n")?;
    for (n, i) in rng.sample(res.merges.len(), sample).into_iter().enumerate() {
        let m = &res.merges[i];
        writeln!(out, "{}. `{}` ({:?})", n + 1, m.key, m.rule())?;
        for member in &m.members {
            writeln!(out, "   - {}", evidence.describe(member))?;
        }
    }

    let misses = near_misses(&artists, &res);
    writeln!(
        out,
        "\n## Near-misses: {} cross-source pairs left apart\n",
        misses.len()
    )?;
    for (n, i) in rng.sample(misses.len(), sample).into_iter().enumerate() {
        let (why, a, b) = &misses[i];
        writeln!(out, "{}. {why}", n + 1)?;
        for id in [a, b] {
            let m = Member {
                id: id.clone(),
                name: evidence.names.get(id).cloned().unwrap_or_default(),
                popularity: evidence.popularity.get(id).copied().unwrap_or(0.0),
                rule: Rule::Exact,
            };
            writeln!(out, "   - {}", evidence.describe(&m))?;
        }
    }
    Ok(())
}

fn counts(res: &Resolution, out: &mut dyn Write) -> Result<()> {
    let mut by_rule: HashMap<Rule, usize> = HashMap::new();
    for m in &res.merges {
        *by_rule.entry(m.rule()).or_insert(0) += 1;
    }
    writeln!(
        out,
        "- artist entities: {} before, {} after",
        res.artists_before, res.artists_after
    )?;
    writeln!(out, "- merged entities: {}", res.merges.len())?;
    for rule in [Rule::Exact, Rule::WithoutThe, Rule::AliasForm] {
        writeln!(out, "  - {rule:?}: {}", by_rule.get(&rule).copied().unwrap_or(0))?;
    }
    writeln!(
        out,
        "- keys not merged for a collision (rule 3): {}",
        res.collisions.len()
    )?;
    for c in &res.collisions {
        let names: Vec<String> = c.members.iter().map(|m| format!("{} `{}`", m.name, m.id)).collect();
        writeln!(out, "  - `{}` ({:?}): {}", c.key, c.members[0].rule, names.join(", "))?;
    }
    Ok(())
}

/// Cross-source pairs left apart with close names: (why, Billboard id, Last.fm id).
fn near_misses(artists: &[(String, String)], res: &Resolution) -> Vec<(String, String, String)> {
    let mut entity_of: HashMap<&str, usize> = HashMap::new();
    for (g, m) in res.merges.iter().enumerate() {
        for member in &m.members {
            entity_of.insert(member.id.as_str(), g);
        }
    }
    let apart = |a: &str, b: &str| match (entity_of.get(a), entity_of.get(b)) {
        (Some(x), Some(y)) => x != y,
        _ => true,
    };
    let mut pairs: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut add = |why: &str, a: &str, b: &str| {
        let (bb, lfm) = if a.starts_with("bb:") { (a, b) } else { (b, a) };
        if bb.starts_with("bb:") && lfm.starts_with("lfm:") && apart(bb, lfm) {
            pairs.insert((why.to_string(), bb.to_string(), lfm.to_string()));
        }
    };
    for c in &res.collisions {
        for a in &c.members {
            for b in &c.members {
                add("collision (rule 3)", &a.id, &b.id);
            }
        }
    }
    // One edit apart: names sharing a one-character deletion of their loose keys.
    let mut by_deletion: HashMap<String, Vec<usize>> = HashMap::new();
    // One word more: names whose words, less their last or first, are another's.
    let mut by_words: HashMap<String, Vec<usize>> = HashMap::new();
    let keys: Vec<(String, Vec<String>)> = artists.iter().map(|(_, n)| (loose_key(n), words(n))).collect();
    for (i, (key, w)) in keys.iter().enumerate() {
        if key.chars().count() >= 5 {
            by_deletion.entry(key.clone()).or_default().push(i);
            for (at, _) in key.char_indices() {
                let mut d = key.clone();
                d.remove(at);
                by_deletion.entry(d).or_default().push(i);
            }
        }
        if !w.is_empty() {
            by_words.entry(w.concat()).or_default().push(i);
        }
    }
    for list in by_deletion.values() {
        for &a in list {
            for &b in list {
                if a < b && keys[a].0 != keys[b].0 {
                    add("one edit apart", &artists[a].0, &artists[b].0);
                }
            }
        }
    }
    for (i, (_, w)) in keys.iter().enumerate() {
        if w.len() < 2 {
            continue;
        }
        for shorter in [&w[..w.len() - 1], &w[1..]] {
            for &j in by_words.get(&shorter.concat()).map(Vec::as_slice).unwrap_or(&[]) {
                add("one word more", &artists[i].0, &artists[j].0);
            }
        }
    }
    pairs.into_iter().collect()
}

/// What a judge looks at, per id.
struct Evidence {
    names: HashMap<String, String>,
    popularity: HashMap<String, f64>,
    tags: HashMap<String, Vec<String>>,
    /// Billboard tracks of an artist: (chart points, "Title (year)").
    tracks: HashMap<String, Vec<(f64, String)>>,
}

impl Evidence {
    fn of(held: &[Entity]) -> Evidence {
        let mut ev = Evidence {
            names: HashMap::new(),
            popularity: HashMap::new(),
            tags: HashMap::new(),
            tracks: HashMap::new(),
        };
        for e in held {
            if e.kind == "artist" {
                ev.names.insert(e.id.clone(), e.name.clone());
                ev.popularity.insert(e.id.clone(), e.popularity.unwrap_or(0.0));
                ev.tags.insert(e.id.clone(), e.tags.iter().take(5).cloned().collect());
            }
            for a in &e.artist_ids {
                let year = e.release_date.as_deref().and_then(|d| d.get(..4)).unwrap_or("?");
                let t = (e.popularity.unwrap_or(0.0), format!("{} ({year})", e.name));
                ev.tracks.entry(a.clone()).or_default().push(t);
            }
        }
        for list in ev.tracks.values_mut() {
            list.sort_by(|a, b| b.0.total_cmp(&a.0));
        }
        ev
    }

    fn describe(&self, m: &Member) -> String {
        let mut s = format!("{} `{}` popularity {}", m.name, m.id, m.popularity);
        if let Some(tags) = self.tags.get(&m.id).filter(|t| !t.is_empty()) {
            s.push_str(&format!("; tags: {}", tags.join(", ")));
        }
        if let Some(tracks) = self.tracks.get(&m.id) {
            let top: Vec<&str> = tracks.iter().take(3).map(|t| t.1.as_str()).collect();
            s.push_str(&format!("; {} tracks: {}", tracks.len(), top.join("; ")));
        }
        s
    }
}

/// A small deterministic generator (SplitMix64), so a seed always draws the same sample.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `k` distinct indices of `0..n` (all of them when `k >= n`), in drawing order.
    fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + (self.next() % (n - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(k);
        idx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_distinct_and_repeatable() {
        let a = SplitMix(7).sample(100, 10);
        assert_eq!(a, SplitMix(7).sample(100, 10));
        assert_eq!(a.iter().collect::<BTreeSet<_>>().len(), 10);
        assert_eq!(SplitMix(7).sample(3, 10).len(), 3);
        assert!(SplitMix(7).sample(0, 10).is_empty());
    }

    #[test]
    fn near_misses_find_close_names_left_apart() {
        let artists: Vec<(String, String)> = [
            ("bb:artist:beyonce-knowles", "Beyonce Knowles"),
            ("lfm:artist:1", "Beyoncé"),
            ("bb:artist:kelly-clarkson", "Kelly Clarkson"),
            ("lfm:artist:2", "Kelly Clarkston"),
            ("bb:artist:a", "Madonna"),
            ("lfm:artist:3", "Metallica"),
        ]
        .iter()
        .map(|(i, n)| (i.to_string(), n.to_string()))
        .collect();
        let got = near_misses(&artists, &Resolution::default());
        let got: Vec<(&str, &str, &str)> = got
            .iter()
            .map(|(w, a, b)| (w.as_str(), a.as_str(), b.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("one edit apart", "bb:artist:kelly-clarkson", "lfm:artist:2"),
                ("one word more", "bb:artist:beyonce-knowles", "lfm:artist:1"),
            ]
        );
    }
}
