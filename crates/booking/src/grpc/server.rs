//! The server adapter: decode the request, call the [`BookingApi`], encode the answer.
//!
//! Every call acts for a caller, taken only from the access token the request carries
//! (`authorization: Bearer`), verified here again with the node's [`Verifier`]: without a token,
//! or with one that does not verify, a call fails with `unauthenticated` before anything is
//! decoded or run. The service then runs inside that token's [`credential::scope`], as the
//! gateway runs a request, so its own calls that act for the caller (the catalog's rooms at
//! check-in) carry the same token on to a remote catalog. A request that cannot be decoded (a bad UUID, date, enum or key) fails with
//! `validation_failed` naming the field. Every error goes back through [`status_from_error`], so
//! the remote client rebuilds it exactly; a stored error answered to a repeated idempotency key
//! also carries [`REPLAYED_METADATA`].

use std::future::Future;
use std::sync::Arc;

use innkeeper_kernel::{Principal, Result};
use innkeeper_platform::auth::{Verifier, credential};
use innkeeper_platform::grpc::{Reply, bearer_from_metadata, reply, status_from_error};
use innkeeper_proto::booking::v1 as pb;
use pb::booking_service_server::{BookingService, BookingServiceServer};
use tonic::metadata::MetadataValue;
use tonic::{Request, Response};

use super::messages::key_from_proto;
use super::wire::{At, Wire, field, optional, protos, required};
use super::{MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, REPLAYED_METADATA};
use crate::api::{Booking, BookingApi, BookingQuery, Idempotent};

/// Serves a [`BookingApi`] (in practice the in-process `BookingService`) over gRPC.
pub struct BookingGrpcServer {
    api: Arc<dyn BookingApi>,
    verifier: Arc<Verifier>,
}

impl BookingGrpcServer {
    /// An adapter in front of `api`, verifying callers' tokens with `verifier`.
    pub fn new(api: Arc<dyn BookingApi>, verifier: Arc<Verifier>) -> Self {
        Self { api, verifier }
    }

    /// The caller of the request (its verified token), and its message.
    async fn with_caller<T>(&self, request: Request<T>) -> Result<(Caller, T)> {
        let token: Arc<str> = bearer_from_metadata(request.metadata())?.into();
        let principal = self.verifier.verify(&token).await?;
        Ok((Caller { principal, token }, request.into_inner()))
    }
}

/// Who a request acts for, and the access token that says so.
struct Caller {
    principal: Principal,
    token: Arc<str>,
}

impl Caller {
    /// Runs `work` (a call of the service) inside the scope of the caller's token.
    async fn acting<F: Future>(&self, work: F) -> F::Output {
        credential::scope(Arc::clone(&self.token), work).await
    }
}

impl std::fmt::Debug for BookingGrpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BookingGrpcServer")
    }
}

/// The tonic service to add to a server: `Server::builder().add_service(service(api, verifier))`.
pub fn service(
    api: Arc<dyn BookingApi>,
    verifier: Arc<Verifier>,
) -> BookingServiceServer<BookingGrpcServer> {
    BookingServiceServer::new(BookingGrpcServer::new(api, verifier))
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES)
}

/// Encodes the outcome of a change: the booking with `replayed`, or the error's status, marked
/// with [`REPLAYED_METADATA`] when it is a stored answer. An error before the service ran
/// (no caller, a request that does not decode) is never a replay.
fn keyed(outcome: Result<Idempotent<Booking>>) -> Reply<pb::BookingReply> {
    let Idempotent { result, replayed } = match outcome {
        Ok(outcome) => outcome,
        Err(err) => return Err(status_from_error(&err)),
    };
    match result {
        Ok(booking) => Ok(Response::new(pb::BookingReply {
            booking: Some(booking.to_proto()),
            replayed,
        })),
        Err(err) => {
            let mut status = status_from_error(&err);
            if replayed {
                status
                    .metadata_mut()
                    .insert(REPLAYED_METADATA, MetadataValue::from_static("true"));
            }
            Err(status)
        }
    }
}

#[tonic::async_trait]
impl BookingService for BookingGrpcServer {
    async fn create_booking(
        &self,
        request: Request<pb::CreateBookingRequest>,
    ) -> Reply<pb::BookingReply> {
        keyed(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let booking = required(&At::ROOT, "booking", req.booking)?;
                let key = key_from_proto(req.idempotency_key)?;
                Ok(caller
                    .acting(self.api.create(&caller.principal, booking, key))
                    .await)
            }
            .await,
        )
    }

    async fn get_booking(&self, request: Request<pb::GetBookingRequest>) -> Reply<pb::Booking> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let id = field(&At::ROOT, "id", req.id)?;
                Ok(caller
                    .acting(self.api.get(&caller.principal, id))
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn get_booking_by_reference(
        &self,
        request: Request<pb::GetBookingByReferenceRequest>,
    ) -> Reply<pb::Booking> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                Ok(caller
                    .acting(self.api.get_by_reference(&caller.principal, &req.reference))
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn cancel_booking(
        &self,
        request: Request<pb::CancelBookingRequest>,
    ) -> Reply<pb::BookingReply> {
        keyed(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let id = field(&At::ROOT, "id", req.id)?;
                let key = key_from_proto(req.idempotency_key)?;
                Ok(caller
                    .acting(
                        self.api
                            .cancel(&caller.principal, id, req.if_match, req.reason, key),
                    )
                    .await)
            }
            .await,
        )
    }

    async fn modify_booking(
        &self,
        request: Request<pb::ModifyBookingRequest>,
    ) -> Reply<pb::BookingReply> {
        keyed(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let id = field(&At::ROOT, "id", req.id)?;
                // An absent patch is an empty one, as proto3 readers expect.
                let patch = optional(&At::ROOT, "patch", req.patch)?.unwrap_or_default();
                let key = key_from_proto(req.idempotency_key)?;
                Ok(caller
                    .acting(
                        self.api
                            .modify(&caller.principal, id, req.if_match, patch, key),
                    )
                    .await)
            }
            .await,
        )
    }

    async fn upgrade_booking(
        &self,
        request: Request<pb::UpgradeBookingRequest>,
    ) -> Reply<pb::BookingReply> {
        keyed(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let id = field(&At::ROOT, "id", req.id)?;
                let room_type_id = field(&At::ROOT, "room_type_id", req.room_type_id)?;
                let key = key_from_proto(req.idempotency_key)?;
                Ok(caller
                    .acting(self.api.upgrade(
                        &caller.principal,
                        id,
                        room_type_id,
                        req.if_match,
                        key,
                    ))
                    .await)
            }
            .await,
        )
    }

    async fn check_in(&self, request: Request<pb::CheckInRequest>) -> Reply<pb::BookingReply> {
        keyed(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let id = field(&At::ROOT, "id", req.id)?;
                let room_id = optional(&At::ROOT, "room_id", req.room_id)?;
                let key = key_from_proto(req.idempotency_key)?;
                Ok(caller
                    .acting(
                        self.api
                            .check_in(&caller.principal, id, room_id, req.if_match, key),
                    )
                    .await)
            }
            .await,
        )
    }

    async fn check_out(&self, request: Request<pb::CheckOutRequest>) -> Reply<pb::BookingReply> {
        keyed(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let id = field(&At::ROOT, "id", req.id)?;
                let key = key_from_proto(req.idempotency_key)?;
                Ok(caller
                    .acting(self.api.check_out(&caller.principal, id, req.if_match, key))
                    .await)
            }
            .await,
        )
    }

    async fn no_show(&self, request: Request<pb::NoShowRequest>) -> Reply<pb::BookingReply> {
        keyed(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let id = field(&At::ROOT, "id", req.id)?;
                let key = key_from_proto(req.idempotency_key)?;
                Ok(caller
                    .acting(self.api.no_show(&caller.principal, id, req.if_match, key))
                    .await)
            }
            .await,
        )
    }

    async fn list_bookings(
        &self,
        request: Request<pb::ListBookingsRequest>,
    ) -> Reply<pb::ListBookingsResponse> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let query = BookingQuery::from_proto(req, &At::ROOT)?;
                let page = caller
                    .acting(self.api.list(&caller.principal, query))
                    .await?;
                Ok(super::messages::page_to_proto(&page))
            }
            .await,
        )
    }

    async fn get_history(
        &self,
        request: Request<pb::GetHistoryRequest>,
    ) -> Reply<pb::GetHistoryResponse> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let id = field(&At::ROOT, "id", req.id)?;
                let entries = caller
                    .acting(self.api.history(&caller.principal, id))
                    .await?;
                Ok(pb::GetHistoryResponse {
                    entries: protos(&entries),
                })
            }
            .await,
        )
    }
}
