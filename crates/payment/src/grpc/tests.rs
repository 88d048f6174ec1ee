//! The adapter end to end: a real tonic server on a loopback port in front of the real
//! payment service (SQLite) and the real provider imitation (HTTP on its own loopback port),
//! called in-process and through the remote client: same values, same errors. The server
//! trusts a test issuer's tokens; the remote client makes the booking service's calls under
//! its service credential and a guest's reads inside the guest's credential scope, as the
//! gateway runs them. The provider's webhooks reach the service through the remote client's
//! `handle_webhook` (a route forwarding each delivery as received), so the saga's money
//! crosses the wire too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use innkeeper_kernel::{Currency, Error, ErrorCode, Money, Principal, Role, SystemClock, UserId};
use innkeeper_payment_provider::webhook_signature::{self, WebhookSecret};
use innkeeper_payment_provider::{PaymentProviderConfig, PaymentProviderModule};
use innkeeper_platform::auth::testing::{TEST_SERVICE_SECRET, TestIssuer};
use innkeeper_platform::auth::{ServiceCredential, credential};
use innkeeper_platform::grpc::{error_from_status, insert_bearer};
use innkeeper_platform::resilience::{BreakerState, ResilienceConfig};
use innkeeper_platform::testing::TestDatabase;
use innkeeper_proto::payment::v1 as pb;
use pb::payment_service_client::PaymentServiceClient;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint, Server};
use uuid::Uuid;

use super::{PaymentGrpcClient, service};
use crate::api::{
    NewIntent, PaymentApi, PaymentClient, PaymentId, PaymentStatus, RefundStatus, WebhookOutcome,
};
use crate::module::PaymentModule;
use crate::settings::PaymentConfig;

const API_KEY: &str = "sk_test_innkeeper_development_only";

struct Harness {
    local: PaymentClient,
    remote: PaymentClient,
    channel: Channel,
    issuer: TestIssuer,
    provider_url: String,
    http: reqwest::Client,
    shutdown: CancellationToken,
    _databases: (TestDatabase, TestDatabase),
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A loopback listener and its base URL.
async fn listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, url)
}

/// The provider imitation, the payment service over it, the payment service served over gRPC,
/// and a webhook route forwarding the provider's deliveries through the remote client.
async fn harness() -> Harness {
    let (provider_db, payment_db) = (TestDatabase::sqlite().await, TestDatabase::sqlite().await);
    let (provider_listener, provider_url) = listener().await;
    let (webhook_listener, webhook_base) = listener().await;
    let (grpc_listener, grpc_url) = listener().await;

    let mut config = PaymentProviderConfig::defaults().expect("defaults");
    config.public_url = provider_url.clone();
    config.webhook_url = format!("{webhook_base}/webhook");
    config.webhook_poll_interval_ms = 10;
    config.webhook_backoff_base_ms = 50;
    config.webhook_backoff_max_ms = 500;
    let provider = PaymentProviderModule::start(
        &provider_db.db,
        Arc::new(SystemClock),
        config.settings().expect("valid"),
    )
    .await
    .expect("provider");

    let mut config = PaymentConfig::defaults().expect("defaults");
    config.provider_url = provider_url.clone();
    config.worker_poll_interval_ms = 20;
    let payment = PaymentModule::start(
        &payment_db.db,
        Arc::new(SystemClock),
        config.settings().expect("valid"),
    )
    .await
    .expect("payment");
    let api: Arc<dyn PaymentApi> = payment.service.clone();

    let issuer = TestIssuer::new();
    let verifier = Arc::new(issuer.verifier(Arc::new(SystemClock)));
    let server = Server::builder()
        .add_service(service(Arc::clone(&api), verifier))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(grpc_listener));
    let channel = Endpoint::from_shared(grpc_url).expect("uri").connect_lazy();
    let credential =
        ServiceCredential::new("booking", TEST_SERVICE_SECRET, Arc::new(issuer.clone()))
            .expect("credential");
    let remote = PaymentClient::new(Arc::new(
        PaymentGrpcClient::new(
            channel.clone(),
            ResilienceConfig::within(Duration::from_secs(10)),
        )
        .with_service_credential(credential),
    ));

    let forward = axum::Router::new()
        .route(
            "/webhook",
            post(
                |State(remote): State<PaymentClient>, headers: http::HeaderMap, body: Bytes| async move {
                    match remote.handle_webhook(&headers, &body).await {
                        Ok(_) => http::StatusCode::NO_CONTENT,
                        Err(_) => http::StatusCode::SERVICE_UNAVAILABLE,
                    }
                },
            ),
        )
        .with_state(remote.clone());
    let shutdown = CancellationToken::new();
    // The servers live as long as the test's runtime.
    tokio::spawn(server);
    let provider_app = provider.router();
    tokio::spawn(async move { axum::serve(provider_listener, provider_app).await });
    tokio::spawn(async move { axum::serve(webhook_listener, forward).await });
    tokio::spawn(provider.clone().run_webhook_worker(shutdown.clone()));
    tokio::spawn(payment.clone().run_worker(shutdown.clone()));
    Harness {
        local: payment.client(),
        remote,
        channel,
        issuer,
        provider_url,
        http: reqwest::Client::new(),
        shutdown,
        _databases: (provider_db, payment_db),
    }
}

/// The booking service, as it opens payments.
fn booking_saga() -> Principal {
    Principal::service("booking")
}

fn guest() -> Principal {
    Principal {
        user_id: UserId::new(),
        role: Role::Guest,
    }
}

fn eur(amount: i64) -> Money {
    Money {
        amount,
        currency: Currency::EUR,
    }
}

fn new_intent(guest: &Principal, amount: i64) -> NewIntent {
    NewIntent {
        booking_id: Uuid::now_v7(),
        guest_id: guest.user_id,
        reference: "INK-7F3K9Q".into(),
        amount: eur(amount),
        return_url: "http://127.0.0.1:8080/bookings/done".into(),
        purpose: crate::api::IntentPurpose::Booking,
        modification: None,
    }
}

impl Harness {
    /// Runs `work` as the gateway runs a request of `who`: inside the scope of their token.
    async fn acting_as<F: std::future::Future>(&self, who: &Principal, work: F) -> F::Output {
        credential::scope(self.issuer.token(who), work).await
    }

    /// Pays (or tries to) at the provider, as the checkout page would.
    async fn pay(&self, provider_intent: &str, card: &str) -> u16 {
        self.http
            .post(format!(
                "{}/v1/payment_intents/{provider_intent}/confirm",
                self.provider_url
            ))
            .bearer_auth(API_KEY)
            .json(&json!({"payment_method": card}))
            .send()
            .await
            .expect("confirm")
            .status()
            .as_u16()
    }

    /// The booking's payment once it reached `status` (within 20 s), read in-process.
    async fn when(&self, booking_id: Uuid, status: PaymentStatus) -> crate::api::Intent {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let intent = self
                .local
                .get_for_booking(&booking_saga(), booking_id)
                .await
                .expect("payment");
            if intent.status == status {
                return intent;
            }
            assert!(
                Instant::now() < deadline,
                "payment of {booking_id} is {:?}, not {status:?}",
                intent.status
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A raw client of the served payment service.
    fn raw(&self) -> PaymentServiceClient<Channel> {
        PaymentServiceClient::new(self.channel.clone())
    }

    /// A raw request carrying `who`'s token.
    fn signed<T>(&self, who: &Principal, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        insert_bearer(request.metadata_mut(), &self.issuer.token(who)).expect("metadata");
        request
    }
}

#[tokio::test]
async fn every_operation_answers_the_same_value_remote_and_local() {
    let h = harness().await;
    let ana = guest();

    // The booking service opens the payment under its service credential; a repeat answers
    // the same intent, remotely and locally alike.
    let new = new_intent(&ana, 25_800);
    let opened = h
        .remote
        .create_intent(&booking_saga(), new.clone())
        .await
        .expect("remote intent");
    assert_eq!(opened.status, PaymentStatus::RequiresPayment);
    assert!(opened.checkout_url.is_some(), "{opened:?}");
    assert_eq!(
        h.remote.create_intent(&booking_saga(), new.clone()).await,
        h.local.create_intent(&booking_saga(), new.clone()).await
    );

    // Its guest reads it by id and by booking, through their own token.
    let local = h.local.get(&ana, opened.id).await.expect("local read");
    assert_eq!(local.id, opened.id);
    assert_eq!(
        h.acting_as(&ana, h.remote.get(&ana, opened.id)).await,
        Ok(local.clone())
    );
    assert_eq!(
        h.acting_as(&ana, h.remote.get_for_booking(&ana, new.booking_id))
            .await,
        Ok(local)
    );

    // Paid at the provider: its webhook crosses the wire (HandleWebhook) and the payment
    // succeeds.
    let provider_intent = opened.provider_intent_id.clone().expect("provider id");
    assert_eq!(h.pay(&provider_intent, "pm_card_visa").await, 200);
    h.when(new.booking_id, PaymentStatus::Succeeded).await;

    // A refund by the booking service, once per key: the repeat answers the same refund.
    let refund = h
        .remote
        .refund(
            &booking_saga(),
            new.booking_id,
            eur(5_000),
            "cancellation",
            "r-1",
        )
        .await
        .expect("remote refund");
    assert_eq!(refund.amount, eur(5_000));
    assert_eq!(refund.key, "r-1");
    assert_eq!(
        h.remote
            .refund(
                &booking_saga(),
                new.booking_id,
                eur(5_000),
                "cancellation",
                "r-1"
            )
            .await
            .map(|r| r.id),
        Ok(refund.id)
    );
    assert_eq!(
        h.local
            .refund(
                &booking_saga(),
                new.booking_id,
                eur(5_000),
                "cancellation",
                "r-1"
            )
            .await
            .map(|r| r.id),
        Ok(refund.id)
    );

    // The payment with its refunds, the same both ways, once the provider took the refund.
    let deadline = Instant::now() + Duration::from_secs(20);
    let settled = loop {
        let local = h.local.get(&ana, opened.id).await.expect("local read");
        if local
            .refunds
            .iter()
            .all(|r| r.status == RefundStatus::Succeeded)
        {
            break local;
        }
        assert!(Instant::now() < deadline, "refund not sent: {local:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(settled.refunds.len(), 1);
    assert_eq!(settled.amount_refunded, 5_000);
    assert_eq!(
        h.acting_as(&ana, h.remote.get(&ana, opened.id)).await,
        Ok(settled.clone())
    );
    assert_eq!(h.remote.get(&booking_saga(), opened.id).await, Ok(settled));
}

/// The error a call answers, in-process and through the remote client: the same error.
async fn same_error<T: std::fmt::Debug + PartialEq>(
    local: innkeeper_kernel::Result<T>,
    remote: innkeeper_kernel::Result<T>,
) -> Error {
    let err = local.expect_err("the local call fails");
    assert_eq!(remote, Err(err.clone()), "remote and local differ");
    err
}

#[tokio::test]
async fn errors_are_the_same_remote_and_local() {
    let h = harness().await;
    let ana = guest();
    let bea = guest();
    let new = new_intent(&ana, 12_900);
    let opened = h
        .remote
        .create_intent(&booking_saga(), new.clone())
        .await
        .expect("intent");

    // A guest may not open or refund payments (forbidden), through their own token.
    let err = same_error(
        h.local.create_intent(&ana, new_intent(&ana, 100)).await,
        h.acting_as(&ana, h.remote.create_intent(&ana, new_intent(&ana, 100)))
            .await,
    )
    .await;
    assert_eq!(err.code, ErrorCode::Forbidden);
    let err = same_error(
        h.local
            .refund(&ana, new.booking_id, eur(100), "mine", "k")
            .await,
        h.acting_as(
            &ana,
            h.remote.refund(&ana, new.booking_id, eur(100), "mine", "k"),
        )
        .await,
    )
    .await;
    assert_eq!(err.code, ErrorCode::Forbidden);

    // Another guest's payment is not found, by id and by booking; an unknown one too.
    let err = same_error(
        h.local.get(&bea, opened.id).await,
        h.acting_as(&bea, h.remote.get(&bea, opened.id)).await,
    )
    .await;
    assert_eq!(err.code, ErrorCode::NotFound);
    let err = same_error(
        h.local.get_for_booking(&bea, new.booking_id).await,
        h.acting_as(&bea, h.remote.get_for_booking(&bea, new.booking_id))
            .await,
    )
    .await;
    assert_eq!(err.code, ErrorCode::NotFound);
    let unknown = PaymentId::new();
    same_error(
        h.local.get(&booking_saga(), unknown).await,
        h.remote.get(&booking_saga(), unknown).await,
    )
    .await;

    // Another amount for the same booking conflicts; invalid input names its fields.
    let mut other = new.clone();
    other.amount = eur(1);
    let err = same_error(
        h.local.create_intent(&booking_saga(), other.clone()).await,
        h.remote.create_intent(&booking_saga(), other).await,
    )
    .await;
    assert_eq!(err.code, ErrorCode::Conflict);
    let mut invalid = new_intent(&ana, -5);
    invalid.return_url = "/relative".into();
    let err = same_error(
        h.local
            .create_intent(&booking_saga(), invalid.clone())
            .await,
        h.remote.create_intent(&booking_saga(), invalid).await,
    )
    .await;
    assert_eq!(err.code, ErrorCode::ValidationFailed);
    assert!(!err.errors.is_empty(), "{err:?}");
    let err = same_error(
        h.local
            .refund(&booking_saga(), new.booking_id, eur(100), "", "k")
            .await,
        h.remote
            .refund(&booking_saga(), new.booking_id, eur(100), "", "k")
            .await,
    )
    .await;
    assert_eq!(err.errors[0].field, "reason");
    let nobody = Uuid::now_v7();
    let err = same_error(
        h.local
            .refund(&booking_saga(), nobody, eur(100), "cancellation", "k")
            .await,
        h.remote
            .refund(&booking_saga(), nobody, eur(100), "cancellation", "k")
            .await,
    )
    .await;
    assert_eq!(err.code, ErrorCode::NotFound);

    // A webhook whose signature does not verify, or that is not signed at all.
    let body = br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{}}"#;
    let secret =
        WebhookSecret::parse("whsec_bm90LXRoZS1wcm92aWRlcnMtc2VjcmV0IQ==").expect("secret");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut forged = http::HeaderMap::new();
    forged.insert("webhook-id", "msg_forged".parse().expect("value"));
    forged.insert("webhook-timestamp", now.to_string().parse().expect("value"));
    forged.insert(
        "webhook-signature",
        webhook_signature::sign(std::slice::from_ref(&secret), "msg_forged", now, body)
            .parse()
            .expect("value"),
    );
    for headers in [forged, http::HeaderMap::new()] {
        let err = same_error(
            h.local.handle_webhook(&headers, body).await,
            h.remote.handle_webhook(&headers, body).await,
        )
        .await;
        assert_eq!(err.code, ErrorCode::Unauthenticated);
    }
}

#[tokio::test]
async fn callers_are_only_who_their_tokens_say() {
    let h = harness().await;
    let ana = guest();
    let opened = h
        .remote
        .create_intent(&booking_saga(), new_intent(&ana, 9_900))
        .await
        .expect("intent");

    // A person's call outside any credential scope goes out without a token.
    let err = h.remote.get(&ana, opened.id).await.expect_err("no token");
    assert_eq!(err.code, ErrorCode::Unauthenticated);
    // The `caller` argument is never believed: a guest's token reads as the guest, whoever
    // the caller claims to be.
    let err = h
        .acting_as(&guest(), h.remote.get(&ana, opened.id))
        .await
        .expect_err("another guest's token");
    assert_eq!(err.code, ErrorCode::NotFound);
    // A node without a service credential cannot act as a platform service.
    let bare = PaymentGrpcClient::new(
        h.channel.clone(),
        ResilienceConfig::within(Duration::from_secs(10)),
    );
    let err = bare
        .create_intent(&booking_saga(), new_intent(&ana, 100))
        .await
        .expect_err("no service credential");
    assert_eq!(err.code, ErrorCode::Unauthenticated);

    // The raw service: no token, a forged one, and a request that does not decode.
    let status = h
        .raw()
        .get_payment(pb::GetPaymentRequest {
            id: opened.id.to_string(),
        })
        .await
        .expect_err("anonymous");
    assert_eq!(error_from_status(&status).code, ErrorCode::Unauthenticated);
    let mut forged = tonic::Request::new(pb::GetPaymentRequest {
        id: opened.id.to_string(),
    });
    insert_bearer(
        forged.metadata_mut(),
        &TestIssuer::new().token(&booking_saga()),
    )
    .expect("metadata");
    let status = h.raw().get_payment(forged).await.expect_err("forged");
    assert_eq!(error_from_status(&status).code, ErrorCode::Unauthenticated);
    let status = h
        .raw()
        .get_payment(h.signed(&ana, pb::GetPaymentRequest { id: "nope".into() }))
        .await
        .expect_err("bad id");
    let err = error_from_status(&status);
    assert_eq!(err.code, ErrorCode::ValidationFailed);
    assert_eq!(err.errors[0].field, "id");
    let status = h
        .raw()
        .create_intent(h.signed(&booking_saga(), pb::CreateIntentRequest { intent: None }))
        .await
        .expect_err("no intent");
    assert_eq!(error_from_status(&status).errors[0].field, "intent");
    let status = h
        .raw()
        .refund(h.signed(
            &booking_saga(),
            pb::RefundRequest {
                booking_id: Uuid::now_v7().to_string(),
                amount: None,
                reason: "cancellation".into(),
                key: "k".into(),
            },
        ))
        .await
        .expect_err("no amount");
    assert_eq!(error_from_status(&status).errors[0].field, "amount");
}

#[tokio::test]
async fn a_payment_service_that_stays_down_opens_the_breaker() {
    let ana = guest();
    // Nothing listens there.
    let (closed, url) = listener().await;
    drop(closed);
    let credential =
        ServiceCredential::new("booking", TEST_SERVICE_SECRET, Arc::new(TestIssuer::new()))
            .expect("credential");
    let calls = innkeeper_platform::testing::breaker_opening_after(2, Duration::from_secs(2));
    let client = PaymentGrpcClient::connect(&url, calls)
        .await
        .expect("lazy")
        .with_service_credential(credential);

    // Opening a payment and reading one reach nobody: `unavailable`, then the breaker opens.
    let err = client
        .create_intent(&booking_saga(), new_intent(&ana, 100))
        .await
        .expect_err("down");
    assert_eq!(err, Error::unavailable("payment unavailable"));
    let err = client
        .get(&booking_saga(), PaymentId::new())
        .await
        .expect_err("down");
    assert_eq!(err, Error::unavailable("payment unavailable"));
    assert_eq!(client.breaker_state(), BreakerState::Open);
    // While open, calls fail at once without trying.
    let err = client
        .get(&booking_saga(), PaymentId::new())
        .await
        .expect_err("open");
    assert_eq!(err.code, ErrorCode::Unavailable);
    assert!(innkeeper_platform::resilience::is_rejected(&err), "{err:?}");
}

#[tokio::test]
async fn a_declined_card_fails_and_a_replayed_delivery_through_the_remote_client_is_a_duplicate() {
    let h = harness().await;
    let ana = guest();
    let new = new_intent(&ana, 7_000);
    let opened = h
        .remote
        .create_intent(&booking_saga(), new.clone())
        .await
        .expect("intent");
    let provider_intent = opened.provider_intent_id.expect("provider id");
    let status = h.pay(&provider_intent, "pm_card_chargeDeclined").await;
    assert!((400..500).contains(&status), "declined: {status}");
    let failed = h.when(new.booking_id, PaymentStatus::Failed).await;
    assert!(failed.failure_code.is_some(), "{failed:?}");
    // Read back remotely as its guest. Not compared whole: a later delivery about the same
    // payment (deliveries may come out of order) may have bumped its version meanwhile.
    let read = h
        .acting_as(&ana, h.remote.get(&ana, opened.id))
        .await
        .expect("the guest reads their payment");
    assert_eq!(
        (read.id, read.status, &read.failure_code, read.amount),
        (
            failed.id,
            failed.status,
            &failed.failure_code,
            failed.amount
        )
    );
    // A delivery the provider signed, replayed through the remote client, is a duplicate.
    let secret = WebhookSecret::parse(
        &PaymentProviderConfig::defaults()
            .expect("defaults")
            .webhook_secrets[0],
    )
    .expect("secret");
    let body = format!(
        r#"{{"id":"evt_test_{}","type":"payment_intent.created","data":{{"object":{{"id":"pi_unknown","object":"payment_intent"}}}}}}"#,
        Uuid::now_v7().simple()
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut headers = http::HeaderMap::new();
    headers.insert("webhook-id", "msg_replayed".parse().expect("value"));
    headers.insert("webhook-timestamp", now.to_string().parse().expect("value"));
    headers.insert(
        "webhook-signature",
        webhook_signature::sign(
            std::slice::from_ref(&secret),
            "msg_replayed",
            now,
            body.as_bytes(),
        )
        .parse()
        .expect("value"),
    );
    let first = h.remote.handle_webhook(&headers, body.as_bytes()).await;
    assert!(
        matches!(first, Ok(WebhookOutcome::Ignored | WebhookOutcome::Applied)),
        "{first:?}"
    );
    assert_eq!(
        h.remote.handle_webhook(&headers, body.as_bytes()).await,
        Ok(WebhookOutcome::Duplicate)
    );
}
