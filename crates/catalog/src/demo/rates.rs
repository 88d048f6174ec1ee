//! Seasonal prices: what each night of a room type costs, and the few `set_rate` calls that
//! produce it.
//!
//! Calls are layered: first the seasons (consecutive nights with the same price merged into
//! one range, nights at the base price skipped since that is the default), then the nights
//! that differ from their season (weekends) written over them. Later calls overwrite earlier
//! ones, so each room type's calls must run in order.

use innkeeper_kernel::{Currency, Money};
use time::{Date, Duration, Month, Weekday};

use crate::api::SetRate;

/// A period of the year and how it moves prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Season {
    /// Multiplier of the base price.
    pub factor: f64,
    /// Shortest stay that may start on its nights.
    pub min_stay: Option<u32>,
    /// Whether weekend premiums are suspended (every night is already peak).
    pub festive: bool,
}

const LOW: Season = Season {
    factor: 0.80,
    min_stay: None,
    festive: false,
};
const AUTUMN_LOW: Season = Season {
    factor: 0.85,
    min_stay: None,
    festive: false,
};
const SHOULDER: Season = Season {
    factor: 1.0,
    min_stay: None,
    festive: false,
};
const HIGH: Season = Season {
    factor: 1.20,
    min_stay: None,
    festive: false,
};
const PEAK: Season = Season {
    factor: 1.35,
    min_stay: None,
    festive: false,
};
const FESTIVE: Season = Season {
    factor: 1.35,
    min_stay: None,
    festive: true,
};
const NEW_YEARS_EVE: Season = Season {
    factor: 1.90,
    min_stay: Some(2),
    festive: true,
};

/// The season of a night in a European city.
pub(super) fn season(night: Date) -> Season {
    use Month::*;
    match (night.month(), night.day()) {
        (December, 31) => NEW_YEARS_EVE,
        (December, 20..=30) | (January, 1..=5) => FESTIVE,
        (January | February, _) | (March, 1..=14) => LOW,
        (June, 15..=30) | (September, _) => HIGH,
        (July | August, _) => PEAK,
        (November | December, _) => AUTUMN_LOW,
        // Mid-March to mid-June, and October.
        _ => SHOULDER,
    }
}

/// How one room type is priced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct PriceModel {
    /// Price of a shoulder-season weeknight, in major units (the room type's base price).
    pub base: i64,
    pub currency: Currency,
    /// Prices are rounded to this many major units.
    pub step: i64,
    /// Extra share charged on Friday and Saturday nights, e.g. 0.15.
    pub weekend_premium: f64,
}

/// A night's price in minor units and its minimum stay.
pub(super) type NightRate = (i64, Option<u32>);

impl PriceModel {
    /// The base price as money.
    pub fn base_price(&self) -> Money {
        Money {
            amount: self.base * 100,
            currency: self.currency,
        }
    }

    fn rounded(&self, major: f64) -> i64 {
        round_to(major, self.step) * 100
    }

    /// The night's price by season alone.
    pub fn seasonal(&self, night: Date) -> NightRate {
        let s = season(night);
        (self.rounded(self.base as f64 * s.factor), s.min_stay)
    }

    /// The night's price with the weekend premium, if it applies.
    pub fn with_weekend(&self, night: Date) -> NightRate {
        let s = season(night);
        if s.festive || !is_weekend_night(night) {
            return self.seasonal(night);
        }
        (
            self.rounded(self.base as f64 * s.factor * (1.0 + self.weekend_premium)),
            s.min_stay,
        )
    }
}

/// Friday and Saturday nights: the ones city-break guests fill.
pub(super) fn is_weekend_night(night: Date) -> bool {
    matches!(night.weekday(), Weekday::Friday | Weekday::Saturday)
}

/// `value` rounded to a multiple of `step`, at least one step.
pub(super) fn round_to(value: f64, step: i64) -> i64 {
    let step = step.max(1);
    ((value / step as f64).round() as i64 * step).max(step)
}

/// The `set_rate` calls that give the nights `[from, from + nights)` the prices of
/// `model.with_weekend` up to (not including) `weekends_until`, and `model.seasonal` after it.
pub(super) fn demo_rates(
    model: &PriceModel,
    from: Date,
    nights: u32,
    weekends_until: Date,
) -> Vec<SetRate> {
    let days = dates(from, nights);
    let background: Vec<NightRate> = days.iter().map(|d| model.seasonal(*d)).collect();
    let target: Vec<NightRate> = days
        .iter()
        .map(|d| {
            if *d < weekends_until {
                model.with_weekend(*d)
            } else {
                model.seasonal(*d)
            }
        })
        .collect();
    let base = (model.base * 100, None);
    let mut calls = ranges(model, &days, &background, |i| background[i] != base);
    calls.extend(ranges(model, &days, &target, |i| {
        target[i] != background[i]
    }));
    calls
}

/// The benchmark's few rate ranges: summer and the festive season, base price otherwise.
pub(super) fn bench_rates(model: &PriceModel, from: Date, nights: u32) -> Vec<SetRate> {
    let days = dates(from, nights);
    let rates: Vec<NightRate> = days
        .iter()
        .map(|d| {
            let s = season(*d);
            let factor = if s.festive {
                1.4
            } else if s.factor > 1.0 {
                1.25
            } else {
                1.0
            };
            (model.rounded(model.base as f64 * factor), None)
        })
        .collect();
    let base = (model.base * 100, None);
    ranges(model, &days, &rates, |i| rates[i] != base)
}

/// The nights `[from, from + nights)`.
pub(super) fn dates(from: Date, nights: u32) -> Vec<Date> {
    (0..i64::from(nights))
        .map_while(|i| from.checked_add(Duration::days(i)))
        .collect()
}

/// One `SetRate` per maximal run of consecutive selected nights with the same rate.
fn ranges(
    model: &PriceModel,
    days: &[Date],
    rates: &[NightRate],
    selected: impl Fn(usize) -> bool,
) -> Vec<SetRate> {
    let mut calls = Vec::new();
    let mut i = 0;
    while i < days.len() {
        if !selected(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < days.len() && selected(i + 1) && rates[i + 1] == rates[start] {
            i += 1;
        }
        let (price, min_stay) = rates[start];
        let to = days[i].next_day().unwrap_or(days[i]);
        calls.push(SetRate {
            from: days[start],
            to,
            price: Money {
                amount: price,
                currency: model.currency,
            },
            min_stay,
        });
        i += 1;
    }
    calls
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn model() -> PriceModel {
        PriceModel {
            base: 129,
            currency: Currency::EUR,
            step: 1,
            weekend_premium: 0.15,
        }
    }

    /// What the nights cost after applying `calls` in order over the base price.
    fn apply(model: &PriceModel, from: Date, nights: u32, calls: &[SetRate]) -> Vec<NightRate> {
        let days = dates(from, nights);
        let mut rates = vec![(model.base * 100, None); days.len()];
        for call in calls {
            for (i, d) in days.iter().enumerate() {
                if *d >= call.from && *d < call.to {
                    rates[i] = (call.price.amount, call.min_stay);
                }
            }
        }
        rates
    }

    #[test]
    fn the_layered_calls_produce_every_nights_price() {
        let m = model();
        let from = date!(2026 - 11 - 22);
        let until = date!(2027 - 03 - 14);
        let calls = demo_rates(&m, from, 365, until);
        let expected: Vec<NightRate> = dates(from, 365)
            .into_iter()
            .map(|d| {
                if d < until {
                    m.with_weekend(d)
                } else {
                    m.seasonal(d)
                }
            })
            .collect();
        assert_eq!(apply(&m, from, 365, &calls), expected);
        // Merged ranges keep the call count far below one call per night.
        assert!(calls.len() < 50, "{} calls", calls.len());
        assert!(calls.iter().all(|c| c.from >= from && c.to > c.from));
    }

    #[test]
    fn seasons_and_weekends_move_prices_the_right_way() {
        let m = model();
        let summer = m.with_weekend(date!(2027 - 07 - 13)).0;
        let february = m.with_weekend(date!(2027 - 02 - 09)).0;
        let february_saturday = m.with_weekend(date!(2027 - 02 - 13)).0;
        assert!(
            summer > february_saturday && february_saturday > february,
            "{summer} {february_saturday} {february}"
        );
        assert_eq!(
            m.seasonal(date!(2027 - 04 - 14)).0,
            12900,
            "shoulder season is the base price"
        );
        assert_eq!(
            m.with_weekend(date!(2026 - 12 - 31)),
            (24500, Some(2)),
            "New Year's Eve: no weekend premium, 2 nights"
        );
    }

    #[test]
    fn bench_rates_are_a_couple_of_ranges() {
        let m = model();
        let calls = bench_rates(&m, date!(2026 - 11 - 22), 365);
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(
            (calls[0].from, calls[0].to),
            (date!(2026 - 12 - 20), date!(2027 - 01 - 06))
        );
        assert_eq!(
            (calls[1].from, calls[1].to),
            (date!(2027 - 06 - 15), date!(2027 - 10 - 01))
        );
    }

    #[test]
    fn prices_round_to_the_currency_step() {
        assert_eq!(round_to(2_487.0, 10), 2_490);
        assert_eq!(round_to(0.2, 1), 1);
    }
}
