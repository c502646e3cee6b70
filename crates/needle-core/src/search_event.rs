//! Search and click events: what listeners searched for and which result they opened.
//!
//! Two event types of `POST /v1/events` (beside the listening events of [`crate::event`]):
//! `click` (`search_id`, `item_id`, `position`, `user_id`?, `ts`, `event_id`) and `search`
//! (`search_id`, `query`, `user_id`?, `market`?, `result_ids`?, `took_ms`?, `ts`,
//! `event_id`), a search logged by a client. Unlike listening events, `user_id` is
//! optional: anonymous listeners click too. The server logs its own searches as
//! [`LoggedSearch`]es without a client call (see `needle_service`'s search log).

use crate::error::{ValidationError, ValidationKind as K};
use crate::event::parse_ts;
use crate::validate::check_id;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest `query`, bytes (the search engine's own bound).
pub const MAX_QUERY_BYTES: usize = 512;
/// Most `result_ids` of one logged search.
pub const MAX_RESULT_IDS: usize = 100;
/// Largest `position` of a click (1-based: the first hit is position 1).
pub const MAX_POSITION: u32 = 1000;

/// A listener opened a search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Click {
    /// Client-chosen id; a repeated id (for the same listener, or anonymous) counts once.
    pub event_id: String,
    /// The `search_id` of the answer the result was in.
    pub search_id: String,
    /// The result opened.
    pub item_id: String,
    /// Its position in the answer, 1-based.
    pub position: u32,
    /// The listener (absent: anonymous).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// When, epoch milliseconds (UTC).
    pub ts: i64,
}

/// A search, as logged by the server (or reported by a client with `type: search`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoggedSearch {
    /// The answer's id (what clicks name).
    pub search_id: String,
    /// The query as typed.
    pub query: String,
    /// The query folded and tokenized ([`normalize_query`]): what aggregates group by.
    pub normalized: String,
    /// The listener (absent: anonymous).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The market searched in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    /// Ids of the results shown, best first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub result_ids: Vec<String>,
    /// Server-side time of the search, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub took_ms: Option<f64>,
    /// Nothing matched.
    #[serde(default)]
    pub zero_result: bool,
    /// When, epoch milliseconds (UTC).
    pub ts: i64,
    /// A client's event id (client-logged searches only; dedup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

/// One validated search or click event.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchEvent {
    /// `type: click`.
    Click(Click),
    /// `type: search`.
    Search(LoggedSearch),
}

/// The grouping key of a query: its folded words joined by one space (`"Hello,  World!"`
/// and `"hello world"` are one query).
pub fn normalize_query(q: &str) -> String {
    crate::text::words(q).join(" ")
}

/// True when `v` is an event of this module (`type` is `click` or `search`).
pub fn is_search_event(v: &Value) -> bool {
    matches!(v.get("type").and_then(Value::as_str), Some("click" | "search"))
}

const CLICK_FIELDS: &[&str] = &["type", "event_id", "search_id", "item_id", "position", "user_id", "ts"];
const SEARCH_FIELDS: &[&str] = &[
    "type",
    "event_id",
    "search_id",
    "query",
    "user_id",
    "market",
    "result_ids",
    "took_ms",
    "ts",
];

fn err(code: K, field: &str, msg: &str) -> ValidationError {
    ValidationError::new(code, Some(field.to_string()), &format!("field `{field}` {msg}"))
}

fn string<'a>(o: &'a Map<String, Value>, f: &str, required: bool) -> Result<Option<&'a str>, ValidationError> {
    match o.get(f) {
        None | Some(Value::Null) if required => Err(err(K::MissingField, f, "is required")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(K::InvalidField, f, "must be a string")),
    }
}

fn id(o: &Map<String, Value>, f: &str, required: bool) -> Result<Option<String>, ValidationError> {
    match string(o, f, required)? {
        Some(s) => {
            check_id(s, f)?;
            Ok(Some(s.to_string()))
        }
        None => Ok(None),
    }
}

fn ts(o: &Map<String, Value>) -> Result<i64, ValidationError> {
    match o.get("ts") {
        None | Some(Value::Null) => Err(err(K::MissingField, "ts", "is required")),
        Some(t) => parse_ts(t),
    }
}

/// Validate one `click` or `search` event (see [`is_search_event`]); a rejection names
/// the field.
pub fn parse_search_event(v: &Value) -> Result<SearchEvent, ValidationError> {
    let o = v
        .as_object()
        .ok_or_else(|| ValidationError::new(K::InvalidRecord, None, "an event must be a JSON object"))?;
    let kind = string(o, "type", true)?.unwrap_or_default();
    let fields = match kind {
        "click" => CLICK_FIELDS,
        "search" => SEARCH_FIELDS,
        other => {
            return Err(err(
                K::InvalidField,
                "type",
                &format!("`{other}` is not `click` or `search`"),
            ))
        }
    };
    if let Some(k) = o.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(err(K::UnknownField, k, &format!("is not a field of a {kind} event")));
    }
    let event_id = id(o, "event_id", true)?.unwrap_or_default();
    let search_id = id(o, "search_id", true)?.unwrap_or_default();
    let user_id = id(o, "user_id", false)?;
    let ts = ts(o)?;
    if kind == "click" {
        let item_id = id(o, "item_id", true)?.unwrap_or_default();
        let position = match o.get("position") {
            None | Some(Value::Null) => return Err(err(K::MissingField, "position", "is required")),
            Some(p) => match p.as_u64() {
                Some(n) if (1..=u64::from(MAX_POSITION)).contains(&n) => n as u32,
                _ => {
                    return Err(err(
                        K::InvalidField,
                        "position",
                        &format!("must be an integer from 1 (the first result) to {MAX_POSITION}"),
                    ))
                }
            },
        };
        return Ok(SearchEvent::Click(Click {
            event_id,
            search_id,
            item_id,
            position,
            user_id,
            ts,
        }));
    }
    let query = string(o, "query", true)?.unwrap_or_default().to_string();
    if query.len() > MAX_QUERY_BYTES {
        return Err(err(
            K::InvalidField,
            "query",
            &format!("is longer than {MAX_QUERY_BYTES} bytes"),
        ));
    }
    let market = match string(o, "market", false)? {
        Some(m) => Some(
            crate::validate::market_param(m)
                .map_err(|_| err(K::InvalidField, "market", "must be an ISO 3166-1 alpha-2 code"))?,
        ),
        None => None,
    };
    let result_ids = match o.get("result_ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) if a.len() <= MAX_RESULT_IDS => {
            let mut ids = Vec::with_capacity(a.len());
            for v in a {
                let s = v
                    .as_str()
                    .ok_or_else(|| err(K::InvalidField, "result_ids", "must be an array of ids"))?;
                check_id(s, "result_ids")?;
                ids.push(s.to_string());
            }
            ids
        }
        Some(_) => {
            return Err(err(
                K::InvalidField,
                "result_ids",
                &format!("must be an array of at most {MAX_RESULT_IDS} ids"),
            ))
        }
    };
    let took_ms = match o.get("took_ms") {
        None | Some(Value::Null) => None,
        Some(t) => match t.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Some(x),
            _ => return Err(err(K::InvalidField, "took_ms", "must be a non-negative number")),
        },
    };
    Ok(SearchEvent::Search(LoggedSearch {
        search_id,
        normalized: normalize_query(&query),
        query,
        user_id,
        market,
        zero_result: result_ids.is_empty() && o.contains_key("result_ids"),
        result_ids,
        took_ms,
        ts,
        event_id: Some(event_id),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clicks_and_searches_parse_with_optional_user() {
        let c = parse_search_event(
            &json!({"type":"click","search_id":"s1","item_id":"tr:1","position":3,"ts":5,"event_id":"e1"}),
        )
        .unwrap();
        assert!(matches!(&c, SearchEvent::Click(c) if c.position == 3 && c.user_id.is_none()));
        let s = parse_search_event(&json!({"type":"search","search_id":"s1","query":"  Héllo,  World ",
            "user_id":"u","market":"gb","result_ids":[],"took_ms":1.5,"ts":"2024-05-01T12:00:00Z","event_id":"e2"}))
        .unwrap();
        let SearchEvent::Search(s) = s else { panic!("a search") };
        assert_eq!(s.normalized, "hello world");
        assert!(s.zero_result);
        assert_eq!(s.market.as_deref(), Some("GB"));
        assert!(is_search_event(&json!({"type":"click"})) && !is_search_event(&json!({"type":"play"})));
    }

    #[test]
    fn rejections_name_the_field() {
        let base = || json!({"type":"click","search_id":"s","item_id":"i","position":1,"ts":1,"event_id":"e"});
        let with = |k: &str, v: Value| {
            let mut b = base();
            b[k] = v;
            b
        };
        let without = |k: &str| {
            let mut b = base();
            b.as_object_mut().map(|o| o.remove(k));
            b
        };
        let cases = [
            (with("position", json!(0)), "position"),
            (with("position", json!(1001)), "position"),
            (with("position", json!("3")), "position"),
            (without("position"), "position"),
            (without("search_id"), "search_id"),
            (without("event_id"), "event_id"),
            (without("ts"), "ts"),
            (with("user_id", json!("")), "user_id"),
            (with("query", json!("x")), "query"),
            (json!({"type":"search","search_id":"s","ts":1,"event_id":"e"}), "query"),
            (
                json!({"type":"search","search_id":"s","query":"q","ts":1,"event_id":"e","result_ids":"a"}),
                "result_ids",
            ),
            (
                json!({"type":"search","search_id":"s","query":"q","ts":1,"event_id":"e","took_ms":-1}),
                "took_ms",
            ),
            (
                json!({"type":"search","search_id":"s","query":"q","ts":1,"event_id":"e","market":"gbr"}),
                "market",
            ),
            (
                json!({"type":"search","search_id":"s","query":"q".repeat(513),"ts":1,"event_id":"e"}),
                "query",
            ),
        ];
        for (v, field) in cases {
            let e = parse_search_event(&v).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{v}");
            assert!(e.message.contains(field), "{}", e.message);
        }
    }
}
