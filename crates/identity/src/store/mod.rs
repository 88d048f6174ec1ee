//! Persistence of identity: one contract ([`IdentityStore`]), two backends.
//!
//! The store owns every transaction. The two operations that must be atomic are:
//! - creating an account: the `users_email_key` UNIQUE constraint decides which of two
//!   concurrent registrations of one email wins; the loser gets `conflict`;
//! - rotating a refresh token: the presented token is locked (PostgreSQL `FOR UPDATE`,
//!   SQLite's write lock), so of two concurrent uses exactly one rotates it and the other sees
//!   it spent, which revokes the whole family.
//!
//! Both backends pass the same contract suite (`contract.rs`).

use async_trait::async_trait;
use innkeeper_kernel::{Result, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::User;
pub use crate::domain::keys::SigningKey;

pub mod postgres;
pub mod sqlite;

#[cfg(test)]
mod contract;

/// An account with its password hash (the only place the hash travels).
#[derive(Clone, PartialEq)]
pub struct StoredUser {
    pub user: User,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
}

impl std::fmt::Debug for StoredUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredUser")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The first refresh token of a new family (a login).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    pub family_id: Uuid,
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live: it is spent now and its successor is stored in the same family.
    Rotated { user_id: UserId, family_id: Uuid },
    /// The token had been spent already: theft is assumed and the whole family is revoked
    /// (committed, so the revocation stands).
    Reused { user_id: UserId, family_id: Uuid },
    /// Unknown, expired, or of a revoked family: nothing changed.
    Rejected,
}

/// The identity service's persistence contract.
///
/// Errors are domain errors: `conflict` (email taken), `not_found`, `version_mismatch` (with
/// the current version); anything else is `internal` (or `unavailable` when the database is
/// saturated).
#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// Creates the schema or brings it up to date.
    async fn migrate(&self) -> anyhow::Result<()>;

    /// Stores a new account; `conflict` if the (normalised) email is taken, even by a
    /// concurrent insert.
    async fn insert_user(&self, user: &StoredUser) -> Result<()>;
    async fn get_user(&self, id: UserId) -> Result<Option<StoredUser>>;
    /// The account with this normalised email.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<StoredUser>>;
    /// Writes the profile fields of `user` (name, phone, Telegram chat, notification
    /// preferences, `updated_at`) if the stored version is `expected_version`; returns the
    /// user with its version incremented.
    async fn update_user(&self, user: &User, expected_version: i64) -> Result<User>;

    /// Starts a refresh family with its first token.
    async fn start_refresh_family(&self, token: &NewRefreshToken) -> Result<()>;
    /// Presents the token hashed `presented`: if live (known, unspent, unexpired, family not
    /// revoked) it is spent and `next_hash` stored in its family, expiring at `next_expires_at`.
    /// Atomic: of concurrent presentations of one token, exactly one rotates it.
    async fn rotate_refresh_token(
        &self,
        presented: &[u8],
        next_hash: &[u8],
        now: OffsetDateTime,
        next_expires_at: OffsetDateTime,
    ) -> Result<Rotation>;
    /// Revokes the family of the token hashed `token_hash` if it belongs to `user_id`;
    /// returns whether a family was revoked now.
    async fn revoke_family_of_token(
        &self,
        token_hash: &[u8],
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<bool>;
    /// Revokes every live family of a user; returns how many.
    async fn revoke_user_families(&self, user_id: UserId, now: OffsetDateTime) -> Result<u32>;
    /// Deletes up to `limit` tokens that expired at or before `expired_by`, then the families
    /// left without tokens; returns how many tokens were deleted.
    async fn prune_refresh_tokens(&self, expired_by: OffsetDateTime, limit: u32) -> Result<u32>;

    /// Stores `candidate` as the signing key if no unretired key exists (concurrent callers:
    /// one key at most); returns whether it was stored.
    async fn ensure_signing_key(&self, candidate: &SigningKey) -> Result<bool>;
    /// Stores `key` as the signing key and retires every other unretired key at `now`, in
    /// one transaction.
    async fn activate_signing_key(&self, key: &SigningKey, now: OffsetDateTime) -> Result<()>;
    /// Every stored key, newest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKey>>;
    /// Deletes keys retired at or before `retired_by`; returns how many.
    async fn prune_signing_keys(&self, retired_by: OffsetDateTime) -> Result<u32>;
}

/// The SQLite backend.
pub fn sqlite_store(db: innkeeper_platform::db::SqliteDb) -> std::sync::Arc<dyn IdentityStore> {
    std::sync::Arc::new(sqlite::SqliteIdentityStore::new(db))
}

/// The PostgreSQL backend.
pub fn postgres_store(pool: sqlx::PgPool) -> std::sync::Arc<dyn IdentityStore> {
    std::sync::Arc::new(postgres::PgIdentityStore::new(pool))
}
