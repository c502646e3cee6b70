//! `[auth]`: API keys and their scopes, listener-token settings, open mode; the secrets'
//! redaction rules. The server's access layer enforces them.

use figment::providers::{Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

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
/// How long a token revocation is kept: the longest token lifetime and a day for clocks
/// that disagree. Any token it could refuse has expired by then.
pub const REVOCATION_HORIZON_MS: i64 = (MAX_TOKEN_TTL_S as i64 + 86_400) * 1000;
/// Default `auth.keys_reload_ms`.
pub const DEFAULT_KEYS_RELOAD_MS: u64 = 2000;

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
    /// mounted Kubernetes Secret. Read at start, and again when it changes (see
    /// `keys_reload_ms`) or on SIGHUP; a file that does not validate keeps the keys in use.
    pub keys_file: Option<PathBuf>,
    /// How often `keys_file` is checked for changes (modification time and size),
    /// milliseconds; `0` reloads it on SIGHUP only.
    pub keys_reload_ms: u64,
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
            keys_reload_ms: DEFAULT_KEYS_RELOAD_MS,
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

    /// Every configured key, read and checked as at start (names, lengths, duplicates,
    /// scopes): what a reload of `keys_file` swaps in. The problems name the file and the
    /// key's index, never a key.
    pub fn load_keys(&self) -> Result<Vec<KeyConfig>, Vec<String>> {
        let keys = self.all_keys().map_err(|p| vec![p])?;
        let problems = self.key_problems(&keys);
        if problems.is_empty() {
            Ok(keys)
        } else {
            Err(problems)
        }
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
        if self.keys_reload_ms != 0 && !(100..=3_600_000).contains(&self.keys_reload_ms) {
            problems.push(format!(
                "auth.keys_reload_ms: must be 0 (SIGHUP only) or between 100 and 3600000, got {}",
                self.keys_reload_ms
            ));
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
pub fn open_refusal(addr: &str) -> String {
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

/// Whether `ip` is a loopback address (served open without keys).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// SHA-256 of a key (keys are compared by digest, in constant time).
pub fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}
