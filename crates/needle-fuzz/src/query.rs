//! The query planner and one search end to end (`q` with any bytes) against a small
//! catalog, plus highlighting of arbitrary text.
//!
//! Invariants: a search either answers or refuses with a validation error (never an
//! internal one, never a panic); its output is bounded (`hits <= limit`, sections of at
//! most [`SECTION_SIZE`] hits, one section per type); every highlight span lies on
//! character boundaries of its field, sorted and disjoint, and the snippet is the escaped
//! field with `<em>` tags around the spans; query words are bounded by the query's length.

use needle_core::validate::parse_record;
use needle_search::highlight::highlight;
use needle_search::plan::query_words;
use needle_search::{Batch, Engine, EngineConfig, Error, Hit, SearchRequest, MAX_QUERY_BYTES};
use std::collections::HashSet;
use std::sync::OnceLock;

/// Hits per section (`needle_search`'s private `search::SECTION_SIZE`).
pub const SECTION_SIZE: usize = 5;

/// Names the planner and highlighter find tricky: folding that changes byte lengths
/// (`İ`, `ß`, ligatures), CJK, combining marks, emoji, punctuation-joined words.
const CATALOG: &str = r#"{"id":"ar:1","type":"artist","name":"Adele","popularity":95,"tags":["pop","soul"]}
{"id":"ar:2","type":"artist","name":"Beyoncé","popularity":96}
{"id":"ar:3","type":"artist","name":"Mötley Crüe","popularity":60,"tags":["glam metal"]}
{"id":"ar:4","type":"artist","name":"The Beatles","aliases":["Beatles"],"popularity":99}
{"id":"ar:5","type":"artist","name":"İstanbul Straße ﬁve","language":"tr"}
{"id":"ar:6","type":"artist","name":"坂本龍一","popularity":50}
{"id":"ar:7","type":"artist","name":"AC/DC","popularity":80}
{"id":"ar:8","type":"artist","name":"Ke$ha & A-ha: e̊ 🎸 x"}
{"id":"al:1","type":"album","name":"25","artist_ids":["ar:1"],"release_date":"2015-11-20"}
{"id":"tr:1","type":"track","name":"Hello","artist_ids":["ar:1"],"album_id":"al:1","duration_ms":295000,"markets":["GB","US"],"explicit":false}
{"id":"tr:2","type":"track","name":"Let It Be","artist_ids":["ar:4"],"release_date":"1970"}
{"id":"tr:3","type":"track","name":"Dr. Feelgood","artist_ids":["ar:3"],"explicit":true}
{"id":"tr:4","type":"track","name":"ＡＢＣ ｆｕｌｌｗｉｄｔｈ ǅemal Ⅻ","artist_ids":["ar:5"]}
{"id":"pl:1","type":"playlist","name":"Hello world mix","owner":"Ünïcödé","track_ids":["tr:1","tr:2"]}
{"id":"sh:1","type":"show","name":"The Daily","publisher":"The New York Times","tags":["news"]}
{"id":"ep:1","type":"episode","name":"Hello from the other side","show_id":"sh:1","description":"A long talk about hellos, the Beatles and İstanbul.","transcript":"hello hello straße 坂本 龍一"}
{"id":"ab:1","type":"audiobook","name":"Pride and Prejudice","authors":["Jane Austen"],"narrators":["Karen Savage"]}
{"id":"ch:1","type":"chapter","name":"Chapter 1","audiobook_id":"ab:1"}"#;

/// The catalog, opened once per process (the data directory lives as long as it).
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<(tempfile::TempDir, Engine)> = OnceLock::new();
    let (_, engine) = ENGINE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut cfg = EngineConfig::new(dir.path());
        cfg.log_durable = false;
        cfg.indexer_threads = Some(1);
        cfg.indexer_memory_bytes = 15 << 20;
        let engine = Engine::open(cfg).expect("the engine opens");
        let records = CATALOG
            .lines()
            .map(|l| parse_record(&serde_json::from_str(l).expect("catalog JSON")).expect("catalog record"))
            .collect();
        engine.apply(Batch::new(records), 0).expect("the catalog applies");
        engine.refresh().expect("the index refreshes");
        (dir, engine)
    });
    engine
}

/// The harness of the `query` target. The first byte chooses the page (`limit` 1..=100 or
/// the default, an `offset`), whether the text after a `\0` is the filter, and the market;
/// the rest is `q` (lossy UTF-8).
pub fn run(data: &[u8]) {
    let Some((&knobs, rest)) = data.split_first() else {
        return;
    };
    let (q, filter) = match rest.iter().position(|b| *b == 0) {
        Some(i) if knobs & 0x80 != 0 => (&rest[..i], Some(crate::text(&rest[i + 1..]).into_owned())),
        _ => (rest, None),
    };
    let q = crate::text(q).into_owned();
    check_words(&q);
    check_highlight(&q, &q);
    let req = SearchRequest {
        q,
        limit: (knobs & 0x0f != 0).then_some(usize::from(knobs & 0x0f) * 7),
        offset: (knobs & 0x10 != 0).then_some(usize::from(knobs & 0x0f) * 3),
        filter,
        market: (knobs & 0x20 != 0).then(|| "us".to_string()),
        types: if knobs & 0x40 != 0 {
            vec![needle_core::EntityType::Track, needle_core::EntityType::Artist]
        } else {
            vec![]
        },
        user_id: None,
        ..Default::default()
    };
    check_search(&req);
}

/// Query words are bounded: never more than the characters of the folded query (folding
/// decomposes compatibility forms, so one character can be several words: `¼` is `1⁄4`,
/// the words `1` and `4`), never empty.
pub fn check_words(q: &str) {
    let words = query_words(q);
    let folded = needle_core::text::fold(q).chars().count();
    assert!(
        words.len() <= folded,
        "{} words from `{q}` ({folded} folded characters)",
        words.len()
    );
    for (i, w) in words.iter().enumerate() {
        assert!(!w.text.is_empty(), "an empty word in `{q}`");
        assert_eq!(w.first, i == 0);
        assert!(
            !(w.prefix && i + 1 != words.len()),
            "a prefix word before the last in `{q}`"
        );
    }
}

/// Highlighting `text` for query `q` keeps its spans on `text`'s character boundaries.
pub fn check_highlight(text: &str, q: &str) {
    let words = query_words(q);
    if let Some(h) = highlight("name", text, &words) {
        check_spans(text, &h.spans, &h.snippet);
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn check_spans(text: &str, spans: &[[usize; 2]], snippet: &str) {
    let mut expected = String::new();
    let mut pos = 0;
    for (i, s) in spans.iter().enumerate() {
        assert!(
            pos <= s[0] && s[0] < s[1] && s[1] <= text.len(),
            "span {s:?} in `{text}`"
        );
        assert!(
            text.is_char_boundary(s[0]) && text.is_char_boundary(s[1]),
            "span {s:?} splits a character of `{text}`"
        );
        assert!(
            i == 0 || s[0] > pos,
            "overlapping or touching spans {spans:?} in `{text}`"
        );
        expected.push_str(&escape(&text[pos..s[0]]));
        expected.push_str("<em>");
        expected.push_str(&escape(&text[s[0]..s[1]]));
        expected.push_str("</em>");
        pos = s[1];
    }
    expected.push_str(&escape(&text[pos..]));
    assert_eq!(snippet, expected, "snippet of `{text}`");
}

/// One search: answered within bounds, or refused as invalid.
pub fn check_search(req: &SearchRequest) {
    match engine().search(req, None) {
        Ok(r) => {
            let limit = req.limit.unwrap_or(needle_search::DEFAULT_LIMIT);
            assert!(req.q.len() <= MAX_QUERY_BYTES);
            assert!(r.hits.len() <= limit, "{} hits for limit {limit}", r.hits.len());
            assert!(r.hits.len() <= r.total, "{} hits of {} total", r.hits.len(), r.total);
            let mut kinds = HashSet::new();
            for s in &r.sections {
                assert!(kinds.insert(s.kind), "two sections of type {}", s.kind);
                assert!(s.hits.len() <= SECTION_SIZE);
                assert!(s.hits.iter().all(|h| h.kind == s.kind), "a section mixing types");
            }
            let mut ids = HashSet::new();
            for h in &r.hits {
                assert!(ids.insert(&h.id), "hit {} twice", h.id);
                assert!(h.score.is_finite(), "score {} for {}", h.score, h.id);
                check_hit(h);
            }
        }
        Err(Error::Validation(_) | Error::InvalidFilter(_)) => {}
        Err(other) => panic!("search {req:?} failed: {other:?}"),
    }
}

fn check_hit(h: &Hit) {
    for hl in &h.highlights {
        let text = match hl.field.as_str() {
            "name" => Some(h.name.as_str()),
            "album" => h.album.as_deref(),
            "show" => h.show.as_deref(),
            "audiobook" => h.audiobook.as_deref(),
            "publisher" => h.publisher.as_deref(),
            _ => None,
        };
        if let Some(text) = text {
            check_spans(text, &hl.spans, &hl.snippet);
        }
    }
}
