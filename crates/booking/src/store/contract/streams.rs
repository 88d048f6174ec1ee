//! The event stream: append, rebuild, the optimistic lock, the projection and the outbox.

use std::sync::Arc;

use innkeeper_platform::db::Database;
use time::Duration;

use super::{append_of, outbox_rows, stored_booking};
use crate::api::{Actor, BookingStatus};
use crate::domain::booking::{self, rebuild};
use crate::fixtures::{CHECK_IN, T0, eur, new_booking, payment};
use crate::store::{AppendError, BookingStore};

pub(crate) async fn appended_events_rebuild_the_projected_booking(
    store: Arc<dyn BookingStore>,
    _db: &Database,
) {
    let first = stored_booking(&store).await;
    let id = first.booking.id;
    assert_eq!(
        store.events(id).await.expect("events"),
        vec![first.event.clone()]
    );
    assert_eq!(
        store.get(id).await.expect("get"),
        Some(first.booking.clone())
    );
    assert_eq!(
        store
            .get_by_reference(&first.booking.reference)
            .await
            .expect("by reference"),
        Some(first.booking.clone())
    );
    let paid = booking::confirm(
        &first.booking,
        uuid::Uuid::now_v7(),
        eur(25_800),
        payment(),
        T0 + Duration::minutes(3),
    )
    .expect("confirm");
    store
        .append(&append_of(&paid))
        .await
        .expect("append confirmed");
    let cancelled = booking::cancel(
        &paid.booking,
        Some("flight cancelled".into()),
        CHECK_IN - Duration::days(1),
        Actor::user(&crate::fixtures::guest()),
        T0 + Duration::hours(5),
    )
    .expect("cancel");
    store
        .append(&append_of(&cancelled))
        .await
        .expect("append cancelled");

    let events = store.events(id).await.expect("events");
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].actor, cancelled.event.actor, "actor stored");
    assert_eq!(events[2].at, T0 + Duration::hours(5), "time stored");
    let rebuilt = rebuild(&events).expect("rebuilds").expect("exists");
    assert_eq!(rebuilt, cancelled.booking);
    assert_eq!(
        store.get(id).await.expect("get"),
        Some(rebuilt.clone()),
        "projection = rebuild"
    );
    assert_eq!(rebuilt.status, BookingStatus::Cancelled);
    assert_eq!(rebuilt.refund.map(|r| r.amount), Some(eur(12_900)));
    assert_eq!(
        store.get(crate::api::BookingId::new()).await.expect("get"),
        None
    );
    assert!(
        store
            .events(crate::api::BookingId::new())
            .await
            .expect("events")
            .is_empty()
    );
}

pub(crate) async fn a_stale_or_future_expected_version_is_a_mismatch(
    store: Arc<dyn BookingStore>,
    db: &Database,
) {
    let first = stored_booking(&store).await;
    let paid = booking::confirm(
        &first.booking,
        uuid::Uuid::nil(),
        eur(25_800),
        payment(),
        T0,
    )
    .expect("confirm");
    store
        .append(&append_of(&paid))
        .await
        .expect("confirm appended");
    // Decided on version 1, which is no longer current.
    let stale = booking::expire(&first.booking, payment(), T0).expect("expire");
    let err = store.append(&append_of(&stale)).await.expect_err("stale");
    assert_eq!(err, AppendError::VersionMismatch { current: 2 });
    let as_error = innkeeper_kernel::Error::from(err);
    assert_eq!(as_error.code, innkeeper_kernel::ErrorCode::VersionMismatch);
    assert_eq!(as_error.code.http_status(), 412);
    // A version from the future would leave a gap: refused too.
    let mut ahead = booking::check_out(
        &booking::check_in(
            &paid.booking,
            vec![innkeeper_kernel::RoomId::new()],
            CHECK_IN,
            payment(),
            T0,
        )
        .expect("check in")
        .booking,
        payment(),
        T0,
    )
    .expect("check out");
    assert_eq!(ahead.event.version, 4);
    let err = store.append(&append_of(&ahead)).await.expect_err("gap");
    assert_eq!(err, AppendError::VersionMismatch { current: 2 });
    // Created again under the same id.
    ahead = first.clone();
    let err = store.append(&append_of(&ahead)).await.expect_err("exists");
    assert_eq!(err, AppendError::VersionMismatch { current: 2 });
    assert_eq!(
        store.events(first.booking.id).await.expect("events").len(),
        2
    );
    assert_eq!(
        store.get(first.booking.id).await.expect("get"),
        Some(paid.booking)
    );
    assert_eq!(
        outbox_rows(db).await.len(),
        2,
        "refused appends publish nothing"
    );
}

pub(crate) async fn of_concurrent_appends_at_one_version_exactly_one_wins(
    store: Arc<dyn BookingStore>,
    _db: &Database,
) {
    for _round in 0..5 {
        let first = stored_booking(&store).await;
        let mut tasks = Vec::new();
        for i in 0..32 {
            let store = store.clone();
            let booking = first.booking.clone();
            tasks.push(tokio::spawn(async move {
                let at = T0 + Duration::seconds(i);
                let decided = match i % 3 {
                    0 => {
                        booking::confirm(&booking, uuid::Uuid::now_v7(), eur(25_800), payment(), at)
                    }
                    1 => booking::expire(&booking, payment(), at),
                    _ => booking::cancel(&booking, None, CHECK_IN, payment(), at),
                }
                .expect("decide");
                store
                    .append(&append_of(&decided))
                    .await
                    .map(|()| decided.booking)
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.expect("task") {
                Ok(booking) => winners.push(booking),
                Err(err) => assert_eq!(err, AppendError::VersionMismatch { current: 2 }),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one writer wins");
        let events = store.events(first.booking.id).await.expect("events");
        assert_eq!(events.len(), 2);
        let rebuilt = rebuild(&events).expect("rebuilds");
        assert_eq!(rebuilt.as_ref(), Some(&winners[0]));
        assert_eq!(
            store.get(first.booking.id).await.expect("get").as_ref(),
            Some(&winners[0])
        );
    }
}

pub(crate) async fn a_taken_reference_stores_nothing(store: Arc<dyn BookingStore>, db: &Database) {
    let first = stored_booking(&store).await;
    let mut second = new_booking();
    let reference = first.booking.reference.clone();
    second.booking.reference = reference.clone();
    if let crate::domain::events::BookingEvent::Created(created) = &mut second.event.event {
        created.reference = reference;
    }
    let err = store.append(&append_of(&second)).await.expect_err("taken");
    assert_eq!(err, AppendError::ReferenceTaken);
    assert!(
        store
            .events(second.booking.id)
            .await
            .expect("events")
            .is_empty()
    );
    assert_eq!(store.get(second.booking.id).await.expect("get"), None);
    assert_eq!(outbox_rows(db).await.len(), 1);
}

pub(crate) async fn outbox_rows_exist_exactly_for_committed_events(
    store: Arc<dyn BookingStore>,
    db: &Database,
) {
    let first = stored_booking(&store).await;
    let paid = booking::confirm(
        &first.booking,
        uuid::Uuid::nil(),
        eur(25_800),
        payment(),
        T0,
    )
    .expect("confirm");
    store.append(&append_of(&paid)).await.expect("append");
    let lost = booking::cancel(&first.booking, None, CHECK_IN, payment(), T0).expect("cancel");
    assert!(store.append(&append_of(&lost)).await.is_err());
    let subject = first.booking.id.to_string();
    let topic = "booking.events".to_owned();
    assert_eq!(
        outbox_rows(db).await,
        vec![
            (
                "innkeeper.booking.created.v1".to_owned(),
                subject.clone(),
                topic.clone()
            ),
            ("innkeeper.booking.confirmed.v1".to_owned(), subject, topic),
        ]
    );
    // The payload is the documented notice.
    const SQL: &str = "SELECT data FROM event_outbox ORDER BY seq";
    let data: Vec<Vec<u8>> = match db {
        Database::Sqlite(sqlite) => sqlx::query_scalar(SQL).fetch_all(&sqlite.reader).await,
        Database::Postgres(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await,
    }
    .expect("outbox data");
    let notice: crate::contracts::BookingNotice =
        serde_json::from_slice(&data[1]).expect("a booking notice");
    assert_eq!(notice.booking_id, first.booking.id.as_uuid());
    assert_eq!(notice.version, 2);
    assert_eq!(notice.status, BookingStatus::Confirmed);
    assert_eq!(notice.reference, first.booking.reference.as_str());
    assert_eq!(notice.actor, payment());
    assert_eq!(notice.data["amount"]["amount"], 25_800);
}
