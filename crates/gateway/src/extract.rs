//! Extractors whose failures are problem documents that name what was wrong.
//!
//! axum's own `Json`, `Query` and `Path` reject with plain text and no field names; these wrap
//! or replace them so that a client always gets `application/problem+json` with a stable code.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use http::request::Parts;
use http::{HeaderMap, header};
use innkeeper_kernel::{Error, ErrorCode, HotelId, RoomId, RoomTypeId};
use serde::de::DeserializeOwned;

use crate::problem::{ApiError, payload_too_large};

/// A JSON request body: `Content-Type` must be `application/json` (or `application/*+json`),
/// the body at most the configured size, its syntax valid (else 400) and its fields of the
/// right types (else 422 naming the field path, such as `location.lat`).
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError(Error::new(
                ErrorCode::UnsupportedMediaType,
                "the request body must be JSON, sent with Content-Type: application/json",
            )));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError(payload_too_large())
                } else {
                    ApiError(Error::invalid_request("the request body could not be read"))
                }
            })?;
        decode_json(&bytes).map(ApiJson).map_err(ApiError)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Decodes a JSON body, telling syntax errors (400) from data errors (422 with the field path).
pub(crate) fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    // Every body of this API is an object; serde would otherwise read `[..]` as a struct.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Err(err) => json_error(".", &err),
                Ok(_) => Error::new(
                    ErrorCode::ValidationFailed,
                    "the request body must be a JSON object",
                ),
            },
        );
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        json_error(&path, err.inner())
    })?;
    deserializer.end().map_err(|err| json_error(".", &err))?;
    Ok(value)
}

fn json_error(path: &str, err: &serde_json::Error) -> Error {
    let message = strip_position(&err.to_string());
    if !err.is_data() {
        return Error::invalid_request(format!("the request body is not valid JSON: {message}"));
    }
    let (field, message) = describe_data_error(path, &message);
    match field {
        Some(field) => Error::invalid_field(field, message),
        None => Error::new(ErrorCode::ValidationFailed, message),
    }
}

/// serde_json appends " at line L column C"; the position is noise for a client.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The field a serde data error is about and a message for a person, with Rust type names
/// replaced by what they mean on the wire.
fn describe_data_error(path: &str, message: &str) -> (Option<String>, String) {
    // serde_path_to_error's path ends at the object for a missing field, at the key for an
    // unknown one.
    let at = |name: &str| -> String {
        if path == "." || path.is_empty() {
            name.to_owned()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = backticked_after(message, "missing field `") {
        return (Some(at(name)), "is required".to_owned());
    }
    if let Some(name) = backticked_after(message, "unknown field `") {
        let expected = message
            .split_once(", expected ")
            .map(|(_, e)| format!("; expected {e}"))
            .unwrap_or_default();
        return (Some(at(name)), format!("is not a known field{expected}"));
    }
    let field = (path != "." && !path.is_empty()).then(|| path.to_owned());
    if message.contains("expected a `Date`")
        || (message.starts_with("the '") && message.contains("component"))
    {
        // time's own wording ("the 'month' component could not be parsed") omits the format.
        return (field, "must be a date in the form YYYY-MM-DD".to_owned());
    }
    let message = match message.split_once(", expected ") {
        Some((found, expected)) => format!("{found}, expected {}", wire_type(expected)),
        None => message.to_owned(),
    };
    (field, message)
}

fn backticked_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

fn wire_type(expected: &str) -> &str {
    match expected {
        e if e.starts_with("struct ")
            || e.starts_with("tuple struct ")
            || e.starts_with("a map") =>
        {
            "an object"
        }
        e if e.starts_with("enum ") => "one of the documented values",
        "u8" => "an integer from 0 to 255",
        "u16" => "an integer from 0 to 65535",
        "u32" => "an integer from 0 to 4294967295",
        "u64" | "usize" => "a non-negative integer",
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer",
        "f32" | "f64" => "a number",
        other => other,
    }
}

/// The `If-Match` header as the version it names: `"3"`, `W/"3"` and `3` all mean version 3.
/// Missing: 428 `precondition_required`; not a version: 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfMatch(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Err(ApiError(Error::new(
                ErrorCode::PreconditionRequired,
                "this change must be conditional: send If-Match with the ETag you last read",
            )));
        };
        value
            .to_str()
            .ok()
            .and_then(parse_version)
            .map(IfMatch)
            .ok_or_else(|| {
                ApiError(
                    Error::invalid_request("If-Match must be the resource's ETag, such as \"3\"")
                        .with_field("If-Match", "must be the resource's ETag, such as \"3\""),
                )
            })
    }
}

pub(crate) fn parse_version(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let raw = raw.strip_prefix("W/").unwrap_or(raw);
    let raw = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw);
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

/// The `ETag` of a version.
pub(crate) fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// A query string decoded into `T`; a duplicated or malformed parameter is a 400.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                let mut err =
                    Error::invalid_request(format!("the query string is malformed: {detail}"));
                if let Some(field) = detail
                    .split_once("field `")
                    .and_then(|(_, rest)| rest.split('`').next())
                {
                    err = err.with_field(field, detail);
                }
                Err(ApiError(err))
            }
        }
    }
}

/// Parses a path segment as an id; a segment that is not a UUID is a 400 naming the parameter.
fn path_id<T>(
    name: &str,
    raw: &str,
    what: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, ApiError> {
    parse(raw).ok_or_else(|| {
        let message = format!("must be a {what} id (UUID)");
        ApiError(Error::invalid_request(format!("{name}: {message}")).with_field(name, message))
    })
}

/// The `{id}` of `/hotels/{id}`.
pub(crate) fn hotel_id(raw: &str) -> Result<HotelId, ApiError> {
    path_id("id", raw, "hotel", |s| s.parse().ok())
}

/// The `{rt}` of `/hotels/{id}/room-types/{rt}`.
pub(crate) fn room_type_id(raw: &str) -> Result<RoomTypeId, ApiError> {
    path_id("rt", raw, "room type", |s| s.parse().ok())
}

/// The `{room}` of `/hotels/{id}/rooms/{room}`.
pub(crate) fn room_id(raw: &str) -> Result<RoomId, ApiError> {
    path_id("room", raw, "room", |s| s.parse().ok())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        count: u8,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Dated {
        from: time::Date,
    }

    #[test]
    fn dates_are_explained_by_their_format() {
        for body in [
            &b"{\"from\": \"2026-13-01\"}"[..],
            b"{\"from\": 5}",
            b"{\"from\": \"01/12/2026\"}",
        ] {
            let err = decode_json::<Dated>(body).expect_err("bad date");
            assert_eq!(err.errors[0].field, "from");
            assert_eq!(
                err.errors[0].message,
                "must be a date in the form YYYY-MM-DD"
            );
        }
        assert!(decode_json::<Dated>(b"{\"from\": \"2026-12-01\"}").is_ok());
    }

    #[test]
    fn syntax_errors_are_malformed_requests() {
        let err = decode_json::<Body>(b"{\"name\": ").expect_err("truncated");
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        let err = decode_json::<Body>(b"{\"name\": \"a\", \"inner\": {\"count\": 1}} x")
            .expect_err("trailing");
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        assert!(!err.message.contains("line"), "{}", err.message);
    }

    #[test]
    fn data_errors_name_the_field_path() {
        let err = decode_json::<Body>(b"{\"name\": \"a\", \"inner\": {\"count\": 300}}")
            .expect_err("too big");
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        assert_eq!(err.errors[0].field, "inner.count");
        assert!(
            err.errors[0].message.contains("0 to 255"),
            "{}",
            err.errors[0].message
        );
        let err = decode_json::<Body>(b"{\"name\": \"a\", \"inner\": {}}").expect_err("missing");
        assert_eq!(err.errors[0].field, "inner.count");
        assert_eq!(err.errors[0].message, "is required");
        let err = decode_json::<Body>(b"{\"name\": \"a\", \"inner\": {\"count\": 1}, \"x\": 1}")
            .expect_err("unknown");
        assert_eq!(err.errors[0].field, "x");
        let err = decode_json::<Body>(b" [\"a\", {\"count\": 1}]").expect_err("not an object");
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        assert!(err.message.contains("JSON object"), "{}", err.message);
        let err = decode_json::<Body>(b"[1,").expect_err("truncated array");
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        let err = decode_json::<Body>(b"{\"name\": 1, \"inner\": []}").expect_err("wrong types");
        assert!(
            !err.message.contains("Inner") && !err.message.contains("String"),
            "{}",
            err.message
        );
    }

    #[test]
    fn if_match_accepts_strong_weak_and_bare_versions() {
        assert_eq!(parse_version("\"3\""), Some(3));
        assert_eq!(parse_version("W/\"12\""), Some(12));
        assert_eq!(parse_version("7"), Some(7));
        for bad in ["*", "\"abc\"", "", "\"\"", "-1", "\"1\", \"2\""] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }
}
