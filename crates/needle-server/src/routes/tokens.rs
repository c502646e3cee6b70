//! `POST /v1/admin/tokens`: mint a listener token (logic in [`crate::auth`]);
//! `POST /v1/users/{id}/tokens/revoke`: revoke every token of a listener issued so far.

use super::json::parse_object;
use super::{ApiPath, JsonBytes};
use crate::auth::{Access, Principal};
use crate::codes::Code;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::extract::{Extension, State};
use axum::Json;
use serde::{de, Deserialize, Deserializer, Serialize};
use std::sync::Arc;

/// Body of `POST /v1/admin/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The listener whose data the token reads.
    #[serde(deserialize_with = "user_id")]
    pub user_id: String,
    /// Lifetime in seconds, 1 to `auth.token_max_ttl_s` (default 86400); default 3600.
    #[schema(minimum = 1)]
    pub ttl_s: Option<u64>,
}

/// Answer of `POST /v1/admin/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// The token: send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// When it stops working (RFC 3339, UTC).
    pub expires_at: String,
}

/// Mint a listener token.
///
/// The token lets its bearer (a client app) read only this listener's profile, history
/// and recommendations and start and step their sessions, until it expires. It is
/// signed with `auth.token_secret`, so any replica sharing the secret accepts it. Mint
/// tokens from your backend with an `admin` key; never ship that key to clients.
#[utoipa::path(
    post,
    path = "/v1/admin/tokens",
    tag = "auth",
    request_body(content = TokenRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The token and its expiry", body = TokenResponse),
        (status = 400, description = "`invalid_json`, `unknown_field`, `missing_field`, `invalid_field`, `invalid_id`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: a body that is not `application/json`", body = ErrorBody),
        (status = 501, description = "`tokens_not_configured`: no `auth.token_secret`", body = ErrorBody),
    )
)]
pub async fn mint(
    State(state): State<AppState>,
    access: Option<Extension<Arc<Access>>>,
    principal: Option<Extension<Principal>>,
    JsonBytes(body): JsonBytes,
) -> Result<Json<TokenResponse>, ApiError> {
    let Some(Extension(access)) = access else {
        return Err(ApiError::internal(
            Code::Internal,
            &"the access middleware is not installed",
        ));
    };
    let req = parse_request(&body)?;
    let minted = access.mint(&req.user_id, req.ttl_s, state.clock().now_ms())?;
    let by = match principal {
        Some(Extension(Principal::Key { name, .. })) => name.to_string(),
        _ => "open".to_string(),
    };
    tracing::info!(key = %by, user_id = %req.user_id, expires_at_ms = minted.expires_at_ms, "listener token minted");
    Ok(Json(TokenResponse {
        token: minted.token,
        expires_at: format_rfc3339(minted.expires_at_ms),
    }))
}

/// Answer of `POST /v1/users/{id}/tokens/revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokensRevoked {
    /// The listener.
    pub user_id: String,
    /// Tokens of this listener issued before this time (RFC 3339, UTC, millisecond
    /// precision) are refused with `401 token_revoked`; tokens minted from now on work.
    pub revoked_before: String,
    /// The write-log sequence number of the revocation: a read on another replica with
    /// `min_seq` at least this sees it applied there.
    pub seq: u64,
}

/// Revoke a listener's tokens.
///
/// Every listener token of this listener issued until now is refused from now on with
/// `401 token_revoked`, on every replica once it has applied the revocation (a write-log
/// entry, durable before the answer and kept across restarts). Tokens minted afterwards
/// work. Erasing the listener (`DELETE /v1/users/{id}`) revokes their tokens too.
/// Idempotent: revoking again moves the cut-off to the later time. The request has no
/// body (one sent must be JSON, and is ignored).
#[utoipa::path(
    post,
    path = "/v1/users/{id}/tokens/revoke",
    tag = "auth",
    params(("id" = String, Path, description = "Listener id")),
    responses(
        (status = 200, description = "Revoked", body = TokensRevoked),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: a body that is not `application/json`", body = ErrorBody),
        (status = 503, description = "`unavailable`, `request_timeout`", body = ErrorBody),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    JsonBytes(_body): JsonBytes,
) -> Result<Json<TokensRevoked>, ApiError> {
    // The service checks the listener id.
    state
        .blocking(move |svc| {
            let revoked = svc.revoke_tokens(&id)?;
            tracing::info!(user_id = %id, seq = revoked.seq, "listener tokens revoked");
            Ok(Json(TokensRevoked {
                user_id: id,
                revoked_before: format_rfc3339_ms(revoked.before_ms),
                seq: revoked.seq,
            }))
        })
        .await
}

/// Parse the body; errors name the field (`invalid_json`, `unknown_field`,
/// `missing_field`, `invalid_field`).
pub fn parse_request(body: &[u8]) -> Result<TokenRequest, ApiError> {
    parse_object(body)
}

/// `user_id`: a string; `null` counts as absent (`missing_field`).
fn user_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Option::<String>::deserialize(d)?.ok_or_else(|| de::Error::missing_field("user_id"))
}

/// Epoch milliseconds as RFC 3339 UTC with second precision (`2024-05-01T12:00:00Z`).
pub fn format_rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Epoch milliseconds as RFC 3339 UTC with millisecond precision
/// (`2024-05-01T12:00:00.250Z`).
pub fn format_rfc3339_ms(ms: i64) -> String {
    let secs = format_rfc3339(ms);
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), ms.rem_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use needle_core::event::parse_rfc3339;

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(1_714_564_800_999), "2024-05-01T12:00:00Z");
        for ms in [0_i64, 86_399_000, 951_782_400_000, 1_714_564_800_000, 4_102_444_799_000] {
            assert_eq!(parse_rfc3339(&format_rfc3339(ms)), Some(ms), "{ms}");
        }
        assert_eq!(format_rfc3339_ms(1_714_564_800_250), "2024-05-01T12:00:00.250Z");
        assert_eq!(format_rfc3339_ms(1_714_564_800_000), "2024-05-01T12:00:00.000Z");
    }

    #[test]
    fn request_errors_name_the_field() {
        let ok = parse_request(br#"{"user_id":"u1","ttl_s":60}"#).expect("ok");
        assert_eq!(
            ok,
            TokenRequest {
                user_id: "u1".into(),
                ttl_s: Some(60)
            }
        );
        assert_eq!(parse_request(br#"{"user_id":"u1"}"#).expect("ok").ttl_s, None);
        let cases: [(&[u8], &str, &str); 8] = [
            (b"", "invalid_json", "JSON"),
            (b"[1]", "invalid_json", "object"),
            (br#"{"ttl_s":60}"#, "missing_field", "`user_id`"),
            (br#"{"user_id":null}"#, "missing_field", "`user_id`"),
            (br#"{"user_id":7}"#, "invalid_field", "`user_id`"),
            (br#"{"user_id":"u","ttl_s":-1}"#, "invalid_field", "`ttl_s`"),
            (br#"{"user_id":"u","ttl_s":"60"}"#, "invalid_field", "`ttl_s`"),
            (br#"{"user_id":"u","scope":"admin"}"#, "unknown_field", "`scope`"),
        ];
        for (body, code, needle) in cases {
            let e = parse_request(body).unwrap_err();
            assert_eq!(e.code, code, "{}", String::from_utf8_lossy(body));
            assert!(e.message.contains(needle), "{}", e.message);
        }
    }
}
