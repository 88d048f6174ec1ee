//! Persistence of the catalog: one contract ([`CatalogStore`]), two backends.
//!
//! The store owns every transaction. Its inventory operations are the oversell barrier:
//! a hold touches the nights of a stay one statement per night in date order, each a
//! conditional update (`held + sold + quantity <= total`), all in one transaction; a CHECK
//! constraint on the table is the backstop. Rows of `room_nights` are created lazily, with
//! the room type's active-room count as their total, the first time a night is priced,
//! allotted or held; a night without a row has that default total, nothing held or sold, and
//! the base price. A materialised night keeps following the active-room count (room changes
//! resync it; giving rooms back lowers it again) until the hotelier sets its allotment, and
//! never drops below its `held + sold`. Rates and allotments write a date range with one
//! statement.
//!
//! Every inventory change (holds placed, confirmed, released or expired; allotments set)
//! writes `innkeeper.catalog.inventory_changed.v1` to the outbox in its own transaction
//! (`events.rs`).
//!
//! Both backends pass the same contract suite (`contract.rs`).

use async_trait::async_trait;
use innkeeper_kernel::{HoldId, HotelId, Night, Result, RoomId, RoomTypeId};
use time::{Date, OffsetDateTime};

use crate::api::{Hold, Hotel, Room, RoomType};

mod events;
pub mod postgres;
pub mod sqlite;

#[cfg(test)]
mod contract;

/// Filters of the hotel list, already validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HotelFilter {
    /// Exact city, compared case-insensitively.
    pub city: Option<String>,
    /// Hotels inside this box (the caller refines by true distance).
    pub area: Option<BoundingBox>,
    /// Case-insensitive substring of name, city or description.
    pub text: Option<String>,
    /// Only hotels with an id greater than this (cursor).
    pub after: Option<HotelId>,
    /// Page size.
    pub limit: u32,
}

/// A latitude/longitude box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub min_lat: f64,
    pub max_lat: f64,
    pub min_lon: f64,
    pub max_lon: f64,
}

/// Which room types an availability lookup covers.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchScope {
    /// Every hotel in a city (case-insensitive).
    City(String),
    /// Every hotel inside a box.
    Area(BoundingBox),
    /// One hotel.
    Hotel(HotelId),
    /// One room type (a quote).
    RoomType(RoomTypeId),
}

/// A materialised night of a room type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredNight {
    pub night: Night,
    pub total: u32,
    pub held: u32,
    pub sold: u32,
    /// Seasonal price in minor units; `None` means the base price.
    pub price: Option<i64>,
    pub min_stay: Option<u32>,
    /// The row's revision: 1 when created, one more on every change of it. The search index
    /// applies a night only over an older revision.
    pub rev: u64,
}

/// A room type with its hotel and the materialised nights of a date range, sorted by night.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomTypeNights {
    pub hotel: Hotel,
    pub room_type: RoomType,
    pub nights: Vec<StoredNight>,
}

/// A hold as placed, with the nights of its stay as it left them (revisions included), for
/// the search index to take without a read; empty for a replay, which changed nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedHold {
    pub hold: Hold,
    pub nights: Vec<StoredNight>,
}

/// A hold to place (status `held`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewHold {
    pub id: HoldId,
    pub room_type_id: RoomTypeId,
    pub check_in: Date,
    pub check_out: Date,
    pub quantity: u32,
    pub expires_at: OffsetDateTime,
    pub now: OffsetDateTime,
}

/// The catalog's persistence contract.
///
/// Errors are domain errors: `not_found`, `version_mismatch` (with the current version),
/// `conflict` (unique room number, allotment below held + sold, hold id reused with other
/// terms), `sold_out`, `invalid_state`; anything else is `internal`.
#[async_trait]
pub trait CatalogStore: Send + Sync + 'static {
    /// Creates the schema or brings it up to date.
    async fn migrate(&self) -> anyhow::Result<()>;

    async fn insert_hotel(&self, hotel: &Hotel) -> Result<()>;
    async fn get_hotel(&self, id: HotelId) -> Result<Option<Hotel>>;
    /// Writes every field of `hotel` if the stored version is `expected_version`; returns the
    /// hotel with its version incremented and `updated_at` as given.
    async fn update_hotel(&self, hotel: &Hotel, expected_version: i64) -> Result<Hotel>;
    /// Hotels matching the filter, ordered by id.
    async fn list_hotels(&self, filter: &HotelFilter) -> Result<Vec<Hotel>>;

    async fn insert_room_type(&self, room_type: &RoomType) -> Result<()>;
    /// A room type; `active_rooms` counts its rooms that are not out of service.
    async fn get_room_type(&self, id: RoomTypeId) -> Result<Option<RoomType>>;
    /// The room types of a hotel, ordered by base price then name.
    async fn list_room_types(&self, hotel_id: HotelId) -> Result<Vec<RoomType>>;
    /// Writes every field of `room_type` (not `active_rooms`) if the version matches.
    async fn update_room_type(
        &self,
        room_type: &RoomType,
        expected_version: i64,
    ) -> Result<RoomType>;

    /// Adds a room (room numbers are unique per hotel) and resyncs the default allotment of
    /// its type's materialised nights.
    async fn insert_room(&self, room: &Room) -> Result<()>;
    async fn get_room(&self, id: RoomId) -> Result<Option<Room>>;
    /// The rooms of a hotel ordered by floor then number.
    async fn list_rooms(&self, hotel_id: HotelId) -> Result<Vec<Room>>;
    /// Writes every field of `room` if the version matches, then resyncs the default
    /// allotment of the old and new room type.
    async fn update_room(&self, room: &Room, expected_version: i64) -> Result<Room>;

    /// Sets the price (and min stay) of the nights `[from, to)`; returns how many nights.
    async fn set_rates(
        &self,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
        price: i64,
        min_stay: Option<u32>,
    ) -> Result<u32>;
    /// Sets a manual allotment for `[from, to)`, all or nothing: `conflict` naming the first
    /// night where `total < held + sold`.
    async fn set_inventory(
        &self,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
        total: u32,
    ) -> Result<u32>;
    /// The materialised nights of the room types in `[from, to)`, with each type and hotel.
    async fn room_type_nights(
        &self,
        scope: &SearchScope,
        min_capacity: u32,
        from: Date,
        to: Date,
    ) -> Result<Vec<RoomTypeNights>>;

    /// The materialised nights of one room type in `[from, to)`, sorted: what a hold changes,
    /// read again for the search index.
    async fn nights(
        &self,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
    ) -> Result<Vec<StoredNight>>;

    /// Holds `quantity` rooms on every night or none (`sold_out` naming the night). If a hold
    /// with this id exists with the same terms it is returned unchanged; with other terms,
    /// `conflict`. Also returns the stay's nights as the hold left them (none for a replay).
    async fn place_hold_with_nights(&self, hold: &NewHold) -> Result<PlacedHold>;

    /// [`CatalogStore::place_hold_with_nights`] without the nights.
    async fn place_hold(&self, hold: &NewHold) -> Result<Hold> {
        Ok(self.place_hold_with_nights(hold).await?.hold)
    }
    /// `held` -> `confirmed` (held becomes sold). Confirmed: returned as is. Released or
    /// expired, or held past `expires_at` (which expires it): `invalid_state`.
    async fn confirm_hold(&self, id: HoldId, now: OffsetDateTime) -> Result<Hold>;
    /// `held` or `confirmed` -> `released`, giving the rooms back. Released or expired:
    /// returned as is.
    async fn release_hold(&self, id: HoldId, now: OffsetDateTime) -> Result<Hold>;
    async fn get_hold(&self, id: HoldId) -> Result<Option<Hold>>;
    /// Expires up to `limit` held holds whose `expires_at <= now` (oldest due first) and
    /// returns them as they now are (status `expired`), so the caller can refresh what it
    /// caches about their nights.
    async fn expire_holds(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<Hold>>;
}

/// The SQLite backend.
pub fn sqlite_store(db: innkeeper_platform::db::SqliteDb) -> std::sync::Arc<dyn CatalogStore> {
    std::sync::Arc::new(sqlite::SqliteCatalogStore::new(db))
}

/// The PostgreSQL backend.
pub fn postgres_store(pool: sqlx::PgPool) -> std::sync::Arc<dyn CatalogStore> {
    std::sync::Arc::new(postgres::PgCatalogStore::new(pool))
}
