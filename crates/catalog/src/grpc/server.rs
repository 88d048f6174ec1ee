//! The server adapter: decode the request, call the [`CatalogApi`], encode the answer.
//!
//! A request that cannot be decoded (a bad UUID, date or enum) fails with `validation_failed`
//! naming the field. Calls that act for someone take the caller only from the access token the
//! request carries (`authorization: Bearer`), verified here again with the node's [`Verifier`]:
//! without a token, or with one that does not verify, they fail with `unauthenticated`. Calls
//! without a caller (reads, search, quotes, holds) need no token. Every error goes back through
//! [`status_from_error`], so the remote client rebuilds it exactly.

use std::sync::Arc;

use innkeeper_kernel::{Principal, Result};
use innkeeper_platform::auth::Verifier;
use innkeeper_platform::grpc::{Reply, reply, verified_caller};
use innkeeper_proto::catalog::v1 as pb;
use pb::catalog_service_server::{CatalogService, CatalogServiceServer};
use tonic::Request;

use super::messages::hotel_page_to_proto;
use super::nights::offer_into_proto;
use super::wire::{At, Wire, field, optional, protos, required};
use super::{MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use crate::api::{AvailabilityQuery, CatalogApi, HotelAvailabilityQuery, HotelQuery, PlaceHold};

/// Serves a [`CatalogApi`] (in practice the in-process `CatalogService`) over gRPC.
pub struct CatalogGrpcServer {
    api: Arc<dyn CatalogApi>,
    verifier: Arc<Verifier>,
}

impl CatalogGrpcServer {
    /// An adapter in front of `api`, verifying callers' tokens with `verifier`.
    pub fn new(api: Arc<dyn CatalogApi>, verifier: Arc<Verifier>) -> Self {
        Self { api, verifier }
    }

    /// The caller of the request (its verified token), and its message.
    async fn with_caller<T>(&self, request: Request<T>) -> Result<(Principal, T)> {
        let caller = verified_caller(&self.verifier, request.metadata()).await?;
        Ok((caller, request.into_inner()))
    }

    /// The message of a request that only a platform service may make (the holds the booking
    /// saga manages): its verified token must have role `service`. A person's token, even an
    /// admin's, is `forbidden`: holds are placed through bookings, never directly.
    async fn service_request<T>(&self, request: Request<T>) -> Result<T> {
        let (caller, message) = self.with_caller(request).await?;
        if !caller.is_service() {
            return Err(innkeeper_kernel::Error::new(
                innkeeper_kernel::ErrorCode::Forbidden,
                "holds are managed by the platform's services only",
            ));
        }
        Ok(message)
    }
}

impl std::fmt::Debug for CatalogGrpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CatalogGrpcServer")
    }
}

/// The tonic service to add to a server: `Server::builder().add_service(service(api, verifier))`.
pub fn service(
    api: Arc<dyn CatalogApi>,
    verifier: Arc<Verifier>,
) -> CatalogServiceServer<CatalogGrpcServer> {
    CatalogServiceServer::new(CatalogGrpcServer::new(api, verifier))
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES)
}

#[tonic::async_trait]
impl CatalogService for CatalogGrpcServer {
    async fn create_hotel(&self, request: Request<pb::CreateHotelRequest>) -> Reply<pb::Hotel> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let hotel = self
                    .api
                    .create_hotel(&caller, required(&At::ROOT, "hotel", req.hotel)?)
                    .await?;
                Ok(hotel.to_proto())
            }
            .await,
        )
    }

    async fn get_hotel(&self, request: Request<pb::GetHotelRequest>) -> Reply<pb::HotelDetails> {
        let req = request.into_inner();
        reply(
            async {
                Ok(self
                    .api
                    .get_hotel(field(&At::ROOT, "id", req.id)?)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn update_hotel(&self, request: Request<pb::UpdateHotelRequest>) -> Reply<pb::Hotel> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let id = field(&At::ROOT, "id", req.id)?;
                // An absent patch is an empty one, as proto3 readers expect.
                let patch = optional(&At::ROOT, "patch", req.patch)?.unwrap_or_default();
                Ok(self
                    .api
                    .update_hotel(&caller, id, req.if_match, patch)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn list_hotels(
        &self,
        request: Request<pb::ListHotelsRequest>,
    ) -> Reply<pb::ListHotelsResponse> {
        let req = request.into_inner();
        reply(
            async {
                let page = self
                    .api
                    .list_hotels(HotelQuery::from_proto(req, &At::ROOT)?)
                    .await?;
                Ok(hotel_page_to_proto(&page))
            }
            .await,
        )
    }

    async fn create_room_type(
        &self,
        request: Request<pb::CreateRoomTypeRequest>,
    ) -> Reply<pb::RoomType> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let hotel_id = field(&At::ROOT, "hotel_id", req.hotel_id)?;
                let room_type = required(&At::ROOT, "room_type", req.room_type)?;
                Ok(self
                    .api
                    .create_room_type(&caller, hotel_id, room_type)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn update_room_type(
        &self,
        request: Request<pb::UpdateRoomTypeRequest>,
    ) -> Reply<pb::RoomType> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let hotel_id = field(&At::ROOT, "hotel_id", req.hotel_id)?;
                let id = field(&At::ROOT, "id", req.id)?;
                let patch = optional(&At::ROOT, "patch", req.patch)?.unwrap_or_default();
                Ok(self
                    .api
                    .update_room_type(&caller, hotel_id, id, req.if_match, patch)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn create_room(&self, request: Request<pb::CreateRoomRequest>) -> Reply<pb::Room> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let hotel_id = field(&At::ROOT, "hotel_id", req.hotel_id)?;
                let room = required(&At::ROOT, "room", req.room)?;
                Ok(self
                    .api
                    .create_room(&caller, hotel_id, room)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn update_room(&self, request: Request<pb::UpdateRoomRequest>) -> Reply<pb::Room> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let hotel_id = field(&At::ROOT, "hotel_id", req.hotel_id)?;
                let id = field(&At::ROOT, "id", req.id)?;
                let patch = optional(&At::ROOT, "patch", req.patch)?.unwrap_or_default();
                Ok(self
                    .api
                    .update_room(&caller, hotel_id, id, req.if_match, patch)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn list_rooms(
        &self,
        request: Request<pb::ListRoomsRequest>,
    ) -> Reply<pb::ListRoomsResponse> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let rooms = self
                    .api
                    .list_rooms(&caller, field(&At::ROOT, "hotel_id", req.hotel_id)?)
                    .await?;
                Ok(pb::ListRoomsResponse {
                    rooms: protos(&rooms),
                })
            }
            .await,
        )
    }

    async fn set_rate(&self, request: Request<pb::SetRateRequest>) -> Reply<pb::NightsChanged> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let hotel_id = field(&At::ROOT, "hotel_id", req.hotel_id)?;
                let room_type_id = field(&At::ROOT, "room_type_id", req.room_type_id)?;
                let rate = required(&At::ROOT, "rate", req.rate)?;
                Ok(self
                    .api
                    .set_rate(&caller, hotel_id, room_type_id, rate)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn set_inventory(
        &self,
        request: Request<pb::SetInventoryRequest>,
    ) -> Reply<pb::NightsChanged> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let hotel_id = field(&At::ROOT, "hotel_id", req.hotel_id)?;
                let room_type_id = field(&At::ROOT, "room_type_id", req.room_type_id)?;
                let inventory = required(&At::ROOT, "inventory", req.inventory)?;
                Ok(self
                    .api
                    .set_inventory(&caller, hotel_id, room_type_id, inventory)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn get_inventory(
        &self,
        request: Request<pb::GetInventoryRequest>,
    ) -> Reply<pb::GetInventoryResponse> {
        reply(
            async {
                let (caller, req) = self.with_caller(request).await?;
                let hotel_id = field(&At::ROOT, "hotel_id", req.hotel_id)?;
                let (from, to) = (
                    field(&At::ROOT, "from", req.from)?,
                    field(&At::ROOT, "to", req.to)?,
                );
                let nights = self.api.get_inventory(&caller, hotel_id, from, to).await?;
                Ok(pb::GetInventoryResponse {
                    nights: protos(&nights),
                })
            }
            .await,
        )
    }

    async fn search_availability(
        &self,
        request: Request<pb::SearchAvailabilityRequest>,
    ) -> Reply<pb::OffersResponse> {
        let req = request.into_inner();
        reply(
            async {
                let offers = self
                    .api
                    .search_availability(AvailabilityQuery::from_proto(req, &At::ROOT)?)
                    .await?;
                Ok(pb::OffersResponse {
                    offers: offers.into_iter().map(offer_into_proto).collect(),
                })
            }
            .await,
        )
    }

    async fn hotel_availability(
        &self,
        request: Request<pb::HotelAvailabilityRequest>,
    ) -> Reply<pb::OffersResponse> {
        let req = request.into_inner();
        reply(
            async {
                let offers = self
                    .api
                    .hotel_availability(HotelAvailabilityQuery::from_proto(req, &At::ROOT)?)
                    .await?;
                Ok(pb::OffersResponse {
                    offers: offers.into_iter().map(offer_into_proto).collect(),
                })
            }
            .await,
        )
    }

    async fn quote(&self, request: Request<pb::QuoteRequest>) -> Reply<pb::Quote> {
        let req = request.into_inner();
        reply(
            async {
                let room_type_id = field(&At::ROOT, "room_type_id", req.room_type_id)?;
                let stay = required(&At::ROOT, "stay", req.stay)?;
                Ok(self
                    .api
                    .quote(room_type_id, stay, req.rooms)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn place_hold(&self, request: Request<pb::PlaceHoldRequest>) -> Reply<pb::Hold> {
        reply(
            async {
                let req = self.service_request(request).await?;
                Ok(self
                    .api
                    .place_hold(PlaceHold::from_proto(req, &At::ROOT)?)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn confirm_hold(&self, request: Request<pb::ConfirmHoldRequest>) -> Reply<pb::Hold> {
        reply(
            async {
                let req = self.service_request(request).await?;
                Ok(self
                    .api
                    .confirm_hold(field(&At::ROOT, "id", req.id)?)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn release_hold(&self, request: Request<pb::ReleaseHoldRequest>) -> Reply<pb::Hold> {
        reply(
            async {
                let req = self.service_request(request).await?;
                Ok(self
                    .api
                    .release_hold(field(&At::ROOT, "id", req.id)?)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }

    async fn get_hold(&self, request: Request<pb::GetHoldRequest>) -> Reply<pb::Hold> {
        reply(
            async {
                let req = self.service_request(request).await?;
                Ok(self
                    .api
                    .get_hold(field(&At::ROOT, "id", req.id)?)
                    .await?
                    .to_proto())
            }
            .await,
        )
    }
}
