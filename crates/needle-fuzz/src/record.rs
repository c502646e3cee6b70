//! Record validation (`needle_core::validate::parse_record`) on any JSON.
//!
//! Invariants: a record that validates round-trips through serde as the write log stores
//! it (`Entry::Catalog`), and validating a stored entity again gives the same record
//! (what is stored is always valid input); a rejection names a field that exists or none.

use needle_core::validate::{entity_from_stored, parse_record};
use needle_core::Record;
use needle_store::Entry;
use serde_json::Value;

/// The harness of the `record` target: `data` is one JSON value.
pub fn run(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    check(&value);
}

/// The record invariants for one JSON value.
pub fn check(value: &Value) {
    match parse_record(value) {
        Ok(record) => {
            assert!(!record.id().trim().is_empty(), "blank id accepted: {value}");
            // The write log's encoding round-trips.
            let entry = Entry::Catalog {
                records: vec![record.clone()],
            };
            let bytes = entry.encode().expect("a validated record encodes");
            let back: Entry = serde_json::from_slice(&bytes).expect("an encoded entry decodes");
            assert_eq!(back, entry, "write-log round trip of {value}");
            if let Record::Upsert(entity) = &record {
                // The catalog store's encoding round-trips.
                let stored = serde_json::to_vec(entity).expect("an entity encodes");
                let again = entity_from_stored(&stored).expect("a stored entity decodes");
                assert_eq!(&again, entity.as_ref(), "store round trip of {value}");
                // What is stored validates again, to the same record.
                let as_input = serde_json::to_value(entity).expect("an entity is JSON");
                let revalidated = parse_record(&as_input)
                    .unwrap_or_else(|e| panic!("stored entity {as_input} no longer validates: {e:?}"));
                assert_eq!(revalidated, record, "revalidation of {value}");
            }
        }
        Err(e) => {
            if let (Some(field), Some(obj)) = (&e.field, value.as_object()) {
                // `tags[3]` names an entry of `tags`; a key may itself hold `[`.
                let base = field.split('[').next().unwrap_or(field);
                assert!(
                    obj.contains_key(field.as_str())
                        || obj.contains_key(base)
                        || ["id", "type", "name"].contains(&base),
                    "rejection names `{field}`, which {value} does not have"
                );
            }
        }
    }
}
