//! Money: integer minor units and an ISO 4217 currency. No floats anywhere near prices.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
#[schema(value_type = String, example = "EUR", pattern = "^[A-Z]{3}$")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Euro.
    pub const EUR: Currency = Currency(*b"EUR");

    /// Parses a currency code, naming `field` on failure.
    pub fn parse_field(field: impl Into<String>, code: &str) -> Result<Self> {
        match code.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => {
                Ok(Currency([*a, *b, *c]))
            }
            _ => Err(Error::invalid_field(
                field,
                "must be an ISO 4217 code such as EUR",
            )),
        }
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Currency {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse_field("currency", s)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse_field("currency", &s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// An amount of money in minor units (cents) of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    /// Minor units, e.g. 12900 for 129.00 EUR.
    #[schema(example = 12900)]
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: Currency,
}

impl Money {
    /// Money with a non-negative amount.
    pub fn new(amount: i64, currency: Currency) -> Result<Self> {
        if amount < 0 {
            return Err(Error::invalid_field("amount", "must not be negative"));
        }
        Ok(Self { amount, currency })
    }

    /// Zero in a currency.
    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: 0,
            currency,
        }
    }

    /// Checks a client-supplied price: non-negative, at most `max`, in the expected currency.
    pub fn check_price(self, field: &str, currency: Currency) -> Result<Self> {
        if self.amount < 0 {
            return Err(Error::invalid_field(
                format!("{field}.amount"),
                "must not be negative",
            ));
        }
        if self.amount > 10_000_000_000 {
            return Err(Error::invalid_field(
                format!("{field}.amount"),
                "is unreasonably large",
            ));
        }
        if self.currency != currency {
            return Err(Error::invalid_field(
                format!("{field}.currency"),
                format!("must be the hotel's currency {currency}"),
            ));
        }
        Ok(self)
    }

    /// Sum of two amounts of the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money> {
        if self.currency != other.currency {
            return Err(Error::new(crate::ErrorCode::Internal, "currency mismatch"));
        }
        self.amount
            .checked_add(other.amount)
            .map(|amount| Money {
                amount,
                currency: self.currency,
            })
            .ok_or_else(|| Error::invalid_request("amount overflow"))
    }

    /// The amount times a count (rooms).
    pub fn times(self, n: u32) -> Result<Money> {
        self.amount
            .checked_mul(i64::from(n))
            .map(|amount| Money {
                amount,
                currency: self.currency,
            })
            .ok_or_else(|| Error::invalid_request("amount overflow"))
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{:02} {}",
            self.amount / 100,
            (self.amount % 100).abs(),
            self.currency
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert!(Currency::parse_field("c", "EUR").is_ok());
        for bad in ["eur", "EU", "EURO", "E1R", ""] {
            assert!(Currency::parse_field("c", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn money_serialises_as_amount_and_currency() {
        let m = Money::new(12900, Currency::EUR).expect("valid");
        let json = serde_json::to_value(m).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"amount": 12900, "currency": "EUR"})
        );
        assert_eq!(m.to_string(), "129.00 EUR");
    }

    #[test]
    fn prices_are_checked_against_sign_and_currency() {
        let usd = Currency::parse_field("c", "USD").expect("valid");
        assert!(
            Money {
                amount: -1,
                currency: usd
            }
            .check_price("price", usd)
            .is_err()
        );
        let err = Money {
            amount: 1,
            currency: usd,
        }
        .check_price("price", Currency::EUR)
        .expect_err("wrong currency");
        assert_eq!(err.errors[0].field, "price.currency");
    }

    #[test]
    fn sums_refuse_to_mix_currencies() {
        let usd = Currency::parse_field("c", "USD").expect("valid");
        assert!(
            Money::zero(usd)
                .checked_add(Money::zero(Currency::EUR))
                .is_err()
        );
        assert_eq!(
            Money::new(5, usd)
                .and_then(|m| m.times(3))
                .map(|m| m.amount),
            Ok(15)
        );
    }
}
