//! A service's own credential: the access token a platform service presents when it acts on
//! its own behalf rather than for the person whose request it serves.
//!
//! The booking saga places, confirms and releases the catalog's holds. Over gRPC those calls
//! must prove they come from the booking service (a guest's token must not be able to place a
//! hold directly, and the saga's consumers run detached from any request). A service obtains a
//! short-lived token from the identity service by presenting the platform's shared
//! `auth.service_secret` (an OAuth2 client-credentials grant in spirit); the token has role
//! `service` and the service's fixed principal (`Principal::service`), is verified by the
//! callee like any other token, and is refused at the public REST edge.
//!
//! [`ServiceCredential`] keeps the current token and renews it when two thirds of its lifetime
//! have passed, one renewal at a time however many calls need it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use innkeeper_kernel::{Error, ErrorCode, Result};

/// A token issued to a service.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedServiceToken {
    /// The signed access token.
    pub access_token: String,
    /// How long it is valid from now.
    pub expires_in: Duration,
}

impl std::fmt::Debug for IssuedServiceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedServiceToken")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Who issues service tokens: the identity service (in-process or over gRPC).
#[async_trait::async_trait]
pub trait ServiceTokenIssuer: Send + Sync + 'static {
    /// A token for `service`, if `secret` is the platform's service secret;
    /// `unauthenticated` otherwise.
    async fn issue_service_token(&self, service: &str, secret: &str) -> Result<IssuedServiceToken>;
}

struct Cached {
    token: Arc<str>,
    renew_at: Instant,
}

/// The credential of one service: a token from the issuer, renewed before it expires.
pub struct ServiceCredential {
    service: String,
    secret: String,
    issuer: Arc<dyn ServiceTokenIssuer>,
    current: tokio::sync::Mutex<Option<Cached>>,
}

impl std::fmt::Debug for ServiceCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCredential")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl ServiceCredential {
    /// The credential of `service`, obtained from `issuer` with `secret`. An empty secret is a
    /// configuration error naming `auth.service_secret`.
    pub fn new(
        service: &str,
        secret: &str,
        issuer: Arc<dyn ServiceTokenIssuer>,
    ) -> Result<Arc<Self>> {
        if secret.is_empty() {
            return Err(Error::invalid_field(
                "auth.service_secret",
                format!(
                    "must be set: the {service} service calls other services over gRPC under \
                     its own identity"
                ),
            ));
        }
        Ok(Arc::new(Self {
            service: service.to_owned(),
            secret: secret.to_owned(),
            issuer,
            current: tokio::sync::Mutex::new(None),
        }))
    }

    /// The service this credential is for.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The current token, asking the issuer for a new one when there is none yet or two
    /// thirds of its lifetime have passed. An issuer that cannot be reached is `unavailable`.
    pub async fn token(&self) -> Result<Arc<str>> {
        let mut current = self.current.lock().await;
        if let Some(cached) = current.as_ref()
            && Instant::now() < cached.renew_at
        {
            return Ok(cached.token.clone());
        }
        let issued = self
            .issuer
            .issue_service_token(&self.service, &self.secret)
            .await
            .map_err(|e| {
                tracing::warn!(service = %self.service, error = %e, "obtaining a service token failed");
                match e.code {
                    ErrorCode::Unavailable | ErrorCode::Internal => e,
                    _ => Error::new(
                        ErrorCode::Unavailable,
                        format!("the {} service could not obtain its service token", self.service),
                    ),
                }
            })?;
        let token: Arc<str> = issued.access_token.into();
        *current = Some(Cached {
            token: token.clone(),
            renew_at: Instant::now() + issued.expires_in * 2 / 3,
        });
        Ok(token)
    }

    /// Forgets the current token (a callee refused it, e.g. after a key was withdrawn), so the
    /// next call asks for a new one.
    pub async fn invalidate(&self) {
        *self.current.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    struct Counting {
        issued: AtomicU32,
        ttl: Duration,
    }

    #[async_trait::async_trait]
    impl ServiceTokenIssuer for Counting {
        async fn issue_service_token(
            &self,
            service: &str,
            secret: &str,
        ) -> Result<IssuedServiceToken> {
            if secret != "s3cret" {
                return Err(Error::new(ErrorCode::Unauthenticated, "wrong secret"));
            }
            tokio::task::yield_now().await;
            let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(IssuedServiceToken {
                access_token: format!("{service}-{n}"),
                expires_in: self.ttl,
            })
        }
    }

    fn issuer(ttl: Duration) -> Arc<Counting> {
        Arc::new(Counting {
            issued: AtomicU32::new(0),
            ttl,
        })
    }

    #[tokio::test]
    async fn one_token_serves_every_call_until_it_is_due_for_renewal() {
        let issuer = issuer(Duration::from_secs(900));
        let credential = ServiceCredential::new("booking", "s3cret", issuer.clone()).expect("ok");
        let tokens = futures::future::join_all((0..16).map(|_| credential.token())).await;
        for token in tokens {
            assert_eq!(&*token.expect("ok"), "booking-1");
        }
        assert_eq!(issuer.issued.load(Ordering::SeqCst), 1);
        credential.invalidate().await;
        assert_eq!(&*credential.token().await.expect("ok"), "booking-2");
    }

    #[tokio::test]
    async fn a_token_is_renewed_after_two_thirds_of_its_life() {
        let issuer = issuer(Duration::from_millis(60));
        let credential = ServiceCredential::new("booking", "s3cret", issuer.clone()).expect("ok");
        assert_eq!(&*credential.token().await.expect("ok"), "booking-1");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(&*credential.token().await.expect("ok"), "booking-2");
    }

    #[tokio::test]
    async fn a_refused_secret_is_unavailable_to_the_caller_and_an_empty_one_is_a_config_error() {
        let wrong =
            ServiceCredential::new("booking", "guess", issuer(Duration::from_secs(9))).expect("ok");
        let error = wrong.token().await.expect_err("refused");
        assert_eq!(error.code, ErrorCode::Unavailable);
        assert!(error.message.contains("booking"), "{error}");

        let error = ServiceCredential::new("booking", "", issuer(Duration::from_secs(9)))
            .expect_err("refused");
        assert_eq!(error.errors[0].field, "auth.service_secret");
    }
}
