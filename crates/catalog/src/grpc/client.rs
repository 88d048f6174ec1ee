//! The remote client: [`CatalogApi`] over a gRPC channel.
//!
//! Every call goes through [`CatalogGrpcClient::request`] (deadline, the caller's forwarded
//! access token) and the resilience layer (`innkeeper_platform::resilience`: a deadline per
//! attempt and on the whole call, retries of idempotent calls on `unavailable` within a retry
//! budget, a circuit breaker that fails calls fast while the catalog is down), every failure
//! mapped by [`error_from_status_of`], so it returns the same values and the same errors as
//! the in-process service.
//!
//! Calls that act for a caller send the caller's original access token, taken from
//! `innkeeper_platform::auth::credential::current` (the gateway runs each request inside
//! `credential::scope`); outside such a scope they go out without one and the catalog answers
//! `unauthenticated`. Hold operations are the booking saga's, not a person's: they go out under
//! the node's service credential ([`CatalogGrpcClient::with_service_credential`]).

use std::future::Future;
use std::sync::Arc;

use innkeeper_kernel::{
    Error, ErrorCode, HoldId, HotelId, Page, Principal, Result, RoomId, RoomTypeId, StayDates,
};
use innkeeper_platform::auth::ServiceCredential;
use innkeeper_platform::grpc::{error_from_status_of, forward_credential, insert_bearer};
use innkeeper_platform::resilience::{BreakerState, Downstream, Idempotency, ResilienceConfig};
use innkeeper_proto::catalog::v1 as pb;
use pb::catalog_service_client::CatalogServiceClient;
use time::Date;
use tonic::Status;
use tonic::transport::Channel;

use super::messages::hotel_page_from_proto;
use super::wire::{At, Wire, list};
use super::{MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use crate::api::{
    AvailabilityQuery, CatalogApi, Hold, Hotel, HotelAvailabilityQuery, HotelDetails, HotelPatch,
    HotelQuery, HotelSummary, InventoryNight, NewHotel, NewRoom, NewRoomType, NightsChanged, Offer,
    PlaceHold, Quote, Room, RoomPatch, RoomType, RoomTypePatch, SetInventory, SetRate,
};

/// How errors name the service when the transport fails ("catalog unavailable").
const SERVICE: &str = "catalog";

/// The generated client over a channel.
type Client = CatalogServiceClient<Channel>;

/// The catalog reached over gRPC. Wrap it in a `CatalogClient` like the in-process service:
/// `CatalogClient::new(Arc::new(CatalogGrpcClient::connect(endpoint, calls).await?))`.
#[derive(Debug, Clone)]
pub struct CatalogGrpcClient {
    client: Client,
    /// The token hold operations are made under (the booking service's own identity).
    service: Option<Arc<ServiceCredential>>,
    /// Deadlines, retries of idempotent calls, the circuit breaker (downstream `catalog`).
    downstream: Downstream,
}

impl CatalogGrpcClient {
    /// A client over `channel`, calling as `calls` says (`[catalog.calls]`): each attempt and
    /// the whole call within their deadlines; idempotent calls (reads, and holds: they are
    /// idempotent by hold id) retried on `unavailable`; a catalog that keeps failing opens
    /// the circuit breaker, and calls then fail fast until a probe succeeds.
    pub fn new(channel: Channel, calls: ResilienceConfig) -> Self {
        let client = CatalogServiceClient::new(channel)
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
            .max_encoding_message_size(MAX_REQUEST_BYTES);
        Self {
            client,
            service: None,
            downstream: Downstream::new(SERVICE, calls),
        }
    }

    /// The circuit breaker's state (for tests and readiness).
    pub fn breaker_state(&self) -> BreakerState {
        self.downstream.state()
    }

    /// Makes hold operations (place, confirm, release, get) under `credential`: the catalog
    /// takes them only from a platform service. Without one they are `unauthenticated`.
    pub fn with_service_credential(mut self, credential: Arc<ServiceCredential>) -> Self {
        self.service = Some(credential);
        self
    }

    /// A client of the catalog at `endpoint` (`http://host:port`, or `host:port`).
    ///
    /// Connects lazily: a catalog that is down yet fails each call with `unavailable`, not the
    /// start-up, and the channel reconnects by itself when the catalog comes back.
    pub async fn connect(endpoint: &str, calls: ResilienceConfig) -> anyhow::Result<Self> {
        let channel =
            innkeeper_platform::grpc::lazy_channel("catalog", endpoint, calls.attempt_timeout())?;
        Ok(Self::new(channel, calls))
    }

    /// Builds every outgoing request: the attempt's deadline, and for calls that act for a
    /// caller the caller's own access token (the credential of the request being served),
    /// which the catalog verifies again. The `caller` argument itself is never sent: the
    /// catalog believes only the token.
    fn request<T>(&self, caller: Option<&Principal>, message: T) -> Result<tonic::Request<T>> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.downstream.config().attempt_timeout());
        innkeeper_platform::grpc::inject_trace_context(request.metadata_mut());
        if caller.is_some() {
            forward_credential(request.metadata_mut())?;
        }
        Ok(request)
    }

    /// Runs an idempotent RPC (a read) through the resilience layer and maps every failure to
    /// the catalog's [`Error`].
    async fn call<Req, Resp, F, Fut>(
        &self,
        caller: Option<&Principal>,
        message: Req,
        rpc: F,
    ) -> Result<Resp>
    where
        Req: Clone,
        F: Fn(Client, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<Resp>, Status>>,
    {
        self.resilient(Idempotency::Safe, caller, message, rpc)
            .await
    }

    /// Runs an RPC that must not be repeated (a write without a key): tried once.
    async fn call_once<Req, Resp, F, Fut>(
        &self,
        caller: Option<&Principal>,
        message: Req,
        rpc: F,
    ) -> Result<Resp>
    where
        Req: Clone,
        F: Fn(Client, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<Resp>, Status>>,
    {
        self.resilient(Idempotency::Unsafe, caller, message, rpc)
            .await
    }

    /// One RPC under the deadline, the breaker and, if idempotent, retries.
    async fn resilient<Req, Resp, F, Fut>(
        &self,
        idempotency: Idempotency,
        caller: Option<&Principal>,
        message: Req,
        rpc: F,
    ) -> Result<Resp>
    where
        Req: Clone,
        F: Fn(Client, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<Resp>, Status>>,
    {
        let (message, rpc) = (&message, &rpc);
        self.downstream
            .call(idempotency, || async move {
                let request = self.request(caller, message.clone())?;
                rpc(self.client.clone(), request)
                    .await
                    .map(tonic::Response::into_inner)
                    .map_err(|status| error_from_status_of(SERVICE, &status))
            })
            .await
    }
}

impl CatalogGrpcClient {
    /// Runs one RPC under the service credential. A token the catalog refuses (say, its key
    /// was withdrawn) is forgotten and the call made once more with a fresh one.
    async fn call_as_service<Req, Resp, F, Fut>(&self, message: Req, rpc: F) -> Result<Resp>
    where
        Req: Clone,
        F: Fn(Client, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<Resp>, Status>>,
    {
        let Some(credential) = &self.service else {
            return Err(Error::new(
                ErrorCode::Unauthenticated,
                "hold operations need a service credential, and this node has none",
            ));
        };
        let (message, rpc) = (&message, &rpc);
        // Holds are idempotent by hold id: retried like reads.
        self.downstream
            .call(Idempotency::Safe, || async move {
                let mut retried = false;
                loop {
                    let token = credential.token().await?;
                    let mut request = self.request(None, message.clone())?;
                    insert_bearer(request.metadata_mut(), &token)?;
                    match rpc(self.client.clone(), request).await {
                        Ok(response) => return Ok(response.into_inner()),
                        Err(status)
                            if status.code() == tonic::Code::Unauthenticated && !retried =>
                        {
                            credential.invalidate().await;
                            retried = true;
                        }
                        Err(status) => return Err(error_from_status_of(SERVICE, &status)),
                    }
                }
            })
            .await
    }
}

/// Decodes a response; a malformed one is the catalog's fault, not the caller's.
fn decode<T: Wire>(proto: T::Proto) -> Result<T> {
    T::from_proto(proto, &At::ROOT).map_err(malformed)
}

/// Decodes the repeated field `name` of a response.
fn decode_list<T: Wire>(name: &str, protos: Vec<T::Proto>) -> Result<Vec<T>> {
    list(&At::ROOT, name, protos).map_err(malformed)
}

fn malformed(error: Error) -> Error {
    Error::internal(format!("the catalog sent a malformed response: {error}"))
}

#[async_trait::async_trait]
impl CatalogApi for CatalogGrpcClient {
    async fn create_hotel(&self, caller: &Principal, hotel: NewHotel) -> Result<Hotel> {
        let req = pb::CreateHotelRequest {
            hotel: Some(hotel.to_proto()),
        };
        decode(
            self.call_once(Some(caller), req, |mut c, r| async move {
                c.create_hotel(r).await
            })
            .await?,
        )
    }

    async fn get_hotel(&self, id: HotelId) -> Result<HotelDetails> {
        let req = pb::GetHotelRequest { id: id.to_proto() };
        decode(
            self.call(None, req, |mut c, r| async move { c.get_hotel(r).await })
                .await?,
        )
    }

    async fn update_hotel(
        &self,
        caller: &Principal,
        id: HotelId,
        if_match: i64,
        patch: HotelPatch,
    ) -> Result<Hotel> {
        let req = pb::UpdateHotelRequest {
            id: id.to_proto(),
            if_match,
            patch: Some(patch.to_proto()),
        };
        decode(
            self.call_once(Some(caller), req, |mut c, r| async move {
                c.update_hotel(r).await
            })
            .await?,
        )
    }

    async fn list_hotels(&self, query: HotelQuery) -> Result<Page<HotelSummary>> {
        let resp = self
            .call(None, query.to_proto(), |mut c, r| async move {
                c.list_hotels(r).await
            })
            .await?;
        hotel_page_from_proto(resp, &At::ROOT).map_err(malformed)
    }

    async fn create_room_type(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room_type: NewRoomType,
    ) -> Result<RoomType> {
        let req = pb::CreateRoomTypeRequest {
            hotel_id: hotel_id.to_proto(),
            room_type: Some(room_type.to_proto()),
        };
        decode(
            self.call_once(Some(caller), req, |mut c, r| async move {
                c.create_room_type(r).await
            })
            .await?,
        )
    }

    async fn update_room_type(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        id: RoomTypeId,
        if_match: i64,
        patch: RoomTypePatch,
    ) -> Result<RoomType> {
        let req = pb::UpdateRoomTypeRequest {
            hotel_id: hotel_id.to_proto(),
            id: id.to_proto(),
            if_match,
            patch: Some(patch.to_proto()),
        };
        decode(
            self.call_once(Some(caller), req, |mut c, r| async move {
                c.update_room_type(r).await
            })
            .await?,
        )
    }

    async fn create_room(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room: NewRoom,
    ) -> Result<Room> {
        let req = pb::CreateRoomRequest {
            hotel_id: hotel_id.to_proto(),
            room: Some(room.to_proto()),
        };
        decode(
            self.call_once(Some(caller), req, |mut c, r| async move {
                c.create_room(r).await
            })
            .await?,
        )
    }

    async fn update_room(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        id: RoomId,
        if_match: i64,
        patch: RoomPatch,
    ) -> Result<Room> {
        let req = pb::UpdateRoomRequest {
            hotel_id: hotel_id.to_proto(),
            id: id.to_proto(),
            if_match,
            patch: Some(patch.to_proto()),
        };
        decode(
            self.call_once(Some(caller), req, |mut c, r| async move {
                c.update_room(r).await
            })
            .await?,
        )
    }

    async fn list_rooms(&self, caller: &Principal, hotel_id: HotelId) -> Result<Vec<Room>> {
        let req = pb::ListRoomsRequest {
            hotel_id: hotel_id.to_proto(),
        };
        let resp = self
            .call(Some(caller), req, |mut c, r| async move {
                c.list_rooms(r).await
            })
            .await?;
        decode_list("rooms", resp.rooms)
    }

    async fn set_rate(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room_type_id: RoomTypeId,
        rate: SetRate,
    ) -> Result<NightsChanged> {
        let req = pb::SetRateRequest {
            hotel_id: hotel_id.to_proto(),
            room_type_id: room_type_id.to_proto(),
            rate: Some(rate.to_proto()),
        };
        decode(
            self.call_once(
                Some(caller),
                req,
                |mut c, r| async move { c.set_rate(r).await },
            )
            .await?,
        )
    }

    async fn set_inventory(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room_type_id: RoomTypeId,
        inventory: SetInventory,
    ) -> Result<NightsChanged> {
        let req = pb::SetInventoryRequest {
            hotel_id: hotel_id.to_proto(),
            room_type_id: room_type_id.to_proto(),
            inventory: Some(inventory.to_proto()),
        };
        decode(
            self.call_once(Some(caller), req, |mut c, r| async move {
                c.set_inventory(r).await
            })
            .await?,
        )
    }

    async fn get_inventory(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        from: Date,
        to: Date,
    ) -> Result<Vec<InventoryNight>> {
        let req = pb::GetInventoryRequest {
            hotel_id: hotel_id.to_proto(),
            from: from.to_proto(),
            to: to.to_proto(),
        };
        let resp = self
            .call(Some(caller), req, |mut c, r| async move {
                c.get_inventory(r).await
            })
            .await?;
        decode_list("nights", resp.nights)
    }

    async fn search_availability(&self, query: AvailabilityQuery) -> Result<Vec<Offer>> {
        let resp = self
            .call(None, query.to_proto(), |mut c, r| async move {
                c.search_availability(r).await
            })
            .await?;
        decode_list("offers", resp.offers)
    }

    async fn hotel_availability(&self, query: HotelAvailabilityQuery) -> Result<Vec<Offer>> {
        let resp = self
            .call(None, query.to_proto(), |mut c, r| async move {
                c.hotel_availability(r).await
            })
            .await?;
        decode_list("offers", resp.offers)
    }

    async fn quote(&self, room_type_id: RoomTypeId, stay: StayDates, rooms: u32) -> Result<Quote> {
        let req = pb::QuoteRequest {
            room_type_id: room_type_id.to_proto(),
            stay: Some(stay.to_proto()),
            rooms,
        };
        decode(
            self.call(None, req, |mut c, r| async move { c.quote(r).await })
                .await?,
        )
    }

    async fn place_hold(&self, hold: PlaceHold) -> Result<Hold> {
        decode(
            self.call_as_service(
                hold.to_proto(),
                |mut c, r| async move { c.place_hold(r).await },
            )
            .await?,
        )
    }

    async fn confirm_hold(&self, id: HoldId) -> Result<Hold> {
        let req = pb::ConfirmHoldRequest { id: id.to_proto() };
        decode(
            self.call_as_service(req, |mut c, r| async move { c.confirm_hold(r).await })
                .await?,
        )
    }

    async fn release_hold(&self, id: HoldId) -> Result<Hold> {
        let req = pb::ReleaseHoldRequest { id: id.to_proto() };
        decode(
            self.call_as_service(req, |mut c, r| async move { c.release_hold(r).await })
                .await?,
        )
    }

    async fn get_hold(&self, id: HoldId) -> Result<Hold> {
        let req = pb::GetHoldRequest { id: id.to_proto() };
        decode(
            self.call_as_service(req, |mut c, r| async move { c.get_hold(r).await })
                .await?,
        )
    }
}
