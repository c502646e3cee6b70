//! The `filter` expression: `field:value` clauses joined by `AND` (or commas), `OR`,
//! `NOT` and parentheses (the grammar: [`crate::filter_expr`]), made into tantivy queries.
//!
//! Fields: `type`, `tag`, `language`, `explicit`, `year`, `market`. A value may list
//! alternatives with `|` (`tag:rock|metal`). `year` takes `1995`, `1990..1999`, `>=1990`,
//! `>1990`, `<=1999`, `<2000`.

use crate::error::{Error, Result};
pub use crate::filter_expr::{parse_expr, FilterExpr};
use crate::schema::Fields;
use needle_core::text::{fold, words};
use needle_core::EntityType;
use std::ops::Bound;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::Term;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 1024;

fn term_q(t: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(t, IndexRecordOption::Basic))
}

fn any_of(qs: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    if qs.len() == 1 {
        return qs
            .into_iter()
            .next()
            .unwrap_or_else(|| Box::new(tantivy::query::EmptyQuery));
    }
    Box::new(BooleanQuery::new(qs.into_iter().map(|q| (Occur::Should, q)).collect()))
}

/// Parse a filter expression into tantivy queries (all must match): see [`parse_expr`]
/// for the grammar. A top-level `AND` gives one query per operand.
pub fn parse_filter(f: &Fields, expr: &str) -> Result<Vec<Box<dyn Query>>> {
    match parse_expr(expr)? {
        None => Ok(Vec::new()),
        Some(FilterExpr::And(parts)) => parts.iter().map(|p| to_query(f, p)).collect(),
        Some(e) => Ok(vec![to_query(f, &e)?]),
    }
}

fn to_query(f: &Fields, e: &FilterExpr) -> Result<Box<dyn Query>> {
    Ok(match e {
        FilterExpr::Clause { field, value } => clause_query(f, field, value)?,
        FilterExpr::And(parts) => Box::new(BooleanQuery::new(
            parts
                .iter()
                .map(|p| Ok((Occur::Must, to_query(f, p)?)))
                .collect::<Result<Vec<_>>>()?,
        )),
        FilterExpr::Or(parts) => Box::new(BooleanQuery::new(
            parts
                .iter()
                .map(|p| Ok((Occur::Should, to_query(f, p)?)))
                .collect::<Result<Vec<_>>>()?,
        )),
        FilterExpr::Not(inner) => Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
            (Occur::MustNot, to_query(f, inner)?),
        ])),
    })
}

/// One `field:value` clause.
fn clause_query(f: &Fields, field: &str, value: &str) -> Result<Box<dyn Query>> {
    let clause = format!("{field}:{value}");
    let field = field.to_ascii_lowercase();
    let alts: Vec<&str> = value.split('|').map(str::trim).collect();
    let q = match field.as_str() {
        "type" => {
            let mut qs = Vec::new();
            for a in alts {
                let t: EntityType = a
                    .parse()
                    .map_err(|m: String| Error::InvalidFilter(format!("`{clause}`: {m}")))?;
                qs.push(term_q(Term::from_field_u64(f.kind, t.code())));
            }
            any_of(qs)
        }
        "tag" | "tags" => any_of(
            alts.iter()
                .map(|a| term_q(Term::from_field_text(f.tag, &words(a).join(" "))))
                .collect(),
        ),
        "language" | "lang" => any_of(
            alts.iter()
                .map(|a| term_q(Term::from_field_text(f.language, &fold(a))))
                .collect(),
        ),
        "market" => {
            let mut qs = vec![term_q(Term::from_field_text(f.market, "*"))];
            for a in alts {
                needle_core::validate::market(a).map_err(|m| Error::InvalidFilter(format!("`{clause}`: {m}")))?;
                qs.push(term_q(Term::from_field_text(f.market, &a.to_ascii_uppercase())));
            }
            any_of(qs)
        }
        "explicit" => {
            let b = match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => 1,
                "false" | "0" | "no" => 0,
                _ => {
                    return Err(Error::InvalidFilter(format!(
                        "`{clause}`: explicit takes true or false"
                    )))
                }
            };
            term_q(Term::from_field_u64(f.explicit, b))
        }
        "year" | "release_year" => {
            year_query(f, value).map_err(|m| Error::InvalidFilter(format!("`{clause}`: {m}")))?
        }
        other => {
            return Err(Error::InvalidFilter(format!(
            "unknown field `{other}` in `{clause}`; filterable fields are type, tag, language, explicit, year, market"
        )))
        }
    };
    Ok(q)
}

/// The market restriction for the `market` parameter.
pub fn market_query(f: &Fields, m: &str) -> Box<dyn Query> {
    any_of(vec![
        term_q(Term::from_field_text(f.market, "*")),
        term_q(Term::from_field_text(f.market, &m.to_ascii_uppercase())),
    ])
}

fn year_query(f: &Fields, v: &str) -> std::result::Result<Box<dyn Query>, String> {
    let num = |s: &str| s.trim().parse::<i64>().map_err(|_| format!("`{s}` is not a year"));
    let (lo, hi) = if let Some((a, b)) = v.split_once("..") {
        (Bound::Included(num(a)?), Bound::Included(num(b)?))
    } else if let Some(x) = v.strip_prefix(">=") {
        (Bound::Included(num(x)?), Bound::Unbounded)
    } else if let Some(x) = v.strip_prefix('>') {
        (Bound::Excluded(num(x)?), Bound::Unbounded)
    } else if let Some(x) = v.strip_prefix("<=") {
        (Bound::Unbounded, Bound::Included(num(x)?))
    } else if let Some(x) = v.strip_prefix('<') {
        (Bound::Unbounded, Bound::Excluded(num(x)?))
    } else {
        let y = num(v)?;
        (Bound::Included(y), Bound::Included(y))
    };
    let t = |y: i64| Term::from_field_i64(f.year, y);
    let map = |b: Bound<i64>| match b {
        Bound::Included(y) => Bound::Included(t(y)),
        Bound::Excluded(y) => Bound::Excluded(t(y)),
        Bound::Unbounded => Bound::Unbounded,
    };
    Ok(Box::new(RangeQuery::new(map(lo), map(hi))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::build_schema;

    #[test]
    fn parses_and_rejects() {
        let (_, f) = build_schema();
        assert_eq!(
            parse_filter(&f, "tag:rock AND year:1990..1999, explicit:false")
                .unwrap()
                .len(),
            3
        );
        assert_eq!(parse_filter(&f, "type:track|album AND market:se").unwrap().len(), 2);
        for bad in [
            "color:red",
            "year:abc",
            "explicit:maybe",
            "type:song",
            "tag",
            "market:swe",
            "tag:",
        ] {
            assert!(matches!(parse_filter(&f, bad), Err(Error::InvalidFilter(_))), "{bad}");
        }
    }
}
