//! Which services a process runs (Loki's `-target`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// A deployable target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// Every service.
    All,
    /// The public REST edge.
    Gateway,
    /// Hotels, rooms, rates, inventory, holds, search.
    Catalog,
    /// Accounts, passwords, access and refresh tokens, signing keys.
    Identity,
    /// Bookings: create, cancel, modify, front desk, the payment and expiry saga.
    Booking,
    /// Payments: an intent per booking at the provider, refunds, the provider's webhooks.
    Payment,
    /// The imitation of an external card processor (not an Innkeeper service: a stand-in for
    /// Stripe in demos and tests), mounted under `/provider` on the node's HTTP listener.
    PaymentProvider,
}

impl Target {
    /// Every target with what it runs, for `innkeeper list-targets`.
    pub const DESCRIBED: [(Target, &'static str); 7] = [
        (Target::All, "every service in one process"),
        (
            Target::Gateway,
            "REST API /api/v1, OpenAPI document and /docs; calls the services over gRPC",
        ),
        (
            Target::Catalog,
            "hotels, room types, rooms, rates, per-night inventory, holds, availability search (gRPC)",
        ),
        (
            Target::Identity,
            "accounts, argon2id passwords, signed access tokens, refresh token families, signing keys (gRPC)",
        ),
        (
            Target::Booking,
            "event-sourced bookings, idempotent requests, cancellations and refunds, front desk; \
             consumes payment and hold-expiry events (gRPC)",
        ),
        (
            Target::Payment,
            "payment intents per booking at the provider, refunds, the signed provider webhook \
             (POST /api/v1/payments/webhook); consumes booking events, publishes payment events",
        ),
        (
            Target::PaymentProvider,
            "imitation card processor (Stripe-like PaymentIntents, hosted checkout, signed \
             webhooks, fault injection) under /provider; stands in for an external system",
        ),
    ];

    /// The name used in flags and config.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::All => "all",
            Target::Gateway => "gateway",
            Target::Catalog => "catalog",
            Target::Identity => "identity",
            Target::Booking => "booking",
            Target::Payment => "payment",
            Target::PaymentProvider => "payment-provider",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> anyhow::Result<Target> {
        Self::DESCRIBED
            .iter()
            .map(|(t, _)| *t)
            .find(|t| t.as_str() == s.trim())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown target {s:?}; known: all, gateway, catalog, identity, booking, \
                     payment, payment-provider"
                )
            })
    }
}

/// The services a list of targets expands to (`all` is every service).
pub fn services(targets: &[Target]) -> BTreeSet<Target> {
    let mut set = BTreeSet::new();
    for t in targets {
        match t {
            Target::All => {
                set.insert(Target::Gateway);
                set.insert(Target::Catalog);
                set.insert(Target::Identity);
                set.insert(Target::Booking);
                set.insert(Target::Payment);
                set.insert(Target::PaymentProvider);
            }
            other => {
                set.insert(*other);
            }
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_expands_to_every_service() {
        assert_eq!(
            services(&[Target::All]),
            BTreeSet::from([
                Target::Gateway,
                Target::Catalog,
                Target::Identity,
                Target::Booking,
                Target::Payment,
                Target::PaymentProvider
            ])
        );
        assert_eq!(Target::parse("booking").ok(), Some(Target::Booking));
        assert_eq!(Target::parse("payment").ok(), Some(Target::Payment));
        assert_eq!(
            Target::parse("payment-provider").ok(),
            Some(Target::PaymentProvider)
        );
        assert_eq!(
            services(&[Target::Gateway]),
            BTreeSet::from([Target::Gateway])
        );
        assert!(Target::parse("kitchen").is_err());
        assert_eq!(Target::parse(" catalog").ok(), Some(Target::Catalog));
    }
}
