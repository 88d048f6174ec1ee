//! Pure booking rules: no I/O, no async, no SQL.
//!
//! - `status`: the status machine (which action is allowed in which status).
//! - `events`: the events of a booking's stream, with actor and time.
//! - `booking`: the aggregate: rebuilt by applying its events; commands decide new events.
//! - `policy`: cancellation refunds, in integer minor units.
//! - `reference`: human references (`INK-…`).
//! - `request`: checks of what a guest sends.

pub(crate) mod booking;
pub(crate) mod events;
pub(crate) mod policy;
pub(crate) mod reference;
pub(crate) mod request;
pub(crate) mod status;
