//! Validation of one import record, with errors that name the offending field.
//!
//! Validation is done on the raw JSON value rather than through serde so that every
//! rejection can say exactly which field is wrong and why, and so that one bad
//! record never affects its neighbours in a batch.

use crate::entity::{Entity, EntityType, Record, MAX_ID_BYTES};
use crate::error::{ValidationError, ValidationKind as K};
use serde_json::{Map, Value};

/// Fields every entity may carry.
const COMMON: &[&str] = &[
    "id",
    "type",
    "name",
    "popularity",
    "tags",
    "language",
    "release_date",
    "description",
    "aliases",
    "alias_ids",
    "explicit",
    "markets",
    "extra",
];

/// Longest accepted name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Most entries in any list field (tags, aliases, ids).
pub const MAX_LIST_LEN: usize = 10_000;
/// Longest accepted tag, in characters.
pub const MAX_TAG_CHARS: usize = 200;
/// Most tags on one record.
pub const MAX_TAGS: usize = 50;
/// Longest accepted `description`, in bytes (10 KiB).
pub const MAX_DESCRIPTION_BYTES: usize = 10 * 1024;
/// Longest accepted `transcript`, in bytes (2 MiB).
pub const MAX_TRANSCRIPT_BYTES: usize = 2 * 1024 * 1024;
/// Largest accepted `extra`, serialized as compact JSON, in bytes (16 KiB).
pub const MAX_EXTRA_BYTES: usize = 16 * 1024;
/// Most entries in a list of names (`aliases`, `authors`, `narrators`; each entry at most
/// [`MAX_NAME_BYTES`], like `owner` and `publisher`). LibriVox collaborative readings
/// reach 88 narrators.
pub const MAX_NAMES: usize = 1_000;

/// Fields allowed for one type, beyond [`COMMON`].
fn type_fields(t: EntityType) -> &'static [&'static str] {
    match t {
        EntityType::Album => &["artist_ids"],
        EntityType::Track => &["artist_ids", "album_id", "duration_ms"],
        EntityType::Playlist => &["owner", "track_ids"],
        EntityType::Show => &["publisher"],
        EntityType::Episode => &["show_id", "duration_ms", "transcript"],
        EntityType::Audiobook => &["authors", "narrators"],
        EntityType::Chapter => &["audiobook_id", "duration_ms"],
        EntityType::Artist => &[],
    }
}

/// Every field name any type accepts (used to tell "unknown" from "not for this type").
const ALL_TYPED: &[&str] = &[
    "artist_ids",
    "album_id",
    "duration_ms",
    "owner",
    "track_ids",
    "publisher",
    "show_id",
    "transcript",
    "authors",
    "narrators",
    "audiobook_id",
];

/// Validate one record of the import format and turn it into a [`Record`].
pub fn parse_record(value: &Value) -> Result<Record, ValidationError> {
    let obj = value
        .as_object()
        .ok_or_else(|| ValidationError::new(K::InvalidRecord, None, "a record must be a JSON object"))?;
    let id = parse_id(obj.get("id"), "id")?;
    if let Some(deleted) = obj.get("deleted") {
        if deleted != &Value::Bool(true) {
            return Err(field_err(K::InvalidField, "deleted", "must be `true` when present"));
        }
        if let Some(extra) = obj.keys().find(|k| *k != "id" && *k != "deleted") {
            return Err(field_err(
                K::UnknownField,
                extra,
                "a delete record carries only `id` and `deleted`",
            ));
        }
        return Ok(Record::Delete(id));
    }
    let kind: EntityType = match obj.get("type") {
        None | Some(Value::Null) => return Err(field_err(K::MissingField, "type", "is required")),
        Some(Value::String(s)) => s.parse().map_err(|m: String| field_err(K::InvalidField, "type", &m))?,
        Some(_) => return Err(field_err(K::InvalidField, "type", "must be a string")),
    };
    let allowed = type_fields(kind);
    for key in obj.keys() {
        if COMMON.contains(&key.as_str()) || allowed.contains(&key.as_str()) {
            continue;
        }
        if ALL_TYPED.contains(&key.as_str()) {
            return Err(field_err(
                K::FieldNotAllowed,
                key,
                &format!("does not apply to type `{kind}`"),
            ));
        }
        return Err(field_err(K::UnknownField, key, "is not a field of the import format"));
    }
    let name = match obj.get("name") {
        None | Some(Value::Null) => return Err(field_err(K::MissingField, "name", "is required")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            return Err(field_err(K::InvalidField, "name", "must not be empty"))
        }
        Some(Value::String(s)) if s.len() > MAX_NAME_BYTES => {
            return Err(field_err(
                K::InvalidField,
                "name",
                &format!("is longer than {MAX_NAME_BYTES} bytes"),
            ))
        }
        Some(Value::String(s)) => s.trim().to_string(),
        Some(_) => return Err(field_err(K::InvalidField, "name", "must be a string")),
    };
    let popularity = match obj.get("popularity") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => {
            let f = n
                .as_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| field_err(K::InvalidField, "popularity", "must be a finite number"))?;
            if f < 0.0 {
                return Err(field_err(K::InvalidField, "popularity", "must be >= 0"));
            }
            Some(f)
        }
        Some(_) => return Err(field_err(K::InvalidField, "popularity", "must be a finite number >= 0")),
    };
    let release_date = opt_string(obj, "release_date")?;
    if let Some(d) = &release_date {
        check_date(d)?;
    }
    let markets = match obj.get("markets") {
        None | Some(Value::Null) => None,
        Some(_) => {
            let list = string_list(obj, "markets")?;
            let mut out = Vec::with_capacity(list.len());
            for m in list {
                let code = market(&m).map_err(|why| field_err(K::InvalidField, "markets", &why))?;
                out.push(code);
            }
            Some(out)
        }
    };
    let language = opt_string(obj, "language")?.map(|l| l.to_ascii_lowercase());
    if let Some(l) = &language {
        if l.is_empty() || l.len() > 35 {
            return Err(field_err(
                K::InvalidField,
                "language",
                "must be a language code such as `en`",
            ));
        }
    }
    let extra = match obj.get("extra") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => {
            if json_len(v) > MAX_EXTRA_BYTES {
                return Err(field_err(
                    K::InvalidField,
                    "extra",
                    &format!("is longer than {MAX_EXTRA_BYTES} bytes serialized as JSON"),
                ));
            }
            Some(v.clone())
        }
        Some(_) => return Err(field_err(K::InvalidField, "extra", "must be an object")),
    };
    let explicit = match obj.get("explicit") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(field_err(K::InvalidField, "explicit", "must be a boolean")),
    };
    let duration_ms = match obj.get("duration_ms") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .ok_or_else(|| field_err(K::InvalidField, "duration_ms", "must be a non-negative integer"))?,
        ),
        Some(_) => {
            return Err(field_err(
                K::InvalidField,
                "duration_ms",
                "must be a non-negative integer",
            ))
        }
    };
    let alias_ids = alias_ids(obj, &id)?;
    Ok(Record::Upsert(Box::new(Entity {
        id,
        kind: Some(kind),
        name,
        popularity,
        tags: tags(obj)?,
        language,
        release_date,
        description: bounded_string(obj, "description", MAX_DESCRIPTION_BYTES)?,
        aliases: name_list(obj, "aliases")?,
        alias_ids,
        explicit,
        markets,
        extra,
        artist_ids: id_list(obj, "artist_ids")?,
        album_id: opt_id(obj, "album_id")?,
        duration_ms,
        owner: bounded_string(obj, "owner", MAX_NAME_BYTES)?,
        track_ids: id_list(obj, "track_ids")?,
        publisher: bounded_string(obj, "publisher", MAX_NAME_BYTES)?,
        show_id: opt_id(obj, "show_id")?,
        transcript: bounded_string(obj, "transcript", MAX_TRANSCRIPT_BYTES)?,
        authors: name_list(obj, "authors")?,
        narrators: name_list(obj, "narrators")?,
        audiobook_id: opt_id(obj, "audiobook_id")?,
    })))
}

fn field_err(code: K, field: &str, msg: &str) -> ValidationError {
    ValidationError::new(code, Some(field.to_string()), &format!("field `{field}` {msg}"))
}

/// Validate an entity id (also used for path parameters): [`K::InvalidId`].
pub fn check_id(id: &str, field: &str) -> Result<(), ValidationError> {
    match id_problem(id) {
        Some(why) => Err(field_err(K::InvalidId, field, &why)),
        None => Ok(()),
    }
}

/// What is wrong with an id, if anything: empty (or only whitespace), too long, or with
/// control characters.
fn id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        Some("must not be empty".to_string())
    } else if id.trim().is_empty() {
        Some("must not be only whitespace".to_string())
    } else if id.len() > MAX_ID_BYTES {
        Some(format!("is longer than {MAX_ID_BYTES} bytes"))
    } else if id.chars().any(char::is_control) {
        Some("must not contain control characters".to_string())
    } else {
        None
    }
}

// Request parameters. Each check lives here once; the engine or the server (whichever
// owns the request) calls it, never both.

fn param_err(param: &str, msg: impl std::fmt::Display) -> ValidationError {
    ValidationError::new(
        K::InvalidParameter,
        Some(param.to_string()),
        &format!("parameter `{param}`: {msg}"),
    )
}

/// An id given as a request parameter (`user_id` of a search): [`K::InvalidParameter`].
pub fn param_id(param: &str, id: &str) -> Result<(), ValidationError> {
    match id_problem(id) {
        Some(why) => Err(param_err(param, why)),
        None => Ok(()),
    }
}

/// Check an ISO 3166-1 alpha-2 market code (`se`, `US`): the code upper-cased, or why not.
/// Record fields, the `market` parameter and `market:` filter clauses all use it.
pub fn market(m: &str) -> Result<String, String> {
    if m.len() == 2 && m.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(m.to_ascii_uppercase())
    } else {
        Err(format!("`{m}` is not an ISO 3166-1 alpha-2 country code (e.g. `US`)"))
    }
}

/// The `market` request parameter, upper-cased: [`K::InvalidParameter`].
pub fn market_param(m: &str) -> Result<String, ValidationError> {
    market(m).map_err(|why| param_err("market", why))
}

/// A count parameter (`limit`, `top`) in `1..=max`: [`K::InvalidParameter`].
pub fn limit(param: &str, n: usize, max: usize) -> Result<usize, ValidationError> {
    if (1..=max).contains(&n) {
        Ok(n)
    } else {
        Err(param_err(param, format!("must be between 1 and {max}, got {n}")))
    }
}

/// A page `offset` whose window `offset + limit` must stay within `max`: [`K::InvalidParameter`].
pub fn window(offset: usize, limit: usize, max: usize) -> Result<(), ValidationError> {
    if offset.checked_add(limit).is_some_and(|end| end <= max) {
        Ok(())
    } else {
        Err(param_err(
            "offset",
            format!("offset + limit must be at most {max} (got offset {offset}, limit {limit})"),
        ))
    }
}

/// The search text `q`, at most `max` bytes: [`K::QueryTooLong`].
pub fn query_text(q: &str, max: usize) -> Result<(), ValidationError> {
    if q.len() <= max {
        return Ok(());
    }
    Err(ValidationError::new(
        K::QueryTooLong,
        Some("q".to_string()),
        &format!("parameter `q` is {} bytes long; the limit is {max}", q.len()),
    ))
}

fn parse_id(v: Option<&Value>, field: &str) -> Result<String, ValidationError> {
    match v {
        None | Some(Value::Null) => Err(field_err(K::MissingField, field, "is required")),
        Some(Value::String(s)) => {
            check_id(s, field)?;
            Ok(s.clone())
        }
        Some(_) => Err(field_err(K::InvalidId, field, "must be a string")),
    }
}

fn opt_id(obj: &Map<String, Value>, field: &str) -> Result<Option<String>, ValidationError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        v => parse_id(v, field).map(Some),
    }
}

fn opt_string(obj: &Map<String, Value>, field: &str) -> Result<Option<String>, ValidationError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(field_err(K::InvalidField, field, "must be a string")),
    }
}

/// An optional string of at most `max` bytes.
fn bounded_string(obj: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, ValidationError> {
    let s = opt_string(obj, field)?;
    if s.as_ref().is_some_and(|s| s.len() > max) {
        return Err(field_err(
            K::InvalidField,
            field,
            &format!("is longer than {max} bytes"),
        ));
    }
    Ok(s)
}

/// `tags`: at most [`MAX_TAGS`] strings of at most [`MAX_TAG_CHARS`] characters each.
fn tags(obj: &Map<String, Value>) -> Result<Vec<String>, ValidationError> {
    if let Some(Value::Array(items)) = obj.get("tags") {
        if items.len() > MAX_TAGS {
            return Err(field_err(
                K::InvalidField,
                "tags",
                &format!("has more than {MAX_TAGS} entries"),
            ));
        }
    }
    let list = string_list(obj, "tags")?;
    for (i, tag) in list.iter().enumerate() {
        // Bytes first: a tag of more bytes than 4 × the limit cannot fit, whatever it holds.
        if tag.len() > 4 * MAX_TAG_CHARS || tag.chars().count() > MAX_TAG_CHARS {
            return Err(field_err(
                K::InvalidField,
                &format!("tags[{i}]"),
                &format!("is longer than {MAX_TAG_CHARS} characters"),
            ));
        }
    }
    Ok(list)
}

/// Length of `v` serialized as compact JSON, without building the string.
fn json_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` to a writer that cannot fail does not fail; if it did, too long.
    serde_json::to_writer(&mut count, v).map_or(usize::MAX, |()| count.0)
}

fn string_list(obj: &Map<String, Value>, field: &str) -> Result<Vec<String>, ValidationError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            if items.len() > MAX_LIST_LEN {
                return Err(field_err(
                    K::InvalidField,
                    field,
                    &format!("has more than {MAX_LIST_LEN} entries"),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(field_err(K::InvalidField, &format!("{field}[{i}]"), "must be a string")),
                })
                .collect()
        }
        Some(_) => Err(field_err(K::InvalidField, field, "must be an array of strings")),
    }
}

/// A list of names: at most [`MAX_NAMES`] entries of at most [`MAX_NAME_BYTES`] each.
fn name_list(obj: &Map<String, Value>, field: &str) -> Result<Vec<String>, ValidationError> {
    let list = string_list(obj, field)?;
    if list.len() > MAX_NAMES {
        return Err(field_err(
            K::InvalidField,
            field,
            &format!("has more than {MAX_NAMES} entries"),
        ));
    }
    if let Some(i) = list.iter().position(|n| n.len() > MAX_NAME_BYTES) {
        return Err(field_err(
            K::InvalidField,
            &format!("{field}[{i}]"),
            &format!("is longer than {MAX_NAME_BYTES} bytes"),
        ));
    }
    Ok(list)
}

fn id_list(obj: &Map<String, Value>, field: &str) -> Result<Vec<String>, ValidationError> {
    let list = string_list(obj, field)?;
    for (i, id) in list.iter().enumerate() {
        check_id(id, &format!("{field}[{i}]"))?;
    }
    Ok(list)
}

/// `alias_ids`: like every id list (at most [`MAX_LIST_LEN`] valid ids), and never the
/// entity's own id (an entity is not an alias of itself).
fn alias_ids(obj: &Map<String, Value>, id: &str) -> Result<Vec<String>, ValidationError> {
    let list = id_list(obj, "alias_ids")?;
    if let Some(i) = list.iter().position(|a| a == id) {
        return Err(field_err(
            K::InvalidField,
            &format!("alias_ids[{i}]"),
            "must not be the entity's own id",
        ));
    }
    Ok(list)
}

/// Accepts `YYYY`, `YYYY-MM` and `YYYY-MM-DD` with real months and days.
fn check_date(d: &str) -> Result<(), ValidationError> {
    let bad = || {
        field_err(
            K::InvalidField,
            "release_date",
            &format!("`{d}` is not a date of the form YYYY, YYYY-MM or YYYY-MM-DD"),
        )
    };
    let parts: Vec<&str> = d.split('-').collect();
    let num = |s: &str, len: usize| -> Option<u32> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let year = parts.first().and_then(|y| num(y, 4)).ok_or_else(bad)?;
    if parts.len() > 3 {
        return Err(bad());
    }
    if let Some(m) = parts.get(1) {
        let month = num(m, 2).filter(|m| (1..=12).contains(m)).ok_or_else(bad)?;
        if let Some(dd) = parts.get(2) {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            let max = match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            num(dd, 2).filter(|d| (1..=max).contains(d)).ok_or_else(bad)?;
        }
    }
    Ok(())
}

/// Parse an entity back from its stored JSON (already validated once).
pub fn entity_from_stored(bytes: &[u8]) -> Result<Entity, serde_json::Error> {
    serde_json::from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> ValidationError {
        parse_record(&v).unwrap_err()
    }

    /// Found by the `record` and `body` fuzz targets: without serde_json's
    /// `float_roundtrip`, `5e+039` parsed one ulp off, printed as a number that parsed to
    /// another, so the record read back from the write log or the store was not the one
    /// accepted (and an array re-sent as NDJSON gave other values).
    #[test]
    fn numbers_survive_the_json_round_trip() {
        let line = r#"{"id":"ab:1","type":"audiobook","name":"P","popularity":5e+039,"extra":{"n":[0,244444444444444444443,2.444444444444445e+20]}}"#;
        let record = parse_record(&serde_json::from_str(line).unwrap()).unwrap();
        let Record::Upsert(e) = &record else {
            panic!("an upsert")
        };
        assert_eq!(e.popularity, Some(5e39));
        let stored = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&stored).unwrap(), record);
        let again = serde_json::to_string(e).unwrap();
        assert_eq!(&entity_from_stored(again.as_bytes()).unwrap(), e.as_ref());
        let n: Value = serde_json::from_str("244444444444444444443").unwrap();
        assert_eq!(serde_json::from_str::<Value>(&n.to_string()).unwrap(), n);
    }

    #[test]
    fn accepts_a_full_track() {
        let r = parse_record(&json!({"id":"t1","type":"track","name":" Hello ","popularity":3.5,
            "artist_ids":["a1"],"album_id":"al1","duration_ms":295000,"release_date":"2015-10-23",
            "markets":["gb","US"],"explicit":false,"extra":{"isrc":"x"}}))
        .unwrap();
        let Record::Upsert(e) = r else {
            panic!("expected upsert")
        };
        assert_eq!(e.name, "Hello");
        assert_eq!(e.markets.as_deref(), Some(&["GB".to_string(), "US".to_string()][..]));
        assert_eq!(e.release_year(), Some(2015));
    }

    #[test]
    fn delete_records() {
        assert_eq!(
            parse_record(&json!({"id":"x","deleted":true})).unwrap(),
            Record::Delete("x".into())
        );
        assert_eq!(err(json!({"id":"x","deleted":false})).field.as_deref(), Some("deleted"));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                json!({"id":"x","type":"track","name":"a","foo":1}),
                "foo",
                K::UnknownField,
            ),
            (
                json!({"id":"x","type":"track","name":"a","show_id":"s"}),
                "show_id",
                K::FieldNotAllowed,
            ),
            (json!({"id":"x","type":"track","name":"  "}), "name", K::InvalidField),
            (json!({"id":"x","type":"track"}), "name", K::MissingField),
            (json!({"id":"x","type":"song","name":"a"}), "type", K::InvalidField),
            (
                json!({"id":"x","type":"track","name":"a","popularity":-1}),
                "popularity",
                K::InvalidField,
            ),
            (
                json!({"id":"x","type":"track","name":"a","release_date":"2015-02-30"}),
                "release_date",
                K::InvalidField,
            ),
            (
                json!({"id":"x","type":"track","name":"a","release_date":"15"}),
                "release_date",
                K::InvalidField,
            ),
            (
                json!({"id":"x","type":"track","name":"a","tags":["a",1]}),
                "tags[1]",
                K::InvalidField,
            ),
            (
                json!({"id":"x","type":"track","name":"a","markets":["USA"]}),
                "markets",
                K::InvalidField,
            ),
            (
                json!({"id":"x".repeat(300),"type":"track","name":"a"}),
                "id",
                K::InvalidId,
            ),
            (json!({"id":7,"type":"track","name":"a"}), "id", K::InvalidId),
            (
                json!({"id":"x","type":"track","name":"a","duration_ms":-5}),
                "duration_ms",
                K::InvalidField,
            ),
        ];
        for (v, field, code) in cases {
            let e = err(v.clone());
            assert_eq!(e.field.as_deref(), Some(field), "{v}");
            assert_eq!(e.code, code, "{v}");
            assert!(e.message.contains(field), "{}", e.message);
        }
    }

    #[test]
    fn long_fields_are_rejected_naming_the_field_and_the_limit() {
        let base = || json!({"id":"x","type":"episode","name":"a"});
        let with = |field: &str, v: Value| {
            let mut r = base();
            r[field] = v;
            r
        };
        // At the limits: accepted (a tag counts characters, not bytes).
        let tags: Vec<String> = (0..MAX_TAGS)
            .map(|i| format!("{i:02}{}", "é".repeat(MAX_TAG_CHARS - 2)))
            .collect();
        let ok = [
            with("tags", json!(tags)),
            with("description", json!("d".repeat(MAX_DESCRIPTION_BYTES))),
            with("transcript", json!("t".repeat(MAX_TRANSCRIPT_BYTES))),
            // `{"k":"…"}` is 8 bytes around the string.
            with("extra", json!({"k": "e".repeat(MAX_EXTRA_BYTES - 8)})),
        ];
        for v in ok {
            assert!(parse_record(&v).is_ok(), "{}", &v.to_string()[..80]);
        }
        let cases = [
            (
                with("tags", json!(vec!["t"; MAX_TAGS + 1])),
                "tags",
                "more than 50 entries",
            ),
            (
                with("tags", json!(["ok", "é".repeat(MAX_TAG_CHARS + 1)])),
                "tags[1]",
                "longer than 200 characters",
            ),
            (
                with("tags", json!(["x".repeat(10 * 1024 * 1024)])),
                "tags[0]",
                "longer than 200 characters",
            ),
            (
                with("description", json!("d".repeat(MAX_DESCRIPTION_BYTES + 1))),
                "description",
                "longer than 10240 bytes",
            ),
            (
                with("transcript", json!("t".repeat(MAX_TRANSCRIPT_BYTES + 1))),
                "transcript",
                "longer than 2097152 bytes",
            ),
            (
                with("extra", json!({"k": "e".repeat(MAX_EXTRA_BYTES - 7)})),
                "extra",
                "longer than 16384 bytes serialized as JSON",
            ),
        ];
        for (v, field, why) in cases {
            let e = err(v);
            assert_eq!(
                (e.code, e.field.as_deref()),
                (K::InvalidField, Some(field)),
                "{}",
                e.message
            );
            assert!(e.message.starts_with(&format!("field `{field}` ")), "{}", e.message);
            assert!(e.message.contains(why), "{}", e.message);
        }
    }

    #[test]
    fn lists_of_names_and_single_names_are_bounded() {
        let long = "n".repeat(MAX_NAME_BYTES + 1);
        let at_limit = "n".repeat(MAX_NAME_BYTES);
        let book = |field: &str, v: Value| {
            let mut r = json!({"id":"b","type":"audiobook","name":"a"});
            r[field] = v;
            r
        };
        let many = json!(vec!["x"; MAX_NAMES]);
        for ok in [
            book("narrators", many.clone()),
            book("authors", json!([at_limit.clone()])),
            json!({"id":"s","type":"show","name":"a","publisher": at_limit}),
        ] {
            assert!(parse_record(&ok).is_ok(), "{}", &ok.to_string()[..60]);
        }
        let cases = [
            (
                book("narrators", json!(vec!["x"; MAX_NAMES + 1])),
                "narrators",
                "more than 1000 entries",
            ),
            (
                book("authors", json!(["ok", long.clone()])),
                "authors[1]",
                "longer than 1024 bytes",
            ),
            (
                book("aliases", json!([long.clone()])),
                "aliases[0]",
                "longer than 1024 bytes",
            ),
            (
                json!({"id":"s","type":"show","name":"a","publisher": long}),
                "publisher",
                "longer than 1024 bytes",
            ),
        ];
        for (v, field, why) in cases {
            let e = err(v);
            assert_eq!(
                (e.code, e.field.as_deref()),
                (K::InvalidField, Some(field)),
                "{}",
                e.message
            );
            assert!(e.message.contains(why), "{}", e.message);
        }
    }

    #[test]
    fn blank_ids_are_rejected() {
        for blank in [" ", "   ", "\u{3000}", " \u{a0}"] {
            let e = err(json!({"id": blank, "type":"track","name":"a"}));
            assert_eq!((e.code, e.field.as_deref()), (K::InvalidId, Some("id")), "{blank:?}");
            assert!(e.message.contains("whitespace"), "{}", e.message);
            let e = err(json!({"id":"x","type":"track","name":"a","artist_ids":["a1", blank]}));
            assert_eq!(e.field.as_deref(), Some("artist_ids[1]"), "{blank:?}");
            assert_eq!(check_id(blank, "id").unwrap_err().code, K::InvalidId);
            assert_eq!(param_id("user_id", blank).unwrap_err().code, K::InvalidParameter);
        }
        // Spaces inside or around a non-blank id are the id's own business.
        assert!(check_id(" a b ", "id").is_ok());
    }

    #[test]
    fn parameter_checks() {
        assert_eq!(market("se"), Ok("SE".to_string()));
        for bad in ["USA", "1x", "", "s"] {
            let e = market_param(bad).unwrap_err();
            assert_eq!(
                (e.code, e.field.as_deref()),
                (K::InvalidParameter, Some("market")),
                "{bad}"
            );
        }
        assert_eq!(limit("top", 3, 100), Ok(3));
        let e = limit("top", 0, 100).unwrap_err();
        assert_eq!(e.message, "parameter `top`: must be between 1 and 100, got 0");
        assert!(limit("limit", 101, 100).is_err());
        assert!(window(990, 10, 1000).is_ok());
        assert!(window(991, 10, 1000).is_err());
        assert!(window(usize::MAX, 10, 1000).is_err());
        assert!(query_text(&"a".repeat(512), 512).is_ok());
        assert_eq!(query_text(&"a".repeat(513), 512).unwrap_err().code, K::QueryTooLong);
        assert_eq!(param_id("user_id", "a\u{1}b").unwrap_err().code, K::InvalidParameter);
        assert_eq!(check_id("", "id").unwrap_err().code, K::InvalidId);
    }

    #[test]
    fn dates() {
        for ok in ["1999", "1999-12", "2000-02-29", "2024-02-29"] {
            assert!(check_date(ok).is_ok(), "{ok}");
        }
        for bad in ["1900-02-29", "1999-13", "1999-1-1", "abcd", "1999-12-01-01", ""] {
            assert!(check_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn alias_id_lists() {
        let ok = parse_record(&json!({"id":"lfm:1","type":"artist","name":"A","alias_ids":["bb:a"]})).unwrap();
        let Record::Upsert(e) = ok else { panic!("an upsert") };
        assert_eq!(e.alias_ids, ["bb:a"]);
        for (ids, field) in [
            (json!(["bb:a", ""]), "alias_ids[1]"),
            (json!(["lfm:1"]), "alias_ids[0]"),
            (json!("bb:a"), "alias_ids"),
            (json!(vec!["x"; MAX_LIST_LEN + 1]), "alias_ids"),
        ] {
            let e = err(json!({"id":"lfm:1","type":"artist","name":"A","alias_ids":ids}));
            assert_eq!(e.field.as_deref(), Some(field), "{ids}");
        }
        // Every type may have alias ids.
        assert!(parse_record(&json!({"id":"s","type":"show","name":"S","alias_ids":["t"]})).is_ok());
    }
}
