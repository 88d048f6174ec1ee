//! The payment's rules, pure: what a provider outcome or the end of a booking does to a
//! payment. No I/O, no async.

pub(crate) mod intent;
