//! Contract: concurrent holds never oversell.

use std::sync::Arc;

use innkeeper_kernel::{ErrorCode, Result};
use time::Date;
use tokio::sync::Barrier;

use super::{counters, day, new_hold, seed};
use crate::api::{Hold, RoomType};
use crate::store::CatalogStore;

const CONTENDERS: usize = 64;

/// Starts one task per stay, all released at once; returns each stay with its outcome.
async fn contend(
    store: &Arc<dyn CatalogStore>,
    room_type: &RoomType,
    stays: Vec<(Date, Date)>,
) -> Vec<((Date, Date), Result<Hold>)> {
    let start = Arc::new(Barrier::new(stays.len()));
    let tasks: Vec<_> = stays
        .into_iter()
        .map(|(check_in, check_out)| {
            let (store, start, request) = (
                Arc::clone(store),
                Arc::clone(&start),
                new_hold(room_type, check_in, check_out, 1),
            );
            tokio::spawn(async move {
                start.wait().await;
                ((check_in, check_out), store.place_hold(&request).await)
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.expect("task panicked"));
    }
    outcomes
}

pub(crate) async fn the_last_room_goes_to_exactly_one_of_64(store: Arc<dyn CatalogStore>) {
    let (_, rt) = seed(&store, 1).await;
    let rounds = 20;
    for round in 0..rounds {
        // Fresh nights each round, with a gap night that nobody asks for.
        let (check_in, check_out) = (day(100 + 4 * round), day(103 + 4 * round));
        let outcomes = contend(&store, &rt, vec![(check_in, check_out); CONTENDERS]).await;
        let won = outcomes.iter().filter(|(_, r)| r.is_ok()).count();
        let sold_out = outcomes
            .iter()
            .filter(|(_, r)| r.as_ref().is_err_and(|e| e.code == ErrorCode::SoldOut))
            .count();
        let other: Vec<_> = outcomes
            .iter()
            .filter_map(|(_, r)| r.as_ref().err())
            .filter(|e| e.code != ErrorCode::SoldOut)
            .collect();
        assert!(
            other.is_empty(),
            "round {round}: unexpected errors {other:?}"
        );
        assert_eq!((won, sold_out), (1, CONTENDERS - 1), "round {round}");
    }
    let all = counters(&store, &rt, day(100), day(100 + 4 * rounds)).await;
    for (i, night) in all.iter().enumerate() {
        let expected = if i % 4 == 3 { None } else { Some((1, 1, 0)) };
        assert_eq!(*night, expected, "night {}", day(100 + i as i64));
    }
}

pub(crate) async fn overlapping_stays_never_oversell(store: Arc<dyn CatalogStore>) {
    let (_, rt) = seed(&store, 2).await;
    for round in 0..5 {
        let base = 300 + 10 * round;
        // Stays of 3 nights starting on 5 consecutive days: each overlaps its neighbours.
        let stays: Vec<_> = (0..CONTENDERS as i64)
            .map(|i| (day(base + i % 5), day(base + i % 5 + 3)))
            .collect();
        let outcomes = contend(&store, &rt, stays).await;
        let other: Vec<_> = outcomes
            .iter()
            .filter_map(|(_, r)| r.as_ref().err())
            .filter(|e| e.code != ErrorCode::SoldOut)
            .collect();
        assert!(
            other.is_empty(),
            "round {round}: unexpected errors {other:?}"
        );
        let won: Vec<_> = outcomes
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(stay, _)| *stay)
            .collect();
        assert!(
            won.len() >= 2,
            "round {round}: two rooms, at least two stays fit: {won:?}"
        );

        let nights = counters(&store, &rt, day(base), day(base + 7)).await;
        for (i, counter) in nights.iter().enumerate() {
            let night = day(base + i as i64);
            let covering = won
                .iter()
                .filter(|(check_in, check_out)| *check_in <= night && night < *check_out)
                .count() as u32;
            let (total, held, sold) = counter.unwrap_or((2, 0, 0));
            assert_eq!(
                (total, held, sold),
                (2, covering, 0),
                "round {round}, night {night}: held counts the winners"
            );
            assert!(
                held + sold <= total,
                "round {round}, night {night}: oversold"
            );
        }
    }
}
