//! PostgreSQL backend of the catalog store, for the distributed shape.
//!
//! Every statement is a `&'static str`, so the driver prepares it once per connection and
//! reuses it. Constraint violations are mapped to domain errors by constraint name, next to
//! the statement that can raise them; any other database failure is `internal`.
//!
//! - `catalog`: hotels and room types.
//! - `rooms`: physical rooms, and the allotment resync a room change triggers.
//! - `inventory`: rates, allotments, the night counters read by searches, and the lock order.
//! - `holds`: placing, confirming, releasing and expiring holds.
//! - `rows`: column lists and row decoding.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use innkeeper_kernel::{Error, HoldId, HotelId, Result, RoomId, RoomTypeId};
use innkeeper_platform::db::violated_constraint;
use sqlx::PgPool;
use time::{Date, OffsetDateTime};

use crate::api::{Hold, Hotel, Room, RoomType};
use crate::store::{
    CatalogStore, HotelFilter, NewHold, PlacedHold, RoomTypeNights, SearchScope, StoredNight,
};

mod catalog;
mod holds;
mod inventory;
mod rooms;
mod rows;

/// The catalog store on a PostgreSQL database of its own.
#[derive(Debug, Clone)]
pub struct PgCatalogStore {
    pool: PgPool,
    /// The hotel of each room type a hold was placed on: a room type never changes hotel, and
    /// a hold's event names it (see `holds`).
    hotels: Arc<RwLock<HashMap<RoomTypeId, HotelId>>>,
}

impl PgCatalogStore {
    /// A store on `pool`; call [`CatalogStore::migrate`] before use.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            hotels: Arc::default(),
        }
    }

    fn hotel_of(&self, room_type_id: RoomTypeId) -> Option<HotelId> {
        let hotels = self.hotels.read().unwrap_or_else(|e| e.into_inner());
        hotels.get(&room_type_id).copied()
    }

    fn remember_hotel(&self, room_type_id: RoomTypeId, hotel_id: HotelId) {
        let mut hotels = self.hotels.write().unwrap_or_else(|e| e.into_inner());
        hotels.insert(room_type_id, hotel_id);
    }
}

/// An internal error whose cause is logged, never shown.
fn internal(cause: impl std::fmt::Display) -> Error {
    Error::internal(format!("catalog store (postgres): {cause}"))
}

/// A database failure that no constraint mapping claimed.
fn db_error(err: sqlx::Error) -> Error {
    match err {
        // Every connection is busy: the caller may retry, nothing is wrong with the request.
        sqlx::Error::PoolTimedOut => {
            Error::unavailable("the catalog database is busy; retry later")
        }
        other => internal(other),
    }
}

/// The name of the constraint a statement violated, if that is what failed.
#[async_trait]
impl CatalogStore for PgCatalogStore {
    async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        innkeeper_events::migrate(&innkeeper_platform::db::Database::Postgres(
            self.pool.clone(),
        ))
        .await
    }

    async fn insert_hotel(&self, hotel: &Hotel) -> Result<()> {
        self.insert_hotel_impl(hotel).await
    }

    async fn get_hotel(&self, id: HotelId) -> Result<Option<Hotel>> {
        self.get_hotel_impl(id).await
    }

    async fn update_hotel(&self, hotel: &Hotel, expected_version: i64) -> Result<Hotel> {
        self.update_hotel_impl(hotel, expected_version).await
    }

    async fn list_hotels(&self, filter: &HotelFilter) -> Result<Vec<Hotel>> {
        self.list_hotels_impl(filter).await
    }

    async fn insert_room_type(&self, room_type: &RoomType) -> Result<()> {
        self.insert_room_type_impl(room_type).await
    }

    async fn get_room_type(&self, id: RoomTypeId) -> Result<Option<RoomType>> {
        self.get_room_type_impl(id).await
    }

    async fn list_room_types(&self, hotel_id: HotelId) -> Result<Vec<RoomType>> {
        self.list_room_types_impl(hotel_id).await
    }

    async fn update_room_type(
        &self,
        room_type: &RoomType,
        expected_version: i64,
    ) -> Result<RoomType> {
        self.update_room_type_impl(room_type, expected_version)
            .await
    }

    async fn insert_room(&self, room: &Room) -> Result<()> {
        self.insert_room_impl(room).await
    }

    async fn get_room(&self, id: RoomId) -> Result<Option<Room>> {
        self.get_room_impl(id).await
    }

    async fn list_rooms(&self, hotel_id: HotelId) -> Result<Vec<Room>> {
        self.list_rooms_impl(hotel_id).await
    }

    async fn update_room(&self, room: &Room, expected_version: i64) -> Result<Room> {
        self.update_room_impl(room, expected_version).await
    }

    async fn set_rates(
        &self,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
        price: i64,
        min_stay: Option<u32>,
    ) -> Result<u32> {
        self.set_rates_impl(room_type_id, from, to, price, min_stay)
            .await
    }

    async fn set_inventory(
        &self,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
        total: u32,
    ) -> Result<u32> {
        self.set_inventory_impl(room_type_id, from, to, total).await
    }

    async fn room_type_nights(
        &self,
        scope: &SearchScope,
        min_capacity: u32,
        from: Date,
        to: Date,
    ) -> Result<Vec<RoomTypeNights>> {
        self.room_type_nights_impl(scope, min_capacity, from, to)
            .await
    }

    async fn nights(
        &self,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
    ) -> Result<Vec<StoredNight>> {
        self.nights_impl(room_type_id, from, to).await
    }

    async fn place_hold_with_nights(&self, hold: &NewHold) -> Result<PlacedHold> {
        self.place_hold_impl(hold).await
    }

    async fn confirm_hold(&self, id: HoldId, now: OffsetDateTime) -> Result<Hold> {
        self.confirm_hold_impl(id, now).await
    }

    async fn release_hold(&self, id: HoldId, now: OffsetDateTime) -> Result<Hold> {
        self.release_hold_impl(id, now).await
    }

    async fn get_hold(&self, id: HoldId) -> Result<Option<Hold>> {
        self.get_hold_impl(id).await
    }

    async fn expire_holds(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<Hold>> {
        self.expire_holds_impl(now, limit).await
    }
}

/// A migrated store on a fresh test database, or `None` (skipped) off CI without PostgreSQL.
///
/// Its pool is capped at 16 connections: racing tasks queue for a connection (the row-lock
/// contention is the same), and two tests running side by side stay well under PostgreSQL's
/// default limit of 100 clients, which 64 racers each would not.
#[cfg(test)]
pub(crate) async fn test_store()
-> Option<(PgCatalogStore, innkeeper_platform::testing::TestDatabase)> {
    let database = innkeeper_platform::testing::TestDatabase::postgres().await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(std::time::Duration::from_secs(30))
        .connect(&database.url)
        .await
        .expect("connect to the test database");
    let store = PgCatalogStore::new(pool);
    store.migrate().await.expect("migrate");
    Some((store, database))
}

#[cfg(test)]
mod tests;
