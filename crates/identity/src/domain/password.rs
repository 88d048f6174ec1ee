//! Passwords: the policy a new one must meet, and argon2id hashing.
//!
//! Hashing costs OWASP's minimum for argon2id (19 MiB of memory, two passes, one lane) and
//! runs on the blocking pool, never on an async worker. Verifying uses the parameters stored
//! in the hash, so raising them later keeps old hashes valid.
//!
//! At most [`max_concurrent_hashes`] hashes run at once (each holds 19 MiB): a burst of logins
//! queues instead of exhausting memory, and a caller that waits longer than
//! [`QUEUE_TIMEOUT`] gets `unavailable`, whatever its credentials.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use innkeeper_kernel::{Error, Result};

/// Shortest password accepted, in characters.
pub(crate) const MIN_LEN: usize = 12;
/// Longest password accepted, in characters (bounds the hashing work a request can ask for).
pub(crate) const MAX_LEN: usize = 128;

/// argon2id memory cost, KiB (OWASP minimum: 19 MiB).
pub const ARGON2_M_COST_KIB: u32 = 19_456;
/// argon2id passes.
pub const ARGON2_T_COST: u32 = 2;
/// argon2id lanes.
pub const ARGON2_P_COST: u32 = 1;

/// Passwords so common that length and variety do not save them (compared lower-cased).
const COMMON: &[&str] = &[
    "password1234",
    "password12345",
    "password123456",
    "passw0rd1234",
    "qwerty123456",
    "qwertyuiop123",
    "123456789abc",
    "abc123456789",
    "iloveyou1234",
    "welcome12345",
    "letmein12345",
    "administrator1",
    "innkeeper123",
    "innkeeper1234",
];

/// Checks a new password against the policy; the error names `field` and says exactly what
/// is wrong.
pub(crate) fn check_policy(field: &str, password: &str, email: &str) -> Result<()> {
    let length = password.chars().count();
    if length < MIN_LEN {
        return Err(Error::invalid_field(
            field,
            format!("must be at least {MIN_LEN} characters long (it has {length})"),
        ));
    }
    if length > MAX_LEN {
        return Err(Error::invalid_field(
            field,
            format!("must be at most {MAX_LEN} characters long (it has {length})"),
        ));
    }
    let classes = [
        password.chars().any(char::is_lowercase),
        password.chars().any(char::is_uppercase),
        password.chars().any(char::is_numeric),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|present| **present).count() < 2 {
        return Err(Error::invalid_field(
            field,
            "must mix at least two kinds of characters: lower-case letters, upper-case letters, digits, symbols or spaces",
        ));
    }
    let lowered = password.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if lowered == email || (!local.is_empty() && lowered == local) {
        return Err(Error::invalid_field(
            field,
            "must not be your email address",
        ));
    }
    if COMMON.contains(&lowered.as_str()) {
        return Err(Error::invalid_field(
            field,
            "is one of the most common passwords; choose another",
        ));
    }
    Ok(())
}

/// The argon2id hasher with the service's parameters.
fn argon2() -> Result<Argon2<'static>> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .map_err(|e| Error::internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password to a PHC string (blocking; call through [`hash`]).
fn hash_blocking(password: &str) -> Result<String> {
    argon2()?
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| Error::internal(format!("argon2 hashing failed: {e}")))
}

/// Whether `password` matches the PHC string `hash` (blocking; call through [`verify`]).
/// A malformed stored hash never matches.
fn verify_blocking(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A hash of a password nobody knows, with the service's parameters: verified against when
/// the email is unknown, so that path costs what a wrong password costs.
fn dummy_hash() -> Result<&'static str> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let hash = hash_blocking("not a password: the unknown-email decoy")?;
    Ok(DUMMY.get_or_init(|| hash))
}

/// Longest a hash waits for its turn before the request is refused as `unavailable`.
pub(crate) const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many hashes may run at once: two per core (at least two).
pub(crate) fn max_concurrent_hashes() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get() * 2)
}

/// A turn to hash.
async fn turn() -> Result<SemaphorePermit<'static>> {
    static TURNS: OnceLock<Semaphore> = OnceLock::new();
    let turns = TURNS.get_or_init(|| Semaphore::new(max_concurrent_hashes()));
    match tokio::time::timeout(QUEUE_TIMEOUT, turns.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(closed)) => Err(Error::internal(format!("hash turns closed: {closed}"))),
        Err(_) => Err(Error::unavailable(
            "too many sign-ins at once; retry in a few seconds",
        )),
    }
}

/// Hashes on the blocking pool.
pub(crate) async fn hash(password: String) -> Result<String> {
    let _turn = turn().await?;
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| Error::internal(format!("password hashing task failed: {e}")))?
}

/// Verifies on the blocking pool. `None` as the hash runs the same work against the decoy and
/// answers `false`.
pub(crate) async fn verify(password: String, hash: Option<String>) -> Result<bool> {
    let _turn = turn().await?;
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => Ok(verify_blocking(&password, &hash)),
        None => {
            let decoy = dummy_hash()?;
            let _ = verify_blocking(&password, decoy);
            Ok(false)
        }
    })
    .await
    .map_err(|e| Error::internal(format!("password verification task failed: {e}")))?
}

/// Computes the decoy hash ahead of the first login with an unknown email (otherwise that
/// login would also pay for creating it, and be measurably slower).
pub(crate) async fn warm_up() -> Result<()> {
    tokio::task::spawn_blocking(|| dummy_hash().map(drop))
        .await
        .map_err(|e| Error::internal(format!("password warm-up task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(password: &str) -> String {
        check_policy("password", password, "ana@example.com")
            .expect_err(password)
            .errors[0]
            .message
            .clone()
    }

    #[test]
    fn the_policy_says_precisely_what_is_wrong() {
        assert_eq!(
            message("Short1!"),
            "must be at least 12 characters long (it has 7)"
        );
        assert_eq!(
            message(&"Ab1".repeat(43)),
            "must be at most 128 characters long (it has 129)"
        );
        assert!(message("alllowercaseletters").starts_with("must mix at least two kinds"));
        assert!(message("123456789012345").starts_with("must mix at least two kinds"));
        assert_eq!(message("ana@example.com"), "must not be your email address");
        assert_eq!(message("ANA@EXAMPLE.COM"), "must not be your email address");
        assert_eq!(
            message("Password1234"),
            "is one of the most common passwords; choose another"
        );
        let err = check_policy("password", "short", "a@b.co").expect_err("short");
        assert_eq!(err.code, innkeeper_kernel::ErrorCode::ValidationFailed);
        assert_eq!(err.errors[0].field, "password");
    }

    #[test]
    fn good_passwords_pass() {
        for ok in [
            "correct horse battery staple",
            "Tr0ub4dor&3xyz",
            "ünïcödé Pässwörd",
            &"aB".repeat(64),
        ] {
            check_policy("password", ok, "ana@example.com").expect(ok);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_verifications_queues_for_turns_and_completes() {
        let hash = hash("correct horse battery staple".into())
            .await
            .expect("hash");
        let burst = max_concurrent_hashes() * 3;
        let tasks: Vec<_> = (0..burst)
            .map(|_| {
                let hash = hash.clone();
                tokio::spawn(async move { verify("wrong".into(), Some(hash)).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("task"), Ok(false));
        }
    }

    #[tokio::test]
    async fn hashes_use_owasp_parameters_and_verify() {
        let hash = hash("correct horse battery staple".into())
            .await
            .expect("hashed");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            verify("correct horse battery staple".into(), Some(hash.clone()))
                .await
                .expect("verified")
        );
        assert!(
            !verify("wrong horse battery staple".into(), Some(hash))
                .await
                .expect("verified")
        );
        assert!(!verify("anything".into(), None).await.expect("decoy"));
        assert!(
            !verify("anything".into(), Some("not a hash".into()))
                .await
                .expect("malformed")
        );
    }
}
