//! A payment service that answers from memory: one intent per booking, a checkout link made
//! from its id, and a switch that makes it `unavailable` as a provider that is down does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use innkeeper_kernel::{Error, ErrorCode, Money, Principal, Result, Role};
use innkeeper_payment::api::{
    Intent, NewIntent, PaymentApi, PaymentId, PaymentStatus, RefundRecord, WebhookOutcome,
};

/// The intents asked for, by booking id and modification.
#[derive(Debug, Default)]
pub(super) struct FakePayments {
    pub down: AtomicBool,
    pub intents: Mutex<HashMap<(uuid::Uuid, Option<i64>), Intent>>,
    /// Every caller of `create_intent`, in order.
    pub callers: Mutex<Vec<Principal>>,
}

/// The id the fake gives the payment of a booking's change to version `modification`
/// (`None`: the booking's own): derived, so a test can name it before it exists.
pub(super) fn payment_id_of(booking_id: uuid::Uuid, modification: Option<i64>) -> PaymentId {
    PaymentId(uuid::Uuid::new_v5(
        &booking_id,
        &modification.unwrap_or(0).to_be_bytes(),
    ))
}

impl FakePayments {
    /// The intent of a booking, if one was created.
    pub(super) fn intent_of(&self, booking_id: uuid::Uuid) -> Option<Intent> {
        self.intent_for(booking_id, None)
    }

    /// The intent opened for a booking's change to version `modification`.
    pub(super) fn intent_for(
        &self,
        booking_id: uuid::Uuid,
        modification: Option<i64>,
    ) -> Option<Intent> {
        self.intents
            .lock()
            .expect("lock")
            .get(&(booking_id, modification))
            .cloned()
    }
}

#[async_trait::async_trait]
impl PaymentApi for FakePayments {
    async fn create_intent(&self, caller: &Principal, new: NewIntent) -> Result<Intent> {
        self.callers.lock().expect("lock").push(*caller);
        if caller.role != Role::Service {
            return Err(Error::new(ErrorCode::Forbidden, "services only"));
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::unavailable("the payment provider is unavailable"));
        }
        let mut intents = self.intents.lock().expect("lock");
        let key = (new.booking_id, new.modification);
        let intent = intents.entry(key).or_insert_with(|| {
            let id = payment_id_of(new.booking_id, new.modification);
            let now = time::OffsetDateTime::now_utc();
            Intent {
                id,
                booking_id: new.booking_id,
                purpose: new.purpose,
                modification: new.modification,
                guest_id: new.guest_id,
                reference: new.reference.clone(),
                status: PaymentStatus::RequiresPayment,
                amount: new.amount,
                amount_refunded: 0,
                checkout_url: Some(format!(
                    "http://provider.test/checkout/pi_{}",
                    id.0.simple()
                )),
                return_url: new.return_url.clone(),
                provider_intent_id: Some(format!("pi_{}", id.0.simple())),
                failure_code: None,
                failure_message: None,
                refunds: Vec::new(),
                version: 1,
                created_at: now,
                updated_at: now,
            }
        });
        Ok(intent.clone())
    }

    async fn get(&self, _caller: &Principal, id: PaymentId) -> Result<Intent> {
        let intents = self.intents.lock().expect("lock");
        intents
            .values()
            .find(|i| i.id == id)
            .cloned()
            .ok_or_else(|| Error::not_found("payment", id))
    }

    async fn get_for_booking(&self, _caller: &Principal, booking_id: uuid::Uuid) -> Result<Intent> {
        self.intent_of(booking_id)
            .ok_or_else(|| Error::not_found("payment", booking_id))
    }

    async fn refund(
        &self,
        _caller: &Principal,
        _booking_id: uuid::Uuid,
        _amount: Money,
        _reason: &str,
        _key: &str,
    ) -> Result<RefundRecord> {
        Err(Error::internal(
            "the booking service never refunds directly",
        ))
    }

    async fn handle_webhook(
        &self,
        _headers: &http::HeaderMap,
        _body: &[u8],
    ) -> Result<WebhookOutcome> {
        Err(Error::internal("no webhooks here"))
    }
}
