//! The remote client: [`PaymentApi`] over a gRPC channel.
//!
//! Every call goes through [`PaymentGrpcClient::call`]: the resilience layer
//! (`innkeeper_platform::resilience`, downstream `payment`: a deadline per attempt and on the
//! whole call, retries on `unavailable` within a retry budget, a circuit breaker that fails
//! calls fast while the payment service is down), the trace context, the caller's credential,
//! and every failure mapped by [`error_from_status_of`], so it returns the same values and the
//! same errors as the in-process service. Every call of the contract may be repeated without a
//! second effect (an intent per booking, a refund per booking and key, a webhook per id), so
//! every call is retried.
//!
//! The `caller` argument itself is never sent: the service believes only the token. A call
//! made as a platform service (the booking service opening a booking's payment) goes out under
//! the node's service credential ([`PaymentGrpcClient::with_service_credential`]); a call made
//! for a person (the gateway showing a guest their payment) sends that person's original
//! access token, taken from `innkeeper_platform::auth::credential::current` (the gateway runs
//! each request inside `credential::scope`). A webhook delivery carries no token: its
//! signature is its authentication.

use std::future::Future;
use std::sync::Arc;

use innkeeper_kernel::{Error, ErrorCode, Money, Principal, Result};
use innkeeper_platform::auth::ServiceCredential;
use innkeeper_platform::grpc::{error_from_status_of, forward_credential, insert_bearer};
use innkeeper_platform::resilience::{BreakerState, Downstream, Idempotency, ResilienceConfig};
use innkeeper_proto::payment::v1 as pb;
use pb::payment_service_client::PaymentServiceClient;
use tonic::Status;
use tonic::transport::Channel;
use uuid::Uuid;

use super::messages::{At, Wire, headers_to_proto, uuid_to_proto};
use super::{MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use crate::api::{Intent, NewIntent, PaymentApi, PaymentId, RefundRecord, WebhookOutcome};

/// How errors name the service when the transport fails ("payment unavailable"), and the
/// downstream's metrics label.
const SERVICE: &str = "payment";

/// The generated client over a channel.
type Client = PaymentServiceClient<Channel>;

/// Whose credential a call carries.
#[derive(Clone, Copy)]
enum As<'a> {
    /// The caller's: the node's service credential for a platform service, else the token of
    /// the request being served.
    Caller(&'a Principal),
    /// None (a webhook delivery, authenticated by its signature).
    Nobody,
}

/// The payment service reached over gRPC. Wrap it in a `PaymentClient` like the in-process
/// service: `PaymentClient::new(Arc::new(PaymentGrpcClient::connect(endpoint, calls).await?))`.
#[derive(Debug, Clone)]
pub struct PaymentGrpcClient {
    client: Client,
    /// The token calls made as a platform service go under (the booking service's identity).
    service: Option<Arc<ServiceCredential>>,
    /// Deadlines, retries, the circuit breaker (downstream `payment`).
    downstream: Downstream,
}

impl PaymentGrpcClient {
    /// A client over `channel`, calling as `calls` says (`[payment.calls]`): each attempt and
    /// the whole call, retries included, within their deadlines. A payment service that keeps
    /// failing opens the circuit breaker, and calls then fail fast until a probe succeeds.
    pub fn new(channel: Channel, calls: ResilienceConfig) -> Self {
        let client = PaymentServiceClient::new(channel)
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
            .max_encoding_message_size(MAX_REQUEST_BYTES);
        Self {
            client,
            service: None,
            downstream: Downstream::new(SERVICE, calls),
        }
    }

    /// The circuit breaker's state (for tests and readiness).
    pub fn breaker_state(&self) -> BreakerState {
        self.downstream.state()
    }

    /// Makes calls whose caller is a platform service under `credential`: the payment service
    /// takes intents and refunds only from one. Without it they are `unauthenticated`.
    pub fn with_service_credential(mut self, credential: Arc<ServiceCredential>) -> Self {
        self.service = Some(credential);
        self
    }

    /// A client of the payment service at `endpoint` (`http://host:port`, or `host:port`).
    ///
    /// Connects lazily: a payment service that is down yet fails each call with
    /// `unavailable`, not the start-up, and the channel reconnects by itself when it comes
    /// back.
    pub async fn connect(endpoint: &str, calls: ResilienceConfig) -> anyhow::Result<Self> {
        let channel =
            innkeeper_platform::grpc::lazy_channel(SERVICE, endpoint, calls.attempt_timeout())?;
        Ok(Self::new(channel, calls))
    }

    /// Builds one attempt's request: the attempt's deadline, the trace context and the credential.
    /// Answers the service credential used, if any, so a refused token can be renewed.
    async fn request<T>(
        &self,
        who: As<'_>,
        message: T,
    ) -> Result<(tonic::Request<T>, Option<&Arc<ServiceCredential>>)> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.downstream.config().attempt_timeout());
        innkeeper_platform::grpc::inject_trace_context(request.metadata_mut());
        let service = match who {
            As::Caller(caller) if caller.is_service() => {
                let Some(credential) = &self.service else {
                    return Err(Error::new(
                        ErrorCode::Unauthenticated,
                        "calls to the payment service as a platform service need a service \
                         credential, and this node has none",
                    ));
                };
                insert_bearer(request.metadata_mut(), &credential.token().await?)?;
                Some(credential)
            }
            As::Caller(_) => {
                forward_credential(request.metadata_mut())?;
                None
            }
            As::Nobody => None,
        };
        Ok((request, service))
    }

    /// Runs one RPC through the resilience layer and maps every failure to the payment
    /// service's [`Error`]. A service token the payment service refuses (say, its key was
    /// withdrawn) is forgotten and the attempt made once more with a fresh one.
    async fn call<Req, Resp, F, Fut>(&self, who: As<'_>, message: Req, rpc: F) -> Result<Resp>
    where
        Req: Clone,
        F: Fn(Client, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<Resp>, Status>>,
    {
        let (message, rpc) = (&message, &rpc);
        self.downstream
            .call(Idempotency::Safe, || async move {
                let mut renewed = false;
                loop {
                    let (request, service) = self.request(who, message.clone()).await?;
                    match rpc(self.client.clone(), request).await {
                        Ok(response) => return Ok(response.into_inner()),
                        Err(status) => match service {
                            Some(credential)
                                if status.code() == tonic::Code::Unauthenticated && !renewed =>
                            {
                                credential.invalidate().await;
                                renewed = true;
                            }
                            _ => return Err(error_from_status_of(SERVICE, &status)),
                        },
                    }
                }
            })
            .await
    }
}

/// Decodes a response; a malformed one is the payment service's fault, not the caller's.
fn decode<T: Wire>(proto: T::Proto) -> Result<T> {
    T::from_proto(proto, &At::ROOT).map_err(malformed)
}

fn malformed(error: Error) -> Error {
    Error::internal(format!(
        "the payment service sent a malformed response: {error}"
    ))
}

#[async_trait::async_trait]
impl PaymentApi for PaymentGrpcClient {
    async fn create_intent(&self, caller: &Principal, intent: NewIntent) -> Result<Intent> {
        let req = pb::CreateIntentRequest {
            intent: Some(intent.to_proto()),
        };
        decode(
            self.call(As::Caller(caller), req, |mut c, r| async move {
                c.create_intent(r).await
            })
            .await?,
        )
    }

    async fn get(&self, caller: &Principal, id: PaymentId) -> Result<Intent> {
        let req = pb::GetPaymentRequest { id: id.to_proto() };
        decode(
            self.call(As::Caller(caller), req, |mut c, r| async move {
                c.get_payment(r).await
            })
            .await?,
        )
    }

    async fn get_for_booking(&self, caller: &Principal, booking_id: Uuid) -> Result<Intent> {
        let req = pb::GetPaymentForBookingRequest {
            booking_id: uuid_to_proto(booking_id),
        };
        decode(
            self.call(As::Caller(caller), req, |mut c, r| async move {
                c.get_payment_for_booking(r).await
            })
            .await?,
        )
    }

    async fn refund(
        &self,
        caller: &Principal,
        booking_id: Uuid,
        amount: Money,
        reason: &str,
        key: &str,
    ) -> Result<RefundRecord> {
        let req = pb::RefundRequest {
            booking_id: uuid_to_proto(booking_id),
            amount: Some(amount.to_proto()),
            reason: reason.to_owned(),
            key: key.to_owned(),
        };
        decode(
            self.call(As::Caller(caller), req, |mut c, r| async move {
                c.refund(r).await
            })
            .await?,
        )
    }

    async fn handle_webhook(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookOutcome> {
        let req = pb::HandleWebhookRequest {
            headers: headers_to_proto(headers),
            body: body.to_vec(),
        };
        let resp = self
            .call(As::Nobody, req, |mut c, r| async move {
                c.handle_webhook(r).await
            })
            .await?;
        WebhookOutcome::from_proto(resp.outcome, &At::Name("outcome")).map_err(malformed)
    }
}
