//! Curation settings: synonyms and query rules (pin an item to a position, hide an item),
//! their validation from JSON with errors naming the field, and the normalized query a
//! rule is looked up by. Applied at query time by `needle-search`; set through write-log
//! entries like every other state change.

use crate::error::{ValidationError, ValidationKind as K};
use crate::text::words;
use crate::validate::check_id;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Most synonym groups.
pub const MAX_SYNONYM_GROUPS: usize = 10_000;
/// Most rules.
pub const MAX_RULES: usize = 10_000;
/// Most terms in one group, pins or hidden items in one rule.
pub const MAX_GROUP_TERMS: usize = 32;
/// Longest term or rule query, bytes.
pub const MAX_TERM_BYTES: usize = 256;
/// Largest pin position (1-based).
pub const MAX_PIN_POSITION: usize = 100;

/// A synonym group: one-way (`from` also matches each of `to`, not the reverse) or
/// multi-way (every term matches every other).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SynonymGroup {
    /// `{"from": "lp", "to": ["long play"]}`.
    OneWay {
        /// The term as typed.
        from: String,
        /// What it also matches.
        to: Vec<String>,
    },
    /// `{"synonyms": ["dj", "disc jockey"]}`.
    MultiWay {
        /// Terms that match one another.
        synonyms: Vec<String>,
    },
}

impl SynonymGroup {
    /// Each (source, alternative) pair the group defines, as folded word sequences.
    pub fn pairs(&self) -> Vec<(Vec<String>, Vec<String>)> {
        match self {
            SynonymGroup::OneWay { from, to } => to.iter().map(|t| (words(from), words(t))).collect(),
            SynonymGroup::MultiWay { synonyms } => {
                let mut out = Vec::new();
                for a in synonyms {
                    for b in synonyms {
                        if words(a) != words(b) {
                            out.push((words(a), words(b)));
                        }
                    }
                }
                out
            }
        }
    }
}

/// An item placed at a position of a query's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The entity id.
    pub id: String,
    /// 1-based position in the results.
    pub position: usize,
}

/// What to do for one query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The query, matched after normalization ([`normalize_query`]).
    pub query: String,
    /// Items placed at positions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pin: Vec<Pin>,
    /// Items removed from the results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hide: Vec<String>,
}

/// The normalized form of a query rules are matched by: its folded words, one space apart.
pub fn normalize_query(q: &str) -> String {
    words(q).join(" ")
}

fn err(code: K, field: &str, msg: &str) -> ValidationError {
    ValidationError::new(code, Some(field.to_string()), &format!("field `{field}` {msg}"))
}

fn object<'a>(v: &'a Value, field: &str, allowed: &[&str]) -> Result<&'a Map<String, Value>, ValidationError> {
    let Some(o) = v.as_object() else {
        return Err(err(K::InvalidField, field, "must be an object"));
    };
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(err(
            K::UnknownField,
            &format!("{field}.{k}"),
            &format!("is not known; expected {}", allowed.join(", ")),
        ));
    }
    Ok(o)
}

fn list<'a>(v: Option<&'a Value>, field: &str, max: usize, required: bool) -> Result<&'a [Value], ValidationError> {
    match v {
        None | Some(Value::Null) if !required => Ok(&[]),
        None | Some(Value::Null) => Err(err(K::MissingField, field, "is required")),
        Some(Value::Array(a)) if a.len() > max => {
            Err(err(K::InvalidField, field, &format!("has more than {max} entries")))
        }
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(err(K::InvalidField, field, "must be an array")),
    }
}

fn term(v: Option<&Value>, field: &str) -> Result<String, ValidationError> {
    match v {
        None | Some(Value::Null) => Err(err(K::MissingField, field, "is required")),
        Some(Value::String(s)) if s.len() > MAX_TERM_BYTES => Err(err(
            K::InvalidField,
            field,
            &format!("is longer than {MAX_TERM_BYTES} bytes"),
        )),
        Some(Value::String(s)) if words(s).is_empty() => Err(err(K::InvalidField, field, "has no word")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(err(K::InvalidField, field, "must be a string")),
    }
}

fn terms(v: Option<&Value>, field: &str, min: usize) -> Result<Vec<String>, ValidationError> {
    let a = list(v, field, MAX_GROUP_TERMS, true)?;
    if a.len() < min {
        return Err(err(K::InvalidField, field, &format!("needs at least {min} terms")));
    }
    a.iter()
        .enumerate()
        .map(|(i, t)| term(Some(t), &format!("{field}[{i}]")))
        .collect()
}

/// Validate `{"groups": [...]}`: every group one-way or multi-way.
pub fn parse_synonyms(body: &Value) -> Result<Vec<SynonymGroup>, ValidationError> {
    let o = object(body, "body", &["groups"])?;
    let groups = list(o.get("groups"), "groups", MAX_SYNONYM_GROUPS, true)?;
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let field = format!("groups[{i}]");
            let o = object(g, &field, &["from", "to", "synonyms"])?;
            match (o.get("synonyms"), o.contains_key("from") || o.contains_key("to")) {
                (Some(_), true) => Err(err(
                    K::InvalidField,
                    &field,
                    "has both `synonyms` (multi-way) and `from`/`to` (one-way)",
                )),
                (Some(s), false) => Ok(SynonymGroup::MultiWay {
                    synonyms: terms(Some(s), &format!("{field}.synonyms"), 2)?,
                }),
                (None, _) => Ok(SynonymGroup::OneWay {
                    from: term(o.get("from"), &format!("{field}.from"))?,
                    to: terms(o.get("to"), &format!("{field}.to"), 1)?,
                }),
            }
        })
        .collect()
}

/// Validate `{"rules": [{"query", "pin": [{"id", "position"}], "hide": [id]}]}`.
pub fn parse_rules(body: &Value) -> Result<Vec<Rule>, ValidationError> {
    let o = object(body, "body", &["rules"])?;
    let rules = list(o.get("rules"), "rules", MAX_RULES, true)?;
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let field = format!("rules[{i}]");
            let o = object(r, &field, &["query", "pin", "hide"])?;
            let query = term(o.get("query"), &format!("{field}.query"))?;
            let mut pin = Vec::new();
            for (j, p) in list(o.get("pin"), &format!("{field}.pin"), MAX_GROUP_TERMS, false)?
                .iter()
                .enumerate()
            {
                let pf = format!("{field}.pin[{j}]");
                let po = object(p, &pf, &["id", "position"])?;
                let id = match po.get("id") {
                    Some(Value::String(s)) => s.clone(),
                    None | Some(Value::Null) => return Err(err(K::MissingField, &format!("{pf}.id"), "is required")),
                    Some(_) => return Err(err(K::InvalidField, &format!("{pf}.id"), "must be a string")),
                };
                check_id(&id, &format!("{pf}.id"))?;
                let position = match po.get("position").and_then(Value::as_u64) {
                    Some(n) if (1..=MAX_PIN_POSITION as u64).contains(&n) => n as usize,
                    _ => {
                        return Err(err(
                            K::InvalidField,
                            &format!("{pf}.position"),
                            &format!("must be an integer between 1 and {MAX_PIN_POSITION}"),
                        ))
                    }
                };
                pin.push(Pin { id, position });
            }
            let mut hide = Vec::new();
            for (j, h) in list(o.get("hide"), &format!("{field}.hide"), MAX_GROUP_TERMS, false)?
                .iter()
                .enumerate()
            {
                let hf = format!("{field}.hide[{j}]");
                let Some(id) = h.as_str() else {
                    return Err(err(K::InvalidField, &hf, "must be a string"));
                };
                check_id(id, &hf)?;
                hide.push(id.to_string());
            }
            if pin.is_empty() && hide.is_empty() {
                return Err(err(K::InvalidField, &field, "pins or hides nothing"));
            }
            Ok(Rule { query, pin, hide })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_parse_both_ways_and_errors_name_the_field() {
        let g = parse_synonyms(
            &json!({"groups": [{"from": "LP", "to": ["long play"]}, {"synonyms": ["dj", "disc jockey"]}]}),
        )
        .expect("valid");
        assert_eq!(
            g[0].pairs(),
            vec![(vec!["lp".to_string()], vec!["long".to_string(), "play".to_string()])]
        );
        assert_eq!(g[1].pairs().len(), 2);
        let e = parse_synonyms(&json!({"groups": [{"from": "lp", "to": []}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("groups[0].to"));
        let e = parse_synonyms(&json!({"groups": [{"synonyms": ["a", "!!"]}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("groups[0].synonyms[1]"));
        let e = parse_synonyms(&json!({"groups": [{"from": "a", "to": ["b"], "synonyms": ["c", "d"]}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("groups[0]"));
        let e = parse_synonyms(&json!({"group": []})).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (K::UnknownField, Some("body.group")));
    }

    #[test]
    fn rules_parse_and_errors_name_the_field() {
        let r =
            parse_rules(&json!({"rules": [{"query": "Hello!", "pin": [{"id": "t1", "position": 1}], "hide": ["t2"]}]}))
                .expect("valid");
        assert_eq!(normalize_query(&r[0].query), "hello");
        let e = parse_rules(&json!({"rules": [{"query": "x", "pin": [{"id": "t1", "position": 0}]}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("rules[0].pin[0].position"));
        let e = parse_rules(&json!({"rules": [{"query": "x", "hide": [""]}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("rules[0].hide[0]"));
        let e = parse_rules(&json!({"rules": [{"query": "x"}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("rules[0]"));
        let e = parse_rules(&json!({"rules": [{"pin": [{"id": "a", "position": 1}]}]})).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (K::MissingField, Some("rules[0].query")));
    }
}
