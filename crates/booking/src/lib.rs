//! The booking service: event-sourced bookings that never oversell.
//!
//! Tour:
//! - [`api`]: the contract ([`api::BookingApi`]), its types and the topology-blind
//!   [`api::BookingClient`].
//! - `domain`: pure rules: the status machine, the events, the aggregate rebuilt from them,
//!   cancellation refunds, human references.
//! - `store`: the `BookingStore` contract with SQLite and PostgreSQL backends: the
//!   event stream per booking (appending at the expected version is the optimistic lock), the
//!   `bookings` projection and the outbox in the same transaction, idempotency keys.

pub mod api;
pub mod contracts;
mod domain;
mod store;

#[cfg(test)]
mod fixtures;
