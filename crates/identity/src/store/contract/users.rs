//! Accounts: round trip, the unique email, versioned profile updates.

use std::sync::Arc;

use innkeeper_kernel::{ErrorCode, Role, UserId};
use tokio::sync::Barrier;

use super::{T0, stored_user, user};
use crate::api::NotificationPreferences;
use crate::store::IdentityStore;

pub(crate) async fn users_round_trip_and_emails_are_unique(store: Arc<dyn IdentityStore>) {
    let ana = user("ana@example.com", Role::Hotelier);
    store.insert_user(&ana).await.expect("insert");
    assert_eq!(
        store.get_user(ana.user.id).await.expect("get"),
        Some(ana.clone())
    );
    assert_eq!(
        store
            .find_user_by_email("ana@example.com")
            .await
            .expect("find"),
        Some(ana.clone())
    );
    assert_eq!(store.get_user(UserId::new()).await.expect("get"), None);
    assert_eq!(
        store
            .find_user_by_email("nobody@example.com")
            .await
            .expect("find"),
        None
    );

    let twin = user("ana@example.com", Role::Guest);
    let err = store.insert_user(&twin).await.expect_err("email taken");
    assert_eq!(err.code, ErrorCode::Conflict);
    assert_eq!(err.message, "an account with this email already exists");
    assert_eq!(err.errors[0].field, "email");
    assert_eq!(store.get_user(twin.user.id).await.expect("get"), None);

    let mut same_id = user("other@example.com", Role::Guest);
    same_id.user.id = ana.user.id;
    let err = store.insert_user(&same_id).await.expect_err("id taken");
    assert_eq!(err.code, ErrorCode::Conflict);
}

pub(crate) async fn concurrent_registrations_of_one_email_have_one_winner(
    store: Arc<dyn IdentityStore>,
) {
    let start = Arc::new(Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, start) = (Arc::clone(&store), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                store
                    .insert_user(&user("race@example.com", Role::Guest))
                    .await
            })
        })
        .collect();
    let mut codes = Vec::new();
    for task in tasks {
        codes.push(task.await.expect("task").err().map(|e| e.code));
    }
    assert_eq!(codes.iter().filter(|c| c.is_none()).count(), 1, "{codes:?}");
    assert_eq!(
        codes
            .iter()
            .filter(|c| **c == Some(ErrorCode::Conflict))
            .count(),
        15,
        "{codes:?}"
    );
}

pub(crate) async fn profile_updates_check_the_version(store: Arc<dyn IdentityStore>) {
    let mut ana = stored_user(&store, "ana@example.com").await;
    ana.name = "Ana Maria Silva".to_owned();
    ana.phone = Some("+351912345678".to_owned());
    ana.telegram_chat_id = Some("-100123".to_owned());
    ana.notifications = NotificationPreferences {
        email: false,
        sms: true,
        telegram: true,
        in_app: false,
    };
    ana.updated_at = T0 + time::Duration::minutes(5);
    // Fields that are not the profile's are not written.
    let mut attempt = ana.clone();
    attempt.email = "mallory@example.com".to_owned();
    attempt.role = Role::Admin;

    let updated = store.update_user(&attempt, 1).await.expect("updated");
    assert_eq!(
        updated,
        crate::api::User {
            version: 2,
            ..ana.clone()
        }
    );
    assert_eq!(
        store
            .get_user(ana.id)
            .await
            .expect("get")
            .expect("exists")
            .user,
        updated
    );

    let err = store.update_user(&ana, 1).await.expect_err("stale");
    assert_eq!(err.code, ErrorCode::VersionMismatch);
    assert!(err.message.contains("is 2"), "{}", err.message);

    let mut ghost = ana.clone();
    ghost.id = UserId::new();
    let err = store.update_user(&ghost, 1).await.expect_err("unknown");
    assert_eq!(err.code, ErrorCode::NotFound);
}
