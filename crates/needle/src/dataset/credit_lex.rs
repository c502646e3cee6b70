//! Tokenising Billboard credit strings for [`super::credits`]: words, strong
//! separators (`Featuring`, `With`, `x`, ...) and weak ones (`&`, `And`, `,`, ...).

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
    let mut kinds: Vec<Kind> = (0..raw.len())
        .map(|i| candidate(text(&raw[i]), raw.get(i + 1).map(text)))
        .collect();
    // Words inside a parenthesised group belong to the name before it:
    // "Silk Sonic (Bruno Mars & Anderson .Paak)".
    let mut depth = 0i32;
    for (i, r) in raw.iter().enumerate() {
        let t = text(r);
        if depth > 0 || t.starts_with('(') {
            kinds[i] = Kind::Word;
        }
        depth = (depth + t.matches('(').count() as i32 - t.matches(')').count() as i32).max(0);
    }
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
            toks.push(Tok {
                start: raw[i].0,
                end: raw[i].1,
                kind: Kind::Word,
            });
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
            toks.push(Tok {
                start: r.0,
                end: r.1,
                kind: k,
            });
        }
        i = j;
    }
    toks
}

/// Blank out the parentheses of a group that starts with a featuring word, so that
/// "Peter Cetera (Duet With Chaka Khan)" reads "Peter Cetera  Duet With Chaka Khan ".
pub(crate) fn unwrap_parens(s: &str) -> String {
    let mut out = s.to_string();
    let mut from = 0;
    while let Some(open) = out[from..].find('(').map(|i| i + from) {
        let word = out[open + 1..].split_whitespace().next().unwrap_or("");
        let close = out[open..].find(')').map(|i| i + open);
        if matches!(candidate(word, Some("with")), Kind::Strong) {
            // Same byte length, so ranges stay valid.
            out.replace_range(open..open + 1, " ");
            if let Some(c) = close {
                out.replace_range(c..c + 1, " ");
            }
        }
        from = open + 1;
    }
    out
}

/// A credit cut at strong separators; each piece is a list of word runs (`units`) that
/// were separated by weak separators, as byte ranges into the credit.
pub(crate) fn pieces(s: &str) -> Vec<Vec<(usize, usize)>> {
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
