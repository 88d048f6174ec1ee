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

/// An identity service that is down: every call is `unavailable`, and it publishes no keys.
pub struct NoIdentity;

#[async_trait::async_trait]
impl innkeeper_identity::api::IdentityApi for NoIdentity {
    async fn register(
        &self,
        _: innkeeper_identity::api::Register,
    ) -> Result<innkeeper_identity::api::User> {
        Err(Error::unavailable("identity is down"))
    }
    async fn login(
        &self,
        _: innkeeper_identity::api::Login,
    ) -> Result<innkeeper_identity::api::TokenPair> {
        Err(Error::unavailable("identity is down"))
    }
    async fn refresh(
        &self,
        _: innkeeper_identity::api::Refresh,
    ) -> Result<innkeeper_identity::api::TokenPair> {
        Err(Error::unavailable("identity is down"))
    }
    async fn logout(&self, _: &Principal, _: innkeeper_identity::api::Logout) -> Result<()> {
        Err(Error::unavailable("identity is down"))
    }
    async fn me(&self, _: &Principal) -> Result<innkeeper_identity::api::User> {
        Err(Error::unavailable("identity is down"))
    }
    async fn update_me(
        &self,
        _: &Principal,
        _: i64,
        _: innkeeper_identity::api::ProfilePatch,
    ) -> Result<innkeeper_identity::api::User> {
        Err(Error::unavailable("identity is down"))
    }
    async fn jwks(&self) -> Result<innkeeper_identity::api::JwkSet> {
        Err(Error::unavailable("identity is down"))
    }
    async fn openid_configuration(&self) -> Result<innkeeper_identity::api::OpenIdConfiguration> {
        Err(Error::unavailable("identity is down"))
    }
    async fn issue_service_token(
        &self,
        _: innkeeper_identity::api::ServiceTokenRequest,
    ) -> Result<innkeeper_identity::api::ServiceToken> {
        Err(Error::unavailable("identity is down"))
    }
}

/// The broken catalog beside a down identity service, with a verifier that knows no keys.
pub fn broken_upstream() -> innkeeper_gateway::Upstream {
    use innkeeper_platform::auth::{AuthSettings, FnKeySource, Verifier};
    use std::sync::Arc;
    let keys = FnKeySource::new(|| async { Ok(jsonwebtoken::jwk::JwkSet { keys: vec![] }) });
    innkeeper_gateway::Upstream {
        catalog: CatalogClient::new(Arc::new(Broken)),
        identity: innkeeper_identity::api::IdentityClient::new(Arc::new(NoIdentity)),
        booking: None,
        payment: None,
        verifier: Arc::new(
            Verifier::from_settings(
                &AuthSettings::default(),
                Arc::new(keys),
                Arc::new(innkeeper_kernel::SystemClock),
            )
            .expect("default settings"),
        ),
    }
}
