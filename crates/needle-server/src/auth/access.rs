//! Keys, principals and decisions: who a credential is and what it may do.

use super::*;

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
        Ok(Access::with_keys(config, config.all_keys()?))
    }

    /// `keys` (read from `config` by the caller: a reload) with the signer of `config`.
    pub fn with_keys(config: &AuthConfig, keys: Vec<KeyConfig>) -> Access {
        let keys = keys
            .into_iter()
            .map(|k| StoredKey {
                name: Arc::from(k.name.as_str()),
                digest: digest(k.key.expose()),
                scopes: Scopes::of(&k.scopes),
            })
            .collect();
        Access {
            keys,
            signer: config
                .token_secret
                .as_ref()
                .and_then(|s| TokenSigner::new(s.expose().as_bytes())),
            token_max_ttl_s: config.token_max_ttl_s.clamp(1, MAX_TOKEN_TTL_S),
            broken: false,
        }
    }

    /// Whether the keys could not be loaded (every protected request is refused).
    pub fn is_locked(&self) -> bool {
        self.broken
    }

    /// How many keys are configured.
    pub fn key_count(&self) -> usize {
        self.keys.len()
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
                error: ApiError::internal(Code::Internal, &"API keys could not be loaded; refusing requests"),
                challenge: None,
            });
        }
        if self.is_open() {
            return Ok(Principal::Open);
        }
        let Some(credential) = credential(headers)? else {
            return Err(unauthorized(
                Code::MissingApiKey,
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
                            Code::TokenExpired,
                            "the listener token has expired; ask your backend for a new one",
                            format!("{REALM}, error=\"invalid_token\", error_description=\"the token has expired\""),
                        ))
                    }
                    Err(_) => {}
                }
            }
        }
        Err(unauthorized(
            Code::InvalidApiKey,
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
                        Code::ForbiddenScope,
                        format!("`{method} {path}` needs an API key with scope `{scope}`; key `{name}` has {scopes}"),
                    ))
                }
            }
            Principal::Listener(claims) => match &class.rule {
                Rule::ScopeOrAnyListener(_) => Ok(()),
                Rule::ScopeOrListener(_, Some(id)) if *id == claims.user_id => Ok(()),
                Rule::ScopeOrListener(..) => Err(forbidden(
                    Code::ForbiddenListener,
                    "this listener token reads only its own listener; the path names another listener",
                )),
                _ => Err(forbidden(
                    Code::ForbiddenScope,
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
                Code::TokensNotConfigured,
                "listener tokens are off: the server has no `auth.token_secret` (NEEDLE_AUTH__TOKEN_SECRET); \
                 give every replica the same secret of at least 32 bytes",
            ));
        };
        needle_core::validate::check_id(user_id, "user_id")?;
        let max = self.token_max_ttl_s;
        let ttl = ttl_s.unwrap_or(DEFAULT_TOKEN_TTL_S.min(max));
        if !(1..=max).contains(&ttl) {
            return Err(ApiError::new(
                Code::InvalidField,
                format!("field `ttl_s` must be between 1 and {max} (auth.token_max_ttl_s), got {ttl}"),
            ));
        }
        let ttl_ms = i64::try_from(ttl).unwrap_or(i64::MAX).saturating_mul(1000);
        let claims = Claims {
            user_id: user_id.to_string(),
            expires_at_ms: now_ms.saturating_add(ttl_ms),
            issued_at_ms: now_ms,
        };
        Ok(MintedToken {
            token: signer.sign(&claims),
            expires_at_ms: claims.expires_at_ms,
        })
    }
}

/// `401 token_revoked`: the listener's tokens issued before `not_before_ms` were revoked
/// (`POST /v1/users/{id}/tokens/revoke`, or the listener's erasure).
pub fn revoked(claims: &Claims, not_before_ms: i64) -> Option<Refusal> {
    (claims.issued_at_ms < not_before_ms).then(|| {
        unauthorized(
            Code::TokenRevoked,
            "the listener token was revoked; ask your backend for a new one",
            format!("{REALM}, error=\"invalid_token\", error_description=\"the token was revoked\""),
        )
    })
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
        Code::InvalidApiKey,
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
fn unauthorized(code: Code, message: impl Into<String>, challenge: String) -> Refusal {
    Refusal {
        error: ApiError::new(code, message),
        challenge: Some(challenge),
    }
}

pub(crate) fn forbidden(code: Code, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

/// `429 rate_limited` with `Retry-After`.
pub fn rate_limited(wait: std::time::Duration) -> Response {
    let secs = retry_after_secs(wait);
    let err = ApiError::new(
        Code::RateLimited,
        format!("too many requests from this client; retry in {secs} s (rate_limit.requests_per_s)"),
    );
    with_retry_after(err.into_response(), secs)
}

/// `503 overloaded` with `Retry-After`.
pub fn overloaded() -> Response {
    let err = ApiError::new(
        Code::Overloaded,
        format!(
            "the server is busy with other expensive requests; retry in {OVERLOADED_RETRY_AFTER_S} s \
             (concurrency.max_in_flight)"
        ),
    );
    with_retry_after(err.into_response(), OVERLOADED_RETRY_AFTER_S)
}

/// `503 overloaded` with `Retry-After`, for a batch write that found no write slot.
pub fn overloaded_writes() -> Response {
    let err = ApiError::new(
        Code::Overloaded,
        format!(
            "the server is busy with other batch writes; retry in {OVERLOADED_RETRY_AFTER_S} s \
             (concurrency.max_writes_in_flight)"
        ),
    );
    with_retry_after(err.into_response(), OVERLOADED_RETRY_AFTER_S)
}

fn with_retry_after(mut response: Response, secs: u64) -> Response {
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    response
}
