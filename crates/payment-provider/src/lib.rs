//! An imitation of an external card processor, shaped like Stripe's PaymentIntents: Innkeeper's
//! payment service talks to it as it would to a real one, over HTTP, and learns outcomes from
//! its signed webhooks. It is not part of Innkeeper's own API: it speaks its own (Stripe-shaped)
//! JSON and errors.
//!
//! Tour:
//! - `domain`: pure rules: the intent state machine, refunds bounded by the capture, the test
//!   cards that decide outcomes ([`TEST_CARDS`]), the retry schedule.
//! - `app`: the use cases ([`ProviderService`]), each change committed with its idempotency
//!   answer, ledger entries and webhook deliveries.
//! - [`store`]: the [`store::ProviderStore`] contract, SQLite and PostgreSQL running the same
//!   statements.
//! - [`http`]: the API (`/v1/...`), the hosted checkout page and the `/_admin` controls.
//! - [`webhook_signature`]: Standard Webhooks signing and verification (the payment service
//!   verifies with it).
//! - [`webhooks`]: the delivery worker: retries with exponential backoff and jitter.
//! - [`faults`]: injected latency, errors and downtime.
//! - [`settings`] and [`module`]: configuration with commented defaults, and start-up.

mod app;
mod domain;
pub mod error;
pub mod faults;
pub mod http;
pub mod module;
pub mod settings;
pub mod store;
pub mod webhook_signature;
pub mod webhooks;
mod wire;

pub use app::{Answer, Keyed, Paid, ProviderService, events};
pub use domain::{IntentStatus, PaymentIntent, Refund, TEST_CARDS, TestCard};
pub use module::PaymentProviderModule;
pub use settings::{DEFAULTS, PaymentProviderConfig, ProviderSettings};
