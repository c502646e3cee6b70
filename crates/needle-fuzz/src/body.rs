//! Batch bodies (`needle_server::body`): format detection, JSON array and NDJSON parsing.
//!
//! Invariants: a parsed batch holds at most `max_records` records, each value with its
//! origin, origins and rejections at distinct, increasing line (or array) indexes; a
//! refusal is one of the documented codes; an NDJSON line's value is that line parsed
//! alone; an array's values written as NDJSON parse to the same values.

use needle_server::body::{detect_format, parse_batch, BatchFormat, ParsedBatch};
use needle_server::codes::Code;
use serde_json::Value;

/// The harness of the `body` target. The first byte chooses the content type and the
/// record limit; the rest is the body.
pub fn run(data: &[u8]) {
    let Some((&knobs, body)) = data.split_first() else {
        return;
    };
    let content_type = match knobs & 0x07 {
        0 => None,
        1 => Some("application/json"),
        2 => Some("application/x-ndjson; charset=utf-8"),
        3 => Some("text/plain"),
        4 => Some("APPLICATION/JSONL"),
        _ => Some("application/json;charset=utf-8"),
    };
    let max = usize::from(knobs >> 3) + 1;
    check(content_type, body, max);
}

/// The body invariants for one request.
pub fn check(content_type: Option<&str>, body: &[u8], max: usize) {
    let format = match detect_format(content_type, body) {
        Ok(f) => f,
        Err(e) => {
            assert_eq!(e.code, Code::UnsupportedMediaType, "{content_type:?}: {e:?}");
            return;
        }
    };
    match parse_batch(body, format, max) {
        Ok(batch) => check_batch(&batch, body, format, max),
        Err(e) => {
            let allowed = match format {
                BatchFormat::JsonArray => [Code::EmptyBatch, Code::BatchTooLarge, Code::InvalidJson],
                BatchFormat::Ndjson => [Code::EmptyBatch, Code::BatchTooLarge, Code::InvalidRecord],
            };
            assert!(allowed.contains(&e.code), "{format:?} refused with {e:?}");
            assert!(!e.message.is_empty());
        }
    }
}

fn check_batch(batch: &ParsedBatch, body: &[u8], format: BatchFormat, max: usize) {
    assert!(!batch.is_empty(), "an empty batch accepted");
    assert!(batch.len() <= max, "{} records over the limit {max}", batch.len());
    assert_eq!(batch.values.len(), batch.origins.len());
    assert!(
        batch.origins.windows(2).all(|w| w[0] < w[1]),
        "origins {:?}",
        batch.origins
    );
    let rejected: Vec<usize> = batch.rejected.iter().map(|r| r.index).collect();
    assert!(rejected.windows(2).all(|w| w[0] < w[1]), "rejections {rejected:?}");
    assert!(
        rejected.iter().all(|i| !batch.origins.contains(i)),
        "a line both parsed and rejected"
    );
    let merged = batch.merge_rejections(vec![]);
    assert!(merged.windows(2).all(|w| w[0].index <= w[1].index));
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match format {
        BatchFormat::Ndjson => {
            let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').collect();
            for (v, &i) in batch.values.iter().zip(&batch.origins) {
                let line = lines.get(i).expect("an origin is a line of the body");
                let alone: Value = serde_json::from_slice(line.trim_ascii()).expect("a parsed line parses alone");
                assert_eq!(&alone, v, "line {i}");
            }
            for r in &batch.rejected {
                let line = lines.get(r.index).expect("a rejection is a line of the body");
                assert!(
                    serde_json::from_slice::<Value>(line.trim_ascii()).is_err(),
                    "line {} rejected",
                    r.index
                );
                assert_eq!(r.code, Code::InvalidJson.as_str());
            }
        }
        BatchFormat::JsonArray => {
            assert!(batch.rejected.is_empty(), "an array with line rejections");
            assert_eq!(batch.origins, (0..batch.values.len()).collect::<Vec<_>>());
            let whole: Value = serde_json::from_slice(body).expect("an accepted array is JSON");
            assert_eq!(whole, Value::Array(batch.values.clone()), "array values");
            let scalar_alone = matches!(batch.values.as_slice(), [v] if !v.is_object() && !v.is_array());
            if !scalar_alone {
                let ndjson: Vec<u8> = batch
                    .values
                    .iter()
                    .flat_map(|v| {
                        let mut line = serde_json::to_vec(v).expect("a value encodes");
                        line.push(b'\n');
                        line
                    })
                    .collect();
                let again = parse_batch(&ndjson, BatchFormat::Ndjson, max).expect("the same values as NDJSON parse");
                assert_eq!(again.values, batch.values, "array and NDJSON differ");
            }
        }
    }
}
