//! The verifier's cache of verified tokens: a token seen again within a short while is answered
//! without checking its signature and claims again.
//!
//! An entry is keyed by the SHA-256 of the token (the token itself is never kept) and holds the
//! principal with the window in which the token was acceptable when verified: from its `nbf`
//! to its `exp` (each widened by the verifier's leeway), and never more than [`MAX_AGE`] after
//! the verification, so a key withdrawn from an issuer's JWKS stops being accepted within that
//! time even if nothing else notices. The window is checked on the verifier's clock at every
//! hit; an entry also carries the verifier's key generation, which moves whenever a refetch
//! finds a key withdrawn or replaced, so such an entry is ignored at once. Anything else about a
//! token (another audience or issuer configuration) is a property of the verifier, and each
//! verifier has its own cache; a token differing in a single byte has another key.

use std::time::Duration;

use innkeeper_kernel::Principal;
use sha2::{Digest as _, Sha256};

/// The longest a verified token is taken on trust before it is verified again.
pub(super) const MAX_AGE: Duration = Duration::from_secs(60);

/// The cache key of a token: its SHA-256.
pub(super) type TokenKey = [u8; 32];

/// What a verification established about a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Verified {
    /// Who the token speaks for.
    pub(super) principal: Principal,
    /// The first second (Unix time, inclusive) the token is acceptable: `nbf` minus the leeway.
    pub(super) from: i64,
    /// The last second (Unix time, inclusive) it may be answered from the cache: `exp` plus the
    /// leeway, or [`MAX_AGE`] after the verification if that is sooner.
    pub(super) until: i64,
    /// The verifier's key generation when the verification started.
    pub(super) generation: u64,
}

impl Verified {
    fn holds(&self, now: i64, generation: u64) -> bool {
        self.generation == generation && self.from <= now && now <= self.until
    }
}

/// A bounded map from token hash to [`Verified`] (moka: concurrent, TinyLFU admission, entries
/// also dropped [`MAX_AGE`] after insertion).
pub(super) struct VerifiedTokens {
    entries: moka::sync::Cache<TokenKey, Verified>,
}

impl VerifiedTokens {
    /// A cache of at most `capacity` tokens; `None` for 0 (no cache).
    pub(super) fn new(capacity: u64) -> Option<Self> {
        (capacity > 0).then(|| Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(MAX_AGE)
                .build(),
        })
    }

    /// The key of `token`.
    pub(super) fn key(token: &str) -> TokenKey {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The principal of a token verified before, if its entry still holds at `now` (Unix
    /// seconds on the verifier's clock) under key generation `generation`. Counted as a hit or
    /// a miss (`innkeeper_auth_verified_token_cache_total{outcome}`).
    pub(super) fn get(&self, key: &TokenKey, now: i64, generation: u64) -> Option<Principal> {
        let found = self.entries.get(key);
        let principal = match found {
            Some(verified) if verified.holds(now, generation) => Some(verified.principal),
            Some(_) => {
                self.entries.invalidate(key);
                None
            }
            None => None,
        };
        let outcome = if principal.is_some() { "hit" } else { "miss" };
        metrics::counter!("innkeeper_auth_verified_token_cache_total", "outcome" => outcome)
            .increment(1);
        principal
    }

    /// Remembers a verification.
    pub(super) fn insert(&self, key: TokenKey, verified: Verified) {
        self.entries.insert(key, verified);
    }
}

#[cfg(test)]
mod tests {
    use innkeeper_kernel::{Role, UserId};

    use super::*;

    fn verified(from: i64, until: i64, generation: u64) -> Verified {
        Verified {
            principal: Principal {
                user_id: UserId::new(),
                role: Role::Guest,
            },
            from,
            until,
            generation,
        }
    }

    #[test]
    fn an_entry_holds_inside_its_window_and_generation_only() {
        let cache = VerifiedTokens::new(10).expect("a cache");
        let key = VerifiedTokens::key("a.b.c");
        let entry = verified(100, 200, 7);
        cache.insert(key, entry);
        assert_eq!(cache.get(&key, 100, 7), Some(entry.principal));
        assert_eq!(cache.get(&key, 200, 7), Some(entry.principal));
        assert_eq!(cache.get(&key, 150, 8), None, "keys changed since");
        // A stale entry is dropped, not kept for a clock going back.
        assert_eq!(cache.get(&key, 150, 7), None);
        cache.insert(key, entry);
        assert_eq!(cache.get(&key, 99, 7), None, "not yet valid");
        cache.insert(key, entry);
        assert_eq!(cache.get(&key, 201, 7), None, "expired");
    }

    #[test]
    fn keys_differ_for_tokens_differing_in_one_byte() {
        assert_eq!(VerifiedTokens::key("a.b.c"), VerifiedTokens::key("a.b.c"));
        assert_ne!(VerifiedTokens::key("a.b.c"), VerifiedTokens::key("a.b.d"));
        assert!(VerifiedTokens::new(0).is_none());
    }
}
