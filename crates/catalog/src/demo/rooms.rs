//! Room types a hotel of a given standing offers, and its physical rooms numbered by floor.

use innkeeper_kernel::Currency;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::index;

use super::data::City;
use super::rates::{PriceModel, round_to};
use super::templates::{TEMPLATES, Template};
use super::{RoomPlan, RoomTypePlan};
use crate::api::BedKind::*;
use crate::api::{Bed, BedKind, NewRoomType, RoomStatus};

/// Nightly price of a standard double in an average city, euros, by stars (index 0 unused).
const STANDARD_PRICE: [f64; 6] = [60.0, 60.0, 72.0, 98.0, 145.0, 260.0];

/// Amenities every room of a hotel of this standing has.
fn hotel_amenities(stars: u8) -> Vec<&'static str> {
    let mut list = vec!["wifi", "heating", "private bathroom", "hairdryer"];
    if stars >= 3 {
        list.extend(["air conditioning", "flat-screen tv"]);
    }
    if stars >= 4 {
        list.extend(["minibar", "in-room safe", "coffee machine", "bathrobes"]);
    }
    if stars >= 5 {
        list.extend(["premium toiletries", "turndown service", "pillow menu"]);
    }
    list
}

/// The templates a hotel offers: its core type plus a random few of the others it may offer,
/// 3 to 6 in all, cheapest first.
pub(super) fn pick_templates(rng: &mut StdRng, stars: u8) -> Vec<&'static Template> {
    let eligible: Vec<&Template> = TEMPLATES
        .iter()
        .filter(|t| (t.stars.0..=t.stars.1).contains(&stars))
        .collect();
    let (core, optional): (Vec<&Template>, Vec<&Template>) =
        eligible.into_iter().partition(|t| t.core);
    let wanted = rng
        .random_range(3..=6usize)
        .min(core.len() + optional.len());
    let extra = wanted.saturating_sub(core.len()).min(optional.len());
    let mut chosen = core;
    chosen.extend(
        index::sample(rng, optional.len(), extra)
            .into_iter()
            .map(|i| optional[i]),
    );
    chosen.sort_by_key(|t| TEMPLATES.iter().position(|x| x.name == t.name));
    chosen
}

/// The base price of a template in a hotel: by stars, city and type, with a little noise,
/// ending in 9 (or 90 crowns) like real rack rates.
pub(super) fn price_model(
    rng: &mut StdRng,
    city: &City,
    currency: Currency,
    stars: u8,
    template: &Template,
    weekend_premium: f64,
) -> PriceModel {
    let stars = usize::from(stars.clamp(1, 5));
    let noise = rng.random_range(0.92..1.08);
    let raw =
        STANDARD_PRICE[stars] * city.price_factor * city.per_euro * template.price_factor * noise;
    let base = (round_to(raw, 10 * city.step) - city.step).max(city.step);
    PriceModel {
        base,
        currency,
        step: city.step,
        weekend_premium,
    }
}

/// "a king-size bed and a sofa bed"
fn describe_beds(beds: &[(BedKind, u8)]) -> String {
    let parts: Vec<String> = beds
        .iter()
        .map(|(kind, count)| {
            let noun = match kind {
                Single => "single bed",
                Double => "double bed",
                Queen => "queen-size bed",
                King => "king-size bed",
                Twin => "twin bed",
                Sofa => "sofa bed",
                Bunk => "bunk bed",
            };
            match count {
                1 => format!("a {noun}"),
                2 => format!("two {noun}s"),
                3 => format!("three {noun}s"),
                n => format!("{n} {noun}s"),
            }
        })
        .collect();
    parts.join(" and ")
}

/// A room type to create from a template.
pub(super) fn new_room_type(
    rng: &mut StdRng,
    template: &Template,
    stars: u8,
    view: Option<&str>,
    model: &PriceModel,
) -> NewRoomType {
    let name = match (template.takes_view, view) {
        (true, Some(view)) => format!("Deluxe {view}"),
        _ => template.name.to_owned(),
    };
    let size = rng.random_range(template.size_m2.0..=template.size_m2.1);
    let mut amenities: Vec<String> = hotel_amenities(stars)
        .into_iter()
        .chain(template.amenities.iter().copied())
        .map(str::to_owned)
        .collect();
    if rng.random_bool(0.5) {
        amenities.push("kettle".to_owned());
    }
    if template.price_factor >= 1.3 && rng.random_bool(0.4) {
        amenities.push("balcony".to_owned());
    }
    if let (true, Some(view)) = (template.takes_view, view) {
        amenities.push(view.to_lowercase());
    }
    NewRoomType {
        name,
        description: format!(
            "{size} m² with {}. {}",
            describe_beds(template.beds),
            template.blurb
        ),
        capacity: template.capacity,
        beds: template
            .beds
            .iter()
            .map(|(kind, count)| Bed {
                kind: *kind,
                count: *count,
            })
            .collect(),
        amenities,
        base_price: model.base_price(),
    }
}

/// Numbers rooms floor by floor (101, 102, ... then 201, ...), `per_floor` to a floor, in the
/// order of `types`; cheap rooms low, suites on top.
pub(super) struct FloorPlan {
    per_floor: u32,
    floor: i32,
    next: u32,
}

impl FloorPlan {
    /// Starts on the first floor (the ground floor has the lobby).
    pub fn new(per_floor: u32) -> Self {
        Self {
            per_floor: per_floor.max(1),
            floor: 1,
            next: 1,
        }
    }

    /// The next door number and its floor.
    pub fn next_room(&mut self) -> (String, i32) {
        if self.next > self.per_floor {
            self.floor += 1;
            self.next = 1;
        }
        let number = format!("{}{:02}", self.floor, self.next);
        self.next += 1;
        (number, self.floor)
    }
}

/// The physical rooms of one type: a few need cleaning, the odd one is out of service (never
/// the first, so every type stays sellable).
pub(super) fn rooms(rng: &mut StdRng, floors: &mut FloorPlan, count: u32) -> Vec<RoomPlan> {
    let mut out_of_service = false;
    (0..count)
        .map(|i| {
            let (number, floor) = floors.next_room();
            let roll: f64 = rng.random();
            let status = if roll < 0.08 {
                RoomStatus::Dirty
            } else if roll < 0.12 && i > 0 && count >= 3 && !out_of_service {
                out_of_service = true;
                RoomStatus::OutOfService
            } else {
                RoomStatus::Ready
            };
            RoomPlan {
                number,
                floor,
                status,
            }
        })
        .collect()
}

/// Room types of one hotel, with their rooms, without rates yet.
pub(super) fn room_types(
    rng: &mut StdRng,
    city: &City,
    currency: Currency,
    stars: u8,
    view: Option<&str>,
) -> Vec<(RoomTypePlan, PriceModel)> {
    let weekend_premium = [0.10, 0.15, 0.20, 0.25][rng.random_range(0..4usize)];
    let mut floors = FloorPlan::new(rng.random_range(6..=10));
    pick_templates(rng, stars)
        .into_iter()
        .map(|template| {
            let model = price_model(rng, city, currency, stars, template, weekend_premium);
            let room_type = new_room_type(rng, template, stars, view, &model);
            let count = rng.random_range(template.rooms.0..=template.rooms.1);
            let rooms = rooms(rng, &mut floors, count);
            (
                RoomTypePlan {
                    room_type,
                    rooms,
                    inventory: Vec::new(),
                    rates: Vec::new(),
                },
                model,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn every_star_rating_offers_three_to_six_types_with_its_core() {
        let mut rng = StdRng::seed_from_u64(7);
        for stars in 2..=5 {
            for _ in 0..50 {
                let picked = pick_templates(&mut rng, stars);
                assert!((3..=6).contains(&picked.len()), "{stars}: {}", picked.len());
                assert_eq!(picked.iter().filter(|t| t.core).count(), 1);
                let factors: Vec<f64> = picked.iter().map(|t| t.price_factor).collect();
                assert!(
                    factors.windows(2).all(|w| w[0] <= w[1]),
                    "cheapest first: {factors:?}"
                );
            }
        }
    }

    #[test]
    fn rooms_fill_floors_in_order() {
        let mut floors = FloorPlan::new(3);
        let numbers: Vec<String> = (0..7).map(|_| floors.next_room().0).collect();
        assert_eq!(numbers, ["101", "102", "103", "201", "202", "203", "301"]);
    }

    #[test]
    fn beds_read_like_a_listing() {
        assert_eq!(
            describe_beds(&[(King, 1), (Sofa, 1)]),
            "a king-size bed and a sofa bed"
        );
        assert_eq!(describe_beds(&[(Twin, 2)]), "two twin beds");
    }
}
