//! Access control: API keys with scopes, signed listener tokens, and the middleware
//! ([`enforce`]) that checks them and applies the limits of [`crate::limits`].
//!
//! - **Keys** come from `auth.keys` (config file or `NEEDLE_AUTH__KEYS`) and from the TOML
//!   file `auth.keys_file` (a mounted Kubernetes Secret), reloaded when it changes or on
//!   SIGHUP ([`KeyRing`]). Each has a name and scopes:
//!   `admin` (everything), `ingest` (`POST /v1/events`), `search` (reads, search,
//!   recommendations). Keys are kept only as SHA-256 digests and compared in constant
//!   time; they are never logged (every `Debug` redacts them).
//! - **Listener tokens** (`POST /v1/admin/tokens`) are HMAC-SHA256-signed with
//!   `auth.token_secret` and carry a listener id, an expiry and their time of issue. They
//!   read only that listener's profile, history, recommendations and sessions. Revoking a
//!   listener's tokens (`POST /v1/users/{id}/tokens/revoke`, or erasing the listener) is a
//!   write-log entry; tokens issued before it are refused from then on.
//! - **Routes** are classified by method and path ([`classify`]), not by the router, so a
//!   route added later is covered by its pattern before it exists; anything unknown
//!   needs `admin`.
//! - With no key configured Needle runs **open**: every route answers without a key. That
//!   is allowed on a loopback address only, unless `auth.allow_open` is set.

use crate::codes::Code;
use crate::config::Config;
use crate::error::ApiError;
use crate::limits::{retry_after_secs, Gate, RateKey, RateLimiter, OVERLOADED_RETRY_AFTER_S};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use needle_core::time::Clock;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use subtle::ConstantTimeEq;

mod access;
mod enforce;
mod keys;
mod routes;
#[cfg(test)]
mod tests;
mod token;

pub use access::*;
pub use enforce::*;
pub use keys::*;
pub use routes::*;
pub use token::*;

pub use needle_service::config::auth::*;

/// Value of `WWW-Authenticate` on a `401`.
const REALM: &str = "Bearer realm=\"needle\"";
