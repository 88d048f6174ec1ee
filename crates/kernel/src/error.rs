//! One error vocabulary for every boundary.
//!
//! A service returns [`Error`]; the REST edge turns it into `application/problem+json` with
//! [`ErrorCode::http_status`], the gRPC adapter into a status whose details carry the same
//! error, so a local and a remote client fail identically.

use serde::{Deserialize, Serialize};

/// Result with Innkeeper's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Stable machine-readable error codes (the `code` member of a problem document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed (unparsable JSON, bad query string).
    InvalidRequest,
    /// The request is well-formed but semantically invalid; `errors` names the fields.
    ValidationFailed,
    /// No or an invalid credential.
    Unauthenticated,
    /// The caller's role may never do this.
    Forbidden,
    /// The object does not exist, or is not the caller's.
    NotFound,
    /// Not enough inventory for every night asked for.
    SoldOut,
    /// The object's state does not allow this transition.
    InvalidState,
    /// A conflicting object exists (duplicate, or a request already in flight).
    Conflict,
    /// `If-Match` named a version that is no longer current.
    VersionMismatch,
    /// The request must be conditional (`If-Match`) and was not.
    PreconditionRequired,
    /// The request body is not JSON.
    UnsupportedMediaType,
    /// The request body is larger than allowed.
    PayloadTooLarge,
    /// Too many requests; retry after the time given.
    RateLimited,
    /// A dependency is down; retry later.
    Unavailable,
    /// A dependency did not answer in time.
    Timeout,
    /// Something went wrong on our side; details are in the logs, never in the response.
    Internal,
}

impl ErrorCode {
    /// Every code, for documentation and exhaustive tests.
    pub const ALL: [ErrorCode; 16] = [
        Self::InvalidRequest,
        Self::ValidationFailed,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::SoldOut,
        Self::InvalidState,
        Self::Conflict,
        Self::VersionMismatch,
        Self::PreconditionRequired,
        Self::UnsupportedMediaType,
        Self::PayloadTooLarge,
        Self::RateLimited,
        Self::Unavailable,
        Self::Timeout,
        Self::Internal,
    ];

    /// The stable string form, e.g. `sold_out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::ValidationFailed => "validation_failed",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::SoldOut => "sold_out",
            Self::InvalidState => "invalid_state",
            Self::Conflict => "conflict",
            Self::VersionMismatch => "version_mismatch",
            Self::PreconditionRequired => "precondition_required",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Internal => "internal",
        }
    }

    /// Parses the string form; unknown codes are `None`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The HTTP status this code is answered with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::ValidationFailed => 422,
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::SoldOut | Self::InvalidState | Self::Conflict => 409,
            Self::VersionMismatch => 412,
            Self::PreconditionRequired => 428,
            Self::UnsupportedMediaType => 415,
            Self::PayloadTooLarge => 413,
            Self::RateLimited => 429,
            Self::Unavailable => 503,
            Self::Timeout => 504,
            Self::Internal => 500,
        }
    }

    /// A short human title for the problem document.
    pub fn title(self) -> &'static str {
        match self {
            Self::InvalidRequest => "Malformed request",
            Self::ValidationFailed => "Invalid input",
            Self::Unauthenticated => "Authentication required",
            Self::Forbidden => "Not allowed",
            Self::NotFound => "Not found",
            Self::SoldOut => "Sold out",
            Self::InvalidState => "Not allowed in the current state",
            Self::Conflict => "Conflict",
            Self::VersionMismatch => "Version mismatch",
            Self::PreconditionRequired => "If-Match required",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::PayloadTooLarge => "Payload too large",
            Self::RateLimited => "Too many requests",
            Self::Unavailable => "Service unavailable",
            Self::Timeout => "Upstream timeout",
            Self::Internal => "Internal error",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field's name as the client sent it (`check_out`, `price.amount`).
    pub field: String,
    /// What is wrong with it, for a person.
    pub message: String,
}

/// An error any service can return: a stable code, a message safe to show, field details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    /// The stable code.
    pub code: ErrorCode,
    /// A message for the client; never internal names, SQL or stack traces.
    pub message: String,
    /// Per-field problems, for `validation_failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Error {
    /// An error with a code and a client-safe message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    /// A 422 naming one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        Self {
            code: ErrorCode::ValidationFailed,
            message: format!("{field}: {message}"),
            errors: vec![FieldError { field, message }],
        }
    }

    /// A 422 naming several fields.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let message = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            code: ErrorCode::ValidationFailed,
            message,
            errors,
        }
    }

    /// A 404 for a kind of object and its id.
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} {id} not found"))
    }

    /// A 400 for a malformed request.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// A 409 `sold_out`.
    pub fn sold_out(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::SoldOut, message)
    }

    /// A 409 `invalid_state`.
    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidState, message)
    }

    /// A 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// A 412 `version_mismatch`, naming the current version.
    pub fn version_mismatch(current: i64) -> Self {
        Self::new(
            ErrorCode::VersionMismatch,
            format!("the resource has changed; its current version is {current}"),
        )
    }

    /// A 503 `unavailable`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    /// A 500. The cause is logged here, once, and never shown to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        // The one place internal causes are recorded; clients only see the generic message.
        eprintln_internal(&cause.to_string());
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// Adds a field to a validation error (builder style).
    pub fn with_field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
        self
    }
}

/// Internal causes go to the log through `tracing` in the services; the kernel has no logger,
/// so the platform installs one with [`set_internal_error_hook`].
static INTERNAL_HOOK: std::sync::OnceLock<fn(&str)> = std::sync::OnceLock::new();

/// Installs the function that records internal error causes (the platform routes it to tracing).
pub fn set_internal_error_hook(hook: fn(&str)) {
    let _ = INTERNAL_HOOK.set(hook);
}

fn eprintln_internal(cause: &str) {
    if let Some(hook) = INTERNAL_HOOK.get() {
        hook(cause);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_string_form() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            let json = serde_json::to_string(&code).expect("serialises");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        assert_eq!(ErrorCode::parse("nope"), None);
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = Error::internal("relation \"hotels\" does not exist");
        assert_eq!(err.message, "internal error");
        assert_eq!(err.code.http_status(), 500);
    }

    #[test]
    fn field_errors_name_the_field() {
        let err = Error::invalid_field("check_out", "must be after check_in");
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        assert_eq!(err.errors[0].field, "check_out");
        assert!(err.message.contains("check_out"));
    }
}
