//! Splitting Billboard credit strings ("Drake Featuring Rihanna", "Simon & Garfunkel")
//! into the primary artists they name.
//!
//! The rules, in order:
//!
//! 1. **Strong separators always split**: `Featuring`, `Feat.`, `Ft.`, `With`,
//!    `Duet With`, `Vs.` and `x`/`X`. `x` only counts between two plain words, so
//!    "Lil Nas X Featuring Cardi B" and "Machine Gun Kelly, X Ambassadors" keep their
//!    X. A separator word at the start or end of the credit is part of a name. A
//!    parenthesised group opening with one ("Peter Cetera (Duet With Chaka Khan)") is
//!    unwrapped; any other group belongs to the name before it ("Silk Sonic (Bruno
//!    Mars & Anderson .Paak)", "Was (Not Was)").
//! 2. **Weak separators** (`&`, `And`, `+`, `,`, `/`, `Or`) are also part of many
//!    act names ("Simon & Garfunkel", "Earth, Wind & Fire", "Gladys Knight And The
//!    Pips", "AC/DC", "Sammy Davis, Jr."), so a piece left by step 1 is cut there only
//!    on evidence. A name is *known* when it is credited somewhere with no separator
//!    ("Drake", "Cher"), or, for a multi-part name, when it appears in at least two
//!    different credit strings ("Florence + The Machine", alone and as a feature).
//!    - (a) If the piece can be cut into two or more parts that are all known, it is
//!      cut into as many as possible: "Marvin Gaye & Tammi Terrell" (both had solo
//!      hits), "The Weeknd, Travis Scott & Florence + The Machine" (three).
//!    - (b) Otherwise a piece credited on 3 or more songs is an established act and
//!      stays whole ("Ike & Tina Turner", "Peter, Paul & Mary"): this is the
//!      "Simon & Garfunkel" rule.
//!    - (c) Otherwise it is cut at every separator if at least one part is known and
//!      every unknown part looks like a name: it does not start with a band-tail word
//!      (`The`, `His`, `Her`, `Orchestra`, `Jr.`, ...), and in a two-part credit
//!      both parts are known or have two or more words ("Rauw Alejandro & Laura
//!      Pausini" and "Beyonce & Arrow Benjamin" split; "Love And Rockets", "Cathy &
//!      Joe", "Davie Allan And The Arrows"... stay whole unless rule a applies).
//!    - (d) Otherwise it stays whole.
//!
//!    Duos whose members both charted on their own ("Sonny & Cher") are split by
//!    rule a: the data cannot tell an act from a one-off duet, and linking both
//!    performers is the more useful error for search than missing "Drake" on
//!    "Drake & 21 Savage".
//!
//! Names are compared by [`artist_key`] (case, punctuation, `&`/`and`/`+` insensitive).

use super::credit_lex::{pieces, unwrap_parens};
use super::text::slugify;
use std::collections::{HashMap, HashSet};

/// The normalised key of an artist name, used for artist ids and for matching.
pub(crate) fn artist_key(name: &str) -> String {
    slugify(&name.replace(" + ", " & "), 160)
}

/// Credits of at least this many songs make a multi-part name an established act.
const ACT_SONGS: u32 = 3;

/// First words of a part that continues an act name ("... And The Pips", "... And His
/// Orchestra") rather than naming another artist.
const TAIL_WORDS: &[&str] = &[
    "the",
    "his",
    "her",
    "their",
    "our",
    "los",
    "las",
    "la",
    "el",
    "les",
    "di",
    "jr.",
    "jr",
    "sr.",
    "inc.",
    "ltd.",
    "etc.",
    "co.",
    "company",
    "orchestra",
    "band",
    "chorus",
    "friends",
    "singers",
];

/// Names that may stand alone as an artist, learned from all credit strings.
#[derive(Debug, Default)]
pub(crate) struct KnownArtists {
    known: HashSet<String>,
    /// Songs credited to each multi-part piece ("Ike & Tina Turner").
    songs: HashMap<String, u32>,
}

impl KnownArtists {
    /// Learn from the credit string of every song of the dataset.
    pub(crate) fn from_credits<'a>(credits: impl IntoIterator<Item = &'a str>) -> KnownArtists {
        let mut known = HashSet::new();
        let mut songs: HashMap<String, u32> = HashMap::new();
        let mut multi: HashMap<String, u32> = HashMap::new();
        let mut seen = HashSet::new();
        for credit in credits {
            let first = seen.insert(credit);
            let s = unwrap_parens(credit);
            let mut here = HashSet::new();
            for piece in pieces(&s) {
                let key = artist_key(&s[piece[0].0..piece[piece.len() - 1].1]);
                if piece.len() == 1 {
                    known.insert(key);
                } else if here.insert(key.clone()) {
                    *songs.entry(key.clone()).or_insert(0) += 1;
                    if first {
                        *multi.entry(key).or_insert(0) += 1;
                    }
                }
            }
        }
        known.extend(multi.into_iter().filter(|(_, n)| *n >= 2).map(|(k, _)| k));
        KnownArtists { known, songs }
    }

    fn contains(&self, name: &str) -> bool {
        self.known.contains(&artist_key(name))
    }

    /// The primary artists named by `credit`, in credit order, without duplicates.
    pub(crate) fn split(&self, credit: &str) -> Vec<String> {
        let s = unwrap_parens(credit);
        let mut out: Vec<String> = Vec::new();
        for piece in pieces(&s) {
            for name in self.cut(&s, &piece) {
                let name = name.trim_matches(|c: char| c.is_whitespace() || c == ',').to_string();
                if !name.is_empty() && !out.iter().any(|o| artist_key(o) == artist_key(&name)) {
                    out.push(name);
                }
            }
        }
        out
    }

    /// Cut one piece at weak separators: into the most parts that are all known; else,
    /// unless the whole is an established act, at every separator when at least one
    /// part is known and the unknown ones look like names; else keep it whole.
    fn cut<'a>(&self, s: &'a str, units: &[(usize, usize)]) -> Vec<&'a str> {
        let n = units.len();
        let span = |i: usize, j: usize| &s[units[i].0..units[j].1];
        let whole = vec![span(0, n - 1)];
        if n == 1 {
            return whole;
        }
        let strict = self.best_cut(n, |i, j| self.contains(span(i, j)).then_some(true));
        if let Some(parts) = strict.filter(|p| p.len() > 1) {
            return parts.into_iter().map(|(i, j)| span(i, j)).collect();
        }
        if self.songs.get(&artist_key(whole[0])).is_some_and(|n| *n >= ACT_SONGS) {
            return whole;
        }
        // In a two-name credit both names must be full names: "Love And Rockets",
        // "Cathy & Joe" stay whole; lists of three or more are collaborations.
        let words = |i: usize, j: usize| span(i, j).split_whitespace().count();
        let min_words = if n >= 3 { 1 } else { 2 };
        let name_like = |i: usize, j: usize| {
            let first = span(i, j).split_whitespace().next().unwrap_or("").to_lowercase();
            !TAIL_WORDS.contains(&first.as_str())
        };
        let relaxed = self.best_cut(n, |i, j| {
            if self.contains(span(i, j)) {
                Some(true)
            } else if words(i, j) < min_words {
                None
            } else {
                (i == j && name_like(i, j)).then_some(false)
            }
        });
        match relaxed {
            Some(parts) if parts.len() > 1 && parts.iter().any(|&(i, j)| self.contains(span(i, j))) => {
                parts.into_iter().map(|(i, j)| span(i, j)).collect()
            }
            _ => whole,
        }
    }

    /// The segmentation of `0..n` into unit ranges `(i, j)` (inclusive) maximising
    /// (known segments, -unknown segments), where `allowed(i, j)` says whether a
    /// segment may be used and whether it is known. `None` when no segmentation exists.
    fn best_cut(&self, n: usize, allowed: impl Fn(usize, usize) -> Option<bool>) -> Option<Vec<(usize, usize)>> {
        // best[i] = (score of units[i..], end of the first segment)
        let mut best: Vec<Option<((i64, i64), usize)>> = vec![None; n + 1];
        best[n] = Some(((0, 0), n));
        for i in (0..n).rev() {
            for j in i..n {
                let (Some(known), Some(((k, u), _))) = (allowed(i, j), best[j + 1]) else {
                    continue;
                };
                let score = if known { (k + 1, u) } else { (k, u - 1) };
                if best[i].is_none_or(|(b, _)| score > b) {
                    best[i] = Some((score, j + 1));
                }
            }
        }
        best[0]?;
        let mut parts = Vec::new();
        let mut i = 0;
        while i < n {
            let (_, next) = best[i]?;
            parts.push((i, next - 1));
            i = next;
        }
        Some(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chart's credit strings, one per song, separated by `|`.
    const CREDITS: &str = "\
        Drake|Rihanna|Cher|Marvin Gaye|Tammi Terrell|Marvin Gaye & Tammi Terrell|\
        Simon & Garfunkel|The Weeknd|Travis Scott|Florence + The Machine|\
        Taylor Swift Featuring Florence + The Machine|Gladys Knight|\
        Gladys Knight And The Pips|Earth, Wind & Fire|\
        Sammy Davis, Jr. with The Mike Curb Congregation|AC/DC|Lil Nas X|Cardi B|\
        X Ambassadors|Machine Gun Kelly|Bebe Rexha|Nicki Minaj|Lil Baby|\
        Perry Como With Mitchell Ayers And His Orchestra|David Crosby|Graham Nash|\
        Toby Keith|Willie Nelson|Lola Brooke|Billy B|Latto|Yung Miami|Rauw Alejandro|\
        Tina Turner|Ike & Tina Turner|Ike & Tina Turner|Ike & Tina Turner|Bruno Mars|\
        Hugo Montenegro|Peter Cetera|Chaka Khan";

    fn split(credit: &str) -> Vec<String> {
        let known = KnownArtists::from_credits(CREDITS.split('|'));
        known.split(credit)
    }

    /// Each case is "credit => artist | artist".
    fn check(cases: &[&str]) {
        for case in cases {
            let (credit, want) = case.split_once(" => ").unwrap();
            let want: Vec<&str> = want.split(" | ").collect();
            assert_eq!(split(credit), want, "{credit}");
        }
    }

    #[test]
    fn strong_separators_always_split() {
        check(&[
            "Drake Featuring Rihanna => Drake | Rihanna",
            "Drake feat. Unknown Person => Drake | Unknown Person",
            "Nicki Minaj X Lil Baby => Nicki Minaj | Lil Baby",
            "Toby Keith Duet With Willie Nelson => Toby Keith | Willie Nelson",
            "Sammy Davis, Jr. with The Mike Curb Congregation => Sammy Davis, Jr. | The Mike Curb Congregation",
            "Perry Como With Mitchell Ayers And His Orchestra => Perry Como | Mitchell Ayers And His Orchestra",
        ]);
    }

    #[test]
    fn x_inside_names() {
        check(&[
            "Lil Nas X Featuring Cardi B => Lil Nas X | Cardi B",
            "Lil Nas X & Cardi B => Lil Nas X | Cardi B",
            "Machine Gun Kelly, X Ambassadors & Bebe Rexha => Machine Gun Kelly | X Ambassadors | Bebe Rexha",
            "X Ambassadors => X Ambassadors",
            "Lola Brooke X Latto X Yung Miami Or Featuring Billy B => Lola Brooke | Latto | Yung Miami | Billy B",
        ]);
    }

    #[test]
    fn weak_separators_need_known_parts() {
        check(&[
            "Simon & Garfunkel => Simon & Garfunkel",
            "Marvin Gaye & Tammi Terrell => Marvin Gaye | Tammi Terrell",
            "Earth, Wind & Fire => Earth, Wind & Fire",
            "Gladys Knight And The Pips => Gladys Knight And The Pips",
            "AC/DC => AC/DC",
            "David Crosby/Graham Nash => David Crosby | Graham Nash",
            "The Weeknd, Travis Scott & Florence + The Machine => The Weeknd | Travis Scott | Florence + The Machine",
            "Cher and Drake & Rihanna => Cher | Drake | Rihanna",
        ]);
    }

    #[test]
    fn one_known_part_is_enough_for_one_off_duets() {
        check(&[
            "Rauw Alejandro & Laura Pausini => Rauw Alejandro | Laura Pausini",
            "Drake, Some One & Other Person => Drake | Some One | Other Person",
            "Cher & Laura Pausini => Cher | Laura Pausini",
            "Cher, Joe & Drake => Cher | Joe | Drake",
            // ... but not for established acts, band tails, short names or unknown-only names.
            "Drake, Some One & The Others => Drake, Some One & The Others",
            "Ike & Tina Turner => Ike & Tina Turner",
            "Hugo Montenegro, His Orchestra And Chorus => Hugo Montenegro, His Orchestra And Chorus",
            "Bruno Mars & The Hooligans => Bruno Mars & The Hooligans",
            "Peaches & Herb => Peaches & Herb",
            "Cher & Joe => Cher & Joe",
        ]);
    }

    #[test]
    fn parentheses() {
        check(&[
            "Peter Cetera (Duet With Chaka Khan) => Peter Cetera | Chaka Khan",
            "Linda Ronstadt (Featuring Aaron Neville) => Linda Ronstadt | Aaron Neville",
            "Silk Sonic (Bruno Mars & Anderson .Paak) => Silk Sonic (Bruno Mars & Anderson .Paak)",
            "Was (Not Was) => Was (Not Was)",
            "(Featuring => Featuring",
        ]);
    }

    #[test]
    fn odd_input_does_not_panic() {
        let odd = "|| |&|Featuring|(|)|((x)|a (with|a (b & c|X|x x x|A &|, ,|/|a//b|Ünïcödé / ñ|With And";
        for s in odd.split('|') {
            let out = split(s);
            assert!(out.iter().all(|n| !n.trim().is_empty()), "{s:?} -> {out:?}");
        }
        check(&["With Love => With Love", "Drake & Drake => Drake"]);
    }

    #[test]
    fn keys_ignore_case_and_conjunctions() {
        let key = artist_key;
        assert_eq!(
            key("Tom Petty & The Heartbreakers"),
            key("Tom Petty And The Heartbreakers")
        );
        assert_eq!(key("Florence + The Machine"), key("Florence and the Machine"));
    }
}
