//! SQLite backend of the identity store (the embedded shape).
//!
//! Reads use the reader pool. Every write is one transaction on the writer pool begun with
//! `BEGIN IMMEDIATE`: it holds the database's write lock from its first statement, so the
//! check-then-write of a refresh-token rotation cannot interleave with another, even from
//! another process on the same file.

use async_trait::async_trait;
use innkeeper_kernel::{Error, Result, Role, UserId};
use innkeeper_platform::db::SqliteDb;
use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::{NotificationPreferences, User};
use crate::store::{IdentityStore, NewRefreshToken, Rotation, SigningKey, StoredUser};

/// A write transaction holding SQLite's write lock.
type WriteTx = sqlx::Transaction<'static, sqlx::Sqlite>;

/// The columns [`user`] reads.
macro_rules! user_columns {
    () => {
        "id, email, name, role, password_hash, phone, telegram_chat_id, notifications, version, \
         created_at, updated_at"
    };
}

/// The columns [`signing_key`] reads.
macro_rules! key_columns {
    () => {
        "kid, algorithm, private_key, public_key, created_at, retired_at"
    };
}

/// The identity store on an SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteIdentityStore {
    db: SqliteDb,
}

impl SqliteIdentityStore {
    /// A store over an opened database (call [`IdentityStore::migrate`] before use).
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }

    /// Begins a write transaction that holds the write lock from its first statement.
    async fn write(&self) -> Result<WriteTx> {
        self.db
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(internal)
    }
}

/// Any database failure not mapped to a domain error: logged, never shown.
fn internal(err: impl std::fmt::Display) -> Error {
    Error::internal(format!("identity sqlite store: {err}"))
}

async fn commit(tx: WriteTx) -> Result<()> {
    tx.commit().await.map_err(internal)
}

/// An instant as stored: microseconds since the epoch (PostgreSQL's precision).
fn micros(at: OffsetDateTime) -> Result<i64> {
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1000))
        .map_err(|_| Error::invalid_request(format!("instant {at} is out of range")))
}

/// The instant stored as `micros`.
fn instant(micros: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .map_err(|e| internal(format!("stored instant {micros} out of range: {e}")))
}

fn optional_instant(micros: Option<i64>) -> Result<Option<OffsetDateTime>> {
    micros.map(instant).transpose()
}

fn user(row: &SqliteRow) -> Result<StoredUser> {
    let role: String = row.try_get("role").map_err(internal)?;
    let notifications: String = row.try_get("notifications").map_err(internal)?;
    let notifications: NotificationPreferences =
        serde_json::from_str(&notifications).map_err(internal)?;
    Ok(StoredUser {
        user: User {
            id: UserId(row.try_get::<Uuid, _>("id").map_err(internal)?),
            email: row.try_get("email").map_err(internal)?,
            name: row.try_get("name").map_err(internal)?,
            role: Role::parse(&role).ok_or_else(|| internal(format!("stored role {role}")))?,
            phone: row.try_get("phone").map_err(internal)?,
            telegram_chat_id: row.try_get("telegram_chat_id").map_err(internal)?,
            notifications,
            version: row.try_get("version").map_err(internal)?,
            created_at: instant(row.try_get("created_at").map_err(internal)?)?,
            updated_at: instant(row.try_get("updated_at").map_err(internal)?)?,
        },
        password_hash: row.try_get("password_hash").map_err(internal)?,
    })
}

fn signing_key(row: &SqliteRow) -> Result<SigningKey> {
    Ok(SigningKey {
        kid: row.try_get("kid").map_err(internal)?,
        algorithm: row.try_get("algorithm").map_err(internal)?,
        private_key: row.try_get("private_key").map_err(internal)?,
        public_key: row.try_get("public_key").map_err(internal)?,
        created_at: instant(row.try_get("created_at").map_err(internal)?)?,
        retired_at: optional_instant(row.try_get("retired_at").map_err(internal)?)?,
    })
}

async fn insert_key(tx: &mut WriteTx, key: &SigningKey) -> Result<()> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at, retired_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&key.kid)
    .bind(&key.algorithm)
    .bind(&key.private_key)
    .bind(&key.public_key)
    .bind(micros(key.created_at)?)
    .bind(key.retired_at.map(micros).transpose()?)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::conflict(format!("signing key {} already exists", key.kid))
        } else {
            internal(e)
        }
    })?;
    Ok(())
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

#[async_trait]
impl IdentityStore for SqliteIdentityStore {
    async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.db.writer)
            .await?;
        Ok(())
    }

    async fn insert_user(&self, stored: &StoredUser) -> Result<()> {
        let user = &stored.user;
        let notifications = serde_json::to_string(&user.notifications).map_err(internal)?;
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO users (id, email, name, role, password_hash, phone, telegram_chat_id, \
             notifications, version, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user.id.0)
        .bind(&user.email)
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(&stored.password_hash)
        .bind(&user.phone)
        .bind(&user.telegram_chat_id)
        .bind(notifications)
        .bind(user.version)
        .bind(micros(user.created_at)?)
        .bind(micros(user.updated_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            match e.as_database_error() {
                // SQLite names the columns, not the constraint: "UNIQUE constraint failed: users.email".
                Some(db) if db.is_unique_violation() && db.message().contains("users.email") => {
                    Error::conflict("an account with this email already exists")
                        .with_field("email", "is already registered")
                }
                Some(db) if db.is_unique_violation() => {
                    Error::conflict(format!("user {} already exists", user.id))
                }
                _ => internal(e),
            }
        })?;
        commit(tx).await
    }

    async fn get_user(&self, id: UserId) -> Result<Option<StoredUser>> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = ?"
        ))
        .bind(id.0)
        .fetch_optional(&self.db.reader)
        .await
        .map_err(internal)?
        .as_ref()
        .map(user)
        .transpose()
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<StoredUser>> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE email = ?"
        ))
        .bind(email)
        .fetch_optional(&self.db.reader)
        .await
        .map_err(internal)?
        .as_ref()
        .map(user)
        .transpose()
    }

    async fn update_user(&self, user: &User, expected_version: i64) -> Result<User> {
        let notifications = serde_json::to_string(&user.notifications).map_err(internal)?;
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE users SET name = ?, phone = ?, telegram_chat_id = ?, notifications = ?, \
             updated_at = ?, version = version + 1 WHERE id = ? AND version = ?",
        )
        .bind(&user.name)
        .bind(&user.phone)
        .bind(&user.telegram_chat_id)
        .bind(notifications)
        .bind(micros(user.updated_at)?)
        .bind(user.id.0)
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        if done.rows_affected() == 0 {
            let current: Option<i64> = sqlx::query_scalar("SELECT version FROM users WHERE id = ?")
                .bind(user.id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(internal)?;
            return Err(match current {
                Some(version) => Error::version_mismatch(version),
                None => Error::not_found("user", user.id),
            });
        }
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = ?"
        ))
        .bind(user.id.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(internal)?;
        let updated = self::user(&row)?.user;
        commit(tx).await?;
        Ok(updated)
    }

    async fn start_refresh_family(&self, token: &NewRefreshToken) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO refresh_families (id, user_id, created_at) VALUES (?, ?, ?)")
            .bind(token.family_id)
            .bind(token.user_id.0)
            .bind(micros(token.created_at)?)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&token.token_hash)
        .bind(token.family_id)
        .bind(token.user_id.0)
        .bind(micros(token.created_at)?)
        .bind(micros(token.expires_at)?)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        commit(tx).await
    }

    async fn rotate_refresh_token(
        &self,
        presented: &[u8],
        next_hash: &[u8],
        now: OffsetDateTime,
        next_expires_at: OffsetDateTime,
    ) -> Result<Rotation> {
        let now_micros = micros(now)?;
        let mut tx = self.write().await?;
        let row = sqlx::query(
            "SELECT t.family_id, t.user_id, t.expires_at, t.spent_at, f.revoked_at \
             FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
             WHERE t.token_hash = ?",
        )
        .bind(presented)
        .fetch_optional(&mut *tx)
        .await
        .map_err(internal)?;
        let Some(row) = row else {
            return Ok(Rotation::Rejected);
        };
        let family_id: Uuid = row.try_get("family_id").map_err(internal)?;
        let user_id = UserId(row.try_get::<Uuid, _>("user_id").map_err(internal)?);
        let expires_at: i64 = row.try_get("expires_at").map_err(internal)?;
        let spent_at: Option<i64> = row.try_get("spent_at").map_err(internal)?;
        let revoked_at: Option<i64> = row.try_get("revoked_at").map_err(internal)?;
        if revoked_at.is_some() {
            return Ok(Rotation::Rejected);
        }
        if spent_at.is_some() {
            sqlx::query("UPDATE refresh_families SET revoked_at = ? WHERE id = ?")
                .bind(now_micros)
                .bind(family_id)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            commit(tx).await?;
            return Ok(Rotation::Reused { user_id, family_id });
        }
        if expires_at <= now_micros {
            return Ok(Rotation::Rejected);
        }
        sqlx::query("UPDATE refresh_tokens SET spent_at = ? WHERE token_hash = ?")
            .bind(now_micros)
            .bind(presented)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(next_hash)
        .bind(family_id)
        .bind(user_id.0)
        .bind(now_micros)
        .bind(micros(next_expires_at)?)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        commit(tx).await?;
        Ok(Rotation::Rotated { user_id, family_id })
    }

    async fn revoke_family_of_token(
        &self,
        token_hash: &[u8],
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE refresh_families SET revoked_at = ? WHERE revoked_at IS NULL AND user_id = ? \
             AND id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?)",
        )
        .bind(micros(now)?)
        .bind(user_id.0)
        .bind(token_hash)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        commit(tx).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_user_families(&self, user_id: UserId, now: OffsetDateTime) -> Result<u32> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE refresh_families SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        )
        .bind(micros(now)?)
        .bind(user_id.0)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        commit(tx).await?;
        Ok(u32::try_from(done.rows_affected()).unwrap_or(u32::MAX))
    }

    async fn prune_refresh_tokens(&self, expired_by: OffsetDateTime, limit: u32) -> Result<u32> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "DELETE FROM refresh_tokens WHERE token_hash IN \
             (SELECT token_hash FROM refresh_tokens WHERE expires_at <= ? LIMIT ?)",
        )
        .bind(micros(expired_by)?)
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        sqlx::query(
            "DELETE FROM refresh_families WHERE NOT EXISTS \
             (SELECT 1 FROM refresh_tokens t WHERE t.family_id = refresh_families.id)",
        )
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        commit(tx).await?;
        Ok(u32::try_from(done.rows_affected()).unwrap_or(u32::MAX))
    }

    async fn ensure_signing_key(&self, candidate: &SigningKey) -> Result<bool> {
        let mut tx = self.write().await?;
        let live: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE retired_at IS NULL")
                .fetch_one(&mut *tx)
                .await
                .map_err(internal)?;
        if live > 0 {
            return Ok(false);
        }
        insert_key(&mut tx, candidate).await?;
        commit(tx).await?;
        Ok(true)
    }

    async fn activate_signing_key(&self, key: &SigningKey, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL")
            .bind(micros(now)?)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        insert_key(&mut tx, key).await?;
        commit(tx).await
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM signing_keys ORDER BY created_at DESC, kid DESC"
        ))
        .fetch_all(&self.db.reader)
        .await
        .map_err(internal)?
        .iter()
        .map(signing_key)
        .collect()
    }

    async fn prune_signing_keys(&self, retired_by: OffsetDateTime) -> Result<u32> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at <= ?",
        )
        .bind(micros(retired_by)?)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        commit(tx).await?;
        Ok(u32::try_from(done.rows_affected()).unwrap_or(u32::MAX))
    }
}
