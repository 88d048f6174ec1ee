//! The identity service: accounts, password login, signed access tokens, rotating refresh
//! tokens and the signing keys that verify them.
//!
//! Tour:
//! - [`api`]: the contract ([`api::IdentityApi`]), its types and the topology-blind
//!   [`api::IdentityClient`]. Everything other crates may use.
//! - `domain`: pure rules: email normalisation, the password policy and argon2id hashing,
//!   refresh-token format, Ed25519 keys and JWT signing.
//! - `app`: the use cases ([`IdentityService`]), plus the CLI-only administration (create an
//!   admin, rotate keys).
//! - [`store`]: the [`store::IdentityStore`] contract with SQLite and PostgreSQL backends.
//! - [`grpc`]: the gRPC server adapter and the remote client (the only protobuf-aware code).
//! - [`module`]: start-up: open the store, migrate, make sure a signing key exists.
//! - [`demo`]: the demo accounts `innkeeper up` seeds and prints.

pub mod api;
mod app;
pub mod demo;
mod domain;
pub mod grpc;
pub mod module;
pub mod store;
pub mod verification;

pub use app::{IdentityService, IdentitySettings, ServiceSecret};
pub use domain::password::{ARGON2_M_COST_KIB, ARGON2_P_COST, ARGON2_T_COST};
