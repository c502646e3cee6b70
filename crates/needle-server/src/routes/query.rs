//! [`StrictQuery`]: a query string deserialized into an endpoint's parameter struct by
//! `serde_urlencoded`, every rejection answered as `invalid_parameter` naming the parameter.
//!
//! The parameter structs derive `Deserialize` (with `#[serde(deny_unknown_fields)]`, so
//! an unknown key is refused, and serde's own check refuses a repeated one) and
//! `utoipa::IntoParams`: the same struct parses the request and documents it. Values go
//! through the helpers below, so an empty value counts as absent.

use crate::codes::Code;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use needle_core::EntityType;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use std::fmt::Display;
use std::str::FromStr;

/// The query string as `T`; rejections are [`ApiError`]s (`invalid_parameter`).
#[derive(Debug, Clone, Default)]
pub struct StrictQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for StrictQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(StrictQuery)
    }
}

/// Deserialize a raw query string (without `?`) into `T`. A value that does not parse
/// names its parameter (`parameter `limit`: ...`); an unknown or repeated key is named
/// by serde's message.
pub fn parse_query<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            ApiError::new(Code::InvalidParameter, format!("invalid query string: {inner}"))
        } else {
            ApiError::invalid_parameter(&path, inner)
        }
    })
}

/// The value, or `None` when it is empty or blank (kept as sent otherwise).
fn value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    Ok((!s.trim().is_empty()).then_some(s))
}

/// A text value as sent (`q`, `filter`, `user_id`); empty counts as absent.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    value(d)
}

/// A text value without surrounding blanks (`market`); empty counts as absent.
pub fn trimmed<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(value(d)?.map(|s| s.trim().to_string()))
}

/// A non-negative integer (`limit`, `offset`, `top`); empty counts as absent. Bounds are
/// checked by `needle_core::validate`, where the request is served.
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    match value(d)? {
        None => Ok(None),
        Some(s) => {
            let s = s.trim();
            s.parse()
                .map(Some)
                .map_err(|_| D::Error::custom(format_args!("`{s}` is not a non-negative integer")))
        }
    }
}

/// `true`/`1` or `false`/`0`; empty counts as absent.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match value(d)?.as_deref().map(str::trim) {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(other) => Err(D::Error::custom(format_args!("`{other}` is not `true` or `false`"))),
    }
}

/// A value parsed by its `FromStr` (`surface`); empty counts as absent.
pub fn parsed<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    match value(d)? {
        None => Ok(None),
        Some(s) => s.trim().parse().map(Some).map_err(D::Error::custom),
    }
}

/// Comma-separated entity types (`track, Album`), case-insensitive, repeats dropped;
/// empty counts as absent.
pub fn types<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<EntityType>>, D::Error> {
    let Some(list) = value(d)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let t: EntityType = part.to_ascii_lowercase().parse().map_err(D::Error::custom)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(Some(out))
}

/// Comma-separated values parsed by their `FromStr` (`facets=type,tags`), repeats dropped;
/// empty counts as absent.
pub fn list<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + PartialEq,
    T::Err: Display,
{
    let Some(list) = value(d)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let v: T = part.parse().map_err(D::Error::custom)?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct P {
        #[serde(default, deserialize_with = "count")]
        limit: Option<usize>,
        #[serde(default, deserialize_with = "text")]
        q: Option<String>,
        #[serde(default, deserialize_with = "types")]
        types: Option<Vec<EntityType>>,
        #[serde(default, deserialize_with = "flag")]
        explicit: Option<bool>,
    }

    fn err(raw: &str) -> ApiError {
        parse_query::<P>(raw).unwrap_err()
    }

    #[test]
    fn values_parse_and_empty_is_absent() {
        let p: P = parse_query("limit=5&q=a+b&types=track,%20Album,track&explicit=0").expect("ok");
        assert_eq!(p.limit, Some(5));
        assert_eq!(p.q.as_deref(), Some("a b"));
        assert_eq!(p.types, Some(vec![EntityType::Track, EntityType::Album]));
        assert_eq!(p.explicit, Some(false));
        let p: P = parse_query("limit=&q=%20&types=").expect("ok");
        assert_eq!((p.limit, p.q, p.types, p.explicit), (None, None, None, None));
        assert!(parse_query::<P>("").is_ok());
    }

    #[test]
    fn repeated_keys_are_refused() {
        for raw in ["limit=1&limit=2", "q=a&q=b", "q=&q=b"] {
            let e = err(raw);
            assert_eq!((e.code, e.status().as_u16()), (Code::InvalidParameter, 400), "{raw}");
            let key = raw.split('=').next().unwrap_or("");
            assert!(e.message.contains(&format!("`{key}`")), "{raw}: {}", e.message);
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        for raw in ["colour=red", "limit=1&Limit=2", "q=a&=b"] {
            let e = err(raw);
            assert_eq!((e.code, e.status().as_u16()), (Code::InvalidParameter, 400), "{raw}");
        }
        assert!(err("colour=red").message.contains("`colour`"));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let e = err("limit=abc");
        assert_eq!(e.message, "parameter `limit`: `abc` is not a non-negative integer");
        assert!(err("limit=-1").message.contains("`limit`"));
        assert!(err("types=song")
            .message
            .starts_with("parameter `types`: unknown type `song`"));
        assert!(err("explicit=maybe").message.contains("`explicit`"));
    }
}
