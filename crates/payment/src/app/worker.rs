//! The worker: sends what the service owes the provider and could not send at once (refunds
//! and cancellations recorded by webhooks, consumers or a provider that was down), with
//! backoff per task; sweeps orphaned payments; and forgets webhook receipts past their
//! retention.
//!
//! **Orphans.** Booking creation (and a change that moves what is owed) opens the payment
//! before it records the booking; if recording fails, nobody has the payment's link but it is
//! payable. The two services share no database, so the payment service learns that a booking
//! (or change) was recorded from its event: `created` / `modified` name their payment, which
//! adopts it (`consumers`). A payment still not adopted `orphan_intent_after` after it was
//! opened, and still payable, is cancelled here (and at the provider by the round's
//! cancellations); money that arrives for it all the same is late and refunded in full.
//!
//! Several replicas may run it: every provider call carries an idempotency key derived from
//! the task, and the answer is recorded under the row's lock only if the task is still open,
//! so a task done twice has one effect.

use std::sync::Arc;
use std::time::{Duration, Instant};

use innkeeper_kernel::{ErrorCode, Result};
use tokio_util::sync::CancellationToken;

use super::{PaymentService, cancel_key, is_transient};
use crate::api::{PaymentId, PaymentStatus};
use crate::store::{self, CancelState, StoredIntent};

/// Tasks taken per round.
const BATCH: u32 = 32;

/// How often webhook receipts are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Runs rounds until `shutdown`.
pub(crate) async fn run(
    service: Arc<PaymentService>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut last_prune: Option<Instant> = None;
    loop {
        let worked = match round(&service).await {
            Ok(n) => n,
            Err(err) => {
                tracing::warn!(error = %err, "payment worker round failed; retrying");
                0
            }
        };
        if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(Instant::now());
            let before = service.clock().now() - service.settings().webhook_receipt_retention;
            if let Err(err) = service.store().prune_receipts(before).await {
                tracing::warn!(error = %err, "pruning webhook receipts failed");
            }
        }
        if worked >= BATCH {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            continue;
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = service.work_queued.notified() => {}
            () = tokio::time::sleep(service.settings().worker_poll_interval) => {}
        }
    }
}

/// One round: due refunds, orphans, then due cancellations. Returns how many tasks it tried.
pub(crate) async fn round(service: &PaymentService) -> Result<u32> {
    let now = service.clock().now();
    let mut tried = 0;
    tried += sweep_orphans(service, now - service.settings().orphan_intent_after).await?;
    for refund in service.store().due_refunds(now, BATCH).await? {
        tried += 1;
        if let Err(err) = service.send_refund(refund.refund.id).await {
            tracing::warn!(refund_id = %refund.refund.id, error = %err, "refund attempt failed");
        }
    }
    for intent in service.store().due_cancels(now, BATCH).await? {
        tried += 1;
        if let Err(err) = cancel_at_provider(service, intent).await {
            tracing::warn!(error = %err, "cancellation attempt failed");
        }
    }
    Ok(tried)
}

/// Gives up the payments no booking event named that were opened before `opened_before` (a
/// batch of them); returns how many it looked at.
pub(crate) async fn sweep_orphans(
    service: &PaymentService,
    opened_before: time::OffsetDateTime,
) -> Result<u32> {
    let mut tried = 0;
    for orphan in service.store().orphans(opened_before, BATCH).await? {
        tried += 1;
        if let Err(err) = sweep_orphan(service, orphan.intent.id).await {
            tracing::warn!(payment_id = %orphan.intent.id, error = %err, "sweeping an orphan failed");
        }
    }
    Ok(tried)
}

/// Gives up an orphaned payment (if it is one still: unadopted and payable, under its lock):
/// `canceled`, to be cancelled at the provider.
async fn sweep_orphan(service: &PaymentService, id: PaymentId) -> Result<()> {
    let now = service.clock().now();
    let mut tx = service.store().begin().await?;
    let result = async {
        let Some(current) = store::intent_in(&mut tx, id).await? else {
            return Ok(());
        };
        if current.adopted_at.is_some() || !current.is_open() {
            return Ok(());
        }
        let mut next = current.clone();
        next.intent.status = PaymentStatus::Canceled;
        next.cancel = CancelState::Pending;
        next.cancel_next_at = now;
        next.intent.version += 1;
        next.intent.updated_at = now;
        store::update_intent(&mut tx, &next, current.intent.version).await?;
        tracing::warn!(payment_id = %id, booking_id = %current.intent.booking_id,
            "no booking event named this payment in time: cancelled as an orphan");
        metrics::counter!("innkeeper_payment_orphans_cancelled_total").increment(1);
        Ok(())
    }
    .await;
    store::finish(tx, result).await
}

/// Cancels a payment's intent at the provider and records that it is done (or when to try
/// again). An intent the provider will not cancel (paid or settling meanwhile) is done too:
/// its success arrives by webhook and is refunded then.
async fn cancel_at_provider(service: &PaymentService, intent: StoredIntent) -> Result<()> {
    let id = intent.intent.id;
    let sent = match &intent.intent.provider_intent_id {
        // The provider never confirmed an intent: nobody has its checkout link.
        None => Ok(()),
        Some(provider_id) => service
            .provider()
            .cancel_intent(&cancel_key(id), provider_id)
            .await
            .map(drop),
    };
    let now = service.clock().now();
    let mut tx = service.store().begin().await?;
    let result = async {
        let Some(current) = store::intent_in(&mut tx, id).await? else {
            return Ok(());
        };
        if current.cancel != CancelState::Pending {
            return Ok(());
        }
        let mut next = current.clone();
        match sent {
            Ok(()) => next.cancel = CancelState::Done,
            Err(err) if matches!(err.code, ErrorCode::InvalidState | ErrorCode::NotFound) => {
                tracing::info!(payment_id = %id, error = %err, "nothing to cancel at the provider");
                next.cancel = CancelState::Done;
            }
            Err(err) if is_transient(&err) => {
                next.cancel_attempts += 1;
                next.cancel_next_at = now + service.task_backoff(next.cancel_attempts);
            }
            Err(err) => {
                tracing::error!(payment_id = %id, error = %err, "the provider refused a cancellation");
                next.cancel = CancelState::Done;
            }
        }
        next.intent.version += 1;
        next.intent.updated_at = now;
        store::update_intent(&mut tx, &next, current.intent.version).await
    }
    .await;
    store::finish(tx, result).await
}
