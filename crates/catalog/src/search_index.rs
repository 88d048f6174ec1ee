//! The availability read model: every hotel, room type and night of the bookable horizon, in
//! memory, so a search costs microseconds instead of a database round trip.
//!
//! It is a cache of committed state, never the authority: a hold always re-checks every night
//! in the store under the row lock, so a stale entry can only show an offer that then fails
//! with `sold_out` (or hide one for a moment). It stays fresh because every write this
//! process makes re-reads the nights it touched after committing (`refresh`), serialised per
//! hotel so an older read never overwrites a newer one; other replicas' writes arrive with the
//! periodic `reload` (until inventory events replace polling).
//!
//! Each room type's nights are dense arrays over the window (slot `i` is night `from + i`),
//! so checking a stay is a scan of a few adjacent integers and ranking a city allocates
//! nothing per candidate (see [`crate::search`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use innkeeper_kernel::{HotelId, Result, RoomTypeId};
use time::{Date, Duration};

use crate::api::{Hotel, RoomType};
use crate::store::{BoundingBox, CatalogStore, HotelFilter, SearchScope, StoredNight};

/// A night whose row was never materialised: the default allotment (`active_rooms`).
const DEFAULT_FREE: u32 = u32::MAX;
/// A night without a seasonal price: the room type's base price.
const BASE_PRICE: i64 = i64::MIN;
/// Hotels read per page while loading.
const LOAD_PAGE: u32 = 200;

/// One room type with its hotel and its nights over a window of dates, dense.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) hotel: Arc<Hotel>,
    pub(crate) room_type: Arc<RoomType>,
    /// The night of index 0.
    from: Date,
    /// Rooms free per night (`total - held - sold`), or [`DEFAULT_FREE`].
    free: Box<[u32]>,
    /// Seasonal price per night in minor units, or [`BASE_PRICE`].
    price: Box<[i64]>,
    /// Minimum stay for arrivals on the night; 0 when none.
    min_stay: Box<[u16]>,
}

impl Slot {
    /// A slot over `days` nights from `from` with the stored nights laid over the defaults
    /// (nights outside the window are ignored).
    pub(crate) fn new(
        hotel: Arc<Hotel>,
        room_type: Arc<RoomType>,
        from: Date,
        days: usize,
        stored: &[StoredNight],
    ) -> Self {
        let mut slot = Slot {
            hotel,
            room_type,
            from,
            free: vec![DEFAULT_FREE; days].into_boxed_slice(),
            price: vec![BASE_PRICE; days].into_boxed_slice(),
            min_stay: vec![0; days].into_boxed_slice(),
        };
        slot.overlay(stored);
        slot
    }

    /// Writes stored nights into the arrays.
    fn overlay(&mut self, stored: &[StoredNight]) {
        for row in stored {
            if let Some(i) = self.index_of(row.night) {
                self.free[i] = row
                    .total
                    .saturating_sub(row.held.saturating_add(row.sold))
                    .min(DEFAULT_FREE - 1);
                self.price[i] = row.price.unwrap_or(BASE_PRICE);
                self.min_stay[i] = row
                    .min_stay
                    .map_or(0, |m| u16::try_from(m).unwrap_or(u16::MAX));
            }
        }
    }

    /// Back to defaults for the nights in `[from, to)`.
    fn clear(&mut self, from: Date, to: Date) {
        let start = self.clamped_index(from);
        let end = self.clamped_index(to);
        self.free[start..end].fill(DEFAULT_FREE);
        self.price[start..end].fill(BASE_PRICE);
        self.min_stay[start..end].fill(0);
    }

    fn index_of(&self, night: Date) -> Option<usize> {
        let i = usize::try_from((night - self.from).whole_days()).ok()?;
        (i < self.free.len()).then_some(i)
    }

    fn clamped_index(&self, night: Date) -> usize {
        usize::try_from((night - self.from).whole_days())
            .unwrap_or(0)
            .min(self.free.len())
    }

    /// The array range of the nights `[check_in, check_out)`, when all are in the window.
    pub(crate) fn range(&self, check_in: Date, check_out: Date) -> Option<(usize, usize)> {
        let start = self.index_of(check_in)?;
        let nights = usize::try_from((check_out - check_in).whole_days()).ok()?;
        (nights >= 1 && start + nights <= self.free.len()).then_some((start, nights))
    }

    /// Prices `rooms` rooms for the `nights` nights from index `start`: the total in minor
    /// units and the fewest rooms free on any night. `None` when a night has fewer than
    /// `rooms` free, the first night's minimum stay is longer, or the sum overflows.
    pub(crate) fn stay_total(&self, start: usize, nights: usize, rooms: u32) -> Option<(i64, u32)> {
        let min_stay = usize::from(self.min_stay[start]);
        if min_stay > 1 && nights < min_stay {
            return None;
        }
        let (default_free, base) = (
            self.room_type.active_rooms,
            self.room_type.base_price.amount,
        );
        let end = start + nights;
        let mut total: i64 = 0;
        let mut rooms_left = u32::MAX;
        for (&free, &price) in self.free[start..end].iter().zip(&self.price[start..end]) {
            let free = if free == DEFAULT_FREE {
                default_free
            } else {
                free
            };
            if free < rooms {
                return None;
            }
            rooms_left = rooms_left.min(free);
            total = total.checked_add(if price == BASE_PRICE { base } else { price })?;
        }
        Some((total.checked_mul(i64::from(rooms))?, rooms_left))
    }

    /// The price of one room for each of the `nights` nights from index `start`.
    pub(crate) fn night_prices(
        &self,
        start: usize,
        nights: usize,
    ) -> impl Iterator<Item = (Date, i64)> + '_ {
        let base = self.room_type.base_price.amount;
        self.price[start..start + nights]
            .iter()
            .enumerate()
            .map(move |(i, &price)| {
                let night = self.from + Duration::days((start + i) as i64);
                (night, if price == BASE_PRICE { base } else { price })
            })
    }
}

#[derive(Debug, Default)]
struct Data {
    /// First night held in memory and the number of nights; `None` until loaded.
    window: Option<(Date, usize)>,
    slots: HashMap<RoomTypeId, Arc<Slot>>,
    by_city: HashMap<String, Vec<Arc<Slot>>>,
    by_hotel: HashMap<HotelId, Vec<RoomTypeId>>,
}

impl Data {
    fn insert(&mut self, slot: Slot) {
        let slot = Arc::new(slot);
        let id = slot.room_type.id;
        if self.slots.contains_key(&id) {
            self.remove(id);
        }
        self.by_city
            .entry(city_key(&slot.hotel.city))
            .or_default()
            .push(slot.clone());
        self.by_hotel.entry(slot.hotel.id).or_default().push(id);
        self.slots.insert(id, slot);
    }

    fn remove(&mut self, id: RoomTypeId) {
        if let Some(old) = self.slots.remove(&id) {
            if let Some(slots) = self.by_city.get_mut(&city_key(&old.hotel.city)) {
                slots.retain(|s| s.room_type.id != id);
            }
            if let Some(ids) = self.by_hotel.get_mut(&old.hotel.id) {
                ids.retain(|x| *x != id);
            }
        }
    }
}

fn city_key(city: &str) -> String {
    city.trim().to_lowercase()
}

/// The in-memory availability read model of one catalog process.
#[derive(Debug)]
pub(crate) struct SearchIndex {
    data: RwLock<Data>,
    horizon_days: u32,
    /// Serialises refreshes per hotel (striped), so reads are applied in the order taken.
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl SearchIndex {
    /// An empty index; searches fall back to the store until [`SearchIndex::reload`] runs.
    pub(crate) fn new(horizon_days: u32) -> Self {
        Self {
            data: RwLock::new(Data::default()),
            horizon_days,
            stripes: (0..64).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    /// Loads every room type and its nights from `today - 1` over the horizon, a page of
    /// hotels at a time (so the rows of the whole catalog are never in memory at once), then
    /// swaps the new data in.
    pub(crate) async fn reload(&self, store: &dyn CatalogStore, today: Date) -> Result<usize> {
        let from = today - Duration::days(1);
        let days = self.horizon_days as usize + 1;
        let to = from + Duration::days(days as i64);
        let mut data = Data {
            window: Some((from, days)),
            ..Data::default()
        };
        let mut after = None;
        loop {
            let hotels = store
                .list_hotels(&HotelFilter {
                    after,
                    limit: LOAD_PAGE,
                    ..HotelFilter::default()
                })
                .await?;
            for hotel in &hotels {
                let found = store
                    .room_type_nights(&SearchScope::Hotel(hotel.id), 0, from, to)
                    .await?;
                let shared = found.first().map(|f| Arc::new(f.hotel.clone()));
                for (f, hotel) in found.into_iter().filter_map(|f| Some((f, shared.clone()?))) {
                    let slot = Slot::new(hotel, Arc::new(f.room_type), from, days, &f.nights);
                    data.insert(slot);
                }
            }
            match hotels.last() {
                Some(last) if hotels.len() == LOAD_PAGE as usize => after = Some(last.id),
                _ => break,
            }
        }
        let count = data.slots.len();
        *self.data.write().unwrap_or_else(|e| e.into_inner()) = data;
        metrics::gauge!("innkeeper_catalog_search_index_room_types").set(count as f64);
        Ok(count)
    }

    /// Re-reads the hotel's room types and their nights in `[from, to)` after a write.
    /// Nights outside the range keep their cached values.
    pub(crate) async fn refresh(
        &self,
        store: &dyn CatalogStore,
        hotel_id: HotelId,
        from: Date,
        to: Date,
    ) -> Result<()> {
        let Some((window_from, days)) = self.data.read().unwrap_or_else(|e| e.into_inner()).window
        else {
            return Ok(()); // not loaded: nothing to keep fresh
        };
        let window_to = window_from + Duration::days(days as i64);
        let (from, to) = (from.max(window_from), to.min(window_to));
        let stripe = &self.stripes[stripe_of(hotel_id, self.stripes.len())];
        let _serialised = stripe.lock().await;
        // An empty range still re-reads the hotel and its room types (one night).
        let read_to = if from < to {
            to
        } else {
            from + Duration::days(1)
        };
        let found = store
            .room_type_nights(&SearchScope::Hotel(hotel_id), 0, from, read_to)
            .await?;
        let mut data = self.data.write().unwrap_or_else(|e| e.into_inner());
        let known: Vec<RoomTypeId> = data.by_hotel.get(&hotel_id).cloned().unwrap_or_default();
        // Every row carries its hotel: one fresh copy, shared by all its room types.
        let seen: Vec<RoomTypeId> = found.iter().map(|f| f.room_type.id).collect();
        let shared = found.first().map(|f| Arc::new(f.hotel.clone()));
        for (f, hotel) in found.into_iter().filter_map(|f| Some((f, shared.clone()?))) {
            let room_type = Arc::new(f.room_type);
            let slot = match data.slots.get(&room_type.id) {
                Some(old) => {
                    let mut slot = Slot {
                        hotel,
                        room_type,
                        ..Slot::clone(old)
                    };
                    if from < to {
                        // Replace the refreshed window: rows absent from the read are defaults.
                        slot.clear(from, to);
                        slot.overlay(&f.nights);
                    }
                    slot
                }
                None => Slot::new(hotel, room_type, window_from, days, &f.nights),
            };
            data.insert(slot);
        }
        // Room types (or the hotel) no longer in the store leave the index.
        for id in known.into_iter().filter(|id| !seen.contains(id)) {
            data.remove(id);
        }
        Ok(())
    }

    /// The hotel of a cached room type.
    pub(crate) fn hotel_of(&self, room_type_id: RoomTypeId) -> Option<HotelId> {
        self.data
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .slots
            .get(&room_type_id)
            .map(|s| s.hotel.id)
    }

    /// Runs `f` over the room types of `scope` with capacity of at least `min_capacity`,
    /// under the read lock. `None` when `[check_in, check_out)` is not in memory (the caller
    /// asks the store instead).
    pub(crate) fn with_slots<R>(
        &self,
        scope: &SearchScope,
        min_capacity: u32,
        check_in: Date,
        check_out: Date,
        f: impl FnOnce(&mut dyn Iterator<Item = &Slot>) -> R,
    ) -> Option<R> {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        let (from, days) = data.window?;
        if check_in < from || check_out > from + Duration::days(days as i64) {
            return None;
        }
        let fits = |s: &&Slot| s.room_type.capacity >= min_capacity;
        Some(match scope {
            SearchScope::City(city) => f(&mut data
                .by_city
                .get(&city_key(city))
                .into_iter()
                .flatten()
                .map(|s| &**s)
                .filter(fits)),
            SearchScope::Hotel(id) => f(&mut data
                .by_hotel
                .get(id)
                .into_iter()
                .flatten()
                .filter_map(|id| data.slots.get(id))
                .map(|s| &**s)
                .filter(fits)),
            SearchScope::Area(b) => f(&mut data
                .slots
                .values()
                .map(|s| &**s)
                .filter(|s| inside(b, s))
                .filter(fits)),
        })
    }
}

fn inside(b: &BoundingBox, slot: &Slot) -> bool {
    let p = slot.hotel.location;
    p.lat >= b.min_lat && p.lat <= b.max_lat && p.lon >= b.min_lon && p.lon <= b.max_lon
}

fn stripe_of(id: HotelId, n: usize) -> usize {
    (id.as_uuid().as_u128() % n as u128) as usize
}

#[cfg(test)]
mod tests {
    use innkeeper_kernel::{Currency, GeoPoint, Money, StayDates, UserId};
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use time::OffsetDateTime;
    use time::macros::date;

    use super::*;
    use crate::domain;

    fn hotel() -> Arc<Hotel> {
        Arc::new(Hotel {
            id: HotelId::new(),
            owner_id: UserId::new(),
            name: "Casa".into(),
            description: String::new(),
            address: String::new(),
            city: "Lisbon".into(),
            country: "PT".into(),
            location: GeoPoint {
                lat: 38.7,
                lon: -9.1,
            },
            stars: None,
            currency: Currency::EUR,
            timezone: "Europe/Lisbon".into(),
            version: 1,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        })
    }

    fn room_type(active_rooms: u32, base: i64) -> RoomType {
        RoomType {
            id: RoomTypeId::new(),
            hotel_id: HotelId::new(),
            name: "Double".into(),
            description: String::new(),
            capacity: 2,
            beds: vec![],
            amenities: vec![],
            base_price: Money {
                amount: base,
                currency: Currency::EUR,
            },
            active_rooms,
            version: 1,
        }
    }

    /// The dense slot answers exactly as the reference rules in `domain` over the sparse
    /// rows, for random rows, stays and room counts (including rows outside the stay).
    #[test]
    fn dense_slots_price_and_check_stays_like_the_domain_rules() {
        let mut rng = StdRng::seed_from_u64(7);
        let from = date!(2027 - 01 - 01);
        let days = 40;
        for _ in 0..300 {
            let room_type = room_type(rng.random_range(0..4), rng.random_range(1..50_000));
            let mut stored = Vec::new();
            for d in 0..days {
                if rng.random_bool(0.5) {
                    let total = rng.random_range(0..5);
                    let held = rng.random_range(0..=total);
                    stored.push(StoredNight {
                        night: from + Duration::days(d),
                        total,
                        held,
                        sold: rng.random_range(0..=total - held),
                        price: rng.random_bool(0.6).then(|| rng.random_range(1..90_000)),
                        min_stay: rng.random_bool(0.2).then(|| rng.random_range(1..6)),
                    });
                }
            }
            let rt = Arc::new(room_type);
            let slot = Slot::new(hotel(), rt.clone(), from, days as usize, &stored);
            for _ in 0..20 {
                let start = rng.random_range(0..days - 1);
                let nights = rng.random_range(1..=(days - start).min(10));
                let check_in = from + Duration::days(start);
                let stay = StayDates::new(
                    check_in,
                    check_in + Duration::days(nights),
                    from - Duration::days(1),
                    30,
                )
                .expect("valid stay");
                let rooms = rng.random_range(1..=3);
                let (i, n) = slot
                    .range(stay.check_in(), stay.check_out())
                    .expect("inside the window");
                assert_eq!((i, n), (start as usize, nights as usize));
                let expected = domain::stay_total(&rt, &stored, &stay, rooms);
                assert_eq!(slot.stay_total(i, n, rooms), expected, "{stay:?} x{rooms}");
                let priced = domain::price_stay(&rt, &stored, &stay, 1).expect("priced");
                let dense: Vec<(Date, i64)> = slot.night_prices(i, n).collect();
                let reference: Vec<(Date, i64)> = priced
                    .nights
                    .iter()
                    .map(|p| (p.night, p.price.amount))
                    .collect();
                assert_eq!(dense, reference);
            }
        }
    }

    #[test]
    fn stays_outside_the_window_have_no_range() {
        let from = date!(2027 - 01 - 01);
        let slot = Slot::new(hotel(), Arc::new(room_type(2, 100)), from, 10, &[]);
        assert_eq!(
            slot.range(from - Duration::days(1), from + Duration::days(2)),
            None
        );
        assert_eq!(
            slot.range(from + Duration::days(8), from + Duration::days(11)),
            None
        );
        assert_eq!(
            slot.range(from + Duration::days(8), from + Duration::days(10)),
            Some((8, 2))
        );
        assert_eq!(slot.range(from, from), None);
    }

    #[test]
    fn clearing_a_range_restores_the_defaults() {
        let from = date!(2027 - 01 - 01);
        let rows = [StoredNight {
            night: from + Duration::days(1),
            total: 5,
            held: 5,
            sold: 0,
            price: Some(1),
            min_stay: Some(3),
        }];
        let mut slot = Slot::new(hotel(), Arc::new(room_type(2, 100)), from, 5, &rows);
        assert_eq!(slot.stay_total(1, 3, 1), None);
        slot.clear(from + Duration::days(1), from + Duration::days(2));
        assert_eq!(slot.stay_total(1, 1, 2), Some((200, 2)));
    }
}
