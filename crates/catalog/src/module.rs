//! Start-up of the catalog in a process: open and migrate its store, build the service, run
//! the hold sweeper.

use std::sync::Arc;
use std::time::Duration;

use innkeeper_kernel::Clock;
use innkeeper_platform::db::Database;
use tokio_util::sync::CancellationToken;

use crate::app::{CatalogService, CatalogSettings};
use crate::store::CatalogStore;

/// The store for a database, migrated to the current schema.
pub async fn open_store(db: &Database) -> anyhow::Result<Arc<dyn CatalogStore>> {
    let store: Arc<dyn CatalogStore> = match db {
        Database::Sqlite(sqlite) => crate::store::sqlite_store(sqlite.clone()),
        Database::Postgres(pool) => crate::store::postgres_store(pool.clone()),
    };
    store.migrate().await?;
    Ok(store)
}

/// A running catalog: the service other modules call in-process.
#[derive(Debug, Clone)]
pub struct CatalogModule {
    /// The in-process implementation of the contract.
    pub service: Arc<CatalogService>,
}

impl CatalogModule {
    /// Opens the store on `db`, builds the service and loads its search index.
    pub async fn start(
        db: &Database,
        clock: Arc<dyn Clock>,
        settings: CatalogSettings,
    ) -> anyhow::Result<Self> {
        let module = Self::open(db, clock, settings).await?;
        let service = module.service;
        let started = std::time::Instant::now();
        let room_types = service.load_search_index().await?;
        tracing::info!(
            room_types,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "search index loaded"
        );
        Ok(Self { service })
    }

    /// Opens the store on `db` and builds the service without loading the search index: for
    /// one-shot commands (seeding, migrations) that write much and never search. Searches read
    /// the store, and writes skip the index refresh.
    pub async fn open(
        db: &Database,
        clock: Arc<dyn Clock>,
        settings: CatalogSettings,
    ) -> anyhow::Result<Self> {
        let store = open_store(db).await?;
        let service = Arc::new(CatalogService::new(store, clock, settings));
        Ok(Self { service })
    }

    /// Reloads the search index every `interval` until `shutdown`, so writes made by other
    /// catalog replicas show up in this one's searches (its own writes show at once).
    pub async fn run_index_reloader(
        self,
        interval: Duration,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            if let Err(err) = self.service.load_search_index().await {
                tracing::warn!(error = %err, "search index reload failed; keeping the previous one");
            }
        }
    }

    /// Expires overdue holds every `interval` until `shutdown`. Several replicas may run it:
    /// the store picks due holds without double-expiring.
    pub async fn run_hold_sweeper(
        self,
        interval: Duration,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            // Drain in batches so a backlog after downtime clears quickly.
            loop {
                match self
                    .service
                    .expire_due_holds(500)
                    .await
                    .map(|holds| holds.len())
                {
                    Ok(0) => break,
                    Ok(n) => {
                        metrics::counter!("innkeeper_catalog_holds_expired_total")
                            .increment(n as u64);
                        tracing::info!(expired = n, "expired overdue holds");
                        if n < 500 {
                            break;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "hold sweep failed; retrying next tick");
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use innkeeper_kernel::{
        Clock, Currency, GeoPoint, HoldId, ManualClock, Money, Principal, StayDates,
    };
    use innkeeper_platform::testing::TestDatabase;
    use time::macros::datetime;

    use super::*;
    use crate::api::{
        Bed, BedKind, CatalogApi, HotelAvailabilityQuery, NewHotel, NewRoom, NewRoomType,
        PlaceHold, RoomStatus,
    };

    /// An expired hold's room shows in searches right after the sweep, not at the next
    /// index reload.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expired_holds_show_in_searches_after_the_sweep() {
        let db = TestDatabase::sqlite().await;
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-22 10:00 UTC)));
        let module = CatalogModule::start(&db.db, clock.clone(), CatalogSettings::default())
            .await
            .expect("start");
        let catalog = &module.service;
        let owner = Principal::DEVELOPMENT;
        let hotel = catalog
            .create_hotel(
                &owner,
                NewHotel {
                    name: "Casa Azul".to_owned(),
                    description: "A small hotel".to_owned(),
                    address: "Rua Augusta 1".to_owned(),
                    city: "Lisbon".to_owned(),
                    country: "PT".to_owned(),
                    location: GeoPoint {
                        lat: 38.7223,
                        lon: -9.1393,
                    },
                    stars: Some(3),
                    currency: Currency::EUR,
                    timezone: "Europe/Lisbon".to_owned(),
                },
            )
            .await
            .expect("hotel");
        let room_type = catalog
            .create_room_type(
                &owner,
                hotel.id,
                NewRoomType {
                    name: "Double".to_owned(),
                    description: "One double bed".to_owned(),
                    capacity: 2,
                    beds: vec![Bed {
                        kind: BedKind::Double,
                        count: 1,
                    }],
                    amenities: vec![],
                    base_price: Money {
                        amount: 10_000,
                        currency: Currency::EUR,
                    },
                },
            )
            .await
            .expect("room type");
        catalog
            .create_room(
                &owner,
                hotel.id,
                NewRoom {
                    number: "101".to_owned(),
                    floor: 1,
                    room_type_id: room_type.id,
                    status: RoomStatus::Ready,
                },
            )
            .await
            .expect("room");
        module.service.load_search_index().await.expect("index");
        let today = clock.today();
        let stay = StayDates::from_stored(
            today + time::Duration::days(3),
            today + time::Duration::days(5),
        )
        .expect("stay");
        let offers = || {
            catalog.hotel_availability(HotelAvailabilityQuery {
                hotel_id: hotel.id,
                stay,
                guests: 2,
                rooms: 1,
            })
        };
        assert_eq!(offers().await.expect("search").len(), 1);

        catalog
            .place_hold(PlaceHold {
                hold_id: HoldId::new(),
                room_type_id: room_type.id,
                stay,
                quantity: 1,
                ttl_seconds: 60,
            })
            .await
            .expect("hold the only room");
        assert_eq!(offers().await.expect("search").len(), 0, "held");

        clock.advance(time::Duration::seconds(61));
        let expired = module.service.expire_due_holds(10).await.expect("sweep");
        assert_eq!(expired.len(), 1);
        assert_eq!(
            (
                expired[0].hotel_id,
                expired[0].room_type_id,
                expired[0].stay
            ),
            (hotel.id, room_type.id, stay)
        );
        assert_eq!(offers().await.expect("search").len(), 1, "given back");
    }
}
