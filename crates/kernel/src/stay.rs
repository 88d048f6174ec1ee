//! Stays: half-open ranges of nights `[check_in, check_out)`.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::{Error, FieldError, Result};

/// One night, named by the date the guest arrives for it.
pub type Night = Date;

/// A valid stay: at least one night, check-out after check-in, at most `max_nights`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
pub struct StayDates {
    /// First night.
    #[schema(value_type = String, format = Date)]
    check_in: Date,
    /// The morning the guest leaves (not a night of the stay).
    #[schema(value_type = String, format = Date)]
    check_out: Date,
}

impl StayDates {
    /// Validates a stay requested for booking or search: not in the past relative to `today`,
    /// check-out after check-in, no longer than `max_nights`.
    pub fn new(check_in: Date, check_out: Date, today: Date, max_nights: u32) -> Result<Self> {
        let mut errors = Vec::new();
        if check_in < today {
            errors.push(FieldError {
                field: "check_in".into(),
                message: "must not be in the past".into(),
            });
        }
        if check_out <= check_in {
            errors.push(FieldError {
                field: "check_out".into(),
                message: "must be after check_in".into(),
            });
        } else if (check_out - check_in).whole_days() > i64::from(max_nights) {
            errors.push(FieldError {
                field: "check_out".into(),
                message: format!("a stay may be at most {max_nights} nights"),
            });
        }
        if errors.is_empty() {
            Ok(Self {
                check_in,
                check_out,
            })
        } else {
            Err(Error::invalid_fields(errors))
        }
    }

    /// A stay already validated elsewhere (read back from a store): only the ordering is checked.
    pub fn from_stored(check_in: Date, check_out: Date) -> Result<Self> {
        if check_out <= check_in {
            return Err(Error::internal(format!(
                "stored stay {check_in}..{check_out} is empty"
            )));
        }
        Ok(Self {
            check_in,
            check_out,
        })
    }

    /// First night.
    pub fn check_in(&self) -> Date {
        self.check_in
    }

    /// Departure day.
    pub fn check_out(&self) -> Date {
        self.check_out
    }

    /// Number of nights.
    pub fn night_count(&self) -> u32 {
        u32::try_from((self.check_out - self.check_in).whole_days()).unwrap_or(0)
    }

    /// The nights in date order.
    pub fn nights(&self) -> impl Iterator<Item = Night> + '_ {
        let end = self.check_out;
        std::iter::successors(Some(self.check_in), |d| d.next_day()).take_while(move |d| *d < end)
    }

    /// Whether two stays share a night.
    pub fn overlaps(&self, other: &StayDates) -> bool {
        self.check_in < other.check_out && other.check_in < self.check_out
    }
}

impl<'de> Deserialize<'de> for StayDates {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            check_in: Date,
            check_out: Date,
        }
        let raw = Raw::deserialize(d)?;
        StayDates::from_stored(raw.check_in, raw.check_out)
            .map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// A date as the ten ASCII bytes `YYYY-MM-DD`, written from its parts (no formatter, no
/// allocation); `None` for a year outside 0..=9999, which that form cannot hold.
pub fn iso_date(date: Date) -> Option<[u8; 10]> {
    let year = u32::try_from(date.year()).ok().filter(|y| *y <= 9999)?;
    let (month, day) = (u32::from(u8::from(date.month())), u32::from(date.day()));
    let digit = |n: u32| b'0' + (n % 10) as u8;
    Some([
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        b'-',
        digit(month / 10),
        digit(month),
        b'-',
        digit(day / 10),
        digit(day),
    ])
}

/// Reads exactly `YYYY-MM-DD` (what [`iso_date`] writes); `None` for anything else, including
/// a day the month does not have.
pub fn parse_iso_date(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()
}

/// Serialises a date as `YYYY-MM-DD`, as `time` does, but through [`iso_date`]: an
/// availability answer holds hundreds of dates and the general formatter allocates for each.
/// For `#[serde(serialize_with = "innkeeper_kernel::serialize_date")]`.
pub fn serialize_date<S: serde::Serializer>(
    date: &Date,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match iso_date(*date) {
        Some(text) if s.is_human_readable() => {
            // Ten ASCII digits and dashes.
            s.serialize_str(std::str::from_utf8(&text).unwrap_or_default())
        }
        _ => date.serialize(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 22);

    #[test]
    fn a_stay_lists_its_nights_in_order() {
        let stay =
            StayDates::new(date!(2026 - 12 - 30), date!(2027 - 01 - 02), TODAY, 30).expect("valid");
        let nights: Vec<_> = stay.nights().collect();
        assert_eq!(
            nights,
            vec![
                date!(2026 - 12 - 30),
                date!(2026 - 12 - 31),
                date!(2027 - 01 - 01)
            ]
        );
        assert_eq!(stay.night_count(), 3);
    }

    #[test]
    fn illegal_stays_are_refused_with_the_field() {
        let past = StayDates::new(date!(2026 - 11 - 21), date!(2026 - 11 - 23), TODAY, 30)
            .expect_err("past");
        assert_eq!(past.errors[0].field, "check_in");
        let reversed = StayDates::new(date!(2026 - 12 - 05), date!(2026 - 12 - 05), TODAY, 30)
            .expect_err("empty");
        assert_eq!(reversed.errors[0].field, "check_out");
        let long = StayDates::new(date!(2026 - 12 - 01), date!(2027 - 01 - 01), TODAY, 30)
            .expect_err("too long");
        assert!(long.errors[0].message.contains("30 nights"));
    }

    #[test]
    fn stays_overlap_only_when_they_share_a_night() {
        let a =
            StayDates::new(date!(2026 - 12 - 01), date!(2026 - 12 - 03), TODAY, 30).expect("valid");
        let b =
            StayDates::new(date!(2026 - 12 - 03), date!(2026 - 12 - 05), TODAY, 30).expect("valid");
        let c =
            StayDates::new(date!(2026 - 12 - 02), date!(2026 - 12 - 04), TODAY, 30).expect("valid");
        assert!(!a.overlaps(&b));
        assert!(a.overlaps(&c) && c.overlaps(&b));
    }

    #[test]
    fn dates_serialise_as_time_does() {
        use time::macros::date;
        #[derive(Serialize)]
        struct Fast(#[serde(serialize_with = "serialize_date")] Date);
        for d in [
            date!(0001 - 01 - 01),
            date!(0987 - 06 - 05),
            date!(2026 - 12 - 31),
            date!(9999 - 12 - 31),
        ] {
            assert_eq!(
                serde_json::to_string(&Fast(d)).ok(),
                serde_json::to_string(&d).ok()
            );
        }
    }

    #[test]
    fn iso_dates_read_back_what_is_written() {
        use time::macros::date;
        for d in [
            date!(0000 - 01 - 01),
            date!(2024 - 02 - 29),
            date!(9999 - 12 - 31),
        ] {
            let text = iso_date(d).expect("in range");
            assert_eq!(
                parse_iso_date(std::str::from_utf8(&text).expect("ASCII")),
                Some(d)
            );
        }
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-1-01",
            "2026/01/01",
            "+026-01-01",
            "",
            "2026-01-011",
        ] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
    }
}
