//! The front desk (the hotel's owner, or an admin): check-in with a physical room, check-out,
//! no-show. Each is one event appended at the version read; a check-in's room assignment is
//! written in the same transaction, where the store refuses a room holding an overlapping
//! stay, and the next candidate room is tried.

use innkeeper_catalog::api::RoomStatus;
use innkeeper_kernel::{Error, ErrorCode, Principal, Result, RoomId};

use super::idempotency::Running;
use super::{BookingService, STALE_RETRIES, append_of, completion};
use crate::api::{Actor, Booking, BookingId};
use crate::domain::booking::{self, Decided};
use crate::store::AppendError;

/// Which rooms a change may give the booking, in order of preference (`None`: no room).
type Candidates = Vec<Option<RoomId>>;

impl BookingService {
    /// The booking, if the caller runs its hotel's front desk: `not_found` if they may not see
    /// it, `forbidden` if they may see it but not act (its guest).
    async fn at_front_desk(&self, caller: &Principal, id: BookingId) -> Result<Booking> {
        let booking = self.visible(caller, id).await?;
        if !caller.may_manage(booking.hotel_owner_id) {
            return Err(Error::new(
                ErrorCode::Forbidden,
                "only the hotel's front desk may do this",
            ));
        }
        Ok(booking)
    }

    /// Decides and appends a front-desk change, trying `candidates` rooms in order.
    pub(super) async fn front_desk<D>(
        &self,
        caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        running: Option<Running>,
        candidates: Candidates,
        decide: D,
    ) -> Result<Booking>
    where
        D: Fn(&Booking, Option<RoomId>) -> Result<Decided>,
    {
        for _ in 0..STALE_RETRIES {
            let current = self.at_front_desk(caller, id).await?;
            if let Some(expected) = if_match
                && expected != current.version
            {
                return Err(Error::version_mismatch(current.version));
            }
            let mut stale = false;
            for room in &candidates {
                let decided = decide(&current, *room)?;
                let done = completion(running.as_ref(), &decided.booking, decided.event.at)?;
                let mut append = append_of(&decided, done);
                append.assignment = *room;
                match self.append(&append).await {
                    Ok(()) => return Ok(decided.booking),
                    Err(AppendError::RoomTaken) => continue,
                    Err(AppendError::VersionMismatch { .. }) if if_match.is_none() => {
                        stale = true;
                        break;
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            if !stale {
                return Err(Error::conflict(match candidates.as_slice() {
                    [Some(room)] => format!("room {room} is given to another stay on these nights"),
                    _ => "no ready room of the booked type is free for the stay".to_owned(),
                }));
            }
        }
        Err(Error::conflict(
            "the booking keeps changing; try again in a moment",
        ))
    }

    /// The rooms a check-in may give: the one asked for (of the booked type, in service), or
    /// every ready room of the type.
    pub(super) async fn check_in_candidates(
        &self,
        caller: &Principal,
        id: BookingId,
        room_id: Option<RoomId>,
    ) -> Result<Candidates> {
        let booking = self.at_front_desk(caller, id).await?;
        if booking.rooms != 1 {
            return Err(Error::invalid_state(
                "bookings of several rooms cannot be checked in yet",
            ));
        }
        let rooms = self.catalog.list_rooms(caller, booking.hotel_id).await?;
        if let Some(wanted) = room_id {
            let room = rooms
                .iter()
                .find(|r| r.id == wanted)
                .ok_or_else(|| Error::invalid_field("room_id", "is not a room of this hotel"))?;
            if room.room_type_id != booking.room_type_id {
                return Err(Error::invalid_field(
                    "room_id",
                    "is not of the booked room type",
                ));
            }
            if room.status == RoomStatus::OutOfService {
                return Err(Error::invalid_field("room_id", "is out of service"));
            }
            return Ok(vec![Some(wanted)]);
        }
        let ready: Candidates = rooms
            .iter()
            .filter(|r| r.room_type_id == booking.room_type_id && r.status == RoomStatus::Ready)
            .map(|r| Some(r.id))
            .collect();
        if ready.is_empty() {
            return Err(Error::conflict("no room of the booked type is ready"));
        }
        Ok(ready)
    }

    pub(super) async fn check_in_now(
        &self,
        caller: &Principal,
        id: BookingId,
        room_id: Option<RoomId>,
        if_match: Option<i64>,
        running: Option<Running>,
    ) -> Result<Booking> {
        let candidates = self.check_in_candidates(caller, id, room_id).await?;
        let (today, now) = (self.clock.today(), self.clock.now());
        self.front_desk(caller, id, if_match, running, candidates, |b, room| {
            let room = room.ok_or_else(|| Error::internal("check-in without a room"))?;
            booking::check_in(b, room, today, Actor::user(caller), now)
        })
        .await
    }

    pub(super) async fn check_out_now(
        &self,
        caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        running: Option<Running>,
    ) -> Result<Booking> {
        let now = self.clock.now();
        self.front_desk(caller, id, if_match, running, vec![None], |b, _| {
            booking::check_out(b, Actor::user(caller), now)
        })
        .await
    }

    pub(super) async fn no_show_now(
        &self,
        caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        running: Option<Running>,
    ) -> Result<Booking> {
        let (today, now) = (self.clock.today(), self.clock.now());
        self.front_desk(caller, id, if_match, running, vec![None], |b, _| {
            booking::no_show(b, today, Actor::user(caller), now)
        })
        .await
    }
}
