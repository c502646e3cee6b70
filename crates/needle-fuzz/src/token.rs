//! Listener tokens (`needle_server::auth::TokenSigner::verify`) on any text.
//!
//! Invariants: verifying never panics; a token is accepted only if it is byte for byte
//! the token the signer makes for the claims it carries (no malleable encodings), and only
//! before its expiry; a token the signer made for any claims verifies to those claims
//! (when it fits the credential limit and has not expired), and a one-character change
//! to it is refused.

use needle_server::auth::{Claims, TokenError, TokenSigner, MAX_CREDENTIAL_BYTES, TOKEN_PREFIX};

/// "Now" for every check, epoch milliseconds.
const NOW_MS: i64 = 1_750_000_000_000;

fn signer() -> TokenSigner {
    TokenSigner::new(b"fuzzing secret, not a real one").expect("HMAC takes any key")
}

/// The harness of the `token` target. First byte even: the rest is a token (lossy
/// UTF-8) to verify. Odd: the next 8 bytes are the expiry (i64 LE, relative to now) and
/// the rest the listener id; the signed token is verified, then changed at the position
/// the first byte names and verified again.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let signer = signer();
    if mode & 1 == 0 {
        check_verify(&signer, &crate::text(rest));
        return;
    }
    let (exp, user) = if rest.len() >= 8 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&rest[..8]);
        (NOW_MS.saturating_add(i64::from_le_bytes(b) >> 16), &rest[8..])
    } else {
        (NOW_MS + 1, rest)
    };
    let claims = Claims {
        user_id: crate::text(user).into_owned(),
        expires_at_ms: exp,
        issued_at_ms: NOW_MS,
    };
    let token = signer.sign(&claims);
    assert!(token.starts_with(TOKEN_PREFIX));
    match signer.verify(&token, NOW_MS) {
        Ok(back) => {
            assert_eq!(back, claims, "claims changed by signing");
            assert!(exp > NOW_MS, "an expired token accepted");
        }
        Err(TokenError::Expired) => assert!(exp <= NOW_MS, "a live token refused as expired"),
        Err(TokenError::Malformed) => assert!(token.len() > MAX_CREDENTIAL_BYTES, "own token malformed: {token}"),
        Err(TokenError::BadSignature) => panic!("own token has a bad signature: {token}"),
    }
    // One changed character: refused, unless the change happens to give the same token.
    let mut chars: Vec<char> = token.chars().collect();
    let at = usize::from(mode >> 1) % chars.len();
    chars[at] = match chars[at] {
        'A' => 'B',
        '.' => '_',
        c if c.is_ascii_lowercase() => c.to_ascii_uppercase(),
        c if c.is_ascii_uppercase() => c.to_ascii_lowercase(),
        _ => 'A',
    };
    let changed: String = chars.into_iter().collect();
    check_verify(&signer, &changed);
}

/// Whatever `token` is, an accepted one carries claims the signer would sign the same way:
/// re-signed, they verify to themselves; and a token with an issue time (every token minted
/// since revocations exist) is exactly what the signer makes of its claims. (Tokens from
/// before `iat`, and tokens with claims a newer version added, verify too: their bytes
/// differ from a re-signing, their signature does not.)
pub fn check_verify(signer: &TokenSigner, token: &str) {
    if let Ok(claims) = signer.verify(token, NOW_MS) {
        assert!(claims.expires_at_ms > NOW_MS, "an expired token accepted");
        let again = signer.sign(&claims);
        assert_eq!(
            signer.verify(&again, NOW_MS).ok(),
            Some(claims.clone()),
            "re-signed claims differ"
        );
        if claims.issued_at_ms != 0 && again.len() == token.len() {
            assert_eq!(again, token, "a token other than the signer's own accepted");
        }
    }
}
