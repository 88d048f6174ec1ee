//! Checking query parameters, collecting every problem before answering.
//!
//! A parameter that cannot be read (not a number, not a date, missing when required) makes
//! the request malformed: 400 `invalid_request`. A parameter that reads but is out of range or
//! inconsistent with another is semantically invalid: 422 `validation_failed`. Both name every
//! offending parameter in `errors`.

use std::str::FromStr;

use innkeeper_kernel::{Error, FieldError, GeoPoint};
use time::Date;
use time::macros::format_description;

use crate::problem::ApiError;

/// Collects parameter problems; [`ParamCheck::finish`] reports them all at once.
#[derive(Debug, Default)]
pub(crate) struct ParamCheck {
    malformed: Vec<FieldError>,
    invalid: Vec<FieldError>,
}

/// An absent or empty parameter is not given (HTML forms send empty ones).
fn given(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|v| !v.is_empty())
}

impl ParamCheck {
    /// Records an unreadable parameter (400).
    pub(crate) fn malformed(&mut self, field: &str, message: impl Into<String>) {
        self.malformed.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Records an out-of-range or inconsistent parameter (422).
    pub(crate) fn invalid(&mut self, field: &str, message: impl Into<String>) {
        self.invalid.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Takes the field problems of a kernel validation error as invalid parameters.
    pub(crate) fn absorb(&mut self, err: Error) {
        if err.errors.is_empty() {
            self.invalid.push(FieldError {
                field: String::new(),
                message: err.message,
            });
        } else {
            self.invalid.extend(err.errors);
        }
    }

    /// A required parameter, trimmed.
    pub(crate) fn required<'a>(&mut self, field: &str, raw: Option<&'a str>) -> Option<&'a str> {
        let value = given(raw);
        if value.is_none() {
            self.malformed(field, "is required");
        }
        value
    }

    /// A `YYYY-MM-DD` date.
    pub(crate) fn date(&mut self, field: &str, raw: Option<&str>) -> Option<Date> {
        let value = given(raw)?;
        let parsed = Date::parse(value, format_description!("[year]-[month]-[day]")).ok();
        if parsed.is_none() {
            self.malformed(field, "must be a date in the form YYYY-MM-DD");
        }
        parsed
    }

    /// A required `YYYY-MM-DD` date.
    pub(crate) fn required_date(&mut self, field: &str, raw: Option<&str>) -> Option<Date> {
        let value = self.required(field, raw)?;
        self.date(field, Some(value))
    }

    /// An integer within `range`.
    pub(crate) fn int<T>(
        &mut self,
        field: &str,
        raw: Option<&str>,
        range: std::ops::RangeInclusive<T>,
    ) -> Option<T>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let value = given(raw)?;
        let Ok(n) = value.parse::<T>() else {
            self.malformed(field, "must be a whole number");
            return None;
        };
        if !range.contains(&n) {
            self.invalid(
                field,
                format!("must be between {} and {}", range.start(), range.end()),
            );
            return None;
        }
        Some(n)
    }

    /// A finite decimal number.
    pub(crate) fn number(&mut self, field: &str, raw: Option<&str>) -> Option<f64> {
        let value = given(raw)?;
        match value.parse::<f64>() {
            Ok(n) if n.is_finite() => Some(n),
            _ => {
                self.malformed(field, "must be a number");
                None
            }
        }
    }

    /// A `lat,lon` coordinate.
    pub(crate) fn point(&mut self, field: &str, raw: Option<&str>) -> Option<GeoPoint> {
        let value = given(raw)?;
        let parsed = value.split_once(',').and_then(|(lat, lon)| {
            let lat = lat.trim().parse::<f64>().ok()?;
            let lon = lon.trim().parse::<f64>().ok()?;
            Some((lat, lon))
        });
        let Some((lat, lon)) = parsed else {
            self.malformed(
                field,
                "must be `lat,lon` in decimal degrees, such as 38.71,-9.14",
            );
            return None;
        };
        match GeoPoint::new(field, lat, lon) {
            Ok(point) => Some(point),
            Err(err) => {
                self.absorb(err);
                None
            }
        }
    }

    /// A free-text parameter of at most `max` characters.
    pub(crate) fn text(&mut self, field: &str, raw: Option<&str>, max: usize) -> Option<String> {
        let value = given(raw)?;
        if value.chars().count() > max {
            self.invalid(field, format!("must be at most {max} characters"));
            return None;
        }
        Some(value.to_owned())
    }

    /// `value` if nothing was wrong; `value` is what was built from the parameters and is
    /// `None` only when a problem was recorded.
    pub(crate) fn conclude<T>(self, value: Option<T>) -> Result<T, ApiError> {
        self.finish()?;
        value.ok_or_else(|| {
            ApiError(Error::invalid_request(
                "the query parameters are incomplete",
            ))
        })
    }

    /// The problems as one error: 400 if any parameter was unreadable, else 422.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        let (errors, malformed) = if !self.malformed.is_empty() {
            let mut all = self.malformed;
            all.extend(self.invalid);
            (all, true)
        } else {
            (self.invalid, false)
        };
        if errors.is_empty() {
            return Ok(());
        }
        let mut err = Error::invalid_fields(errors);
        if malformed {
            err.code = innkeeper_kernel::ErrorCode::InvalidRequest;
        }
        Err(ApiError(err))
    }
}

#[cfg(test)]
mod tests {
    use innkeeper_kernel::ErrorCode;
    use time::macros::date;

    use super::*;

    #[test]
    fn readable_values_come_back_typed() {
        let mut check = ParamCheck::default();
        assert_eq!(
            check.date("check_in", Some("2026-12-01")),
            Some(date!(2026 - 12 - 01))
        );
        assert_eq!(check.int("guests", Some(" 2 "), 1..=50u32), Some(2));
        assert_eq!(check.int::<u32>("rooms", Some(""), 1..=9), None);
        assert!(check.point("near", Some("38.71, -9.14")).is_some());
        assert!(check.finish().is_ok());
    }

    #[test]
    fn unreadable_values_are_malformed_and_named() {
        let mut check = ParamCheck::default();
        check.date("check_in", Some("01/12/2026"));
        check.int("guests", Some("0"), 1..=50u32);
        let err = check.finish().expect_err("bad").0;
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["check_in", "guests"]);
    }

    #[test]
    fn out_of_range_values_are_invalid() {
        let mut check = ParamCheck::default();
        check.int("rooms", Some("10"), 1..=9u32);
        check.point("near", Some("91,0"));
        let err = check.finish().expect_err("bad").0;
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["rooms", "near"]);
    }
}
