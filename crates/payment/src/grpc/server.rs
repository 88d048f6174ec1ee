//! The server adapter: decode the request, call the [`PaymentApi`], encode the answer.
//!
//! Every call but `HandleWebhook` acts for a caller, taken only from the access token the
//! request carries (`authorization: Bearer`), verified here again with the node's
//! [`Verifier`]: without a token, or with one that does not verify, a call fails with
//! `unauthenticated` before anything is decoded or run. Who may do what is the service's rule,
//! as in-process: creating intents and refunds take a platform service (the booking service's
//! credential) or an admin; a payment is shown to its guest, a service or an admin. A webhook
//! delivery is authenticated by its signature, which the service verifies, as on the HTTP
//! route. A request that cannot be decoded (a bad UUID, a missing amount) fails with
//! `validation_failed` naming the field. Every error goes back through [`status_from_error`],
//! so the remote client rebuilds it exactly.

use std::sync::Arc;

use innkeeper_kernel::{Principal, Result};
use innkeeper_platform::auth::Verifier;
use innkeeper_platform::grpc::{Reply, bearer_from_metadata, reply};
use innkeeper_proto::payment::v1 as pb;
use pb::payment_service_server::{PaymentService, PaymentServiceServer};
use tonic::Request;

use super::messages::{At, Wire, field, headers_from_proto, required, uuid_field};
use super::{MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use crate::api::PaymentApi;

/// Serves a [`PaymentApi`] (in practice the in-process `PaymentService`) over gRPC.
pub struct PaymentGrpcServer {
    api: Arc<dyn PaymentApi>,
    verifier: Arc<Verifier>,
}

impl PaymentGrpcServer {
    /// An adapter in front of `api`, verifying callers' tokens with `verifier`.
    pub fn new(api: Arc<dyn PaymentApi>, verifier: Arc<Verifier>) -> Self {
        Self { api, verifier }
    }

    /// The caller of the request (its verified token), and its message.
    async fn with_caller<T>(&self, request: Request<T>) -> Result<(Principal, T)> {
        let principal = self
            .verifier
            .verify(bearer_from_metadata(request.metadata())?)
            .await?;
        Ok((principal, request.into_inner()))
    }
}

impl std::fmt::Debug for PaymentGrpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PaymentGrpcServer")
    }
}

/// The tonic service to add to a server: `Server::builder().add_service(service(api, verifier))`.
pub fn service(
    api: Arc<dyn PaymentApi>,
    verifier: Arc<Verifier>,
) -> PaymentServiceServer<PaymentGrpcServer> {
    PaymentServiceServer::new(PaymentGrpcServer::new(api, verifier))
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES)
}

#[tonic::async_trait]
impl PaymentService for PaymentGrpcServer {
    async fn create_intent(&self, request: Request<pb::CreateIntentRequest>) -> Reply<pb::Intent> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let intent = required(&At::ROOT, "intent", req.intent)?;
                Ok(self.api.create_intent(&caller, intent).await?.to_proto())
            }
            .await,
        )
    }

    async fn get_payment(&self, request: Request<pb::GetPaymentRequest>) -> Reply<pb::Intent> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let id = field(&At::ROOT, "id", req.id)?;
                Ok(self.api.get(&caller, id).await?.to_proto())
            }
            .await,
        )
    }

    async fn get_payment_for_booking(
        &self,
        request: Request<pb::GetPaymentForBookingRequest>,
    ) -> Reply<pb::Intent> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let booking_id = uuid_field(&At::ROOT, "booking_id", &req.booking_id)?;
                Ok(self
                    .api
                    .get_for_booking(&caller, booking_id)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn refund(&self, request: Request<pb::RefundRequest>) -> Reply<pb::RefundRecord> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let booking_id = uuid_field(&At::ROOT, "booking_id", &req.booking_id)?;
                let amount = required(&At::ROOT, "amount", req.amount)?;
                Ok(self
                    .api
                    .refund(&caller, booking_id, amount, &req.reason, &req.key)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn handle_webhook(
        &self,
        request: Request<pb::HandleWebhookRequest>,
    ) -> Reply<pb::HandleWebhookResponse> {
        reply(
            async {
                // No caller: the delivery's signature is its authentication.
                let req = request.into_inner();
                let headers = headers_from_proto(&At::ROOT, req.headers)?;
                let outcome = self.api.handle_webhook(&headers, &req.body).await?;
                Ok(pb::HandleWebhookResponse {
                    outcome: outcome.to_proto(),
                })
            }
            .await,
        )
    }
}
