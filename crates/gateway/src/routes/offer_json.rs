//! The JSON of a list of offers, written field by field.
//!
//! Availability is the hottest answer the platform gives and an offer is mostly fixed keys,
//! ids, dates and numbers: going through serde escapes every key and every id byte by byte
//! and formats each date through a generic formatter. Here keys are byte literals, ids and
//! dates are written from their parts, and only free text (names) goes through serde_json's
//! escaping. The output is the same document `Offer`'s derived `Serialize` produces (and the
//! OpenAPI schema describes); a test holds the two together.

use innkeeper_catalog::api::Offer;
use innkeeper_kernel::{Currency, Money};
use time::Date;

/// Appends `offers` as a JSON array to `out`.
pub(crate) fn write_offers(out: &mut Vec<u8>, offers: &[Offer]) {
    out.push(b'[');
    for (i, offer) in offers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_offer(out, offer);
    }
    out.push(b']');
}

fn write_offer(out: &mut Vec<u8>, offer: &Offer) {
    let hotel = &offer.hotel;
    out.extend_from_slice(br#"{"hotel":{"id":"#);
    uuid(out, hotel.id.as_uuid());
    out.extend_from_slice(br#","name":"#);
    text(out, &hotel.name);
    out.extend_from_slice(br#","city":"#);
    text(out, &hotel.city);
    out.extend_from_slice(br#","country":"#);
    text(out, &hotel.country);
    out.extend_from_slice(br#","location":{"lat":"#);
    number(out, hotel.location.lat);
    out.extend_from_slice(br#","lon":"#);
    number(out, hotel.location.lon);
    out.extend_from_slice(br#"},"stars":"#);
    match hotel.stars {
        Some(stars) => integer(out, stars),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","currency":"#);
    currency(out, hotel.currency);
    out.extend_from_slice(br#","distance_km":"#);
    match hotel.distance_km {
        Some(km) => number(out, km),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#"},"room_type_id":"#);
    uuid(out, offer.room_type_id.as_uuid());
    out.extend_from_slice(br#","room_type_name":"#);
    text(out, &offer.room_type_name);
    out.extend_from_slice(br#","capacity":"#);
    integer(out, offer.capacity);
    out.extend_from_slice(br#","check_in":"#);
    date(out, offer.check_in);
    out.extend_from_slice(br#","check_out":"#);
    date(out, offer.check_out);
    out.extend_from_slice(br#","rooms":"#);
    integer(out, offer.rooms);
    out.extend_from_slice(br#","nights":["#);
    for (i, night) in offer.nights.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"night":"#);
        date(out, night.night);
        out.extend_from_slice(br#","price":"#);
        money(out, night.price);
        out.push(b'}');
    }
    out.extend_from_slice(br#"],"total":"#);
    money(out, offer.total);
    out.extend_from_slice(br#","rooms_left":"#);
    integer(out, offer.rooms_left);
    out.push(b'}');
}

fn money(out: &mut Vec<u8>, money: Money) {
    out.extend_from_slice(br#"{"amount":"#);
    integer(out, money.amount);
    out.extend_from_slice(br#","currency":"#);
    currency(out, money.currency);
    out.push(b'}');
}

/// A currency code is three ASCII capitals (the type guarantees it): nothing to escape.
fn currency(out: &mut Vec<u8>, currency: Currency) {
    out.push(b'"');
    out.extend_from_slice(currency.as_str().as_bytes());
    out.push(b'"');
}

fn uuid(out: &mut Vec<u8>, id: uuid::Uuid) {
    let mut buf = uuid::Uuid::encode_buffer();
    out.push(b'"');
    out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
    out.push(b'"');
}

/// `"YYYY-MM-DD"`, as `time` writes a date; years outside 0..=9999 take serde's path.
fn date(out: &mut Vec<u8>, date: Date) {
    match innkeeper_kernel::iso_date(date) {
        Some(text) => {
            out.push(b'"');
            out.extend_from_slice(&text);
            out.push(b'"');
        }
        // `time` always serialises a date; a failure here would be a bug in it.
        None => {
            let _ = serde_json::to_writer(&mut *out, &date);
        }
    }
}

fn integer(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A float as serde_json writes it (shortest round-trip form; `null` when not finite).
fn number(out: &mut Vec<u8>, n: f64) {
    // Writing a float into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &n);
}

/// Free text, escaped as JSON requires.
fn text(out: &mut Vec<u8>, s: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use innkeeper_catalog::api::{HotelSummary, NightPrice};
    use innkeeper_kernel::{GeoPoint, HotelId, RoomTypeId};
    use time::macros::date;

    use super::*;

    fn offer() -> Offer {
        let eur = Currency::EUR;
        Offer {
            hotel: HotelSummary {
                id: HotelId::new(),
                name: "Casa \"do\" Zé \\ \u{1}\n".into(),
                city: "Lisboa".into(),
                country: "PT".into(),
                location: GeoPoint {
                    lat: 38.705_079_819_236_99,
                    lon: -9.1,
                },
                stars: Some(5),
                currency: eur,
                distance_km: Some(2.75),
            },
            room_type_id: RoomTypeId::new(),
            room_type_name: "Double </script>".into(),
            capacity: 2,
            check_in: date!(2026 - 12 - 30),
            check_out: date!(2027 - 01 - 01),
            rooms: 2,
            nights: vec![
                NightPrice {
                    night: date!(2026 - 12 - 30),
                    price: Money {
                        amount: 0,
                        currency: eur,
                    },
                },
                NightPrice {
                    night: date!(2026 - 12 - 31),
                    price: Money {
                        amount: i64::MAX,
                        currency: eur,
                    },
                },
            ],
            total: Money {
                amount: 12_900,
                currency: eur,
            },
            rooms_left: u32::MAX,
        }
    }

    fn written(offers: &[Offer]) -> String {
        let mut out = Vec::new();
        write_offers(&mut out, offers);
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    #[test]
    fn writes_what_serde_writes() {
        let plain = offer();
        let mut bare = offer();
        bare.hotel.stars = None;
        bare.hotel.distance_km = None;
        bare.hotel.location = GeoPoint {
            lat: 0.0,
            lon: -180.0,
        };
        bare.nights.clear();
        bare.check_in = date!(0001 - 01 - 01);
        for offers in [vec![], vec![plain.clone()], vec![plain, bare]] {
            let expected = serde_json::to_string(&offers).expect("serialises");
            assert_eq!(written(&offers), expected);
        }
    }

    #[test]
    fn every_date_is_written_as_serde_writes_it() {
        let mut day = date!(0001 - 01 - 01);
        while day < date!(2100 - 01 - 01) {
            let mut out = Vec::new();
            date(&mut out, day);
            assert_eq!(out, serde_json::to_vec(&day).expect("serialises"), "{day}");
            day = day.next_day().expect("in range");
            if day == date!(0010 - 01 - 01) {
                day = date!(1999 - 01 - 01);
            }
        }
    }
}
