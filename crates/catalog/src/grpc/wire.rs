//! The catalog's [`Wire`] conversions: its enums. The kernel's values and the decoding
//! helpers are shared by every adapter (`innkeeper_proto::wire`).

use innkeeper_kernel::Result;
use innkeeper_proto::catalog::v1 as pb;
pub(crate) use innkeeper_proto::wire::{
    At, Wire, field, list, opt_proto, optional, protos, required, unknown_value,
};

use crate::api::{BedKind, HoldStatus, RoomStatus, SortOrder};

impl Wire for BedKind {
    type Proto = i32;
    fn to_proto(&self) -> i32 {
        let kind = match self {
            BedKind::Single => pb::BedKind::Single,
            BedKind::Double => pb::BedKind::Double,
            BedKind::Queen => pb::BedKind::Queen,
            BedKind::King => pb::BedKind::King,
            BedKind::Twin => pb::BedKind::Twin,
            BedKind::Sofa => pb::BedKind::Sofa,
            BedKind::Bunk => pb::BedKind::Bunk,
        };
        kind.into()
    }
    fn from_proto(proto: i32, at: &At<'_>) -> Result<Self> {
        match pb::BedKind::try_from(proto) {
            Ok(pb::BedKind::Single) => Ok(BedKind::Single),
            Ok(pb::BedKind::Double) => Ok(BedKind::Double),
            Ok(pb::BedKind::Queen) => Ok(BedKind::Queen),
            Ok(pb::BedKind::King) => Ok(BedKind::King),
            Ok(pb::BedKind::Twin) => Ok(BedKind::Twin),
            Ok(pb::BedKind::Sofa) => Ok(BedKind::Sofa),
            Ok(pb::BedKind::Bunk) => Ok(BedKind::Bunk),
            Ok(pb::BedKind::Unspecified) | Err(_) => unknown_value(
                at,
                "BED_KIND_SINGLE, BED_KIND_DOUBLE, BED_KIND_QUEEN, BED_KIND_KING, BED_KIND_TWIN, BED_KIND_SOFA, BED_KIND_BUNK",
            ),
        }
    }
}

impl Wire for RoomStatus {
    type Proto = i32;
    fn to_proto(&self) -> i32 {
        let status = match self {
            RoomStatus::Ready => pb::RoomStatus::Ready,
            RoomStatus::Dirty => pb::RoomStatus::Dirty,
            RoomStatus::OutOfService => pb::RoomStatus::OutOfService,
        };
        status.into()
    }
    fn from_proto(proto: i32, at: &At<'_>) -> Result<Self> {
        match pb::RoomStatus::try_from(proto) {
            Ok(pb::RoomStatus::Ready) => Ok(RoomStatus::Ready),
            Ok(pb::RoomStatus::Dirty) => Ok(RoomStatus::Dirty),
            Ok(pb::RoomStatus::OutOfService) => Ok(RoomStatus::OutOfService),
            Ok(pb::RoomStatus::Unspecified) | Err(_) => unknown_value(
                at,
                "ROOM_STATUS_READY, ROOM_STATUS_DIRTY, ROOM_STATUS_OUT_OF_SERVICE",
            ),
        }
    }
}

impl Wire for SortOrder {
    type Proto = i32;
    fn to_proto(&self) -> i32 {
        let order = match self {
            SortOrder::Price => pb::SortOrder::Price,
            SortOrder::Distance => pb::SortOrder::Distance,
        };
        order.into()
    }
    fn from_proto(proto: i32, at: &At<'_>) -> Result<Self> {
        match pb::SortOrder::try_from(proto) {
            // Unspecified is the contract's default order.
            Ok(pb::SortOrder::Unspecified) => Ok(SortOrder::default()),
            Ok(pb::SortOrder::Price) => Ok(SortOrder::Price),
            Ok(pb::SortOrder::Distance) => Ok(SortOrder::Distance),
            Err(_) => unknown_value(at, "SORT_ORDER_PRICE, SORT_ORDER_DISTANCE"),
        }
    }
}

impl Wire for HoldStatus {
    type Proto = i32;
    fn to_proto(&self) -> i32 {
        let status = match self {
            HoldStatus::Held => pb::HoldStatus::Held,
            HoldStatus::Confirmed => pb::HoldStatus::Confirmed,
            HoldStatus::Released => pb::HoldStatus::Released,
            HoldStatus::Expired => pb::HoldStatus::Expired,
        };
        status.into()
    }
    fn from_proto(proto: i32, at: &At<'_>) -> Result<Self> {
        match pb::HoldStatus::try_from(proto) {
            Ok(pb::HoldStatus::Held) => Ok(HoldStatus::Held),
            Ok(pb::HoldStatus::Confirmed) => Ok(HoldStatus::Confirmed),
            Ok(pb::HoldStatus::Released) => Ok(HoldStatus::Released),
            Ok(pb::HoldStatus::Expired) => Ok(HoldStatus::Expired),
            Ok(pb::HoldStatus::Unspecified) | Err(_) => unknown_value(
                at,
                "HOLD_STATUS_HELD, HOLD_STATUS_CONFIRMED, HOLD_STATUS_RELEASED, HOLD_STATUS_EXPIRED",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enum_value_round_trips() {
        for kind in [
            BedKind::Single,
            BedKind::Double,
            BedKind::Queen,
            BedKind::King,
            BedKind::Twin,
            BedKind::Sofa,
            BedKind::Bunk,
        ] {
            assert_eq!(
                BedKind::from_proto(kind.to_proto(), &At::Name("k")),
                Ok(kind)
            );
        }
        for status in [
            RoomStatus::Ready,
            RoomStatus::Dirty,
            RoomStatus::OutOfService,
        ] {
            assert_eq!(
                RoomStatus::from_proto(status.to_proto(), &At::Name("s")),
                Ok(status)
            );
        }
        for order in [SortOrder::Price, SortOrder::Distance] {
            assert_eq!(
                SortOrder::from_proto(order.to_proto(), &At::Name("s")),
                Ok(order)
            );
        }
        assert_eq!(
            SortOrder::from_proto(0, &At::Name("sort")),
            Ok(SortOrder::Price),
            "unspecified is the default order"
        );
        for status in [
            HoldStatus::Held,
            HoldStatus::Confirmed,
            HoldStatus::Released,
            HoldStatus::Expired,
        ] {
            assert_eq!(
                HoldStatus::from_proto(status.to_proto(), &At::Name("s")),
                Ok(status)
            );
        }
        assert_eq!(
            RoomStatus::from_proto(0, &At::Name("status")).map_err(|e| e.errors[0].field.clone()),
            Err("status".into())
        );
    }
}
