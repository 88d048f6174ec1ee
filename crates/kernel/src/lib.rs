//! The shared vocabulary of Innkeeper.
//!
//! Every service speaks in these types: typed ids, [`Money`], [`StayDates`], [`GeoPoint`],
//! the caller ([`Principal`]), time ([`Clock`]) and the one error vocabulary ([`Error`],
//! [`ErrorCode`]) that maps to HTTP and gRPC alike. Values are built only through checked
//! constructors, so an illegal stay, price or coordinate cannot be represented.
//!
//! This crate does no I/O and knows nothing of HTTP, gRPC or SQL.

mod clock;
mod error;
mod geo;
mod ids;
mod money;
mod page;
mod principal;
mod stay;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Error, ErrorCode, FieldError, Result, set_internal_error_hook};
pub use geo::GeoPoint;
pub use ids::{HoldId, HotelId, RoomId, RoomTypeId, UserId};
pub use money::{Currency, Money};
pub use page::Page;
pub use principal::{Principal, Role, SERVICE_NAMES};
pub use stay::{Night, StayDates, iso_date, parse_iso_date, serialize_date};
