//! Who is calling.

use serde::{Deserialize, Serialize};

use crate::{Error, Result, UserId};

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Books rooms for themselves.
    Guest,
    /// Runs their own hotels.
    Hotelier,
    /// Runs the platform.
    Admin,
    /// A platform service acting on its own behalf (the booking saga placing holds), never a
    /// person: no account has it, and the public API refuses its tokens. Service tokens come
    /// only from the identity service, to a service that proves it knows `auth.service_secret`.
    Service,
}

impl Role {
    /// The string form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Guest => "guest",
            Role::Hotelier => "hotelier",
            Role::Admin => "admin",
            Role::Service => "service",
        }
    }

    /// Parses the string form.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "guest" => Some(Role::Guest),
            "hotelier" => Some(Role::Hotelier),
            "admin" => Some(Role::Admin),
            "service" => Some(Role::Service),
            _ => None,
        }
    }
}

/// The UUIDv5 namespace of service principals (a fixed random UUID).
const SERVICE_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x6c4f_3b9e_2a51_4d7c_9e08_5f1a_b3c2_d7e4);

/// The platform services that may hold a service identity (the saga's actors).
pub const SERVICE_NAMES: [&str; 3] = ["booking", "payment", "notification"];

/// The authenticated caller of a use case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The user.
    pub user_id: UserId,
    /// Their role.
    pub role: Role,
}

impl Principal {
    /// The demo hotelier: the owner of the demo hotels, and identity's demo account
    /// `hotelier@innkeeper.test`. In-process seeding acts as this principal; requests never
    /// do (the gateway takes the caller from a verified access token only).
    pub const DEVELOPMENT: Principal = Principal {
        user_id: UserId(uuid::Uuid::from_u128(
            0x0000_0000_0000_7000_8000_0000_0000_0d01,
        )),
        role: Role::Hotelier,
    };

    /// The principal of the platform service `name` (such as `booking`): role
    /// [`Role::Service`], and a user id derived from the name (UUIDv5), so it is the same on
    /// every node and can never be a person's id (those are UUIDv7).
    pub fn service(name: &str) -> Principal {
        Principal {
            user_id: UserId(uuid::Uuid::new_v5(
                &SERVICE_NAMESPACE,
                format!("innkeeper:service:{name}").as_bytes(),
            )),
            role: Role::Service,
        }
    }

    /// Whether the caller is a platform service rather than a person.
    pub fn is_service(&self) -> bool {
        self.role == Role::Service
    }

    /// Whether the caller may change an object owned by `owner`.
    pub fn may_manage(&self, owner: UserId) -> bool {
        self.role == Role::Admin || (self.role == Role::Hotelier && self.user_id == owner)
    }

    /// Whether the caller may create a booking for `guest`: a guest for themselves, an admin
    /// for anyone, a hotelier never (role rules 2 and 3).
    pub fn may_book_for(&self, guest: UserId) -> bool {
        match self.role {
            Role::Guest => self.user_id == guest,
            Role::Admin => true,
            Role::Hotelier | Role::Service => false,
        }
    }

    /// Whether the caller may see (or act on) a booking of `guest` at a hotel owned by
    /// `hotel_owner`: the guest, the hotel's owner, or an admin (role rules 1 and 2). Anyone
    /// else is told the booking does not exist.
    pub fn may_see_booking(&self, guest: UserId, hotel_owner: UserId) -> bool {
        match self.role {
            Role::Guest => self.user_id == guest,
            Role::Hotelier => self.user_id == hotel_owner,
            Role::Admin => true,
            Role::Service => false,
        }
    }

    /// Fails with 403 unless the caller may create hotels (hoteliers and admins).
    pub fn require_hotel_manager(&self) -> Result<()> {
        match self.role {
            Role::Hotelier | Role::Admin => Ok(()),
            Role::Guest | Role::Service => Err(Error::new(
                crate::ErrorCode::Forbidden,
                "only hoteliers and admins manage hotels",
            )),
        }
    }

    /// A compact text form, `role:uuid`. No service trusts it as a credential (the gRPC
    /// servers take the caller from a verified token only; tests send it to prove that).
    pub fn to_header(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.user_id)
    }

    /// Parses the wire form.
    pub fn from_header(s: &str) -> Option<Principal> {
        let (role, id) = s.split_once(':')?;
        Some(Principal {
            role: Role::parse(role)?,
            user_id: id.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_and_admins_manage_others_do_not() {
        let owner = Principal::DEVELOPMENT;
        let other = Principal {
            user_id: UserId::new(),
            role: Role::Hotelier,
        };
        let admin = Principal {
            user_id: UserId::new(),
            role: Role::Admin,
        };
        let guest = Principal {
            user_id: owner.user_id,
            role: Role::Guest,
        };
        assert!(owner.may_manage(owner.user_id));
        assert!(!other.may_manage(owner.user_id));
        assert!(admin.may_manage(owner.user_id));
        assert!(!guest.may_manage(owner.user_id));
        assert!(guest.require_hotel_manager().is_err());
    }

    #[test]
    fn a_service_is_nobody_s_guest_owner_or_admin() {
        let booking = Principal::service("booking");
        assert_eq!(
            booking,
            Principal::service("booking"),
            "the same on every node"
        );
        assert_ne!(booking.user_id, Principal::service("payment").user_id);
        assert_eq!(booking.user_id.0.get_version_num(), 5);
        assert!(booking.is_service());
        assert!(!booking.may_manage(booking.user_id));
        assert!(!booking.may_book_for(booking.user_id));
        assert!(!booking.may_see_booking(booking.user_id, booking.user_id));
        assert!(booking.require_hotel_manager().is_err());
        assert_eq!(Role::parse("service"), Some(Role::Service));
    }

    #[test]
    fn bookings_belong_to_their_guest_and_their_hotel() {
        let guest = Principal {
            user_id: UserId::new(),
            role: Role::Guest,
        };
        let other_guest = Principal {
            user_id: UserId::new(),
            role: Role::Guest,
        };
        let owner = Principal::DEVELOPMENT;
        let other_hotelier = Principal {
            user_id: UserId::new(),
            role: Role::Hotelier,
        };
        let admin = Principal {
            user_id: UserId::new(),
            role: Role::Admin,
        };
        assert!(guest.may_book_for(guest.user_id));
        assert!(!guest.may_book_for(other_guest.user_id));
        assert!(!owner.may_book_for(owner.user_id), "hoteliers never book");
        assert!(admin.may_book_for(guest.user_id));

        let (g, o) = (guest.user_id, owner.user_id);
        assert!(guest.may_see_booking(g, o));
        assert!(!other_guest.may_see_booking(g, o));
        assert!(owner.may_see_booking(g, o));
        assert!(!other_hotelier.may_see_booking(g, o));
        assert!(admin.may_see_booking(g, o));
    }

    #[test]
    fn principals_round_trip_through_the_header_form() {
        let p = Principal::DEVELOPMENT;
        assert_eq!(Principal::from_header(&p.to_header()), Some(p));
        assert_eq!(Principal::from_header("root:1"), None);
    }
}
