//! Small text helpers shared by the converters: entity decoding, name cleaning, slugs,
//! ids and line-oriented input.

use super::entities;
use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;
use fs_err::File;
use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Decode HTML character references, repeating (at most three times) for text that was
/// escaped more than once, as feeds often are (`&amp;amp;`, `&amp;#39;`).
pub(crate) fn decode_html(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut cur = s.to_string();
    for _ in 0..3 {
        if !cur.contains('&') {
            break;
        }
        let next = entities::decode_once(&cur);
        if next == cur {
            break;
        }
        cur = next;
    }
    Cow::Owned(cur)
}

/// A display name: entities decoded, HTML tags of known elements removed (`<i>`,
/// `<br />`, `<a href=...>`; a `<Mr.K>` that names no HTML element stays), control
/// characters dropped, whitespace runs collapsed to one space, trimmed. Empty when
/// nothing printable is left.
pub(crate) fn clean_name(s: &str) -> String {
    let decoded = decode_html(s);
    if decoded.contains('<') {
        collapse_ws(&strip_tags(&decoded, Tags::Known))
    } else {
        collapse_ws(&decoded)
    }
}

/// Collapse whitespace (and drop control characters), then trim.
pub(crate) fn collapse_ws(s: &str) -> String {
    // Fast path: printable ASCII with single inner spaces is already clean.
    let b = s.as_bytes();
    if b.iter().all(|c| (0x20..0x7F).contains(c))
        && b.first() != Some(&b' ')
        && b.last() != Some(&b' ')
        && !s.contains("  ")
    {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() || c == '\u{200B}' {
            pending_space = !out.is_empty();
        } else if c.is_control() || is_bidi_control(c) {
            continue;
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Plain text from an HTML fragment: tags removed (block-level ones such as `<p>` and
/// `<br>` become a space, inline ones such as `<i>` nothing), entities decoded,
/// whitespace collapsed. A `<` that does not open a tag is kept.
pub(crate) fn strip_html(html: &str) -> String {
    clean_name(&strip_tags(html, Tags::Any))
}

/// Which `<...>` spans [`strip_tags`] removes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tags {
    /// Anything that looks like a tag or comment (for text known to be HTML).
    Any,
    /// Only tags of the HTML elements in [`BLOCK`] and [`INLINE`] (for names and
    /// titles, where `<Mr.K>` or `<<Authentisch>>` is text).
    Known,
}

/// Elements whose tags stand for a break between words.
const BLOCK: &[&str] = &[
    "p",
    "br",
    "div",
    "li",
    "ul",
    "ol",
    "tr",
    "td",
    "th",
    "table",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "dd",
    "dt",
    "pre",
];

/// Inline elements: their tags vanish without a space.
const INLINE: &[&str] = &[
    "a", "b", "i", "u", "s", "em", "strong", "span", "font", "small", "big", "sup", "sub", "cite", "abbr", "code",
    "mark", "q", "del", "ins", "strike", "tt", "wbr",
];

/// Remove tags (see [`Tags`]); block-level ones become a space. Entities are left alone.
fn strip_tags(html: &str, which: Tags) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let tail = &rest[lt + 1..];
        let is_tag = tail.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!');
        match tail.find('>').filter(|_| is_tag) {
            Some(gt) => {
                let name: String = tail[..gt]
                    .trim_start_matches('/')
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_ascii_lowercase();
                let block = BLOCK.contains(&name.as_str());
                // A known element, and after its name nothing, `/` or attributes (`=`):
                // `<b and c>` in a title is text.
                let after = tail[..gt].trim_start_matches('/')[name.len()..]
                    .trim()
                    .trim_end_matches('/');
                let known = (block || INLINE.contains(&name.as_str())) && (after.is_empty() || after.contains('='));
                if which == Tags::Known && !known {
                    out.push('<');
                    rest = tail;
                    continue;
                }
                if block {
                    out.push(' ');
                }
                rest = &tail[gt + 1..];
            }
            None => {
                out.push('<');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `None` for an empty (after cleaning) string.
pub(crate) fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// A slug for ids: lower-case letters and digits (any script), `&` read as "and",
/// everything else folded into single `-`. Capped at `max` bytes.
pub(crate) fn slugify(s: &str, max: usize) -> String {
    fn push_word(out: &mut String, w: &str, dash: &mut bool) {
        if *dash && !out.is_empty() {
            out.push('-');
        }
        *dash = false;
        out.push_str(w);
    }
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in s.chars() {
        if c == '&' {
            dash = true;
            push_word(&mut out, "and", &mut dash);
            dash = true;
        } else if c.is_alphanumeric() {
            for l in c.to_lowercase() {
                let mut buf = [0u8; 4];
                push_word(&mut out, l.encode_utf8(&mut buf), &mut dash);
            }
        } else if c == '\'' || c == '\u{2019}' {
            // "Don't" -> "dont", "Lil' Kim" -> "lil-kim"
        } else {
            dash = true;
        }
    }
    truncate_bytes(&mut out, max);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Truncate to at most `max` bytes on a char boundary.
pub(crate) fn truncate_bytes(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// Stable 64-bit hash as 16 hex digits (used for ids of records without a natural key).
pub(crate) fn hash_hex(s: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(s.as_bytes()))
}

/// ISO-8859-1 bytes to a string (every byte is the code point of the same value).
pub(crate) fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// Reads a text file line by line as bytes, gunzipping `*.gz`, without `\r\n`.
pub(crate) struct Lines {
    inner: Box<dyn BufRead>,
    buf: Vec<u8>,
}

impl Lines {
    /// Open `path` (gzip when its name ends in `.gz`).
    pub(crate) fn open(path: &Path) -> Result<Lines> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 16, file)))
        } else {
            Box::new(file)
        };
        Ok(Lines {
            inner: Box::new(BufReader::with_capacity(1 << 16, reader)),
            buf: Vec::new(),
        })
    }

    /// The next line, or `None` at the end.
    pub(crate) fn next_line(&mut self) -> Result<Option<&[u8]>> {
        self.buf.clear();
        if self.inner.read_until(b'\n', &mut self.buf)? == 0 {
            return Ok(None);
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        Ok(Some(&self.buf))
    }
}

/// Tab-separated fields of a UTF-8 line (invalid bytes replaced).
pub(crate) fn tsv_fields(line: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(line).split('\t').map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_entities() {
        assert_eq!(decode_html("Rock &amp; Roll"), "Rock & Roll");
        assert_eq!(decode_html("Tom &amp;amp; Jerry"), "Tom & Jerry");
        assert_eq!(decode_html("don&#39;t &#x2764; &quot;x&quot;"), "don't \u{2764} \"x\"");
        assert_eq!(
            decode_html("La G&eacute;nisse &agrave; t&ecirc;te"),
            "La Génisse à tête"
        );
        assert_eq!(decode_html("it&#146;s"), "it\u{2019}s");
        assert_eq!(
            decode_html("AT&T; R&B &unknown; & &#xZZ; &#0; &"),
            "AT&T; R&B &unknown; & &#xZZ; \u{FFFD} &"
        );
        assert_eq!(decode_html("&#99999999999;"), "&#99999999999;");
        assert_eq!(decode_html("&&amp;;"), "&&;");
        assert_eq!(decode_html("caf\u{e9}&nbsp;&AMP;"), "caf\u{e9}\u{a0}&");
    }

    #[test]
    fn cleans_names() {
        assert_eq!(clean_name("  The\tDaily \n&amp; More  "), "The Daily & More");
        assert_eq!(clean_name(" \u{202A}\u{200B} "), "");
        assert_eq!(clean_name("a\u{0007}b"), "ab");
    }

    #[test]
    fn html_to_text() {
        assert_eq!(
            strip_html("<p><i>The Count</i> (French: <i>Le Comte</i>) &amp; more.</p><p>Next<br/>line</p>"),
            "The Count (French: Le Comte) & more. Next line"
        );
        assert_eq!(strip_html("a < b and 1<2 <unclosed"), "a < b and 1<2 <unclosed");
        assert_eq!(strip_html("<!-- c --><b>x</b>"), "x");
    }

    #[test]
    fn names_lose_html_tags_but_keep_bracketed_text() {
        assert_eq!(
            clean_name(r#"<a href="http://bartleby.com/44/1/1001.html">Introductory Note</a>"#),
            "Introductory Note"
        );
        assert_eq!(clean_name("<i>Le Comte</i> &lt;b&gt;x&lt;/b&gt;"), "Le Comte x");
        assert_eq!(
            clean_name("Zombie <br />Dolphins <BR/>From Space"),
            "Zombie Dolphins From Space"
        );
        assert_eq!(clean_name("<Mr.K> blog"), "<Mr.K> blog");
        assert_eq!(
            clean_name("Vertrieb <<Authentisch verkaufen >>"),
            "Vertrieb <<Authentisch verkaufen >>"
        );
        assert_eq!(clean_name("<Truth be spoken...>"), "<Truth be spoken...>");
        assert_eq!(
            clean_name("a<b and c>d"),
            "a<b and c>d",
            "no attributes: text, not a tag"
        );
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("Simon & Garfunkel", 64), "simon-and-garfunkel");
        assert_eq!(slugify("Simon And Garfunkel", 64), "simon-and-garfunkel");
        assert_eq!(slugify("B.B. King", 64), "b-b-king");
        assert_eq!(slugify("B.o.B", 64), "b-o-b");
        assert_eq!(slugify("Beyoncé", 64), "beyoncé");
        assert_eq!(slugify("  Don't Stop!! ", 64), "dont-stop");
        assert_eq!(slugify("A$AP Rocky", 64), "a-ap-rocky");
        assert_eq!(slugify("!!!", 64), "");
        assert_eq!(slugify("ééééé", 5), "éé");
    }

    #[test]
    fn latin1_decoding() {
        assert_eq!(latin1(b"caf\xe9 m\xf6tley"), "café mötley");
    }
}
