//! gRPC plumbing every service adapter shares: the one mapping between Innkeeper's [`Error`] and
//! gRPC statuses, and the caller's identity in request metadata.
//!
//! # Errors on the wire
//!
//! [`status_from_error`] picks the gRPC code for each [`ErrorCode`] ([`grpc_code`]) and carries
//! the whole error in the status details, in gRPC's standard rich error model so that any
//! client (grpcurl, another language) can read them: a `google.rpc.ErrorInfo` with domain
//! [`ERROR_DOMAIN`] and the code as reason (`SOLD_OUT`), plus a `google.rpc.BadRequest` with one
//! violation per field error; the status message is the error's message. [`error_from_status`]
//! restores exactly the same [`Error`], so a remote client fails like a local one. A status
//! without our details (the server is down, the deadline passed, a proxy answered) becomes
//! `unavailable`, `timeout` or `internal`.
//!
//! # The caller
//!
//! Calls that act for someone carry the header [`PRINCIPAL_HEADER`] (`innkeeper-principal`)
//! with [`Principal::to_header`]'s `role:user-uuid`. Services trust it as sent: they listen on
//! the internal network only. Until the identity service exists the gateway acts as
//! [`Principal::DEVELOPMENT`] for every write; identity will replace this header with the
//! verified bearer token (forwarded by the gateway, checked by each service), and only the two
//! helpers here will change.

use std::collections::HashMap;

use innkeeper_kernel::{Error, ErrorCode, FieldError, Principal};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The metadata header that names the caller (`role:user-uuid`).
pub const PRINCIPAL_HEADER: &str = "innkeeper-principal";

/// The `google.rpc.ErrorInfo` domain of Innkeeper's errors.
pub const ERROR_DOMAIN: &str = "innkeeper";

/// The gRPC code an [`ErrorCode`] is answered with.
pub fn grpc_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::InvalidRequest
        | ErrorCode::ValidationFailed
        | ErrorCode::UnsupportedMediaType => Code::InvalidArgument,
        ErrorCode::Unauthenticated => Code::Unauthenticated,
        ErrorCode::Forbidden => Code::PermissionDenied,
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::SoldOut
        | ErrorCode::InvalidState
        | ErrorCode::VersionMismatch
        | ErrorCode::PreconditionRequired => Code::FailedPrecondition,
        ErrorCode::Conflict => Code::AlreadyExists,
        ErrorCode::PayloadTooLarge | ErrorCode::RateLimited => Code::ResourceExhausted,
        ErrorCode::Unavailable => Code::Unavailable,
        ErrorCode::Timeout => Code::DeadlineExceeded,
        ErrorCode::Internal => Code::Internal,
    }
}

/// The status a server answers an [`Error`] with; the details carry the whole error.
pub fn status_from_error(error: &Error) -> Status {
    let reason = error.code.as_str().to_ascii_uppercase();
    let mut details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::new());
    for field in &error.errors {
        details.add_bad_request_violation(field.field.clone(), field.message.clone());
    }
    Status::with_error_details(grpc_code(error.code), error.message.clone(), details)
}

/// The [`Error`] a status stands for; see [`error_from_status_of`] to name the service.
pub fn error_from_status(status: &Status) -> Error {
    error_from_status_of("upstream service", status)
}

/// The [`Error`] a status from `service` stands for.
///
/// A status carrying our details gives back exactly the error the server returned. Any other
/// status (the transport failed, or something that is not an Innkeeper service answered) maps
/// to `unavailable` ("`service` unavailable"), `timeout` (the deadline passed: tonic reports a
/// client-side deadline as `Cancelled`) or `internal` (the cause is logged, never shown).
pub fn error_from_status_of(service: &str, status: &Status) -> Error {
    if let Some(error) = innkeeper_error(status) {
        return error;
    }
    match status.code() {
        Code::Unavailable => Error::unavailable(format!("{service} unavailable")),
        Code::DeadlineExceeded | Code::Cancelled => Error::new(
            ErrorCode::Timeout,
            format!("{service} did not answer in time"),
        ),
        code => Error::internal(format!(
            "{service} call failed with {code:?}: {}",
            status.message()
        )),
    }
}

/// Our error, if the status carries our details.
fn innkeeper_error(status: &Status) -> Option<Error> {
    let details = status.check_error_details().ok()?;
    let info = details.error_info()?;
    if info.domain != ERROR_DOMAIN {
        return None;
    }
    let code = ErrorCode::parse(&info.reason.to_ascii_lowercase())?;
    let errors = details
        .bad_request()
        .map(|bad| {
            bad.field_violations
                .iter()
                .map(|v| FieldError {
                    field: v.field.clone(),
                    message: v.description.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Error {
        code,
        message: status.message().to_owned(),
        errors,
    })
}

/// Names the caller of a request in its metadata.
pub fn insert_principal(metadata: &mut MetadataMap, principal: &Principal) -> Result<(), Error> {
    let value = MetadataValue::try_from(principal.to_header())
        .map_err(|e| Error::internal(format!("principal header is not valid metadata: {e}")))?;
    metadata.insert(PRINCIPAL_HEADER, value);
    Ok(())
}

/// The caller named in a request's metadata; `unauthenticated` when absent or malformed.
pub fn principal_from_metadata(metadata: &MetadataMap) -> Result<Principal, Error> {
    let value = metadata.get(PRINCIPAL_HEADER).ok_or_else(|| {
        Error::new(
            ErrorCode::Unauthenticated,
            "the call does not name its caller",
        )
    })?;
    value
        .to_str()
        .ok()
        .and_then(Principal::from_header)
        .ok_or_else(|| {
            Error::new(
                ErrorCode::Unauthenticated,
                "the caller named by the call is malformed",
            )
        })
}

/// Writes the current span's W3C trace context (`traceparent`, `tracestate`) into outgoing
/// gRPC metadata, so the callee's spans continue the caller's trace.
pub fn inject_trace_context(metadata: &mut MetadataMap) {
    let mut headers = http::HeaderMap::new();
    crate::telemetry::inject_trace(&mut headers);
    for (name, value) in &headers {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::AsciiMetadataKey::from_bytes(name.as_str().as_bytes()),
            value
                .to_str()
                .map(tonic::metadata::AsciiMetadataValue::try_from),
        ) && let Ok(value) = value
        {
            metadata.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use innkeeper_kernel::{Role, UserId};

    fn sample(code: ErrorCode) -> Error {
        Error::new(code, format!("{} happened — très désolé 🛏️", code.as_str()))
            .with_field("stay.check_out", "must be after check_in")
            .with_field("rooms", "must be between 1 and 9")
    }

    #[test]
    fn every_error_code_round_trips_through_a_status() {
        for code in ErrorCode::ALL {
            for error in [sample(code), Error::new(code, "")] {
                let status = status_from_error(&error);
                assert_eq!(status.code(), grpc_code(code), "{code}");
                assert_eq!(error_from_status(&status), error, "{code}");
            }
        }
    }

    #[test]
    fn errors_survive_the_wire_encoding_of_status_headers() {
        // Servers send a status as HTTP/2 trailers; clients parse it back from them.
        for code in ErrorCode::ALL {
            let error = sample(code);
            let mut headers = http::HeaderMap::new();
            status_from_error(&error)
                .add_header(&mut headers)
                .expect("encodes");
            let status = Status::from_header_map(&headers).expect("a status");
            assert_eq!(error_from_status(&status), error, "{code}");
        }
    }

    #[test]
    fn codes_follow_grpc_conventions() {
        assert_eq!(
            grpc_code(ErrorCode::ValidationFailed),
            Code::InvalidArgument
        );
        assert_eq!(grpc_code(ErrorCode::SoldOut), Code::FailedPrecondition);
        assert_eq!(
            grpc_code(ErrorCode::VersionMismatch),
            Code::FailedPrecondition
        );
        assert_eq!(grpc_code(ErrorCode::Forbidden), Code::PermissionDenied);
        assert_eq!(grpc_code(ErrorCode::RateLimited), Code::ResourceExhausted);
        assert_eq!(grpc_code(ErrorCode::Timeout), Code::DeadlineExceeded);
    }

    #[test]
    fn statuses_without_our_details_map_to_transport_errors() {
        let down = error_from_status_of("catalog", &Status::unavailable("tcp connect error"));
        assert_eq!(down, Error::unavailable("catalog unavailable"));
        let late = error_from_status_of("catalog", &Status::deadline_exceeded("late"));
        assert_eq!(late.code, ErrorCode::Timeout);
        let timed_out = error_from_status_of("catalog", &Status::cancelled("Timeout expired"));
        assert_eq!(timed_out.code, ErrorCode::Timeout);
        let odd = error_from_status_of("catalog", &Status::unknown("h2 protocol error: secret"));
        assert_eq!(odd, Error::new(ErrorCode::Internal, "internal error"));
        // A status whose code alone claims "not found" is not trusted as ours.
        let foreign = error_from_status(&Status::not_found("SELECT * FROM hotels"));
        assert_eq!(foreign.code, ErrorCode::Internal);
        assert!(!foreign.message.contains("SELECT"));
    }

    #[test]
    fn details_of_another_domain_are_not_ours() {
        let details = ErrorDetails::with_error_info("NOT_FOUND", "example.com", HashMap::new());
        let status = Status::with_error_details(Code::NotFound, "gone", details);
        assert_eq!(error_from_status(&status).code, ErrorCode::Internal);
    }

    #[test]
    fn the_principal_travels_in_metadata() {
        let principal = Principal {
            user_id: UserId::new(),
            role: Role::Admin,
        };
        let mut metadata = MetadataMap::new();
        insert_principal(&mut metadata, &principal).expect("valid metadata");
        assert_eq!(principal_from_metadata(&metadata), Ok(principal));
    }

    #[test]
    fn a_missing_or_malformed_principal_is_unauthenticated() {
        let missing = principal_from_metadata(&MetadataMap::new()).expect_err("missing");
        assert_eq!(missing.code, ErrorCode::Unauthenticated);
        let mut metadata = MetadataMap::new();
        metadata.insert(
            PRINCIPAL_HEADER,
            MetadataValue::from_static("root:not-a-uuid"),
        );
        let malformed = principal_from_metadata(&metadata).expect_err("malformed");
        assert_eq!(malformed.code, ErrorCode::Unauthenticated);
    }
}
