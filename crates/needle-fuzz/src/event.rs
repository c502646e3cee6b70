//! Event validation (`needle_core::event::parse_event`, timestamps included) on any JSON.
//!
//! Invariants: an accepted event is within the documented ranges (`ts` in years
//! 1970..3000, `count >= 1`, `context` bounded), round-trips through serde as the event
//! file stores it, and validates again to itself; an RFC 3339 timestamp and the epoch
//! milliseconds it parses to are accepted or refused together.

use needle_core::event::{parse_event, parse_rfc3339, parse_ts, MAX_CONTEXT_BYTES, MAX_TS_MS};
use needle_core::Event;
use serde_json::{json, Value};

/// The harness of the `event` target: `data` is one JSON value, or (when it is not JSON)
/// a timestamp string.
pub fn run(data: &[u8]) {
    match serde_json::from_slice::<Value>(data) {
        Ok(value) => {
            check(&value);
            if let Some(ts) = value.get("ts") {
                check_ts(ts);
            }
        }
        Err(_) => check_ts(&Value::String(crate::text(data).into_owned())),
    }
}

/// The event invariants for one JSON value.
pub fn check(value: &Value) {
    let Ok(event) = parse_event(value) else { return };
    assert!((0..=MAX_TS_MS).contains(&event.ts), "ts out of range: {value}");
    assert!(event.count >= 1, "count 0 accepted: {value}");
    assert!(
        event.context.as_ref().is_none_or(|c| c.len() <= MAX_CONTEXT_BYTES),
        "long context accepted"
    );
    let line = serde_json::to_vec(&event).expect("an event encodes");
    let back: Event = serde_json::from_slice(&line).expect("an encoded event decodes");
    assert_eq!(back, event, "event-file round trip of {value}");
    let as_input = serde_json::to_value(&event).expect("an event is JSON");
    let again = parse_event(&as_input).unwrap_or_else(|e| panic!("stored event {as_input} no longer validates: {e:?}"));
    assert_eq!(again, event, "revalidation of {value}");
}

/// Both spellings of an instant are accepted or refused together.
pub fn check_ts(ts: &Value) {
    let Value::String(s) = ts else { return };
    let Some(ms) = parse_rfc3339(s) else {
        assert!(parse_ts(ts).is_err(), "`{s}` is no RFC 3339 but accepted");
        return;
    };
    let as_string = parse_ts(ts).ok();
    let as_number = parse_ts(&json!(ms)).ok();
    assert_eq!(
        as_string, as_number,
        "`{s}` ({ms} ms) judged differently from its epoch ms"
    );
}
