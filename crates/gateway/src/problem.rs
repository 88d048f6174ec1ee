//! Errors as RFC 9457 problem documents (`application/problem+json`).
//!
//! Handlers fail with [`ApiError`], which wraps the kernel's [`Error`]: its code gives the
//! status, its message the `detail`, its field errors the `errors` member. Responses that did
//! not come from an `ApiError` (axum's bare 405, a 413 from a body limit, a panic) are turned
//! into problem documents by [`render_problems`] and [`panic_response`], so a client of `/api`
//! never has to parse anything but a problem.

use std::any::Any;

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use innkeeper_kernel::{Error, ErrorCode, FieldError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";
/// Problem `type` URIs are this prefix followed by the code.
const TYPE_PREFIX: &str = "https://innkeeper.dev/problems/";

/// An RFC 9457 problem document, the body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "https://innkeeper.dev/problems/validation_failed",
    "title": "Invalid input",
    "status": 422,
    "detail": "check_out: must be after check_in",
    "code": "validation_failed",
    "errors": [{"field": "check_out", "message": "must be after check_in"}],
    "instance": "/api/v1/availability"
}))]
pub struct Problem {
    /// A URI naming the kind of problem: `https://innkeeper.dev/problems/<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for a person.
    pub detail: String,
    /// Stable machine code (`sold_out`, `version_mismatch`, `validation_failed`, ...).
    pub code: String,
    /// The invalid fields, for `validation_failed` and `invalid_request`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

impl Problem {
    /// The problem document of a kernel error.
    pub fn from_error(err: &Error) -> Self {
        Self::new(
            err.code.http_status(),
            err.code.as_str(),
            err.code.title(),
            &err.message,
            err.errors.clone(),
        )
    }

    fn new(status: u16, code: &str, title: &str, detail: &str, errors: Vec<FieldError>) -> Self {
        Self {
            problem_type: format!("{TYPE_PREFIX}{code}"),
            title: title.to_owned(),
            status,
            detail: detail.to_owned(),
            code: code.to_owned(),
            errors,
            instance: None,
        }
    }

    /// A problem for a response that carried only a status (axum's own 405, 413, ...).
    fn from_status(status: StatusCode, method: &Method) -> Self {
        let known = ErrorCode::ALL.into_iter().find(|c| {
            c.http_status() == status.as_u16()
                && !matches!(c, ErrorCode::SoldOut | ErrorCode::InvalidState)
        });
        match (status, known) {
            (StatusCode::METHOD_NOT_ALLOWED, _) => Self::new(
                405,
                "method_not_allowed",
                "Method not allowed",
                &format!(
                    "{method} is not allowed on this resource; the Allow header lists what is"
                ),
                Vec::new(),
            ),
            (StatusCode::PAYLOAD_TOO_LARGE, _) => Self::from_error(&payload_too_large()),
            (_, Some(code)) => Self::new(
                status.as_u16(),
                code.as_str(),
                code.title(),
                code.title(),
                Vec::new(),
            ),
            (_, None) => {
                let reason = status.canonical_reason().unwrap_or("Error");
                let code = reason.to_ascii_lowercase().replace([' ', '-'], "_");
                Self::new(status.as_u16(), &code, reason, reason, Vec::new())
            }
        }
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            body,
        )
            .into_response();
        if self.status == 503 {
            // api.md: a dependency that is down is reported fast, with a hint when to retry.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// The error every handler returns: a kernel [`Error`] that knows its HTTP form.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        Self(err)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.0.code == ErrorCode::Internal {
            // The cause was recorded where the error was made; this marks which request saw it.
            tracing::error!(code = %self.0.code, "request failed with an internal error");
        }
        Problem::from_error(&self.0).into_response()
    }
}

/// The 413 of a body over the limit.
pub(crate) fn payload_too_large() -> Error {
    Error::new(
        ErrorCode::PayloadTooLarge,
        "the request body is larger than the server accepts",
    )
}

/// Middleware: adds `instance` to problem documents and turns bare error responses (such as
/// axum's empty 405) into problem documents, keeping their headers (`Allow`).
pub(crate) async fn render_problems(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let mut response = next.run(request).await;
    let problem = match response.extensions_mut().remove::<Problem>() {
        Some(problem) => problem,
        None if is_bare_error(&response) => Problem::from_status(response.status(), &method),
        None => return response,
    };
    let problem = Problem {
        instance: Some(path),
        ..problem
    };
    let (mut parts, _) = response.into_parts();
    let rendered = problem.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in rendered.headers() {
        parts.headers.insert(name.clone(), value.clone());
    }
    let (_, body) = rendered.into_parts();
    Response::from_parts(parts, body)
}

/// An error response that is not JSON: axum's own (empty 405, plain-text rejections) or a
/// layer's. Its text is dropped: it may name internal types.
fn is_bare_error(response: &Response) -> bool {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with(PROBLEM_JSON));
    (status.is_client_error() || status.is_server_error()) && !is_json
}

/// Handler for any path under `/api` that names no endpoint.
pub(crate) async fn unknown_route() -> ApiError {
    ApiError(Error::new(
        ErrorCode::NotFound,
        "no endpoint at this path; the API is described at /api/openapi.json",
    ))
}

/// The response to a panic in a handler: a 500 problem; the panic message goes to the log only.
pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic payload");
    tracing::error!(panic = message, "a request handler panicked");
    let problem = Problem::from_error(&Error::new(ErrorCode::Internal, "internal error"));
    let mut response = problem.into_response();
    response.extensions_mut().remove::<Problem>();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_error_becomes_a_problem_with_its_status_and_fields() {
        let err = Error::invalid_field("guests", "must be between 1 and 50");
        let problem = Problem::from_error(&err);
        assert_eq!(problem.status, 422);
        assert_eq!(problem.code, "validation_failed");
        assert_eq!(
            problem.problem_type,
            "https://innkeeper.dev/problems/validation_failed"
        );
        assert_eq!(problem.errors[0].field, "guests");
        let json = serde_json::to_value(&problem).expect("serialises");
        assert_eq!(
            json["type"],
            "https://innkeeper.dev/problems/validation_failed"
        );
        assert!(json.get("instance").is_none());
    }

    #[test]
    fn bare_statuses_get_stable_codes() {
        assert_eq!(
            Problem::from_status(StatusCode::METHOD_NOT_ALLOWED, &Method::DELETE).code,
            "method_not_allowed"
        );
        assert_eq!(
            Problem::from_status(StatusCode::PAYLOAD_TOO_LARGE, &Method::POST).code,
            "payload_too_large"
        );
        assert_eq!(
            Problem::from_status(StatusCode::CONFLICT, &Method::POST).code,
            "conflict"
        );
        assert_eq!(
            Problem::from_status(StatusCode::NOT_FOUND, &Method::GET).code,
            "not_found"
        );
        assert_eq!(
            Problem::from_status(StatusCode::REQUEST_TIMEOUT, &Method::GET).code,
            "request_timeout"
        );
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let response = ApiError(Error::unavailable("catalog is down")).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }
}
