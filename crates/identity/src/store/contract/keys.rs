//! Signing keys: the first key, rotation, retirement and pruning.

use std::sync::Arc;

use time::Duration;
use tokio::sync::Barrier;

use super::T0;
use crate::store::{IdentityStore, SigningKey};

fn key(at: time::OffsetDateTime) -> SigningKey {
    SigningKey::generate(at).expect("key")
}

pub(crate) async fn signing_keys_activate_retire_and_prune(store: Arc<dyn IdentityStore>) {
    assert!(store.signing_keys().await.expect("keys").is_empty());
    let first = key(T0);
    assert!(store.ensure_signing_key(&first).await.expect("ensure"));
    assert!(!store.ensure_signing_key(&key(T0)).await.expect("ensure"));
    assert_eq!(
        store.signing_keys().await.expect("keys"),
        vec![first.clone()]
    );

    let t1 = T0 + Duration::hours(1);
    let second = key(t1);
    store
        .activate_signing_key(&second, t1)
        .await
        .expect("rotate");
    let t2 = T0 + Duration::hours(2);
    let third = key(t2);
    store
        .activate_signing_key(&third, t2)
        .await
        .expect("rotate");

    let keys = store.signing_keys().await.expect("keys");
    let retired = |k: &SigningKey, at| SigningKey {
        retired_at: Some(at),
        ..k.clone()
    };
    assert_eq!(
        keys,
        vec![third.clone(), retired(&second, t2), retired(&first, t1)],
        "newest first; each retired when the next took over"
    );

    assert_eq!(
        store
            .prune_signing_keys(t1 - Duration::seconds(1))
            .await
            .expect("prune"),
        0
    );
    assert_eq!(store.prune_signing_keys(t1).await.expect("prune"), 1);
    assert_eq!(
        store
            .prune_signing_keys(T0 + Duration::days(1))
            .await
            .expect("prune"),
        1,
        "the active key is never pruned"
    );
    assert_eq!(store.signing_keys().await.expect("keys"), vec![third]);
}

pub(crate) async fn concurrent_starts_create_one_signing_key(store: Arc<dyn IdentityStore>) {
    let start = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, start) = (Arc::clone(&store), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                store.ensure_signing_key(&key(T0)).await.expect("ensure")
            })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        stored += u32::from(task.await.expect("task"));
    }
    assert_eq!(stored, 1);
    assert_eq!(store.signing_keys().await.expect("keys").len(), 1);
}
