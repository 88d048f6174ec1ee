//! Contract: hotels.

use std::sync::Arc;

use innkeeper_kernel::{ErrorCode, GeoPoint, HotelId};
use time::Duration;

use super::{T0, hotel};
use crate::api::Hotel;
use crate::store::{BoundingBox, CatalogStore, HotelFilter};

pub(crate) async fn hotels_round_trip_and_updates_check_the_version(store: Arc<dyn CatalogStore>) {
    let stored = hotel("Casa Azul", "Lisbon", 38.7223, -9.1393);
    store.insert_hotel(&stored).await.expect("insert");
    assert_eq!(
        store.get_hotel(stored.id).await.expect("get"),
        Some(stored.clone())
    );
    assert_eq!(
        store.get_hotel(HotelId::new()).await.expect("get unknown"),
        None
    );
    let duplicate = store
        .insert_hotel(&stored)
        .await
        .expect_err("same id twice");
    assert_eq!(duplicate.code, ErrorCode::Conflict);

    let mut changed = stored.clone();
    changed.name = "Casa Azul & Spa".to_owned();
    changed.city = "Porto".to_owned();
    changed.location = GeoPoint {
        lat: 41.1579,
        lon: -8.6291,
    };
    changed.stars = None;
    changed.updated_at = T0 + Duration::hours(1);
    let updated = store
        .update_hotel(&changed, 1)
        .await
        .expect("update at version 1");
    assert_eq!(updated.version, 2);
    assert_eq!(updated.updated_at, T0 + Duration::hours(1));
    assert_eq!(updated.created_at, T0);
    assert_eq!(
        store.get_hotel(stored.id).await.expect("get"),
        Some(updated.clone())
    );

    let stale = store
        .update_hotel(&changed, 1)
        .await
        .expect_err("stale version");
    assert_eq!(stale.code, ErrorCode::VersionMismatch);
    assert!(
        stale.message.contains('2'),
        "names the current version: {}",
        stale.message
    );
    assert_eq!(
        store
            .get_hotel(stored.id)
            .await
            .expect("get")
            .map(|h| h.version),
        Some(2)
    );

    let mut unknown = changed.clone();
    unknown.id = HotelId::new();
    assert_eq!(
        store
            .update_hotel(&unknown, 1)
            .await
            .expect_err("unknown")
            .code,
        ErrorCode::NotFound
    );
}

pub(crate) async fn hotel_list_filters_by_city_box_text_and_cursor(store: Arc<dyn CatalogStore>) {
    let mut azul = hotel("Casa Azul", "Lisbon", 38.7223, -9.1393);
    azul.description = "Tiles and a rooftop in Alfama".to_owned();
    let sol = hotel("Hotel Sol", " LISBON ", 38.7100, -9.1400);
    let ribeira = hotel("Ribeira Inn", "Porto", 41.1400, -8.6110);
    let faro = hotel("Faro Mar", "Faro", 37.0194, -7.9304);
    for h in [&azul, &sol, &ribeira, &faro] {
        store.insert_hotel(h).await.expect("insert");
    }
    let ids = |hotels: Vec<Hotel>| hotels.into_iter().map(|h| h.id).collect::<Vec<_>>();
    let sorted = |mut v: Vec<HotelId>| {
        v.sort();
        v
    };
    let list = |filter: HotelFilter| {
        let store = Arc::clone(&store);
        async move { store.list_hotels(&filter).await.expect("list") }
    };

    let all = ids(list(HotelFilter {
        limit: 10,
        ..HotelFilter::default()
    })
    .await);
    assert_eq!(
        all,
        sorted(vec![azul.id, sol.id, ribeira.id, faro.id]),
        "every hotel, ordered by id"
    );

    let lisbon = ids(list(HotelFilter {
        city: Some("lisbon".into()),
        limit: 10,
        ..HotelFilter::default()
    })
    .await);
    assert_eq!(
        lisbon,
        sorted(vec![azul.id, sol.id]),
        "city is trimmed and case-insensitive"
    );
    let nowhere = list(HotelFilter {
        city: Some("Lisb".into()),
        limit: 10,
        ..HotelFilter::default()
    })
    .await;
    assert!(nowhere.is_empty(), "city is an exact match, not a prefix");

    let around_porto = BoundingBox {
        min_lat: 41.0,
        max_lat: 41.3,
        min_lon: -8.8,
        max_lon: -8.4,
    };
    let porto = ids(list(HotelFilter {
        area: Some(around_porto),
        limit: 10,
        ..HotelFilter::default()
    })
    .await);
    assert_eq!(porto, vec![ribeira.id]);

    let alfama = ids(list(HotelFilter {
        text: Some("ALFAMA".into()),
        limit: 10,
        ..HotelFilter::default()
    })
    .await);
    assert_eq!(
        alfama,
        vec![azul.id],
        "text matches the description, case-insensitively"
    );
    let by_name = ids(list(HotelFilter {
        text: Some("sol".into()),
        limit: 10,
        ..HotelFilter::default()
    })
    .await);
    assert_eq!(by_name, vec![sol.id]);
    let by_city = ids(list(HotelFilter {
        text: Some("faro".into()),
        limit: 10,
        ..HotelFilter::default()
    })
    .await);
    assert_eq!(by_city, vec![faro.id]);

    let combined = HotelFilter {
        city: Some("Lisbon".into()),
        text: Some("rooftop".into()),
        limit: 10,
        ..HotelFilter::default()
    };
    assert_eq!(ids(list(combined).await), vec![azul.id]);

    let first_two = ids(list(HotelFilter {
        limit: 2,
        ..HotelFilter::default()
    })
    .await);
    assert_eq!(first_two, all[..2].to_vec(), "limit keeps the lowest ids");
    let rest = ids(list(HotelFilter {
        after: Some(first_two[1]),
        limit: 10,
        ..HotelFilter::default()
    })
    .await);
    assert_eq!(
        rest,
        all[2..].to_vec(),
        "the cursor resumes after the last id"
    );
}
