//! Request bodies that are one JSON object, deserialized into the endpoint's struct
//! (serde derive, `#[serde(deny_unknown_fields)]`, also its OpenAPI schema) with typed
//! rejections: serde's own calls say what is wrong (`unknown_field`, `missing_field`),
//! a value of the wrong type or range is `invalid_field`, a body that is not a JSON
//! object is `invalid_json`. Every message names the field.

use crate::codes::Code;
use crate::error::ApiError;
use needle_core::error::ValidationKind;
use serde::de::value::MapDeserializer;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde_json::Value;
use std::fmt;

/// Refuse a non-empty body whose `Content-Type` is not JSON (`415 unsupported_media_type`):
/// `application/json`, `text/json` and `application/*+json` pass, with any parameters, and
/// so does a body without the header. An empty body passes whatever its header says.
pub fn check_content_type(content_type: Option<&str>, body: &[u8]) -> Result<(), ApiError> {
    let Some(ct) = content_type else {
        return Ok(());
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let json = essence == "application/json"
        || essence == "text/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if json {
        return Ok(());
    }
    Err(ApiError::new(
        Code::UnsupportedMediaType,
        format!("content type `{essence}` is not supported; send the body as `application/json`"),
    ))
}

/// Parse a body that must be one JSON object into `T`.
pub fn parse_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(Code::InvalidJson, format!("the body is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ApiError::new(Code::InvalidJson, "the body must be a JSON object"));
    };
    let fields = map
        .into_iter()
        .map(|(name, value)| (name.clone(), Field { name, value }));
    T::deserialize(MapDeserializer::new(fields)).map_err(|e: FieldError| ApiError::new(Code::from(e.kind), e.message))
}

/// A rejection of one field, typed by the serde call that made it.
#[derive(Debug)]
pub struct FieldError {
    kind: ValidationKind,
    message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FieldError {}

impl de::Error for FieldError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        FieldError {
            kind: ValidationKind::InvalidField,
            message: msg.to_string(),
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        FieldError {
            kind: ValidationKind::UnknownField,
            message: format!(
                "field `{field}` is not a field of this request ({})",
                expected.join(", ")
            ),
        }
    }

    fn missing_field(field: &'static str) -> Self {
        FieldError {
            kind: ValidationKind::MissingField,
            message: format!("field `{field}` is required"),
        }
    }
}

/// One member of the object: its value, deserialized by `serde_json`, errors naming it.
struct Field {
    name: String,
    value: Value,
}

impl Field {
    fn error(name: &str, e: serde_json::Error) -> FieldError {
        FieldError {
            kind: ValidationKind::InvalidField,
            message: format!("field `{name}`: {e}"),
        }
    }
}

impl<'de> IntoDeserializer<'de, FieldError> for Field {
    type Deserializer = Field;
    fn into_deserializer(self) -> Field {
        self
    }
}

macro_rules! forward {
    ($( $method:ident ( $($arg:ident : $ty:ty),* ) )*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, FieldError> {
                let Field { name, value } = self;
                de::Deserializer::$method(value, $($arg,)* visitor).map_err(|e| Field::error(&name, e))
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Field {
    type Error = FieldError;

    forward! {
        deserialize_any()
        deserialize_bool()
        deserialize_i8()
        deserialize_i16()
        deserialize_i32()
        deserialize_i64()
        deserialize_i128()
        deserialize_u8()
        deserialize_u16()
        deserialize_u32()
        deserialize_u64()
        deserialize_u128()
        deserialize_f32()
        deserialize_f64()
        deserialize_char()
        deserialize_str()
        deserialize_string()
        deserialize_bytes()
        deserialize_byte_buf()
        deserialize_option()
        deserialize_unit()
        deserialize_unit_struct(name: &'static str)
        deserialize_newtype_struct(name: &'static str)
        deserialize_seq()
        deserialize_tuple(len: usize)
        deserialize_tuple_struct(name: &'static str, len: usize)
        deserialize_map()
        deserialize_struct(name: &'static str, fields: &'static [&'static str])
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
        deserialize_identifier()
        deserialize_ignored_any()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Req {
        name: String,
        n: Option<u64>,
        #[serde(default)]
        types: Option<Vec<needle_core::EntityType>>,
    }

    #[test]
    fn json_bodies_need_a_json_content_type() {
        for ok in [
            None,
            Some("application/json"),
            Some("Application/JSON; charset=utf-8"),
            Some("text/json"),
            Some("application/merge-patch+json"),
        ] {
            assert!(check_content_type(ok, b"{}").is_ok(), "{ok:?}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/x-ndjson",
            "invalid",
        ] {
            let e = check_content_type(Some(bad), b"{}").unwrap_err();
            assert_eq!(
                (e.status().as_u16(), e.code),
                (415, Code::UnsupportedMediaType),
                "{bad}"
            );
            assert!(e.message.contains(bad), "{}", e.message);
            // Without a body, there is nothing of the wrong type.
            assert!(check_content_type(Some(bad), b"").is_ok(), "{bad}");
        }
    }

    #[test]
    fn typed_rejections_name_the_field() {
        let ok: Req = parse_object(br#"{"name":"a","n":3,"types":["track"]}"#).expect("ok");
        assert_eq!(ok.n, Some(3));
        let cases: [(&[u8], Code, &str); 8] = [
            (b"", Code::InvalidJson, "JSON"),
            (b"[1]", Code::InvalidJson, "object"),
            (br#"{"n":1}"#, Code::MissingField, "`name`"),
            (br#"{"name":7}"#, Code::InvalidField, "`name`"),
            (br#"{"name":"a","n":-1}"#, Code::InvalidField, "`n`"),
            (br#"{"name":"a","n":"1"}"#, Code::InvalidField, "`n`"),
            (br#"{"name":"a","types":["song"]}"#, Code::InvalidField, "`types`"),
            (br#"{"name":"a","colour":1}"#, Code::UnknownField, "`colour`"),
        ];
        for (body, code, needle) in cases {
            let e = parse_object::<Req>(body).unwrap_err();
            assert_eq!(e.code, code, "{}", String::from_utf8_lossy(body));
            assert!(e.message.contains(needle), "{}", e.message);
        }
    }
}
