//! PostgreSQL backend of the identity store, for the distributed shape.
//!
//! Every statement is a `&'static str`, so the driver prepares it once per connection.
//! Constraint violations are mapped by constraint name next to the statement that can raise
//! them. A refresh-token rotation locks the presented token's row (`FOR UPDATE`), so a
//! concurrent presentation waits and then sees it spent. Signing-key changes take a
//! transaction-scoped advisory lock, so replicas starting together create one key.

use async_trait::async_trait;
use innkeeper_kernel::{Error, Result, Role, UserId};
use innkeeper_platform::db::violated_constraint;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row as _};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::{NotificationPreferences, User};
use crate::store::{IdentityStore, NewRefreshToken, Rotation, SigningKey, StoredUser};

/// The advisory lock that serialises signing-key changes.
const SIGNING_KEYS_LOCK: i64 = 0x1d_e7_71_7e_5e_a1;

/// The columns [`user`] reads.
macro_rules! user_columns {
    () => {
        "id, email, name, role, password_hash, phone, telegram_chat_id, notifications::text AS notifications, \
         version, created_at, updated_at"
    };
}

/// The columns [`signing_key`] reads.
macro_rules! key_columns {
    () => {
        "kid, algorithm, private_key, public_key, created_at, retired_at"
    };
}

/// The identity store on a PostgreSQL database of its own.
#[derive(Debug, Clone)]
pub struct PgIdentityStore {
    pool: PgPool,
}

impl PgIdentityStore {
    /// A store on `pool`; call [`IdentityStore::migrate`] before use.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db_error)
    }
}

/// An internal error whose cause is logged, never shown.
fn internal(cause: impl std::fmt::Display) -> Error {
    Error::internal(format!("identity store (postgres): {cause}"))
}

/// A database failure that no constraint mapping claimed.
fn db_error(err: sqlx::Error) -> Error {
    match err {
        sqlx::Error::PoolTimedOut => {
            Error::unavailable("the identity database is busy; retry later")
        }
        other => internal(other),
    }
}

/// The name of the constraint a statement violated, if that is what failed.
fn user(row: &PgRow) -> Result<StoredUser> {
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
            created_at: row.try_get("created_at").map_err(internal)?,
            updated_at: row.try_get("updated_at").map_err(internal)?,
        },
        password_hash: row.try_get("password_hash").map_err(internal)?,
    })
}

fn signing_key(row: &PgRow) -> Result<SigningKey> {
    Ok(SigningKey {
        kid: row.try_get("kid").map_err(internal)?,
        algorithm: row.try_get("algorithm").map_err(internal)?,
        private_key: row.try_get("private_key").map_err(internal)?,
        public_key: row.try_get("public_key").map_err(internal)?,
        created_at: row.try_get("created_at").map_err(internal)?,
        retired_at: row.try_get("retired_at").map_err(internal)?,
    })
}

async fn lock_signing_keys(tx: &mut sqlx::Transaction<'static, Postgres>) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SIGNING_KEYS_LOCK)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

async fn insert_key(tx: &mut sqlx::Transaction<'static, Postgres>, key: &SigningKey) -> Result<()> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at, retired_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&key.kid)
    .bind(&key.algorithm)
    .bind(&key.private_key)
    .bind(&key.public_key)
    .bind(key.created_at)
    .bind(key.retired_at)
    .execute(&mut **tx)
    .await
    .map_err(|e| match violated_constraint(&e) {
        Some("signing_keys_pkey") => {
            Error::conflict(format!("signing key {} already exists", key.kid))
        }
        _ => db_error(e),
    })?;
    Ok(())
}

#[async_trait]
impl IdentityStore for PgIdentityStore {
    async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_user(&self, stored: &StoredUser) -> Result<()> {
        let user = &stored.user;
        let notifications = serde_json::to_string(&user.notifications).map_err(internal)?;
        sqlx::query(
            "INSERT INTO users (id, email, name, role, password_hash, phone, telegram_chat_id, \
             notifications, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11)",
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
        .bind(user.created_at)
        .bind(user.updated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| match violated_constraint(&e) {
            Some("users_email_key") => Error::conflict("an account with this email already exists")
                .with_field("email", "is already registered"),
            Some("users_pkey") => Error::conflict(format!("user {} already exists", user.id)),
            _ => db_error(e),
        })?;
        Ok(())
    }

    async fn get_user(&self, id: UserId) -> Result<Option<StoredUser>> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(user)
        .transpose()
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<StoredUser>> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(user)
        .transpose()
    }

    async fn update_user(&self, user: &User, expected_version: i64) -> Result<User> {
        let notifications = serde_json::to_string(&user.notifications).map_err(internal)?;
        let row = sqlx::query(concat!(
            "UPDATE users SET name = $1, phone = $2, telegram_chat_id = $3, notifications = $4::jsonb, \
             updated_at = $5, version = version + 1 WHERE id = $6 AND version = $7 RETURNING ",
            user_columns!()
        ))
        .bind(&user.name)
        .bind(&user.phone)
        .bind(&user.telegram_chat_id)
        .bind(notifications)
        .bind(user.updated_at)
        .bind(user.id.0)
        .bind(expected_version)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        if let Some(row) = row {
            return Ok(self::user(&row)?.user);
        }
        let current: Option<i64> = sqlx::query_scalar("SELECT version FROM users WHERE id = $1")
            .bind(user.id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        Err(match current {
            Some(version) => Error::version_mismatch(version),
            None => Error::not_found("user", user.id),
        })
    }

    async fn start_refresh_family(&self, token: &NewRefreshToken) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO refresh_families (id, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(token.family_id)
            .bind(token.user_id.0)
            .bind(token.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&token.token_hash)
        .bind(token.family_id)
        .bind(token.user_id.0)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn rotate_refresh_token(
        &self,
        presented: &[u8],
        next_hash: &[u8],
        now: OffsetDateTime,
        next_expires_at: OffsetDateTime,
    ) -> Result<Rotation> {
        let mut tx = self.begin().await?;
        // The row lock makes a concurrent presentation wait, then read the committed state.
        let row = sqlx::query(
            "SELECT t.family_id, t.user_id, t.expires_at, t.spent_at, f.revoked_at \
             FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
             WHERE t.token_hash = $1 FOR UPDATE OF t",
        )
        .bind(presented)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(Rotation::Rejected);
        };
        let family_id: Uuid = row.try_get("family_id").map_err(internal)?;
        let user_id = UserId(row.try_get::<Uuid, _>("user_id").map_err(internal)?);
        let expires_at: OffsetDateTime = row.try_get("expires_at").map_err(internal)?;
        let spent_at: Option<OffsetDateTime> = row.try_get("spent_at").map_err(internal)?;
        let revoked_at: Option<OffsetDateTime> = row.try_get("revoked_at").map_err(internal)?;
        if revoked_at.is_some() {
            return Ok(Rotation::Rejected);
        }
        if spent_at.is_some() {
            sqlx::query(
                "UPDATE refresh_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(family_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            return Ok(Rotation::Reused { user_id, family_id });
        }
        if expires_at <= now {
            return Ok(Rotation::Rejected);
        }
        sqlx::query("UPDATE refresh_tokens SET spent_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(presented)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(next_hash)
        .bind(family_id)
        .bind(user_id.0)
        .bind(now)
        .bind(next_expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Rotation::Rotated { user_id, family_id })
    }

    async fn revoke_family_of_token(
        &self,
        token_hash: &[u8],
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE refresh_families SET revoked_at = $1 WHERE revoked_at IS NULL AND user_id = $2 \
             AND id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $3)",
        )
        .bind(now)
        .bind(user_id.0)
        .bind(token_hash)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_user_families(&self, user_id: UserId, now: OffsetDateTime) -> Result<u32> {
        let done = sqlx::query(
            "UPDATE refresh_families SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id.0)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(u32::try_from(done.rows_affected()).unwrap_or(u32::MAX))
    }

    async fn prune_refresh_tokens(&self, expired_by: OffsetDateTime, limit: u32) -> Result<u32> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "DELETE FROM refresh_tokens WHERE token_hash IN \
             (SELECT token_hash FROM refresh_tokens WHERE expires_at <= $1 LIMIT $2 \
              FOR UPDATE SKIP LOCKED)",
        )
        .bind(expired_by)
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        // A family being started holds its first token in the same transaction, so it is
        // never seen empty here.
        sqlx::query(
            "DELETE FROM refresh_families f WHERE NOT EXISTS \
             (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id)",
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(u32::try_from(done.rows_affected()).unwrap_or(u32::MAX))
    }

    async fn ensure_signing_key(&self, candidate: &SigningKey) -> Result<bool> {
        let mut tx = self.begin().await?;
        lock_signing_keys(&mut tx).await?;
        let live: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        if live {
            return Ok(false);
        }
        insert_key(&mut tx, candidate).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn activate_signing_key(&self, key: &SigningKey, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.begin().await?;
        lock_signing_keys(&mut tx).await?;
        sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        insert_key(&mut tx, key).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM signing_keys ORDER BY created_at DESC, kid DESC"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(signing_key)
        .collect()
    }

    async fn prune_signing_keys(&self, retired_by: OffsetDateTime) -> Result<u32> {
        let done = sqlx::query(
            "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at <= $1",
        )
        .bind(retired_by)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(u32::try_from(done.rows_affected()).unwrap_or(u32::MAX))
    }
}

/// A migrated store on a fresh test database, or `None` (skipped) off CI without PostgreSQL.
/// Its pool is capped at 16 connections so racing tests stay under PostgreSQL's client limit.
#[cfg(test)]
pub(crate) async fn test_store()
-> Option<(PgIdentityStore, innkeeper_platform::testing::TestDatabase)> {
    let database = innkeeper_platform::testing::TestDatabase::postgres().await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(std::time::Duration::from_secs(30))
        .connect(&database.url)
        .await
        .expect("connect to the test database");
    let store = PgIdentityStore::new(pool);
    store.migrate().await.expect("migrate");
    Some((store, database))
}
