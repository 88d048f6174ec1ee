//! Checks of what a guest sends, collected into one 422 naming every bad field.

use innkeeper_kernel::{Error, FieldError, Result, StayDates};
use time::Date;

use crate::api::NewBooking;

/// Longest guest name, special request and cancellation reason, in characters.
const MAX_NAME: usize = 200;
const MAX_TEXT: usize = 1000;

/// A booking request whose fields are all valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValidRequest {
    pub stay: StayDates,
    pub rooms: u32,
    pub guest_name: String,
    pub guest_email: Option<String>,
    pub special_requests: Option<String>,
}

/// Validates a booking request made on `today`.
pub(crate) fn validate(new: &NewBooking, today: Date, max_nights: u32) -> Result<ValidRequest> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut bad = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.to_owned(),
            message,
        })
    };
    let stay = StayDates::new(new.check_in, new.check_out, today, max_nights);
    let rooms = new.rooms.unwrap_or(1);
    if !(1..=9).contains(&rooms) {
        bad("rooms", "must be between 1 and 9".to_owned());
    }
    if new.guests == 0 {
        bad("guests", "must be at least 1".to_owned());
    }
    let guest_name = new.guest_name.trim().to_owned();
    if guest_name.is_empty() || guest_name.chars().count() > MAX_NAME {
        bad("guest_name", format!("must be 1 to {MAX_NAME} characters"));
    }
    let guest_email = new
        .guest_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned);
    if let Some(email) = &guest_email {
        let plausible = email.len() <= 254
            && email
                .split_once('@')
                .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
        if !plausible {
            bad("guest_email", "must be an email address".to_owned());
        }
    }
    let special_requests = text(new.special_requests.as_deref());
    if special_requests
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_TEXT)
    {
        bad(
            "special_requests",
            format!("must be at most {MAX_TEXT} characters"),
        );
    }
    let stay = match stay {
        Ok(stay) => Some(stay),
        Err(err) => {
            errors.extend(err.errors);
            None
        }
    };
    match stay {
        Some(stay) if errors.is_empty() => Ok(ValidRequest {
            stay,
            rooms,
            guest_name,
            guest_email,
            special_requests,
        }),
        _ => Err(Error::invalid_fields(errors)),
    }
}

/// A cancellation reason: trimmed, at most 1000 characters.
pub(crate) fn reason(reason: Option<&str>) -> Result<Option<String>> {
    let reason = text(reason);
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_TEXT)
    {
        return Err(Error::invalid_field(
            "reason",
            format!("must be at most {MAX_TEXT} characters"),
        ));
    }
    Ok(reason)
}

fn text(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use innkeeper_kernel::{HotelId, RoomTypeId};
    use time::macros::date;

    use super::*;

    const TODAY: Date = date!(2027 - 01 - 05);

    fn request() -> NewBooking {
        NewBooking {
            hotel_id: HotelId::new(),
            room_type_id: RoomTypeId::new(),
            check_in: date!(2027 - 02 - 10),
            check_out: date!(2027 - 02 - 12),
            guests: 2,
            rooms: None,
            guest_name: "  Ana Lima ".to_owned(),
            guest_email: Some("ana@example.test".to_owned()),
            special_requests: Some("   ".to_owned()),
        }
    }

    #[test]
    fn a_good_request_is_normalised() {
        let valid = validate(&request(), TODAY, 30).expect("valid");
        assert_eq!(valid.rooms, 1);
        assert_eq!(valid.guest_name, "Ana Lima");
        assert_eq!(valid.special_requests, None);
        assert_eq!(valid.stay.night_count(), 2);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let bad = NewBooking {
            check_in: date!(2027 - 01 - 04),
            check_out: date!(2027 - 01 - 04),
            guests: 0,
            rooms: Some(10),
            guest_name: " ".to_owned(),
            guest_email: Some("not-an-email".to_owned()),
            special_requests: Some("x".repeat(1001)),
            ..request()
        };
        let err = validate(&bad, TODAY, 30).expect_err("invalid");
        let mut fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "check_in",
                "check_out",
                "guest_email",
                "guest_name",
                "guests",
                "rooms",
                "special_requests"
            ]
        );
        let long = NewBooking {
            check_out: date!(2027 - 03 - 20),
            ..request()
        };
        let err = validate(&long, TODAY, 30).expect_err("too long");
        assert_eq!(err.errors[0].field, "check_out");
    }

    #[test]
    fn reasons_are_trimmed_and_bounded() {
        assert_eq!(reason(Some("  ill ")).expect("ok"), Some("ill".to_owned()));
        assert_eq!(reason(Some("")).expect("ok"), None);
        assert!(reason(Some(&"x".repeat(1001))).is_err());
    }
}
