//! tantivy tokenizers wrapping Needle's own text analysis (`needle_core::text`).

use needle_core::text::{tokenize, TokenKind};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Name of the word tokenizer registered on the index.
pub const WORDS: &str = "needle_words";
/// Name of the edge-n-gram tokenizer used by the `*_pre` fields.
pub const PREFIXES: &str = "needle_prefixes";
/// Name of the tokenizer that indexes prefixes of a field's first word only.
pub const FIRST_PREFIXES: &str = "needle_first_prefixes";
/// Name of the word tokenizer that emits each distinct word of a text once (descriptions,
/// transcripts: their postings record documents only, so a repeat is work without effect).
pub const DISTINCT_WORDS: &str = "needle_distinct_words";

/// Register every Needle tokenizer on `index` (before opening a writer or a reader).
pub fn register(index: &tantivy::Index) {
    let t = index.tokenizers();
    t.register(WORDS, WordTokenizer::default());
    t.register(PREFIXES, PrefixTokenizer::default());
    t.register(FIRST_PREFIXES, FirstPrefixTokenizer::default());
    t.register(DISTINCT_WORDS, DistinctWordTokenizer::default());
}
/// Longest indexed prefix, in characters. Longer query prefixes are truncated to it.
pub const MAX_PREFIX_CHARS: usize = 12;

/// Words, joined forms and CJK n-grams, as `needle_core::text::tokenize` makes them.
#[derive(Clone, Default)]
pub struct WordTokenizer {
    buf: Vec<Token>,
}

/// Words as [`WordTokenizer`] makes them, each distinct text once (first occurrence).
#[derive(Clone, Default)]
pub struct DistinctWordTokenizer {
    buf: Vec<Token>,
}

impl Tokenizer for DistinctWordTokenizer {
    type TokenStream<'a> = VecStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecStream<'a> {
        self.buf.clear();
        let tokens = tokenize(text);
        let keep: Vec<bool> = {
            let mut seen: rustc_hash::FxHashSet<&str> = Default::default();
            seen.reserve(tokens.len() / 2);
            tokens.iter().map(|t| seen.insert(t.text.as_str())).collect()
        };
        for (i, (t, keep)) in tokens.into_iter().zip(keep).enumerate() {
            if keep {
                self.buf.push(tantivy_token(t.text, t.start, t.end, i));
            }
        }
        VecStream {
            tokens: &mut self.buf,
            pos: 0,
        }
    }
}

/// Every prefix (1..=12 characters) of every word and joined form; CJK n-grams as is.
#[derive(Clone, Default)]
pub struct PrefixTokenizer {
    buf: Vec<Token>,
}

/// Prefixes of the first word only: "starts with" beats "contains a word that starts with".
#[derive(Clone, Default)]
pub struct FirstPrefixTokenizer {
    buf: Vec<Token>,
}

impl Tokenizer for FirstPrefixTokenizer {
    type TokenStream<'a> = VecStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecStream<'a> {
        self.buf.clear();
        if let Some(t) = tokenize(text).into_iter().next() {
            if matches!(t.kind, TokenKind::Word | TokenKind::Joined) {
                for p in prefixes(&t.text) {
                    self.buf.push(tantivy_token(p.to_string(), t.start, t.end, 0));
                }
            }
        }
        VecStream {
            tokens: &mut self.buf,
            pos: 0,
        }
    }
}

/// A token stream over a prepared vector.
pub struct VecStream<'a> {
    tokens: &'a mut Vec<Token>,
    pos: usize,
}

impl TokenStream for VecStream<'_> {
    fn advance(&mut self) -> bool {
        self.pos += 1;
        self.pos <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.pos - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.pos - 1]
    }
}

fn tantivy_token(text: String, start: usize, end: usize, position: usize) -> Token {
    Token {
        offset_from: start,
        offset_to: end,
        position,
        text,
        position_length: 1,
    }
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = VecStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecStream<'a> {
        self.buf.clear();
        for (i, t) in tokenize(text).into_iter().enumerate() {
            self.buf.push(tantivy_token(t.text, t.start, t.end, i));
        }
        VecStream {
            tokens: &mut self.buf,
            pos: 0,
        }
    }
}

/// The prefixes a word is indexed under (all lengths up to [`MAX_PREFIX_CHARS`]).
pub fn prefixes(word: &str) -> impl Iterator<Item = &str> {
    word.char_indices()
        .map(|(i, c)| &word[..i + c.len_utf8()])
        .take(MAX_PREFIX_CHARS)
}

/// The indexed prefix term for a typed prefix (truncated to [`MAX_PREFIX_CHARS`]).
pub fn prefix_term(word: &str) -> &str {
    prefixes(word).last().unwrap_or(word)
}

impl Tokenizer for PrefixTokenizer {
    type TokenStream<'a> = VecStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecStream<'a> {
        self.buf.clear();
        for (i, t) in tokenize(text).into_iter().enumerate() {
            match t.kind {
                TokenKind::Word | TokenKind::Joined => {
                    for p in prefixes(&t.text) {
                        self.buf.push(tantivy_token(p.to_string(), t.start, t.end, i));
                    }
                }
                TokenKind::CjkUnigram | TokenKind::CjkBigram => self.buf.push(tantivy_token(t.text, t.start, t.end, i)),
            }
        }
        VecStream {
            tokens: &mut self.buf,
            pos: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_char_based_and_capped() {
        assert_eq!(
            prefixes("héllo").collect::<Vec<_>>(),
            vec!["h", "hé", "hél", "héll", "héllo"]
        );
        assert_eq!(
            prefix_term("abcdefghijklmnopqrstuvwxyz").chars().count(),
            MAX_PREFIX_CHARS
        );
    }

    fn texts<T: Tokenizer>(t: &mut T, s: &str) -> Vec<String> {
        let mut st = t.token_stream(s);
        let mut out = vec![];
        while st.advance() {
            out.push(st.token().text.clone());
        }
        out
    }

    #[test]
    fn distinct_words_are_the_words_once_in_first_seen_order() {
        let text = "The cat, the Hat and THE cat's hat-trick: hattrick";
        let words = texts(&mut WordTokenizer::default(), text);
        let distinct = texts(&mut DistinctWordTokenizer::default(), text);
        let mut expected: Vec<String> = Vec::new();
        for w in &words {
            if !expected.contains(w) {
                expected.push(w.clone());
            }
        }
        assert_eq!(distinct, expected);
        assert!(words.len() > distinct.len(), "{words:?}");
    }

    #[test]
    fn prefix_tokenizer_emits_all_prefixes() {
        let mut t = PrefixTokenizer::default();
        let mut s = t.token_stream("Abba");
        let mut out = vec![];
        while s.advance() {
            out.push(s.token().text.clone());
        }
        assert_eq!(out, vec!["a", "ab", "abb", "abba"]);
    }
}
