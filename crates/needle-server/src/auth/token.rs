//! Listener tokens: HMAC-SHA256-signed claims (a listener id, an expiry and the time of
//! issue, which revocation compares with the listener's "not before").

use super::*;

/// What a listener token says.
///
/// Claims this version does not know are ignored: only a holder of the secret can sign
/// them (the signature is checked before anything is parsed), so they come from a newer
/// replica of the same cluster, and a rolling upgrade that adds a claim must not make the
/// replicas not yet upgraded refuse every new token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The listener it reads.
    #[serde(rename = "sub")]
    pub user_id: String,
    /// When it stops working, epoch milliseconds.
    #[serde(rename = "exp")]
    pub expires_at_ms: i64,
    /// When it was minted, epoch milliseconds (`0` in tokens minted before revocation
    /// existed: any revocation of their listener refuses them).
    #[serde(rename = "iat", default)]
    pub issued_at_ms: i64,
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
    pub(super) mac: Hmac<Sha256>,
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
