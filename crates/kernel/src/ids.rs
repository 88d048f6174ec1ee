//! Typed ids: a hotel id cannot be passed where a room id is expected.

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A new, time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }

            /// Parses a UUID string, naming the field on failure.
            pub fn parse_field(field: impl Into<String>, s: &str) -> crate::Result<Self> {
                uuid::Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| crate::Error::invalid_field(field, concat!("must be a ", $what, " id (UUID)")))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(id: uuid::Uuid) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(
    /// A hotel.
    HotelId, "hotel"
);
id_type!(
    /// A room type of a hotel (what guests book).
    RoomTypeId, "room type"
);
id_type!(
    /// A physical room (what the front desk assigns).
    RoomId, "room"
);
id_type!(
    /// An inventory hold; the booking saga uses the booking id.
    HoldId, "hold"
);
id_type!(
    /// A user account.
    UserId, "user"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_display_as_uuids() {
        let id = HotelId::new();
        let parsed: HotelId = id.to_string().parse().expect("parses");
        assert_eq!(parsed, id);
        let err = RoomId::parse_field("room_id", "17").expect_err("not a uuid");
        assert_eq!(err.errors[0].field, "room_id");
    }
}
