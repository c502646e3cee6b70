//! Text normalization and tokenization shared by indexing and querying.
//!
//! The same function runs on both sides, so what a listener types and what the catalog
//! says meet in one folded form. The rules (documented in `docs/search.md`):
//! - compatibility folding (full-width `Ａ` → `a`, ligatures `ﬁ` → `fi`), lowercase;
//! - diacritics stripped for Latin, Greek, Cyrillic, Hebrew and Arabic letters
//!   (`Mötley Crüe` → `motley crue`, Arabic harakat dropped), but never for scripts where
//!   marks are part of the letter (Devanagari matras, Japanese dakuten, Hangul);
//! - special letters: `ß`→`ss`, `æ`→`ae`, `œ`→`oe`, `ø`→`o`, `ł`→`l`, `đ`/`ð`→`d`, `þ`→`th`, `ı`→`i`;
//! - apostrophes vanish inside words (`don't` → `dont`), `$` and `!` inside a word read as
//!   `s` and `i` (`Ke$ha`, `P!nk`), `&`, `+` and a lone `n` read as `and`,
//!   `feat` / `ft` / `featuring` are dropped;
//! - `AC/DC`, `Jay-Z`, `R.E.M.` give their parts and, on the index side, the joined form
//!   (`acdc`, `jayz`, `rem`);
//! - scripts written without spaces (Han, kana, Hangul, Thai, Lao, Khmer, Myanmar) give
//!   character unigrams and bigrams on the index side and bigrams on the query side, so
//!   any run of two or more characters is found.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// What a token is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A word of a space-separated script.
    Word,
    /// The joined form of a word written with inner punctuation (`acdc` from `AC/DC`).
    Joined,
    /// One character of a script without spaces.
    CjkUnigram,
    /// Two consecutive characters of a script without spaces.
    CjkBigram,
}

/// A token with its byte span in the original text (for highlighting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The folded token text.
    pub text: String,
    /// Byte offset of the first original character.
    pub start: usize,
    /// Byte offset just past the last original character.
    pub end: usize,
    /// Kind of token.
    pub kind: TokenKind,
}

/// True for characters of scripts written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF     // Thai, Lao
        | 0x1000..=0x109F   // Myanmar
        | 0x1100..=0x11FF   // Hangul jamo
        | 0x1780..=0x17FF   // Khmer
        | 0x3040..=0x30FF   // Hiragana, Katakana
        | 0x3130..=0x318F   // Hangul compatibility jamo
        | 0x31F0..=0x31FF   // Katakana extensions
        | 0x3400..=0x4DBF   // CJK extension A
        | 0x4E00..=0x9FFF   // CJK unified ideographs
        | 0xAC00..=0xD7AF   // Hangul syllables
        | 0xF900..=0xFAFF   // CJK compatibility ideographs
        | 0x20000..=0x2FFFF)
}

/// Scripts whose combining marks are accents a listener does not type.
fn strips_marks(c: char) -> bool {
    matches!(c as u32, 0..=0x058F | 0x0590..=0x06FF | 0x1E00..=0x1FFF | 0xFB00..=0xFDFF | 0xFE70..=0xFEFF | 0xFF00..=0xFFEF)
}

/// Fold one character into `out` (possibly several characters, possibly none).
fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    // Typographic apostrophes and hyphens (General Punctuation, outside the blocks whose
    // marks are stripped below) read as their ASCII forms: "You’ll" is "you'll" → "youll".
    match c {
        '\u{2019}' | '\u{2018}' | '\u{02BC}' => {
            out.push('\'');
            return;
        }
        '\u{2010}'..='\u{2015}' => {
            out.push('-');
            return;
        }
        _ => {}
    }
    if !strips_marks(c) {
        for l in c.to_lowercase() {
            // A sign outside the Latin blocks can lowercase into them (U+212B ANGSTROM SIGN
            // → å): fold that too, so folding stays idempotent.
            if l != c && strips_marks(l) {
                fold_char(l, out);
            } else {
                out.push(l);
            }
        }
        return;
    }
    decompose_compatible(c, |d| {
        if is_combining_mark(d) || d == '\u{0640}' {
            return;
        }
        for l in d.to_lowercase() {
            match l {
                'ß' => out.push_str("ss"),
                'æ' => out.push_str("ae"),
                'œ' => out.push_str("oe"),
                'ø' => out.push('o'),
                'ł' => out.push('l'),
                'đ' | 'ð' => out.push('d'),
                'þ' => out.push_str("th"),
                'ı' => out.push('i'),
                'ς' => out.push('σ'),
                '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' | '\u{00B4}' => out.push('\''),
                '\u{2010}'..='\u{2015}' => out.push('-'),
                other => out.push(other),
            }
        }
    });
}

/// Fold a whole string (no tokenization): lowercase, diacritics and width folded.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        fold_char(c, &mut out);
    }
    out
}

fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        c.is_alphanumeric() || is_combining_mark(c)
    }
}

/// Words that carry no meaning in a title credit and are dropped on both sides.
fn is_dropped(word: &str) -> bool {
    matches!(word, "feat" | "ft" | "featuring")
}

/// Folded characters with the byte span of the original character they came from.
fn folded_chars(s: &str) -> Vec<(char, usize, usize)> {
    let mut out = Vec::with_capacity(s.len());
    let mut buf = String::new();
    for (i, c) in s.char_indices() {
        buf.clear();
        fold_char(c, &mut buf);
        let end = i + c.len_utf8();
        out.extend(buf.chars().map(|f| (f, i, end)));
    }
    out
}

/// Tokenize for indexing: words, joined forms, CJK unigrams and bigrams.
pub fn tokenize(s: &str) -> Vec<Token> {
    tokenize_inner(s, true)
}

/// Tokenize a query: words and CJK bigrams (unigrams only for a lone character).
pub fn tokenize_query(s: &str) -> Vec<Token> {
    tokenize_inner(s, false)
}

fn tokenize_inner(s: &str, index_side: bool) -> Vec<Token> {
    let chars = folded_chars(s);
    let mut tokens = Vec::new();
    // Word parts of the current compound; reused from word to word.
    let mut parts: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (c, start, _) = chars[i];
        if is_cjk(c) {
            let mut j = i;
            while j < chars.len() && (is_cjk(chars[j].0) || (is_combining_mark(chars[j].0) && j > i)) {
                j += 1;
            }
            push_cjk_run(&chars[i..j], index_side, &mut tokens);
            i = j;
            continue;
        }
        if c == '&' || c == '+' {
            tokens.push(Token {
                text: "and".into(),
                start,
                end: chars[i].2,
                kind: TokenKind::Word,
            });
            i += 1;
            continue;
        }
        if !is_word_char(c) {
            i += 1;
            continue;
        }
        // A compound: word parts joined by single inner punctuation, no spaces.
        parts.clear();
        let mut cur = String::new();
        let (mut cur_start, mut cur_end) = (start, start);
        let mut joined_any = false;
        while i < chars.len() {
            let (c, cs, ce) = chars[i];
            let next_is_word = || chars.get(i + 1).is_some_and(|n| is_word_char(n.0) && !is_cjk(n.0));
            let prev_is_word = !cur.is_empty();
            if is_word_char(c) && !is_cjk(c) {
                if cur.is_empty() {
                    cur_start = cs;
                }
                cur.push(c);
                cur_end = ce;
            } else if c == '\'' && prev_is_word {
                // apostrophes vanish inside and at the end of words
            } else if (c == '$' || c == '!') && prev_is_word && (c == '$' || next_is_word()) {
                cur.push(if c == '$' { 's' } else { 'i' });
                cur_end = ce;
            } else if matches!(c, '-' | '.' | '/' | '_') && prev_is_word && next_is_word() {
                parts.push(word(std::mem::take(&mut cur), cur_start, cur_end));
                joined_any = true;
            } else {
                break;
            }
            i += 1;
        }
        if !cur.is_empty() {
            parts.push(word(cur, cur_start, cur_end));
        }
        if index_side && joined_any && parts.len() > 1 {
            let text: String = parts.iter().map(|p| p.text.as_str()).collect();
            let (s0, e0) = (parts[0].start, parts[parts.len() - 1].end);
            tokens.append(&mut parts);
            tokens.push(Token {
                text,
                start: s0,
                end: e0,
                kind: TokenKind::Joined,
            });
        } else {
            tokens.append(&mut parts);
        }
    }
    tokens.retain(|t| !(t.kind == TokenKind::Word && is_dropped(&t.text)));
    tokens
}

fn word(mut text: String, start: usize, end: usize) -> Token {
    if text == "n" {
        text = "and".into();
    }
    Token {
        text,
        start,
        end,
        kind: TokenKind::Word,
    }
}

fn push_cjk_run(run: &[(char, usize, usize)], index_side: bool, out: &mut Vec<Token>) {
    // Group combining marks with their base so a bigram never splits a letter.
    let mut units: Vec<(String, usize, usize)> = Vec::new();
    for &(c, s, e) in run {
        match units.last_mut() {
            Some(u) if is_combining_mark(c) => {
                u.0.push(c);
                u.2 = e;
            }
            _ => units.push((c.to_string(), s, e)),
        }
    }
    if index_side || units.len() == 1 {
        for u in &units {
            out.push(Token {
                text: u.0.clone(),
                start: u.1,
                end: u.2,
                kind: TokenKind::CjkUnigram,
            });
        }
    }
    for w in units.windows(2) {
        out.push(Token {
            text: format!("{}{}", w[0].0, w[1].0),
            start: w[0].1,
            end: w[1].2,
            kind: TokenKind::CjkBigram,
        });
    }
}

/// The folded word sequence of a text, without joined forms: what "the same name" means.
pub fn words(s: &str) -> Vec<String> {
    tokenize_query(s).into_iter().map(|t| t.text).collect()
}

/// Key of a name for exact-match detection: its words concatenated, hashed.
/// `AC/DC`, `ac dc` and `ACDC` share a key; so do `Hello!` and `hello`.
pub fn name_key(s: &str) -> u64 {
    key_of_words(&words(s))
}

/// Hash a sequence of folded words into a name key.
pub fn key_of_words(words: &[String]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for w in words {
        h.update(w.as_bytes());
    }
    h.digest()
}

/// Keys under which a name counts as matched exactly: the name itself and, for names
/// that start with an article (`The Beatles`), the name without it.
pub fn name_keys(s: &str) -> Vec<u64> {
    let w = words(s);
    let mut keys = vec![key_of_words(&w)];
    if w.len() > 1
        && matches!(
            w[0].as_str(),
            "the" | "a" | "an" | "los" | "las" | "la" | "le" | "les" | "die" | "der" | "das"
        )
    {
        keys.push(key_of_words(&w[1..]));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        tokenize(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn folds_diacritics_case_and_width() {
        assert_eq!(fold("Beyoncé"), "beyonce");
        assert_eq!(fold("Mötley Crüe"), "motley crue");
        assert_eq!(fold("ＡＢＣ"), "abc");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("Sigur Rós"), "sigur ros");
        assert_eq!(fold("Røyksopp"), "royksopp");
        assert_eq!(fold("Кино"), "кино");
        assert_eq!(fold("Ἀθῆναι"), "αθηναι");
    }

    #[test]
    fn keeps_marks_that_are_letters() {
        assert_eq!(fold("が"), "が");
        assert_eq!(fold("한국"), "한국");
        assert_eq!(toks("नमस्ते दुनिया"), vec!["नमस्ते", "दुनिया"]);
    }

    #[test]
    fn credits_and_punctuation() {
        assert_eq!(toks("Hello (feat. Drake)"), vec!["hello", "drake"]);
        assert_eq!(toks("Simon & Garfunkel"), vec!["simon", "and", "garfunkel"]);
        assert_eq!(toks("Guns N' Roses"), vec!["guns", "and", "roses"]);
        assert_eq!(toks("Don't Stop"), vec!["dont", "stop"]);
        // Typographic apostrophes and hyphens fold like the ASCII ones.
        assert_eq!(toks("You’ll Understand"), vec!["youll", "understand"]);
        assert_eq!(toks("Rock ʼn’ Roll"), toks("Rock 'n' Roll"));
        assert_eq!(toks("Jay\u{2010}Z"), toks("Jay-Z"));
        assert_eq!(toks("Ke$ha"), vec!["kesha"]);
        assert_eq!(toks("P!nk"), vec!["pink"]);
        assert_eq!(toks("AC/DC"), vec!["ac", "dc", "acdc"]);
        assert_eq!(toks("Jay-Z"), vec!["jay", "z", "jayz"]);
        assert_eq!(toks("R.E.M."), vec!["r", "e", "m", "rem"]);
        assert_eq!(words("Jay-Z"), vec!["jay", "z"]);
    }

    #[test]
    fn cjk_runs() {
        assert_eq!(toks("東京事変"), vec!["東", "京", "事", "変", "東京", "京事", "事変"]);
        assert_eq!(words("東京事変"), vec!["東京", "京事", "事変"]);
        assert_eq!(words("愛"), vec!["愛"]);
        assert_eq!(toks("BTS 방탄"), vec!["bts", "방", "탄", "방탄"]);
    }

    #[test]
    fn spans_point_into_the_original() {
        let s = "Mötley Crüe";
        let t = tokenize(s);
        assert_eq!(&s[t[1].start..t[1].end], "Crüe");
    }

    #[test]
    fn name_keys_ignore_punctuation_and_articles() {
        assert_eq!(name_key("AC/DC"), name_key("ac dc"));
        assert_eq!(name_key("Hello!"), name_key("hello"));
        assert!(name_keys("The Beatles").contains(&name_key("beatles")));
        assert_ne!(name_key("Hello"), name_key("Hello Goodbye"));
    }
}
