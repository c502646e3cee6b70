//! Listening events: what a listener did with an item, and their validation.

use crate::error::{ValidationError, ValidationKind as K};
use crate::validate::check_id;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// The listener played the item (`count` times, `ms_played` long).
    Play,
    /// The listener skipped the item.
    Skip,
    /// Saved to the library.
    Save,
    /// Removed from the library.
    Unsave,
    /// Followed (an artist, a show, a playlist).
    Follow,
    /// Unfollowed.
    Unfollow,
    /// Clicked a search result (`context` carries the query).
    SearchClick,
}

impl EventType {
    /// Every type.
    pub const ALL: [EventType; 7] = [
        EventType::Play,
        EventType::Skip,
        EventType::Save,
        EventType::Unsave,
        EventType::Follow,
        EventType::Unfollow,
        EventType::SearchClick,
    ];
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Play => "play",
            EventType::Skip => "skip",
            EventType::Save => "save",
            EventType::Unsave => "unsave",
            EventType::Follow => "follow",
            EventType::Unfollow => "unfollow",
            EventType::SearchClick => "search_click",
        }
    }
    /// Compact code for the log.
    pub fn code(self) -> u8 {
        self as u8
    }
    /// Inverse of [`EventType::code`].
    pub fn from_code(c: u8) -> Option<EventType> {
        EventType::ALL.get(c as usize).copied()
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        EventType::ALL.iter().copied().find(|t| t.as_str() == s).ok_or_else(|| {
            format!("unknown event type `{s}`; expected play, skip, save, unsave, follow, unfollow or search_click")
        })
    }
}

/// One validated listening event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// Client-chosen id; a repeated id is counted once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The listener.
    pub user_id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The item (any entity type; it may not be in the catalog yet).
    pub item_id: String,
    /// When, epoch milliseconds (UTC).
    pub ts: i64,
    /// How long the item played.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms_played: Option<u64>,
    /// How many times this event happened (aggregated histories), >= 1.
    pub count: u32,
    /// Free context (a search query for `search_click`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

const FIELDS: &[&str] = &[
    "event_id",
    "user_id",
    "type",
    "item_id",
    "ts",
    "ms_played",
    "count",
    "context",
];
/// Longest `context`, bytes.
pub const MAX_CONTEXT_BYTES: usize = 1024;

fn err(code: K, field: &str, msg: &str) -> ValidationError {
    ValidationError::new(code, Some(field.to_string()), &format!("field `{field}` {msg}"))
}

fn str_field<'a>(o: &'a Map<String, Value>, f: &str, required: bool) -> Result<Option<&'a str>, ValidationError> {
    match o.get(f) {
        None | Some(Value::Null) if required => Err(err(K::MissingField, f, "is required")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(K::InvalidField, f, "must be a string")),
    }
}

/// Latest accepted timestamp: 3000-01-01T00:00:00Z, epoch milliseconds.
pub const MAX_TS_MS: i64 = 32_503_680_000_000;

/// Parse a timestamp: RFC 3339 (`2024-05-01T12:00:00Z`, offsets allowed) or epoch
/// milliseconds; either way within years 1970..3000 (the same instant is accepted or
/// refused whatever its spelling).
pub fn parse_ts(v: &Value) -> Result<i64, ValidationError> {
    let ms = match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| err(K::InvalidField, "ts", "must be integer epoch milliseconds"))?,
        Value::String(s) => parse_rfc3339(s).ok_or_else(|| {
            err(
                K::InvalidField,
                "ts",
                &format!("`{s}` is neither a valid RFC 3339 date-time nor epoch milliseconds"),
            )
        })?,
        _ => {
            return Err(err(
                K::InvalidField,
                "ts",
                "must be an RFC 3339 string or epoch milliseconds",
            ))
        }
    };
    if !(0..=MAX_TS_MS).contains(&ms) {
        return Err(err(K::InvalidField, "ts", "is outside years 1970..3000"));
    }
    Ok(ms)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Strict RFC 3339 date-time to epoch milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
    };
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=days_in_month(y, mo)).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s[start..i.min(start + 3)];
        ms = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        b'+' | b'-' if i + 6 == b.len() && b[i + 3] == b':' => {
            let sign = if b[i] == b'+' { 1 } else { -1 };
            sign * (num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60) * 1000) + ms)
}

/// Validate one event.
pub fn parse_event(v: &Value) -> Result<Event, ValidationError> {
    let o = v
        .as_object()
        .ok_or_else(|| ValidationError::new(K::InvalidRecord, None, "an event must be a JSON object"))?;
    if let Some(k) = o.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(err(K::UnknownField, k, "is not a field of an event"));
    }
    let user_id = str_field(o, "user_id", true)?.unwrap_or_default().to_string();
    check_id(&user_id, "user_id")?;
    let item_id = str_field(o, "item_id", true)?.unwrap_or_default().to_string();
    check_id(&item_id, "item_id")?;
    let kind: EventType = str_field(o, "type", true)?
        .unwrap_or_default()
        .parse()
        .map_err(|m: String| err(K::InvalidField, "type", &m))?;
    let ts = match o.get("ts") {
        None | Some(Value::Null) => return Err(err(K::MissingField, "ts", "is required")),
        Some(t) => parse_ts(t)?,
    };
    let event_id = str_field(o, "event_id", false)?.map(str::to_string);
    if let Some(id) = &event_id {
        check_id(id, "event_id")?;
    }
    let ms_played = match o.get("ms_played") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| err(K::InvalidField, "ms_played", "must be a non-negative integer"))?,
        ),
    };
    let count = match o.get("count") {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=u32::MAX as u64).contains(&n) => n as u32,
            _ => return Err(err(K::InvalidField, "count", "must be an integer from 1 to 4294967295")),
        },
    };
    let context = str_field(o, "context", false)?.map(str::to_string);
    if context.as_ref().is_some_and(|c| c.len() > MAX_CONTEXT_BYTES) {
        return Err(err(
            K::InvalidField,
            "context",
            &format!("is longer than {MAX_CONTEXT_BYTES} bytes"),
        ));
    }
    Ok(Event {
        event_id,
        user_id,
        kind,
        item_id,
        ts,
        ms_played,
        count,
        context,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-05-01T12:00:00.5Z"), Some(1_714_564_800_500));
        assert_eq!(parse_rfc3339("2024-05-01T14:00:00+02:00"), Some(1_714_564_800_000));
        assert_eq!(parse_rfc3339("2024-05-01"), None);
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_ts(&json!(1_714_564_800_000i64)).unwrap(), 1_714_564_800_000);
        assert!(parse_ts(&json!(-5)).is_err());
        // The range holds for both spellings of an instant.
        assert!(parse_ts(&json!("9999-12-31T00:00:00Z")).is_err());
        assert!(parse_ts(&json!(253_402_214_400_000i64)).is_err());
        assert_eq!(parse_ts(&json!("2999-12-31T23:59:59Z")).unwrap(), MAX_TS_MS - 1000);
        // Days that do not exist are refused, not rolled over.
        assert!(parse_ts(&json!("2024-02-30T00:00:00Z")).is_err());
        assert!(parse_ts(&json!("2023-02-29T00:00:00Z")).is_err());
        assert!(parse_ts(&json!("2024-02-29T00:00:00Z")).is_ok());
        assert!(parse_ts(&json!("2024-04-31T00:00:00Z")).is_err());
    }

    #[test]
    fn events_and_rejections() {
        let e =
            parse_event(&json!({"user_id":"u","type":"play","item_id":"t","ts":"2024-05-01T12:00:00Z","count":13883}))
                .unwrap();
        assert_eq!((e.kind, e.count), (EventType::Play, 13883));
        let cases = [
            (json!({"type":"play","item_id":"t","ts":1}), "user_id"),
            (json!({"user_id":"u","type":"listen","item_id":"t","ts":1}), "type"),
            (json!({"user_id":"u","type":"play","item_id":"t"}), "ts"),
            (
                json!({"user_id":"u","type":"play","item_id":"t","ts":"yesterday"}),
                "ts",
            ),
            (
                json!({"user_id":"u","type":"play","item_id":"t","ts":1,"count":0}),
                "count",
            ),
            (
                json!({"user_id":"u","type":"play","item_id":"t","ts":1,"ms_played":-1}),
                "ms_played",
            ),
            (json!({"user_id":"u","type":"play","item_id":"","ts":1}), "item_id"),
            (
                json!({"user_id":"u","type":"play","item_id":"t","ts":1,"rating":5}),
                "rating",
            ),
        ];
        for (v, field) in cases {
            let e = parse_event(&v).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{v}");
            assert!(e.message.contains(field));
        }
    }
}
