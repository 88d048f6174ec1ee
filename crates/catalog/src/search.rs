//! Ranking a search: which room types of a scope can be sold for a stay, best first.
//!
//! One code path for both sources: the in-memory index hands its slots over under its read
//! lock; a stay outside the indexed window is read from the store and laid into slots of its
//! own. Ranking keeps a reference and three numbers per candidate, selects the best `limit`
//! in linear time, and builds offers (with their strings and night lists) only for those.

use std::cmp::Ordering;

use innkeeper_kernel::{GeoPoint, Money, StayDates};

use crate::api::{Hotel, HotelSummary, NightPrice, Offer, SortOrder};
use crate::search_index::{Block, Slot};

/// Which offers a search keeps, and in what order.
#[derive(Debug, Clone)]
pub(crate) struct Pick {
    /// Centre and radius (km) of a `near` search.
    pub(crate) centre: Option<(GeoPoint, f64)>,
    /// Highest total for the whole stay, minor units.
    pub(crate) max_price: Option<i64>,
    pub(crate) sort: SortOrder,
    pub(crate) limit: usize,
}

/// What is being searched for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted<'a> {
    pub(crate) stay: &'a StayDates,
    pub(crate) guests: u32,
    pub(crate) rooms: u32,
    pub(crate) pick: &'a Pick,
}

/// A room type that can be sold for the stay, before it becomes an offer.
struct Ranked<'s> {
    block: &'s Block,
    column: usize,
    /// The column's place in its block by hotel name (the tie-break within a block).
    rank: u32,
    start: usize,
    total: i64,
    rooms_left: u32,
    distance: Option<f64>,
}

/// The best `pick.limit` offers among the columns of `blocks` (`None`: every column), in
/// `pick.sort` order. An offer appears only if the room type fits the party and every night
/// of the stay has the rooms free.
pub(crate) fn best_offers(
    blocks: &[(&Block, Option<Vec<usize>>)],
    wanted: Wanted<'_>,
) -> Vec<Offer> {
    let Wanted {
        stay,
        guests,
        rooms,
        pick,
    } = wanted;
    if pick.limit == 0 || rooms == 0 {
        return Vec::new();
    }
    let (check_in, check_out) = (stay.check_in(), stay.check_out());
    let min_capacity = guests.div_ceil(rooms);
    let mut ranked: Vec<Ranked<'_>> = Vec::new();
    for (block, only) in blocks {
        let Some((start, nights)) = block.rows(check_in, check_out) else {
            continue;
        };
        // `sellable` checked the capacity per room (what `domain::fits` asks, for a party of
        // at least one guest per room) from the block's own column, without touching the slot.
        for s in block.sellable(start, nights, rooms, min_capacity, only.as_deref()) {
            if pick.max_price.is_some_and(|max| s.total > max) {
                continue;
            }
            let distance = match pick.centre {
                Some((point, radius)) => {
                    let d = point.distance_km(&block.slots[s.column].hotel.location);
                    if d > radius {
                        continue;
                    }
                    Some(d)
                }
                None => None,
            };
            ranked.push(Ranked {
                block,
                column: s.column,
                rank: block.name_order[s.column],
                start,
                total: s.total,
                rooms_left: s.rooms_left,
                distance,
            });
        }
    }
    let order = |a: &Ranked<'_>, b: &Ranked<'_>| compare(pick.sort, a, b);
    if ranked.len() > pick.limit {
        ranked.select_nth_unstable_by(pick.limit - 1, order);
        ranked.truncate(pick.limit);
    }
    ranked.sort_unstable_by(order);
    let nights = stay.night_count() as usize;
    ranked.iter().map(|r| offer(r, nights, wanted)).collect()
}

/// Cheapest (or nearest, then cheapest) first; ties by hotel name, then room type id, so the
/// order is stable across calls and replicas.
fn compare(sort: SortOrder, a: &Ranked<'_>, b: &Ranked<'_>) -> Ordering {
    let first = match sort {
        SortOrder::Price => a.total.cmp(&b.total),
        SortOrder::Distance => a
            .distance
            .partial_cmp(&b.distance)
            .unwrap_or(Ordering::Equal)
            .then(a.total.cmp(&b.total)),
    };
    first.then_with(|| {
        if std::ptr::eq(a.block, b.block) {
            a.rank.cmp(&b.rank)
        } else {
            let (a, b) = (&a.block.slots[a.column], &b.block.slots[b.column]);
            a.hotel
                .name
                .cmp(&b.hotel.name)
                .then(a.room_type.id.cmp(&b.room_type.id))
        }
    })
}

fn offer(r: &Ranked<'_>, nights: usize, wanted: Wanted<'_>) -> Offer {
    let slot: &Slot = &r.block.slots[r.column];
    let room_type = &slot.room_type;
    let currency = room_type.base_price.currency;
    Offer {
        hotel: summary(&slot.hotel, r.distance),
        room_type_id: room_type.id,
        room_type_name: room_type.name.clone(),
        capacity: room_type.capacity,
        check_in: wanted.stay.check_in(),
        check_out: wanted.stay.check_out(),
        rooms: wanted.rooms,
        nights: r
            .block
            .night_prices(r.column, r.start, nights)
            .map(|(night, amount)| NightPrice {
                night,
                price: Money { amount, currency },
            })
            .collect(),
        total: Money {
            amount: r.total,
            currency,
        },
        rooms_left: r.rooms_left,
    }
}

/// The hotel part of an offer.
pub(crate) fn summary(hotel: &Hotel, distance_km: Option<f64>) -> HotelSummary {
    HotelSummary {
        id: hotel.id,
        name: hotel.name.clone(),
        city: hotel.city.clone(),
        country: hotel.country.clone(),
        location: hotel.location,
        stars: hotel.stars,
        currency: hotel.currency,
        distance_km: distance_km.map(|d| (d * 100.0).round() / 100.0),
    }
}
