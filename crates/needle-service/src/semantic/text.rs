//! The text an entity is embedded from, and its hash (a vector is recomputed only when it
//! changes).

use needle_core::{Entity, EntityType};
use needle_store::CatalogSnapshot;

/// Characters of a transcript's head that join an episode's text (the model reads at
/// most 128 word pieces anyway).
const TRANSCRIPT_HEAD: usize = 600;
/// Characters of a description kept.
const DESCRIPTION_HEAD: usize = 1200;

fn head(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// What the model reads for `e`: its name first (the strongest signal), the names it
/// belongs to (show, audiobook, authors, publisher), tags, the description and, for an
/// episode, the head of its transcript.
pub fn doc_text(e: &Entity, snap: &CatalogSnapshot) -> String {
    let mut parts: Vec<String> = vec![e.name.clone()];
    match e.entity_type() {
        EntityType::Episode => {
            if let Some(show) = e.show_id.as_deref().and_then(|id| snap.name_of(id).ok().flatten()) {
                parts.push(format!("from {show}"));
            }
        }
        EntityType::Chapter => {
            if let Some(book) = e.audiobook_id.as_deref().and_then(|id| snap.name_of(id).ok().flatten()) {
                parts.push(format!("from {book}"));
            }
        }
        _ => {}
    }
    if !e.authors.is_empty() {
        parts.push(format!("by {}", e.authors.join(", ")));
    }
    if let Some(p) = e.publisher.as_deref().filter(|p| !p.is_empty()) {
        parts.push(format!("by {p}"));
    }
    if !e.tags.is_empty() {
        parts.push(e.tags.join(", "));
    }
    if let Some(d) = e.description.as_deref().filter(|d| !d.is_empty()) {
        parts.push(head(d, DESCRIPTION_HEAD).to_string());
    }
    if let Some(t) = e.transcript.as_deref().filter(|t| !t.is_empty()) {
        parts.push(head(t, TRANSCRIPT_HEAD).to_string());
    }
    parts.join(". ")
}

/// The hash a stored vector is checked against.
pub fn text_hash(text: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_cut_on_characters() {
        assert_eq!(head("héllo", 2), "hé");
        assert_eq!(head("hi", 5), "hi");
    }
}
