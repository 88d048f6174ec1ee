//! The event backbone (architecture.md section 4).
//!
//! A service writes an [`Event`] with [`Outbox::append`] inside the transaction of the state
//! change it describes, so an event exists exactly when its change committed. A [`Relay`]
//! publishes unsent outbox rows in order through a [`Transport`] and stamps them sent:
//! [`Bus`], the in-process transport of the embedded shape, or `KafkaTransport` (feature
//! `kafka`) in the distributed one. Delivery is at least once: a relay that dies between
//! publishing and stamping publishes again.
//!
//! Consumers implement [`Consumer`] once and run on either transport. Every delivery goes
//! through a [`Dispatcher`]: an inbox row keyed by (consumer, event id) is written in the same
//! transaction as the handler's effects, so a duplicate has no second effect; failures are
//! retried with backoff a bounded number of times, then the event goes to the dead letters
//! (with its error) and the next one flows. [`DeadLetters`] lists, retries and discards them.
//!
//! Every service database holds the same tables (`migrations/`), migrated by [`migrate`]
//! under their own migrations table, so they live beside the service's own schema.
//!
//! Wiring (the runtime's `Node::build` does the producer side for the catalog):
//! - producer: `Relay::to_bus(Bus::new(db), settings).run(shutdown)` embedded, or
//!   `Relay::new(db, Arc::new(KafkaTransport::new(&kafka)?), settings).run(shutdown)`;
//! - consumer `C` with its store in `its_db`: `bus.subscribe(Arc::new(C), its_db,
//!   settings).await?.run(shutdown)` on the producer's bus, or
//!   `KafkaConsumer::new(&kafka, Arc::new(C), its_db, settings)?.run(shutdown)`.
//!
//! Metrics (`innkeeper_events_*`): outbox backlog and oldest unsent age, published and failed
//! publishes, consumer lag (age of the event when handled) and pending deliveries, handler
//! failures, dead letters. Spans `event.publish` and `event.consume` continue the trace of the
//! request that wrote the event (its W3C `traceparent` travels with the event).

mod binding;
mod bus;
mod consumer;
pub mod contracts;
mod dead_letters;
mod dispatcher;
mod envelope;
#[cfg(feature = "kafka")]
pub mod kafka;
mod outbox;
mod relay;
pub mod testing;

pub use binding::{event_from_headers, headers_of};
pub use bus::{Bus, BusConsumer};
pub use consumer::{Consumer, ConsumerSettings, Delivery, HandlerError, Tx};
pub use dead_letters::{DeadLetter, DeadLetters};
pub use dispatcher::Dispatcher;
pub use envelope::{DecodeError, Event, JSON, Payload};
pub use outbox::{Outbox, OutboxConnection};
pub use relay::{Record, Relay, RelaySettings, Transport, TransportError};

use innkeeper_platform::db::Database;

/// The table recording which of this crate's migrations a database has applied; separate
/// from the service's own `_sqlx_migrations`, so the two schemas evolve independently.
const MIGRATIONS_TABLE: &str = "_events_migrations";

/// Creates the event tables (outbox, deliveries, inbox, dead letters) or brings them up to date.
pub async fn migrate(db: &Database) -> anyhow::Result<()> {
    match db {
        Database::Sqlite(sqlite) => {
            let mut migrator = sqlx::migrate!("./migrations/sqlite");
            migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
            migrator.run(&sqlite.writer).await?;
        }
        Database::Postgres(pool) => {
            let mut migrator = sqlx::migrate!("./migrations/postgres");
            migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
            migrator.run(pool).await?;
        }
    }
    Ok(())
}
