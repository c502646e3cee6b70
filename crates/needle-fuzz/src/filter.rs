//! The `filter=` grammar (`needle_search::filter_expr::parse_expr` and
//! `needle_search::filter::parse_filter`) on any text.
//!
//! Invariants: the parser either refuses with `InvalidFilter` or yields an expression;
//! parsing is deterministic; the expression's canonical form (every `AND`/`OR` in
//! parentheses, values quoted) parses back to the same expression when it stays within the
//! length and depth bounds; and building the queries refuses only with `InvalidFilter`.

use needle_search::filter::{parse_filter, MAX_FILTER_BYTES};
use needle_search::filter_expr::parse_expr;
use needle_search::schema::{build_schema, Fields};
use needle_search::Error;
use std::sync::OnceLock;

fn fields() -> &'static Fields {
    static FIELDS: OnceLock<Fields> = OnceLock::new();
    FIELDS.get_or_init(|| build_schema().1)
}

/// The harness of the `filter` target: `data` is the expression (lossy UTF-8).
pub fn run(data: &[u8]) {
    check(&crate::text(data));
}

/// The filter invariants for one expression.
pub fn check(expr: &str) {
    match parse_expr(expr) {
        Ok(parsed) => {
            assert!(
                expr.len() <= MAX_FILTER_BYTES,
                "a filter of {} bytes accepted",
                expr.len()
            );
            assert_eq!(
                parse_expr(expr).ok(),
                Some(parsed.clone()),
                "parsing `{expr}` twice differs"
            );
            if let Some(e) = &parsed {
                let canonical = e.to_string();
                match parse_expr(&canonical) {
                    Ok(again) => assert_eq!(
                        again.as_ref(),
                        Some(e),
                        "`{canonical}` (from `{expr}`) parses differently"
                    ),
                    // Quotes and parentheses may push the canonical form past the bounds.
                    Err(Error::InvalidFilter(m)) if m.contains("longer than") || m.contains("nested deeper") => {}
                    Err(other) => panic!("`{canonical}` (from `{expr}`) refused: {other}"),
                }
            }
            match parse_filter(fields(), expr) {
                Ok(queries) => {
                    let again = parse_filter(fields(), expr).expect("a filter that built builds again");
                    assert_eq!(
                        format!("{again:?}"),
                        format!("{queries:?}"),
                        "building `{expr}` twice differs"
                    );
                }
                Err(Error::InvalidFilter(message)) => assert!(!message.is_empty()),
                Err(other) => panic!("`{expr}`: an error other than invalid_filter: {other:?}"),
            }
        }
        Err(Error::InvalidFilter(message)) => assert!(!message.is_empty()),
        Err(other) => panic!("`{expr}`: an error other than invalid_filter: {other:?}"),
    }
}
