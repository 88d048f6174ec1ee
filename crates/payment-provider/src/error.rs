//! The provider's error answers.
//!
//! This crate imitates an external processor, so it speaks that processor's format rather than
//! Innkeeper's `application/problem+json`: a Stripe-shaped
//! `{"error": {"type", "code", "message", "param", "decline_code"?, "payment_intent"?}}`, with
//! Stripe's types (`api_error`, `card_error`, `idempotency_error`, `invalid_request_error`).
//! The payment service maps these to its own errors; clients of Innkeeper never see them.

use axum::Json;
use axum::response::{IntoResponse, Response};
use innkeeper_kernel::{Error, ErrorCode};
use serde_json::{Value, json};

/// An error answer, with its HTTP status (boxed: results stay small).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderError(Box<ErrorBody>);

/// What an error answer says.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorBody {
    pub status: u16,
    /// Stripe's error type.
    pub kind: &'static str,
    /// A stable code (`resource_missing`, `card_declined`, ...).
    pub code: Option<String>,
    /// For a person.
    pub message: String,
    /// The parameter at fault.
    pub param: Option<String>,
    /// For card declines.
    pub decline_code: Option<String>,
    /// The intent as it is after a failed attempt (Stripe includes it in card errors).
    pub payment_intent: Option<Value>,
}

impl std::ops::Deref for ProviderError {
    type Target = ErrorBody;
    fn deref(&self) -> &ErrorBody {
        &self.0
    }
}

impl From<ErrorBody> for ProviderError {
    fn from(body: ErrorBody) -> Self {
        Self(Box::new(body))
    }
}

impl ErrorBody {
    fn new(
        status: u16,
        kind: &'static str,
        code: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            code: code.map(str::to_owned),
            message: message.into(),
            param: None,
            decline_code: None,
            payment_intent: None,
        }
    }
}

impl ProviderError {
    fn new(
        status: u16,
        kind: &'static str,
        code: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        ErrorBody::new(status, kind, code, message).into()
    }

    /// A failure on the provider's side (`api_error`).
    pub fn api(status: u16, message: impl Into<String>) -> Self {
        Self::new(status, "api_error", None, message)
    }

    /// A bad parameter: 400 `invalid_request_error` naming it.
    pub fn invalid_param(param: &str, code: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            param: Some(param.to_owned()),
            ..ErrorBody::new(400, "invalid_request_error", Some(code), message)
        }
        .into()
    }

    /// A request that cannot be parsed: 400 `invalid_request_error`.
    pub fn invalid_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", Some(code), message)
    }

    /// No such object: 404 `resource_missing`.
    pub fn missing(param: &str, what: &str, id: &str) -> Self {
        ErrorBody {
            param: Some(param.to_owned()),
            ..ErrorBody::new(
                404,
                "invalid_request_error",
                Some("resource_missing"),
                format!("No such {what}: '{id}'"),
            )
        }
        .into()
    }

    /// No or a wrong API key: 401.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(401, "invalid_request_error", None, message)
    }

    /// An idempotency key reused with other parameters: 400 `idempotency_error`.
    pub fn idempotency_mismatch() -> Self {
        Self::new(
            400,
            "idempotency_error",
            Some("idempotency_key_in_use"),
            "Keys for idempotent requests can only be used with the same parameters they were \
             first used with.",
        )
    }

    /// The intent's status forbids the action: 400 `payment_intent_unexpected_state`.
    pub fn unexpected_state(message: impl Into<String>, intent: Value) -> Self {
        ErrorBody {
            payment_intent: Some(intent),
            ..ErrorBody::new(
                400,
                "invalid_request_error",
                Some("payment_intent_unexpected_state"),
                message,
            )
        }
        .into()
    }
}

impl ErrorBody {
    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut error = json!({
            "type": self.kind,
            "code": self.code,
            "message": self.message,
            "param": self.param,
        });
        if let Some(decline_code) = &self.decline_code {
            error["decline_code"] = json!(decline_code);
        }
        if let Some(intent) = &self.payment_intent {
            error["payment_intent"] = intent.clone();
        }
        json!({ "error": error })
    }
}

impl From<Error> for ProviderError {
    fn from(err: Error) -> Self {
        match err.code {
            ErrorCode::Unavailable => ProviderError::api(503, err.message),
            ErrorCode::Conflict | ErrorCode::VersionMismatch => ProviderError::new(
                409,
                "invalid_request_error",
                Some("lock_timeout"),
                "This object is being changed by another request; try again.",
            ),
            ErrorCode::NotFound => ProviderError::new(
                404,
                "invalid_request_error",
                Some("resource_missing"),
                err.message,
            ),
            _ => {
                // Internals are logged once, never shown.
                tracing::error!(error = %err.message, "payment provider failure");
                ProviderError::api(500, "An unexpected error occurred.")
            }
        }
    }
}

impl IntoResponse for ProviderError {
    fn into_response(self) -> Response {
        let status = http::StatusCode::from_u16(self.status)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.body())).into_response()
    }
}
