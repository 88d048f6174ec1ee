//! Lists of bookings: a guest's own, a hotel's (its owner or an admin), cursor-paginated by
//! `(check_in, id)`.

use innkeeper_kernel::{Error, ErrorCode, HotelId, Page, Principal, Result, Role};
use time::Date;

use super::BookingService;
use crate::api::{Booking, BookingId, BookingQuery};
use crate::store::ListFilter;

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

/// The cursor after a booking: `<check_in>_<id>`.
fn cursor_of(booking: &Booking) -> String {
    format!("{}_{}", booking.stay.check_in(), booking.id)
}

fn parse_cursor(cursor: &str) -> Result<(Date, BookingId)> {
    let bad = || Error::invalid_field("cursor", "is not a cursor this list gave out");
    let (day, id) = cursor.split_once('_').ok_or_else(bad)?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = Date::parse(day, &format).map_err(|_| bad())?;
    let id = uuid::Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((day, BookingId(id)))
}

impl BookingService {
    /// Fails unless the caller runs `hotel_id` (another hotelier's hotel does not exist for
    /// them).
    async fn require_own_hotel(&self, caller: &Principal, hotel_id: HotelId) -> Result<()> {
        let hotel = self.catalog.get_hotel(hotel_id).await?;
        if caller.may_manage(hotel.hotel.owner_id) {
            Ok(())
        } else {
            Err(Error::not_found("hotel", hotel_id))
        }
    }

    pub(super) async fn list_now(
        &self,
        caller: &Principal,
        query: BookingQuery,
    ) -> Result<Page<Booking>> {
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid_field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        if let (Some(from), Some(to)) = (query.from, query.to)
            && to <= from
        {
            return Err(Error::invalid_field("to", "must be after from"));
        }
        let after = query.cursor.as_deref().map(parse_cursor).transpose()?;
        let (guest_id, hotel_id) = match (caller.role, query.hotel_id) {
            (Role::Guest, None) => (Some(caller.user_id), None),
            (Role::Guest, Some(_)) => {
                return Err(Error::new(
                    ErrorCode::Forbidden,
                    "guests list their own bookings",
                ));
            }
            (Role::Hotelier, None) => {
                return Err(Error::invalid_field("hotel_id", "is required"));
            }
            (Role::Hotelier | Role::Admin, Some(hotel_id)) => {
                self.require_own_hotel(caller, hotel_id).await?;
                (None, Some(hotel_id))
            }
            (Role::Admin, None) => (None, None),
            (Role::Service, _) => {
                return Err(Error::new(
                    ErrorCode::Forbidden,
                    "services do not list bookings for anyone",
                ));
            }
        };
        let mut items = self
            .store
            .list(&ListFilter {
                guest_id,
                hotel_id,
                status: query.status,
                from: query.from,
                to: query.to,
                after,
                limit: limit + 1,
            })
            .await?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(cursor_of)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let id = BookingId::new();
        let day = time::macros::date!(2027 - 02 - 10);
        let cursor = format!("{day}_{id}");
        assert_eq!(parse_cursor(&cursor).expect("parses"), (day, id));
        for junk in [
            "",
            "2027-02-10",
            "x_y",
            "2027-13-01_00000000-0000-0000-0000-000000000000",
        ] {
            assert_eq!(
                parse_cursor(junk).expect_err("junk").errors[0].field,
                "cursor"
            );
        }
    }
}
