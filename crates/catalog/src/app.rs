//! The catalog's use cases: one method per operation of [`CatalogApi`], over a store.
//!
//! Each use case validates with the pure `domain` rules, checks the caller's right to the
//! hotel (another hotelier's hotel is reported as not found), and leaves every transaction to
//! the store.

use std::sync::Arc;

use innkeeper_kernel::{
    Clock, Error, HoldId, HotelId, Page, Principal, Result, RoomId, RoomTypeId, StayDates,
};
use time::{Date, Duration};
use tracing::instrument;

use crate::api::*;
use crate::domain;
use crate::search::{self, Pick, Wanted, summary};
use crate::search_index::{Block, SearchIndex, Slot};
use crate::store::{CatalogStore, HotelFilter, NewHold, RoomTypeNights, SearchScope};

/// Tunables of the catalog.
#[derive(Debug, Clone)]
pub struct CatalogSettings {
    /// Longest stay that can be searched or held.
    pub max_nights: u32,
    /// Longest hold TTL a caller may ask for, seconds.
    pub max_hold_ttl_seconds: u32,
    /// Default radius of a `near` search, km.
    pub default_radius_km: f64,
    /// Nights from today kept in the in-memory search index (later stays read the store).
    pub search_horizon_days: u32,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self {
            max_nights: 30,
            max_hold_ttl_seconds: 3600,
            default_radius_km: 10.0,
            search_horizon_days: 550,
        }
    }
}

/// The catalog service: implements [`CatalogApi`] in-process.
#[derive(Clone)]
pub struct CatalogService {
    store: Arc<dyn CatalogStore>,
    clock: Arc<dyn Clock>,
    settings: CatalogSettings,
    index: Arc<SearchIndex>,
}

impl std::fmt::Debug for CatalogService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl CatalogService {
    /// A service over a migrated store.
    pub fn new(
        store: Arc<dyn CatalogStore>,
        clock: Arc<dyn Clock>,
        settings: CatalogSettings,
    ) -> Self {
        let index = Arc::new(SearchIndex::new(settings.search_horizon_days));
        Self {
            store,
            clock,
            settings,
            index,
        }
    }

    /// Loads (or reloads) the in-memory search index from the store; until the first load,
    /// searches read the store. Returns the number of room types indexed.
    pub async fn load_search_index(&self) -> Result<usize> {
        self.index.reload(&*self.store, self.clock.today()).await
    }

    /// The search index and the store it is kept from (for tests that interleave a reload).
    #[cfg(test)]
    pub(crate) fn index_and_store(&self) -> (&SearchIndex, &dyn CatalogStore) {
        (&self.index, &*self.store)
    }

    /// Keeps the index fresh after a committed write; a failure only leaves the cache stale
    /// until the next write or reload, so it is logged, not returned.
    async fn refresh_index(&self, hotel_id: HotelId, from: Date, to: Date) {
        if let Err(err) = self.index.refresh(&*self.store, hotel_id, from, to).await {
            tracing::warn!(%hotel_id, error = %err, "search index refresh failed");
        }
    }

    /// Keeps one room type's nights fresh after a write that moved only its counters.
    async fn refresh_index_room_type(
        &self,
        hotel_id: HotelId,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
    ) {
        let refreshed = self
            .index
            .refresh_room_type(&*self.store, hotel_id, room_type_id, from, to)
            .await;
        if let Err(err) = refreshed {
            tracing::warn!(%hotel_id, %room_type_id, error = %err, "search index refresh failed");
        }
    }

    /// Refreshes every cached night of a hotel (after room changes that move allotments).
    async fn refresh_index_all_nights(&self, hotel_id: HotelId) {
        let today = self.clock.today();
        let to = today + Duration::days(i64::from(self.settings.search_horizon_days) + 1);
        self.refresh_index(hotel_id, today - Duration::days(1), to)
            .await;
    }

    /// Expires up to `batch` holds whose TTL has passed and refreshes the search index over
    /// their nights (once per hotel); returns the expired holds. Run by the sweeper.
    pub async fn expire_due_holds(&self, batch: u32) -> Result<Vec<Hold>> {
        let expired = self.store.expire_holds(self.clock.now(), batch).await?;
        let mut stays: std::collections::BTreeMap<HotelId, (Date, Date)> =
            std::collections::BTreeMap::new();
        for hold in &expired {
            let (from, to) = (hold.stay.check_in(), hold.stay.check_out());
            stays
                .entry(hold.hotel_id)
                .and_modify(|(lo, hi)| {
                    *lo = (*lo).min(from);
                    *hi = (*hi).max(to);
                })
                .or_insert((from, to));
        }
        for (hotel_id, (from, to)) in stays {
            self.refresh_index(hotel_id, from, to).await;
        }
        Ok(expired)
    }

    /// The hotel, if the caller may manage it; otherwise not found (never forbidden: an
    /// object that is not yours does not exist for you).
    async fn managed_hotel(&self, caller: &Principal, id: HotelId) -> Result<Hotel> {
        caller.require_hotel_manager()?;
        match self.store.get_hotel(id).await? {
            Some(hotel) if caller.may_manage(hotel.owner_id) => Ok(hotel),
            _ => Err(Error::not_found("hotel", id)),
        }
    }

    async fn managed_room_type(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        id: RoomTypeId,
    ) -> Result<(Hotel, RoomType)> {
        let hotel = self.managed_hotel(caller, hotel_id).await?;
        match self.store.get_room_type(id).await? {
            Some(rt) if rt.hotel_id == hotel.id => Ok((hotel, rt)),
            _ => Err(Error::not_found("room type", id)),
        }
    }

    /// Ranks the room types of `scope` for a stay (from the index, or the store when the
    /// stay is outside the indexed window) and builds the best `limit` offers.
    async fn find_offers(
        &self,
        scope: &SearchScope,
        stay: &StayDates,
        guests: u32,
        rooms: u32,
        pick: &Pick,
    ) -> Result<Vec<Offer>> {
        let wanted = Wanted {
            stay,
            guests,
            rooms,
            pick,
        };
        let (from, to) = (stay.check_in(), stay.check_out());
        if let Some(offers) = self.index.with_blocks(scope, from, to, |blocks| {
            search::best_offers(blocks, wanted)
        }) {
            return Ok(offers);
        }
        // Outside the indexed window: the store's rows, laid out and ranked the same way.
        let min_capacity = guests.div_ceil(rooms);
        let found = self
            .store
            .room_type_nights(scope, min_capacity, from, to)
            .await?
            .into_iter()
            .map(|f| {
                let slot = Slot {
                    hotel: Arc::new(f.hotel),
                    room_type: Arc::new(f.room_type),
                };
                (slot, f.nights)
            })
            .collect();
        let block = Block::build(from, stay.night_count() as usize, found);
        Ok(search::best_offers(&[(&block, None)], wanted))
    }
}

fn check_rooms_and_guests(guests: u32, rooms: u32) -> Result<()> {
    let mut err: Option<Error> = None;
    let mut add = |field: &str, msg: &str| {
        err = Some(match err.take() {
            Some(e) => e.with_field(field, msg),
            None => Error::invalid_field(field, msg),
        })
    };
    if !(1..=50).contains(&guests) {
        add("guests", "must be between 1 and 50");
    }
    if !(1..=9).contains(&rooms) {
        add("rooms", "must be between 1 and 9");
    } else if guests < rooms {
        add("rooms", "every room needs at least one guest");
    }
    err.map_or(Ok(()), Err)
}

#[async_trait::async_trait]
impl CatalogApi for CatalogService {
    #[instrument(skip_all, fields(owner = %caller.user_id))]
    async fn create_hotel(&self, caller: &Principal, hotel: NewHotel) -> Result<Hotel> {
        caller.require_hotel_manager()?;
        let new = domain::validate_new_hotel(hotel)?;
        let now = self.clock.now();
        let hotel = Hotel {
            id: HotelId::new(),
            owner_id: caller.user_id,
            name: new.name,
            description: new.description,
            address: new.address,
            city: new.city,
            country: new.country,
            location: new.location,
            stars: new.stars,
            currency: new.currency,
            timezone: new.timezone,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_hotel(&hotel).await?;
        metrics::counter!("innkeeper_catalog_hotels_created_total").increment(1);
        Ok(hotel)
    }

    async fn get_hotel(&self, id: HotelId) -> Result<HotelDetails> {
        let hotel = self
            .store
            .get_hotel(id)
            .await?
            .ok_or_else(|| Error::not_found("hotel", id))?;
        let room_types = self.store.list_room_types(id).await?;
        Ok(HotelDetails { hotel, room_types })
    }

    #[instrument(skip_all, fields(hotel_id = %id))]
    async fn update_hotel(
        &self,
        caller: &Principal,
        id: HotelId,
        if_match: i64,
        patch: HotelPatch,
    ) -> Result<Hotel> {
        let hotel = self.managed_hotel(caller, id).await?;
        if hotel.version != if_match {
            return Err(Error::version_mismatch(hotel.version));
        }
        let mut next = domain::apply_hotel_patch(&hotel, patch)?;
        next.updated_at = self.clock.now();
        let updated = self.store.update_hotel(&next, if_match).await?;
        let today = self.clock.today();
        self.refresh_index(id, today, today).await;
        Ok(updated)
    }

    async fn list_hotels(&self, query: HotelQuery) -> Result<Page<HotelSummary>> {
        let limit = query.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(Error::invalid_field("limit", "must be between 1 and 100"));
        }
        let radius = query.radius_km.unwrap_or(self.settings.default_radius_km);
        if query.near.is_some() && !(radius > 0.0 && radius <= 500.0) {
            return Err(Error::invalid_field(
                "radius_km",
                "must be greater than 0 and at most 500",
            ));
        }
        let after = match &query.cursor {
            Some(c) => Some(HotelId::parse_field("cursor", c)?),
            None => None,
        };
        let text = query
            .q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_owned);
        if text.as_ref().is_some_and(|t| t.len() > 100) {
            return Err(Error::invalid_field("q", "must be at most 100 characters"));
        }
        let filter = HotelFilter {
            city: query
                .city
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
            area: query.near.map(|p| domain::bounding_box(p, radius)),
            text,
            after,
            limit: limit + 1,
        };
        let mut hotels = self.store.list_hotels(&filter).await?;
        let more = hotels.len() > limit as usize;
        hotels.truncate(limit as usize);
        let next_cursor = if more {
            hotels.last().map(|h| h.id.to_string())
        } else {
            None
        };
        let items = hotels
            .iter()
            .filter_map(|h| match query.near {
                Some(p) => {
                    let d = p.distance_km(&h.location);
                    (d <= radius).then(|| summary(h, Some(d)))
                }
                None => Some(summary(h, None)),
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    #[instrument(skip_all, fields(hotel_id = %hotel_id))]
    async fn create_room_type(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room_type: NewRoomType,
    ) -> Result<RoomType> {
        let hotel = self.managed_hotel(caller, hotel_id).await?;
        let new = domain::validate_new_room_type(room_type, hotel.currency)?;
        let room_type = RoomType {
            id: RoomTypeId::new(),
            hotel_id,
            name: new.name,
            description: new.description,
            capacity: new.capacity,
            beds: new.beds,
            amenities: new.amenities,
            base_price: new.base_price,
            active_rooms: 0,
            version: 1,
        };
        self.store.insert_room_type(&room_type).await?;
        let today = self.clock.today();
        self.refresh_index(hotel_id, today, today).await;
        Ok(room_type)
    }

    #[instrument(skip_all, fields(hotel_id = %hotel_id, room_type_id = %id))]
    async fn update_room_type(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        id: RoomTypeId,
        if_match: i64,
        patch: RoomTypePatch,
    ) -> Result<RoomType> {
        let (_, room_type) = self.managed_room_type(caller, hotel_id, id).await?;
        if room_type.version != if_match {
            return Err(Error::version_mismatch(room_type.version));
        }
        let next = domain::apply_room_type_patch(&room_type, patch)?;
        let updated = self.store.update_room_type(&next, if_match).await?;
        let today = self.clock.today();
        self.refresh_index(hotel_id, today, today).await;
        Ok(updated)
    }

    #[instrument(skip_all, fields(hotel_id = %hotel_id))]
    async fn create_room(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room: NewRoom,
    ) -> Result<Room> {
        let new = domain::validate_new_room(room)?;
        self.managed_room_type(caller, hotel_id, new.room_type_id)
            .await
            .map_err(|e| {
                if e.code == innkeeper_kernel::ErrorCode::NotFound
                    && e.message.starts_with("room type")
                {
                    Error::invalid_field("room_type_id", "is not a room type of this hotel")
                } else {
                    e
                }
            })?;
        let room = Room {
            id: RoomId::new(),
            hotel_id,
            room_type_id: new.room_type_id,
            number: new.number,
            floor: new.floor,
            status: new.status,
            version: 1,
        };
        self.store.insert_room(&room).await?;
        self.refresh_index_all_nights(hotel_id).await;
        Ok(room)
    }

    #[instrument(skip_all, fields(hotel_id = %hotel_id, room_id = %id))]
    async fn update_room(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        id: RoomId,
        if_match: i64,
        patch: RoomPatch,
    ) -> Result<Room> {
        self.managed_hotel(caller, hotel_id).await?;
        let room = match self.store.get_room(id).await? {
            Some(room) if room.hotel_id == hotel_id => room,
            _ => return Err(Error::not_found("room", id)),
        };
        if room.version != if_match {
            return Err(Error::version_mismatch(room.version));
        }
        let next = domain::apply_room_patch(&room, patch)?;
        if next.room_type_id != room.room_type_id {
            match self.store.get_room_type(next.room_type_id).await? {
                Some(rt) if rt.hotel_id == hotel_id => {}
                _ => {
                    return Err(Error::invalid_field(
                        "room_type_id",
                        "is not a room type of this hotel",
                    ));
                }
            }
        }
        let updated = self.store.update_room(&next, if_match).await?;
        self.refresh_index_all_nights(hotel_id).await;
        Ok(updated)
    }

    async fn list_rooms(&self, caller: &Principal, hotel_id: HotelId) -> Result<Vec<Room>> {
        self.managed_hotel(caller, hotel_id).await?;
        self.store.list_rooms(hotel_id).await
    }

    #[instrument(skip_all, fields(hotel_id = %hotel_id, room_type_id = %room_type_id))]
    async fn set_rate(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room_type_id: RoomTypeId,
        rate: SetRate,
    ) -> Result<NightsChanged> {
        let (hotel, _) = self
            .managed_room_type(caller, hotel_id, room_type_id)
            .await?;
        domain::check_night_range(rate.from, rate.to, self.clock.today())?;
        let price = rate.price.check_price("price", hotel.currency)?;
        if let Some(m) = rate.min_stay
            && !(1..=self.settings.max_nights).contains(&m)
        {
            return Err(Error::invalid_field(
                "min_stay",
                format!("must be between 1 and {}", self.settings.max_nights),
            ));
        }
        let nights = self
            .store
            .set_rates(
                room_type_id,
                rate.from,
                rate.to,
                price.amount,
                rate.min_stay,
            )
            .await?;
        self.refresh_index(hotel_id, rate.from, rate.to).await;
        Ok(NightsChanged {
            room_type_id,
            nights,
        })
    }

    #[instrument(skip_all, fields(hotel_id = %hotel_id, room_type_id = %room_type_id))]
    async fn set_inventory(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room_type_id: RoomTypeId,
        inventory: SetInventory,
    ) -> Result<NightsChanged> {
        self.managed_room_type(caller, hotel_id, room_type_id)
            .await?;
        domain::check_night_range(inventory.from, inventory.to, self.clock.today())?;
        if inventory.total > 10_000 {
            return Err(Error::invalid_field("total", "must be at most 10000"));
        }
        let nights = self
            .store
            .set_inventory(room_type_id, inventory.from, inventory.to, inventory.total)
            .await?;
        self.refresh_index(hotel_id, inventory.from, inventory.to)
            .await;
        Ok(NightsChanged {
            room_type_id,
            nights,
        })
    }

    async fn get_inventory(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        from: Date,
        to: Date,
    ) -> Result<Vec<InventoryNight>> {
        self.managed_hotel(caller, hotel_id).await?;
        let days = (to - from).whole_days();
        if days <= 0 {
            return Err(Error::invalid_field("to", "must be after from"));
        }
        if days > 366 {
            return Err(Error::invalid_field("to", "at most 366 nights at a time"));
        }
        let found = self
            .store
            .room_type_nights(&SearchScope::Hotel(hotel_id), 0, from, to)
            .await?;
        let mut out = Vec::new();
        for RoomTypeNights {
            room_type, nights, ..
        } in found
        {
            let mut rows = nights.iter().peekable();
            let mut night = from;
            while night < to {
                while rows.next_if(|r| r.night < night).is_some() {}
                let (total, held, sold) = match rows.next_if(|r| r.night == night) {
                    Some(r) => (r.total, r.held, r.sold),
                    None => (room_type.active_rooms, 0, 0),
                };
                out.push(InventoryNight {
                    room_type_id: room_type.id,
                    night,
                    total,
                    held,
                    sold,
                });
                night = match night.next_day() {
                    Some(n) => n,
                    None => break,
                };
            }
        }
        Ok(out)
    }

    #[instrument(skip_all)]
    async fn search_availability(&self, query: AvailabilityQuery) -> Result<Vec<Offer>> {
        check_rooms_and_guests(query.guests, query.rooms)?;
        if !(1..=200).contains(&query.limit) {
            return Err(Error::invalid_field("limit", "must be between 1 and 200"));
        }
        if query.stay.night_count() > self.settings.max_nights {
            return Err(Error::invalid_field(
                "check_out",
                format!("a stay may be at most {} nights", self.settings.max_nights),
            ));
        }
        let (scope, centre) = match &query.place {
            Place::City(city) => (SearchScope::City(city.trim().to_owned()), None),
            Place::Near { point, radius_km } => {
                if !(*radius_km > 0.0 && *radius_km <= 500.0) {
                    return Err(Error::invalid_field(
                        "radius_km",
                        "must be greater than 0 and at most 500",
                    ));
                }
                (
                    SearchScope::Area(domain::bounding_box(*point, *radius_km)),
                    Some((*point, *radius_km)),
                )
            }
        };
        if query.sort == SortOrder::Distance && centre.is_none() {
            return Err(Error::invalid_field(
                "sort",
                "sorting by distance needs `near`",
            ));
        }
        let pick = Pick {
            centre,
            max_price: query.max_price,
            sort: query.sort,
            limit: query.limit as usize,
        };
        let offers = self
            .find_offers(&scope, &query.stay, query.guests, query.rooms, &pick)
            .await?;
        metrics::counter!("innkeeper_catalog_searches_total").increment(1);
        Ok(offers)
    }

    async fn hotel_availability(&self, query: HotelAvailabilityQuery) -> Result<Vec<Offer>> {
        check_rooms_and_guests(query.guests, query.rooms)?;
        self.store
            .get_hotel(query.hotel_id)
            .await?
            .ok_or_else(|| Error::not_found("hotel", query.hotel_id))?;
        let pick = Pick {
            centre: None,
            max_price: None,
            sort: SortOrder::Price,
            limit: 200,
        };
        self.find_offers(
            &SearchScope::Hotel(query.hotel_id),
            &query.stay,
            query.guests,
            query.rooms,
            &pick,
        )
        .await
    }

    async fn quote(&self, room_type_id: RoomTypeId, stay: StayDates, rooms: u32) -> Result<Quote> {
        check_rooms_and_guests(rooms, rooms)?;
        // The room type, its hotel and its nights: from the search index, as searches see
        // them, or read from the store when the stay is not in memory. Either way the hold
        // that follows re-checks every night under its lock.
        let cached = self
            .index
            .room_type_nights(room_type_id, stay.check_in(), stay.check_out());
        let found = match cached {
            Some(found) => found,
            None => self
                .store
                .room_type_nights(
                    &SearchScope::RoomType(room_type_id),
                    0,
                    stay.check_in(),
                    stay.check_out(),
                )
                .await?
                .into_iter()
                .find(|f| f.room_type.id == room_type_id)
                .ok_or_else(|| Error::not_found("room type", room_type_id))?,
        };
        let (room_type, nights, hotel) = (found.room_type, found.nights, found.hotel);
        let priced = domain::price_stay(&room_type, &nights, &stay, rooms)?;
        if let Some(min) = priced.min_stay
            && stay.night_count() < min
        {
            return Err(Error::invalid_field(
                "check_out",
                format!(
                    "stays starting {} must be at least {min} nights",
                    stay.check_in()
                ),
            ));
        }
        if priced.rooms_left < rooms {
            return Err(Error::sold_out(format!(
                "{} has only {} room(s) free for these dates",
                room_type.name, priced.rooms_left
            )));
        }
        Ok(Quote {
            hotel_id: room_type.hotel_id,
            hotel_owner_id: hotel.owner_id,
            room_type_id,
            capacity: room_type.capacity,
            stay,
            rooms,
            nights: priced.nights,
            total: priced.total,
        })
    }

    #[instrument(skip_all, fields(hold_id = %hold.hold_id, room_type_id = %hold.room_type_id))]
    async fn place_hold(&self, hold: PlaceHold) -> Result<Hold> {
        if !(1..=9).contains(&hold.quantity) {
            return Err(Error::invalid_field("quantity", "must be between 1 and 9"));
        }
        if !(1..=self.settings.max_hold_ttl_seconds).contains(&hold.ttl_seconds) {
            return Err(Error::invalid_field(
                "ttl_seconds",
                format!(
                    "must be between 1 and {}",
                    self.settings.max_hold_ttl_seconds
                ),
            ));
        }
        if hold.stay.night_count() > self.settings.max_nights {
            return Err(Error::invalid_field(
                "check_out",
                format!("a stay may be at most {} nights", self.settings.max_nights),
            ));
        }
        let now = self.clock.now();
        let result = self
            .store
            .place_hold_with_nights(&NewHold {
                id: hold.hold_id,
                room_type_id: hold.room_type_id,
                check_in: hold.stay.check_in(),
                check_out: hold.stay.check_out(),
                quantity: hold.quantity,
                expires_at: now + Duration::seconds(i64::from(hold.ttl_seconds)),
                now,
            })
            .await;
        let outcome = match &result {
            Ok(_) => "held",
            Err(e) if e.code == innkeeper_kernel::ErrorCode::SoldOut => "sold_out",
            Err(_) => "error",
        };
        metrics::counter!("innkeeper_catalog_holds_total", "outcome" => outcome).increment(1);
        let (from, to) = (hold.stay.check_in(), hold.stay.check_out());
        // Held: the nights as the hold left them go into the index as they are. Sold out: the
        // index may have shown rooms that are gone, so it reads them again.
        let reread = match &result {
            Ok(placed) => {
                // A replay returns no nights; a room type the index lacks is read whole.
                let applied = !placed.nights.is_empty()
                    && self.index.apply_nights(
                        placed.hold.hotel_id,
                        hold.room_type_id,
                        from,
                        to,
                        &placed.nights,
                    );
                if applied {
                    None
                } else {
                    Some(placed.hold.hotel_id)
                }
            }
            Err(e) if e.code == innkeeper_kernel::ErrorCode::SoldOut => {
                self.index.hotel_of(hold.room_type_id)
            }
            Err(_) => None,
        };
        if let Some(hotel_id) = reread {
            self.refresh_index_room_type(hotel_id, hold.room_type_id, from, to)
                .await;
        }
        result.map(|placed| placed.hold)
    }

    #[instrument(skip_all, fields(hold_id = %id))]
    async fn confirm_hold(&self, id: HoldId) -> Result<Hold> {
        let hold = self.store.confirm_hold(id, self.clock.now()).await?;
        self.refresh_index_room_type(
            hold.hotel_id,
            hold.room_type_id,
            hold.stay.check_in(),
            hold.stay.check_out(),
        )
        .await;
        Ok(hold)
    }

    #[instrument(skip_all, fields(hold_id = %id))]
    async fn release_hold(&self, id: HoldId) -> Result<Hold> {
        let hold = self.store.release_hold(id, self.clock.now()).await?;
        self.refresh_index_room_type(
            hold.hotel_id,
            hold.room_type_id,
            hold.stay.check_in(),
            hold.stay.check_out(),
        )
        .await;
        Ok(hold)
    }

    async fn get_hold(&self, id: HoldId) -> Result<Hold> {
        self.store
            .get_hold(id)
            .await?
            .ok_or_else(|| Error::not_found("hold", id))
    }
}
