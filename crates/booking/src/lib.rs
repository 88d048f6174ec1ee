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
//! - `app`: the use cases ([`BookingService`]) over the store and the catalog's contract, and
//!   the consumers of the saga: [`PaymentOutcomes`] (payment succeeded: confirm) and
//!   [`HoldExpiries`] (the catalog expired an unpaid booking's hold: expire) and
//!   [`HoldReleases`] (the service's own cancellations and modifications: give holds back).
//! - [`contracts`]: the events published on `booking.events` and the payment event read.
//! - [`module`]: start-up: open and migrate the store, build the service and consumer.
//! - [`grpc`]: the service over gRPC: the server adapter and the remote client.

pub mod api;
mod app;
pub mod contracts;
mod domain;
pub mod grpc;
pub mod module;
mod store;

pub use app::expiry::{CONSUMER as HOLD_EXPIRY_CONSUMER, HoldExpiries};
pub use app::payments::{CONSUMER as PAYMENT_CONSUMER, PaymentOutcomes};
pub use app::releases::{CONSUMER as HOLD_RELEASE_CONSUMER, HoldReleases};
pub use app::{BookingService, BookingSettings, DEFAULT_PAYMENT_RETURN_URL};

#[cfg(test)]
mod fixtures;
