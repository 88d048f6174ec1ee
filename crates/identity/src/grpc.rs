//! Identity over gRPC: the server adapter and the remote client. The only code of identity
//! that knows protobuf (`innkeeper.identity.v1.IdentityService`,
//! proto/innkeeper/identity/v1/identity.proto).
//!
//! - [`service`] wraps any [`crate::api::IdentityApi`] (the in-process service) as a tonic
//!   service ([`IdentityGrpcServer`]).
//! - [`IdentityGrpcClient`] implements [`crate::api::IdentityApi`] over a channel, so callers
//!   holding an `IdentityClient` cannot tell it from the in-process service: same values,
//!   same errors (the error travels whole in the status details, see
//!   `innkeeper_platform::grpc`).
//! - `convert`: the conversions between api types and messages.

mod client;
mod convert;
mod server;

#[cfg(test)]
mod tests;

pub use client::IdentityGrpcClient;
pub use server::{IdentityGrpcServer, service};

/// The full gRPC name of the identity service (for health checks and reflection).
pub const SERVICE_NAME: &str = innkeeper_proto::identity::v1::identity_service_server::SERVICE_NAME;

/// Largest request or response accepted (identity messages are small).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
