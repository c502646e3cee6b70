//! tantivy tokenizers wrapping Needle's own text analysis (`needle_core::text`).

use std::cell::RefCell;
use std::rc::Rc;

use needle_core::text::{tokenize, Token as Analyzed, TokenKind};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Texts at most this long are remembered by [`analyzed`].
const RECENT_MAX_LEN: usize = 256;
/// How many recent texts [`analyzed`] remembers (per thread).
const RECENT: usize = 4;

thread_local! {
    static RECENT_TEXTS: RefCell<Vec<(String, Rc<Vec<Analyzed>>)>> = const { RefCell::new(Vec::new()) };
}

/// `tokenize(text)`, remembered for the last few short texts of this thread: a document's
/// name is indexed by four fields (`name`, `name_pre`, `name_start`, `lexicon`) and a
/// related name by three, one after the other on the same indexing thread, and the
/// analysis is the same for all of them.
fn analyzed(text: &str) -> Rc<Vec<Analyzed>> {
    if text.len() > RECENT_MAX_LEN {
        return Rc::new(tokenize(text));
    }
    RECENT_TEXTS.with(|r| {
        let mut r = r.borrow_mut();
        if let Some((_, t)) = r.iter().find(|(s, _)| s == text) {
            return Rc::clone(t);
        }
        let t = Rc::new(tokenize(text));
        if r.len() == RECENT {
            r.remove(0);
        }
        r.push((text.to_string(), Rc::clone(&t)));
        t
    })
}

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
        if let Some(t) = analyzed(text).first() {
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
        for (i, t) in analyzed(text).iter().enumerate() {
            self.buf.push(tantivy_token(t.text.clone(), t.start, t.end, i));
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
        for (i, t) in analyzed(text).iter().enumerate() {
            match t.kind {
                TokenKind::Word | TokenKind::Joined => {
                    for p in prefixes(&t.text) {
                        self.buf.push(tantivy_token(p.to_string(), t.start, t.end, i));
                    }
                }
                TokenKind::CjkUnigram | TokenKind::CjkBigram => {
                    self.buf.push(tantivy_token(t.text.clone(), t.start, t.end, i))
                }
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

    fn texts_of<T: Tokenizer>(t: &mut T, s: &str) -> Vec<String> {
        let mut st = t.token_stream(s);
        let mut out = vec![];
        while st.advance() {
            out.push(st.token().text.clone());
        }
        out
    }

    #[test]
    fn remembered_analysis_is_the_analysis() {
        // Interleaved, repeated and evicted texts, and one too long to remember.
        let long = "word ".repeat(100);
        let texts = [
            "AC/DC",
            "Beyoncé",
            "AC/DC",
            "東京事変",
            "a",
            "b",
            "c",
            "AC/DC",
            long.as_str(),
            "Beyoncé",
            long.as_str(),
        ];
        for t in texts {
            let fresh: Vec<String> = tokenize(t).into_iter().map(|x| x.text).collect();
            let remembered: Vec<String> = analyzed(t).iter().map(|x| x.text.clone()).collect();
            assert_eq!(remembered, fresh, "{t}");
        }
        RECENT_TEXTS
            .with(|r| assert!(r.borrow().len() <= RECENT && r.borrow().iter().all(|(s, _)| s.len() <= RECENT_MAX_LEN)));
    }

    #[test]
    fn distinct_words_are_the_words_once_in_first_seen_order() {
        let text = "The cat, the Hat and THE cat's hat-trick: hattrick";
        let words = texts_of(&mut WordTokenizer::default(), text);
        let distinct = texts_of(&mut DistinctWordTokenizer::default(), text);
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
