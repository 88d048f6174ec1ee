//! A fake catalog that records every call and answers fixed values.

use std::sync::Mutex;
use std::time::Duration;

use innkeeper_kernel::{
    Error, ErrorCode, HoldId, HotelId, Money, Page, Principal, Result, RoomId, RoomTypeId,
    StayDates,
};
use time::Date;
use time::macros::date;
use uuid::Uuid;

use super::fixtures::{self, hold, hotel, ids, offer, room, room_type, summary};
use crate::api::{
    AvailabilityQuery, CatalogApi, Hold, HoldStatus, Hotel, HotelAvailabilityQuery, HotelDetails,
    HotelPatch, HotelQuery, HotelSummary, InventoryNight, NewHotel, NewRoom, NewRoomType,
    NightPrice, NightsChanged, Offer, PlaceHold, Quote, Room, RoomPatch, RoomStatus, RoomType,
    RoomTypePatch, SetInventory, SetRate,
};

/// One call the fake received, with every argument.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Call {
    CreateHotel(Principal, NewHotel),
    GetHotel(HotelId),
    UpdateHotel(Principal, HotelId, i64, HotelPatch),
    ListHotels(HotelQuery),
    CreateRoomType(Principal, HotelId, NewRoomType),
    UpdateRoomType(Principal, HotelId, RoomTypeId, i64, RoomTypePatch),
    CreateRoom(Principal, HotelId, NewRoom),
    UpdateRoom(Principal, HotelId, RoomId, i64, RoomPatch),
    ListRooms(Principal, HotelId),
    SetRate(Principal, HotelId, RoomTypeId, SetRate),
    SetInventory(Principal, HotelId, RoomTypeId, SetInventory),
    GetInventory(Principal, HotelId, Date, Date),
    SearchAvailability(AvailabilityQuery),
    HotelAvailability(HotelAvailabilityQuery),
    Quote(RoomTypeId, StayDates, u32),
    PlaceHold(PlaceHold),
    ConfirmHold(HoldId),
    ReleaseHold(HoldId),
    GetHold(HoldId),
}

/// `get_hold` of this id never answers in time.
pub(super) const SLOW_HOLD: HoldId = HoldId(Uuid::from_u128(0x5105));

/// The hold id for which `get_hold` fails with `ErrorCode::ALL[i]`.
pub(super) fn failing_hold(i: usize) -> HoldId {
    HoldId(Uuid::from_u128(i as u128 + 1))
}

/// The error the fake returns for a code: a message with non-ASCII text, two field errors.
pub(super) fn error_for(code: ErrorCode) -> Error {
    Error::new(code, format!("{code}: l'hôtel « Zé » a dit non ✓"))
        .with_field("stay.check_out", "must be after check_in")
        .with_field("rooms", "must be between 1 and 9")
}

/// Records calls; answers the fixtures.
#[derive(Debug, Default)]
pub(super) struct FakeCatalog {
    calls: Mutex<Vec<Call>>,
}

impl FakeCatalog {
    fn record(&self, call: Call) {
        self.calls.lock().expect("not poisoned").push(call);
    }

    /// Every call so far, oldest first.
    pub(super) fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("not poisoned").clone()
    }
}

#[async_trait::async_trait]
impl CatalogApi for FakeCatalog {
    async fn create_hotel(&self, caller: &Principal, hotel: NewHotel) -> Result<Hotel> {
        self.record(Call::CreateHotel(*caller, hotel));
        Ok(fixtures::hotel())
    }
    async fn get_hotel(&self, id: HotelId) -> Result<HotelDetails> {
        self.record(Call::GetHotel(id));
        Ok(HotelDetails {
            hotel: hotel(),
            room_types: vec![
                room_type(),
                RoomType {
                    beds: vec![],
                    ..room_type()
                },
            ],
        })
    }
    async fn update_hotel(
        &self,
        caller: &Principal,
        id: HotelId,
        if_match: i64,
        patch: HotelPatch,
    ) -> Result<Hotel> {
        self.record(Call::UpdateHotel(*caller, id, if_match, patch));
        Ok(Hotel {
            stars: None,
            ..hotel()
        })
    }
    async fn list_hotels(&self, query: HotelQuery) -> Result<Page<HotelSummary>> {
        self.record(Call::ListHotels(query));
        Ok(Page {
            items: vec![
                summary(),
                HotelSummary {
                    stars: None,
                    distance_km: None,
                    ..summary()
                },
            ],
            next_cursor: Some("c2".into()),
        })
    }
    async fn create_room_type(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room_type: NewRoomType,
    ) -> Result<RoomType> {
        self.record(Call::CreateRoomType(*caller, hotel_id, room_type));
        Ok(fixtures::room_type())
    }
    async fn update_room_type(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        id: RoomTypeId,
        if_match: i64,
        patch: RoomTypePatch,
    ) -> Result<RoomType> {
        self.record(Call::UpdateRoomType(*caller, hotel_id, id, if_match, patch));
        Ok(room_type())
    }
    async fn create_room(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room: NewRoom,
    ) -> Result<Room> {
        self.record(Call::CreateRoom(*caller, hotel_id, room));
        Ok(fixtures::room())
    }
    async fn update_room(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        id: RoomId,
        if_match: i64,
        patch: RoomPatch,
    ) -> Result<Room> {
        self.record(Call::UpdateRoom(*caller, hotel_id, id, if_match, patch));
        Ok(Room {
            status: RoomStatus::OutOfService,
            ..room()
        })
    }
    async fn list_rooms(&self, caller: &Principal, hotel_id: HotelId) -> Result<Vec<Room>> {
        self.record(Call::ListRooms(*caller, hotel_id));
        Ok(vec![
            room(),
            Room {
                status: RoomStatus::Dirty,
                floor: 3,
                ..room()
            },
        ])
    }
    async fn set_rate(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room_type_id: RoomTypeId,
        rate: SetRate,
    ) -> Result<NightsChanged> {
        self.record(Call::SetRate(*caller, hotel_id, room_type_id, rate));
        Ok(NightsChanged {
            room_type_id: ids().room_type,
            nights: 14,
        })
    }
    async fn set_inventory(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        room_type_id: RoomTypeId,
        inventory: SetInventory,
    ) -> Result<NightsChanged> {
        self.record(Call::SetInventory(
            *caller,
            hotel_id,
            room_type_id,
            inventory,
        ));
        Ok(NightsChanged {
            room_type_id: ids().room_type,
            nights: 3,
        })
    }
    async fn get_inventory(
        &self,
        caller: &Principal,
        hotel_id: HotelId,
        from: Date,
        to: Date,
    ) -> Result<Vec<InventoryNight>> {
        self.record(Call::GetInventory(*caller, hotel_id, from, to));
        let night = InventoryNight {
            room_type_id: ids().room_type,
            night: date!(2026 - 12 - 30),
            total: 9,
            held: 2,
            sold: 5,
        };
        Ok(vec![
            night.clone(),
            InventoryNight {
                night: date!(2026 - 12 - 31),
                total: 0,
                ..night
            },
        ])
    }
    async fn search_availability(&self, query: AvailabilityQuery) -> Result<Vec<Offer>> {
        self.record(Call::SearchAvailability(query));
        Ok(vec![offer(), {
            // One free night and no room left: the edges of every number.
            let base = offer();
            let free = Money {
                amount: 0,
                ..base.total
            };
            Offer {
                check_out: base.check_in.next_day().expect("a later day"),
                nights: vec![NightPrice {
                    night: base.check_in,
                    price: free,
                }],
                total: free,
                rooms_left: 0,
                ..base
            }
        }])
    }
    async fn hotel_availability(&self, query: HotelAvailabilityQuery) -> Result<Vec<Offer>> {
        self.record(Call::HotelAvailability(query));
        Ok(vec![offer()])
    }
    async fn quote(&self, room_type_id: RoomTypeId, stay: StayDates, rooms: u32) -> Result<Quote> {
        self.record(Call::Quote(room_type_id, stay, rooms));
        Ok(fixtures::quote())
    }
    async fn place_hold(&self, hold: PlaceHold) -> Result<Hold> {
        self.record(Call::PlaceHold(hold));
        Ok(fixtures::hold())
    }
    async fn confirm_hold(&self, id: HoldId) -> Result<Hold> {
        self.record(Call::ConfirmHold(id));
        Ok(Hold {
            status: HoldStatus::Confirmed,
            ..hold()
        })
    }
    async fn release_hold(&self, id: HoldId) -> Result<Hold> {
        self.record(Call::ReleaseHold(id));
        Ok(Hold {
            status: HoldStatus::Released,
            ..hold()
        })
    }
    async fn get_hold(&self, id: HoldId) -> Result<Hold> {
        self.record(Call::GetHold(id));
        if id == SLOW_HOLD {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        let n = usize::try_from(id.0.as_u128()).unwrap_or(0);
        match n.checked_sub(1).and_then(|i| ErrorCode::ALL.get(i)) {
            Some(code) => Err(error_for(*code)),
            None => Ok(Hold {
                status: HoldStatus::Expired,
                ..hold()
            }),
        }
    }
}
