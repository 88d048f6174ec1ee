//! Checks on what hoteliers send. Each returns the cleaned value or a 422 naming every bad field.

use innkeeper_kernel::{Error, FieldError, GeoPoint, Money, Result};
use time::Date;

use crate::api::{
    Bed, Hotel, HotelPatch, NewHotel, NewRoom, NewRoomType, Room, RoomPatch, RoomType,
    RoomTypePatch,
};

const MAX_NAME: usize = 120;
const MAX_TEXT: usize = 4000;
const MAX_CAPACITY: u32 = 20;
const MAX_AMENITIES: usize = 50;
/// Longest range of nights one rate or allotment change may cover.
pub const MAX_RANGE_NIGHTS: i64 = 731;

#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    fn text(&mut self, field: &str, value: &str, max: usize, required: bool) -> String {
        let value = value.trim();
        if required && value.is_empty() {
            self.add(field, "must not be empty");
        } else if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        } else if value.chars().any(|c| c.is_control() && c != '\n') {
            self.add(field, "must not contain control characters");
        }
        value.to_owned()
    }

    fn country(&mut self, value: &str) -> String {
        let value = value.trim().to_ascii_uppercase();
        if value.len() != 2 || !value.bytes().all(|b| b.is_ascii_uppercase()) {
            self.add("country", "must be an ISO 3166-1 alpha-2 code such as PT");
        }
        value
    }

    fn stars(&mut self, stars: Option<u8>) -> Option<u8> {
        match stars {
            Some(0) | None => None,
            Some(s @ 1..=5) => Some(s),
            Some(_) => {
                self.add("stars", "must be between 1 and 5");
                None
            }
        }
    }

    fn location(&mut self, location: GeoPoint) -> GeoPoint {
        if let Err(e) = GeoPoint::new("location", location.lat, location.lon) {
            self.0.extend(e.errors);
        }
        location
    }

    fn capacity(&mut self, capacity: u32) -> u32 {
        if capacity == 0 || capacity > MAX_CAPACITY {
            self.add("capacity", format!("must be between 1 and {MAX_CAPACITY}"));
        }
        capacity
    }

    fn beds(&mut self, beds: &[Bed]) -> Vec<Bed> {
        if beds.len() > 10 || beds.iter().any(|b| b.count == 0 || b.count > 10) {
            self.add(
                "beds",
                "each bed kind needs a count between 1 and 10, at most 10 kinds",
            );
        }
        beds.to_vec()
    }

    fn amenities(&mut self, amenities: &[String]) -> Vec<String> {
        let mut cleaned: Vec<String> = amenities
            .iter()
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty())
            .collect();
        cleaned.sort();
        cleaned.dedup();
        if cleaned.len() > MAX_AMENITIES || cleaned.iter().any(|a| a.len() > 60) {
            self.add(
                "amenities",
                format!("at most {MAX_AMENITIES} amenities of at most 60 characters"),
            );
        }
        cleaned
    }

    fn price(&mut self, field: &str, price: Money, currency: innkeeper_kernel::Currency) -> Money {
        if let Err(e) = price.check_price(field, currency) {
            self.0.extend(e.errors);
        }
        price
    }

    fn room_number(&mut self, number: &str) -> String {
        let number = self.text("number", number, 16, true);
        if !number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            self.add("number", "may contain only letters, digits and '-'");
        }
        number
    }

    fn floor(&mut self, floor: i32) -> i32 {
        if !(-10..=300).contains(&floor) {
            self.add("floor", "must be between -10 and 300");
        }
        floor
    }

    fn finish<T>(self, value: T) -> Result<T> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(Error::invalid_fields(self.0))
        }
    }
}

/// Checks and cleans a new hotel.
pub fn validate_new_hotel(new: NewHotel) -> Result<NewHotel> {
    let mut p = Problems::default();
    let cleaned = NewHotel {
        name: p.text("name", &new.name, MAX_NAME, true),
        description: p.text("description", &new.description, MAX_TEXT, false),
        address: p.text("address", &new.address, 300, true),
        city: p.text("city", &new.city, MAX_NAME, true),
        country: p.country(&new.country),
        location: p.location(new.location),
        stars: p.stars(new.stars),
        currency: new.currency,
        timezone: p.text("timezone", &new.timezone, 64, true),
    };
    p.finish(cleaned)
}

/// Applies a patch to a hotel, checking the changed fields.
pub fn apply_hotel_patch(hotel: &Hotel, patch: HotelPatch) -> Result<Hotel> {
    let mut p = Problems::default();
    let mut next = hotel.clone();
    if let Some(v) = patch.name {
        next.name = p.text("name", &v, MAX_NAME, true);
    }
    if let Some(v) = patch.description {
        next.description = p.text("description", &v, MAX_TEXT, false);
    }
    if let Some(v) = patch.address {
        next.address = p.text("address", &v, 300, true);
    }
    if let Some(v) = patch.city {
        next.city = p.text("city", &v, MAX_NAME, true);
    }
    if let Some(v) = patch.country {
        next.country = p.country(&v);
    }
    if let Some(v) = patch.location {
        next.location = p.location(v);
    }
    if patch.stars.is_some() {
        next.stars = p.stars(patch.stars);
    }
    if let Some(v) = patch.timezone {
        next.timezone = p.text("timezone", &v, 64, true);
    }
    p.finish(next)
}

/// Checks and cleans a new room type of a hotel with `currency`.
pub fn validate_new_room_type(
    new: NewRoomType,
    currency: innkeeper_kernel::Currency,
) -> Result<NewRoomType> {
    let mut p = Problems::default();
    let cleaned = NewRoomType {
        name: p.text("name", &new.name, MAX_NAME, true),
        description: p.text("description", &new.description, MAX_TEXT, false),
        capacity: p.capacity(new.capacity),
        beds: p.beds(&new.beds),
        amenities: p.amenities(&new.amenities),
        base_price: p.price("base_price", new.base_price, currency),
    };
    p.finish(cleaned)
}

/// Applies a patch to a room type.
pub fn apply_room_type_patch(room_type: &RoomType, patch: RoomTypePatch) -> Result<RoomType> {
    let mut p = Problems::default();
    let mut next = room_type.clone();
    let currency = room_type.base_price.currency;
    if let Some(v) = patch.name {
        next.name = p.text("name", &v, MAX_NAME, true);
    }
    if let Some(v) = patch.description {
        next.description = p.text("description", &v, MAX_TEXT, false);
    }
    if let Some(v) = patch.capacity {
        next.capacity = p.capacity(v);
    }
    if let Some(v) = patch.beds {
        next.beds = p.beds(&v);
    }
    if let Some(v) = patch.amenities {
        next.amenities = p.amenities(&v);
    }
    if let Some(v) = patch.base_price {
        next.base_price = p.price("base_price", v, currency);
    }
    p.finish(next)
}

/// Checks a new room.
pub fn validate_new_room(new: NewRoom) -> Result<NewRoom> {
    let mut p = Problems::default();
    let cleaned = NewRoom {
        number: p.room_number(&new.number),
        floor: p.floor(new.floor),
        ..new
    };
    p.finish(cleaned)
}

/// Applies a patch to a room.
pub fn apply_room_patch(room: &Room, patch: RoomPatch) -> Result<Room> {
    let mut p = Problems::default();
    let mut next = room.clone();
    if let Some(v) = patch.number {
        next.number = p.room_number(&v);
    }
    if let Some(v) = patch.floor {
        next.floor = p.floor(v);
    }
    if let Some(v) = patch.room_type_id {
        next.room_type_id = v;
    }
    if let Some(v) = patch.status {
        next.status = v;
    }
    p.finish(next)
}

/// Checks a range of nights `[from, to)` for a rate or allotment change; returns its length.
pub fn check_night_range(from: Date, to: Date, today: Date) -> Result<u32> {
    let mut p = Problems::default();
    if from < today {
        p.add("from", "must not be in the past");
    }
    let nights = (to - from).whole_days();
    if nights <= 0 {
        p.add("to", "must be after from");
    } else if nights > MAX_RANGE_NIGHTS {
        p.add(
            "to",
            format!("a range may cover at most {MAX_RANGE_NIGHTS} nights"),
        );
    }
    p.finish(u32::try_from(nights).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use innkeeper_kernel::Currency;
    use time::macros::date;

    use super::*;

    fn hotel() -> NewHotel {
        NewHotel {
            name: "  Casa Azul ".into(),
            description: String::new(),
            address: "Rua Augusta 1".into(),
            city: "Lisbon".into(),
            country: "pt".into(),
            location: GeoPoint {
                lat: 38.71,
                lon: -9.14,
            },
            stars: Some(4),
            currency: Currency::EUR,
            timezone: "Europe/Lisbon".into(),
        }
    }

    #[test]
    fn a_good_hotel_is_cleaned() {
        let h = validate_new_hotel(hotel()).expect("valid");
        assert_eq!(h.name, "Casa Azul");
        assert_eq!(h.country, "PT");
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = NewHotel {
            name: " ".into(),
            country: "Portugal".into(),
            stars: Some(7),
            location: GeoPoint {
                lat: 100.0,
                lon: 0.0,
            },
            ..hotel()
        };
        let err = validate_new_hotel(bad).expect_err("invalid");
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["name", "country", "location", "stars"]);
    }

    #[test]
    fn room_types_need_a_capacity_and_a_price_in_the_hotel_currency() {
        let new = NewRoomType {
            name: "Suite".into(),
            description: String::new(),
            capacity: 0,
            beds: vec![],
            amenities: vec!["WiFi".into(), "wifi ".into()],
            base_price: Money {
                amount: -5,
                currency: Currency::EUR,
            },
        };
        let err = validate_new_room_type(new.clone(), Currency::EUR).expect_err("invalid");
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["capacity", "base_price.amount"]);
        let ok = validate_new_room_type(
            NewRoomType {
                capacity: 2,
                base_price: Money {
                    amount: 5,
                    currency: Currency::EUR,
                },
                ..new
            },
            Currency::EUR,
        )
        .expect("valid");
        assert_eq!(ok.amenities, vec!["wifi"]);
    }

    #[test]
    fn night_ranges_are_forward_bounded_and_not_in_the_past() {
        let today = date!(2026 - 11 - 22);
        assert_eq!(
            check_night_range(date!(2026 - 12 - 01), date!(2026 - 12 - 08), today),
            Ok(7)
        );
        assert!(check_night_range(date!(2026 - 11 - 01), date!(2026 - 12 - 08), today).is_err());
        assert!(check_night_range(date!(2026 - 12 - 08), date!(2026 - 12 - 08), today).is_err());
        assert!(check_night_range(date!(2026 - 12 - 08), date!(2029 - 12 - 08), today).is_err());
    }
}
