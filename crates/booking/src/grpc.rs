//! The booking service over gRPC: the server adapter and the remote client. The only code of
//! the booking service that knows protobuf (`innkeeper.booking.v1.BookingService`,
//! proto/innkeeper/booking/v1/booking.proto).
//!
//! - [`service`] wraps any [`crate::api::BookingApi`] (the in-process service) as a tonic
//!   service ([`BookingGrpcServer`]).
//! - [`BookingGrpcClient`] implements [`crate::api::BookingApi`] over a channel, so callers
//!   holding a `BookingClient` cannot tell it from the in-process service: same values, same
//!   errors (the error travels whole in the status details, see `innkeeper_platform::grpc`),
//!   and the same [`crate::api::Idempotent::replayed`] for stored answers, errors included
//!   ([`REPLAYED_METADATA`]).
//! - `wire`, `messages`: the conversions between api types and messages.

mod client;
mod messages;
mod server;
mod wire;

#[cfg(test)]
mod tests;

pub use client::BookingGrpcClient;
pub use server::{BookingGrpcServer, service};

/// The full gRPC name of the booking service (for health checks and reflection).
pub const SERVICE_NAME: &str = innkeeper_proto::booking::v1::booking_service_server::SERVICE_NAME;

/// The metadata entry (`true`) that marks an error status as the stored answer of an earlier
/// request with the same idempotency key. (A stored success says so in its reply's `replayed`.)
pub const REPLAYED_METADATA: &str = "innkeeper-idempotency-replayed";

/// Largest request accepted (requests are small: ids, one booking, a query).
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// Largest response sent or accepted (a page of 100 bookings, or a long history, stays well
/// below).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
