//! The grammar of the `filter` parameter, parsed into a [`FilterExpr`] before any query is
//! built, so that every expression is either understood whole or refused with the position
//! of what was not understood (never silently read as a strange value).
//!
//! ```text
//! expr    := and ( OR and )*
//! and     := unary ( ( AND | , ) unary )*
//! unary   := NOT unary | "(" expr ")" | clause
//! clause  := field ( ":" | "=" ) value
//! value   := word+ | "quoted text"          alternatives with "|": tag:rock|metal
//! ```
//!
//! `AND`, `OR` and `NOT` are case-insensitive words of their own; `AND` binds tighter than
//! `OR`. An unquoted value runs over the following words up to the next keyword, `,` or `)`
//! (`tag:hip hop`); a word of the form `field:value` there is a missing `AND`/`OR` and is
//! refused. Quotes keep a value whole (`tag:"rock and roll"`).

use crate::error::{Error, Result};

/// Deepest nesting of parentheses and `NOT`s accepted.
pub const MAX_FILTER_DEPTH: usize = 32;

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterExpr {
    /// `field:value` (the value with its `|` alternatives, unquoted).
    Clause {
        /// The field as written.
        field: String,
        /// The value as written, quotes removed.
        value: String,
    },
    /// Every operand matches.
    And(Vec<FilterExpr>),
    /// At least one operand matches.
    Or(Vec<FilterExpr>),
    /// The operand does not match.
    Not(Box<FilterExpr>),
}

/// The canonical form: every `AND`/`OR` in parentheses, every value quoted. It parses back
/// to the same expression (while within the length and depth bounds).
impl std::fmt::Display for FilterExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let join = |f: &mut std::fmt::Formatter<'_>, parts: &[FilterExpr], op: &str| {
            f.write_str("(")?;
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{p}")?;
            }
            f.write_str(")")
        };
        match self {
            FilterExpr::Clause { field, value } => write!(f, "{field}:\"{value}\""),
            FilterExpr::And(parts) => join(f, parts, "AND"),
            FilterExpr::Or(parts) => join(f, parts, "OR"),
            FilterExpr::Not(inner) => write!(f, "NOT {inner}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Comma,
    And,
    Or,
    Not,
    /// A word (quotes kept as written inside it).
    Word(String),
}

/// Parse `expr`; `None` when it holds no clause (empty, or only commas and spaces).
pub fn parse_expr(expr: &str) -> Result<Option<FilterExpr>> {
    if expr.len() > crate::filter::MAX_FILTER_BYTES {
        return Err(Error::InvalidFilter(format!(
            "longer than {} bytes",
            crate::filter::MAX_FILTER_BYTES
        )));
    }
    let toks = tokenize(expr)?;
    if toks.iter().all(|(t, _)| *t == Tok::Comma) {
        return Ok(None);
    }
    let mut p = Parser { expr, toks, i: 0 };
    let e = p.or(0)?;
    if let Some((_, at)) = p.toks.get(p.i) {
        return Err(p.error(*at, "expected AND, OR or the end of the filter"));
    }
    Ok(Some(e))
}

fn tokenize(expr: &str) -> Result<Vec<(Tok, usize)>> {
    let mut out = Vec::new();
    let mut chars = expr.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                let t = match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    _ => Tok::Comma,
                };
                out.push((t, at));
            }
            _ => {
                let mut word = String::new();
                let mut quoted = false;
                while let Some(&(_, c)) = chars.peek() {
                    if !quoted && (c.is_whitespace() || matches!(c, '(' | ')' | ',')) {
                        break;
                    }
                    if c == '"' {
                        quoted = !quoted;
                    }
                    word.push(c);
                    chars.next();
                }
                if quoted {
                    return Err(Error::InvalidFilter(format!(
                        "at position {}: a quote is not closed",
                        position(expr, at)
                    )));
                }
                let t = match word.to_ascii_uppercase().as_str() {
                    "AND" | "&&" => Tok::And,
                    "OR" | "||" => Tok::Or,
                    "NOT" => Tok::Not,
                    _ => Tok::Word(word),
                };
                out.push((t, at));
            }
        }
    }
    Ok(out)
}

/// 1-based character position of byte offset `at`.
fn position(expr: &str, at: usize) -> usize {
    expr.get(..at).map_or(at, |s| s.chars().count()) + 1
}

/// A word that starts a clause: `field:` or `field=` with a field name before it.
fn clause_split(word: &str) -> Option<(&str, &str)> {
    let i = word.find([':', '='])?;
    let field = &word[..i];
    (!field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then(|| (field, &word[i + 1..]))
}

struct Parser<'a> {
    expr: &'a str,
    toks: Vec<(Tok, usize)>,
    i: usize,
}

impl Parser<'_> {
    fn error(&self, at: usize, what: &str) -> Error {
        let near: String = self.expr.get(at..).unwrap_or("").chars().take(20).collect();
        Error::InvalidFilter(format!("at position {} (`{near}`): {what}", position(self.expr, at)))
    }

    fn end(&self) -> usize {
        self.expr.len()
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|(t, _)| t)
    }

    fn or(&mut self, depth: usize) -> Result<FilterExpr> {
        let mut parts = vec![self.and(depth)?];
        while self.peek() == Some(&Tok::Or) {
            self.i += 1;
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            FilterExpr::Or(parts)
        })
    }

    fn and(&mut self, depth: usize) -> Result<FilterExpr> {
        let mut parts = vec![self.unary(depth)?];
        while matches!(self.peek(), Some(Tok::And | Tok::Comma)) {
            self.i += 1;
            // Trailing and doubled commas were always accepted.
            while self.peek() == Some(&Tok::Comma) {
                self.i += 1;
            }
            if self.peek().is_none() && self.toks.get(self.i - 1).is_some_and(|(t, _)| *t == Tok::Comma) {
                break;
            }
            parts.push(self.unary(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            FilterExpr::And(parts)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<FilterExpr> {
        if depth >= MAX_FILTER_DEPTH {
            let at = self.toks.get(self.i).map_or(self.end(), |t| t.1);
            return Err(self.error(at, &format!("nested deeper than {MAX_FILTER_DEPTH} levels")));
        }
        while self.peek() == Some(&Tok::Comma) {
            self.i += 1;
        }
        let Some((tok, at)) = self.toks.get(self.i).cloned() else {
            return Err(self.error(self.end(), "expected a clause (field:value), NOT or ( here"));
        };
        self.i += 1;
        match tok {
            Tok::Not => Ok(FilterExpr::Not(Box::new(self.unary(depth + 1)?))),
            Tok::Open => {
                let e = self.or(depth + 1)?;
                match self.toks.get(self.i) {
                    Some((Tok::Close, _)) => {
                        self.i += 1;
                        Ok(e)
                    }
                    Some((_, at)) => Err(self.error(*at, "expected ) to close the ( here")),
                    None => Err(self.error(at, "this ( is not closed")),
                }
            }
            Tok::Word(w) => self.clause(&w, at),
            Tok::Close | Tok::Comma | Tok::And | Tok::Or => {
                Err(self.error(at, "expected a clause (field:value), NOT or ( here"))
            }
        }
    }

    fn clause(&mut self, word: &str, at: usize) -> Result<FilterExpr> {
        let Some((field, first)) = clause_split(word) else {
            return Err(self.error(at, "expected field:value (e.g. tag:rock)"));
        };
        let mut value = first.to_string();
        while let Some((Tok::Word(next), next_at)) = self.toks.get(self.i).cloned() {
            if clause_split(&next).is_some() {
                return Err(self.error(next_at, "a clause follows another without AND or OR between them"));
            }
            if !value.is_empty() {
                value.push(' ');
            }
            value.push_str(&next);
            self.i += 1;
        }
        let value = value.replace('"', "");
        if value.trim().is_empty() {
            return Err(self.error(at, &format!("`{field}` has no value")));
        }
        Ok(FilterExpr::Clause {
            field: field.to_string(),
            value: value.trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(field: &str, value: &str) -> FilterExpr {
        FilterExpr::Clause {
            field: field.into(),
            value: value.into(),
        }
    }

    #[test]
    fn precedence_parentheses_and_not() {
        let e = parse_expr("tag:rock OR tag:pop AND year:>=1990").unwrap().unwrap();
        assert_eq!(
            e,
            FilterExpr::Or(vec![
                c("tag", "rock"),
                FilterExpr::And(vec![c("tag", "pop"), c("year", ">=1990")])
            ])
        );
        let e = parse_expr("(tag:rock or tag:pop) and not explicit:true")
            .unwrap()
            .unwrap();
        assert_eq!(
            e,
            FilterExpr::And(vec![
                FilterExpr::Or(vec![c("tag", "rock"), c("tag", "pop")]),
                FilterExpr::Not(Box::new(c("explicit", "true"))),
            ])
        );
    }

    #[test]
    fn the_old_forms_still_parse() {
        let e = parse_expr("tag:hip hop, type:track|album AND year:1990..1999,")
            .unwrap()
            .unwrap();
        assert_eq!(
            e,
            FilterExpr::And(vec![
                c("tag", "hip hop"),
                c("type", "track|album"),
                c("year", "1990..1999")
            ])
        );
        assert_eq!(
            parse_expr("tag:\"rock and roll\"").unwrap().unwrap(),
            c("tag", "rock and roll")
        );
        assert_eq!(parse_expr(" , ").unwrap(), None);
        assert_eq!(parse_expr("").unwrap(), None);
    }

    #[test]
    fn the_canonical_form_parses_back() {
        for expr in [
            "tag:rock OR tag:pop AND year:>=1990",
            "(tag:rock or tag:pop) and not explicit:true",
            "tag:hip hop, type:track|album AND year:1990..1999,",
            "NOT NOT (tag:\"a, b\" OR language:en)",
        ] {
            let e = parse_expr(expr).unwrap().unwrap();
            assert_eq!(parse_expr(&e.to_string()).unwrap(), Some(e.clone()), "{expr} -> {e}");
        }
    }

    #[test]
    fn errors_name_the_position() {
        for (bad, at) in [
            ("tag:rock tag:pop", "position 10"),
            ("tag:rock OR", "position 12"),
            ("(tag:rock", "position 1"),
            ("tag:rock)", "position 9"),
            ("rock", "position 1"),
            ("tag:\"rock", "position 1"),
            ("tag:rock AND AND tag:pop", "position 14"),
            ("tag:", "position 1"),
        ] {
            let err = parse_expr(bad).unwrap_err().to_string();
            assert!(err.contains(at), "{bad}: {err}");
        }
        let deep = format!("{}tag:rock{}", "(".repeat(40), ")".repeat(40));
        assert!(parse_expr(&deep).unwrap_err().to_string().contains("nested deeper"));
        let nots = format!("{}tag:rock", "NOT ".repeat(40));
        assert!(parse_expr(&nots).is_err());
    }
}
