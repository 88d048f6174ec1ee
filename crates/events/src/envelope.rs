//! The envelope: a CloudEvents 1.0 event, the unit every part of the backbone moves.

use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use uuid::Uuid;

/// The content type of JSON payloads.
pub const JSON: &str = "application/json";

/// A payload type with its versioned CloudEvents `type`, encoded as JSON.
///
/// A change that breaks readers gets a new type (`...v2`) published beside the old one.
pub trait Payload: Serialize + DeserializeOwned {
    /// The CloudEvents `type`, such as `innkeeper.catalog.inventory_changed.v1`.
    const TYPE: &'static str;
}

/// One event: the CloudEvents 1.0 attributes, the payload bytes, the W3C trace context of the
/// transaction that wrote it, and the topic it is published on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `id`: a UUIDv7, unique per event (the inbox key).
    pub id: Uuid,
    /// `source`: the producing service, such as `/innkeeper/catalog`.
    pub source: String,
    /// `type`: such as `innkeeper.catalog.inventory_changed.v1`.
    pub event_type: String,
    /// `subject`: the aggregate's id; events of one subject are delivered in order.
    pub subject: String,
    /// `time`: when the change happened.
    pub time: OffsetDateTime,
    /// `datacontenttype`.
    pub content_type: String,
    /// `data`.
    pub data: Vec<u8>,
    /// W3C `traceparent` of the producing request, if it was traced.
    pub traceparent: Option<String>,
    /// W3C `tracestate`.
    pub tracestate: Option<String>,
    /// Where the event is published (Kafka topic; the in-process bus's subscription key).
    pub topic: String,
}

/// Why a payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The event is of another type.
    #[error("expected an event of type {expected}, got {actual}")]
    WrongType {
        /// The type asked for.
        expected: &'static str,
        /// The event's type.
        actual: String,
    },
    /// The payload does not parse.
    #[error("malformed {event_type} payload: {source}")]
    Malformed {
        /// The event's type.
        event_type: String,
        /// The parser's complaint.
        source: serde_json::Error,
    },
}

impl Event {
    /// Decodes the payload as `P`, checking the type first.
    pub fn decode<P: Payload>(&self) -> Result<P, DecodeError> {
        if self.event_type != P::TYPE {
            return Err(DecodeError::WrongType {
                expected: P::TYPE,
                actual: self.event_type.clone(),
            });
        }
        serde_json::from_slice(&self.data).map_err(|source| DecodeError::Malformed {
            event_type: self.event_type.clone(),
            source,
        })
    }

    /// Sets `time` (by default the moment the event was built), to the microsecond: the
    /// precision it is stored and sent with.
    pub fn at(mut self, time: OffsetDateTime) -> Self {
        self.time = to_micros_precision(time);
        self
    }

    /// HTTP-style headers carrying the trace context, for the telemetry helpers.
    pub(crate) fn trace_headers(&self) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for (name, value) in [
            ("traceparent", &self.traceparent),
            ("tracestate", &self.tracestate),
        ] {
            if let Some(value) = value
                && let Ok(value) = http::HeaderValue::from_str(value)
            {
                headers.insert(name, value);
            }
        }
        headers
    }
}

/// The current span's W3C trace context (`traceparent`, `tracestate`), if it has one.
pub(crate) fn current_trace_context() -> (Option<String>, Option<String>) {
    let mut headers = http::HeaderMap::new();
    innkeeper_platform::telemetry::inject_trace(&mut headers);
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    (get("traceparent"), get("tracestate"))
}

/// `time` without its sub-microsecond part.
pub(crate) fn to_micros_precision(time: OffsetDateTime) -> OffsetDateTime {
    from_micros(micros(time))
}

/// Unix microseconds, the stored form of times.
pub(crate) fn micros(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// The time of stored microseconds.
pub(crate) fn from_micros(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Pinged {
        n: u32,
    }

    impl Payload for Pinged {
        const TYPE: &'static str = "innkeeper.test.pinged.v1";
    }

    fn event(event_type: &str, data: &[u8]) -> Event {
        Event {
            id: Uuid::now_v7(),
            source: "/innkeeper/test".to_owned(),
            event_type: event_type.to_owned(),
            subject: "s".to_owned(),
            time: OffsetDateTime::UNIX_EPOCH,
            content_type: JSON.to_owned(),
            data: data.to_vec(),
            traceparent: None,
            tracestate: None,
            topic: "test.events".to_owned(),
        }
    }

    #[test]
    fn payloads_decode_only_as_their_own_type() {
        let ok = event(Pinged::TYPE, br#"{"n":3}"#);
        assert_eq!(ok.decode::<Pinged>().expect("decodes"), Pinged { n: 3 });
        let other = event("innkeeper.test.other.v1", br#"{"n":3}"#);
        assert!(matches!(
            other.decode::<Pinged>(),
            Err(DecodeError::WrongType { .. })
        ));
        let broken = event(Pinged::TYPE, b"{");
        assert!(matches!(
            broken.decode::<Pinged>(),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn micros_round_trip() {
        let t = time::macros::datetime!(2026-11-30 12:00:00.123456 UTC);
        assert_eq!(from_micros(micros(t)), t);
    }
}
