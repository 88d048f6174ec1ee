//! [`Wire`] for what is sold night by night: rates, inventory, availability, quotes, holds.

use innkeeper_kernel::{Error, Money, Result};
use innkeeper_proto::catalog::v1 as pb;
use pb::search_availability_request::Place as PbPlace;
use time::Date;

use super::messages::summary_into_proto;
use super::wire::{At, Wire, field, list, protos, required};
use crate::api::{
    AvailabilityQuery, Hold, HotelAvailabilityQuery, InventoryNight, NightPrice, NightsChanged,
    Offer, Place, PlaceHold, Quote, SetInventory, SetRate,
};

impl Wire for SetRate {
    type Proto = pb::SetRate;
    fn to_proto(&self) -> pb::SetRate {
        pb::SetRate {
            from: self.from.to_proto(),
            to: self.to.to_proto(),
            price: Some(self.price.to_proto()),
            min_stay: self.min_stay,
        }
    }
    fn from_proto(p: pb::SetRate, at: &At<'_>) -> Result<Self> {
        Ok(SetRate {
            from: field(at, "from", p.from)?,
            to: field(at, "to", p.to)?,
            price: required(at, "price", p.price)?,
            min_stay: p.min_stay,
        })
    }
}

impl Wire for SetInventory {
    type Proto = pb::SetInventory;
    fn to_proto(&self) -> pb::SetInventory {
        pb::SetInventory {
            from: self.from.to_proto(),
            to: self.to.to_proto(),
            total: self.total,
        }
    }
    fn from_proto(p: pb::SetInventory, at: &At<'_>) -> Result<Self> {
        Ok(SetInventory {
            from: field(at, "from", p.from)?,
            to: field(at, "to", p.to)?,
            total: p.total,
        })
    }
}

impl Wire for NightsChanged {
    type Proto = pb::NightsChanged;
    fn to_proto(&self) -> pb::NightsChanged {
        pb::NightsChanged {
            room_type_id: self.room_type_id.to_proto(),
            nights: self.nights,
        }
    }
    fn from_proto(p: pb::NightsChanged, at: &At<'_>) -> Result<Self> {
        Ok(NightsChanged {
            room_type_id: field(at, "room_type_id", p.room_type_id)?,
            nights: p.nights,
        })
    }
}

impl Wire for InventoryNight {
    type Proto = pb::InventoryNight;
    fn to_proto(&self) -> pb::InventoryNight {
        pb::InventoryNight {
            room_type_id: self.room_type_id.to_proto(),
            night: self.night.to_proto(),
            total: self.total,
            held: self.held,
            sold: self.sold,
        }
    }
    fn from_proto(p: pb::InventoryNight, at: &At<'_>) -> Result<Self> {
        Ok(InventoryNight {
            room_type_id: field(at, "room_type_id", p.room_type_id)?,
            night: field(at, "night", p.night)?,
            total: p.total,
            held: p.held,
            sold: p.sold,
        })
    }
}

impl Wire for AvailabilityQuery {
    type Proto = pb::SearchAvailabilityRequest;
    fn to_proto(&self) -> pb::SearchAvailabilityRequest {
        let place = match &self.place {
            Place::City(city) => PbPlace::City(city.clone()),
            Place::Near { point, radius_km } => PbPlace::Near(pb::NearPlace {
                point: Some(point.to_proto()),
                radius_km: *radius_km,
            }),
        };
        pb::SearchAvailabilityRequest {
            place: Some(place),
            stay: Some(self.stay.to_proto()),
            guests: self.guests,
            rooms: self.rooms,
            max_price: self.max_price,
            sort: self.sort.to_proto(),
            limit: self.limit,
        }
    }
    fn from_proto(p: pb::SearchAvailabilityRequest, at: &At<'_>) -> Result<Self> {
        let place = match p.place {
            Some(PbPlace::City(city)) => Place::City(city),
            Some(PbPlace::Near(near)) => {
                let near_at = at.field("near");
                Place::Near {
                    point: required(&near_at, "point", near.point)?,
                    radius_km: near.radius_km,
                }
            }
            None => {
                return Err(Error::invalid_field(
                    &at.field("place"),
                    "is required: either city or near",
                ));
            }
        };
        Ok(AvailabilityQuery {
            place,
            stay: required(at, "stay", p.stay)?,
            guests: p.guests,
            rooms: p.rooms,
            max_price: p.max_price,
            sort: field(at, "sort", p.sort)?,
            limit: p.limit,
        })
    }
}

impl Wire for HotelAvailabilityQuery {
    type Proto = pb::HotelAvailabilityRequest;
    fn to_proto(&self) -> pb::HotelAvailabilityRequest {
        pb::HotelAvailabilityRequest {
            hotel_id: self.hotel_id.to_proto(),
            stay: Some(self.stay.to_proto()),
            guests: self.guests,
            rooms: self.rooms,
        }
    }
    fn from_proto(p: pb::HotelAvailabilityRequest, at: &At<'_>) -> Result<Self> {
        Ok(HotelAvailabilityQuery {
            hotel_id: field(at, "hotel_id", p.hotel_id)?,
            stay: required(at, "stay", p.stay)?,
            guests: p.guests,
            rooms: p.rooms,
        })
    }
}

impl Wire for NightPrice {
    type Proto = pb::NightPrice;
    fn to_proto(&self) -> pb::NightPrice {
        pb::NightPrice {
            night: self.night.to_proto(),
            price: Some(self.price.to_proto()),
        }
    }
    fn from_proto(p: pb::NightPrice, at: &At<'_>) -> Result<Self> {
        Ok(NightPrice {
            night: field(at, "night", p.night)?,
            price: required(at, "price", p.price)?,
        })
    }
}

/// The protobuf form of an offer, moving its strings rather than copying them (a search
/// answer is built to be sent).
pub(crate) fn offer_into_proto(offer: Offer) -> pb::Offer {
    pb::Offer {
        hotel: Some(summary_into_proto(offer.hotel)),
        room_type_id: offer.room_type_id.to_proto(),
        room_type_name: offer.room_type_name,
        capacity: offer.capacity,
        check_in: offer.check_in.to_proto(),
        check_out: offer.check_out.to_proto(),
        rooms: offer.rooms,
        night_prices: offer.nights.iter().map(|n| n.price.amount).collect(),
        total: Some(offer.total.to_proto()),
        rooms_left: offer.rooms_left,
    }
}

impl Wire for Offer {
    type Proto = pb::Offer;
    fn to_proto(&self) -> pb::Offer {
        offer_into_proto(self.clone())
    }
    fn from_proto(p: pb::Offer, at: &At<'_>) -> Result<Self> {
        let check_in: Date = field(at, "check_in", p.check_in)?;
        let check_out: Date = field(at, "check_out", p.check_out)?;
        let total: Money = required(at, "total", p.total)?;
        if (check_out - check_in).whole_days() != p.night_prices.len() as i64 {
            return Err(Error::invalid_field(
                &at.field("night_prices"),
                "must hold one price per night from check_in to check_out",
            ));
        }
        let nights = p
            .night_prices
            .into_iter()
            .zip(std::iter::successors(Some(check_in), |d| d.next_day()))
            .map(|(amount, night)| NightPrice {
                night,
                price: Money {
                    amount,
                    currency: total.currency,
                },
            })
            .collect();
        Ok(Offer {
            hotel: required(at, "hotel", p.hotel)?,
            room_type_id: field(at, "room_type_id", p.room_type_id)?,
            room_type_name: p.room_type_name,
            capacity: p.capacity,
            check_in,
            check_out,
            rooms: p.rooms,
            nights,
            total,
            rooms_left: p.rooms_left,
        })
    }
}

impl Wire for Quote {
    type Proto = pb::Quote;
    fn to_proto(&self) -> pb::Quote {
        pb::Quote {
            hotel_id: self.hotel_id.to_proto(),
            room_type_id: self.room_type_id.to_proto(),
            stay: Some(self.stay.to_proto()),
            rooms: self.rooms,
            nights: protos(&self.nights),
            total: Some(self.total.to_proto()),
            hotel_owner_id: self.hotel_owner_id.to_proto(),
            capacity: self.capacity,
        }
    }
    fn from_proto(p: pb::Quote, at: &At<'_>) -> Result<Self> {
        Ok(Quote {
            hotel_id: field(at, "hotel_id", p.hotel_id)?,
            hotel_owner_id: field(at, "hotel_owner_id", p.hotel_owner_id)?,
            room_type_id: field(at, "room_type_id", p.room_type_id)?,
            capacity: p.capacity,
            stay: required(at, "stay", p.stay)?,
            rooms: p.rooms,
            nights: list(at, "nights", p.nights)?,
            total: required(at, "total", p.total)?,
        })
    }
}

impl Wire for PlaceHold {
    type Proto = pb::PlaceHoldRequest;
    fn to_proto(&self) -> pb::PlaceHoldRequest {
        pb::PlaceHoldRequest {
            hold_id: self.hold_id.to_proto(),
            room_type_id: self.room_type_id.to_proto(),
            stay: Some(self.stay.to_proto()),
            quantity: self.quantity,
            ttl_seconds: self.ttl_seconds,
        }
    }
    fn from_proto(p: pb::PlaceHoldRequest, at: &At<'_>) -> Result<Self> {
        Ok(PlaceHold {
            hold_id: field(at, "hold_id", p.hold_id)?,
            room_type_id: field(at, "room_type_id", p.room_type_id)?,
            stay: required(at, "stay", p.stay)?,
            quantity: p.quantity,
            ttl_seconds: p.ttl_seconds,
        })
    }
}

impl Wire for Hold {
    type Proto = pb::Hold;
    fn to_proto(&self) -> pb::Hold {
        pb::Hold {
            id: self.id.to_proto(),
            hotel_id: self.hotel_id.to_proto(),
            room_type_id: self.room_type_id.to_proto(),
            stay: Some(self.stay.to_proto()),
            quantity: self.quantity,
            status: self.status.to_proto(),
            expires_at: Some(self.expires_at.to_proto()),
            created_at: Some(self.created_at.to_proto()),
            updated_at: Some(self.updated_at.to_proto()),
        }
    }
    fn from_proto(p: pb::Hold, at: &At<'_>) -> Result<Self> {
        Ok(Hold {
            id: field(at, "id", p.id)?,
            hotel_id: field(at, "hotel_id", p.hotel_id)?,
            room_type_id: field(at, "room_type_id", p.room_type_id)?,
            stay: required(at, "stay", p.stay)?,
            quantity: p.quantity,
            status: field(at, "status", p.status)?,
            expires_at: required(at, "expires_at", p.expires_at)?,
            created_at: required(at, "created_at", p.created_at)?,
            updated_at: required(at, "updated_at", p.updated_at)?,
        })
    }
}
