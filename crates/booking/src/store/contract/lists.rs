//! Lists: filters by guest, hotel, status and dates, ordered and paged by `(check_in, id)`.

use std::sync::Arc;

use innkeeper_kernel::{HotelId, StayDates, UserId};
use innkeeper_platform::db::Database;
use time::Duration;

use super::append_of;
use crate::api::{Booking, BookingStatus};
use crate::domain::booking::{self, Decided};
use crate::domain::events::BookingEvent;
use crate::fixtures::{CHECK_IN, T0, new_booking, payment};
use crate::store::{BookingStore, ListFilter};

async fn stored(
    store: &Arc<dyn BookingStore>,
    guest: UserId,
    hotel: HotelId,
    from: i64,
    to: i64,
) -> Decided {
    let mut decided = new_booking();
    let stay = StayDates::from_stored(
        CHECK_IN + Duration::days(from),
        CHECK_IN + Duration::days(to),
    )
    .expect("stay");
    decided.booking.stay = stay;
    decided.booking.guest_id = guest;
    decided.booking.hotel_id = hotel;
    if let BookingEvent::Created(c) = &mut decided.event.event {
        c.stay = stay;
        c.guest_id = guest;
        c.hotel_id = hotel;
    }
    store.append(&append_of(&decided)).await.expect("append");
    decided
}

fn ids(bookings: &[Booking]) -> Vec<crate::api::BookingId> {
    bookings.iter().map(|b| b.id).collect()
}

pub(crate) async fn lists_filter_and_page_by_check_in(
    store: Arc<dyn BookingStore>,
    _db: &Database,
) {
    let (ana, bea) = (UserId::new(), UserId::new());
    let (hotel, elsewhere) = (HotelId::new(), HotelId::new());
    let late = stored(&store, ana, hotel, 10, 12).await;
    let early = stored(&store, ana, hotel, 0, 2).await;
    let middle = stored(&store, ana, hotel, 5, 7).await;
    let beas = stored(&store, bea, hotel, 5, 6).await;
    let other_hotel = stored(&store, bea, elsewhere, 5, 6).await;
    let cancelled =
        booking::cancel(&middle.booking, None, T0.date(), payment(), T0).expect("cancel");
    store.append(&append_of(&cancelled)).await.expect("append");

    let list = |filter: ListFilter| {
        let store = store.clone();
        async move { store.list(&filter).await.expect("list") }
    };
    let anas = list(ListFilter {
        guest_id: Some(ana),
        limit: 10,
        ..ListFilter::default()
    })
    .await;
    assert_eq!(
        ids(&anas),
        vec![early.booking.id, middle.booking.id, late.booking.id]
    );
    assert_eq!(anas[1], cancelled.booking, "the projection as it is now");

    let at_hotel = list(ListFilter {
        hotel_id: Some(hotel),
        limit: 10,
        ..ListFilter::default()
    })
    .await;
    assert_eq!(at_hotel.len(), 4);
    assert!(!ids(&at_hotel).contains(&other_hotel.booking.id));

    let only_cancelled = list(ListFilter {
        hotel_id: Some(hotel),
        status: Some(BookingStatus::Cancelled),
        limit: 10,
        ..ListFilter::default()
    })
    .await;
    assert_eq!(ids(&only_cancelled), vec![middle.booking.id]);

    // Stays overlapping [CHECK_IN + 4, CHECK_IN + 6).
    let overlapping = list(ListFilter {
        hotel_id: Some(hotel),
        from: Some(CHECK_IN + Duration::days(4)),
        to: Some(CHECK_IN + Duration::days(6)),
        limit: 10,
        ..ListFilter::default()
    })
    .await;
    let mut expected = vec![middle.booking.id, beas.booking.id];
    expected.sort();
    assert_eq!(ids(&overlapping), expected, "same check-in: by id");

    // Pages of two, by cursor.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = list(ListFilter {
            hotel_id: Some(hotel),
            after,
            limit: 2,
            ..ListFilter::default()
        })
        .await;
        seen.extend(ids(&page));
        match page.last() {
            Some(last) if page.len() == 2 => after = Some((last.stay.check_in(), last.id)),
            _ => break,
        }
    }
    assert_eq!(seen, ids(&at_hotel));
}
