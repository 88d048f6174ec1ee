//! The CloudEvents Kafka protocol binding, binary content mode: attributes travel as `ce_*`
//! headers, the payload is the record value, the subject is the record key. Pure functions, so
//! the mapping is tested without a broker.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::envelope::Event;

/// The headers of `event`: `ce_specversion`, `ce_id`, `ce_source`, `ce_type`, `ce_subject`,
/// `ce_time` (RFC 3339), `content-type`, and `traceparent`/`tracestate` when traced.
pub fn headers_of(event: &Event) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("ce_specversion", "1.0".to_owned()),
        ("ce_id", event.id.to_string()),
        ("ce_source", event.source.clone()),
        ("ce_type", event.event_type.clone()),
        ("ce_subject", event.subject.clone()),
        ("ce_time", event.time.format(&Rfc3339).unwrap_or_default()),
        ("content-type", event.content_type.clone()),
    ];
    if let Some(traceparent) = &event.traceparent {
        headers.push(("traceparent", traceparent.clone()));
    }
    if let Some(tracestate) = &event.tracestate {
        headers.push(("tracestate", tracestate.clone()));
    }
    headers
}

/// The event a record carries, from its topic, headers and value; the error names what is
/// missing or malformed.
pub fn event_from_headers<'a>(
    topic: &str,
    headers: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
    value: &[u8],
) -> Result<Event, String> {
    let mut found: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for (key, value) in headers {
        if let Some(value) = value {
            let text =
                std::str::from_utf8(value).map_err(|_| format!("header {key} is not UTF-8"))?;
            found.insert(key, text);
        }
    }
    let get = |key: &str| {
        found
            .get(key)
            .map(|v| (*v).to_owned())
            .ok_or_else(|| format!("header {key} is missing"))
    };
    if get("ce_specversion")? != "1.0" {
        return Err("ce_specversion is not 1.0".to_owned());
    }
    let id = get("ce_id")?;
    let time = get("ce_time")?;
    Ok(Event {
        id: id
            .parse()
            .map_err(|_| format!("ce_id {id:?} is not a UUID"))?,
        source: get("ce_source")?,
        event_type: get("ce_type")?,
        subject: get("ce_subject")?,
        time: OffsetDateTime::parse(&time, &Rfc3339)
            .map_err(|_| format!("ce_time {time:?} is not RFC 3339"))?,
        content_type: get("content-type")?,
        data: value.to_vec(),
        traceparent: get("traceparent").ok(),
        tracestate: get("tracestate").ok(),
        topic: topic.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        Event {
            id: uuid::Uuid::now_v7(),
            source: "/innkeeper/catalog".to_owned(),
            event_type: "innkeeper.catalog.inventory_changed.v1".to_owned(),
            subject: "0190c3e0-0000-7000-8000-000000000001".to_owned(),
            time: time::macros::datetime!(2026-11-30 12:00:00.123456 UTC),
            content_type: "application/json".to_owned(),
            data: br#"{"a":1}"#.to_vec(),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
            tracestate: None,
            topic: "catalog.events".to_owned(),
        }
    }

    #[test]
    fn an_event_survives_the_binary_binding() {
        let event = sample();
        let headers = headers_of(&event);
        let back = event_from_headers(
            "catalog.events",
            headers.iter().map(|(k, v)| (*k, Some(v.as_bytes()))),
            &event.data,
        )
        .expect("parses");
        assert_eq!(back, event);
        assert!(
            headers
                .iter()
                .any(|(k, v)| *k == "ce_time" && v == "2026-11-30T12:00:00.123456Z")
        );
    }

    #[test]
    fn a_record_without_its_id_is_refused_by_name() {
        let event = sample();
        let headers: Vec<_> = headers_of(&event)
            .into_iter()
            .filter(|(k, _)| *k != "ce_id")
            .collect();
        let err = event_from_headers(
            "t",
            headers.iter().map(|(k, v)| (*k, Some(v.as_bytes()))),
            b"",
        )
        .expect_err("refused");
        assert!(err.contains("ce_id"), "{err}");
    }
}
