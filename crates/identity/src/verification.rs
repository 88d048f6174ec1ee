//! Identity's published keys as a token verifier's key source, for every process: in-process
//! or over gRPC, the verifier cannot tell.

use std::sync::Arc;

use innkeeper_kernel::{Error, Result};
use innkeeper_platform::auth::{FnKeySource, KeySource, lenient_jwk_set};
use jsonwebtoken::jwk::JwkSet;

use crate::api::{IdentityApi, IdentityClient};

/// The keys identity publishes now, in the verifier's form.
pub async fn published_keys(identity: &dyn IdentityApi) -> Result<JwkSet> {
    let keys = identity.jwks().await?;
    let value = serde_json::to_value(&keys).map_err(|e| Error::internal(format!("JWKS: {e}")))?;
    Ok(lenient_jwk_set(&value))
}

/// A key source asking `identity` (local or remote) on every fetch.
pub fn key_source(identity: IdentityClient) -> Arc<dyn KeySource> {
    Arc::new(FnKeySource::new(move || {
        let identity = identity.clone();
        async move { published_keys(&*identity).await }
    }))
}
