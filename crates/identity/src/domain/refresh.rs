//! Refresh tokens: 32 random bytes, base64url without padding, stored only as their SHA-256.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// Bytes of randomness in a refresh token.
const TOKEN_BYTES: usize = 32;

/// A fresh token: the value handed to the client and the hash stored.
pub(crate) fn generate() -> (String, Vec<u8>) {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    (token, hash)
}

/// The stored form of a token.
pub(crate) fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether `token` has the shape of one this service issued (so malformed input never
/// reaches the store).
pub(crate) fn is_well_formed(token: &str) -> bool {
    token.len() == 43
        && URL_SAFE_NO_PAD
            .decode(token)
            .is_ok_and(|bytes| bytes.len() == TOKEN_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_hashed() {
        let (a, hash_a) = generate();
        let (b, _) = generate();
        assert_ne!(a, b);
        assert!(is_well_formed(&a));
        assert_eq!(hash_a, hash(&a));
        assert_eq!(hash_a.len(), 32);
        assert!(!is_well_formed("short"));
        assert!(!is_well_formed(&format!("{a}=")));
        assert!(!is_well_formed(&"*".repeat(43)));
    }
}
