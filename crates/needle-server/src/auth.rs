//! Access control: API keys with scopes, signed listener tokens, and the middleware
//! ([`enforce`]) that checks them and applies the limits of [`crate::limits`].
//!
//! - **Keys** come from `auth.keys` (config file or `NEEDLE_AUTH__KEYS`) and from the TOML
//!   file `auth.keys_file` (a mounted Kubernetes Secret). Each has a name and scopes:
//!   `admin` (everything), `ingest` (`POST /v1/events`), `search` (reads, search,
//!   recommendations). Keys are kept only as SHA-256 digests and compared in constant
//!   time; they are never logged (every `Debug` redacts them).
//! - **Listener tokens** (`POST /v1/admin/tokens`) are HMAC-SHA256-signed with
//!   `auth.token_secret` and carry a listener id and an expiry. They read only that
//!   listener's profile, history, recommendations and sessions.
//! - **Routes** are classified by method and path ([`classify`]), not by the router, so a
//!   route added later is covered by its pattern before it exists; anything unknown
//!   needs `admin`.
//! - With no key configured Needle runs **open**: every route answers without a key. That
//!   is allowed on a loopback address only, unless `auth.allow_open` is set.

use crate::codes;
use crate::config::Config;
use crate::error::{ApiError, ErrorType};
use crate::limits::{retry_after_secs, Gate, RateKey, RateLimiter, OVERLOADED_RETRY_AFTER_S};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use figment::providers::{Format, Toml};
use figment::Figment;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;

/// Header carrying an API key (or token) as an alternative to `Authorization: Bearer`.
pub const API_KEY_HEADER: &str = "x-api-key";
/// Every listener token starts with this (the format's version).
pub const TOKEN_PREFIX: &str = "ndt1.";
/// Shortest accepted API key, bytes.
pub const MIN_KEY_BYTES: usize = 16;
/// Longest accepted API key or token, bytes (longer credentials are refused unread).
pub const MAX_CREDENTIAL_BYTES: usize = 4096;
/// Shortest accepted `auth.token_secret`, bytes.
pub const MIN_TOKEN_SECRET_BYTES: usize = 32;
/// Largest accepted `auth.token_max_ttl_s` (30 days).
pub const MAX_TOKEN_TTL_S: u64 = 30 * 24 * 3600;
/// Lifetime of a token minted without `ttl_s` (capped by `auth.token_max_ttl_s`).
pub const DEFAULT_TOKEN_TTL_S: u64 = 3600;
/// Value of `WWW-Authenticate` on a `401`.
const REALM: &str = "Bearer realm=\"needle\"";

/// A secret string (an API key, the token secret). Serializes as the plain string; its
/// `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_string())
    }
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Everything: catalog writes, `/v1/admin/*`, listener erasure, and all of the below.
    Admin,
    /// `POST /v1/events`.
    Ingest,
    /// Search, catalog reads, stats, profiles, histories, recommendations, sessions.
    Search,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [Scope::Admin, Scope::Ingest, Scope::Search];

    /// The scope's name in configuration and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Ingest => "ingest",
            Scope::Search => "search",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Scope::Admin => 1,
            Scope::Ingest => 2,
            Scope::Search => 4,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scopes of a key. `admin` implies every other scope.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// The set of `scopes`.
    pub fn of(scopes: &[Scope]) -> Scopes {
        Scopes(scopes.iter().fold(0, |acc, s| acc | s.bit()))
    }

    /// Whether a request needing `scope` is allowed.
    pub fn allows(self, scope: Scope) -> bool {
        self.0 & (Scope::Admin.bit() | scope.bit()) != 0
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scope::ALL
            .iter()
            .filter(|s| self.0 & s.bit() != 0)
            .map(|s| s.as_str())
            .collect();
        if names.is_empty() {
            f.write_str("no scope")
        } else {
            f.write_str(&names.join(", "))
        }
    }
}

/// One API key of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Who holds it (logs and messages name the key by this, never by its value).
    pub name: String,
    /// The key: at least 16 visible ASCII characters.
    pub key: Secret,
    /// What it may do.
    pub scopes: Vec<Scope>,
}

/// `[auth]`: API keys, listener tokens and open mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// API keys: `[{name, key, scopes}]`.
    pub keys: Vec<KeyConfig>,
    /// A TOML file with more keys (`[[keys]]` tables of `name`, `key`, `scopes`), e.g. a
    /// mounted Kubernetes Secret. Read at start.
    pub keys_file: Option<PathBuf>,
    /// Serve without keys on a non-loopback address (by default refused).
    pub allow_open: bool,
    /// Secret signing listener tokens (at least 32 bytes). Without it no token can be
    /// minted or accepted. Give every replica the same secret.
    pub token_secret: Option<Secret>,
    /// Longest lifetime of a listener token, seconds.
    pub token_max_ttl_s: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            keys: Vec::new(),
            keys_file: None,
            allow_open: false,
            token_secret: None,
            token_max_ttl_s: 86_400,
        }
    }
}

/// The layout of `auth.keys_file`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    keys: Vec<KeyConfig>,
}

impl AuthConfig {
    /// Every configured key: `keys`, then those of `keys_file`. The error names the file
    /// and never quotes its content.
    pub fn all_keys(&self) -> Result<Vec<KeyConfig>, String> {
        let mut keys = self.keys.clone();
        if let Some(path) = &self.keys_file {
            keys.extend(read_keys_file(path)?);
        }
        Ok(keys)
    }

    /// Problems with this section, each `auth.<key>: why`. `http_addr` is the address the
    /// server will listen on: without keys, only a loopback address is accepted unless
    /// `allow_open` is set.
    pub fn problems(&self, http_addr: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let keys = match self.all_keys() {
            Ok(keys) => Some(keys),
            Err(problem) => {
                problems.push(problem);
                None
            }
        };
        if let Some(keys) = &keys {
            problems.extend(self.key_problems(keys));
            if keys.is_empty() && !self.allow_open {
                if let Ok(addr) = http_addr.parse::<SocketAddr>() {
                    if !is_loopback(addr.ip()) {
                        problems.push(open_refusal(&addr.to_string()));
                    }
                }
            }
        }
        if let Some(secret) = &self.token_secret {
            let n = secret.expose().len();
            if !(MIN_TOKEN_SECRET_BYTES..=MAX_CREDENTIAL_BYTES).contains(&n) {
                problems.push(format!(
                    "auth.token_secret: must be {MIN_TOKEN_SECRET_BYTES} to {MAX_CREDENTIAL_BYTES} bytes long, got {n} \
                     (generate one with `openssl rand -hex 32`)"
                ));
            }
        }
        if !(1..=MAX_TOKEN_TTL_S).contains(&self.token_max_ttl_s) {
            problems.push(format!(
                "auth.token_max_ttl_s: must be between 1 and {MAX_TOKEN_TTL_S}, got {}",
                self.token_max_ttl_s
            ));
        }
        problems
    }

    fn key_label(&self, index: usize) -> String {
        match (&self.keys_file, index.checked_sub(self.keys.len())) {
            (Some(path), Some(j)) => format!("auth.keys_file `{}`: keys[{j}]", path.display()),
            _ => format!("auth.keys[{index}]"),
        }
    }

    fn key_problems(&self, keys: &[KeyConfig]) -> Vec<String> {
        let mut problems = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let mut digests: Vec<([u8; 32], &str)> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let label = self.key_label(i);
            let name_ok = !k.name.is_empty()
                && k.name.len() <= 64
                && k.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !name_ok {
                problems.push(format!(
                    "{label}.name: must be 1 to 64 characters of letters, digits, `-`, `_` and `.`"
                ));
            } else if names.contains(&k.name.as_str()) {
                problems.push(format!("{label}.name: `{}` is used by another key", k.name));
            } else {
                names.push(&k.name);
            }
            let key = k.key.expose();
            if !(MIN_KEY_BYTES..=MAX_CREDENTIAL_BYTES).contains(&key.len()) {
                problems.push(format!(
                    "{label}.key: must be {MIN_KEY_BYTES} to {MAX_CREDENTIAL_BYTES} characters long, got {} \
                     (generate one with `openssl rand -hex 32`)",
                    key.len()
                ));
            } else if !key.bytes().all(|b| b.is_ascii_graphic()) {
                problems.push(format!(
                    "{label}.key: must be visible ASCII characters only (no spaces or control characters)"
                ));
            } else if key.starts_with(TOKEN_PREFIX) {
                problems.push(format!(
                    "{label}.key: must not start with `{TOKEN_PREFIX}` (the listener token prefix)"
                ));
            }
            let digest = digest(key);
            if let Some((_, other)) = digests.iter().find(|(d, _)| *d == digest) {
                problems.push(format!(
                    "{label}.key: the same key as `{other}`; give each key its own value"
                ));
            } else {
                digests.push((digest, &k.name));
            }
            if k.scopes.is_empty() {
                problems.push(format!(
                    "{label}.scopes: must name at least one of admin, ingest, search"
                ));
            }
        }
        problems
    }
}

/// Refusal to run open on a non-loopback address.
fn open_refusal(addr: &str) -> String {
    format!(
        "auth.keys: no API key is configured and `{addr}` is not a loopback address; configure keys \
         (auth.keys, auth.keys_file / NEEDLE_AUTH__KEYS_FILE) or, to serve without access control on \
         purpose, set auth.allow_open = true (NEEDLE_AUTH__ALLOW_OPEN=true, `needle serve --allow-open`)"
    )
}

fn read_keys_file(path: &Path) -> Result<Vec<KeyConfig>, String> {
    if !path.is_file() {
        return Err(format!(
            "auth.keys_file: `{}` does not exist or is not a file",
            path.display()
        ));
    }
    Figment::from(Toml::file_exact(path))
        .extract::<KeysFile>()
        .map(|f| f.keys)
        .map_err(|e| {
            let why: Vec<String> = e
                .into_iter()
                .map(|e| {
                    let at = if e.path.is_empty() {
                        String::new()
                    } else {
                        format!("{}: ", e.path.join("."))
                    };
                    if is_secret_path(&e.path) {
                        format!("{at}invalid value (not shown: it is a secret)")
                    } else {
                        format!("{at}{}", redact_snippets(&e.kind.to_string()))
                    }
                })
                .collect();
            format!("auth.keys_file: `{}`: {}", path.display(), why.join("; "))
        })
}

/// Whether a configuration path (`auth.keys.0.key`, `auth.token_secret`) holds a secret,
/// so that error messages must not quote its value.
pub fn is_secret_path(path: &[String]) -> bool {
    matches!(path.last().map(String::as_str), Some("key" | "token_secret" | "keys"))
}

/// Drop the source excerpts a TOML parse error quotes (`1 | key = "..."`): the file
/// may hold secrets.
pub fn redact_snippets(message: &str) -> String {
    message
        .lines()
        .filter(|line| !line.trim_start().starts_with('|') && !line.contains(" | "))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

// ------------------------------------------------------------------------------------
// Listener tokens

/// What a listener token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// The listener it reads.
    #[serde(rename = "sub")]
    pub user_id: String,
    /// When it stops working, epoch milliseconds.
    #[serde(rename = "exp")]
    pub expires_at_ms: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of this format.
    #[error("malformed token")]
    Malformed,
    /// Signed with another secret, or altered.
    #[error("bad signature")]
    BadSignature,
    /// Valid but past its expiry.
    #[error("expired")]
    Expired,
}

/// Signs and verifies listener tokens: `ndt1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`,
/// the MAC covering everything before the last dot.
#[derive(Clone)]
pub struct TokenSigner {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSigner([redacted])")
    }
}

impl TokenSigner {
    /// A signer with `secret`.
    pub fn new(secret: &[u8]) -> Option<TokenSigner> {
        // HMAC accepts keys of any length; the `Err` arm cannot happen.
        Hmac::<Sha256>::new_from_slice(secret)
            .ok()
            .map(|mac| TokenSigner { mac })
    }

    /// A signed token for `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let json = serde_json::to_vec(claims).unwrap_or_default();
        let signed = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(json));
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The claims of `token` if its signature is this signer's and it has not expired at
    /// `now_ms`. The signature is checked (in constant time) before anything is parsed.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<Claims, TokenError> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > MAX_CREDENTIAL_BYTES {
            return Err(TokenError::Malformed);
        }
        let (signed, tag) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let payload = signed.strip_prefix(TOKEN_PREFIX).ok_or(TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        mac.verify_slice(&tag).map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if now_ms >= claims.expires_at_ms {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

// ------------------------------------------------------------------------------------
// Route classification

/// Who may make a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Anyone, without a key (health, metrics, OpenAPI, the page).
    Open,
    /// A key with this scope (or `admin`).
    Scope(Scope),
    /// A key with this scope, or a token of this listener (`None`: an undecodable id,
    /// which no token matches).
    ScopeOrListener(Scope, Option<String>),
    /// A key with this scope, or any listener token (session steps: a session id is only
    /// known to the listener who started it).
    ScopeOrAnyListener(Scope),
}

/// How a request is treated: who may make it, and whether it takes a concurrency slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteClass {
    /// Who may make it.
    pub rule: Rule,
    /// Whether it is expensive (search, recommendations, similar items, sessions,
    /// training) and so bounded by `[concurrency]`.
    pub expensive: bool,
}

impl RouteClass {
    fn new(rule: Rule, expensive: bool) -> RouteClass {
        RouteClass { rule, expensive }
    }

    /// The scope a key needs (`None` for open routes).
    pub fn scope(&self) -> Option<Scope> {
        match &self.rule {
            Rule::Open => None,
            Rule::Scope(s) | Rule::ScopeOrListener(s, _) | Rule::ScopeOrAnyListener(s) => Some(*s),
        }
    }

    /// Whether a listener token may make it (for some listener).
    pub fn listener_token_ok(&self) -> bool {
        matches!(self.rule, Rule::ScopeOrListener(..) | Rule::ScopeOrAnyListener(_))
    }
}

/// Classify a request by method and raw path. Unknown paths need `admin` (they answer
/// `404` to an admin key), so a route added without a rule here is never open.
pub fn classify(method: &Method, path: &str) -> RouteClass {
    let read = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let open = RouteClass::new(Rule::Open, false);
    let admin = RouteClass::new(Rule::Scope(Scope::Admin), false);
    let search = |expensive| RouteClass::new(Rule::Scope(Scope::Search), expensive);
    let listener =
        |id: &str, expensive| RouteClass::new(Rule::ScopeOrListener(Scope::Search, percent_decode(id)), expensive);
    match segments.as_slice() {
        [""] | ["metrics"] | ["openapi.json"] | ["health", ..] | ["ui", ..] => open,
        ["v1", rest @ ..] => match rest {
            ["search"] if read => search(true),
            ["stats"] if read => search(false),
            ["catalog", _] if read => search(false),
            ["events"] if post => RouteClass::new(Rule::Scope(Scope::Ingest), false),
            ["users", id, "profile" | "history"] if read => listener(id, false),
            ["users", id, "recommendations"] if read => listener(id, true),
            ["users", id, "sessions"] if post => listener(id, true),
            ["sessions", _, "next"] if read => RouteClass::new(Rule::ScopeOrAnyListener(Scope::Search), true),
            ["items", _, "similar"] if read => search(true),
            ["recommendations", "continue"] if post => search(true),
            ["admin", "train" | "training", ..] if post => RouteClass::new(Rule::Scope(Scope::Admin), true),
            // Catalog writes, /v1/admin/*, DELETE /v1/users/{id}, and anything unknown.
            _ => admin,
        },
        _ => admin,
    }
}

/// A path segment percent-decoded as axum's `Path` does; `None` when not UTF-8.
pub fn percent_decode(segment: &str) -> Option<String> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

// ------------------------------------------------------------------------------------
// Keys, principals, decisions

/// Who made a request (inserted in the request's extensions for the handlers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Nobody in particular: Needle runs without keys.
    Open,
    /// An API key.
    Key {
        /// Its configured name.
        name: Arc<str>,
        /// Its scopes.
        scopes: Scopes,
    },
    /// A listener token.
    Listener(Claims),
}

#[derive(Clone)]
struct StoredKey {
    name: Arc<str>,
    digest: [u8; 32],
    scopes: Scopes,
}

/// The keys and token signer of a running server.
pub struct Access {
    keys: Vec<StoredKey>,
    signer: Option<TokenSigner>,
    token_max_ttl_s: u64,
    /// Set when the keys could not be loaded: every protected request is refused.
    broken: bool,
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access")
            .field("keys", &self.key_names())
            .field("tokens", &self.signer.is_some())
            .field("broken", &self.broken)
            .finish()
    }
}

/// A minted listener token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedToken {
    /// The token.
    pub token: String,
    /// Its expiry, epoch milliseconds.
    pub expires_at_ms: i64,
}

impl Access {
    /// The keys and signer of `config` (the keys file is read now).
    pub fn from_config(config: &AuthConfig) -> Result<Access, String> {
        let keys = config
            .all_keys()?
            .into_iter()
            .map(|k| StoredKey {
                name: Arc::from(k.name.as_str()),
                digest: digest(k.key.expose()),
                scopes: Scopes::of(&k.scopes),
            })
            .collect();
        Ok(Access {
            keys,
            signer: config
                .token_secret
                .as_ref()
                .and_then(|s| TokenSigner::new(s.expose().as_bytes())),
            token_max_ttl_s: config.token_max_ttl_s.clamp(1, MAX_TOKEN_TTL_S),
            broken: false,
        })
    }

    /// Access that refuses every protected request (keys could not be loaded).
    pub fn locked() -> Access {
        Access {
            keys: Vec::new(),
            signer: None,
            token_max_ttl_s: 1,
            broken: true,
        }
    }

    /// Whether no key is configured (every route answers without one).
    pub fn is_open(&self) -> bool {
        self.keys.is_empty() && !self.broken
    }

    /// Whether listener tokens can be minted and accepted.
    pub fn tokens_enabled(&self) -> bool {
        self.signer.is_some()
    }

    /// The names of the configured keys.
    pub fn key_names(&self) -> Vec<&str> {
        self.keys.iter().map(|k| &*k.name).collect()
    }

    /// Who sent `headers`, at `now_ms`.
    pub fn authenticate(&self, headers: &HeaderMap, now_ms: i64) -> Result<Principal, Refusal> {
        if self.broken {
            return Err(Refusal {
                error: ApiError::internal(codes::INTERNAL, &"API keys could not be loaded; refusing requests"),
                challenge: None,
            });
        }
        if self.is_open() {
            return Ok(Principal::Open);
        }
        let Some(credential) = credential(headers)? else {
            return Err(unauthorized(
                codes::MISSING_API_KEY,
                "this request needs an API key: send `Authorization: Bearer <key>` or `X-Api-Key: <key>`",
                REALM.to_string(),
            ));
        };
        if credential.len() <= MAX_CREDENTIAL_BYTES {
            let presented = digest(credential);
            let mut found: Option<&StoredKey> = None;
            // Every key is compared, in constant time, whatever matches.
            for key in &self.keys {
                if bool::from(key.digest.ct_eq(&presented)) {
                    found = Some(key);
                }
            }
            if let Some(key) = found {
                return Ok(Principal::Key {
                    name: Arc::clone(&key.name),
                    scopes: key.scopes,
                });
            }
            if let (Some(signer), true) = (&self.signer, credential.starts_with(TOKEN_PREFIX)) {
                match signer.verify(credential, now_ms) {
                    Ok(claims) => return Ok(Principal::Listener(claims)),
                    Err(TokenError::Expired) => {
                        return Err(unauthorized(
                            codes::TOKEN_EXPIRED,
                            "the listener token has expired; ask your backend for a new one",
                            format!("{REALM}, error=\"invalid_token\", error_description=\"the token has expired\""),
                        ))
                    }
                    Err(_) => {}
                }
            }
        }
        Err(unauthorized(
            codes::INVALID_API_KEY,
            "the API key (or token) is not valid",
            format!("{REALM}, error=\"invalid_token\""),
        ))
    }

    /// Whether `principal` may make a request of `class` (`method` and `path` name it
    /// in the refusal).
    pub fn authorize(
        &self,
        principal: &Principal,
        class: &RouteClass,
        method: &Method,
        path: &str,
    ) -> Result<(), ApiError> {
        let Some(scope) = class.scope() else {
            return Ok(());
        };
        match principal {
            Principal::Open => Ok(()),
            Principal::Key { name, scopes } => {
                if scopes.allows(scope) {
                    Ok(())
                } else {
                    Err(forbidden(
                        codes::FORBIDDEN_SCOPE,
                        format!("`{method} {path}` needs an API key with scope `{scope}`; key `{name}` has {scopes}"),
                    ))
                }
            }
            Principal::Listener(claims) => match &class.rule {
                Rule::ScopeOrAnyListener(_) => Ok(()),
                Rule::ScopeOrListener(_, Some(id)) if *id == claims.user_id => Ok(()),
                Rule::ScopeOrListener(..) => Err(forbidden(
                    codes::FORBIDDEN_LISTENER,
                    "this listener token reads only its own listener; the path names another listener",
                )),
                _ => Err(forbidden(
                    codes::FORBIDDEN_SCOPE,
                    format!(
                        "`{method} {path}` needs an API key with scope `{scope}`; a listener token only reads its \
                         listener's profile, history, recommendations and sessions"
                    ),
                )),
            },
        }
    }

    /// A token letting its bearer read `user_id`'s data for `ttl_s` seconds (default
    /// [`DEFAULT_TOKEN_TTL_S`], capped by `auth.token_max_ttl_s`) from `now_ms`.
    pub fn mint(&self, user_id: &str, ttl_s: Option<u64>, now_ms: i64) -> Result<MintedToken, ApiError> {
        let Some(signer) = &self.signer else {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                codes::TOKENS_NOT_CONFIGURED,
                ErrorType::InvalidRequest,
                "listener tokens are off: the server has no `auth.token_secret` (NEEDLE_AUTH__TOKEN_SECRET); \
                 give every replica the same secret of at least 32 bytes",
            ));
        };
        needle_core::validate::check_id(user_id, "user_id")?;
        let max = self.token_max_ttl_s;
        let ttl = ttl_s.unwrap_or(DEFAULT_TOKEN_TTL_S.min(max));
        if !(1..=max).contains(&ttl) {
            return Err(ApiError::bad_request(
                codes::INVALID_FIELD,
                format!("field `ttl_s` must be between 1 and {max} (auth.token_max_ttl_s), got {ttl}"),
            ));
        }
        let ttl_ms = i64::try_from(ttl).unwrap_or(i64::MAX).saturating_mul(1000);
        let claims = Claims {
            user_id: user_id.to_string(),
            expires_at_ms: now_ms.saturating_add(ttl_ms),
        };
        Ok(MintedToken {
            token: signer.sign(&claims),
            expires_at_ms: claims.expires_at_ms,
        })
    }
}

/// The credential of a request: `Authorization: Bearer <x>`, else `X-Api-Key: <x>`.
/// `Ok(None)` when neither is sent (or both are empty).
fn credential(headers: &HeaderMap) -> Result<Option<&str>, Refusal> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| invalid_credential("the `Authorization` header is not visible ASCII"))?;
        let value = value.trim();
        if !value.is_empty() {
            let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(invalid_credential(
                    "the `Authorization` header must be `Bearer <key>` (or send `X-Api-Key: <key>`)",
                ));
            }
            let rest = rest.trim();
            if !rest.is_empty() {
                return Ok(Some(rest));
            }
        }
    }
    if let Some(value) = headers.get(API_KEY_HEADER) {
        let value = value
            .to_str()
            .map_err(|_| invalid_credential("the `X-Api-Key` header is not visible ASCII"))?;
        let value = value.trim();
        if !value.is_empty() {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

fn invalid_credential(message: &str) -> Refusal {
    unauthorized(
        codes::INVALID_API_KEY,
        message,
        format!("{REALM}, error=\"invalid_request\""),
    )
}

/// Why a request was not authenticated: the error and, for a `401`, the
/// `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The error answered.
    pub error: ApiError,
    /// The `WWW-Authenticate` value.
    pub challenge: Option<String>,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = self.error.into_response();
        if let Some(value) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// A `401` with `WWW-Authenticate`.
fn unauthorized(code: &'static str, message: impl Into<String>, challenge: String) -> Refusal {
    Refusal {
        error: ApiError::new(StatusCode::UNAUTHORIZED, code, ErrorType::InvalidRequest, message),
        challenge: Some(challenge),
    }
}

pub(crate) fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, ErrorType::InvalidRequest, message)
}

/// `429 rate_limited` with `Retry-After`.
pub fn rate_limited(wait: std::time::Duration) -> Response {
    let secs = retry_after_secs(wait);
    let err = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        codes::RATE_LIMITED,
        ErrorType::System,
        format!("too many requests from this client; retry in {secs} s (rate_limit.requests_per_s)"),
    );
    with_retry_after(err.into_response(), secs)
}

/// `503 overloaded` with `Retry-After`.
pub fn overloaded() -> Response {
    let err = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        codes::OVERLOADED,
        ErrorType::System,
        format!(
            "the server is busy with other expensive requests; retry in {OVERLOADED_RETRY_AFTER_S} s \
             (concurrency.max_in_flight)"
        ),
    );
    with_retry_after(err.into_response(), OVERLOADED_RETRY_AFTER_S)
}

fn with_retry_after(mut response: Response, secs: u64) -> Response {
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    response
}

// ------------------------------------------------------------------------------------
// The middleware

/// Access control and limits of one router.
#[derive(Debug)]
pub struct Guard {
    access: Arc<Access>,
    rate: RateLimiter,
    gate: Gate,
}

impl Guard {
    /// The guard for `config`. Never fails: keys that cannot be loaded (the file vanished
    /// after validation) lock every protected route, with the cause logged.
    pub fn from_config(config: &Config) -> Guard {
        let access = match Access::from_config(&config.auth) {
            Ok(access) => access,
            Err(problem) => {
                tracing::error!(problem, "cannot load API keys; every protected route answers 500");
                Access::locked()
            }
        };
        Guard {
            access: Arc::new(access),
            rate: RateLimiter::new(&config.rate_limit),
            gate: Gate::new(&config.concurrency),
        }
    }

    /// The keys and token signer.
    pub fn access(&self) -> &Arc<Access> {
        &self.access
    }
}

/// Middleware: classify the request, identify the caller, check the scope, take from the
/// caller's rate bucket and, for expensive requests, a concurrency slot held until the
/// handler answers. Health, metrics, OpenAPI and the page pass untouched.
pub async fn enforce(State(guard): State<Arc<Guard>>, mut req: Request, next: Next) -> Response {
    let class = classify(req.method(), req.uri().path());
    if class.rule == Rule::Open {
        return next.run(req).await;
    }
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let principal = match guard.access.authenticate(req.headers(), now_ms()) {
        Ok(p) => p,
        Err(refusal) => {
            // Failed attempts count against the client's IP: guessing keys is slow.
            if let Err(wait) = guard.rate.check(&RateKey::Ip(ip), Instant::now()) {
                return rate_limited(wait);
            }
            return refusal.into_response();
        }
    };
    if let Err(e) = guard
        .access
        .authorize(&principal, &class, req.method(), req.uri().path())
    {
        return e.into_response();
    }
    let rate_key = match &principal {
        Principal::Open => RateKey::Ip(ip),
        Principal::Key { name, .. } => RateKey::Key(Arc::clone(name)),
        Principal::Listener(claims) => RateKey::Listener(claims.user_id.clone()),
    };
    if let Err(wait) = guard.rate.check(&rate_key, Instant::now()) {
        return rate_limited(wait);
    }
    let _slot = if class.expensive {
        match guard.gate.enter().await {
            Ok(permit) => Some(permit),
            Err(_) => return overloaded(),
        }
    } else {
        None
    };
    req.extensions_mut().insert(principal);
    req.extensions_mut().insert(Arc::clone(&guard.access));
    next.run(req).await
}

/// Check the address actually bound against the keys, and say how the server is
/// protected: no keys on a non-loopback address without `allow_open` is refused.
pub fn startup_check(config: &Config, local: SocketAddr) -> Result<(), String> {
    let keys = config.auth.all_keys()?;
    if keys.is_empty() {
        if is_loopback(local.ip()) {
            tracing::warn!(
                addr = %local,
                "no API key configured: Needle runs OPEN (no authentication) on loopback {local} only; \
                 configure auth.keys or auth.keys_file before exposing it"
            );
        } else if config.auth.allow_open {
            tracing::warn!(
                addr = %local,
                "no API key configured and auth.allow_open is set: Needle is OPEN to anyone who can reach {local}"
            );
        } else {
            return Err(open_refusal(&local.to_string()));
        }
    } else {
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        tracing::info!(keys = keys.len(), names = %names.join(","), "access control on: API keys required");
    }
    if config.auth.token_secret.is_none() {
        tracing::info!("listener tokens off (no auth.token_secret)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "admin-key-0123456789";
    const KEY_S: &str = "search-key-0123456789";
    const KEY_I: &str = "ingest-key-0123456789";
    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn key(name: &str, key: &str, scopes: &[Scope]) -> KeyConfig {
        KeyConfig {
            name: name.into(),
            key: key.into(),
            scopes: scopes.to_vec(),
        }
    }

    fn config() -> AuthConfig {
        AuthConfig {
            keys: vec![
                key("ops", KEY_A, &[Scope::Admin]),
                key("app", KEY_S, &[Scope::Search]),
                key("pipe", KEY_I, &[Scope::Ingest]),
            ],
            token_secret: Some(SECRET.into()),
            ..AuthConfig::default()
        }
    }

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(value).expect("value"),
        );
        h
    }

    fn code_of(refusal: Refusal) -> (u16, Option<String>) {
        let response = refusal.into_response();
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (response.status().as_u16(), challenge)
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let cfg = config();
        let shown = format!("{cfg:?} {:?}", Access::from_config(&cfg).expect("access"));
        for secret in [KEY_A, KEY_S, KEY_I, SECRET] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("ops") && shown.contains("[redacted]"), "{shown}");
        let signer = TokenSigner::new(SECRET.as_bytes()).expect("signer");
        assert!(!format!("{signer:?}").contains(SECRET));
    }

    #[test]
    fn scopes_admin_implies_all() {
        let admin = Scopes::of(&[Scope::Admin]);
        assert!(Scope::ALL.iter().all(|s| admin.allows(*s)));
        let search = Scopes::of(&[Scope::Search]);
        assert!(search.allows(Scope::Search));
        assert!(!search.allows(Scope::Ingest) && !search.allows(Scope::Admin));
        assert_eq!(
            Scopes::of(&[Scope::Search, Scope::Ingest]).to_string(),
            "ingest, search"
        );
        assert_eq!(Scopes::default().to_string(), "no scope");
    }

    #[test]
    fn classification_of_every_route() {
        use Scope::*;
        let cases: &[(&str, &str, Option<Scope>, bool, bool)] = &[
            // method, path, scope, listener token ok, expensive
            ("GET", "/", None, false, false),
            ("GET", "/ui/app.js", None, false, false),
            ("GET", "/health/live", None, false, false),
            ("GET", "/health/ready", None, false, false),
            ("GET", "/metrics", None, false, false),
            ("GET", "/openapi.json", None, false, false),
            ("POST", "/v1/catalog", Some(Admin), false, false),
            ("DELETE", "/v1/catalog/t1", Some(Admin), false, false),
            ("GET", "/v1/catalog/t1", Some(Search), false, false),
            ("HEAD", "/v1/catalog/t1", Some(Search), false, false),
            ("GET", "/v1/stats", Some(Search), false, false),
            ("GET", "/v1/search", Some(Search), false, true),
            ("POST", "/v1/events", Some(Ingest), false, false),
            ("GET", "/v1/events", Some(Admin), false, false),
            ("DELETE", "/v1/users/u1", Some(Admin), false, false),
            ("GET", "/v1/users/u1/profile", Some(Search), true, false),
            ("GET", "/v1/users/u1/history", Some(Search), true, false),
            ("GET", "/v1/users/u1/recommendations", Some(Search), true, true),
            ("POST", "/v1/users/u1/sessions", Some(Search), true, true),
            ("GET", "/v1/sessions/s1/next", Some(Search), true, true),
            ("GET", "/v1/items/t1/similar", Some(Search), false, true),
            ("POST", "/v1/recommendations/continue", Some(Search), false, true),
            ("POST", "/v1/admin/train", Some(Admin), false, true),
            ("GET", "/v1/admin/train/jobs", Some(Admin), false, false),
            ("POST", "/v1/admin/tokens", Some(Admin), false, false),
            ("GET", "/v1/nope", Some(Admin), false, false),
            ("GET", "/v1/search/", Some(Admin), false, false),
            ("GET", "//v1/search", Some(Admin), false, false),
            ("GET", "/elsewhere", Some(Admin), false, false),
        ];
        for (method, path, scope, token, expensive) in cases {
            let m: Method = method.parse().expect("method");
            let c = classify(&m, path);
            assert_eq!(c.scope(), *scope, "{method} {path}");
            assert_eq!(c.listener_token_ok(), *token, "{method} {path}");
            assert_eq!(c.expensive, *expensive, "{method} {path}");
        }
        assert_eq!(
            classify(&Method::GET, "/v1/users/lfm%3Auser%202/profile").rule,
            Rule::ScopeOrListener(Scope::Search, Some("lfm:user 2".into()))
        );
        assert_eq!(
            classify(&Method::GET, "/v1/users/%FF/profile").rule,
            Rule::ScopeOrListener(Scope::Search, None)
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb%20c").as_deref(), Some("a/b c"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("%FF"), None);
        assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
    }

    #[test]
    fn keys_are_recognized_from_either_header() {
        let access = Access::from_config(&config()).expect("access");
        let now = 0;
        for h in [
            headers("authorization", &format!("Bearer {KEY_S}")),
            headers("authorization", &format!("bearer   {KEY_S} ")),
            headers("x-api-key", KEY_S),
        ] {
            match access.authenticate(&h, now) {
                Ok(Principal::Key { name, scopes }) => {
                    assert_eq!(&*name, "app");
                    assert!(scopes.allows(Scope::Search));
                }
                other => panic!("{other:?}"),
            }
        }
        let missing = access.authenticate(&HeaderMap::new(), now).unwrap_err();
        assert_eq!(code_of(missing), (401, Some(REALM.to_string())));
        for h in [
            headers("authorization", "Bearer wrong-key-0123456789"),
            headers("authorization", &format!("Basic {KEY_S}")),
            headers("x-api-key", &KEY_S[..KEY_S.len() - 1]),
            headers("x-api-key", &"k".repeat(MAX_CREDENTIAL_BYTES + 1)),
        ] {
            let (status, challenge) = code_of(access.authenticate(&h, now).unwrap_err());
            assert_eq!(status, 401);
            assert!(challenge.is_some_and(|c| c.contains("invalid_")));
        }
        let open = Access::from_config(&AuthConfig::default()).expect("open");
        assert!(open.is_open());
        assert!(matches!(
            open.authenticate(&headers("x-api-key", "anything"), now),
            Ok(Principal::Open)
        ));
    }

    #[test]
    fn locked_access_refuses_everything() {
        let access = Access::locked();
        assert!(!access.is_open());
        let r = access.authenticate(&headers("x-api-key", KEY_A), 0).unwrap_err();
        assert_eq!(r.error.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn scopes_are_enforced() {
        let access = Access::from_config(&config()).expect("access");
        let who = |k: &str| access.authenticate(&headers("x-api-key", k), 0).expect("known key");
        let check = |p: &Principal, m: Method, path: &str| {
            access.authorize(p, &classify(&m, path), &m, path).map_err(|e| e.code)
        };
        let (admin, search, ingest) = (who(KEY_A), who(KEY_S), who(KEY_I));
        for p in [&admin, &search, &ingest] {
            assert_eq!(check(p, Method::GET, "/health/live"), Ok(()));
        }
        assert_eq!(check(&admin, Method::POST, "/v1/catalog"), Ok(()));
        assert_eq!(check(&admin, Method::POST, "/v1/events"), Ok(()));
        assert_eq!(check(&admin, Method::GET, "/v1/search"), Ok(()));
        assert_eq!(check(&search, Method::GET, "/v1/search"), Ok(()));
        assert_eq!(check(&search, Method::POST, "/v1/events"), Err("forbidden_scope"));
        assert_eq!(check(&search, Method::POST, "/v1/catalog"), Err("forbidden_scope"));
        assert_eq!(check(&ingest, Method::POST, "/v1/events"), Ok(()));
        assert_eq!(check(&ingest, Method::GET, "/v1/search"), Err("forbidden_scope"));
        assert_eq!(check(&ingest, Method::DELETE, "/v1/users/u1"), Err("forbidden_scope"));
        let m = Method::POST;
        let err = access
            .authorize(&ingest, &classify(&m, "/v1/catalog"), &m, "/v1/catalog")
            .unwrap_err();
        assert!(
            err.message.contains("scope `admin`") && err.message.contains("key `pipe` has ingest"),
            "{}",
            err.message
        );
        assert_eq!(err.status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn tokens_read_only_their_listener() {
        let access = Access::from_config(&config()).expect("access");
        let t0 = 1_700_000_000_000;
        let minted = access.mint("lfm:user 2", Some(60), t0).expect("minted");
        assert_eq!(minted.expires_at_ms, t0 + 60_000);
        assert!(minted.token.starts_with(TOKEN_PREFIX));
        let h = headers("authorization", &format!("Bearer {}", minted.token));
        let p = access.authenticate(&h, t0 + 1).expect("valid token");
        assert_eq!(
            p,
            Principal::Listener(Claims {
                user_id: "lfm:user 2".into(),
                expires_at_ms: t0 + 60_000
            })
        );
        let check = |m: Method, path: &str| access.authorize(&p, &classify(&m, path), &m, path).map_err(|e| e.code);
        assert_eq!(check(Method::GET, "/v1/users/lfm%3Auser%202/profile"), Ok(()));
        assert_eq!(check(Method::GET, "/v1/users/lfm:user%202/history"), Ok(()));
        assert_eq!(check(Method::GET, "/v1/users/lfm:user%202/recommendations"), Ok(()));
        assert_eq!(check(Method::POST, "/v1/users/lfm:user%202/sessions"), Ok(()));
        assert_eq!(check(Method::GET, "/v1/sessions/any/next"), Ok(()));
        assert_eq!(check(Method::GET, "/v1/users/u3/profile"), Err("forbidden_listener"));
        assert_eq!(check(Method::GET, "/v1/search"), Err("forbidden_scope"));
        assert_eq!(check(Method::DELETE, "/v1/users/lfm:user%202"), Err("forbidden_scope"));
        assert_eq!(check(Method::POST, "/v1/admin/tokens"), Err("forbidden_scope"));

        // Expiry is exact, to the millisecond.
        let expired = access.authenticate(&h, t0 + 60_000).unwrap_err();
        let (status, challenge) = code_of(expired);
        assert_eq!(status, 401);
        assert!(challenge.is_some_and(|c| c.contains("expired")));
    }

    #[test]
    fn tampered_or_foreign_tokens_are_invalid() {
        let signer = TokenSigner::new(SECRET.as_bytes()).expect("signer");
        let other = TokenSigner::new(b"another secret of at least 32 bytes!!").expect("signer");
        let claims = Claims {
            user_id: "u1".into(),
            expires_at_ms: 10_000,
        };
        let token = signer.sign(&claims);
        assert_eq!(signer.verify(&token, 0), Ok(claims.clone()));
        assert_eq!(other.verify(&token, 0), Err(TokenError::BadSignature));
        assert_eq!(signer.verify(&token, 10_000), Err(TokenError::Expired));
        // Another listener's claims under the original signature.
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"u2","exp":10000}"#);
        let tag = token.rsplit_once('.').map(|(_, t)| t).unwrap_or_default();
        let forged = format!("{TOKEN_PREFIX}{forged_payload}.{tag}");
        assert_eq!(signer.verify(&forged, 0), Err(TokenError::BadSignature));
        for junk in [
            "",
            "ndt1.",
            "ndt1..",
            "ndt1.abc",
            "ndt1.abc.!!!",
            "xyz.abc.def",
            "ndt1.é.é",
        ] {
            assert!(signer.verify(junk, 0).is_err(), "{junk}");
        }
        // A well-signed payload that is not claims.
        let mut mac = signer.mac.clone();
        let signed = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(b"[1]"));
        mac.update(signed.as_bytes());
        let odd = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
        assert_eq!(signer.verify(&odd, 0), Err(TokenError::Malformed));
    }

    #[test]
    fn minting_needs_a_secret_and_checks_its_input() {
        let no_secret = Access::from_config(&AuthConfig {
            token_secret: None,
            ..config()
        })
        .expect("access");
        let e = no_secret.mint("u1", Some(60), 0).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (501, "tokens_not_configured"));
        let access = Access::from_config(&config()).expect("access");
        assert_eq!(access.mint("", Some(60), 0).unwrap_err().code, "invalid_id");
        let e = access.mint("u1", Some(0), 0).unwrap_err();
        assert!(e.message.contains("`ttl_s`"), "{}", e.message);
        assert_eq!(access.mint("u1", Some(86_401), 0).unwrap_err().code, "invalid_field");
        assert_eq!(
            access.mint("u1", None, 0).expect("default ttl").expires_at_ms,
            3_600_000
        );
        assert_eq!(access.mint("u1", Some(u64::MAX), 0).unwrap_err().code, "invalid_field");
        // A token is not accepted where tokens are off.
        let token = access.mint("u1", Some(60), 0).expect("minted").token;
        let r = no_secret.authenticate(&headers("x-api-key", &token), 1).unwrap_err();
        assert_eq!(r.error.code, "invalid_api_key");
    }

    #[test]
    fn config_problems_name_the_key_and_never_the_secret() {
        assert!(config().problems("0.0.0.0:7700").is_empty());
        assert!(AuthConfig::default().problems("127.0.0.1:7700").is_empty());
        assert!(AuthConfig::default().problems("[::1]:7700").is_empty());
        let open = AuthConfig::default().problems("0.0.0.0:7700");
        assert_eq!(open.len(), 1, "{open:?}");
        assert!(
            open[0].starts_with("auth.keys: no API key") && open[0].contains("--allow-open"),
            "{open:?}"
        );
        assert!(!AuthConfig::default()
            .problems("[::ffff:127.0.0.1]:7700")
            .iter()
            .any(|p| p.contains("loopback")));
        assert!(AuthConfig {
            allow_open: true,
            ..AuthConfig::default()
        }
        .problems("0.0.0.0:7700")
        .is_empty());

        let bad = AuthConfig {
            keys: vec![
                key("ok", KEY_A, &[Scope::Admin]),
                key("ok", "short", &[]),
                key("bad name", "has a space in it 0123", &[Scope::Search]),
                key("dup", KEY_A, &[Scope::Search]),
                key("tok", "ndt1.looks-like-a-token", &[Scope::Search]),
            ],
            token_secret: Some("too-short".into()),
            token_max_ttl_s: 0,
            ..AuthConfig::default()
        };
        let problems = bad.problems("127.0.0.1:7700");
        let joined = problems.join("\n");
        for expected in [
            "auth.keys[1].name: `ok` is used by another key",
            "auth.keys[1].key: must be 16 to 4096 characters long, got 5",
            "auth.keys[1].scopes:",
            "auth.keys[2].name:",
            "auth.keys[2].key: must be visible ASCII",
            "auth.keys[3].key: the same key as `ok`",
            "auth.keys[4].key: must not start with `ndt1.`",
            "auth.token_secret: must be 32 to 4096 bytes long, got 9",
            "auth.token_max_ttl_s:",
        ] {
            assert!(joined.contains(expected), "missing {expected:?} in\n{joined}");
        }
        assert!(!joined.contains(KEY_A) && !joined.contains("too-short"), "{joined}");
    }

    #[test]
    fn keys_file_is_read_and_its_errors_are_redacted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys.toml");
        std::fs::write(
            &path,
            format!("[[keys]]\nname = \"file-app\"\nkey = \"{KEY_S}\"\nscopes = [\"search\"]\n"),
        )
        .expect("write");
        let cfg = AuthConfig {
            keys: vec![key("ops", KEY_A, &[Scope::Admin])],
            keys_file: Some(path.clone()),
            ..AuthConfig::default()
        };
        let keys = cfg.all_keys().expect("keys");
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1].name, "file-app");
        assert!(cfg.problems("0.0.0.0:1").is_empty());
        let access = Access::from_config(&cfg).expect("access");
        assert_eq!(access.key_names(), ["ops", "file-app"]);

        // Problems in the file are labelled with the file.
        std::fs::write(
            &path,
            "[[keys]]\nname = \"x\"\nkey = \"short\"\nscopes = [\"search\"]\n",
        )
        .expect("write");
        let p = cfg.problems("127.0.0.1:1").join("\n");
        assert!(p.contains("keys.toml`: keys[0].key: must be 16"), "{p}");

        // Syntax and type errors never quote the file.
        std::fs::write(&path, "[[keys]]\nname = \"x\"\nkey = secret-value-123456\n").expect("write");
        let p = cfg.problems("127.0.0.1:1").join("\n");
        assert!(p.starts_with("auth.keys_file: `") && !p.contains("secret-value"), "{p}");
        std::fs::write(
            &path,
            "[[keys]]\nname = \"x\"\nkey = 12345678901234567\nscopes = [\"search\"]\n",
        )
        .expect("write");
        let p = cfg.problems("127.0.0.1:1").join("\n");
        assert!(p.contains("not shown") && !p.contains("12345678901234567"), "{p}");
        std::fs::write(
            &path,
            "[[keys]]\nname = \"x\"\nkey = \"0123456789abcdefgh\"\nscopes = [\"root\"]\n",
        )
        .expect("write");
        let p = cfg.problems("127.0.0.1:1").join("\n");
        assert!(p.contains("keys.0.scopes.0") && p.contains("root"), "{p}");

        // A missing file is a problem, and keys in it are not silently skipped: no
        // "open" complaint is added on top.
        let missing = AuthConfig {
            keys_file: Some(dir.path().join("nope.toml")),
            ..AuthConfig::default()
        };
        let p = missing.problems("0.0.0.0:1");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("nope.toml") && p[0].contains("does not exist"), "{p:?}");
        assert!(Access::from_config(&missing).is_err());
    }

    #[test]
    fn snippets_are_redacted() {
        let msg = "TOML parse error at line 3, column 7\n  |\n3 | key = secret\n  |       ^\ninvalid string";
        let r = redact_snippets(msg);
        assert!(!r.contains("secret"), "{r}");
        assert!(r.contains("line 3") && r.contains("invalid string"), "{r}");
    }
}
