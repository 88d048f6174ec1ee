//! SQLite backend of the catalog store (the embedded shape).
//!
//! Reads use the reader pool. Every write is one transaction on the writer pool begun with
//! `BEGIN IMMEDIATE`: it takes the database's write lock up front, so a transaction never has
//! to upgrade a read lock (which SQLite answers with an immediate `SQLITE_BUSY`), and the file
//! stays consistent even when another process writes to it. Inside such a transaction nothing
//! else writes, so check-then-write sequences are safe; the CHECK constraint on `room_nights`
//! remains the backstop.

use async_trait::async_trait;
use innkeeper_kernel::{HoldId, HotelId, Result, RoomId, RoomTypeId};
use innkeeper_platform::db::SqliteDb;
use sqlx::Sqlite;
use time::{Date, OffsetDateTime};

use crate::api::{Hold, Hotel, Room, RoomType};
use crate::store::{
    CatalogStore, HotelFilter, NewHold, PlacedHold, RoomTypeNights, SearchScope, StoredNight,
};

mod catalog;
mod holds;
mod nights;
mod rows;

#[cfg(test)]
mod tests;

/// A write transaction holding SQLite's write lock.
type WriteTx = sqlx::Transaction<'static, Sqlite>;

/// The catalog store on an SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteCatalogStore {
    db: SqliteDb,
}

impl SqliteCatalogStore {
    /// A store over an opened database (call [`CatalogStore::migrate`] before use).
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }

    /// Begins a write transaction that holds the write lock from its first statement.
    async fn write(&self) -> Result<WriteTx> {
        self.db
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(rows::internal)
    }
}

/// Commits a write transaction.
async fn commit(tx: WriteTx) -> Result<()> {
    tx.commit().await.map_err(rows::internal)
}

#[async_trait]
impl CatalogStore for SqliteCatalogStore {
    async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.db.writer)
            .await?;
        innkeeper_events::migrate(&innkeeper_platform::db::Database::Sqlite(self.db.clone())).await
    }

    async fn insert_hotel(&self, hotel: &Hotel) -> Result<()> {
        let mut tx = self.write().await?;
        catalog::insert_hotel(&mut tx, hotel).await?;
        commit(tx).await
    }

    async fn get_hotel(&self, id: HotelId) -> Result<Option<Hotel>> {
        catalog::get_hotel(&self.db.reader, id).await
    }

    async fn update_hotel(&self, hotel: &Hotel, expected_version: i64) -> Result<Hotel> {
        let mut tx = self.write().await?;
        let updated = catalog::update_hotel(&mut tx, hotel, expected_version).await?;
        commit(tx).await?;
        Ok(updated)
    }

    async fn list_hotels(&self, filter: &HotelFilter) -> Result<Vec<Hotel>> {
        catalog::list_hotels(&self.db.reader, filter).await
    }

    async fn insert_room_type(&self, room_type: &RoomType) -> Result<()> {
        let mut tx = self.write().await?;
        catalog::insert_room_type(&mut tx, room_type).await?;
        commit(tx).await
    }

    async fn get_room_type(&self, id: RoomTypeId) -> Result<Option<RoomType>> {
        let mut conn = self.db.reader.acquire().await.map_err(rows::internal)?;
        catalog::get_room_type(&mut conn, id).await
    }

    async fn list_room_types(&self, hotel_id: HotelId) -> Result<Vec<RoomType>> {
        catalog::list_room_types(&self.db.reader, hotel_id).await
    }

    async fn update_room_type(
        &self,
        room_type: &RoomType,
        expected_version: i64,
    ) -> Result<RoomType> {
        let mut tx = self.write().await?;
        let updated = catalog::update_room_type(&mut tx, room_type, expected_version).await?;
        commit(tx).await?;
        Ok(updated)
    }

    async fn insert_room(&self, room: &Room) -> Result<()> {
        let mut tx = self.write().await?;
        catalog::insert_room(&mut tx, room).await?;
        commit(tx).await
    }

    async fn get_room(&self, id: RoomId) -> Result<Option<Room>> {
        let mut conn = self.db.reader.acquire().await.map_err(rows::internal)?;
        catalog::get_room(&mut conn, id).await
    }

    async fn list_rooms(&self, hotel_id: HotelId) -> Result<Vec<Room>> {
        catalog::list_rooms(&self.db.reader, hotel_id).await
    }

    async fn update_room(&self, room: &Room, expected_version: i64) -> Result<Room> {
        let mut tx = self.write().await?;
        let updated = catalog::update_room(&mut tx, room, expected_version).await?;
        commit(tx).await?;
        Ok(updated)
    }

    async fn set_rates(
        &self,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
        price: i64,
        min_stay: Option<u32>,
    ) -> Result<u32> {
        let mut tx = self.write().await?;
        let changed = nights::set_rates(&mut tx, room_type_id, from, to, price, min_stay).await?;
        commit(tx).await?;
        Ok(changed)
    }

    async fn set_inventory(
        &self,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
        total: u32,
    ) -> Result<u32> {
        let mut tx = self.write().await?;
        let changed = nights::set_inventory(&mut tx, room_type_id, from, to, total).await?;
        commit(tx).await?;
        Ok(changed)
    }

    async fn nights(
        &self,
        room_type_id: RoomTypeId,
        from: Date,
        to: Date,
    ) -> Result<Vec<StoredNight>> {
        nights::of_room_type(&self.db.reader, room_type_id, from, to).await
    }

    async fn room_type_nights(
        &self,
        scope: &SearchScope,
        min_capacity: u32,
        from: Date,
        to: Date,
    ) -> Result<Vec<RoomTypeNights>> {
        // One read transaction: the types and their nights come from the same snapshot.
        let mut tx = self.db.reader.begin().await.map_err(rows::internal)?;
        let found = nights::room_type_nights(&mut tx, scope, min_capacity, from, to).await?;
        tx.rollback().await.map_err(rows::internal)?;
        Ok(found)
    }

    async fn place_hold_with_nights(&self, hold: &NewHold) -> Result<PlacedHold> {
        let mut tx = self.write().await?;
        // An error drops `tx`, which rolls back every night already incremented.
        let placed = holds::place(&mut tx, hold).await?;
        commit(tx).await?;
        Ok(placed)
    }

    async fn confirm_hold(&self, id: HoldId, now: OffsetDateTime) -> Result<Hold> {
        let mut tx = self.write().await?;
        let outcome = holds::confirm(&mut tx, id, now).await?;
        // An overdue hold is expired and committed even though the confirmation fails.
        commit(tx).await?;
        outcome
    }

    async fn release_hold(&self, id: HoldId, now: OffsetDateTime) -> Result<Hold> {
        let mut tx = self.write().await?;
        let released = holds::release(&mut tx, id, now).await?;
        commit(tx).await?;
        Ok(released)
    }

    async fn get_hold(&self, id: HoldId) -> Result<Option<Hold>> {
        let mut conn = self.db.reader.acquire().await.map_err(rows::internal)?;
        holds::get(&mut conn, id).await
    }

    async fn expire_holds(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<Hold>> {
        let mut tx = self.write().await?;
        let expired = holds::expire_due(&mut tx, now, limit).await?;
        commit(tx).await?;
        Ok(expired)
    }
}
