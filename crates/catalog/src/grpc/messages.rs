//! [`Wire`] for the catalog's hotels, room types and rooms.

use innkeeper_kernel::{Page, Result};
use innkeeper_proto::catalog::v1 as pb;

use super::wire::{At, Wire, field, list, opt_proto, optional, protos, required};
use crate::api::{
    Bed, Hotel, HotelDetails, HotelPatch, HotelQuery, HotelSummary, NewHotel, NewRoom, NewRoomType,
    Room, RoomPatch, RoomType, RoomTypePatch,
};

impl Wire for Hotel {
    type Proto = pb::Hotel;
    fn to_proto(&self) -> pb::Hotel {
        pb::Hotel {
            id: self.id.to_proto(),
            owner_id: self.owner_id.to_proto(),
            name: self.name.clone(),
            description: self.description.clone(),
            address: self.address.clone(),
            city: self.city.clone(),
            country: self.country.clone(),
            location: Some(self.location.to_proto()),
            stars: opt_proto(self.stars.as_ref()),
            currency: self.currency.to_proto(),
            timezone: self.timezone.clone(),
            version: self.version,
            created_at: Some(self.created_at.to_proto()),
            updated_at: Some(self.updated_at.to_proto()),
        }
    }
    fn from_proto(p: pb::Hotel, at: &At<'_>) -> Result<Self> {
        Ok(Hotel {
            id: field(at, "id", p.id)?,
            owner_id: field(at, "owner_id", p.owner_id)?,
            name: p.name,
            description: p.description,
            address: p.address,
            city: p.city,
            country: p.country,
            location: required(at, "location", p.location)?,
            stars: optional(at, "stars", p.stars)?,
            currency: field(at, "currency", p.currency)?,
            timezone: p.timezone,
            version: p.version,
            created_at: required(at, "created_at", p.created_at)?,
            updated_at: required(at, "updated_at", p.updated_at)?,
        })
    }
}

impl Wire for HotelDetails {
    type Proto = pb::HotelDetails;
    fn to_proto(&self) -> pb::HotelDetails {
        pb::HotelDetails {
            hotel: Some(self.hotel.to_proto()),
            room_types: protos(&self.room_types),
        }
    }
    fn from_proto(p: pb::HotelDetails, at: &At<'_>) -> Result<Self> {
        Ok(HotelDetails {
            hotel: required(at, "hotel", p.hotel)?,
            room_types: list(at, "room_types", p.room_types)?,
        })
    }
}

impl Wire for NewHotel {
    type Proto = pb::NewHotel;
    fn to_proto(&self) -> pb::NewHotel {
        pb::NewHotel {
            name: self.name.clone(),
            description: self.description.clone(),
            address: self.address.clone(),
            city: self.city.clone(),
            country: self.country.clone(),
            location: Some(self.location.to_proto()),
            stars: opt_proto(self.stars.as_ref()),
            currency: self.currency.to_proto(),
            timezone: self.timezone.clone(),
        }
    }
    fn from_proto(p: pb::NewHotel, at: &At<'_>) -> Result<Self> {
        Ok(NewHotel {
            name: p.name,
            description: p.description,
            address: p.address,
            city: p.city,
            country: p.country,
            location: required(at, "location", p.location)?,
            stars: optional(at, "stars", p.stars)?,
            currency: field(at, "currency", p.currency)?,
            timezone: p.timezone,
        })
    }
}

impl Wire for HotelPatch {
    type Proto = pb::HotelPatch;
    fn to_proto(&self) -> pb::HotelPatch {
        pb::HotelPatch {
            name: self.name.clone(),
            description: self.description.clone(),
            address: self.address.clone(),
            city: self.city.clone(),
            country: self.country.clone(),
            location: opt_proto(self.location.as_ref()),
            stars: opt_proto(self.stars.as_ref()),
            timezone: self.timezone.clone(),
        }
    }
    fn from_proto(p: pb::HotelPatch, at: &At<'_>) -> Result<Self> {
        Ok(HotelPatch {
            name: p.name,
            description: p.description,
            address: p.address,
            city: p.city,
            country: p.country,
            location: optional(at, "location", p.location)?,
            stars: optional(at, "stars", p.stars)?,
            timezone: p.timezone,
        })
    }
}

impl Wire for HotelQuery {
    type Proto = pb::ListHotelsRequest;
    fn to_proto(&self) -> pb::ListHotelsRequest {
        pb::ListHotelsRequest {
            city: self.city.clone(),
            near: opt_proto(self.near.as_ref()),
            radius_km: self.radius_km,
            q: self.q.clone(),
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
    fn from_proto(p: pb::ListHotelsRequest, at: &At<'_>) -> Result<Self> {
        Ok(HotelQuery {
            city: p.city,
            near: optional(at, "near", p.near)?,
            radius_km: p.radius_km,
            q: p.q,
            limit: p.limit,
            cursor: p.cursor,
        })
    }
}

/// The protobuf form of a hotel summary, moving its strings.
pub(crate) fn summary_into_proto(hotel: HotelSummary) -> pb::HotelSummary {
    pb::HotelSummary {
        id: hotel.id.to_proto(),
        name: hotel.name,
        city: hotel.city,
        country: hotel.country,
        location: Some(hotel.location.to_proto()),
        stars: opt_proto(hotel.stars.as_ref()),
        currency: hotel.currency.to_proto(),
        distance_km: hotel.distance_km,
    }
}

impl Wire for HotelSummary {
    type Proto = pb::HotelSummary;
    fn to_proto(&self) -> pb::HotelSummary {
        summary_into_proto(self.clone())
    }
    fn from_proto(p: pb::HotelSummary, at: &At<'_>) -> Result<Self> {
        Ok(HotelSummary {
            id: field(at, "id", p.id)?,
            name: p.name,
            city: p.city,
            country: p.country,
            location: required(at, "location", p.location)?,
            stars: optional(at, "stars", p.stars)?,
            currency: field(at, "currency", p.currency)?,
            distance_km: p.distance_km,
        })
    }
}

/// A page of hotels as a response (`Page` is the kernel's, so not a [`Wire`] of this crate).
pub(crate) fn hotel_page_to_proto(page: &Page<HotelSummary>) -> pb::ListHotelsResponse {
    pb::ListHotelsResponse {
        items: protos(&page.items),
        next_cursor: page.next_cursor.clone(),
    }
}

/// A page of hotels from a response.
pub(crate) fn hotel_page_from_proto(
    p: pb::ListHotelsResponse,
    at: &At<'_>,
) -> Result<Page<HotelSummary>> {
    Ok(Page {
        items: list(at, "items", p.items)?,
        next_cursor: p.next_cursor,
    })
}

impl Wire for Bed {
    type Proto = pb::Bed;
    fn to_proto(&self) -> pb::Bed {
        pb::Bed {
            kind: self.kind.to_proto(),
            count: self.count.to_proto(),
        }
    }
    fn from_proto(p: pb::Bed, at: &At<'_>) -> Result<Self> {
        Ok(Bed {
            kind: field(at, "kind", p.kind)?,
            count: field(at, "count", p.count)?,
        })
    }
}

impl Wire for RoomType {
    type Proto = pb::RoomType;
    fn to_proto(&self) -> pb::RoomType {
        pb::RoomType {
            id: self.id.to_proto(),
            hotel_id: self.hotel_id.to_proto(),
            name: self.name.clone(),
            description: self.description.clone(),
            capacity: self.capacity,
            beds: protos(&self.beds),
            amenities: self.amenities.clone(),
            base_price: Some(self.base_price.to_proto()),
            active_rooms: self.active_rooms,
            version: self.version,
        }
    }
    fn from_proto(p: pb::RoomType, at: &At<'_>) -> Result<Self> {
        Ok(RoomType {
            id: field(at, "id", p.id)?,
            hotel_id: field(at, "hotel_id", p.hotel_id)?,
            name: p.name,
            description: p.description,
            capacity: p.capacity,
            beds: list(at, "beds", p.beds)?,
            amenities: p.amenities,
            base_price: required(at, "base_price", p.base_price)?,
            active_rooms: p.active_rooms,
            version: p.version,
        })
    }
}

impl Wire for NewRoomType {
    type Proto = pb::NewRoomType;
    fn to_proto(&self) -> pb::NewRoomType {
        pb::NewRoomType {
            name: self.name.clone(),
            description: self.description.clone(),
            capacity: self.capacity,
            beds: protos(&self.beds),
            amenities: self.amenities.clone(),
            base_price: Some(self.base_price.to_proto()),
        }
    }
    fn from_proto(p: pb::NewRoomType, at: &At<'_>) -> Result<Self> {
        Ok(NewRoomType {
            name: p.name,
            description: p.description,
            capacity: p.capacity,
            beds: list(at, "beds", p.beds)?,
            amenities: p.amenities,
            base_price: required(at, "base_price", p.base_price)?,
        })
    }
}

impl Wire for RoomTypePatch {
    type Proto = pb::RoomTypePatch;
    fn to_proto(&self) -> pb::RoomTypePatch {
        pb::RoomTypePatch {
            name: self.name.clone(),
            description: self.description.clone(),
            capacity: self.capacity,
            beds: self
                .beds
                .as_deref()
                .map(|beds| pb::BedList { beds: protos(beds) }),
            amenities: self
                .amenities
                .clone()
                .map(|values| pb::StringList { values }),
            base_price: opt_proto(self.base_price.as_ref()),
        }
    }
    fn from_proto(p: pb::RoomTypePatch, at: &At<'_>) -> Result<Self> {
        let beds_at = at.field("beds");
        Ok(RoomTypePatch {
            name: p.name,
            description: p.description,
            capacity: p.capacity,
            beds: p
                .beds
                .map(|beds| list(&beds_at, "beds", beds.beds))
                .transpose()?,
            amenities: p.amenities.map(|list| list.values),
            base_price: optional(at, "base_price", p.base_price)?,
        })
    }
}

impl Wire for Room {
    type Proto = pb::Room;
    fn to_proto(&self) -> pb::Room {
        pb::Room {
            id: self.id.to_proto(),
            hotel_id: self.hotel_id.to_proto(),
            room_type_id: self.room_type_id.to_proto(),
            number: self.number.clone(),
            floor: self.floor,
            status: self.status.to_proto(),
            version: self.version,
        }
    }
    fn from_proto(p: pb::Room, at: &At<'_>) -> Result<Self> {
        Ok(Room {
            id: field(at, "id", p.id)?,
            hotel_id: field(at, "hotel_id", p.hotel_id)?,
            room_type_id: field(at, "room_type_id", p.room_type_id)?,
            number: p.number,
            floor: p.floor,
            status: field(at, "status", p.status)?,
            version: p.version,
        })
    }
}

impl Wire for NewRoom {
    type Proto = pb::NewRoom;
    fn to_proto(&self) -> pb::NewRoom {
        pb::NewRoom {
            number: self.number.clone(),
            floor: self.floor,
            room_type_id: self.room_type_id.to_proto(),
            status: self.status.to_proto(),
        }
    }
    fn from_proto(p: pb::NewRoom, at: &At<'_>) -> Result<Self> {
        Ok(NewRoom {
            number: p.number,
            floor: p.floor,
            room_type_id: field(at, "room_type_id", p.room_type_id)?,
            status: field(at, "status", p.status)?,
        })
    }
}

impl Wire for RoomPatch {
    type Proto = pb::RoomPatch;
    fn to_proto(&self) -> pb::RoomPatch {
        pb::RoomPatch {
            number: self.number.clone(),
            floor: self.floor,
            room_type_id: opt_proto(self.room_type_id.as_ref()),
            status: opt_proto(self.status.as_ref()),
        }
    }
    fn from_proto(p: pb::RoomPatch, at: &At<'_>) -> Result<Self> {
        Ok(RoomPatch {
            number: p.number,
            floor: p.floor,
            room_type_id: optional(at, "room_type_id", p.room_type_id)?,
            status: optional(at, "status", p.status)?,
        })
    }
}
