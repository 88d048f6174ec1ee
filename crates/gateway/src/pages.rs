//! The page a guest's browser lands on after the hosted checkout (`booking.payment_return_url`,
//! `/bookings/{id}` by default): the processor redirects there with `redirect_status`. It says
//! what happened and where the booking can be read; it shows nothing of the booking itself (the
//! browser carries no access token), so it needs none.

use axum::extract::{Path, Query};
use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

/// The query the processor adds to the return URL.
#[derive(Debug, Deserialize)]
pub(crate) struct Returned {
    #[serde(default)]
    redirect_status: Option<String>,
}

/// `GET /bookings/{id}`: the landing page after paying.
pub(crate) async fn payment_return(
    Path(id): Path<String>,
    Query(returned): Query<Returned>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return (
            StatusCode::NOT_FOUND,
            Html(page("Not found", "No such booking.".into())),
        )
            .into_response();
    };
    let (title, message) = match returned.redirect_status.as_deref() {
        Some("succeeded") => (
            "Payment received",
            "Thank you: your payment went through. Your booking is confirmed in a moment.",
        ),
        Some("processing") => (
            "Payment processing",
            "Your payment is being processed; your booking is confirmed as soon as it completes.",
        ),
        Some("failed") => (
            "Payment declined",
            "Your payment did not go through, and the booking was not confirmed. You may book again.",
        ),
        _ => ("Your booking", "Your booking's status is shown in the app."),
    };
    let body = format!(
        "{message}</p><p>Booking <code>{id}</code>: <code>GET /api/v1/bookings/{id}</code> \
         with your access token shows it."
    );
    Html(page(title, body)).into_response()
}

/// A small self-contained page (no external assets). `body` is trusted markup (built here
/// from fixed text and a parsed UUID only).
fn page(title: &str, body: String) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Innkeeper</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;\
         padding:0 1rem;color:#222}}h1{{font-size:1.6rem}}code{{font-size:.9em}}</style>\
         </head><body><h1>{title}</h1><p>{body}</p></body></html>"
    )
}
