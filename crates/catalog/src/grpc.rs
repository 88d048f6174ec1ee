//! The catalog over gRPC: the server adapter and the remote client. The only code of the
//! catalog that knows protobuf (`innkeeper.catalog.v1.CatalogService`, proto/innkeeper/catalog/v1).
//!
//! - [`service`] wraps any [`crate::api::CatalogApi`] (the in-process service) as a tonic
//!   service ([`CatalogGrpcServer`]).
//! - [`CatalogGrpcClient`] implements [`crate::api::CatalogApi`] over a channel, so callers
//!   holding a `CatalogClient` cannot tell it from the in-process service: same values, same
//!   errors (the error travels whole in the status details, see `innkeeper_platform::grpc`).
//! - `wire`, `messages`, `nights`: the conversions between api types and messages.

mod client;
mod messages;
mod nights;
mod server;
mod wire;

#[cfg(test)]
mod tests;

pub use client::CatalogGrpcClient;
pub use server::{CatalogGrpcServer, service};

/// The full gRPC name of the catalog service (for health checks and reflection).
pub const SERVICE_NAME: &str = innkeeper_proto::catalog::v1::catalog_service_server::SERVICE_NAME;

/// Largest request accepted (requests are small: ids, queries, one object).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Largest response sent or accepted (a long inventory range of a large hotel stays well below).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
