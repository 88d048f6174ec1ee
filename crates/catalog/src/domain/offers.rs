//! Pricing a stay from the stored nights of a room type, and what makes an offer.

use innkeeper_kernel::{GeoPoint, Money, Result, StayDates};

use crate::api::{NightPrice, RoomType};
use crate::store::{BoundingBox, StoredNight};

/// A stay priced night by night, with what is left.
#[derive(Debug, Clone, PartialEq)]
pub struct StayPrice {
    /// Price of one room per night.
    pub nights: Vec<NightPrice>,
    /// Whole stay for all rooms.
    pub total: Money,
    /// Fewest free rooms on any night.
    pub rooms_left: u32,
    /// The shortest stay allowed to start on the check-in night, if any.
    pub min_stay: Option<u32>,
}

/// Whether `rooms` rooms of `capacity` sleep `guests`: every room has a guest, none is over capacity.
#[cfg(test)]
pub fn fits(capacity: u32, guests: u32, rooms: u32) -> bool {
    rooms >= 1 && guests >= rooms && u64::from(capacity) * u64::from(rooms) >= u64::from(guests)
}

/// Prices `rooms` rooms of `room_type` for `stay`. `stored` are the materialised nights of the
/// room type sorted by night (others may be present); missing nights have the default
/// allotment (`active_rooms`), nothing held or sold, and the base price.
pub fn price_stay(
    room_type: &RoomType,
    stored: &[StoredNight],
    stay: &StayDates,
    rooms: u32,
) -> Result<StayPrice> {
    let currency = room_type.base_price.currency;
    let mut nights = Vec::with_capacity(stay.night_count() as usize);
    let mut per_room_total = Money::zero(currency);
    let mut rooms_left = u32::MAX;
    let mut min_stay = None;
    let mut rows = stored.iter().peekable();
    for (i, night) in stay.nights().enumerate() {
        while rows.next_if(|row| row.night < night).is_some() {}
        let row = rows.next_if(|row| row.night == night);
        let (free, price, row_min_stay) = match row {
            Some(r) => (
                r.total.saturating_sub(r.held.saturating_add(r.sold)),
                r.price.unwrap_or(room_type.base_price.amount),
                r.min_stay,
            ),
            None => (room_type.active_rooms, room_type.base_price.amount, None),
        };
        if i == 0 {
            min_stay = row_min_stay.filter(|m| *m > 1);
        }
        rooms_left = rooms_left.min(free);
        let price = Money {
            amount: price,
            currency,
        };
        per_room_total = per_room_total.checked_add(price)?;
        nights.push(NightPrice { night, price });
    }
    Ok(StayPrice {
        nights,
        total: per_room_total.times(rooms)?,
        rooms_left: if rooms_left == u32::MAX {
            0
        } else {
            rooms_left
        },
        min_stay,
    })
}

/// The total of a stay for `rooms` rooms and the fewest free rooms, without allocating;
/// `None` when the stay cannot be sold (a night short of rooms, or under the minimum stay).
/// Same rules as [`price_stay`]: the sparse reference that the search index's dense
/// `Slot::stay_total` is tested against.
#[cfg(test)]
pub fn stay_total(
    room_type: &RoomType,
    stored: &[StoredNight],
    stay: &StayDates,
    rooms: u32,
) -> Option<(i64, u32)> {
    let mut total: i64 = 0;
    let mut rooms_left = u32::MAX;
    let mut rows = stored.iter().peekable();
    for (i, night) in stay.nights().enumerate() {
        while rows.next_if(|row| row.night < night).is_some() {}
        let (free, price, min_stay) = match rows.next_if(|row| row.night == night) {
            Some(r) => (
                r.total.saturating_sub(r.held.saturating_add(r.sold)),
                r.price.unwrap_or(room_type.base_price.amount),
                r.min_stay,
            ),
            None => (room_type.active_rooms, room_type.base_price.amount, None),
        };
        if i == 0 && min_stay.is_some_and(|m| stay.night_count() < m) {
            return None;
        }
        if free < rooms {
            return None;
        }
        rooms_left = rooms_left.min(free);
        total = total.checked_add(price)?;
    }
    Some((total.checked_mul(i64::from(rooms))?, rooms_left))
}

/// The box around `centre` that contains the circle of `radius_km` (clamped at the poles
/// and the antimeridian; the caller filters by true distance).
pub fn bounding_box(centre: GeoPoint, radius_km: f64) -> BoundingBox {
    const KM_PER_DEGREE: f64 = 111.32;
    let dlat = radius_km / KM_PER_DEGREE;
    let cos = centre.lat.to_radians().cos().max(0.01);
    let dlon = (radius_km / (KM_PER_DEGREE * cos)).min(180.0);
    BoundingBox {
        min_lat: (centre.lat - dlat).max(-90.0),
        max_lat: (centre.lat + dlat).min(90.0),
        min_lon: (centre.lon - dlon).max(-180.0),
        max_lon: (centre.lon + dlon).min(180.0),
    }
}

#[cfg(test)]
mod tests {
    use innkeeper_kernel::{Currency, HotelId, RoomTypeId};
    use time::macros::date;

    use super::*;

    fn room_type(active_rooms: u32) -> RoomType {
        RoomType {
            id: RoomTypeId::new(),
            hotel_id: HotelId::new(),
            name: "Double".into(),
            description: String::new(),
            capacity: 2,
            beds: vec![],
            amenities: vec![],
            base_price: Money {
                amount: 10_000,
                currency: Currency::EUR,
            },
            active_rooms,
            version: 1,
        }
    }

    fn stay() -> StayDates {
        StayDates::new(
            date!(2027 - 03 - 01),
            date!(2027 - 03 - 04),
            date!(2027 - 01 - 01),
            30,
        )
        .expect("valid")
    }

    fn night(day: time::Date, total: u32, held: u32, sold: u32, price: Option<i64>) -> StoredNight {
        StoredNight {
            night: day,
            total,
            held,
            sold,
            price,
            min_stay: None,
            rev: 1,
        }
    }

    #[test]
    fn missing_nights_take_the_base_price_and_default_allotment() {
        let priced = price_stay(&room_type(4), &[], &stay(), 2).expect("priced");
        assert_eq!(priced.nights.len(), 3);
        assert_eq!(priced.total.amount, 3 * 10_000 * 2);
        assert_eq!(priced.rooms_left, 4);
        assert_eq!(
            stay_total(&room_type(4), &[], &stay(), 2),
            Some((60_000, 4))
        );
    }

    #[test]
    fn seasonal_prices_and_counters_override_the_defaults() {
        let stored = [
            night(date!(2027 - 02 - 28), 1, 1, 0, Some(1)), // before the stay: ignored
            night(date!(2027 - 03 - 02), 5, 2, 2, Some(15_000)),
        ];
        let priced = price_stay(&room_type(4), &stored, &stay(), 1).expect("priced");
        let prices: Vec<_> = priced.nights.iter().map(|n| n.price.amount).collect();
        assert_eq!(prices, vec![10_000, 15_000, 10_000]);
        assert_eq!(priced.total.amount, 35_000);
        assert_eq!(priced.rooms_left, 1);
        assert_eq!(stay_total(&room_type(4), &stored, &stay(), 2), None);
    }

    #[test]
    fn a_min_stay_on_the_arrival_night_blocks_shorter_stays() {
        let stored = [StoredNight {
            min_stay: Some(4),
            ..night(date!(2027 - 03 - 01), 3, 0, 0, None)
        }];
        let priced = price_stay(&room_type(3), &stored, &stay(), 1).expect("priced");
        assert_eq!(priced.min_stay, Some(4));
        assert_eq!(stay_total(&room_type(3), &stored, &stay(), 1), None);
    }

    #[test]
    fn the_quick_total_agrees_with_the_full_price() {
        let stored = [night(date!(2027 - 03 - 02), 5, 2, 2, Some(15_000))];
        let full = price_stay(&room_type(4), &stored, &stay(), 1).expect("priced");
        assert_eq!(
            stay_total(&room_type(4), &stored, &stay(), 1),
            Some((full.total.amount, full.rooms_left))
        );
        assert_eq!(stay_total(&room_type(4), &stored, &stay(), 2), None);
    }

    #[test]
    fn guests_fit_when_every_room_has_one_and_none_is_over_capacity() {
        assert!(fits(2, 2, 1));
        assert!(!fits(2, 3, 1));
        assert!(fits(2, 3, 2));
        assert!(!fits(2, 1, 2));
        assert!(!fits(2, 0, 0));
    }

    #[test]
    fn the_box_contains_the_circle() {
        let lisbon = GeoPoint {
            lat: 38.72,
            lon: -9.14,
        };
        let b = bounding_box(lisbon, 10.0);
        for (dlat, dlon) in [(0.0895, 0.0), (-0.0895, 0.0), (0.0, 0.114), (0.0, -0.114)] {
            let p = GeoPoint {
                lat: lisbon.lat + dlat,
                lon: lisbon.lon + dlon,
            };
            assert!(lisbon.distance_km(&p) <= 10.01);
            assert!(
                p.lat >= b.min_lat
                    && p.lat <= b.max_lat
                    && p.lon >= b.min_lon
                    && p.lon <= b.max_lon,
                "{p:?} {b:?}"
            );
        }
    }
}
