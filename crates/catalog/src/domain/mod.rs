//! Pure catalog rules: input validation, pricing a stay and building offers.
//!
//! Nothing here is async or does I/O; the use cases in `app` feed it what the store read.

mod offers;
mod validate;

pub use offers::{bounding_box, price_stay};
#[cfg(test)]
pub use offers::{fits, stay_total};
pub use validate::{
    apply_hotel_patch, apply_room_patch, apply_room_type_patch, check_night_range,
    validate_new_hotel, validate_new_room, validate_new_room_type,
};
