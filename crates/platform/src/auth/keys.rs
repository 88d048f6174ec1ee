//! Where an issuer's public keys come from: its JWKS over HTTP, or (in the embedded shape)
//! straight from the identity service through a function.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use innkeeper_kernel::{Error, Result};
use jsonwebtoken::jwk::{Jwk, JwkSet};

/// A source of an issuer's current public keys.
#[async_trait]
pub trait KeySource: Send + Sync + std::fmt::Debug {
    /// The keys published now. Failures are [`innkeeper_kernel::ErrorCode::Unavailable`].
    async fn fetch(&self) -> Result<JwkSet>;
}

/// Keys fetched with `GET` from a JWKS URL (`/.well-known/jwks.json`, Keycloak's `certs`).
///
/// `https://` URLs are verified with rustls (aws-lc-rs) against the platform's root
/// certificates, plus any CA certificates given for a private CA ([`Self::with_ca_pem`]).
/// Keys that do not parse (an unknown `kty`, an encryption key of a shape this library does not
/// know) are skipped, so one odd key does not hide the others.
#[derive(Debug, Clone)]
pub struct HttpKeySource {
    url: String,
    client: reqwest::Client,
}

impl HttpKeySource {
    /// A source reading `url` (`http://` or `https://`), giving up on a fetch after `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self> {
        Self::build(url, timeout, Vec::new())
    }

    /// A source reading `url` that also trusts the CA certificates of the PEM bundle `ca_pem`
    /// (besides the platform's roots). A bundle without a certificate is refused.
    pub fn with_ca_pem(url: &str, timeout: Duration, ca_pem: &[u8]) -> Result<Self> {
        let roots = reqwest::Certificate::from_pem_bundle(ca_pem)
            .map_err(|e| Error::invalid_field("ca_file", format!("is not a PEM bundle: {e}")))?;
        if roots.is_empty() {
            return Err(Error::invalid_field(
                "ca_file",
                "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            ));
        }
        Self::build(url, timeout, roots)
    }

    fn build(url: &str, timeout: Duration, roots: Vec<reqwest::Certificate>) -> Result<Self> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::invalid_field(
                "jwks_url",
                "must be an https:// (or http://) URL",
            ));
        }
        let client = roots
            .into_iter()
            .fold(reqwest::Client::builder(), |b, root| {
                b.add_root_certificate(root)
            })
            .timeout(timeout)
            .build()
            .map_err(|e| Error::unavailable(format!("cannot build the JWKS client: {e}")))?;
        Ok(Self {
            url: url.to_owned(),
            client,
        })
    }
}

#[async_trait]
impl KeySource for HttpKeySource {
    async fn fetch(&self) -> Result<JwkSet> {
        let unavailable =
            |e: &dyn std::fmt::Display| Error::unavailable(format!("keys at {}: {e}", self.url));
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        if !response.status().is_success() {
            return Err(unavailable(&format!("status {}", response.status())));
        }
        let body: serde_json::Value = response.json().await.map_err(|e| unavailable(&e))?;
        Ok(lenient_jwk_set(&body))
    }
}

/// The keys of a JWKS document that parse; the rest are skipped.
pub fn lenient_jwk_set(body: &serde_json::Value) -> JwkSet {
    let keys = body
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    JwkSet { keys }
}

/// Keys given by a function: the embedded shape, where the identity service runs in the same
/// process and hands its published keys over directly.
pub struct FnKeySource<F>(F);

impl<F> FnKeySource<F> {
    /// A source calling `f` on every fetch.
    pub fn new(f: F) -> Self {
        Self(f)
    }
}

impl<F> std::fmt::Debug for FnKeySource<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnKeySource")
    }
}

#[async_trait]
impl<F, Fut> KeySource for FnKeySource<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<JwkSet>> + Send,
{
    async fn fetch(&self) -> Result<JwkSet> {
        (self.0)().await
    }
}
