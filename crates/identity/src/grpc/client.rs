//! The remote client: [`IdentityApi`] over a gRPC channel.
//!
//! Every call goes through [`IdentityGrpcClient::call`] (the caller's forwarded access token,
//! the resilience layer's deadlines, retries of idempotent calls and circuit breaker, every
//! failure mapped by [`error_from_status_of`]), so it returns the same values and the same
//! errors as the in-process service.
//!
//! Calls that act for a caller send the caller's original access token, taken from
//! `innkeeper_platform::auth::credential::current` (the gateway runs each request inside
//! `credential::scope`); outside such a scope they go out without one and identity answers
//! `unauthenticated`.

use std::future::Future;

use innkeeper_kernel::{Error, Principal, Result};
use innkeeper_platform::grpc::{error_from_status_of, forward_credential};
use innkeeper_platform::resilience::{Downstream, Idempotency, ResilienceConfig};
use innkeeper_proto::identity::v1 as pb;
use pb::identity_service_client::IdentityServiceClient;
use tonic::Status;
use tonic::transport::Channel;

use super::MAX_MESSAGE_BYTES;
use super::convert::*;
use crate::api::{
    IdentityApi, JwkSet, Login, Logout, OpenIdConfiguration, ProfilePatch, Refresh, Register,
    ServiceToken, ServiceTokenRequest, TokenPair, User,
};

/// How errors name the service when the transport fails ("identity unavailable").
const SERVICE: &str = "identity";

type Client = IdentityServiceClient<Channel>;

/// Identity reached over gRPC. Wrap it in an `IdentityClient` like the in-process service:
/// `IdentityClient::new(Arc::new(IdentityGrpcClient::connect(endpoint, calls).await?))`.
#[derive(Debug, Clone)]
pub struct IdentityGrpcClient {
    client: Client,
    /// Deadlines, retries of idempotent calls, the circuit breaker (downstream `identity`).
    downstream: Downstream,
}

impl IdentityGrpcClient {
    /// A client over `channel`, calling as `calls` says (`[identity.calls]`): each attempt and
    /// the whole call within their deadlines; reads (profiles, keys, discovery) retried on
    /// `unavailable`; logins, registrations and refreshes tried once (a refresh token is spent
    /// by its first use). An identity service that keeps failing opens the circuit breaker,
    /// and calls fail fast until a probe succeeds.
    pub fn new(channel: Channel, calls: ResilienceConfig) -> Self {
        let client = IdentityServiceClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Self {
            client,
            downstream: Downstream::new(SERVICE, calls),
        }
    }

    /// A client of identity at `endpoint` (`http://host:port`, or `host:port`). Connects
    /// lazily: while identity is down each call fails with `unavailable`.
    pub async fn connect(endpoint: &str, calls: ResilienceConfig) -> anyhow::Result<Self> {
        let channel =
            innkeeper_platform::grpc::lazy_channel("identity", endpoint, calls.attempt_timeout())?;
        Ok(Self::new(channel, calls))
    }

    /// Runs one RPC under the deadline and maps every failure to identity's [`Error`]. A call
    /// that acts for a caller carries the caller's own access token (the credential of the
    /// request being served), which identity verifies again; the `caller` argument itself is
    /// never sent.
    async fn call<Req, Resp, F, Fut>(
        &self,
        idempotency: Idempotency,
        caller: Option<&Principal>,
        message: Req,
        rpc: F,
    ) -> Result<Resp>
    where
        Req: Clone,
        F: Fn(Client, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<Resp>, Status>>,
    {
        let (message, rpc) = (&message, &rpc);
        self.downstream
            .call(idempotency, || async move {
                let mut request = tonic::Request::new(message.clone());
                request.set_timeout(self.downstream.config().attempt_timeout());
                innkeeper_platform::grpc::inject_trace_context(request.metadata_mut());
                if caller.is_some() {
                    forward_credential(request.metadata_mut())?;
                }
                rpc(self.client.clone(), request)
                    .await
                    .map(tonic::Response::into_inner)
                    .map_err(|status| error_from_status_of(SERVICE, &status))
            })
            .await
    }
}

/// A response that does not decode is identity's fault, not the caller's.
fn malformed(error: Error) -> Error {
    Error::internal(format!("identity sent a malformed response: {error}"))
}

#[async_trait::async_trait]
impl IdentityApi for IdentityGrpcClient {
    async fn register(&self, request: Register) -> Result<User> {
        let req = pb::RegisterRequest {
            email: request.email,
            password: request.password,
            name: request.name,
            role: register_role_to_proto(request.role).into(),
        };
        let user = self
            .call(Idempotency::Unsafe, None, req, |mut c, r| async move {
                c.register(r).await
            })
            .await?;
        user_from_proto(user).map_err(malformed)
    }

    async fn login(&self, request: Login) -> Result<TokenPair> {
        let req = pb::LoginRequest {
            email: request.email,
            password: request.password,
        };
        self.call(Idempotency::Unsafe, None, req, |mut c, r| async move {
            c.login(r).await
        })
        .await
        .map(pair_from_proto)
    }

    async fn refresh(&self, request: Refresh) -> Result<TokenPair> {
        let req = pb::RefreshRequest {
            refresh_token: request.refresh_token,
        };
        self.call(Idempotency::Unsafe, None, req, |mut c, r| async move {
            c.refresh(r).await
        })
        .await
        .map(pair_from_proto)
    }

    async fn logout(&self, caller: &Principal, request: Logout) -> Result<()> {
        let req = pb::LogoutRequest {
            refresh_token: request.refresh_token,
        };
        self.call(
            Idempotency::Safe,
            Some(caller),
            req,
            |mut c, r| async move { c.logout(r).await },
        )
        .await
        .map(drop)
    }

    async fn me(&self, caller: &Principal) -> Result<User> {
        let user = self
            .call(
                Idempotency::Safe,
                Some(caller),
                pb::GetMeRequest {},
                |mut c, r| async move { c.get_me(r).await },
            )
            .await?;
        user_from_proto(user).map_err(malformed)
    }

    async fn update_me(
        &self,
        caller: &Principal,
        if_match: i64,
        patch: ProfilePatch,
    ) -> Result<User> {
        let req = pb::UpdateMeRequest {
            if_match,
            patch: Some(patch_to_proto(patch)),
        };
        let user = self
            .call(
                Idempotency::Unsafe,
                Some(caller),
                req,
                |mut c, r| async move { c.update_me(r).await },
            )
            .await?;
        user_from_proto(user).map_err(malformed)
    }

    async fn jwks(&self) -> Result<JwkSet> {
        self.call(
            Idempotency::Safe,
            None,
            pb::GetJwksRequest {},
            |mut c, r| async move { c.get_jwks(r).await },
        )
        .await
        .map(jwks_from_proto)
    }

    async fn openid_configuration(&self) -> Result<OpenIdConfiguration> {
        self.call(
            Idempotency::Safe,
            None,
            pb::GetOpenIdConfigurationRequest {},
            |mut c, r| async move { c.get_open_id_configuration(r).await },
        )
        .await
        .map(openid_from_proto)
    }

    async fn issue_service_token(&self, request: ServiceTokenRequest) -> Result<ServiceToken> {
        let request = pb::IssueServiceTokenRequest {
            service: request.service,
            secret: request.secret,
        };
        self.call(Idempotency::Safe, None, request, |mut c, r| async move {
            c.issue_service_token(r).await
        })
        .await
        .map(|token| ServiceToken {
            access_token: token.access_token,
            expires_in: token.expires_in,
        })
    }
}
