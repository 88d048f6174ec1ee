//! The REST API driven in-process (`tower::ServiceExt::oneshot`, no network) over the real
//! catalog service on a fresh SQLite database per test.

#[path = "rest/access.rs"]
mod access;
#[path = "rest/bookings.rs"]
mod bookings;
#[path = "rest/catalog.rs"]
mod catalog;
#[path = "rest/docs.rs"]
mod docs;
#[path = "rest/external_issuer.rs"]
mod external_issuer;
#[path = "rest/fakes.rs"]
mod fakes;
#[path = "rest/identity.rs"]
mod identity;
#[path = "rest/problems.rs"]
mod problems;
#[path = "rest/ratelimit.rs"]
mod ratelimit;
#[path = "rest/support.rs"]
mod support;
#[path = "rest/verification.rs"]
mod verification;
