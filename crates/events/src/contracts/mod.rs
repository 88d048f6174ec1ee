//! The payloads of every event type, by producing service: the shared contract between
//! producers and consumers (documented in `docs/events.md`).

pub mod catalog;
