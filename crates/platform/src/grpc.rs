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
//! A call that acts for someone carries that caller's original access token, as in HTTP:
//! `authorization: Bearer <token>` ([`AUTHORIZATION_HEADER`]). The gateway verifies the token of
//! a request and runs the rest of it inside [`crate::auth::credential::scope`]; a remote client
//! forwards that credential with [`forward_credential`]; the service at the other end verifies
//! it again with its own [`Verifier`] ([`verified_caller`]) and takes the caller from the token
//! only (a token that verifier has seen in the last minute costs a hash and a cache lookup, not
//! a signature check). Nothing else in the metadata names a caller, so a request that reaches a service some
//! other way (or with a forged, expired or missing token) is `unauthenticated`.

use std::collections::HashMap;

use innkeeper_kernel::{Error, ErrorCode, FieldError, Principal};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::auth::{Verifier, bearer_token, credential};

/// The metadata header carrying the caller's access token (`Bearer <token>`).
pub const AUTHORIZATION_HEADER: &str = "authorization";

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

/// What a server's handler answers.
pub type Reply<T> = Result<tonic::Response<T>, Status>;

/// Encodes a handler's outcome; errors carry the whole [`Error`] (see [`status_from_error`]).
pub fn reply<T>(result: Result<T, Error>) -> Reply<T> {
    result
        .map(tonic::Response::new)
        .map_err(|e| status_from_error(&e))
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

/// A lazily connecting channel to `service` at `endpoint` (`http://host:port`, or `host:port`):
/// a service that is down fails each call with `unavailable` rather than the caller's start-up,
/// and the channel reconnects by itself when it comes back.
pub fn lazy_channel(
    service: &str,
    endpoint: &str,
    timeout: std::time::Duration,
) -> anyhow::Result<tonic::transport::Channel> {
    use anyhow::Context as _;
    let uri = if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("http://{endpoint}")
    };
    Ok(tonic::transport::Endpoint::from_shared(uri.clone())
        .with_context(|| format!("invalid {service} endpoint {uri}"))?
        .connect_timeout(timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(std::time::Duration::from_secs(30))
        .keep_alive_timeout(std::time::Duration::from_secs(10))
        .connect_lazy())
}

/// Puts `token` in a request's metadata as the caller's credential (`Bearer <token>`).
pub fn insert_bearer(metadata: &mut MetadataMap, token: &str) -> Result<(), Error> {
    let mut value = MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| {
        Error::new(
            ErrorCode::Unauthenticated,
            "the access token is not valid metadata",
        )
    })?;
    value.set_sensitive(true);
    metadata.insert(AUTHORIZATION_HEADER, value);
    Ok(())
}

/// Forwards the credential of the request being served ([`credential::current`]), if there is
/// one; without one the request goes out anonymous and a service answers calls that need a
/// caller with `unauthenticated`.
pub fn forward_credential(metadata: &mut MetadataMap) -> Result<(), Error> {
    match credential::current() {
        Some(token) => insert_bearer(metadata, &token),
        None => Ok(()),
    }
}

/// The bearer token of a request's metadata; `unauthenticated` when absent or malformed.
pub fn bearer_from_metadata(metadata: &MetadataMap) -> Result<&str, Error> {
    let value = metadata.get(AUTHORIZATION_HEADER).ok_or_else(|| {
        Error::new(
            ErrorCode::Unauthenticated,
            "the call carries no access token",
        )
    })?;
    value.to_str().ok().and_then(bearer_token).ok_or_else(|| {
        Error::new(
            ErrorCode::Unauthenticated,
            "the authorization metadata must be `Bearer <access token>`",
        )
    })
}

/// The caller of a request: its bearer token, verified by `verifier`. A missing, malformed or
/// refused token is `unauthenticated` (a key fetch that fails, `unavailable`).
pub async fn verified_caller(
    verifier: &Verifier,
    metadata: &MetadataMap,
) -> Result<Principal, Error> {
    verifier.verify(bearer_from_metadata(metadata)?).await
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
    fn the_token_travels_as_a_bearer_credential() {
        let mut metadata = MetadataMap::new();
        insert_bearer(&mut metadata, "a.b.c").expect("valid metadata");
        assert_eq!(
            metadata.get(AUTHORIZATION_HEADER).map(|v| v.to_str().ok()),
            Some(Some("Bearer a.b.c"))
        );
        assert_eq!(bearer_from_metadata(&metadata), Ok("a.b.c"));
    }

    #[tokio::test]
    async fn the_current_credential_is_forwarded_and_none_is_not_invented() {
        let mut metadata = MetadataMap::new();
        forward_credential(&mut metadata).expect("nothing to forward");
        assert!(metadata.get(AUTHORIZATION_HEADER).is_none());
        credential::scope("x.y.z", async {
            forward_credential(&mut metadata).expect("forwarded");
        })
        .await;
        assert_eq!(bearer_from_metadata(&metadata), Ok("x.y.z"));
    }

    #[test]
    fn a_missing_or_malformed_credential_is_unauthenticated() {
        let missing = bearer_from_metadata(&MetadataMap::new()).expect_err("missing");
        assert_eq!(missing.code, ErrorCode::Unauthenticated);
        for value in ["Basic dXNlcjpwYXNz", "Bearer ", "a.b.c"] {
            let mut metadata = MetadataMap::new();
            metadata.insert(AUTHORIZATION_HEADER, value.parse().expect("ascii"));
            let malformed = bearer_from_metadata(&metadata).expect_err(value);
            assert_eq!(malformed.code, ErrorCode::Unauthenticated, "{value}");
        }
        // The retired header names nobody.
        let mut metadata = MetadataMap::new();
        metadata.insert(
            "innkeeper-principal",
            "admin:00000000-0000-7000-8000-000000000d01"
                .parse()
                .expect("ascii"),
        );
        assert!(bearer_from_metadata(&metadata).is_err());
    }

    #[tokio::test]
    async fn the_caller_is_the_verified_token_only() {
        use crate::auth::testing::TestIssuer;
        use innkeeper_kernel::{Role, SystemClock, UserId};

        let issuer = TestIssuer::new();
        let verifier = issuer.verifier(std::sync::Arc::new(SystemClock));
        let principal = Principal {
            user_id: UserId::new(),
            role: Role::Guest,
        };
        let mut metadata = MetadataMap::new();
        insert_bearer(&mut metadata, &issuer.token(&principal)).expect("valid metadata");
        assert_eq!(verified_caller(&verifier, &metadata).await, Ok(principal));

        let mut forged = MetadataMap::new();
        insert_bearer(&mut forged, &TestIssuer::new().token(&principal)).expect("valid");
        let err = verified_caller(&verifier, &forged)
            .await
            .expect_err("forged");
        assert_eq!(err.code, ErrorCode::Unauthenticated);
        let err = verified_caller(&verifier, &MetadataMap::new())
            .await
            .expect_err("anonymous");
        assert_eq!(err.code, ErrorCode::Unauthenticated);
    }
}
