//! The payment service over gRPC: the server adapter and the remote client. The only code of
//! the payment service that knows protobuf (`innkeeper.payment.v1.PaymentService`,
//! proto/innkeeper/payment/v1/payment.proto).
//!
//! - [`service`] wraps any [`crate::api::PaymentApi`] (the in-process service) as a tonic
//!   service ([`PaymentGrpcServer`]).
//! - [`PaymentGrpcClient`] implements [`crate::api::PaymentApi`] over a channel, so callers
//!   holding a `PaymentClient` (the booking service opening a booking's payment, the gateway
//!   showing one) cannot tell it from the in-process service: same values, same errors (the
//!   error travels whole in the status details, see `innkeeper_platform::grpc`).
//! - `messages`: the conversions between api types and messages.

mod client;
mod messages;
mod server;

#[cfg(test)]
mod tests;

pub use client::PaymentGrpcClient;
pub use server::{PaymentGrpcServer, service};

/// The full gRPC name of the payment service (for health checks and reflection).
pub const SERVICE_NAME: &str = innkeeper_proto::payment::v1::payment_service_server::SERVICE_NAME;

/// Largest request accepted: a webhook delivery (its body is at most 256 KiB, as on the HTTP
/// route) with its headers.
pub const MAX_REQUEST_BYTES: usize = 512 * 1024;

/// Largest response sent or accepted (an intent with its refunds stays well below).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
