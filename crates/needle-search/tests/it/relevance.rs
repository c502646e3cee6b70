//! Known-item relevance on the fixture: each query must put its target first.

use crate::fixture::{engine, first, top_ids, Plain};
use needle_core::EntityType;
use needle_search::SearchRequest;

#[test]
fn known_items_with_typos_prefixes_diacritics_and_scripts() {
    let (_d, e) = engine();
    let cases = [
        // exact, folded diacritics, case
        ("adele", "ar:adele"),
        ("beyonce", "ar:beyonce"),
        ("motley crue", "ar:motley"),
        ("MÖTLEY CRÜE", "ar:motley"),
        // human misspellings
        ("beyonse", "ar:beyonce"),
        ("metalica", "ar:metallica"),
        ("shakria", "ar:shakira"),
        ("kesha", "ar:kesha"),
        ("acdc", "ar:acdc"),
        ("jayz", "ar:jayz"),
        ("beatles", "ar:beatles"),
        // search-as-you-type
        ("a", "ar:adele"),
        ("ad", "ar:adele"),
        ("meta", "ar:metallica"),
        ("enter sa", "tr:enter"),
        ("kickstart my h", "tr:kickstart"),
        // multi-field: title + artist
        ("hello lionel", "tr:hello-lionel"),
        ("hello lionel richie", "tr:hello-lionel"),
        ("halo beyonce", "tr:halo"),
        ("love story taylor swift", "tr:love-story"),
        ("crazy in love jay z", "tr:crazy"),
        ("hips dont lie", "tr:hips"),
        ("t.n.t.", "tr:tnt"),
        // non-Latin
        ("東京事変", "ar:tokyo"),
        ("東京", "ar:tokyo"),
        ("青日", "tr:tsumiki"),
        ("кино", "ar:kino"),
        ("방탄", "ar:bts"),
        ("فيروز", "ar:fairuz"),
        ("लता", "ar:lata"),
        ("周杰", "ar:jay"),
        ("tokyo jihen", "ar:tokyo"),
        // shows, books, description words
        ("the daily", "sh:daily"),
        ("dan carlin", "sh:hist"),
        ("punic wars mongols", "sh:hist"),
        ("pride and prejudice", "ab:pride"),
        ("jane austen", "ab:pride"),
        ("krieg und frieden", "ab:krieg"),
        ("fearless concurrency", "ep:1"),
        // a short last word completes any word, not just the first
        ("kyau v", "ar:kyau"),
        // exact name above the same name with an article; typo-corrected exact names
        ("model", "sh:model"),
        ("smmokey", "ar:smokey"),
        // ... but a last word still being typed is not "corrected" to a shorter name
        ("anniel", "ar:anniela"),
    ];
    let mut failures = vec![];
    for (q, want) in cases {
        let got = first(&e, q);
        if got != want {
            failures.push(format!("{q:?}: want {want}, got {got} (top: {:?})", top_ids(&e, q, 3)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn popularity_breaks_ties_but_never_beats_an_exact_match() {
    let (_d, e) = engine();
    let hello = top_ids(&e, "hello", 10);
    // Three exact "Hello" tracks: the famous one first, the obscure one last among them.
    assert_eq!(hello[0], "tr:hello-adele", "{hello:?}");
    let pos = |id: &str| hello.iter().position(|h| h == id).unwrap();
    assert!(pos("tr:hello-lionel") < pos("tr:hello-obscure"));
    // The very popular "Hellowinter Song" (prefix match only) ranks below every exact "Hello".
    assert!(pos("tr:hello-obscure") < pos("tr:helloween"), "{hello:?}");
    // A complete word beats a partial one even when the partial one is more popular.
    assert_eq!(first(&e, "love"), "tr:love");
}

#[test]
fn filters_types_and_markets() {
    let (_d, e) = engine();
    let req = |q: &str, f: Option<&str>, types: Vec<EntityType>, market: Option<&str>| SearchRequest {
        q: q.into(),
        filter: f.map(str::to_string),
        types,
        market: market.map(str::to_string),
        ..Default::default()
    };
    let ids = |r: SearchRequest| {
        e.search_plain(&r)
            .unwrap()
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(req("hello", None, vec![EntityType::Artist], None)),
        vec!["ar:obscure"]
    );
    assert!(!ids(req("crazy", Some("explicit:false"), vec![], None)).contains(&"tr:crazy".to_string()));
    assert!(ids(req("crazy", None, vec![], Some("US"))).contains(&"tr:crazy".to_string()));
    assert!(!ids(req("crazy", None, vec![], Some("SE"))).contains(&"tr:crazy".to_string()));
    assert_eq!(
        ids(req("hello", Some("year:1980..1990"), vec![], None)),
        vec!["tr:hello-lionel"]
    );
    assert_eq!(
        ids(req("enter", Some("year:<1980"), vec![], None)),
        Vec::<String>::new()
    );
    assert_eq!(ids(req("adele", Some("tag:soul"), vec![], None)), vec!["ar:adele"]);
    assert_eq!(
        ids(req("pride", Some("language:en AND type:audiobook"), vec![], None)),
        vec!["ab:pride"]
    );
    assert!(matches!(
        e.search_plain(&req("x", Some("colour:red"), vec![], None)),
        Err(needle_search::Error::InvalidFilter(_))
    ));
}

#[test]
fn hits_carry_related_names_sections_and_highlights() {
    let (_d, e) = engine();
    let r = e
        .search_plain(&SearchRequest {
            q: "hello adel".into(),
            ..Default::default()
        })
        .unwrap();
    let top = r.top_result.clone().unwrap();
    assert_eq!(top.id, "tr:hello-adele");
    assert_eq!(top.artists, vec!["Adele"]);
    assert_eq!(top.album.as_deref(), Some("25"));
    assert!(top
        .highlights
        .iter()
        .any(|h| h.field == "artists" && h.snippet == "<em>Adele</em>"));
    assert!(r.sections.iter().any(|s| s.kind == EntityType::Artist));
    assert!(r.sections.iter().all(|s| s.hits.iter().all(|h| h.kind == s.kind)));
    let ep = e
        .search_plain(&SearchRequest {
            q: "rust in production".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ep.hits[0].show.as_deref(), Some("The Changelog"));
}

#[test]
fn references_resolve_when_the_target_arrives_later() {
    let dir = tempfile::tempdir().unwrap();
    let e = needle_search::Engine::open(needle_search::EngineConfig::new(dir.path())).unwrap();
    e.write_values(vec![
        serde_json::json!({"id":"t","type":"track","name":"Yellow","artist_ids":["a"]}),
    ]);
    e.refresh().unwrap();
    assert!(e
        .search_plain(&SearchRequest {
            q: "yellow coldplay".into(),
            ..Default::default()
        })
        .unwrap()
        .hits[0]
        .artists
        .is_empty());
    e.write_values(vec![serde_json::json!({"id":"a","type":"artist","name":"Coldplay"})]);
    e.refresh().unwrap();
    let r = e
        .search_plain(&SearchRequest {
            q: "yellow coldplay".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.hits[0].id, "t");
    assert_eq!(r.hits[0].artists, vec!["Coldplay"]);
    // Renaming the artist re-indexes the track under the new name.
    e.write_values(vec![serde_json::json!({"id":"a","type":"artist","name":"Coldplay UK"})]);
    e.refresh().unwrap();
    let r = e
        .search_plain(&SearchRequest {
            q: "yellow coldplay uk".into(),
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.hits[0].artists, vec!["Coldplay UK"]);
}

#[test]
fn a_word_that_matches_nothing_does_not_empty_the_page() {
    let (_d, e) = engine();
    // Three words, one of them in no document: the items with the other two come first.
    assert_eq!(first(&e, "hello lionel zzyzzx "), "tr:hello-lionel");
    assert_eq!(first(&e, "love story qqxqqxq swift "), "tr:love-story");
    // Two words, one unknown: the other still finds its item.
    assert_eq!(first(&e, "halo qqxqqxq "), "tr:halo");
    // Items matching every word stay above those missing one.
    let ids = top_ids(&e, "hello lionel richie", 10);
    assert_eq!(ids.first().map(String::as_str), Some("tr:hello-lionel"));
}

#[test]
fn among_equal_matches_the_name_the_query_covers_best_comes_first() {
    let (_d, e) = engine();
    // Both names hold both words; the shorter one is what was typed (the longer is a
    // little more popular, which alone would put it first).
    assert_eq!(first(&e, "tramp abroa"), "sh:tramp");
    assert_eq!(first(&e, "tramp abroad"), "sh:tramp");
}

#[test]
fn a_hit_names_at_most_max_hit_names_artists_and_authors() {
    use needle_search::MAX_HIT_NAMES;
    let dir = tempfile::tempdir().unwrap();
    let e = needle_search::Engine::open(needle_search::EngineConfig::new(dir.path())).unwrap();
    let n = MAX_HIT_NAMES + 30;
    let mut records: Vec<serde_json::Value> = (0..n)
        .map(|i| serde_json::json!({"id": format!("a{i}"), "type": "artist", "name": format!("Singer {i}")}))
        .collect();
    let ids: Vec<String> = (0..n).map(|i| format!("a{i}")).collect();
    let authors: Vec<String> = (0..n).map(|i| format!("Writer {i}")).collect();
    records.push(serde_json::json!({"id": "t", "type": "track", "name": "Crowded Anthem", "artist_ids": ids}));
    records.push(serde_json::json!({"id": "b", "type": "audiobook", "name": "Crowded Book", "authors": authors}));
    e.write_values(records);
    e.refresh().unwrap();
    let r = e
        .search_plain(&SearchRequest {
            q: "crowded singer writer".into(),
            ..Default::default()
        })
        .unwrap();
    let hit = |id: &str| {
        r.hits
            .iter()
            .find(|h| h.id == id)
            .unwrap_or_else(|| panic!("{id}: {r:?}"))
    };
    let track = hit("t");
    assert_eq!(track.artists.len(), MAX_HIT_NAMES);
    assert_eq!(track.artists[0], "Singer 0");
    assert!(track.highlights.iter().filter(|h| h.field == "artists").count() <= MAX_HIT_NAMES);
    let book = hit("b");
    assert_eq!(book.authors.len(), MAX_HIT_NAMES);
    assert!(book.highlights.iter().filter(|h| h.field == "authors").count() <= MAX_HIT_NAMES);
    // The record itself keeps them all.
    assert_eq!(e.get("t").unwrap().unwrap().artist_ids.len(), n);
}

#[test]
fn characters_typed_together_beat_a_more_popular_name_with_the_same_bigrams() {
    // From the benchmark: `ゲラジオ` meant `シゲラジオ!!`, but the more popular
    // `10分間のゲララジオ` has the same bigrams (ゲラ, ラジ, ジオ), apart.
    let (_d, e) = engine();
    e.write_values(vec![
        serde_json::json!({"id": "sh:gera-apart", "type": "show", "name": "10分間のゲララジオ", "popularity": 900}),
        serde_json::json!({"id": "sh:gera", "type": "show", "name": "シゲラジオ!!", "popularity": 40}),
        serde_json::json!({"id": "sh:thai-apart", "type": "show", "name": "วันนี้ สวัส ดีครับ", "popularity": 900}),
        serde_json::json!({"id": "sh:thai", "type": "show", "name": "สวัสดีครับ วิทยุ", "popularity": 40}),
    ]);
    e.refresh().unwrap();
    assert_eq!(top_ids(&e, "ゲラジオ", 2), vec!["sh:gera", "sh:gera-apart"]);
    assert_eq!(first(&e, "สวัสดี"), "sh:thai");
    // Two characters are one bigram: popularity decides among the names holding it.
    assert_eq!(first(&e, "ラジ"), "sh:gera-apart");
}

#[test]
fn explain_names_the_exact_bonus_the_ranking_gave() {
    let (_d, e) = engine();
    let explained = |q: &str| {
        let r = e
            .search_plain(&SearchRequest {
                q: q.into(),
                explain: true,
                ..Default::default()
            })
            .unwrap();
        r.hits
            .into_iter()
            .map(|h| (h.id, h.score, h.explain.unwrap()))
            .collect::<Vec<_>>()
    };
    let bonus = |hits: &[(String, f32, needle_search::Explain)], id: &str| {
        let (_, score, x) = hits
            .iter()
            .find(|h| h.0 == id)
            .unwrap_or_else(|| panic!("{id} in {hits:?}"));
        let parts = x.text + x.exact_bonus + x.popularity_prior + x.name_coverage + x.personal_boost + x.click_boost;
        assert!(
            (parts - score).abs() < 1e-3,
            "{id}: parts {parts} != score {score}: {x:?}"
        );
        x.exact_bonus
    };
    let model = explained("model");
    // The name itself, then the name without its leading article (1.5 × 0.6).
    assert_eq!(bonus(&model, "sh:model"), 1.5);
    assert!((bonus(&model, "ch:the-model") - 0.9).abs() < 1e-4);
    // An exact name after a typo correction (1.5 × 0.7).
    assert!((bonus(&explained("smmokey"), "ar:smokey") - 1.05).abs() < 1e-4);
}
