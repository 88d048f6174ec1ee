//! The front desk (the hotel's owner, or an admin): check-in with a physical room, check-out,
//! no-show. Each is one event appended at the version read; a check-in's room assignments
//! are written in the same transaction, where the store refuses a room holding an
//! overlapping stay, and another ready room is tried in its place.

use innkeeper_catalog::api::RoomStatus;
use innkeeper_kernel::{Error, ErrorCode, Principal, Result, RoomId};

use super::idempotency::Running;
use super::{BookingService, STALE_RETRIES, append_of, completion};
use crate::api::{Actor, Booking, BookingId};
use crate::domain::booking::{self, Decided};
use crate::store::AppendError;

/// The rooms a check-in may give: the one asked for (always), then ready rooms of the type
/// in order, until the booking has one room per room booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RoomChoice {
    required: Option<RoomId>,
    candidates: Vec<RoomId>,
    needed: usize,
}

impl RoomChoice {
    /// The rooms to try now, or `None` if too few are left.
    fn pick(&self) -> Option<Vec<RoomId>> {
        let rooms: Vec<RoomId> = self
            .required
            .into_iter()
            .chain(
                self.candidates
                    .iter()
                    .copied()
                    .filter(|r| Some(*r) != self.required),
            )
            .take(self.needed)
            .collect();
        (rooms.len() == self.needed).then_some(rooms)
    }

    /// Drops a room another stay holds; `false` if it was the one asked for.
    fn drop_taken(&mut self, room: RoomId) -> bool {
        self.candidates.retain(|r| *r != room);
        self.required != Some(room)
    }
}

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

    /// Decides and appends a front-desk change; for a check-in, tries rooms until free ones
    /// are found.
    pub(super) async fn front_desk<D>(
        &self,
        caller: &Principal,
        id: BookingId,
        if_match: Option<i64>,
        running: Option<Running>,
        rooms: Option<RoomChoice>,
        decide: D,
    ) -> Result<Booking>
    where
        D: Fn(&Booking, Vec<RoomId>) -> Result<Decided>,
    {
        for _ in 0..STALE_RETRIES {
            let current = self.at_front_desk(caller, id).await?;
            if let Some(expected) = if_match
                && expected != current.version
            {
                return Err(Error::version_mismatch(current.version));
            }
            let mut choice = rooms.clone();
            loop {
                let assignment = match &choice {
                    None => Vec::new(),
                    Some(choice) => choice.pick().ok_or_else(|| {
                        Error::conflict(
                            "not enough ready rooms of the booked type are free for the stay",
                        )
                    })?,
                };
                let decided = decide(&current, assignment.clone())?;
                let done = completion(running.as_ref(), &decided.booking, decided.event.at)?;
                let mut append = append_of(&decided, done);
                append.assignment = assignment;
                match self.append(&append).await {
                    Ok(()) => return Ok(decided.booking),
                    Err(AppendError::RoomTaken { room_id }) => {
                        let another = choice.as_mut().is_some_and(|c| c.drop_taken(room_id));
                        if !another {
                            return Err(AppendError::RoomTaken { room_id }.into());
                        }
                    }
                    Err(AppendError::VersionMismatch { .. }) if if_match.is_none() => break,
                    Err(err) => return Err(err.into()),
                }
            }
        }
        Err(Error::conflict(
            "the booking keeps changing; try again in a moment",
        ))
    }

    /// The rooms a check-in may give: the one asked for (of the booked type, in service), and
    /// the ready rooms of the type.
    pub(super) async fn check_in_choice(
        &self,
        caller: &Principal,
        id: BookingId,
        room_id: Option<RoomId>,
    ) -> Result<RoomChoice> {
        let booking = self.at_front_desk(caller, id).await?;
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
        }
        let candidates = rooms
            .iter()
            .filter(|r| r.room_type_id == booking.room_type_id && r.status == RoomStatus::Ready)
            .map(|r| r.id)
            .collect();
        Ok(RoomChoice {
            required: room_id,
            candidates,
            needed: usize::try_from(booking.rooms).unwrap_or(usize::MAX),
        })
    }

    pub(super) async fn check_in_now(
        &self,
        caller: &Principal,
        id: BookingId,
        room_id: Option<RoomId>,
        if_match: Option<i64>,
        running: Option<Running>,
    ) -> Result<Booking> {
        let choice = self.check_in_choice(caller, id, room_id).await?;
        let (today, now) = (self.clock.today(), self.clock.now());
        self.front_desk(caller, id, if_match, running, Some(choice), |b, rooms| {
            booking::check_in(b, rooms, today, Actor::user(caller), now)
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
        self.front_desk(caller, id, if_match, running, None, |b, _| {
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
        self.front_desk(caller, id, if_match, running, None, |b, _| {
            booking::no_show(b, today, Actor::user(caller), now)
        })
        .await
    }
}
