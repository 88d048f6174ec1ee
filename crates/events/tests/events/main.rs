//! The event backbone against real parts: SQLite, PostgreSQL and a tansu Kafka broker.

#[cfg(feature = "kafka")]
mod kafka;
mod metrics;
mod outbox_and_bus;
mod support;
mod trace;
