//! The remote client: [`BookingApi`] over a gRPC channel.
//!
//! Every call goes through [`BookingGrpcClient::exchange`] (the deadline, the trace context, the
//! caller's forwarded access token), then [`BookingGrpcClient::call`] (every failure mapped by
//! [`error_from_status_of`]) or, for changes, [`BookingGrpcClient::keyed`], which also reads
//! whether the answer was a stored one: `replayed` of the reply, or [`REPLAYED_METADATA`] on an
//! error status. So it returns the same values, the same errors and the same
//! [`Idempotent::replayed`] as the in-process service.
//!
//! Every call acts for a caller and sends the caller's original access token, taken from
//! `innkeeper_platform::auth::credential::current` (the gateway runs each request inside
//! `credential::scope`); outside such a scope it goes out without one and the booking service
//! answers `unauthenticated`. The `caller` argument itself is never sent: the service believes
//! only the token.

use std::future::Future;

use innkeeper_kernel::{Error, ErrorCode, Page, Principal, Result, RoomId, RoomTypeId};
use innkeeper_platform::grpc::{error_from_status_of, forward_credential};
use innkeeper_platform::resilience::{Downstream, Idempotency, ResilienceConfig};
use innkeeper_proto::booking::v1 as pb;
use pb::booking_service_client::BookingServiceClient;
use tonic::Status;
use tonic::transport::Channel;

use super::messages::key_to_proto;
use super::wire::{At, Wire, list, opt_proto, required};
use super::{MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, REPLAYED_METADATA};
use crate::api::{
    Booking, BookingApi, BookingId, BookingPatch, BookingQuery, HistoryEntry, IdempotencyKey,
    Idempotent, NewBooking,
};

/// How errors name the service when the transport fails ("booking unavailable").
const SERVICE: &str = "booking";

/// The generated client over a channel.
type Client = BookingServiceClient<Channel>;

/// The booking service reached over gRPC. Wrap it in a `BookingClient` like the in-process
/// service: `BookingClient::new(Arc::new(BookingGrpcClient::connect(endpoint, calls).await?))`.
#[derive(Debug, Clone)]
pub struct BookingGrpcClient {
    client: Client,
    /// Deadlines, retries of idempotent calls, the circuit breaker (downstream `booking`).
    downstream: Downstream,
}

impl BookingGrpcClient {
    /// A client over `channel`, calling as `calls` says (`[booking.calls]`): each attempt and
    /// the whole call within their deadlines; reads, and changes that carry an idempotency
    /// key, retried on `unavailable`; changes without a key tried once. A booking service that
    /// keeps failing opens the circuit breaker, and calls fail fast until a probe succeeds.
    pub fn new(channel: Channel, calls: ResilienceConfig) -> Self {
        let client = BookingServiceClient::new(channel)
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
            .max_encoding_message_size(MAX_REQUEST_BYTES);
        Self {
            client,
            downstream: Downstream::new(SERVICE, calls),
        }
    }

    /// A client of the booking service at `endpoint` (`http://host:port`, or `host:port`).
    ///
    /// Connects lazily: a booking service that is down yet fails each call with `unavailable`,
    /// not the start-up, and the channel reconnects by itself when it comes back.
    pub async fn connect(endpoint: &str, calls: ResilienceConfig) -> anyhow::Result<Self> {
        let channel =
            innkeeper_platform::grpc::lazy_channel("booking", endpoint, calls.attempt_timeout())?;
        Ok(Self::new(channel, calls))
    }

    /// Runs one attempt of an RPC: the attempt's deadline (on the request, and around the whole
    /// call, which also bounds connecting), the trace context, the credential of the request
    /// being served. The outer error is a request that could not be built; the inner one the
    /// status the call ended with.
    async fn exchange<Req, Resp, F, Fut>(
        &self,
        message: Req,
        rpc: F,
    ) -> Result<std::result::Result<Resp, Status>>
    where
        F: FnOnce(Client, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<Resp>, Status>>,
    {
        let timeout = self.downstream.config().attempt_timeout();
        let mut request = tonic::Request::new(message);
        request.set_timeout(timeout);
        innkeeper_platform::grpc::inject_trace_context(request.metadata_mut());
        forward_credential(request.metadata_mut())?;
        Ok(
            match tokio::time::timeout(timeout, rpc(self.client.clone(), request)).await {
                Ok(Ok(response)) => Ok(response.into_inner()),
                Ok(Err(status)) => Err(status),
                Err(_) => Err(Status::deadline_exceeded("client deadline passed")),
            },
        )
    }

    /// Runs one read through the resilience layer and maps every failure to the booking
    /// service's [`Error`].
    async fn call<Req, Resp, F, Fut>(&self, message: Req, rpc: F) -> Result<Resp>
    where
        Req: Clone,
        F: Fn(Client, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<Resp>, Status>>,
    {
        let (message, rpc) = (&message, &rpc);
        self.downstream
            .call(Idempotency::Safe, || async move {
                self.exchange(message.clone(), rpc)
                    .await?
                    .map_err(|status| error_from_status_of(SERVICE, &status))
            })
            .await
    }

    /// Runs one change and gives its answer as the service gave it, stored answers marked.
    /// With an idempotency key it is retried like a read (the service runs it once per key);
    /// without one it is tried once. The service's own answers (`sold_out`, a replayed
    /// error) pass through the breaker as answers; only a failing service counts against it.
    async fn keyed<Req, F, Fut>(&self, keyed: bool, message: Req, rpc: F) -> Idempotent<Booking>
    where
        Req: Clone,
        F: Fn(Client, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<pb::BookingReply>, Status>>,
    {
        let idempotency = if keyed {
            Idempotency::Safe
        } else {
            Idempotency::Unsafe
        };
        let (message, rpc) = (&message, &rpc);
        let exchanged = self
            .downstream
            .call(idempotency, || async move {
                match self.exchange(message.clone(), rpc).await? {
                    Err(status) if !replayed(&status) && is_failure(&status) => {
                        Err(error_from_status_of(SERVICE, &status))
                    }
                    answer => Ok(answer),
                }
            })
            .await;
        match exchanged {
            Err(err) => Idempotent::fresh(Err(err)),
            Ok(Ok(reply)) => Idempotent {
                result: required(&At::ROOT, "booking", reply.booking).map_err(malformed),
                replayed: reply.replayed,
            },
            Ok(Err(status)) => Idempotent {
                result: Err(error_from_status_of(SERVICE, &status)),
                replayed: replayed(&status),
            },
        }
    }
}

/// Whether a status is a stored answer the service replayed.
fn replayed(status: &Status) -> bool {
    status
        .metadata()
        .get(REPLAYED_METADATA)
        .is_some_and(|value| value == "true")
}

/// Whether a status says the service failed (rather than answered): what the breaker counts.
fn is_failure(status: &Status) -> bool {
    matches!(
        error_from_status_of(SERVICE, status).code,
        ErrorCode::Unavailable | ErrorCode::Timeout | ErrorCode::Internal
    )
}

/// Decodes a response; a malformed one is the booking service's fault, not the caller's.
fn decode<T: Wire>(proto: T::Proto) -> Result<T> {
    T::from_proto(proto, &At::ROOT).map_err(malformed)
}

fn malformed(error: Error) -> Error {
    Error::internal(format!(
        "the booking service sent a malformed response: {error}"
    ))
}

#[async_trait::async_trait]
impl BookingApi for BookingGrpcClient {
    async fn create(
        &self,
        _caller: &Principal,
        booking: NewBooking,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking> {
        let req = pb::CreateBookingRequest {
            booking: Some(booking.to_proto()),
            idempotency_key: key_to_proto(key.as_ref()),
        };
        self.keyed(req.idempotency_key.is_some(), req, |mut c, r| async move {
            c.create_booking(r).await
        })
        .await
    }

    async fn get(&self, _caller: &Principal, id: BookingId) -> Result<Booking> {
        let req = pb::GetBookingRequest { id: id.to_proto() };
        decode(
            self.call(req, |mut c, r| async move { c.get_booking(r).await })
                .await?,
        )
    }

    async fn get_by_reference(&self, _caller: &Principal, reference: &str) -> Result<Booking> {
        let req = pb::GetBookingByReferenceRequest {
            reference: reference.to_owned(),
        };
        decode(
            self.call(req, |mut c, r| async move {
                c.get_booking_by_reference(r).await
            })
            .await?,
        )
    }

    async fn cancel(
        &self,
        _caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        reason: Option<String>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking> {
        let req = pb::CancelBookingRequest {
            id: id.to_proto(),
            if_match,
            reason,
            idempotency_key: key_to_proto(key.as_ref()),
        };
        self.keyed(req.idempotency_key.is_some(), req, |mut c, r| async move {
            c.cancel_booking(r).await
        })
        .await
    }

    async fn modify(
        &self,
        _caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        patch: BookingPatch,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking> {
        let req = pb::ModifyBookingRequest {
            id: id.to_proto(),
            if_match,
            patch: Some(patch.to_proto()),
            idempotency_key: key_to_proto(key.as_ref()),
        };
        self.keyed(req.idempotency_key.is_some(), req, |mut c, r| async move {
            c.modify_booking(r).await
        })
        .await
    }

    async fn upgrade(
        &self,
        _caller: &Principal,
        id: BookingId,
        room_type_id: RoomTypeId,
        if_match: Option<i64>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking> {
        let req = pb::UpgradeBookingRequest {
            id: id.to_proto(),
            room_type_id: room_type_id.to_proto(),
            if_match,
            idempotency_key: key_to_proto(key.as_ref()),
        };
        self.keyed(req.idempotency_key.is_some(), req, |mut c, r| async move {
            c.upgrade_booking(r).await
        })
        .await
    }

    async fn check_in(
        &self,
        _caller: &Principal,
        id: BookingId,
        room_id: Option<RoomId>,
        if_match: Option<i64>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking> {
        let req = pb::CheckInRequest {
            id: id.to_proto(),
            room_id: opt_proto(room_id.as_ref()),
            if_match,
            idempotency_key: key_to_proto(key.as_ref()),
        };
        self.keyed(req.idempotency_key.is_some(), req, |mut c, r| async move {
            c.check_in(r).await
        })
        .await
    }

    async fn check_out(
        &self,
        _caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking> {
        let req = pb::CheckOutRequest {
            id: id.to_proto(),
            if_match,
            idempotency_key: key_to_proto(key.as_ref()),
        };
        self.keyed(req.idempotency_key.is_some(), req, |mut c, r| async move {
            c.check_out(r).await
        })
        .await
    }

    async fn no_show(
        &self,
        _caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        key: Option<IdempotencyKey>,
    ) -> Idempotent<Booking> {
        let req = pb::NoShowRequest {
            id: id.to_proto(),
            if_match,
            idempotency_key: key_to_proto(key.as_ref()),
        };
        self.keyed(req.idempotency_key.is_some(), req, |mut c, r| async move {
            c.no_show(r).await
        })
        .await
    }

    async fn list(&self, _caller: &Principal, query: BookingQuery) -> Result<Page<Booking>> {
        let resp = self
            .call(query.to_proto(), |mut c, r| async move {
                c.list_bookings(r).await
            })
            .await?;
        super::messages::page_from_proto(resp, &At::ROOT).map_err(malformed)
    }

    async fn history(&self, _caller: &Principal, id: BookingId) -> Result<Vec<HistoryEntry>> {
        let req = pb::GetHistoryRequest { id: id.to_proto() };
        let resp = self
            .call(req, |mut c, r| async move { c.get_history(r).await })
            .await?;
        list(&At::ROOT, "entries", resp.entries).map_err(malformed)
    }
}
