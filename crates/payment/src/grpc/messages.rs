//! [`Wire`] for the payment service's values: ids, statuses, intents, refunds, and webhook
//! deliveries. The kernel's values (money, instants, user ids) and the field-path decoding are
//! shared by every adapter (`innkeeper_proto::wire`).

use innkeeper_kernel::{Error, Result};
use innkeeper_proto::payment::v1 as pb;
pub(crate) use innkeeper_proto::wire::{At, Wire, field, list, protos, required, unknown_value};
use uuid::Uuid;

use crate::api::{
    Intent, IntentPurpose, NewIntent, PaymentId, PaymentStatus, RefundRecord, RefundStatus,
    WebhookOutcome,
};

/// The wire form of a plain UUID (a booking's id, a refund's id).
pub(crate) fn uuid_to_proto(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// Decodes the UUID field `name`.
pub(crate) fn uuid_field(at: &At<'_>, name: &str, proto: &str) -> Result<Uuid> {
    Uuid::parse_str(proto).map_err(|_| Error::invalid_field(&at.field(name), "must be a UUID"))
}

impl Wire for PaymentId {
    type Proto = String;
    fn to_proto(&self) -> String {
        uuid_to_proto(self.0)
    }
    fn from_proto(proto: String, at: &At<'_>) -> Result<Self> {
        PaymentId::parse_field(&at.to_string(), &proto)
    }
}

impl Wire for IntentPurpose {
    type Proto = i32;
    fn to_proto(&self) -> i32 {
        let purpose = match self {
            IntentPurpose::Booking => pb::IntentPurpose::Booking,
            IntentPurpose::Balance => pb::IntentPurpose::Balance,
        };
        purpose.into()
    }
    fn from_proto(proto: i32, at: &At<'_>) -> Result<Self> {
        match pb::IntentPurpose::try_from(proto) {
            // Not said: the booking's own payment.
            Ok(pb::IntentPurpose::Unspecified | pb::IntentPurpose::Booking) => {
                Ok(IntentPurpose::Booking)
            }
            Ok(pb::IntentPurpose::Balance) => Ok(IntentPurpose::Balance),
            Err(_) => unknown_value(at, "INTENT_PURPOSE_BOOKING, INTENT_PURPOSE_BALANCE"),
        }
    }
}

impl Wire for PaymentStatus {
    type Proto = i32;
    fn to_proto(&self) -> i32 {
        let status = match self {
            PaymentStatus::Creating => pb::PaymentStatus::Creating,
            PaymentStatus::RequiresPayment => pb::PaymentStatus::RequiresPayment,
            PaymentStatus::Processing => pb::PaymentStatus::Processing,
            PaymentStatus::Succeeded => pb::PaymentStatus::Succeeded,
            PaymentStatus::Failed => pb::PaymentStatus::Failed,
            PaymentStatus::Canceled => pb::PaymentStatus::Canceled,
        };
        status.into()
    }
    fn from_proto(proto: i32, at: &At<'_>) -> Result<Self> {
        match pb::PaymentStatus::try_from(proto) {
            Ok(pb::PaymentStatus::Creating) => Ok(PaymentStatus::Creating),
            Ok(pb::PaymentStatus::RequiresPayment) => Ok(PaymentStatus::RequiresPayment),
            Ok(pb::PaymentStatus::Processing) => Ok(PaymentStatus::Processing),
            Ok(pb::PaymentStatus::Succeeded) => Ok(PaymentStatus::Succeeded),
            Ok(pb::PaymentStatus::Failed) => Ok(PaymentStatus::Failed),
            Ok(pb::PaymentStatus::Canceled) => Ok(PaymentStatus::Canceled),
            Ok(pb::PaymentStatus::Unspecified) | Err(_) => unknown_value(
                at,
                "PAYMENT_STATUS_CREATING, PAYMENT_STATUS_REQUIRES_PAYMENT, \
                 PAYMENT_STATUS_PROCESSING, PAYMENT_STATUS_SUCCEEDED, PAYMENT_STATUS_FAILED, \
                 PAYMENT_STATUS_CANCELED",
            ),
        }
    }
}

impl Wire for RefundStatus {
    type Proto = i32;
    fn to_proto(&self) -> i32 {
        let status = match self {
            RefundStatus::Pending => pb::RefundStatus::Pending,
            RefundStatus::Succeeded => pb::RefundStatus::Succeeded,
            RefundStatus::Failed => pb::RefundStatus::Failed,
        };
        status.into()
    }
    fn from_proto(proto: i32, at: &At<'_>) -> Result<Self> {
        match pb::RefundStatus::try_from(proto) {
            Ok(pb::RefundStatus::Pending) => Ok(RefundStatus::Pending),
            Ok(pb::RefundStatus::Succeeded) => Ok(RefundStatus::Succeeded),
            Ok(pb::RefundStatus::Failed) => Ok(RefundStatus::Failed),
            Ok(pb::RefundStatus::Unspecified) | Err(_) => unknown_value(
                at,
                "REFUND_STATUS_PENDING, REFUND_STATUS_SUCCEEDED, REFUND_STATUS_FAILED",
            ),
        }
    }
}

impl Wire for WebhookOutcome {
    type Proto = i32;
    fn to_proto(&self) -> i32 {
        let outcome = match self {
            WebhookOutcome::Applied => pb::WebhookOutcome::Applied,
            WebhookOutcome::Duplicate => pb::WebhookOutcome::Duplicate,
            WebhookOutcome::Ignored => pb::WebhookOutcome::Ignored,
        };
        outcome.into()
    }
    fn from_proto(proto: i32, at: &At<'_>) -> Result<Self> {
        match pb::WebhookOutcome::try_from(proto) {
            Ok(pb::WebhookOutcome::Applied) => Ok(WebhookOutcome::Applied),
            Ok(pb::WebhookOutcome::Duplicate) => Ok(WebhookOutcome::Duplicate),
            Ok(pb::WebhookOutcome::Ignored) => Ok(WebhookOutcome::Ignored),
            Ok(pb::WebhookOutcome::Unspecified) | Err(_) => unknown_value(
                at,
                "WEBHOOK_OUTCOME_APPLIED, WEBHOOK_OUTCOME_DUPLICATE, WEBHOOK_OUTCOME_IGNORED",
            ),
        }
    }
}

impl Wire for RefundRecord {
    type Proto = pb::RefundRecord;
    fn to_proto(&self) -> pb::RefundRecord {
        pb::RefundRecord {
            id: uuid_to_proto(self.id),
            payment_id: self.payment_id.to_proto(),
            booking_id: uuid_to_proto(self.booking_id),
            key: self.key.clone(),
            amount: Some(self.amount.to_proto()),
            reason: self.reason.clone(),
            status: self.status.to_proto(),
            provider_refund_id: self.provider_refund_id.clone(),
            last_error: self.last_error.clone(),
            created_at: Some(self.created_at.to_proto()),
        }
    }
    fn from_proto(p: pb::RefundRecord, at: &At<'_>) -> Result<Self> {
        Ok(RefundRecord {
            id: uuid_field(at, "id", &p.id)?,
            payment_id: field(at, "payment_id", p.payment_id)?,
            booking_id: uuid_field(at, "booking_id", &p.booking_id)?,
            key: p.key,
            amount: required(at, "amount", p.amount)?,
            reason: p.reason,
            status: field(at, "status", p.status)?,
            provider_refund_id: p.provider_refund_id,
            last_error: p.last_error,
            created_at: required(at, "created_at", p.created_at)?,
        })
    }
}

impl Wire for Intent {
    type Proto = pb::Intent;
    fn to_proto(&self) -> pb::Intent {
        pb::Intent {
            id: self.id.to_proto(),
            booking_id: uuid_to_proto(self.booking_id),
            guest_id: self.guest_id.to_proto(),
            reference: self.reference.clone(),
            status: self.status.to_proto(),
            amount: Some(self.amount.to_proto()),
            amount_refunded: self.amount_refunded,
            checkout_url: self.checkout_url.clone(),
            return_url: self.return_url.clone(),
            provider_intent_id: self.provider_intent_id.clone(),
            failure_code: self.failure_code.clone(),
            failure_message: self.failure_message.clone(),
            refunds: protos(&self.refunds),
            version: self.version,
            created_at: Some(self.created_at.to_proto()),
            updated_at: Some(self.updated_at.to_proto()),
            purpose: self.purpose.to_proto(),
            modification: self.modification,
        }
    }
    fn from_proto(p: pb::Intent, at: &At<'_>) -> Result<Self> {
        Ok(Intent {
            id: field(at, "id", p.id)?,
            booking_id: uuid_field(at, "booking_id", &p.booking_id)?,
            purpose: field(at, "purpose", p.purpose)?,
            modification: p.modification,
            guest_id: field(at, "guest_id", p.guest_id)?,
            reference: p.reference,
            status: field(at, "status", p.status)?,
            amount: required(at, "amount", p.amount)?,
            amount_refunded: p.amount_refunded,
            checkout_url: p.checkout_url,
            return_url: p.return_url,
            provider_intent_id: p.provider_intent_id,
            failure_code: p.failure_code,
            failure_message: p.failure_message,
            refunds: list(at, "refunds", p.refunds)?,
            version: p.version,
            created_at: required(at, "created_at", p.created_at)?,
            updated_at: required(at, "updated_at", p.updated_at)?,
        })
    }
}

impl Wire for NewIntent {
    type Proto = pb::NewIntent;
    fn to_proto(&self) -> pb::NewIntent {
        pb::NewIntent {
            booking_id: uuid_to_proto(self.booking_id),
            guest_id: self.guest_id.to_proto(),
            reference: self.reference.clone(),
            amount: Some(self.amount.to_proto()),
            return_url: self.return_url.clone(),
            purpose: self.purpose.to_proto(),
            modification: self.modification,
        }
    }
    fn from_proto(p: pb::NewIntent, at: &At<'_>) -> Result<Self> {
        Ok(NewIntent {
            booking_id: uuid_field(at, "booking_id", &p.booking_id)?,
            guest_id: field(at, "guest_id", p.guest_id)?,
            reference: p.reference,
            amount: required(at, "amount", p.amount)?,
            return_url: p.return_url,
            purpose: field(at, "purpose", p.purpose)?,
            modification: p.modification,
        })
    }
}

/// A webhook delivery's headers as sent on.
pub(crate) fn headers_to_proto(headers: &http::HeaderMap) -> Vec<pb::WebhookHeader> {
    headers
        .iter()
        .map(|(name, value)| pb::WebhookHeader {
            name: name.as_str().to_owned(),
            value: value.as_bytes().to_vec(),
        })
        .collect()
}

/// A webhook delivery's headers as received; a name or value HTTP would not carry names its
/// item (`headers[2].name`).
pub(crate) fn headers_from_proto(
    at: &At<'_>,
    headers: Vec<pb::WebhookHeader>,
) -> Result<http::HeaderMap> {
    let list_at = at.field("headers");
    let mut map = http::HeaderMap::with_capacity(headers.len());
    for (i, header) in headers.into_iter().enumerate() {
        let item = At::Item(&list_at, i);
        let name = http::HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| {
            Error::invalid_field(&item.field("name"), "must be an HTTP header name")
        })?;
        let value = http::HeaderValue::from_bytes(&header.value).map_err(|_| {
            Error::invalid_field(&item.field("value"), "must be an HTTP header value")
        })?;
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use innkeeper_kernel::{Currency, Money, UserId};
    use time::macros::datetime;

    use super::*;

    fn refund() -> RefundRecord {
        RefundRecord {
            id: Uuid::now_v7(),
            payment_id: PaymentId::new(),
            booking_id: Uuid::now_v7(),
            key: "cancellation".into(),
            amount: Money {
                amount: 4_500,
                currency: Currency::EUR,
            },
            reason: "cancellation".into(),
            status: RefundStatus::Pending,
            provider_refund_id: None,
            last_error: Some("provider unavailable".into()),
            created_at: datetime!(2026-03-01 10:00:00.123456789 UTC),
        }
    }

    #[test]
    fn every_enum_value_round_trips_and_unspecified_names_its_field() {
        for status in PaymentStatus::ALL {
            assert_eq!(
                PaymentStatus::from_proto(status.to_proto(), &At::ROOT),
                Ok(status)
            );
        }
        for status in [
            RefundStatus::Pending,
            RefundStatus::Succeeded,
            RefundStatus::Failed,
        ] {
            assert_eq!(
                RefundStatus::from_proto(status.to_proto(), &At::ROOT),
                Ok(status)
            );
        }
        for outcome in [
            WebhookOutcome::Applied,
            WebhookOutcome::Duplicate,
            WebhookOutcome::Ignored,
        ] {
            assert_eq!(
                WebhookOutcome::from_proto(outcome.to_proto(), &At::ROOT),
                Ok(outcome)
            );
        }
        let intent = At::Name("intent");
        let err = PaymentStatus::from_proto(0, &intent.field("status")).expect_err("unspecified");
        assert_eq!(err.errors[0].field, "intent.status");
        let err = RefundStatus::from_proto(42, &At::Name("status")).expect_err("unknown");
        assert_eq!(err.errors[0].field, "status");
    }

    #[test]
    fn an_intent_with_refunds_keeps_every_field() {
        let intent = Intent {
            id: PaymentId::new(),
            booking_id: Uuid::now_v7(),
            purpose: IntentPurpose::Balance,
            modification: Some(4),
            guest_id: UserId(Uuid::now_v7()),
            reference: "INK-7F3K9Q".into(),
            status: PaymentStatus::Succeeded,
            amount: Money {
                amount: 25_800,
                currency: Currency::EUR,
            },
            amount_refunded: 4_500,
            checkout_url: Some("http://127.0.0.1:8080/provider/checkout/pi_1".into()),
            return_url: "http://127.0.0.1:8080/bookings/1".into(),
            provider_intent_id: Some("pi_1".into()),
            failure_code: None,
            failure_message: None,
            refunds: vec![refund(), refund()],
            version: 4,
            created_at: datetime!(2026-03-01 09:00:00 UTC),
            updated_at: datetime!(2026-03-01 10:00:00.5 UTC),
        };
        assert_eq!(
            Intent::from_proto(intent.to_proto(), &At::ROOT),
            Ok(intent.clone())
        );
        let mut bad = intent.to_proto();
        bad.refunds[1].booking_id = "nope".into();
        let err = Intent::from_proto(bad, &At::ROOT).expect_err("bad id");
        assert_eq!(err.errors[0].field, "refunds[1].booking_id");
        let mut bad = intent.to_proto();
        bad.amount = None;
        let err = Intent::from_proto(bad, &At::ROOT).expect_err("no amount");
        assert_eq!(err.errors[0].field, "amount");
    }

    #[test]
    fn webhook_headers_travel_as_received_and_bad_ones_name_their_item() {
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", "msg_1".parse().expect("value"));
        headers.append("x-many", "a".parse().expect("value"));
        headers.append("x-many", "b".parse().expect("value"));
        let back = headers_from_proto(&At::ROOT, headers_to_proto(&headers)).expect("decodes");
        assert_eq!(back, headers);
        let bad = vec![
            pb::WebhookHeader {
                name: "ok".into(),
                value: b"1".to_vec(),
            },
            pb::WebhookHeader {
                name: "bad name".into(),
                value: b"1".to_vec(),
            },
        ];
        let err = headers_from_proto(&At::ROOT, bad).expect_err("bad name");
        assert_eq!(err.errors[0].field, "headers[1].name");
    }
}
