//! Podcasts linked to a listener's music by name: shows and episodes whose name, publisher
//! or description names an artist the listener plays ("mentions Depeche Mode, whom you
//! play"). This is how a listener who only plays music gets podcasts with a true reason.
//!
//! The catalog's search finds candidates ([`Source::search_text`], one search per top
//! artist, restricted to shows and episodes); a candidate counts only when the artist's
//! whole name appears in one of those texts as a phrase of folded words (`Depeche Mode`
//! in "an hour on depeche mode's Violator", never "mode" alone, no typos). A name that is
//! one word once a leading article is dropped ("Heart", "The Cure") must also be rare
//! among shows and episodes ("heart" names thousands of shows that are not about Heart),
//! and the show or episode must be about music (a tag with the word "music"): on the
//! real shows, "Madonna", "Nirvana", "Placebo" and "The Doors" matched 7 to 23 shows each,
//! nearly all religious, business, health or self-help titles (docs/recommendations.md).

use std::collections::{HashMap, HashSet};

use needle_core::text::{tokenize_query, words};
use needle_core::{Entity, EntityType};

use super::listener::{loved_creators, Listener};
use super::model::ServingModel;
use super::pick::{Reason, Scored};
use super::Source;
use crate::RecsError;

/// Top artists whose names are searched.
const ARTISTS: usize = 8;
/// Search hits read per artist.
const HITS_PER_ARTIST: usize = 50;
/// Most shows and episodes a one-word name may match and still count as evidence.
const RARE_NAME_MAX: usize = 25;
/// Leading articles a one-word name is judged without ("The Cure" is as common as "cure").
const ARTICLES: &[&str] = &[
    "the", "a", "an", "los", "las", "la", "le", "les", "die", "der", "das", "el",
];

/// The folded words of a text as a phrase is matched against them: `needle_core`'s words
/// with a possessive `'s` dropped ("Depeche Mode's Violator" holds "Depeche Mode"; a name
/// like "Destiny's Child" is read the same way, so it still matches itself).
pub(crate) fn phrase_words(text: &str) -> Vec<String> {
    tokenize_query(text)
        .into_iter()
        .map(|t| {
            let original = text.get(t.start..t.end).unwrap_or("");
            let possessive = ["'s", "'S", "\u{2019}s", "\u{2019}S"]
                .iter()
                .any(|p| original.ends_with(p));
            match t.text.strip_suffix('s') {
                Some(stem) if possessive && !stem.is_empty() => stem.to_string(),
                _ => t.text,
            }
        })
        .collect()
}

/// Where in a show or episode the name was found, and what that is worth.
fn field_weight(e: &Entity, phrase: &[String]) -> Option<f32> {
    let found = |text: Option<&str>| text.is_some_and(|t| contains_phrase(&phrase_words(t), phrase));
    if found(Some(&e.name)) {
        Some(1.0)
    } else if found(e.publisher.as_deref()) {
        Some(0.8)
    } else if found(e.description.as_deref()) {
        Some(0.5)
    } else {
        None
    }
}

/// Whether `phrase` occurs in `text` as consecutive words.
pub(crate) fn contains_phrase(text: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && text.windows(phrase.len()).any(|w| w == phrase)
}

/// Whether a name's words say enough on their own to be searched without a rarity check:
/// two or more once a leading article is dropped.
pub(crate) fn is_distinctive(name: &[String]) -> bool {
    let rest = match name.split_first() {
        Some((first, rest)) if !rest.is_empty() && ARTICLES.contains(&first.as_str()) => rest,
        _ => name,
    };
    rest.len() >= 2
}

/// Ids of the `hits` about music: a tag holding the word "music" (Apple's genre "Music",
/// Podcast Index's category `music`), an episode's own or its show's.
fn about_music(source: &dyn Source, hits: &[(Entity, f32)]) -> Result<HashSet<String>, RecsError> {
    let music = |e: &Entity| e.tags.iter().any(|t| words(t).iter().any(|w| w == "music"));
    let mut out: HashSet<String> = hits
        .iter()
        .filter(|(e, _)| music(e))
        .map(|(e, _)| e.id.clone())
        .collect();
    let shows: Vec<&str> = hits
        .iter()
        .filter(|(e, _)| !out.contains(&e.id))
        .filter_map(|(e, _)| e.show_id.as_deref())
        .collect();
    let music_shows: HashSet<String> = source
        .entities(&shows)?
        .into_iter()
        .flatten()
        .filter(|s| music(s))
        .map(|s| s.id)
        .collect();
    for (e, _) in hits {
        if e.show_id.as_ref().is_some_and(|s| music_shows.contains(s)) {
            out.insert(e.id.clone());
        }
    }
    Ok(out)
}

/// Shows and episodes of `types` naming one of the listener's top artists, best first:
/// by the artist's share of the listener's affinity times where the name was found
/// (name 1.0, publisher 0.8, description 0.5), each with [`Reason::Mentions`].
pub(crate) fn mentions(
    source: &dyn Source,
    model: &ServingModel,
    l: &Listener,
    types: &[EntityType],
) -> Result<Vec<Scored>, RecsError> {
    let types: Vec<EntityType> = types
        .iter()
        .copied()
        .filter(|t| matches!(t, EntityType::Show | EntityType::Episode))
        .collect();
    if types.is_empty() {
        return Ok(Vec::new());
    }
    let creators = loved_creators(model, l);
    let ids: Vec<&str> = creators.iter().map(|(c, _)| c.as_str()).collect();
    let artists: Vec<(Entity, f32)> = source
        .entities(&ids)?
        .into_iter()
        .zip(&creators)
        .filter_map(|(e, (_, aff))| e.filter(|e| e.entity_type() == EntityType::Artist).map(|e| (e, *aff)))
        .take(ARTISTS)
        .collect();
    let top = artists.first().map(|a| a.1).unwrap_or(1.0).max(1e-6);
    let mut best: HashMap<String, Scored> = HashMap::new();
    for (artist, aff) in &artists {
        let phrase = phrase_words(&artist.name);
        if phrase.is_empty() {
            continue;
        }
        let found = source.search_text(&artist.name, &types, HITS_PER_ARTIST)?;
        if !is_distinctive(&phrase) && found.total > RARE_NAME_MAX {
            continue;
        }
        let refs: Vec<&str> = found.ids.iter().map(String::as_str).collect();
        let mut hits: Vec<(Entity, f32)> = source
            .entities(&refs)?
            .into_iter()
            .flatten()
            .filter(|e| e.id != artist.id && types.contains(&e.entity_type()))
            .filter_map(|e| field_weight(&e, &phrase).map(|w| (e, w)))
            .collect();
        if !is_distinctive(&phrase) {
            let music = about_music(source, &hits)?;
            hits.retain(|(e, _)| music.contains(&e.id));
        }
        for (e, w) in hits {
            let score = aff / top * w;
            if best.get(&e.id).is_some_and(|s| s.score >= score) {
                continue;
            }
            best.insert(
                e.id.clone(),
                Scored {
                    id: e.id,
                    score,
                    reason: Reason::Mentions(artist.id.clone()),
                    mix: None,
                },
            );
        }
    }
    let mut out: Vec<Scored> = best.into_values().collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        phrase_words(s)
    }

    #[test]
    fn a_name_counts_only_as_a_whole_phrase() {
        let name = w("Depeche Mode");
        assert!(contains_phrase(&w("An hour on Depeche Mode's Violator"), &name));
        assert!(contains_phrase(&w("DEPECHE MODE: live"), &name));
        assert!(!contains_phrase(&w("Depeche and the mode of fashion"), &name));
        assert!(!contains_phrase(&w("Mode Depeche"), &name));
        assert!(!contains_phrase(&w("Depeche Modes"), &name), "no prefixes, no typos");
        assert!(!contains_phrase(&w("anything"), &[]));
        assert!(contains_phrase(&w("Notes on Beyoncé"), &w("Beyonce")), "folded");
        assert!(contains_phrase(
            &w("Destiny\u{2019}s Child at 25"),
            &w("Destiny's Child")
        ));
        assert!(!contains_phrase(&w("Destinys Child"), &w("Destiny's Child")));
        assert_eq!(w("It's Mode's"), ["it", "mode"]);
    }

    #[test]
    fn one_word_names_are_not_distinctive_even_with_an_article() {
        assert!(is_distinctive(&w("Depeche Mode")));
        assert!(is_distinctive(&w("The Rolling Stones")));
        assert!(!is_distinctive(&w("Heart")));
        assert!(!is_distinctive(&w("The Cure")));
        assert!(!is_distinctive(&w("The The")), "one word after the article");
    }
}
