//! Refresh tokens: rotation, reuse detection, expiry, races, logout.

use std::sync::Arc;

use time::Duration;
use tokio::sync::Barrier;

use super::{T0, first_token, hash, stored_user};
use crate::store::{IdentityStore, Rotation};

fn later() -> time::OffsetDateTime {
    T0 + Duration::minutes(10)
}

fn expiry() -> time::OffsetDateTime {
    T0 + Duration::days(30)
}

pub(crate) async fn a_token_rotates_once_and_its_reuse_revokes_the_family(
    store: Arc<dyn IdentityStore>,
) {
    let ana = stored_user(&store, "ana@example.com").await;
    let first = first_token(&ana, 1);
    store.start_refresh_family(&first).await.expect("family");

    let rotated = store
        .rotate_refresh_token(&hash(1), &hash(2), later(), expiry())
        .await
        .expect("rotate");
    assert_eq!(
        rotated,
        Rotation::Rotated {
            user_id: ana.id,
            family_id: first.family_id
        }
    );
    // The successor rotates in turn.
    assert!(matches!(
        store
            .rotate_refresh_token(&hash(2), &hash(3), later(), expiry())
            .await
            .expect("rotate"),
        Rotation::Rotated { .. }
    ));

    // The spent first token again: theft assumed, the family ends.
    assert_eq!(
        store
            .rotate_refresh_token(&hash(1), &hash(4), later(), expiry())
            .await
            .expect("reuse"),
        Rotation::Reused {
            user_id: ana.id,
            family_id: first.family_id
        }
    );
    // Even the live successor is dead now, and the would-be successor of the reuse was never stored.
    for presented in [3, 4, 1] {
        assert_eq!(
            store
                .rotate_refresh_token(&hash(presented), &hash(10 + presented), later(), expiry())
                .await
                .expect("rejected"),
            Rotation::Rejected,
            "token {presented}"
        );
    }
}

pub(crate) async fn expired_and_unknown_tokens_are_rejected(store: Arc<dyn IdentityStore>) {
    let ana = stored_user(&store, "ana@example.com").await;
    store
        .start_refresh_family(&first_token(&ana, 1))
        .await
        .expect("family");
    assert_eq!(
        store
            .rotate_refresh_token(&hash(99), &hash(2), later(), expiry())
            .await
            .expect("unknown"),
        Rotation::Rejected
    );
    let after_expiry = T0 + Duration::days(1);
    assert_eq!(
        store
            .rotate_refresh_token(&hash(1), &hash(2), after_expiry, expiry())
            .await
            .expect("expired"),
        Rotation::Rejected
    );
    // An expired token is not spent by the attempt: it stays merely expired.
    assert_eq!(
        store
            .rotate_refresh_token(&hash(1), &hash(3), after_expiry, expiry())
            .await
            .expect("expired"),
        Rotation::Rejected
    );
}

pub(crate) async fn concurrent_uses_of_one_token_rotate_it_exactly_once(
    store: Arc<dyn IdentityStore>,
) {
    let ana = stored_user(&store, "ana@example.com").await;
    let first = first_token(&ana, 1);
    store.start_refresh_family(&first).await.expect("family");

    let racers = 16u32;
    let start = Arc::new(Barrier::new(racers as usize));
    let tasks: Vec<_> = (0..racers)
        .map(|i| {
            let (store, start) = (Arc::clone(&store), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                let outcome = store
                    .rotate_refresh_token(&hash(1), &hash(100 + i), later(), expiry())
                    .await
                    .expect("rotate");
                (i, outcome)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let (mut reused, mut rejected) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            (i, Rotation::Rotated { family_id, .. }) => {
                assert_eq!(family_id, first.family_id);
                winners.push(i);
            }
            (_, Rotation::Reused { family_id, .. }) => {
                assert_eq!(family_id, first.family_id);
                reused += 1;
            }
            // Racers after the first reuse find the family revoked already.
            (_, Rotation::Rejected) => rejected += 1,
        }
    }
    assert_eq!(winners.len(), 1, "exactly one racer rotates: {winners:?}");
    assert!(reused >= 1, "the first late racer detects the reuse");
    assert_eq!(reused + rejected, racers - 1);
    // The reuse revoked the family: the winner's successor is dead too.
    assert_eq!(
        store
            .rotate_refresh_token(&hash(100 + winners[0]), &hash(500), later(), expiry())
            .await
            .expect("rotate"),
        Rotation::Rejected
    );
}

pub(crate) async fn logout_revokes_one_family_or_all_of_a_user(store: Arc<dyn IdentityStore>) {
    let ana = stored_user(&store, "ana@example.com").await;
    let bob = stored_user(&store, "bob@example.com").await;
    for (user, n) in [(&ana, 1), (&ana, 2), (&ana, 3), (&bob, 4)] {
        store
            .start_refresh_family(&first_token(user, n))
            .await
            .expect("family");
    }

    // Bob cannot end Ana's session; Ana can, once.
    assert!(
        !store
            .revoke_family_of_token(&hash(1), bob.id, later())
            .await
            .expect("revoke")
    );
    assert!(
        store
            .revoke_family_of_token(&hash(1), ana.id, later())
            .await
            .expect("revoke")
    );
    assert!(
        !store
            .revoke_family_of_token(&hash(1), ana.id, later())
            .await
            .expect("revoke")
    );
    assert!(
        !store
            .revoke_family_of_token(&hash(99), ana.id, later())
            .await
            .expect("unknown")
    );
    assert_eq!(
        store
            .rotate_refresh_token(&hash(1), &hash(11), later(), expiry())
            .await
            .expect("rotate"),
        Rotation::Rejected
    );
    // Her other sessions live on until she logs out everywhere.
    assert!(matches!(
        store
            .rotate_refresh_token(&hash(2), &hash(12), later(), expiry())
            .await
            .expect("rotate"),
        Rotation::Rotated { .. }
    ));
    assert_eq!(
        store
            .revoke_user_families(ana.id, later())
            .await
            .expect("all"),
        2
    );
    for presented in [12, 3] {
        assert_eq!(
            store
                .rotate_refresh_token(&hash(presented), &hash(20 + presented), later(), expiry())
                .await
                .expect("rotate"),
            Rotation::Rejected
        );
    }
    // Bob is untouched.
    assert!(matches!(
        store
            .rotate_refresh_token(&hash(4), &hash(14), later(), expiry())
            .await
            .expect("rotate"),
        Rotation::Rotated { .. }
    ));
}

pub(crate) async fn expired_tokens_and_empty_families_are_pruned(store: Arc<dyn IdentityStore>) {
    let ana = stored_user(&store, "ana@example.com").await;
    // Families 1..=5 expire a day after T0; family 6 is rotated to a token lasting 30 days.
    for n in 1..=6 {
        store
            .start_refresh_family(&first_token(&ana, n))
            .await
            .expect("family");
    }
    assert!(matches!(
        store
            .rotate_refresh_token(&hash(6), &hash(60), later(), expiry())
            .await
            .expect("rotate"),
        Rotation::Rotated { .. }
    ));
    let day = T0 + Duration::days(1);
    assert_eq!(
        store
            .prune_refresh_tokens(day - Duration::seconds(1), 100)
            .await
            .expect("prune"),
        0
    );
    assert_eq!(store.prune_refresh_tokens(day, 4).await.expect("prune"), 4);
    assert_eq!(store.prune_refresh_tokens(day, 4).await.expect("prune"), 2);
    assert_eq!(store.prune_refresh_tokens(day, 4).await.expect("prune"), 0);
    // The live token of family 6 survived with its family, and still rotates.
    assert!(matches!(
        store
            .rotate_refresh_token(&hash(60), &hash(61), later(), expiry())
            .await
            .expect("rotate"),
        Rotation::Rotated { .. }
    ));
    // A pruned token is simply unknown.
    assert_eq!(
        store
            .rotate_refresh_token(&hash(1), &hash(11), later(), expiry())
            .await
            .expect("rotate"),
        Rotation::Rejected
    );
}
