//! Splitting Billboard credit strings ("Drake Featuring Rihanna", "Simon & Garfunkel")
//! into the primary artists they name.
//!
//! The rules, in order:
//!
//! 1. **Strong separators always split**: `Featuring`, `Feat.`, `Ft.`, `With`,
//!    `Duet With`, `Vs.` and `x`/`X`. `x` only counts between two plain words, so
//!    "Lil Nas X Featuring Cardi B" and "Machine Gun Kelly, X Ambassadors" keep their
//!    X. A separator word at the start or end of the credit is part of a name.
//! 2. **Weak separators split only when every part is credited on its own**: `&`,
//!    `And`, `+`, `,`, `/` and `Or` are also part of many act names ("Simon &
//!    Garfunkel", "Earth, Wind & Fire", "Gladys Knight And The Pips", "AC/DC",
//!    "Sammy Davis, Jr."). A piece left by step 1 is cut at weak separators into the
//!    largest number of parts that are each *known*: a name credited somewhere without
//!    any separator ("Drake", "Cher"), or a multi-part name that appears in at least
//!    two different credit strings ("Florence + The Machine", credited alone and as a
//!    feature). When no such cut exists the piece stays whole. So "Marvin Gaye & Tammi
//!    Terrell" splits (both had solo hits) while "Simon & Garfunkel" does not (there is
//!    no solo "Garfunkel"), and "The Weeknd, Travis Scott & Florence + The Machine"
//!    yields three artists. Duos whose members both charted solo ("Sonny & Cher") are
//!    split too: the data cannot tell an act from a one-off duet, and crediting both
//!    performers is the more useful error for search.
//!
//! Names are compared by [`artist_key`] (case, punctuation, `&`/`and`/`+` insensitive).

use super::text::slugify;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Strong,
    Weak,
}

/// A span of the credit string and what it is.
#[derive(Debug, Clone, Copy)]
struct Tok {
    start: usize,
    end: usize,
    kind: Kind,
}

/// The normalised key of an artist name, used for artist ids and for matching.
pub(crate) fn artist_key(name: &str) -> String {
    slugify(&name.replace(" + ", " & "), 160)
}

fn candidate(word: &str, next: Option<&str>) -> Kind {
    let w = word.to_lowercase();
    match w.as_str() {
        "featuring" | "feat." | "feat" | "ft." | "ft" | "with" | "vs." | "vs" | "x" => Kind::Strong,
        "duet" if next.is_some_and(|n| n.eq_ignore_ascii_case("with")) => Kind::Strong,
        "&" | "and" | "+" | "/" | "," | "or" => Kind::Weak,
        _ => Kind::Word,
    }
}

/// Split into words, detaching trailing commas and unspaced slashes, then decide which
/// separator candidates really separate names.
fn lex(s: &str) -> Vec<Tok> {
    let mut raw: Vec<(usize, usize)> = Vec::new();
    let mut push_word = |start: usize, word: &str| {
        let (body, comma) = match word.strip_suffix(',') {
            Some(b) if !b.is_empty() => (b, true),
            _ => (word, false),
        };
        let mut pos = start;
        let parts: Vec<&str> = body.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                raw.push((pos, pos + 1));
                pos += 1;
            }
            if !part.is_empty() {
                raw.push((pos, pos + part.len()));
            }
            pos += part.len();
        }
        if comma {
            raw.push((pos, pos + 1));
        }
    };
    let mut start = None;
    for (i, c) in s.char_indices().chain(std::iter::once((s.len(), ' '))) {
        match (c.is_whitespace(), start) {
            (true, Some(st)) => {
                push_word(st, &s[st..i]);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    let text = |t: &(usize, usize)| &s[t.0..t.1];
    let mut kinds: Vec<Kind> =
        (0..raw.len()).map(|i| candidate(text(&raw[i]), raw.get(i + 1).map(text))).collect();
    // `x` separates only two plain words.
    for i in 0..raw.len() {
        if text(&raw[i]).eq_ignore_ascii_case("x") {
            let plain = |j: Option<usize>| j.and_then(|j| kinds.get(j)).is_some_and(|k| *k == Kind::Word);
            if !(plain(i.checked_sub(1)) && plain(Some(i + 1))) {
                kinds[i] = Kind::Word;
            }
        }
    }
    // Runs of separators merge into one (the strongest); runs at either end are words.
    let mut toks: Vec<Tok> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if kinds[i] == Kind::Word {
            toks.push(Tok { start: raw[i].0, end: raw[i].1, kind: Kind::Word });
            i += 1;
            continue;
        }
        let mut j = i;
        let mut kind = Kind::Weak;
        while j < raw.len() && kinds[j] != Kind::Word {
            if kinds[j] == Kind::Strong {
                kind = Kind::Strong;
            }
            j += 1;
        }
        let at_edge = i == 0 || j == raw.len();
        for r in &raw[i..j] {
            let k = if at_edge { Kind::Word } else { kind };
            toks.push(Tok { start: r.0, end: r.1, kind: k });
        }
        i = j;
    }
    toks
}

/// A credit cut at strong separators; each piece is a list of word runs (`units`) that
/// were separated by weak separators, as byte ranges into the credit.
fn pieces(s: &str) -> Vec<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    let mut piece: Vec<(usize, usize)> = Vec::new();
    let mut unit: Option<(usize, usize)> = None;
    for t in lex(s) {
        match t.kind {
            Kind::Word => unit = Some(unit.map_or((t.start, t.end), |(a, _)| (a, t.end))),
            Kind::Weak => piece.extend(unit.take()),
            Kind::Strong => {
                piece.extend(unit.take());
                if !piece.is_empty() {
                    out.push(std::mem::take(&mut piece));
                }
            }
        }
    }
    piece.extend(unit.take());
    if !piece.is_empty() {
        out.push(piece);
    }
    out
}

/// Names that may stand alone as an artist, learned from all credit strings.
#[derive(Debug, Default)]
pub(crate) struct KnownArtists {
    known: HashSet<String>,
}

impl KnownArtists {
    /// Learn from every distinct credit string of the dataset.
    pub(crate) fn from_credits<'a>(credits: impl IntoIterator<Item = &'a str>) -> KnownArtists {
        let mut known = HashSet::new();
        let mut multi: HashMap<String, u32> = HashMap::new();
        let mut seen = HashSet::new();
        for credit in credits {
            if !seen.insert(credit) {
                continue;
            }
            let mut here = HashSet::new();
            for piece in pieces(credit) {
                let text = &credit[piece[0].0..piece[piece.len() - 1].1];
                let key = artist_key(text);
                if piece.len() == 1 {
                    known.insert(key);
                } else if here.insert(key.clone()) {
                    *multi.entry(key).or_insert(0) += 1;
                }
            }
        }
        known.extend(multi.into_iter().filter(|(_, n)| *n >= 2).map(|(k, _)| k));
        KnownArtists { known }
    }

    fn contains(&self, name: &str) -> bool {
        self.known.contains(&artist_key(name))
    }

    /// The primary artists named by `credit`, in credit order, without duplicates.
    pub(crate) fn split(&self, credit: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for piece in pieces(credit) {
            for name in self.cut(credit, &piece) {
                let name = name.trim_matches(|c: char| c.is_whitespace() || c == ',').to_string();
                if !name.is_empty() && !out.iter().any(|o| artist_key(o) == artist_key(&name)) {
                    out.push(name);
                }
            }
        }
        out
    }

    /// Cut one piece into the most parts that are all known (or keep it whole).
    fn cut<'a>(&self, s: &'a str, units: &[(usize, usize)]) -> Vec<&'a str> {
        let n = units.len();
        let span = |i: usize, j: usize| &s[units[i].0..units[j].1];
        if n == 1 {
            return vec![span(0, 0)];
        }
        // best[i] = most known segments covering units[i..], with the first cut.
        let mut best: Vec<Option<(usize, usize)>> = vec![None; n + 1];
        best[n] = Some((0, n));
        for i in (0..n).rev() {
            for j in i..n {
                if let (true, Some((count, _))) = (self.contains(span(i, j)), best[j + 1]) {
                    if best[i].is_none_or(|(c, _)| count + 1 > c) {
                        best[i] = Some((count + 1, j + 1));
                    }
                }
            }
        }
        if best[0].is_none() {
            return vec![span(0, n - 1)];
        }
        let mut parts = Vec::new();
        let mut i = 0;
        while let Some((_, next)) = best[i].filter(|_| i < n) {
            parts.push(span(i, next - 1));
            i = next;
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDITS: &[&str] = &[
        "Drake", "Rihanna", "Cher", "Marvin Gaye", "Tammi Terrell", "Marvin Gaye & Tammi Terrell",
        "Simon & Garfunkel", "The Weeknd", "Travis Scott", "Florence + The Machine",
        "Taylor Swift Featuring Florence + The Machine", "Gladys Knight", "Gladys Knight And The Pips",
        "Earth, Wind & Fire", "Sammy Davis, Jr. with The Mike Curb Congregation", "AC/DC",
        "Lil Nas X", "Cardi B", "X Ambassadors", "Machine Gun Kelly", "Bebe Rexha", "Nicki Minaj",
        "Lil Baby", "Perry Como With Mitchell Ayers And His Orchestra", "David Crosby", "Graham Nash",
        "Toby Keith", "Willie Nelson", "Lola Brooke", "Billy B", "Latto", "Yung Miami",
    ];

    fn split(credit: &str) -> Vec<String> {
        let known = KnownArtists::from_credits(CREDITS.iter().copied());
        known.split(credit)
    }

    #[test]
    fn strong_separators_always_split() {
        assert_eq!(split("Drake Featuring Rihanna"), ["Drake", "Rihanna"]);
        assert_eq!(split("Drake feat. Unknown Person"), ["Drake", "Unknown Person"]);
        assert_eq!(split("Nicki Minaj X Lil Baby"), ["Nicki Minaj", "Lil Baby"]);
        assert_eq!(split("Toby Keith Duet With Willie Nelson"), ["Toby Keith", "Willie Nelson"]);
        assert_eq!(
            split("Sammy Davis, Jr. with The Mike Curb Congregation"),
            ["Sammy Davis, Jr.", "The Mike Curb Congregation"]
        );
        assert_eq!(split("Perry Como With Mitchell Ayers And His Orchestra"), ["Perry Como", "Mitchell Ayers And His Orchestra"]);
    }

    #[test]
    fn x_inside_names() {
        assert_eq!(split("Lil Nas X Featuring Cardi B"), ["Lil Nas X", "Cardi B"]);
        assert_eq!(split("Lil Nas X & Cardi B"), ["Lil Nas X", "Cardi B"]);
        assert_eq!(split("Machine Gun Kelly, X Ambassadors & Bebe Rexha"), ["Machine Gun Kelly", "X Ambassadors", "Bebe Rexha"]);
        assert_eq!(split("X Ambassadors"), ["X Ambassadors"]);
        assert_eq!(split("Lola Brooke X Latto X Yung Miami Or Featuring Billy B"), ["Lola Brooke", "Latto", "Yung Miami", "Billy B"]);
    }

    #[test]
    fn weak_separators_need_known_parts() {
        assert_eq!(split("Simon & Garfunkel"), ["Simon & Garfunkel"]);
        assert_eq!(split("Marvin Gaye & Tammi Terrell"), ["Marvin Gaye", "Tammi Terrell"]);
        assert_eq!(split("Earth, Wind & Fire"), ["Earth, Wind & Fire"]);
        assert_eq!(split("Gladys Knight And The Pips"), ["Gladys Knight And The Pips"]);
        assert_eq!(split("AC/DC"), ["AC/DC"]);
        assert_eq!(split("David Crosby/Graham Nash"), ["David Crosby", "Graham Nash"]);
        assert_eq!(
            split("The Weeknd, Travis Scott & Florence + The Machine"),
            ["The Weeknd", "Travis Scott", "Florence + The Machine"]
        );
        assert_eq!(split("Cher and Drake & Rihanna"), ["Cher", "Drake", "Rihanna"]);
    }

    #[test]
    fn odd_input_does_not_panic() {
        for s in ["", " ", "&", "Featuring", "X", "x x x", "A &", ", ,", "/", "a//b", "Ünïcödé / ñ", "With Featuring And"] {
            let out = split(s);
            assert!(out.iter().all(|n| !n.trim().is_empty()), "{s:?} -> {out:?}");
        }
        assert_eq!(split("With Love"), ["With Love"]);
        assert_eq!(split("Drake & Drake"), ["Drake"]);
    }

    #[test]
    fn keys_ignore_case_and_conjunctions() {
        assert_eq!(artist_key("Tom Petty & The Heartbreakers"), artist_key("Tom Petty And The Heartbreakers"));
        assert_eq!(artist_key("Florence + The Machine"), artist_key("Florence and the Machine"));
    }
}
