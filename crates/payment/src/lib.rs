//! The payment service: a payment intent per booking at the payment provider, refunds, and
//! the provider's signed webhooks turned into `payment.*` events.
//!
//! Tour:
//! - [`api`]: the contract ([`api::PaymentApi`]), its types and the topology-blind
//!   [`api::PaymentClient`].
//! - `domain`: pure rules: the payment status machine (outcomes in any order, late money).
//! - `store`: intents, refunds and webhook receipts on SQLite or PostgreSQL, the outbox in
//!   the same transaction; one contract suite for both.
//! - `app`: the use cases ([`PaymentService`]), webhook verification and application, the
//!   consumer of the booking's ends ([`BookingOutcomes`]) and the worker that sends owed
//!   refunds and cancellations.
//! - [`provider`]: the provider's HTTP API behind the platform's resilience layer.
//! - [`contracts`]: the events published on `payment.events` and the booking events read.
//! - [`grpc`]: the service over gRPC (`innkeeper.payment.v1.PaymentService`): the server
//!   adapter and the remote client the booking service and the gateway use when payment runs
//!   in another process.
//! - [`settings`] and [`module`]: configuration with commented defaults, and start-up.

pub mod api;
mod app;
pub mod contracts;
mod domain;
pub mod grpc;
pub mod module;
pub mod provider;
pub mod settings;
mod store;

pub use app::PaymentService;
pub use app::consumers::{BookingOutcomes, CONSUMER as BOOKING_OUTCOMES_CONSUMER};
pub use module::{PaymentModule, WEBHOOK_PATH};
pub use settings::{DEFAULTS, PaymentConfig, PaymentSettings};
