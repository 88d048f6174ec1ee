//! The availability read model: every hotel, room type and night of the bookable horizon, in
//! memory, so a search costs microseconds instead of a database round trip.
//!
//! It is a cache of committed state, never the authority: a hold always re-checks every night
//! in the store under the row lock, so a stale entry can only show an offer that then fails
//! with `sold_out` (or hide one for a moment). It stays fresh because every write this
//! process makes re-reads the nights it touched after committing (`refresh`), serialised per
//! hotel so an older read never overwrites a newer one, and folded: the re-reads a hotel's
//! writers ask for while one reads are done by the next read; other replicas' writes arrive
//! with the periodic `reload` (until inventory events replace polling).
//!
//! Each room type's nights are dense arrays over the window (slot `i` is night `from + i`),
//! so checking a stay is a scan of a few adjacent integers and ranking a city allocates
//! nothing per candidate (see [`crate::search`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use innkeeper_kernel::{HotelId, Result, RoomTypeId};
use time::{Date, Duration};

use crate::api::{Hotel, RoomType};
use crate::store::{
    BoundingBox, CatalogStore, HotelFilter, RoomTypeNights, SearchScope, StoredNight,
};

/// A night whose row was never materialised: the default allotment (`active_rooms`).
const DEFAULT_FREE: u32 = u32::MAX;
/// A night without a seasonal price: the room type's base price.
const BASE_PRICE: i64 = i64::MIN;
/// Hotels read per page while loading.
const LOAD_PAGE: u32 = 200;

/// One room type with its hotel: what an offer shows. Its nights live in its city's [`Block`].
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) hotel: Arc<Hotel>,
    pub(crate) room_type: Arc<RoomType>,
}

/// The room types of one place laid out for scanning: per-column facts and night-major arrays
/// (`free[night * width + column]`), so checking a stay for every room type of a city reads a
/// few contiguous rows instead of chasing a pointer per room type.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    /// The night of row 0.
    from: Date,
    days: usize,
    /// Column -> room type.
    pub(crate) slots: Vec<Slot>,
    /// Column -> its place in (hotel name, room type id) order: the tie-break of equal
    /// totals without touching the hotels.
    pub(crate) name_order: Vec<u32>,
    capacity: Vec<u32>,
    /// Rooms free on a night without a row (the active-room count).
    default_free: Vec<u32>,
    base_price: Vec<i64>,
    /// Rooms free (`total - held - sold`), or [`DEFAULT_FREE`].
    free: Vec<u32>,
    /// Seasonal price in minor units, or [`BASE_PRICE`].
    price: Vec<i64>,
    /// Minimum stay for arrivals on the night; 0 when none.
    min_stay: Vec<u16>,
    /// The revision of the stored night the cells came from; 0 when the night has no row.
    rev: Vec<u32>,
}

/// One column's nights, moved between blocks.
struct Column {
    free: Vec<u32>,
    price: Vec<i64>,
    min_stay: Vec<u16>,
    rev: Vec<u32>,
}

impl Column {
    fn defaults(days: usize) -> Self {
        Column {
            free: vec![DEFAULT_FREE; days],
            price: vec![BASE_PRICE; days],
            min_stay: vec![0; days],
            rev: vec![0; days],
        }
    }
}

/// A stay that can be sold in one column: its total for all rooms and the fewest rooms free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sellable {
    pub(crate) column: usize,
    pub(crate) total: i64,
    pub(crate) rooms_left: u32,
}

impl Block {
    /// An empty block over `days` nights from `from`.
    pub(crate) fn new(from: Date, days: usize) -> Self {
        Block {
            from,
            days,
            slots: Vec::new(),
            name_order: Vec::new(),
            capacity: Vec::new(),
            default_free: Vec::new(),
            base_price: Vec::new(),
            free: Vec::new(),
            price: Vec::new(),
            min_stay: Vec::new(),
            rev: Vec::new(),
        }
    }

    /// A block of `slots` with their stored nights laid over the defaults.
    pub(crate) fn build(from: Date, days: usize, slots: Vec<(Slot, Vec<StoredNight>)>) -> Self {
        let columns = slots
            .into_iter()
            .map(|(slot, nights)| {
                let mut column = Column::defaults(days);
                overlay(&mut column, from, &nights);
                (slot, column)
            })
            .collect();
        Self::from_columns(from, days, columns)
    }

    fn from_columns(from: Date, days: usize, columns: Vec<(Slot, Column)>) -> Self {
        let width = columns.len();
        let mut block = Block::new(from, days);
        block.free = vec![DEFAULT_FREE; width * days];
        block.price = vec![BASE_PRICE; width * days];
        block.min_stay = vec![0; width * days];
        block.rev = vec![0; width * days];
        for (c, (slot, column)) in columns.into_iter().enumerate() {
            block.capacity.push(slot.room_type.capacity);
            block.default_free.push(slot.room_type.active_rooms);
            block.base_price.push(slot.room_type.base_price.amount);
            block.slots.push(slot);
            for d in 0..days {
                block.free[d * width + c] = column.free[d];
                block.price[d * width + c] = column.price[d];
                block.min_stay[d * width + c] = column.min_stay[d];
                block.rev[d * width + c] = column.rev[d];
            }
        }
        block.order_names();
        block
    }

    fn order_names(&mut self) {
        let mut columns: Vec<usize> = (0..self.width()).collect();
        columns.sort_by(|&a, &b| {
            let (a, b) = (&self.slots[a], &self.slots[b]);
            a.hotel
                .name
                .cmp(&b.hotel.name)
                .then(a.room_type.id.cmp(&b.room_type.id))
        });
        self.name_order = vec![0; self.width()];
        for (rank, c) in columns.into_iter().enumerate() {
            self.name_order[c] = rank as u32;
        }
    }

    fn width(&self) -> usize {
        self.slots.len()
    }

    fn column_of(&self, id: RoomTypeId) -> Option<usize> {
        self.slots.iter().position(|s| s.room_type.id == id)
    }

    fn columns(&self) -> Vec<(Slot, Column)> {
        (0..self.width())
            .map(|c| (self.slots[c].clone(), self.column(c)))
            .collect()
    }

    fn column(&self, c: usize) -> Column {
        let w = self.width();
        Column {
            free: (0..self.days).map(|d| self.free[d * w + c]).collect(),
            price: (0..self.days).map(|d| self.price[d * w + c]).collect(),
            min_stay: (0..self.days).map(|d| self.min_stay[d * w + c]).collect(),
            rev: (0..self.days).map(|d| self.rev[d * w + c]).collect(),
        }
    }

    /// Adds a column (rebuilds the block: room types come and go rarely).
    fn push(&mut self, slot: Slot, column: Column) {
        let mut columns = self.columns();
        columns.push((slot, column));
        *self = Self::from_columns(self.from, self.days, columns);
    }

    /// Takes a column out (rebuilds the block).
    fn take(&mut self, c: usize) -> (Slot, Column) {
        let mut columns = self.columns();
        let taken = columns.remove(c);
        *self = Self::from_columns(self.from, self.days, columns);
        taken
    }

    /// Replaces a column's room type and hotel (their defaults included) in place.
    fn set_slot(&mut self, c: usize, slot: Slot) {
        self.capacity[c] = slot.room_type.capacity;
        self.default_free[c] = slot.room_type.active_rooms;
        self.base_price[c] = slot.room_type.base_price.amount;
        let renamed = self.slots[c].hotel.name != slot.hotel.name;
        self.slots[c] = slot;
        if renamed {
            self.order_names();
        }
    }

    /// Lays the stored nights of `[from, to)` over column `c`, each only over an older
    /// revision: a read or a write's answer that arrives after a newer one changes nothing. A
    /// night the read has no row for keeps what it holds (rows are never deleted: the read
    /// began before the row was created).
    fn rewrite(&mut self, c: usize, from: Date, to: Date, stored: &[StoredNight]) {
        let w = self.width();
        for night in stored.iter().filter(|n| n.night >= from && n.night < to) {
            if let Some(d) = self.row_of(night.night) {
                let (free, price, min_stay, rev) = cell(night);
                if rev >= self.rev[d * w + c] {
                    self.free[d * w + c] = free;
                    self.price[d * w + c] = price;
                    self.min_stay[d * w + c] = min_stay;
                    self.rev[d * w + c] = rev;
                }
            }
        }
    }

    fn row_of(&self, night: Date) -> Option<usize> {
        let d = usize::try_from((night - self.from).whole_days()).ok()?;
        (d < self.days).then_some(d)
    }

    /// The rows of `[check_in, check_out)`, when all are in the block's window.
    pub(crate) fn rows(&self, check_in: Date, check_out: Date) -> Option<(usize, usize)> {
        let start = self.row_of(check_in)?;
        let nights = usize::try_from((check_out - check_in).whole_days()).ok()?;
        (nights >= 1 && start + nights <= self.days).then_some((start, nights))
    }

    /// Every column (or those of `only`) that sleeps `min_capacity` per room and has `rooms`
    /// free on each of the `nights` nights from row `start`, with the first night's minimum
    /// stay met: the total for all rooms (overflow: not sellable) and the fewest rooms free.
    pub(crate) fn sellable(
        &self,
        start: usize,
        nights: usize,
        rooms: u32,
        min_capacity: u32,
        only: Option<&[usize]>,
    ) -> Vec<Sellable> {
        let w = self.width();
        let mut total = vec![0i64; w];
        let mut left = vec![u32::MAX; w];
        let mut ok: Vec<bool> = (0..w)
            .map(|c| {
                let min_stay = usize::from(self.min_stay[start * w + c]);
                self.capacity[c] >= min_capacity && (min_stay <= 1 || nights >= min_stay)
            })
            .collect();
        if let Some(only) = only {
            let mut keep = vec![false; w];
            for &c in only.iter().filter(|&&c| c < w) {
                keep[c] = ok[c];
            }
            ok = keep;
        }
        for d in start..start + nights {
            let free = &self.free[d * w..(d + 1) * w];
            let price = &self.price[d * w..(d + 1) * w];
            for c in 0..w {
                let f = if free[c] == DEFAULT_FREE {
                    self.default_free[c]
                } else {
                    free[c]
                };
                let p = if price[c] == BASE_PRICE {
                    self.base_price[c]
                } else {
                    price[c]
                };
                ok[c] &= f >= rooms;
                left[c] = left[c].min(f);
                match total[c].checked_add(p) {
                    Some(t) => total[c] = t,
                    None => ok[c] = false,
                }
            }
        }
        (0..w)
            .filter(|&c| ok[c])
            .filter_map(|c| {
                Some(Sellable {
                    column: c,
                    total: total[c].checked_mul(i64::from(rooms))?,
                    rooms_left: left[c],
                })
            })
            .collect()
    }

    /// The price of one room for each of the `nights` nights from row `start` in column `c`.
    pub(crate) fn night_prices(
        &self,
        c: usize,
        start: usize,
        nights: usize,
    ) -> impl Iterator<Item = (Date, i64)> + '_ {
        let w = self.width();
        (start..start + nights).map(move |d| {
            let price = self.price[d * w + c];
            let night = self.from + Duration::days(d as i64);
            (
                night,
                if price == BASE_PRICE {
                    self.base_price[c]
                } else {
                    price
                },
            )
        })
    }
}

/// A stored night as the cells of a column, its revision last.
fn cell(row: &StoredNight) -> (u32, i64, u16, u32) {
    (
        row.total
            .saturating_sub(row.held.saturating_add(row.sold))
            .min(DEFAULT_FREE - 1),
        row.price.unwrap_or(BASE_PRICE),
        row.min_stay
            .map_or(0, |m| u16::try_from(m).unwrap_or(u16::MAX)),
        u32::try_from(row.rev).unwrap_or(u32::MAX),
    )
}

fn overlay(column: &mut Column, from: Date, stored: &[StoredNight]) {
    for row in stored {
        let Ok(d) = usize::try_from((row.night - from).whole_days()) else {
            continue;
        };
        if d < column.free.len() {
            let (free, price, min_stay, rev) = cell(row);
            if rev >= column.rev[d] {
                (
                    column.free[d],
                    column.price[d],
                    column.min_stay[d],
                    column.rev[d],
                ) = (free, price, min_stay, rev);
            }
        }
    }
}

#[derive(Debug, Default)]
struct Data {
    /// First night held in memory and the number of nights; `None` until loaded.
    window: Option<(Date, usize)>,
    /// Room type -> its city key.
    city_of: HashMap<RoomTypeId, String>,
    by_city: HashMap<String, Block>,
    by_hotel: HashMap<HotelId, Vec<RoomTypeId>>,
}

impl Data {
    /// Puts a room type (with its hotel) in its city's block, keeping its cached nights when
    /// it was there already, then rewrites the nights `[from, to)` from `stored`.
    fn upsert(&mut self, slot: Slot, from: Date, to: Date, stored: &[StoredNight]) {
        let Some((window_from, days)) = self.window else {
            return;
        };
        let id = slot.room_type.id;
        let key = city_key(&slot.hotel.city);
        let hotel_id = slot.hotel.id;
        let same_city = self.city_of.get(&id) == Some(&key);
        if same_city {
            if let Some(block) = self.by_city.get_mut(&key)
                && let Some(c) = block.column_of(id)
            {
                block.set_slot(c, slot);
                block.rewrite(c, from, to, stored);
            }
        } else {
            // New, or moved to another city: carry its nights over, then rewrite the range.
            let column = self
                .take(id)
                .map_or_else(|| Column::defaults(days), |(_, column)| column);
            let block = self
                .by_city
                .entry(key.clone())
                .or_insert_with(|| Block::new(window_from, days));
            block.push(slot, column);
            block.rewrite(block.width() - 1, from, to, stored);
            self.city_of.insert(id, key);
        }
        let ids = self.by_hotel.entry(hotel_id).or_default();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }

    /// Rewrites the nights `[from, to)` of a room type in the index from `stored`; false when
    /// it is not in the index.
    fn rewrite_nights(
        &mut self,
        id: RoomTypeId,
        from: Date,
        to: Date,
        stored: &[StoredNight],
    ) -> bool {
        let Some(block) = self
            .city_of
            .get(&id)
            .and_then(|key| self.by_city.get_mut(key))
        else {
            return false;
        };
        let Some(c) = block.column_of(id) else {
            return false;
        };
        block.rewrite(c, from, to, stored);
        true
    }

    /// Takes a room type out of its block.
    fn take(&mut self, id: RoomTypeId) -> Option<(Slot, Column)> {
        let key = self.city_of.remove(&id)?;
        let block = self.by_city.get_mut(&key)?;
        let c = block.column_of(id)?;
        let (slot, column) = block.take(c);
        if let Some(ids) = self.by_hotel.get_mut(&slot.hotel.id) {
            ids.retain(|x| *x != id);
        }
        Some((slot, column))
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
    /// Serialises refreshes per hotel (striped), so reads are applied in the order taken, and
    /// folds the refreshes asked for meanwhile into one read.
    stripes: Vec<Stripe>,
    /// While a reload reads the store: the ranges refreshed meanwhile. The reload may have
    /// read those nights before the write, so they are read again once its data is in.
    replay: Mutex<Option<Vec<(HotelId, Date, Date)>>>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
}

impl SearchIndex {
    /// An empty index; searches fall back to the store until [`SearchIndex::reload`] runs.
    pub(crate) fn new(horizon_days: u32) -> Self {
        Self {
            data: RwLock::new(Data::default()),
            horizon_days,
            stripes: (0..64).map(|_| Stripe::default()).collect(),
            replay: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// Loads every room type and its nights from `today - 1` over the horizon and swaps the new
    /// data in; then re-reads whatever was refreshed while it read, so a write that committed
    /// during the reload is never overwritten by the older read.
    pub(crate) async fn reload(&self, store: &dyn CatalogStore, today: Date) -> Result<usize> {
        let _one = self.reloading.lock().await;
        self.start_replay_log();
        match self.load(store, today).await {
            Ok(data) => Ok(self.install(store, data).await),
            Err(err) => {
                self.take_replay_log();
                Err(err)
            }
        }
    }

    fn start_replay_log(&self) {
        *self.replay.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
    }

    /// The ranges to re-read, one per hotel (the union of its refreshed ranges).
    fn take_replay_log(&self) -> Vec<(HotelId, Date, Date)> {
        let log = self
            .replay
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default();
        let mut merged: HashMap<HotelId, (Date, Date)> = HashMap::new();
        for (hotel, from, to) in log {
            let range = merged.entry(hotel).or_insert((from, to));
            *range = (range.0.min(from), range.1.max(to));
        }
        merged.into_iter().map(|(h, (f, t))| (h, f, t)).collect()
    }

    /// Swaps `data` in, then replays the refreshes logged since the reload started. Returns the
    /// number of room types indexed.
    async fn install(&self, store: &dyn CatalogStore, data: Data) -> usize {
        let count = data.city_of.len();
        *self.data.write().unwrap_or_else(|e| e.into_inner()) = data;
        metrics::gauge!("innkeeper_catalog_search_index_room_types").set(count as f64);
        for (hotel_id, from, to) in self.take_replay_log() {
            let refresh = Refresh {
                hotel_id,
                only: None,
                from,
                to,
            };
            if let Err(err) = self.refresh_in_turn(store, refresh).await {
                tracing::warn!(%hotel_id, error = %err, "search index refresh after reload failed");
            }
        }
        count
    }

    /// Reads every room type and its nights from `today - 1` over the horizon, a page of
    /// hotels at a time (so the rows of the whole catalog are never in memory at once).
    async fn load(&self, store: &dyn CatalogStore, today: Date) -> Result<Data> {
        let from = today - Duration::days(1);
        let days = self.horizon_days as usize + 1;
        let to = from + Duration::days(days as i64);
        let mut cities: HashMap<String, Vec<(Slot, Column)>> = HashMap::new();
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
                    let key = city_key(&hotel.city);
                    let id = f.room_type.id;
                    data.by_hotel.entry(hotel.id).or_default().push(id);
                    data.city_of.insert(id, key.clone());
                    let mut column = Column::defaults(days);
                    overlay(&mut column, from, &f.nights);
                    let slot = Slot {
                        hotel,
                        room_type: Arc::new(f.room_type),
                    };
                    cities.entry(key).or_default().push((slot, column));
                }
            }
            match hotels.last() {
                Some(last) if hotels.len() == LOAD_PAGE as usize => after = Some(last.id),
                _ => break,
            }
        }
        data.by_city = cities
            .into_iter()
            .map(|(key, columns)| (key, Block::from_columns(from, days, columns)))
            .collect();
        Ok(data)
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
        self.refresh_scoped(store, hotel_id, None, from, to).await
    }

    /// Re-reads one room type's nights in `[from, to)`: after a write that changed only that
    /// type's counters (a hold placed, confirmed, released), its nights alone instead of the
    /// whole hotel's (a room type not in the index yet is read whole).
    pub(crate) async fn refresh_room_type(
        &self,
        store: &dyn CatalogStore,
        hotel_id: HotelId,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
    ) -> Result<()> {
        self.refresh_scoped(store, hotel_id, Some(room_type_id), from, to)
            .await
    }

    /// Lays the nights a write returned (each with its revision) over the room type's
    /// `[from, to)`, with no read: false when the room type is not in the index, for the
    /// caller to refresh it instead. Writers may arrive in any order; each night keeps its
    /// newest revision.
    pub(crate) fn apply_nights(
        &self,
        hotel_id: HotelId,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
        nights: &[StoredNight],
    ) -> bool {
        self.log_for_reload(hotel_id, from, to);
        let mut data = self.data.write().unwrap_or_else(|e| e.into_inner());
        let Some((window_from, days)) = data.window else {
            return true; // not loaded: nothing to keep fresh
        };
        let window_to = window_from + Duration::days(days as i64);
        let (from, to) = (from.max(window_from), to.min(window_to));
        from >= to || data.rewrite_nights(room_type_id, from, to, nights)
    }

    /// Logs a range written while a reload reads: the reload may have read it before the
    /// write, so it is read again once the reload's data is in.
    fn log_for_reload(&self, hotel_id: HotelId, from: Date, to: Date) {
        if let Some(log) = self
            .replay
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            // The whole hotel's range is replayed: a superset of a room type's.
            log.push((hotel_id, from, to));
        }
    }

    async fn refresh_scoped(
        &self,
        store: &dyn CatalogStore,
        hotel_id: HotelId,
        only: Option<RoomTypeId>,
        from: Date,
        to: Date,
    ) -> Result<()> {
        // Logged before it is applied: a reload that swaps its data in after this point
        // reads the range again.
        self.log_for_reload(hotel_id, from, to);
        let refresh = Refresh {
            hotel_id,
            only,
            from,
            to,
        };
        self.refresh_in_turn(store, refresh).await
    }

    /// Queues `refresh` on its hotel's stripe and waits for the stripe's turn. A turn reads
    /// every refresh queued by then, one read per hotel, each started after its writer
    /// committed; so when the turn comes to a refresh that an earlier turn read, it is done.
    /// Under load that folds many re-reads of a busy hotel (64 guests racing for its last
    /// rooms) into a few, and every caller still returns only once its write is in the index.
    async fn refresh_in_turn(&self, store: &dyn CatalogStore, refresh: Refresh) -> Result<()> {
        let stripe = &self.stripes[stripe_of(refresh.hotel_id, self.stripes.len())];
        let ticket = stripe.queue().ask(refresh);
        let _turn = stripe.turn.lock().await;
        let (batch, last) = {
            let mut queue = stripe.queue();
            if queue.done >= ticket {
                return Ok(());
            }
            (std::mem::take(&mut queue.asked), queue.last)
        };
        let mut failed = None;
        for merged in merge_by_hotel(&batch) {
            if let Err(err) = self.apply_refresh(store, merged).await {
                failed = Some(err);
                break;
            }
        }
        let mut queue = stripe.queue();
        match failed {
            None => {
                queue.done = last;
                Ok(())
            }
            Some(err) => {
                // Not read: back in front, for the next turn to try (each waiter gets one).
                let newer = std::mem::replace(&mut queue.asked, batch);
                queue.asked.extend(newer);
                Err(err)
            }
        }
    }

    /// Re-reads the hotel (or only the nights of its room type `only`) over `[from, to)` and
    /// applies it.
    async fn apply_refresh(&self, store: &dyn CatalogStore, refresh: Refresh) -> Result<()> {
        let Refresh {
            hotel_id,
            only,
            from,
            to,
        } = refresh;
        let Some((window_from, days)) = self.data.read().unwrap_or_else(|e| e.into_inner()).window
        else {
            return Ok(()); // not loaded: nothing to keep fresh
        };
        let window_to = window_from + Duration::days(days as i64);
        let (from, to) = (from.max(window_from), to.min(window_to));
        if let Some(room_type_id) = only {
            if from >= to {
                return Ok(());
            }
            let nights = store.nights(room_type_id, from, to).await?;
            let mut data = self.data.write().unwrap_or_else(|e| e.into_inner());
            if data.rewrite_nights(room_type_id, from, to, &nights) {
                return Ok(());
            }
            // Not in the index yet: read it whole, below.
        }
        // An empty range still re-reads the hotel and its room types (one night).
        let read_to = if from < to {
            to
        } else {
            from + Duration::days(1)
        };
        let scope = match only {
            Some(room_type_id) => SearchScope::RoomType(room_type_id),
            None => SearchScope::Hotel(hotel_id),
        };
        let found = store.room_type_nights(&scope, 0, from, read_to).await?;
        let mut data = self.data.write().unwrap_or_else(|e| e.into_inner());
        let mut known: Vec<RoomTypeId> = data.by_hotel.get(&hotel_id).cloned().unwrap_or_default();
        if let Some(room_type_id) = only {
            known.retain(|id| *id == room_type_id);
        }
        // Every row carries its hotel: one fresh copy, shared by all its room types.
        let seen: Vec<RoomTypeId> = found.iter().map(|f| f.room_type.id).collect();
        let shared = found.first().map(|f| Arc::new(f.hotel.clone()));
        // Rows absent from the read are back to defaults within the refreshed range (none
        // when the range is empty: only the room types and the hotel were re-read).
        let to = to.max(from);
        for (f, hotel) in found.into_iter().filter_map(|f| Some((f, shared.clone()?))) {
            let slot = Slot {
                hotel,
                room_type: Arc::new(f.room_type),
            };
            data.upsert(slot, from, to, &f.nights);
        }
        // Room types (or the hotel) no longer in the store leave the index.
        for id in known.into_iter().filter(|id| !seen.contains(id)) {
            data.take(id);
        }
        Ok(())
    }

    /// A room type with its hotel and its nights in `[check_in, check_out)` as the index holds
    /// them, in the store's shape (a night has a row only where the store has one): what a
    /// quote reads. `None` when the room type or the stay is not in memory.
    pub(crate) fn room_type_nights(
        &self,
        room_type_id: RoomTypeId,
        check_in: Date,
        check_out: Date,
    ) -> Option<RoomTypeNights> {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        let block = data.by_city.get(data.city_of.get(&room_type_id)?)?;
        let c = block.column_of(room_type_id)?;
        let (start, nights) = block.rows(check_in, check_out)?;
        let w = block.width();
        let stored = (start..start + nights)
            .filter(|d| block.free[d * w + c] != DEFAULT_FREE)
            .map(|d| {
                let (free, price, min_stay, rev) = (
                    block.free[d * w + c],
                    block.price[d * w + c],
                    block.min_stay[d * w + c],
                    block.rev[d * w + c],
                );
                StoredNight {
                    night: block.from + Duration::days(d as i64),
                    total: free,
                    held: 0,
                    sold: 0,
                    price: (price != BASE_PRICE).then_some(price),
                    min_stay: (min_stay != 0).then_some(u32::from(min_stay)),
                    rev: u64::from(rev),
                }
            })
            .collect();
        let slot = &block.slots[c];
        Some(RoomTypeNights {
            hotel: Hotel::clone(&slot.hotel),
            room_type: RoomType::clone(&slot.room_type),
            nights: stored,
        })
    }

    /// The hotel of a cached room type.
    pub(crate) fn hotel_of(&self, room_type_id: RoomTypeId) -> Option<HotelId> {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        let block = data.by_city.get(data.city_of.get(&room_type_id)?)?;
        let c = block.column_of(room_type_id)?;
        Some(block.slots[c].hotel.id)
    }

    /// Runs `f` over the blocks of `scope` (with the columns to consider, `None` for all),
    /// under the read lock. `None` when `[check_in, check_out)` is not in memory (the caller
    /// asks the store instead).
    pub(crate) fn with_blocks<R>(
        &self,
        scope: &SearchScope,
        check_in: Date,
        check_out: Date,
        f: impl FnOnce(&[(&Block, Option<Vec<usize>>)]) -> R,
    ) -> Option<R> {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        let (from, days) = data.window?;
        if check_in < from || check_out > from + Duration::days(days as i64) {
            return None;
        }
        let blocks: Vec<(&Block, Option<Vec<usize>>)> = match scope {
            SearchScope::City(city) => data
                .by_city
                .get(&city_key(city))
                .map(|b| (b, None))
                .into_iter()
                .collect(),
            SearchScope::Hotel(id) => {
                let mut by_block: Vec<(&Block, Option<Vec<usize>>)> = Vec::new();
                for rt in data.by_hotel.get(id).into_iter().flatten() {
                    let Some(block) = data.city_of.get(rt).and_then(|k| data.by_city.get(k)) else {
                        continue;
                    };
                    let Some(c) = block.column_of(*rt) else {
                        continue;
                    };
                    match by_block.iter_mut().find(|(b, _)| std::ptr::eq(*b, block)) {
                        Some((_, Some(columns))) => columns.push(c),
                        _ => by_block.push((block, Some(vec![c]))),
                    }
                }
                by_block
            }
            SearchScope::RoomType(rt) => data
                .city_of
                .get(rt)
                .and_then(|k| data.by_city.get(k))
                .and_then(|block| Some((block, Some(vec![block.column_of(*rt)?]))))
                .into_iter()
                .collect(),
            SearchScope::Area(b) => data
                .by_city
                .values()
                .filter_map(|block| {
                    let columns: Vec<usize> = (0..block.slots.len())
                        .filter(|&c| inside(b, &block.slots[c]))
                        .collect();
                    (!columns.is_empty()).then_some((block, Some(columns)))
                })
                .collect(),
        };
        Some(f(&blocks))
    }
}

fn inside(b: &BoundingBox, slot: &Slot) -> bool {
    let p = slot.hotel.location;
    p.lat >= b.min_lat && p.lat <= b.max_lat && p.lon >= b.min_lon && p.lon <= b.max_lon
}

/// A re-read asked for after a write: the hotel's room types and their nights in `[from, to)`,
/// or only the nights of `only`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Refresh {
    hotel_id: HotelId,
    only: Option<RoomTypeId>,
    from: Date,
    to: Date,
}

/// The reads covering every refresh of `batch`: per hotel, one of the whole hotel over the
/// union of the ranges when any refresh asked for the whole hotel, else one of each room
/// type's nights over the union of its ranges (a hotel read costs every room type's nights).
fn merge_by_hotel(batch: &[Refresh]) -> Vec<Refresh> {
    let whole: Vec<HotelId> = batch
        .iter()
        .filter(|r| r.only.is_none())
        .map(|r| r.hotel_id)
        .collect();
    let mut merged: Vec<Refresh> = Vec::new();
    for r in batch {
        let only = if whole.contains(&r.hotel_id) {
            None
        } else {
            r.only
        };
        match merged
            .iter_mut()
            .find(|m| m.hotel_id == r.hotel_id && m.only == only)
        {
            Some(m) => {
                m.from = m.from.min(r.from);
                m.to = m.to.max(r.to);
            }
            None => merged.push(Refresh { only, ..*r }),
        }
    }
    merged
}

/// A hotel stripe: whose turn it is to read, and what waits to be read.
#[derive(Debug, Default)]
struct Stripe {
    turn: tokio::sync::Mutex<()>,
    queue: Mutex<Queue>,
}

impl Stripe {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Refreshes asked for on a stripe: tickets count them; every ticket up to `done` was read.
#[derive(Debug, Default)]
struct Queue {
    asked: Vec<Refresh>,
    last: u64,
    done: u64,
}

impl Queue {
    /// Queues `refresh`; returns its ticket.
    fn ask(&mut self, refresh: Refresh) -> u64 {
        self.asked.push(refresh);
        self.last += 1;
        self.last
    }
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

    fn slot(room_type: RoomType) -> Slot {
        Slot {
            hotel: hotel(),
            room_type: Arc::new(room_type),
        }
    }

    fn random_nights(rng: &mut StdRng, from: Date, days: i64) -> Vec<StoredNight> {
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
                    rev: 1,
                });
            }
        }
        stored
    }

    /// The night-major block answers exactly as the reference rules in `domain` over the
    /// sparse rows, for random rows, stays and room counts, column by column.
    #[test]
    fn blocks_price_and_check_stays_like_the_domain_rules() {
        let mut rng = StdRng::seed_from_u64(7);
        let from = date!(2027 - 01 - 01);
        let days = 40;
        for _ in 0..60 {
            let width = rng.random_range(1..7);
            let columns: Vec<(Slot, Vec<StoredNight>)> = (0..width)
                .map(|_| {
                    let rt = room_type(rng.random_range(0..4), rng.random_range(1..50_000));
                    (slot(rt), random_nights(&mut rng, from, days))
                })
                .collect();
            let block = Block::build(from, days as usize, columns.clone());
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
                let (i, n) = block
                    .rows(stay.check_in(), stay.check_out())
                    .expect("inside the window");
                assert_eq!((i, n), (start as usize, nights as usize));
                let sellable = block.sellable(i, n, rooms, 0, None);
                for (c, (slot, stored)) in columns.iter().enumerate() {
                    let expected = domain::stay_total(&slot.room_type, stored, &stay, rooms);
                    let got = sellable
                        .iter()
                        .find(|s| s.column == c)
                        .map(|s| (s.total, s.rooms_left));
                    assert_eq!(got, expected, "column {c}, {stay:?} x{rooms}");
                    let priced =
                        domain::price_stay(&slot.room_type, stored, &stay, 1).expect("priced");
                    let dense: Vec<(Date, i64)> = block.night_prices(c, i, n).collect();
                    let reference: Vec<(Date, i64)> = priced
                        .nights
                        .iter()
                        .map(|p| (p.night, p.price.amount))
                        .collect();
                    assert_eq!(dense, reference);
                }
            }
        }
    }

    #[test]
    fn stays_outside_the_window_have_no_rows() {
        let from = date!(2027 - 01 - 01);
        let block = Block::build(from, 10, vec![(slot(room_type(2, 100)), vec![])]);
        assert_eq!(
            block.rows(from - Duration::days(1), from + Duration::days(2)),
            None
        );
        assert_eq!(
            block.rows(from + Duration::days(8), from + Duration::days(11)),
            None
        );
        assert_eq!(
            block.rows(from + Duration::days(8), from + Duration::days(10)),
            Some((8, 2))
        );
        assert_eq!(block.rows(from, from), None);
    }

    #[test]
    fn capacity_and_chosen_columns_filter_the_scan() {
        let from = date!(2027 - 01 - 01);
        let mut big = room_type(2, 100);
        big.capacity = 4;
        let block = Block::build(
            from,
            5,
            vec![(slot(room_type(2, 100)), vec![]), (slot(big), vec![])],
        );
        let columns = |s: Vec<Sellable>| s.iter().map(|s| s.column).collect::<Vec<_>>();
        assert_eq!(columns(block.sellable(0, 2, 1, 3, None)), vec![1]);
        assert_eq!(columns(block.sellable(0, 2, 1, 1, Some(&[0]))), vec![0]);
        assert_eq!(
            columns(block.sellable(0, 2, 3, 1, None)),
            Vec::<usize>::new()
        );
        // The capacity filter is the party rule of `domain::fits`.
        for capacity in 1..5 {
            let mut rt = room_type(9, 100);
            rt.capacity = capacity;
            let one = Block::build(from, 5, vec![(slot(rt), vec![])]);
            for rooms in 1..4 {
                for guests in rooms..12 {
                    let sold = !one
                        .sellable(0, 1, rooms, guests.div_ceil(rooms), None)
                        .is_empty();
                    assert_eq!(
                        sold,
                        domain::fits(capacity, guests, rooms),
                        "capacity {capacity}, {guests} guests, {rooms} rooms"
                    );
                }
            }
        }
    }

    #[test]
    fn nights_keep_their_newest_revision_and_moves_keep_nights() {
        let from = date!(2027 - 01 - 01);
        let night = |held: u32, rev: u64| StoredNight {
            night: from + Duration::days(1),
            total: 5,
            held,
            sold: 0,
            price: Some(1),
            min_stay: None,
            rev,
        };
        let full = night(5, 3);
        let mut data = Data {
            window: Some((from, 5)),
            ..Data::default()
        };
        let s = slot(room_type(2, 100));
        let id = s.room_type.id;
        data.upsert(s.clone(), from, from + Duration::days(5), &[full]);
        let lisbon = |data: &Data| data.by_city.get("lisbon").expect("lisbon").clone();
        assert_eq!(lisbon(&data).sellable(1, 1, 1, 0, None), vec![]);

        // An older revision of the night (a read or a write's answer that lost the race to
        // this one), and a read from before the night had a row: neither undoes it.
        data.upsert(s.clone(), from, from + Duration::days(5), &[night(3, 2)]);
        data.upsert(s.clone(), from, from + Duration::days(5), &[]);
        assert!(data.rewrite_nights(id, from, from + Duration::days(5), &[night(2, 1)]));
        assert_eq!(lisbon(&data).sellable(1, 1, 1, 0, None), vec![]);

        // A newer one goes in, by a read or as a write returned it.
        assert!(data.rewrite_nights(id, from, from + Duration::days(5), &[night(4, 4)]));
        let left = |data: &Data| {
            lisbon(data)
                .sellable(1, 1, 1, 0, None)
                .first()
                .map(|s| s.rooms_left)
        };
        assert_eq!(left(&data), Some(1));
        data.upsert(s.clone(), from, from + Duration::days(5), &[night(3, 5)]);
        assert_eq!(left(&data), Some(2));
        assert!(
            !data.rewrite_nights(RoomTypeId::new(), from, from, &[]),
            "not in the index"
        );

        // The hotel moves to Porto: the room type leaves Lisbon and keeps its nights.
        data.upsert(s.clone(), from, from + Duration::days(5), &[night(5, 6)]);
        let mut moved = (*s.hotel).clone();
        moved.city = "Porto".into();
        let in_porto = Slot {
            hotel: Arc::new(moved),
            room_type: s.room_type.clone(),
        };
        data.upsert(in_porto, from, from, &[]);
        assert_eq!(lisbon(&data).slots.len(), 0);
        let porto = data.by_city.get("porto").expect("porto");
        assert_eq!(porto.sellable(1, 1, 1, 0, None), vec![]);
        assert_eq!(porto.sellable(2, 1, 1, 0, None).len(), 1);
        assert!(data.take(id).is_some());
        assert!(data.by_hotel.values().all(|ids| ids.is_empty()));
    }

    /// A write that commits while a reload is reading the store shows once the reload is in:
    /// the reload read the night before the write, and its data must not win.
    #[tokio::test]
    async fn a_write_during_a_reload_is_not_lost_to_it() {
        use crate::testing::Indexed;
        use innkeeper_kernel::Clock;

        use crate::api::CatalogApi;

        let indexed = Indexed::new(1).await;
        let catalog = indexed.catalog();
        let today = indexed.clock.today();
        assert_eq!(indexed.rooms_left().await, 1);

        // A reload reads the store (the room is free) ...
        let (index, store) = catalog.index_and_store();
        index.start_replay_log();
        let read = index.load(store, today).await.expect("load");
        // ... then a hold commits and refreshes the index the reload is about to replace ...
        catalog
            .place_hold(indexed.hold())
            .await
            .expect("hold the only room");
        assert_eq!(indexed.rooms_left().await, 0, "held");
        // ... and the reload's older read goes in: the held night must stay held.
        index.install(store, read).await;
        assert_eq!(
            indexed.rooms_left().await,
            0,
            "the reload's older read must not undo the hold"
        );
    }

    /// 64 writers at once on one hotel: their re-reads fold, and each still returns only once
    /// the index shows its write.
    #[tokio::test]
    async fn concurrent_writers_of_a_hotel_each_see_their_write_in_the_index() {
        use crate::api::CatalogApi;
        use crate::testing::Indexed;

        let indexed = Arc::new(Indexed::new(10).await);
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let indexed = indexed.clone();
                tokio::spawn(async move {
                    let held = indexed.catalog().place_hold(indexed.hold()).await;
                    // Read before any other task is awaited: this task's own hold must show.
                    let left = indexed.rooms_left().await;
                    (held, left)
                })
            })
            .collect();
        let mut holds = Vec::new();
        for task in tasks {
            let (held, left) = task.await.expect("task");
            if let Ok(hold) = held {
                assert!(
                    left <= 9,
                    "a hold returned before the index showed it ({left} left)"
                );
                holds.push(hold);
            }
        }
        assert_eq!(holds.len(), 10, "exactly the 10 rooms are held");
        assert_eq!(indexed.rooms_left().await, 0);

        let releases: Vec<_> = holds[..3]
            .iter()
            .map(|hold| {
                let (indexed, id) = (indexed.clone(), hold.id);
                tokio::spawn(async move { indexed.catalog().release_hold(id).await })
            })
            .collect();
        for release in releases {
            release.await.expect("task").expect("release");
        }
        assert_eq!(
            indexed.rooms_left().await,
            3,
            "the index shows every release"
        );
    }

    #[test]
    fn refreshes_merge_per_room_type_or_hotel_over_their_ranges() {
        let (a, b) = (HotelId::new(), HotelId::new());
        let (ta, tb) = (RoomTypeId::new(), RoomTypeId::new());
        let refresh = |hotel_id, only, from, to| Refresh {
            hotel_id,
            only,
            from,
            to,
        };
        let merged = merge_by_hotel(&[
            refresh(a, Some(ta), date!(2027 - 03 - 05), date!(2027 - 03 - 07)),
            refresh(b, Some(tb), date!(2027 - 04 - 01), date!(2027 - 04 - 02)),
            refresh(a, Some(ta), date!(2027 - 03 - 01), date!(2027 - 03 - 06)),
        ]);
        assert_eq!(
            merged,
            vec![
                refresh(a, Some(ta), date!(2027 - 03 - 01), date!(2027 - 03 - 07)),
                refresh(b, Some(tb), date!(2027 - 04 - 01), date!(2027 - 04 - 02)),
            ]
        );
        // Another room type of the same hotel: read on its own ...
        let other = RoomTypeId::new();
        let merged = merge_by_hotel(&[
            refresh(a, Some(ta), date!(2027 - 03 - 05), date!(2027 - 03 - 07)),
            refresh(a, Some(other), date!(2027 - 03 - 06), date!(2027 - 03 - 09)),
        ]);
        assert_eq!(
            merged,
            vec![
                refresh(a, Some(ta), date!(2027 - 03 - 05), date!(2027 - 03 - 07)),
                refresh(a, Some(other), date!(2027 - 03 - 06), date!(2027 - 03 - 09)),
            ]
        );
        // ... unless the whole hotel is read anyway.
        let merged = merge_by_hotel(&[
            refresh(a, Some(ta), date!(2027 - 03 - 05), date!(2027 - 03 - 07)),
            refresh(b, Some(tb), date!(2027 - 04 - 01), date!(2027 - 04 - 02)),
            refresh(a, None, date!(2027 - 03 - 06), date!(2027 - 03 - 09)),
        ]);
        assert_eq!(
            merged,
            vec![
                refresh(a, None, date!(2027 - 03 - 05), date!(2027 - 03 - 09)),
                refresh(b, Some(tb), date!(2027 - 04 - 01), date!(2027 - 04 - 02)),
            ]
        );
    }
}
