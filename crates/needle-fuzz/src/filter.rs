//! The `filter=` grammar (`needle_search::filter::parse_filter`) on any text.
//!
//! Invariants: the parser either refuses with `InvalidFilter` or yields at most one query
//! per clause; parsing is deterministic; and the clauses it saw, joined again with commas,
//! re-parse to the same queries (so splitting on ` AND `/`and`/`,` is consistent).

use needle_search::filter::{parse_filter, MAX_FILTER_BYTES};
use needle_search::schema::{build_schema, Fields};
use needle_search::Error;
use std::sync::OnceLock;

fn fields() -> &'static Fields {
    static FIELDS: OnceLock<Fields> = OnceLock::new();
    FIELDS.get_or_init(|| build_schema().1)
}

/// The clauses of `expr` as the parser splits them (trimmed, empty ones dropped).
fn clauses(expr: &str) -> Vec<String> {
    expr.replace(" and ", " AND ")
        .split(" AND ")
        .flat_map(|c| c.split(','))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// The harness of the `filter` target: `data` is the expression (lossy UTF-8).
pub fn run(data: &[u8]) {
    check(&crate::text(data));
}

/// The filter invariants for one expression.
pub fn check(expr: &str) {
    let f = fields();
    match parse_filter(f, expr) {
        Ok(queries) => {
            assert!(
                expr.len() <= MAX_FILTER_BYTES,
                "a filter of {} bytes accepted",
                expr.len()
            );
            let parts = clauses(expr);
            assert!(
                queries.len() <= parts.len(),
                "{} queries from {} clauses",
                queries.len(),
                parts.len()
            );
            let shown = format!("{queries:?}");
            let again = parse_filter(f, expr).expect("a filter that parsed parses again");
            assert_eq!(format!("{again:?}"), shown, "parsing `{expr}` twice differs");
            let joined = parts.join(",");
            let rejoined =
                parse_filter(f, &joined).unwrap_or_else(|e| panic!("`{joined}` (from `{expr}`) refused: {e}"));
            assert_eq!(format!("{rejoined:?}"), shown, "`{joined}` parses unlike `{expr}`");
        }
        Err(Error::InvalidFilter(message)) => assert!(!message.is_empty()),
        Err(other) => panic!("`{expr}`: an error other than invalid_filter: {other:?}"),
    }
}
