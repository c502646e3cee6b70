//! Flattening Changelog transcript markdown to plain text for the `transcript` field.

use super::text::decode_html;

/// Flatten a transcript's markdown to plain text: one line per paragraph, without
/// `**Speaker:**` labels, `\[12:34\]` / `\[01:02:03.45\]` timestamps (also inside
/// notes: `\[unintelligible 00:12:34.56\]` -> `[unintelligible]`), heading and quote
/// markers, bold/italic stars, link targets (`[text](url)` -> `text`), simple HTML
/// tags and backslash escapes; HTML entities are decoded. Stage notes such as
/// `[laughs]` are kept.
pub(crate) fn clean_transcript(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    for raw in md.lines() {
        let line = raw.trim_start_matches(|c: char| c.is_whitespace() || c == '#' || c == '>');
        let line = strip_speaker(line);
        let plain = inline(line);
        let text = decode_html(&plain);
        let mut words = text.split_whitespace().peekable();
        if words.peek().is_none() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        for (i, w) in words.enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(w);
        }
    }
    out
}

/// Drop a leading `**Name:**` (or `**Name**:`) label.
fn strip_speaker(line: &str) -> &str {
    let Some(rest) = line.strip_prefix("**") else {
        return line;
    };
    let Some(end) = rest.find("**") else {
        return line;
    };
    let label = &rest[..end];
    let after = &rest[end + 2..];
    if label.ends_with(':') && label.len() <= 80 {
        return after;
    }
    match after.strip_prefix(':') {
        Some(after) if label.len() <= 80 && !label.is_empty() => after,
        _ => line,
    }
}

/// Inline markdown to text (see [`clean_transcript`]).
fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        // Copy plain text up to the next character that may start markup.
        let plain = rest.find(['\\', '*', '[', '<']).unwrap_or(rest.len());
        out.push_str(&rest[..plain]);
        rest = &rest[plain..];
        let Some(c) = rest.chars().next() else { break };
        if let Some(after) = rest.strip_prefix("\\[") {
            if let Some(end) = after.find("\\]") {
                let raw_note = &after[..end];
                let note = raw_note.replace('\\', "");
                rest = &after[end + 2..];
                match strip_timestamp(&note) {
                    "" => {
                        // A range: `\[25:59\] to \[27:11\]`.
                        if let Some(next) = rest.trim_start().strip_prefix("to \\[") {
                            if let Some(e) = next.find("\\]") {
                                if strip_timestamp(&next[..e].replace('\\', "")).is_empty() {
                                    rest = &next[e + 2..];
                                }
                            }
                        }
                    }
                    kept => {
                        out.push('[');
                        if kept.len() == note.trim().len() {
                            out.push_str(&inline(raw_note)); // an editor's note with markup
                        } else {
                            out.push_str(kept);
                        }
                        out.push(']');
                    }
                }
                continue;
            }
        }
        match c {
            '\\' => {
                let mut it = rest[1..].chars();
                match it.next() {
                    Some(n) if n.is_ascii_punctuation() || !n.is_alphanumeric() => {
                        out.push(n);
                        rest = &rest[1 + n.len_utf8()..];
                    }
                    _ => {
                        out.push('\\');
                        rest = &rest[1..];
                    }
                }
            }
            '*' => rest = &rest[1..],
            '[' => {
                // `[text](url)` -> `text`; unescaped `[01:02:03.45]` timestamps too.
                if let Some(close) = closing_bracket(&rest[1..]) {
                    let inner = &rest[1..1 + close];
                    let tail = &rest[close + 2..];
                    if let Some(p) = tail.strip_prefix('(').and_then(closing_paren) {
                        out.push_str(&inline(inner));
                        rest = &tail[p + 2..];
                        continue;
                    }
                    let kept = strip_timestamp(inner);
                    if kept.len() != inner.trim().len() {
                        if !kept.is_empty() {
                            out.push('[');
                            out.push_str(kept);
                            out.push(']');
                        }
                        rest = tail;
                        continue;
                    }
                }
                out.push('[');
                rest = &rest[1..];
            }
            '<' => match html_tag_len(rest) {
                Some(len) => rest = &rest[len..],
                None => {
                    out.push('<');
                    rest = &rest[1..];
                }
            },
            _ => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// Byte offset of the `)` closing a link target, allowing balanced parentheses (and
/// the stray spaces some URLs in the data have) inside.
fn closing_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' if depth == 0 => return Some(i),
            b')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Byte offset of the `]` matching an already consumed `[`, skipping nested pairs.
fn closing_bracket(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut escaped = false;
    for (i, b) in s.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'[' => depth += 1,
            b']' if depth == 0 => return Some(i),
            b']' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The note without a trailing timestamp (`""` when it was only a timestamp):
/// `01:46`, `01:02:03.45`, `00:11: 57.25`, `unintelligible 00:12:34.56`.
fn strip_timestamp(note: &str) -> &str {
    let note = note.trim();
    let head = note.trim_end_matches(|c: char| c.is_ascii_digit() || matches!(c, ':' | '.' | ' '));
    let suffix = &note[head.len()..];
    let is_ts = suffix.contains(':')
        && suffix.bytes().filter(u8::is_ascii_digit).count() >= 3
        && (head.is_empty() || suffix.starts_with(' '));
    if is_ts {
        head.trim_end()
    } else {
        note
    }
}

/// Length of a simple HTML tag at the start of `s` (`<sup>`, `</strike>`, `<br/>`).
fn html_tag_len(s: &str) -> Option<usize> {
    const TAGS: &[&str] = &[
        "a", "b", "i", "u", "s", "em", "strong", "strike", "sup", "sub", "pre", "code", "br", "p", "span", "del",
    ];
    let end = s.find('>')?;
    let inner = s[1..end].trim_start_matches('/').trim_end_matches('/');
    let name = inner.split_whitespace().next()?;
    TAGS.contains(&name.to_ascii_lowercase().as_str()).then_some(end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_become_plain_text() {
        let md = "**Tim Smith:** \\[01:46\\] Hello *world* \\[laughs\\]\n\n\
                  He said \\*not\\* \\#1 &quot;ok&quot; [docs](https://x.io/a_(b)) <sup>2</sup>\n\n\
                  # **Break:** \\[25:59\\] to \\[27:11\\]\n\n\
                  > **Jerod Santo:** \\[unintelligible 00:12:34.56\\] and \\[\\\\01:02:03.45\\]   end\n\
                  **Bold** words and a_b and C:\\\\path";
        assert_eq!(
            clean_transcript(md),
            "Hello world [laughs]\nHe said *not* #1 \"ok\" docs 2\n[unintelligible] and end\nBold words and a_b and C:\\path"
        );
    }

    #[test]
    fn links_and_bare_timestamps() {
        let md = "see [PR #1](https://x.io/pull/1) and [a [BLEEP] b](https://y.io/a (b)) \\[[x]\\]\n\
                  [01:03:14.15] It [01:06:45.24] goes [laughs] on _[see [c](d) —Ed.]_ _\\[see [e](f) \\*x\\*\\]_";
        assert_eq!(
            clean_transcript(md),
            "see PR #1 and a [BLEEP] b [[x]]\nIt goes [laughs] on _[see c —Ed.]_ _[see e *x*]_"
        );
    }

    #[test]
    fn odd_markup_does_not_panic() {
        for md in [
            "", "\\", "\\[", "\\[12:", "[", "[a](", "<", "<sup", "**", "**:", "ü\\ü", "\\[ \\]", "#", "> > >",
        ] {
            let _ = clean_transcript(md);
        }
        assert_eq!(clean_transcript("\\[ \\] x"), "x");
    }

    #[test]
    fn timestamps() {
        assert_eq!(strip_timestamp("01:46"), "");
        assert_eq!(strip_timestamp("01:02:03.45"), "");
        assert_eq!(strip_timestamp("unintelligible 00:12:34.56"), "unintelligible");
        assert_eq!(strip_timestamp("laughs"), "laughs");
        assert_eq!(strip_timestamp("at"), "at");
        assert_eq!(strip_timestamp("12:ab"), "12:ab");
        assert_eq!(strip_timestamp("00:11: 57.25"), "");
        assert_eq!(strip_timestamp("1:1"), "1:1");
        assert_eq!(strip_timestamp("version 2.0"), "version 2.0");
        assert_eq!(strip_timestamp("route66:12"), "route66:12");
    }

    #[test]
    fn speaker_labels() {
        assert_eq!(strip_speaker("**A:** x"), " x");
        assert_eq!(strip_speaker("**A**: x"), " x");
        assert_eq!(strip_speaker("**bold** x"), "**bold** x");
    }
}
