//! The catalog service: hotels, room types, physical rooms, rates, per-night inventory, holds
//! and availability search.
//!
//! Tour:
//! - [`api`]: the contract ([`api::CatalogApi`]), its types and the topology-blind
//!   [`api::CatalogClient`]. Everything other crates may use.
//! - `domain`: pure rules: validation of inputs, pricing a stay, building offers.
//! - `app`: the use cases ([`CatalogService`]), one method per operation, over a store.
//! - `search_index`: the in-memory availability read model searches are answered from.
//! - `store`: the [`store::CatalogStore`] contract with SQLite and PostgreSQL backends.
//! - [`grpc`]: the gRPC server adapter and the remote client (the only protobuf-aware code).
//! - [`module`]: start-up: open the store, migrate, run the hold sweeper.
//! - [`demo`]: realistic demo hotels for `innkeeper up` and `innkeeper seed`.

pub mod api;
mod app;
pub mod demo;
mod domain;
pub mod grpc;
pub mod module;
mod search;
mod search_index;
pub mod store;
#[cfg(test)]
mod testing;

pub use app::{CatalogService, CatalogSettings};
