//! The caller's credential, travelling with a request like its trace context.
//!
//! The gateway verifies the bearer token of a request and then runs the rest of the request
//! inside [`scope`]; a gRPC client acting for the caller reads [`current`] and sends the
//! original token on (`authorization` metadata), and the service at the other end verifies it
//! again (from its verifier's cache when it has seen the token lately). A local (in-process)
//! call needs nothing: the verified principal is passed as is, and nothing verifies it twice.
//! Work detached from the request (spawned tasks, sagas) has no credential and must act under
//! its own identity.

use std::future::Future;
use std::sync::Arc;

tokio::task_local! {
    static CREDENTIAL: Arc<str>;
}

/// Runs `future` with `token` as the caller's credential.
pub async fn scope<F: Future>(token: impl Into<Arc<str>>, future: F) -> F::Output {
    CREDENTIAL.scope(token.into(), future).await
}

/// The credential of the request being served, if any.
pub fn current() -> Option<Arc<str>> {
    CREDENTIAL.try_with(Arc::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_credential_is_visible_inside_the_scope_only() {
        assert_eq!(current(), None);
        let seen = scope("token-1", async { current() }).await;
        assert_eq!(seen.as_deref(), Some("token-1"));
        assert_eq!(current(), None);
    }
}
