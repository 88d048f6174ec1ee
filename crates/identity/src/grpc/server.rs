//! The server adapter: decode the request, call the [`IdentityApi`], encode the answer.
//!
//! Calls about the caller (logout, me) take it only from the access token the request carries
//! (`authorization: Bearer`), verified here again with the node's [`Verifier`]: without a
//! token, or with one that does not verify, they fail with `unauthenticated`. Register, login,
//! refresh and the key documents need no token. Every error goes back through
//! [`status_from_error`], so the remote client rebuilds it exactly.

use std::sync::Arc;

use innkeeper_kernel::{Principal, Result};
use innkeeper_platform::auth::Verifier;
use innkeeper_platform::grpc::{Reply, reply, verified_caller};
use innkeeper_proto::identity::v1 as pb;
use pb::identity_service_server::{IdentityService, IdentityServiceServer};
use tonic::Request;

use super::MAX_MESSAGE_BYTES;
use super::convert::*;
use crate::api::{IdentityApi, Login, Logout, Refresh, Register, ServiceTokenRequest};

/// Serves an [`IdentityApi`] (in practice the in-process `IdentityService`) over gRPC.
pub struct IdentityGrpcServer {
    api: Arc<dyn IdentityApi>,
    verifier: Arc<Verifier>,
}

impl IdentityGrpcServer {
    /// An adapter in front of `api`, verifying callers' tokens with `verifier`.
    pub fn new(api: Arc<dyn IdentityApi>, verifier: Arc<Verifier>) -> Self {
        Self { api, verifier }
    }

    /// The caller of the request (its verified token), and its message.
    async fn with_caller<T>(&self, request: Request<T>) -> Result<(Principal, T)> {
        let caller = verified_caller(&self.verifier, request.metadata()).await?;
        Ok((caller, request.into_inner()))
    }
}

impl std::fmt::Debug for IdentityGrpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityGrpcServer")
    }
}

/// The tonic service to add to a server: `Server::builder().add_service(service(api, verifier))`.
pub fn service(
    api: Arc<dyn IdentityApi>,
    verifier: Arc<Verifier>,
) -> IdentityServiceServer<IdentityGrpcServer> {
    IdentityServiceServer::new(IdentityGrpcServer::new(api, verifier))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

#[tonic::async_trait]
impl IdentityService for IdentityGrpcServer {
    async fn register(&self, request: Request<pb::RegisterRequest>) -> Reply<pb::User> {
        let req = request.into_inner();
        reply(
            async {
                let register = Register {
                    role: register_role_from_proto("role", req.role)?,
                    email: req.email,
                    password: req.password,
                    name: req.name,
                };
                Ok(user_to_proto(&self.api.register(register).await?))
            }
            .await,
        )
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> Reply<pb::TokenPair> {
        let req = request.into_inner();
        reply(
            self.api
                .login(Login {
                    email: req.email,
                    password: req.password,
                })
                .await
                .map(pair_to_proto),
        )
    }

    async fn refresh(&self, request: Request<pb::RefreshRequest>) -> Reply<pb::TokenPair> {
        let req = request.into_inner();
        reply(
            self.api
                .refresh(Refresh {
                    refresh_token: req.refresh_token,
                })
                .await
                .map(pair_to_proto),
        )
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> Reply<pb::LogoutResponse> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                self.api
                    .logout(
                        &caller,
                        Logout {
                            refresh_token: req.refresh_token,
                        },
                    )
                    .await?;
                Ok(pb::LogoutResponse {})
            }
            .await,
        )
    }

    async fn get_me(&self, request: Request<pb::GetMeRequest>) -> Reply<pb::User> {
        reply(
            async {
                let (caller, _) = self.with_caller(request).await?;
                Ok(user_to_proto(&self.api.me(&caller).await?))
            }
            .await,
        )
    }

    async fn update_me(&self, request: Request<pb::UpdateMeRequest>) -> Reply<pb::User> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                // An absent patch is an empty one, as proto3 readers expect.
                let patch = req.patch.map(patch_from_proto).unwrap_or_default();
                Ok(user_to_proto(
                    &self.api.update_me(&caller, req.if_match, patch).await?,
                ))
            }
            .await,
        )
    }

    async fn get_jwks(&self, _request: Request<pb::GetJwksRequest>) -> Reply<pb::JwkSet> {
        reply(self.api.jwks().await.map(jwks_to_proto))
    }

    async fn get_open_id_configuration(
        &self,
        _request: Request<pb::GetOpenIdConfigurationRequest>,
    ) -> Reply<pb::OpenIdConfiguration> {
        reply(self.api.openid_configuration().await.map(openid_to_proto))
    }

    async fn issue_service_token(
        &self,
        request: Request<pb::IssueServiceTokenRequest>,
    ) -> Reply<pb::ServiceToken> {
        let request = request.into_inner();
        let issued = self
            .api
            .issue_service_token(ServiceTokenRequest {
                service: request.service,
                secret: request.secret,
            })
            .await
            .map(|token| pb::ServiceToken {
                access_token: token.access_token,
                expires_in: token.expires_in,
            });
        reply(issued)
    }
}
