//! The availability read model: every hotel, room type and stored night of the bookable
//! horizon, in memory, so a search costs microseconds instead of a database round trip.
//!
//! It is a cache of committed state, never the authority: a hold always re-checks every night
//! in the store under the row lock, so a stale entry can only show an offer that then fails
//! with `sold_out` (or hide one for a moment). It stays fresh because every write this
//! process makes re-reads the nights it touched after committing (`refresh`), serialised per
//! hotel so an older read never overwrites a newer one; other replicas' writes arrive with the
//! periodic `reload` (until inventory events replace polling).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use innkeeper_kernel::{HotelId, Result, RoomTypeId};
use time::{Date, Duration};

use crate::api::{Hotel, RoomType};
use crate::store::{BoundingBox, CatalogStore, SearchScope, StoredNight};

/// The whole world, to load every hotel with one scope.
const EVERYWHERE: BoundingBox = BoundingBox {
    min_lat: -90.0,
    max_lat: 90.0,
    min_lon: -180.0,
    max_lon: 180.0,
};

/// One room type with its hotel and its stored nights (sorted by night).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) hotel: Arc<Hotel>,
    pub(crate) room_type: Arc<RoomType>,
    pub(crate) nights: Vec<StoredNight>,
}

impl Entry {
    /// The stored nights in `[from, to)`.
    pub(crate) fn nights_between(&self, from: Date, to: Date) -> &[StoredNight] {
        let start = self.nights.partition_point(|n| n.night < from);
        let end = self.nights.partition_point(|n| n.night < to);
        &self.nights[start..end]
    }
}

#[derive(Debug, Default)]
struct Data {
    /// First and last-plus-one night held in memory.
    from: Option<Date>,
    to: Option<Date>,
    entries: HashMap<RoomTypeId, Entry>,
    by_city: HashMap<String, Vec<RoomTypeId>>,
    by_hotel: HashMap<HotelId, Vec<RoomTypeId>>,
}

impl Data {
    fn insert(&mut self, hotel: Arc<Hotel>, room_type: RoomType, nights: Vec<StoredNight>) {
        let id = room_type.id;
        self.remove(id);
        self.by_city
            .entry(city_key(&hotel.city))
            .or_default()
            .push(id);
        self.by_hotel.entry(hotel.id).or_default().push(id);
        self.entries.insert(
            id,
            Entry {
                hotel,
                room_type: Arc::new(room_type),
                nights,
            },
        );
    }

    fn remove(&mut self, id: RoomTypeId) {
        if let Some(old) = self.entries.remove(&id) {
            if let Some(ids) = self.by_city.get_mut(&city_key(&old.hotel.city)) {
                ids.retain(|x| *x != id);
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

    /// Loads every room type and its nights from `today - 1` over the horizon, then swaps.
    pub(crate) async fn reload(&self, store: &dyn CatalogStore, today: Date) -> Result<usize> {
        let from = today - Duration::days(1);
        let to = today + Duration::days(i64::from(self.horizon_days));
        let found = store
            .room_type_nights(&SearchScope::Area(EVERYWHERE), 0, from, to)
            .await?;
        let mut data = Data {
            from: Some(from),
            to: Some(to),
            ..Data::default()
        };
        let count = found.len();
        let mut hotels: HashMap<HotelId, Arc<Hotel>> = HashMap::new();
        for f in found {
            let hotel = hotels
                .entry(f.hotel.id)
                .or_insert_with(|| Arc::new(f.hotel.clone()))
                .clone();
            data.insert(hotel, f.room_type, f.nights);
        }
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
        let (loaded_from, loaded_to) = {
            let data = self.data.read().unwrap_or_else(|e| e.into_inner());
            match (data.from, data.to) {
                (Some(f), Some(t)) => (f, t),
                _ => return Ok(()), // not loaded: nothing to keep fresh
            }
        };
        let (from, to) = (from.max(loaded_from), to.min(loaded_to));
        let stripe = &self.stripes[stripe_of(hotel_id, self.stripes.len())];
        let _serialised = stripe.lock().await;
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
        let hotel = found.first().map(|f| Arc::new(f.hotel.clone()));
        for (f, hotel) in found.into_iter().filter_map(|f| Some((f, hotel.clone()?))) {
            let mut nights = data
                .entries
                .get(&f.room_type.id)
                .map(|e| e.nights.clone())
                .unwrap_or_default();
            if from < to {
                // Replace the refreshed window: rows absent from the read are back to defaults.
                nights.retain(|n| n.night < from || n.night >= to);
                nights.extend(f.nights.iter().copied());
                nights.sort_by_key(|n| n.night);
            }
            data.insert(hotel, f.room_type, nights);
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
            .entries
            .get(&room_type_id)
            .map(|e| e.hotel.id)
    }

    /// Calls `visit` for each room type in `scope` with capacity of at least `min_capacity`,
    /// with its nights in `[from, to)`. `None` when `[from, to)` is not in memory (the caller
    /// asks the store instead).
    pub(crate) fn visit<F>(
        &self,
        scope: &SearchScope,
        min_capacity: u32,
        from: Date,
        to: Date,
        mut visit: F,
    ) -> Option<()>
    where
        F: FnMut(&Entry, &[StoredNight]),
    {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        let (Some(loaded_from), Some(loaded_to)) = (data.from, data.to) else {
            return None;
        };
        if from < loaded_from || to > loaded_to {
            return None;
        }
        let mut each = |id: &RoomTypeId| {
            if let Some(e) = data.entries.get(id)
                && e.room_type.capacity >= min_capacity
            {
                visit(e, e.nights_between(from, to));
            }
        };
        match scope {
            SearchScope::City(city) => data
                .by_city
                .get(&city_key(city))
                .into_iter()
                .flatten()
                .for_each(&mut each),
            SearchScope::Hotel(id) => data
                .by_hotel
                .get(id)
                .into_iter()
                .flatten()
                .for_each(&mut each),
            SearchScope::Area(b) => data
                .entries
                .iter()
                .filter(|(_, e)| {
                    let p = e.hotel.location;
                    p.lat >= b.min_lat
                        && p.lat <= b.max_lat
                        && p.lon >= b.min_lon
                        && p.lon <= b.max_lon
                })
                .for_each(|(id, _)| each(id)),
        }
        Some(())
    }
}

fn stripe_of(id: HotelId, n: usize) -> usize {
    (id.as_uuid().as_u128() % n as u128) as usize
}
