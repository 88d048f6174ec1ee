//! A catalog that fails on purpose: `list_hotels` is unavailable, `hotel_availability` never
//! answers, everything else panics with a message that must never reach a client.

use innkeeper_catalog::api::*;
use innkeeper_kernel::{
    Error, HoldId, HotelId, Page, Principal, Result, RoomId, RoomTypeId, StayDates,
};
use time::Date;

/// What the panics say; tests check it is not in any response.
const SECRET: &str = "SELECT * FROM hotels -- internal detail";

/// The failing catalog.
pub struct Broken;

#[async_trait::async_trait]
impl CatalogApi for Broken {
    async fn create_hotel(&self, _: &Principal, _: NewHotel) -> Result<Hotel> {
        panic!("{SECRET}")
    }
    async fn get_hotel(&self, _: HotelId) -> Result<HotelDetails> {
        panic!("{SECRET}")
    }
    async fn update_hotel(
        &self,
        _: &Principal,
        _: HotelId,
        _: i64,
        _: HotelPatch,
    ) -> Result<Hotel> {
        panic!("{SECRET}")
    }
    async fn list_hotels(&self, _: HotelQuery) -> Result<Page<HotelSummary>> {
        Err(Error::unavailable("the catalog is not answering"))
    }
    async fn create_room_type(
        &self,
        _: &Principal,
        _: HotelId,
        _: NewRoomType,
    ) -> Result<RoomType> {
        panic!("{SECRET}")
    }
    async fn update_room_type(
        &self,
        _: &Principal,
        _: HotelId,
        _: RoomTypeId,
        _: i64,
        _: RoomTypePatch,
    ) -> Result<RoomType> {
        panic!("{SECRET}")
    }
    async fn create_room(&self, _: &Principal, _: HotelId, _: NewRoom) -> Result<Room> {
        panic!("{SECRET}")
    }
    async fn update_room(
        &self,
        _: &Principal,
        _: HotelId,
        _: RoomId,
        _: i64,
        _: RoomPatch,
    ) -> Result<Room> {
        panic!("{SECRET}")
    }
    async fn list_rooms(&self, _: &Principal, _: HotelId) -> Result<Vec<Room>> {
        panic!("{SECRET}")
    }
    async fn set_rate(
        &self,
        _: &Principal,
        _: HotelId,
        _: RoomTypeId,
        _: SetRate,
    ) -> Result<NightsChanged> {
        panic!("{SECRET}")
    }
    async fn set_inventory(
        &self,
        _: &Principal,
        _: HotelId,
        _: RoomTypeId,
        _: SetInventory,
    ) -> Result<NightsChanged> {
        panic!("{SECRET}")
    }
    async fn get_inventory(
        &self,
        _: &Principal,
        _: HotelId,
        _: Date,
        _: Date,
    ) -> Result<Vec<InventoryNight>> {
        panic!("{SECRET}")
    }
    async fn search_availability(&self, _: AvailabilityQuery) -> Result<Vec<Offer>> {
        panic!("{SECRET}")
    }
    async fn hotel_availability(&self, _: HotelAvailabilityQuery) -> Result<Vec<Offer>> {
        std::future::pending().await
    }
    async fn quote(&self, _: RoomTypeId, _: StayDates, _: u32) -> Result<Quote> {
        panic!("{SECRET}")
    }
    async fn place_hold(&self, _: PlaceHold) -> Result<Hold> {
        panic!("{SECRET}")
    }
    async fn confirm_hold(&self, _: HoldId) -> Result<Hold> {
        panic!("{SECRET}")
    }
    async fn release_hold(&self, _: HoldId) -> Result<Hold> {
        panic!("{SECRET}")
    }
    async fn get_hold(&self, _: HoldId) -> Result<Hold> {
        panic!("{SECRET}")
    }
}
