//! Parsing of `POST /v1/catalog` bodies: a JSON array of records, or NDJSON (one record
//! per line).
//!
//! A JSON array is all-or-nothing: if it is not valid JSON the whole body is refused,
//! since its records cannot be told apart. In NDJSON every line stands alone: a line that
//! is not valid JSON becomes a [`Rejection`] of its own (`invalid_json`) and the other
//! lines go on to validation.

use crate::codes::Code;
use crate::error::ApiError;
use needle_search::Rejection;
use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde_json::Value;
use std::cell::Cell;
use std::fmt;

/// The body format of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFormat {
    /// `[ {...}, {...} ]`.
    JsonArray,
    /// One JSON record per line; blank lines are skipped.
    Ndjson,
}

/// Media types read as NDJSON.
pub const NDJSON_TYPES: &[&str] = &[
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonl",
    "application/jsonlines",
    "application/x-jsonlines",
    "application/json-lines",
];

/// A parsed batch, ready for the engine.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ParsedBatch {
    /// The records that parsed, in body order.
    pub values: Vec<Value>,
    /// For each entry of `values`, its index in the batch (array position, or line - 1).
    pub origins: Vec<usize>,
    /// Lines that are not valid JSON (NDJSON only).
    pub rejected: Vec<Rejection>,
}

impl ParsedBatch {
    /// Number of records in the batch, parsed or not.
    pub fn len(&self) -> usize {
        self.values.len() + self.rejected.len()
    }

    /// `true` when the batch has no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Map the engine's rejection indexes (positions in `values`) back to batch indexes and
    /// merge them with the parse rejections, sorted by index.
    pub fn merge_rejections(&self, engine: Vec<Rejection>) -> Vec<Rejection> {
        let mut all = self.rejected.clone();
        for mut r in engine {
            match self.origins.get(r.index) {
                Some(&orig) => r.index = orig,
                None => tracing::warn!(index = r.index, "engine rejection index out of range"),
            }
            all.push(r);
        }
        all.sort_by_key(|r| r.index);
        all
    }
}

/// Pick the format from the `Content-Type` header, sniffing the body when the header is
/// absent or `application/json`: a body whose first non-blank byte is not `[` is NDJSON.
pub fn detect_format(content_type: Option<&str>, body: &[u8]) -> Result<BatchFormat, ApiError> {
    let essence = content_type
        .map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    if NDJSON_TYPES.contains(&essence.as_str()) {
        return Ok(BatchFormat::Ndjson);
    }
    if !(essence.is_empty() || essence == "application/json" || essence == "text/json") {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            format!(
                "content type `{essence}` is not supported; send `application/json` (an array of records) \
                 or `application/x-ndjson` (one record per line)"
            ),
        ));
    }
    match strip_bom(body).iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => Ok(BatchFormat::JsonArray),
        _ => Ok(BatchFormat::Ndjson),
    }
}

/// Parse a batch body of at most `max_records` records.
pub fn parse_batch(body: &[u8], format: BatchFormat, max_records: usize) -> Result<ParsedBatch, ApiError> {
    let body = strip_bom(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(empty());
    }
    let batch = match format {
        BatchFormat::JsonArray => parse_array(body, max_records)?,
        BatchFormat::Ndjson => parse_ndjson(body, max_records)?,
    };
    if batch.is_empty() {
        return Err(empty());
    }
    // A body that is one JSON scalar (`42`, `null`) holds no record at all: refuse it
    // whole. A scalar line among others is that line's own rejection, as usual.
    if let (BatchFormat::Ndjson, [only], []) = (format, batch.values.as_slice(), batch.rejected.as_slice()) {
        if let Some(what) = scalar_name(only) {
            return Err(ApiError::new(
                Code::InvalidRecord,
                format!(
                    "the body is a JSON {what}, not records: send a JSON array of objects \
                     or NDJSON (one JSON object per line)"
                ),
            ));
        }
    }
    Ok(batch)
}

/// The kind of a JSON scalar (`number`, `string`, ...), `None` for objects and arrays.
fn scalar_name(v: &Value) -> Option<&'static str> {
    match v {
        Value::Null => Some("null"),
        Value::Bool(_) => Some("boolean"),
        Value::Number(_) => Some("number"),
        Value::String(_) => Some("string"),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

fn empty() -> ApiError {
    ApiError::new(Code::EmptyBatch, "the batch has no records")
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        Code::BatchTooLarge,
        format!("the batch has more than {max} records (max_batch_records); split it into smaller batches"),
    )
}

/// serde_json's message without its " at line L column C" suffix.
fn bare_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix).map(str::to_string).unwrap_or(full)
}

fn parse_ndjson(body: &[u8], max: usize) -> Result<ParsedBatch, ApiError> {
    let mut batch = ParsedBatch::default();
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        if batch.len() == max {
            return Err(too_large(max));
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => {
                batch.values.push(v);
                batch.origins.push(i);
            }
            Err(e) => batch.rejected.push(Rejection {
                index: i,
                code: Code::InvalidJson.as_str().to_string(),
                message: format!("line {}, column {}: {}", i + 1, e.column(), bare_message(&e)),
            }),
        }
    }
    Ok(batch)
}

fn parse_array(body: &[u8], max: usize) -> Result<ParsedBatch, ApiError> {
    let overflow = Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = LimitedArray {
        max,
        overflow: &overflow,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(values) => Ok(ParsedBatch {
            origins: (0..values.len()).collect(),
            values,
            rejected: Vec::new(),
        }),
        Err(_) if overflow.get() => Err(too_large(max)),
        Err(e) => Err(ApiError::new(
            Code::InvalidJson,
            format!(
                "the body is not a valid JSON array: line {}, column {}: {}",
                e.line(),
                e.column(),
                bare_message(&e)
            ),
        )),
    }
}

/// Deserializes a JSON array, stopping as soon as it has more than `max` elements.
struct LimitedArray<'a> {
    max: usize,
    overflow: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for LimitedArray<'_> {
    type Value = Vec<Value>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LimitedArray<'_> {
    type Value = Vec<Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max).min(4096));
        while let Some(v) = seq.next_element::<Value>()? {
            if out.len() == self.max {
                self.overflow.set(true);
                return Err(A::Error::custom("too many records"));
            }
            out.push(v);
        }
        Ok(out)
    }
}

/// A batch answer whose rejections can be merged with those found while parsing the body.
pub trait BatchReport: Default + Send + 'static {
    /// The rejections of the batch.
    fn rejected_mut(&mut self) -> &mut Vec<Rejection>;
}

impl BatchReport for needle_search::WriteReport {
    fn rejected_mut(&mut self) -> &mut Vec<Rejection> {
        &mut self.rejected
    }
}

impl BatchReport for needle_search::EventReport {
    fn rejected_mut(&mut self) -> &mut Vec<Rejection> {
        &mut self.rejected
    }
}

/// The one ingest path of batch endpoints (catalog records, events): detect the body's
/// format, parse it on the blocking pool, hand the values to `apply` (the service
/// validates each one), and merge the body's line-level rejections with `apply`'s, every
/// index counted in the body's lines.
pub async fn ingest_batch<R, F>(
    state: &crate::state::AppState,
    headers: &axum::http::HeaderMap,
    body: axum::body::Bytes,
    apply: F,
) -> Result<R, ApiError>
where
    R: BatchReport,
    F: FnOnce(&needle_service::Service, Vec<Value>) -> Result<R, ApiError> + Send + 'static,
{
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("invalid"));
    let format = detect_format(content_type, &body)?;
    let max_records = state.config().max_batch_records;
    state
        .blocking(move |service| {
            let mut batch = parse_batch(&body, format, max_records)?;
            drop(body);
            if batch.values.is_empty() {
                let mut report = R::default();
                *report.rejected_mut() = std::mem::take(&mut batch.rejected);
                return Ok(report);
            }
            // The service's rejection indexes refer to positions in `values`.
            let values = std::mem::take(&mut batch.values);
            let mut report = apply(service, values)?;
            let own = std::mem::take(report.rejected_mut());
            *report.rejected_mut() = batch.merge_rejections(own);
            Ok(report)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(ct: Option<&str>, body: &str, max: usize) -> Result<ParsedBatch, ApiError> {
        let format = detect_format(ct, body.as_bytes())?;
        parse_batch(body.as_bytes(), format, max)
    }

    #[test]
    fn formats() {
        assert_eq!(detect_format(None, b"  [1]").ok(), Some(BatchFormat::JsonArray));
        assert_eq!(
            detect_format(Some("application/json; charset=utf-8"), b"{}").ok(),
            Some(BatchFormat::Ndjson)
        );
        assert_eq!(
            detect_format(Some("Application/X-NDJSON"), b"[1]").ok(),
            Some(BatchFormat::Ndjson)
        );
        assert_eq!(detect_format(None, b"\xEF\xBB\xBF[").ok(), Some(BatchFormat::JsonArray));
        let e = detect_format(Some("text/csv"), b"a,b").unwrap_err();
        assert_eq!((e.status().as_u16(), e.code.as_str()), (415, "unsupported_media_type"));
        assert!(e.message.contains("text/csv"));
    }

    #[test]
    fn ndjson_bad_line_is_its_own_rejection() {
        let body = "{\"id\":\"a\"}\n\n{oops\r\n{\"id\":\"c\"}\n";
        let b = parse(Some("application/x-ndjson"), body, 10).expect("parses");
        assert_eq!(b.values, vec![json!({"id":"a"}), json!({"id":"c"})]);
        assert_eq!(b.origins, vec![0, 3]);
        assert_eq!(b.rejected.len(), 1);
        assert_eq!(b.rejected[0].index, 2);
        assert_eq!(b.rejected[0].code, "invalid_json");
        assert!(
            b.rejected[0].message.starts_with("line 3, column 2: "),
            "{}",
            b.rejected[0].message
        );
        assert!(!b.rejected[0].message.contains("at line"), "{}", b.rejected[0].message);
    }

    #[test]
    fn engine_rejections_are_mapped_back() {
        let b = parse(None, "{}\nnope\n{}\n{}", 10).expect("parses");
        let engine = vec![
            Rejection {
                index: 2,
                code: "missing_field".into(),
                message: "m".into(),
            },
            Rejection {
                index: 0,
                code: "missing_field".into(),
                message: "m".into(),
            },
        ];
        let merged: Vec<(usize, String)> = b
            .merge_rejections(engine)
            .into_iter()
            .map(|r| (r.index, r.code))
            .collect();
        assert_eq!(
            merged,
            vec![
                (0, "missing_field".into()),
                (1, "invalid_json".into()),
                (3, "missing_field".into())
            ]
        );
    }

    #[test]
    fn arrays() {
        let b = parse(Some("application/json"), "[{\"a\":1}, 2]", 10).expect("parses");
        assert_eq!(b.values, vec![json!({"a":1}), json!(2)]);
        assert_eq!(b.origins, vec![0, 1]);
        let e = parse(None, "[{\"a\":1},", 10).unwrap_err();
        assert_eq!(e.code, "invalid_json");
        assert!(e.message.contains("line 1, column 9"), "{}", e.message);
        let e = parse(None, "[1] x", 10).unwrap_err();
        assert_eq!(e.code, "invalid_json");
    }

    #[test]
    fn a_scalar_body_is_refused_whole_but_a_scalar_line_only_by_itself() {
        for (ct, body, what) in [
            (None, "42", "number"),
            (Some("application/json"), " null\n", "null"),
            (Some("application/x-ndjson"), "true", "boolean"),
            (None, "\"x\"", "string"),
        ] {
            let e = parse(ct, body, 10).unwrap_err();
            assert_eq!(
                (e.status().as_u16(), e.code.as_str()),
                (400, "invalid_record"),
                "{body:?}"
            );
            assert!(e.message.contains(&format!("JSON {what}")), "{}", e.message);
        }
        // One record line and one scalar line: the scalar is rejected later, by itself.
        let b = parse(None, "{\"id\":\"a\"}\n42\n", 10).expect("parses");
        assert_eq!(b.values, vec![json!({"id":"a"}), json!(42)]);
        // A lone object (a one-line NDJSON batch) and arrays of scalars are batches.
        assert!(parse(None, "{\"id\":\"a\"}", 10).is_ok());
        assert!(parse(None, "[42]", 10).is_ok());
    }

    #[test]
    fn limits_and_empties() {
        assert_eq!(parse(None, "[1,2,3]", 3).map(|b| b.len()).ok(), Some(3));
        let e = parse(None, "[1,2,3,4]", 3).unwrap_err();
        assert_eq!((e.status().as_u16(), e.code.as_str()), (413, "batch_too_large"));
        let e = parse(None, "1\n2\n\n3\n4\n", 3).unwrap_err();
        assert_eq!(e.code, "batch_too_large");
        for body in ["", "  \n\n ", "[]", " [ ] ", "\n\r\n"] {
            let e = parse(None, body, 3).unwrap_err();
            assert_eq!((e.status().as_u16(), e.code.as_str()), (400, "empty_batch"), "{body:?}");
        }
    }
}
