//! The catalog's contract: what other services and the gateway may ask of it.
//!
//! [`CatalogApi`] is implemented by the in-process service (`app::CatalogService`) and by the
//! gRPC client (`grpc::CatalogGrpcClient`). Callers hold a [`CatalogClient`] and never know
//! which one they have: both return the same values and the same [`Error`]s.

use std::sync::Arc;

use innkeeper_kernel::{
    Currency, GeoPoint, HoldId, HotelId, Money, Night, Page, Principal, Result, RoomId, RoomTypeId,
    StayDates, UserId,
};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

// ---------------------------------------------------------------------------------------------
// Hotels
// ---------------------------------------------------------------------------------------------

/// A hotel as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Hotel {
    pub id: HotelId,
    /// The hotelier who runs it.
    pub owner_id: UserId,
    pub name: String,
    pub description: String,
    pub address: String,
    pub city: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    pub location: GeoPoint,
    /// 1 to 5, if rated.
    pub stars: Option<u8>,
    /// Every price of the hotel is in this currency.
    pub currency: Currency,
    /// The IANA time zone hotel dates are in (informational).
    pub timezone: String,
    /// Optimistic-concurrency version, the `ETag`.
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// A hotel with its room types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HotelDetails {
    #[serde(flatten)]
    pub hotel: Hotel,
    pub room_types: Vec<RoomType>,
}

/// What a hotelier sends to open a hotel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHotel {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub address: String,
    pub city: String,
    pub country: String,
    pub location: GeoPoint,
    #[serde(default)]
    pub stars: Option<u8>,
    pub currency: Currency,
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

/// A partial change to a hotel; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HotelPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub location: Option<GeoPoint>,
    /// `0` removes the rating.
    pub stars: Option<u8>,
    pub timezone: Option<String>,
}

/// Filters for the hotel list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HotelQuery {
    /// Exact city name, case-insensitive.
    pub city: Option<String>,
    /// Centre of a radius search.
    pub near: Option<GeoPoint>,
    /// Radius around `near`, km (default 10).
    pub radius_km: Option<f64>,
    /// Free text matched against name, city and description.
    pub q: Option<String>,
    /// Page size (1..=100, default 20).
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// A hotel in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HotelSummary {
    pub id: HotelId,
    pub name: String,
    pub city: String,
    pub country: String,
    pub location: GeoPoint,
    pub stars: Option<u8>,
    pub currency: Currency,
    /// Distance from `near`, when searching by coordinates.
    pub distance_km: Option<f64>,
}

// ---------------------------------------------------------------------------------------------
// Room types and rooms
// ---------------------------------------------------------------------------------------------

/// Kinds of bed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BedKind {
    Single,
    Double,
    Queen,
    King,
    Twin,
    Sofa,
    Bunk,
}

/// Beds of one kind in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Bed {
    pub kind: BedKind,
    pub count: u8,
}

/// A kind of room a hotel sells (what guests book).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RoomType {
    pub id: RoomTypeId,
    pub hotel_id: HotelId,
    pub name: String,
    pub description: String,
    /// Most guests one room of this type sleeps.
    pub capacity: u32,
    pub beds: Vec<Bed>,
    pub amenities: Vec<String>,
    /// Price of a night when no seasonal rate applies.
    pub base_price: Money,
    /// Rooms of this type that are not out of service (the default allotment per night).
    pub active_rooms: u32,
    pub version: i64,
}

/// What a hotelier sends to add a room type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoomType {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub capacity: u32,
    #[serde(default)]
    pub beds: Vec<Bed>,
    #[serde(default)]
    pub amenities: Vec<String>,
    pub base_price: Money,
}

/// A partial change to a room type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomTypePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub capacity: Option<u32>,
    pub beds: Option<Vec<Bed>>,
    pub amenities: Option<Vec<String>>,
    pub base_price: Option<Money>,
}

/// Housekeeping state of a physical room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoomStatus {
    /// Clean and sellable.
    Ready,
    /// Sellable, needs cleaning before the next arrival.
    Dirty,
    /// Not sellable; does not count towards the allotment.
    OutOfService,
}

impl RoomStatus {
    /// The string form, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RoomStatus::Ready => "ready",
            RoomStatus::Dirty => "dirty",
            RoomStatus::OutOfService => "out_of_service",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ready" => Some(RoomStatus::Ready),
            "dirty" => Some(RoomStatus::Dirty),
            "out_of_service" => Some(RoomStatus::OutOfService),
            _ => None,
        }
    }
}

/// A physical room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Room {
    pub id: RoomId,
    pub hotel_id: HotelId,
    pub room_type_id: RoomTypeId,
    /// The number on the door, unique within the hotel.
    pub number: String,
    pub floor: i32,
    pub status: RoomStatus,
    pub version: i64,
}

/// What a hotelier sends to add a room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoom {
    pub number: String,
    pub floor: i32,
    pub room_type_id: RoomTypeId,
    #[serde(default = "default_room_status")]
    pub status: RoomStatus,
}

fn default_room_status() -> RoomStatus {
    RoomStatus::Ready
}

/// A partial change to a room.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomPatch {
    pub number: Option<String>,
    pub floor: Option<i32>,
    pub room_type_id: Option<RoomTypeId>,
    pub status: Option<RoomStatus>,
}

// ---------------------------------------------------------------------------------------------
// Rates and inventory
// ---------------------------------------------------------------------------------------------

/// A seasonal price for the nights `[from, to)` of one room type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRate {
    /// First night the price applies to.
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    /// First night it no longer applies to (exclusive, like a check-out date).
    #[schema(value_type = String, format = Date)]
    pub to: Date,
    /// Price per night.
    pub price: Money,
    /// Shortest stay that may start on these nights.
    #[serde(default)]
    pub min_stay: Option<u32>,
}

/// A sellable allotment for the nights `[from, to)` of one room type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetInventory {
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    /// Exclusive.
    #[schema(value_type = String, format = Date)]
    pub to: Date,
    /// Rooms sellable per night; refused if below what is already held + sold.
    pub total: u32,
}

/// The result of changing a range of nights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NightsChanged {
    pub room_type_id: RoomTypeId,
    pub nights: u32,
}

/// The counters of one night of one room type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InventoryNight {
    pub room_type_id: RoomTypeId,
    #[schema(value_type = String, format = Date)]
    pub night: Night,
    /// Sellable rooms.
    pub total: u32,
    /// Rooms held by unpaid bookings.
    pub held: u32,
    /// Rooms sold.
    pub sold: u32,
}

// ---------------------------------------------------------------------------------------------
// Availability and quotes
// ---------------------------------------------------------------------------------------------

/// How search results are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Cheapest total first.
    #[default]
    Price,
    /// Nearest first (needs `near`).
    Distance,
}

/// Where to search: a city or a circle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Place {
    City(String),
    Near { point: GeoPoint, radius_km: f64 },
}

/// An availability search over many hotels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityQuery {
    pub place: Place,
    pub stay: StayDates,
    pub guests: u32,
    pub rooms: u32,
    /// Highest acceptable total for the whole stay, in minor units of the hotel's currency.
    pub max_price: Option<i64>,
    pub sort: SortOrder,
    /// At most this many offers (1..=200).
    pub limit: u32,
}

/// An availability search in one hotel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotelAvailabilityQuery {
    pub hotel_id: HotelId,
    pub stay: StayDates,
    pub guests: u32,
    pub rooms: u32,
}

/// The price of one night.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NightPrice {
    #[schema(value_type = String, format = Date)]
    #[serde(serialize_with = "innkeeper_kernel::serialize_date")]
    pub night: Night,
    /// Price of one room for this night.
    pub price: Money,
}

/// A bookable room type for a stay: every night available, the guests fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Offer {
    pub hotel: HotelSummary,
    pub room_type_id: RoomTypeId,
    pub room_type_name: String,
    pub capacity: u32,
    #[schema(value_type = String, format = Date)]
    #[serde(serialize_with = "innkeeper_kernel::serialize_date")]
    pub check_in: Date,
    #[schema(value_type = String, format = Date)]
    #[serde(serialize_with = "innkeeper_kernel::serialize_date")]
    pub check_out: Date,
    /// Rooms asked for.
    pub rooms: u32,
    /// Per-night price of one room.
    pub nights: Vec<NightPrice>,
    /// Whole stay, all rooms.
    pub total: Money,
    /// The fewest rooms free on any night of the stay.
    pub rooms_left: u32,
}

/// The price of a stay in one room type, night by night.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Quote {
    pub hotel_id: HotelId,
    /// The hotelier who owns the hotel (the booking records who may manage it).
    pub hotel_owner_id: UserId,
    pub room_type_id: RoomTypeId,
    /// Guests one room of the type sleeps.
    pub capacity: u32,
    pub stay: StayDates,
    pub rooms: u32,
    pub nights: Vec<NightPrice>,
    pub total: Money,
}

// ---------------------------------------------------------------------------------------------
// Holds (for the booking saga)
// ---------------------------------------------------------------------------------------------

/// Ask to hold rooms of one type for every night of a stay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceHold {
    /// Chosen by the caller (the booking id); makes the call idempotent.
    pub hold_id: HoldId,
    pub room_type_id: RoomTypeId,
    pub stay: StayDates,
    pub quantity: u32,
    /// How long the hold lives unless confirmed.
    pub ttl_seconds: u32,
}

/// Where a hold is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    /// Counted in `held`.
    Held,
    /// Counted in `sold`.
    Confirmed,
    /// Given back by the caller.
    Released,
    /// Given back because its TTL passed.
    Expired,
}

impl HoldStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Held => "held",
            HoldStatus::Confirmed => "confirmed",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "held" => Some(HoldStatus::Held),
            "confirmed" => Some(HoldStatus::Confirmed),
            "released" => Some(HoldStatus::Released),
            "expired" => Some(HoldStatus::Expired),
            _ => None,
        }
    }
}

/// A hold as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Hold {
    pub id: HoldId,
    pub hotel_id: HotelId,
    pub room_type_id: RoomTypeId,
    pub stay: StayDates,
    pub quantity: u32,
    pub status: HoldStatus,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

// ---------------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------------

/// Everything the catalog does. Writes take the caller; reads of public data do not.
#[async_trait::async_trait]
pub trait CatalogApi: Send + Sync + 'static {
    /// Opens a hotel owned by the caller.
    async fn create_hotel(&self, caller: &Principal, hotel: NewHotel) -> Result<Hotel>;
    /// A hotel with its room types.
    async fn get_hotel(&self, id: HotelId) -> Result<HotelDetails>;
    /// Changes a hotel. `if_match` is the version the caller saw.
    async fn update_hotel(
        &self,
        caller: &Principal,
        id: HotelId,
        if_match: i64,
        patch: HotelPatch,
    ) -> Result<Hotel>;
    /// Lists hotels by city, radius or text.
    async fn list_hotels(&self, query: HotelQuery) -> Result<Page<HotelSummary>>;

    /// Adds a room type to one of the caller's hotels.
    async fn create_room_type(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room_type: NewRoomType,
    ) -> Result<RoomType>;
    /// Changes a room type.
    async fn update_room_type(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        id: RoomTypeId,
        if_match: i64,
        patch: RoomTypePatch,
    ) -> Result<RoomType>;

    /// Adds a physical room.
    async fn create_room(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room: NewRoom,
    ) -> Result<Room>;
    /// Changes a physical room (number, floor, type, housekeeping status).
    async fn update_room(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        id: RoomId,
        if_match: i64,
        patch: RoomPatch,
    ) -> Result<Room>;
    /// The hotel's physical rooms (owner and admin).
    async fn list_rooms(&self, caller: &Principal, hotel_id: HotelId) -> Result<Vec<Room>>;

    /// Sets a seasonal price for a range of nights.
    async fn set_rate(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room_type_id: RoomTypeId,
        rate: SetRate,
    ) -> Result<NightsChanged>;
    /// Sets the sellable allotment for a range of nights.
    async fn set_inventory(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room_type_id: RoomTypeId,
        inventory: SetInventory,
    ) -> Result<NightsChanged>;
    /// Counters per night per room type for `[from, to)` (owner and admin).
    async fn get_inventory(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        from: Date,
        to: Date,
    ) -> Result<Vec<InventoryNight>>;

    /// Offers across hotels.
    async fn search_availability(&self, query: AvailabilityQuery) -> Result<Vec<Offer>>;
    /// Offers in one hotel.
    async fn hotel_availability(&self, query: HotelAvailabilityQuery) -> Result<Vec<Offer>>;
    /// Prices a stay in one room type (fails with `sold_out` if a night is unavailable).
    async fn quote(&self, room_type_id: RoomTypeId, stay: StayDates, rooms: u32) -> Result<Quote>;

    /// Holds rooms for every night of the stay, or none. Idempotent by hold id.
    async fn place_hold(&self, hold: PlaceHold) -> Result<Hold>;
    /// Turns a hold into a sale. Idempotent.
    async fn confirm_hold(&self, id: HoldId) -> Result<Hold>;
    /// Gives a held or confirmed hold's rooms back. Idempotent.
    async fn release_hold(&self, id: HoldId) -> Result<Hold>;
    /// A hold by id.
    async fn get_hold(&self, id: HoldId) -> Result<Hold>;
}

/// A handle on the catalog; local or remote, callers never ask which.
#[derive(Clone)]
pub struct CatalogClient(Arc<dyn CatalogApi>);

impl CatalogClient {
    /// A client that calls an implementation directly (in-process, or a mock in tests).
    pub fn new(api: Arc<dyn CatalogApi>) -> Self {
        Self(api)
    }
}

impl std::fmt::Debug for CatalogClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CatalogClient")
    }
}

impl std::ops::Deref for CatalogClient {
    type Target = dyn CatalogApi;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}
