//! Property tests of text normalization and record validation.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // test helpers fail loudly; tests may use std::fs

use needle_core::text::{fold, name_key, tokenize, tokenize_query};
use needle_core::validate::parse_record;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn folding_is_idempotent(s in "\\PC{0,40}") {
        let once = fold(&s);
        prop_assert_eq!(fold(&once), once.clone());
    }

    #[test]
    fn token_spans_point_into_the_original(s in "\\PC{0,60}") {
        for t in tokenize(&s).into_iter().chain(tokenize_query(&s)) {
            prop_assert!(t.start <= t.end && t.end <= s.len());
            prop_assert!(s.is_char_boundary(t.start) && s.is_char_boundary(t.end));
            prop_assert!(!t.text.is_empty());
        }
    }

    #[test]
    fn case_and_accents_do_not_change_the_key(s in "[a-zA-Z ]{1,30}") {
        prop_assert_eq!(name_key(&s.to_uppercase()), name_key(&s.to_lowercase()));
        let accented: String = s.chars().map(|c| match c { 'e' => 'é', 'o' => 'ö', 'a' => 'à', c => c }).collect();
        prop_assert_eq!(name_key(&accented), name_key(&s));
    }

    #[test]
    fn tokens_are_folded(s in "\\PC{0,40}") {
        for t in tokenize_query(&s) {
            prop_assert_eq!(fold(&t.text), t.text.clone());
        }
    }

    #[test]
    fn validation_never_panics(v in arb_json()) {
        let _ = parse_record(&v);
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .unwrap_or_default()),
        any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,12}".prop_map(serde_json::Value::from),
    ];
    let keys = prop_oneof![
        Just("id".to_string()),
        Just("type".to_string()),
        Just("name".to_string()),
        Just("popularity".to_string()),
        Just("tags".to_string()),
        Just("release_date".to_string()),
        Just("markets".to_string()),
        Just("deleted".to_string()),
        Just("artist_ids".to_string()),
        Just("duration_ms".to_string()),
        "[a-z_]{1,8}",
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}
