use super::*;
use crate::plan::edit_distance;
use proptest::prelude::*;

fn ent(id: &str, name: &str, pop: f64) -> Entity {
    Entity {
        id: id.into(),
        kind: Some(EntityType::Track),
        name: name.into(),
        popularity: Some(pop),
        ..Default::default()
    }
}

fn req(q: &str, limit: usize) -> SuggestRequest {
    SuggestRequest {
        q: q.into(),
        market: None,
        limit,
    }
}

fn ids(r: &SuggestResponse) -> Vec<&str> {
    r.suggestions.iter().filter_map(|s| s.id.as_deref()).collect()
}

#[test]
fn completes_from_the_first_letter_most_popular_first() {
    let s = Suggester::build(vec![
        ent("a", "Hello", 10.0),
        ent("b", "Help!", 1000.0),
        ent("c", "Yellow", 5.0),
    ]);
    assert_eq!(ids(&s.suggest(&req("h", 5), None, &NoQueries)), ["b", "a"]);
    assert_eq!(ids(&s.suggest(&req("hell", 5), None, &NoQueries))[0], "a");
    assert_eq!(s.suggest(&req("  ", 5), None, &NoQueries).suggestions, vec![]);
}

#[test]
fn inner_words_and_typos_complete_below_exact_prefixes() {
    let s = Suggester::build(vec![
        ent("beatles", "The Beatles", 100.0),
        ent("beat", "Beat It", 100.0),
        ent("beet", "Beetwave", 100.0),
        ent("heat", "Heatwave", 100.0),
    ]);
    let r = s.suggest(&req("beat", 5), None, &NoQueries);
    // One typo, never in the first letter: `Heatwave` is not a completion of `beat`.
    assert_eq!(ids(&r), ["beat", "beatles", "beet"], "{r:?}");
    // One typo in a completed word, the last word a prefix.
    let r = s.suggest(&req("beta it", 5), None, &NoQueries);
    assert_eq!(ids(&r)[0], "beat", "{r:?}");
}

#[test]
fn a_finished_word_is_not_completed_further() {
    let s = Suggester::build(vec![ent("a", "Beat It", 1.0), ent("b", "Beatles", 9.0)]);
    // "beatl" is one edit from "beat ": the longer word comes only as a typo, below.
    assert_eq!(ids(&s.suggest(&req("beat ", 5), None, &NoQueries)), ["a", "b"]);
    assert_eq!(ids(&s.suggest(&req("bea ", 5), None, &NoQueries)), Vec::<&str>::new());
}

#[test]
fn stays_current_with_upserts_renames_and_deletes() {
    let s = Suggester::build(vec![ent("a", "Alpha", 1.0), ent("b", "Bravo", 1.0)]);
    s.apply([("c", Some(&ent("c", "Alphabet", 50.0)))]);
    assert_eq!(ids(&s.suggest(&req("alp", 5), None, &NoQueries)), ["c", "a"]);
    s.apply([("a", Some(&ent("a", "Zulu", 1.0)))]);
    assert_eq!(ids(&s.suggest(&req("alp", 5), None, &NoQueries)), ["c"]);
    assert_eq!(ids(&s.suggest(&req("zul", 5), None, &NoQueries)), ["a"]);
    // A popularity change in place (base entry) reorders.
    s.apply([("b", Some(&ent("b", "Alpine", 500.0)))]);
    s.apply([("c", None)]);
    assert_eq!(ids(&s.suggest(&req("alp", 5), None, &NoQueries)), ["b"]);
    assert_eq!(s.len(), 2);
}

/// Ids whose 32-bit hashes are equal (found by search: a few hundred thousand ids hold
/// some) are told apart: each is updated, renamed and deleted alone.
#[test]
fn ids_sharing_a_hash_are_kept_apart() {
    let mut seen = std::collections::HashMap::new();
    let (a, b) = (0..2_000_000u32)
        .find_map(|i| {
            let id = format!("id-{i}");
            let h = table::id_hash(&id);
            seen.insert(h, id.clone()).map(|other| (other, id))
        })
        .expect("two ids with one hash");
    let s = Suggester::build(vec![
        ent(&a, "Alpha", 1.0),
        ent(&b, "Alpine", 2.0),
        ent("c", "Alps", 3.0),
    ]);
    assert_eq!(
        ids(&s.suggest(&req("alp", 5), None, &NoQueries)),
        ["c", b.as_str(), a.as_str()]
    );
    // An update of one leaves the other as it was.
    s.apply([(a.as_str(), Some(&ent(&a, "Alpha", 50.0)))]);
    assert_eq!(
        ids(&s.suggest(&req("alp", 5), None, &NoQueries)),
        [a.as_str(), "c", b.as_str()]
    );
    // A rename of the other.
    s.apply([(b.as_str(), Some(&ent(&b, "Bravo", 2.0)))]);
    assert_eq!(ids(&s.suggest(&req("alp", 5), None, &NoQueries)), [a.as_str(), "c"]);
    assert_eq!(ids(&s.suggest(&req("bra", 5), None, &NoQueries)), [b.as_str()]);
    // Deleting the first keeps the second findable (it takes the slot), and back.
    s.apply([(a.as_str(), None)]);
    assert_eq!(ids(&s.suggest(&req("alp", 5), None, &NoQueries)), ["c"]);
    s.apply([(b.as_str(), Some(&ent(&b, "Bravo", 9.0)))]);
    assert_eq!(ids(&s.suggest(&req("bra", 5), None, &NoQueries)), [b.as_str()]);
    assert_eq!(s.len(), 2);
    s.apply([(b.as_str(), None)]);
    assert_eq!(s.len(), 1);
    s.apply([(a.as_str(), Some(&ent(&a, "Alpha", 1.0)))]);
    assert_eq!(ids(&s.suggest(&req("alp", 5), None, &NoQueries)), ["c", a.as_str()]);
    assert_eq!(s.len(), 2);
}

/// Updates that change an entity's length leave its old bytes behind; once that garbage
/// is half of the buffer, the buffer is rewritten without it, and every entity still reads
/// back whole.
#[test]
fn replaced_bytes_are_reclaimed_and_entities_read_back_whole() {
    // Words of their own (no suffix shared by thousands of names), about 60 bytes.
    let name = |i: u32, bangs: usize| {
        let n = format!("track{i} alpha{i} bravo{i} charlie{i} delta{i} echo{i}");
        if bangs == 0 {
            n
        } else {
            format!("{}{}", n.to_uppercase(), "!".repeat(bangs))
        }
    };
    let s = Suggester::build((0..15_000).map(|i| ent(&format!("id-{i}"), &name(i, 0), 1.0)));
    let (built, _) = s.table.read().buffer();
    // Same keys (case and punctuation fold away), longer: not in place, twice over.
    for bangs in [1, 2] {
        for i in 0..15_000 {
            let e = ent(&format!("id-{i}"), &name(i, bangs), 2.0 + f64::from(i % 7));
            s.apply([(e.id.as_str(), Some(&e))]);
        }
    }
    let (len, garbage) = s.table.read().buffer();
    // Without a rewrite: three copies of every entity's bytes.
    assert!(
        len < built * 5 / 2,
        "not rewritten: {len} bytes, {built} at the start ({garbage} garbage)"
    );
    assert!(garbage * 2 <= len, "{garbage} of {len}");
    for i in [0u32, 1, 7_777, 14_999] {
        let r = s.suggest(&req(&format!("track{i} alpha"), 1), None, &NoQueries);
        assert_eq!(ids(&r), [format!("id-{i}").as_str()], "{r:?}");
        assert_eq!(r.suggestions[0].text, name(i, 2));
    }
    // A rename and a delete after the rewrite.
    s.apply([("id-5", Some(&ent("id-5", "Zebra Crossing", 1.0)))]);
    s.apply([("id-6", None)]);
    assert_eq!(ids(&s.suggest(&req("zebra", 5), None, &NoQueries)), ["id-5"]);
    let r = s.suggest(&req("track6 alpha6 bravo6", 5), None, &NoQueries);
    assert!(!ids(&r).contains(&"id-6"), "{r:?}");
    let r = s.suggest(&req("track7 alpha7 bravo7", 5), None, &NoQueries);
    assert_eq!(ids(&r).first(), Some(&"id-7"), "{r:?}");
    assert_eq!(s.len(), 14_999);
}

#[test]
fn many_changes_merge_into_the_base() {
    let s = Suggester::build((0..100).map(|i| ent(&format!("x{i}"), &format!("song {i}"), i as f64)));
    for i in 0..10_000 {
        let e = ent(&format!("y{i}"), &format!("tune {i}"), 1.0);
        s.apply([(e.id.as_str(), Some(&e))]);
    }
    for i in 0..5_000 {
        s.apply([(format!("y{i}").as_str(), None)]);
    }
    assert!(s.table.read().delta.len() < 10_000, "merged");
    assert_eq!(s.len(), 5_100);
    let r = s.suggest(&req("tune 4999", 50), None, &NoQueries);
    assert!(
        ids(&r)
            .iter()
            .all(|id| id.starts_with('x') || id[1..].parse::<u32>().unwrap() >= 5000),
        "{r:?}"
    );
    assert_eq!(ids(&s.suggest(&req("tune 5000", 1), None, &NoQueries)), ["y5000"]);
}

#[test]
fn large_batches_are_sorted_in_once() {
    let s = Suggester::build(vec![ent("a", "Anchor", 1.0)]);
    let batch: Vec<Entity> = (0..6_000)
        .map(|i| ent(&format!("b{i}"), &format!("batch {i:05}"), 1.0))
        .collect();
    s.apply(batch.iter().map(|e| (e.id.as_str(), Some(e))));
    assert_eq!(ids(&s.suggest(&req("batch 00420", 5), None, &NoQueries))[0], "b420");
    let renamed: Vec<Entity> = (0..100)
        .map(|i| ent(&format!("b{i}"), &format!("renamed {i:05}"), 1.0))
        .collect();
    s.apply(renamed.iter().map(|e| (e.id.as_str(), Some(e))));
    let gone: Vec<String> = (100..200).map(|i| format!("b{i}")).collect();
    s.apply(gone.iter().map(|id| (id.as_str(), None)));
    assert_eq!(ids(&s.suggest(&req("renamed 00042", 5), None, &NoQueries))[0], "b42");
    assert!(!ids(&s.suggest(&req("batch 001", 50), None, &NoQueries))
        .iter()
        .any(|id| id[1..].parse::<u32>().unwrap() < 200));
    assert_eq!(s.len(), 1 + 6_000 - 100);
}

#[test]
fn markets_filter_and_duplicates_collapse() {
    let mut only_se = ent("se", "Hej", 100.0);
    only_se.markets = Some(vec!["SE".into()]);
    let s = Suggester::build(vec![only_se, ent("a", "Hej!", 1.0), ent("b", "Hey", 2.0)]);
    let mut r = req("he", 5);
    assert_eq!(ids(&s.suggest(&r, None, &NoQueries)), ["se", "b"], "one `hej` shown");
    r.market = Some("US".into());
    assert_eq!(ids(&s.suggest(&r, None, &NoQueries)), ["b", "a"]);
}

struct Fake(Vec<(String, f64)>);
impl QuerySource for Fake {
    fn completions(&self, prefix: &str, limit: usize) -> Vec<(String, f64)> {
        self.0
            .iter()
            .filter(|(q, _)| q.starts_with(prefix))
            .take(limit)
            .cloned()
            .collect()
    }
}

#[test]
fn past_queries_blend_with_names() {
    let s = Suggester::build(vec![ent("a", "Hello", 1000.0), ent("b", "Helium", 0.0)]);
    let q = Fake(vec![
        ("hello adele".into(), 1.0),
        ("hello".into(), 1.0),
        ("help me".into(), 0.0),
    ]);
    let r = s.suggest(&req("hel", 10), None, &q);
    let texts: Vec<(&str, SuggestionKind)> = r.suggestions.iter().map(|s| (s.text.as_str(), s.kind)).collect();
    use SuggestionKind::*;
    assert_eq!(
        texts,
        [
            ("Hello", Entity),
            ("hello adele", Query),
            ("Helium", Entity),
            ("help me", Query)
        ],
        "{r:?}"
    );
}

#[test]
fn taste_lifts_a_listeners_creator_among_equals() {
    let mut mine = ent("m", "Song", 10.0);
    mine.artist_ids = vec!["artist-1".into()];
    let s = Suggester::build(vec![ent("o", "Song", 12.0), mine, ent("z", "Sonata", 10.0)]);
    let mut t = Taste::default();
    let mut a = crate::taste::Affinity::default();
    a.score = 1.0;
    t.creators.insert("artist-1".into(), a);
    let r = s.suggest(&req("son", 5), Some(&t), &NoQueries);
    assert_eq!(ids(&r)[0], "m", "{r:?}");
    assert_eq!(ids(&s.suggest(&req("son", 5), None, &NoQueries))[0], "o");
}

#[test]
fn with_a_taste_a_name_many_entities_share_does_not_crowd_out_the_others() {
    // 100 chapters named `Chapter 1`, more popular than the other names: a listener's
    // suggestions still name five different things, their creator's first.
    let mut all: Vec<Entity> = (0..100).map(|i| ent(&format!("c{i}"), "Chapter 1", 50.0)).collect();
    let mut mine = ent("m", "Chapterhouse", 1.0);
    mine.artist_ids = vec!["artist-1".into()];
    all.extend([
        mine,
        ent("x", "Chapter 2", 40.0),
        ent("y", "Chaplin", 30.0),
        ent("z", "Chapel", 20.0),
    ]);
    let s = Suggester::build(all);
    let mut t = Taste::default();
    let mut a = crate::taste::Affinity::default();
    a.score = 1.0;
    t.creators.insert("artist-1".into(), a);
    let r = s.suggest(&req("chap", 5), Some(&t), &NoQueries);
    let texts: Vec<&str> = r.suggestions.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts.len(), 5, "{texts:?}");
    let distinct: std::collections::HashSet<&&str> = texts.iter().collect();
    assert_eq!(distinct.len(), 5, "{texts:?}");
    assert!(texts.contains(&"Chapterhouse"), "{texts:?}");
}

fn names() -> impl Strategy<Value = Vec<(String, u8)>> {
    let word = prop::sample::select(vec![
        "love", "lover", "live", "glove", "song", "sing", "one", "blue", "blues",
    ]);
    prop::collection::vec(
        (prop::collection::vec(word, 1..4).prop_map(|w| w.join(" ")), 0u8..4),
        1..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn ranking_invariants(items in names(), q in "[a-z]{1,6} ?", limit in 1usize..8, split in 0usize..40) {
        let all: Vec<Entity> = items.iter().enumerate().map(|(i, (n, p))| ent(&format!("e{i}"), n, f64::from(*p) * 10.0)).collect();
        let cut = split.min(all.len());
        let s = Suggester::build(all[..cut].to_vec());
        for e in &all[cut..] { s.apply([(e.id.as_str(), Some(e))]); }
        let r = s.suggest(&req(&q, limit), None, &NoQueries);
        prop_assert!(r.suggestions.len() <= limit);
        let typed = key_of(&q, false);
        let budget = usize::from(budget(&typed));
        let mut seen = std::collections::HashSet::new();
        for sug in &r.suggestions {
            prop_assert!(seen.insert(key_of(&sug.text, true)), "duplicate {:?}", sug.text);
            let key = key_of(&sug.text, true);
            // Some word start of the name begins within the budget of the typed text.
            let ok = std::iter::once(0).chain(key.match_indices(' ').map(|(i, _)| i + 1)).any(|o| {
                let rest = &key[o.min(key.len())..];
                (0..=rest.len()).filter(|&e| rest.is_char_boundary(e)).any(|e| edit_distance(&typed, &rest[..e]) <= budget)
            });
            prop_assert!(ok, "{:?} does not complete {:?}", sug.text, q);
        }
        // Exact name-start completions of equal popularity rank above typo ones.
        let pos = |s: &Suggestion| r.suggestions.iter().position(|x| x == s);
        for a in &r.suggestions {
            for b in &r.suggestions {
                let (ka, kb) = (key_of(&a.text, true), key_of(&b.text, true));
                let pa = all.iter().find(|e| Some(&e.id) == a.id.as_ref()).and_then(|e| e.popularity);
                let pb = all.iter().find(|e| Some(&e.id) == b.id.as_ref()).and_then(|e| e.popularity);
                if pa == pb && ka.starts_with(&typed) && !kb.contains(typed.trim_end()) {
                    prop_assert!(pos(a) < pos(b), "{a:?} below {b:?}");
                }
            }
        }
        // Nothing better was left out: every exact name-start completion not shown scores
        // at most the last one shown when the list is full.
        if r.suggestions.len() == limit {
            let last = r.suggestions[limit - 1].score;
            for e in &all {
                let k = key_of(&e.name, true);
                if k.starts_with(&typed) && !r.suggestions.iter().any(|s| key_of(&s.text, true) == k) {
                    let best = rank::score(1.0, e.popularity.unwrap_or(0.0).ln_1p() as f32, s.table.read().max_pop, 0.0);
                    prop_assert!(best <= last + 1e-3, "{:?} ({best}) left out below {last}", e.name);
                }
            }
        }
    }
}
