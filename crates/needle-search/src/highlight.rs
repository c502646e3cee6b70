//! Highlighting: which spans of a displayed field matched the query.

use crate::plan::{edit_distance, max_typos, QueryWord};
use crate::types::Highlight;
use needle_core::text::{tokenize, TokenKind};

/// Does an indexed token match a query word (exactly, as a prefix, or within the typo budget)?
fn matches(token: &str, w: &QueryWord) -> bool {
    if token == w.text {
        return true;
    }
    if w.cjk {
        return false;
    }
    if w.prefix && token.starts_with(&w.text) {
        return true;
    }
    let t = max_typos(&w.text) as usize;
    if t > 0 && edit_distance(token, &w.text) <= t {
        return true;
    }
    if w.prefix && t > 0 {
        let n = w.text.chars().count();
        let head: String = token.chars().take(n).collect();
        return edit_distance(&head, &w.text) <= 1;
    }
    false
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

/// Highlight one field; `None` when nothing in it matched.
pub fn highlight(field: &str, text: &str, words: &[QueryWord]) -> Option<Highlight> {
    let mut spans: Vec<[usize; 2]> = Vec::new();
    for t in tokenize(text) {
        if t.kind == TokenKind::Joined && spans.iter().any(|s| s[0] >= t.start && s[1] <= t.end) {
            continue;
        }
        if words.iter().any(|w| matches(&t.text, w)) {
            spans.push([t.start, t.end]);
        }
    }
    if spans.is_empty() {
        return None;
    }
    spans.sort_unstable();
    let mut merged: Vec<[usize; 2]> = Vec::new();
    for s in spans {
        match merged.last_mut() {
            Some(m) if s[0] <= m[1] => m[1] = m[1].max(s[1]),
            _ => merged.push(s),
        }
    }
    let mut snippet = String::with_capacity(text.len() + 16);
    let mut pos = 0;
    for s in &merged {
        escape(&text[pos..s[0]], &mut snippet);
        snippet.push_str("<em>");
        escape(&text[s[0]..s[1]], &mut snippet);
        snippet.push_str("</em>");
        pos = s[1];
    }
    escape(&text[pos..], &mut snippet);
    Some(Highlight {
        field: field.to_string(),
        snippet,
        spans: merged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::query_words;

    #[test]
    fn marks_prefix_typo_and_folded_matches() {
        let h = highlight("name", "Mötley Crüe", &query_words("motley cr")).unwrap();
        assert_eq!(h.snippet, "<em>Mötley</em> <em>Crüe</em>");
        let h = highlight("name", "Beyoncé & Jay-Z", &query_words("beyonse")).unwrap();
        assert_eq!(h.snippet, "<em>Beyoncé</em> &amp; Jay-Z");
        assert!(highlight("name", "Adele", &query_words("zzz")).is_none());
    }
}
