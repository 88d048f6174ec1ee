//! The hosted checkout page: where the payer's browser is sent to pay an intent.
//!
//! `GET /checkout/{id}` shows the amount and a card number field (one self-contained page, no
//! external assets, no script). `POST /checkout/{id}` pays with the test card whose number was
//! typed, records the outcome (and queues its webhook), then sends the browser back to the
//! intent's `return_url` with `payment_intent` and `redirect_status` (`succeeded`,
//! `processing` or `failed`) added to its query, as Stripe does. A number that is no test card
//! shows the form again (422) and changes nothing.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AppState;
use crate::app::Paid;
use crate::domain::{Attempt, IntentStatus, PaymentIntent, TEST_CARDS};

/// The checkout routes (no API key: the payer's browser calls them).
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/checkout/{id}", get(show).post(pay))
}

/// The posted form.
#[derive(Debug, Deserialize)]
pub struct CheckoutForm {
    /// The card number as typed (spaces allowed).
    pub card_number: String,
}

async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.service.store().get_intent(&id).await {
        Ok(Some(intent)) => page(http::StatusCode::OK, &intent, None),
        Ok(None) => message_page(
            http::StatusCode::NOT_FOUND,
            "Payment not found",
            "There is no payment with this link.",
            None,
        ),
        Err(err) => {
            tracing::error!(error = %err.message, "checkout page");
            message_page(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "The payment page is unavailable; try again in a moment.",
                None,
            )
        }
    }
}

async fn pay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Result<Form<CheckoutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let intent = match state.service.store().get_intent(&id).await {
        Ok(Some(intent)) => intent,
        Ok(None) => {
            return message_page(
                http::StatusCode::NOT_FOUND,
                "Payment not found",
                "There is no payment with this link.",
                None,
            );
        }
        Err(err) => {
            tracing::error!(error = %err.message, "checkout payment");
            return message_page(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "The payment page is unavailable; try again in a moment.",
                None,
            );
        }
    };
    let card = form
        .ok()
        .and_then(|Form(form)| crate::domain::TestCard::from_number(&form.card_number));
    let Some(card) = card else {
        return page(
            http::StatusCode::UNPROCESSABLE_ENTITY,
            &intent,
            Some("This is not a test card number. Use one of the numbers listed below."),
        );
    };
    match state.service.pay(&id, card, None).await {
        Ok(Paid::Ran {
            intent, attempt, ..
        }) => {
            let status = match attempt {
                Attempt::Succeeded => "succeeded",
                Attempt::Processing => "processing",
                Attempt::Failed(_) => "failed",
            };
            back_to_merchant(&intent, status)
        }
        // Without a key nothing is replayed; answer from the intent as it was read.
        Ok(Paid::Replayed(_)) => back_to_merchant(&intent, "failed"),
        Err(err) if err.code.as_deref() == Some("payment_intent_unexpected_state") => message_page(
            http::StatusCode::CONFLICT,
            "Nothing to pay",
            &format!("This payment is {} already.", status_words(intent.status)),
            Some(&intent.return_url),
        ),
        Err(err) => message_page(
            http::StatusCode::from_u16(err.status)
                .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            "Try again",
            &err.message,
            None,
        ),
    }
}

/// 303 to the merchant's return URL with the outcome in its query.
fn back_to_merchant(intent: &PaymentIntent, redirect_status: &str) -> Response {
    match reqwest::Url::parse(&intent.return_url) {
        Ok(mut url) => {
            url.query_pairs_mut()
                .append_pair("payment_intent", &intent.id)
                .append_pair("redirect_status", redirect_status);
            Redirect::to(url.as_str()).into_response()
        }
        // Validated at creation; a stored URL that no longer parses is shown, not followed.
        Err(_) => message_page(
            http::StatusCode::OK,
            "Payment recorded",
            "You may close this page.",
            None,
        ),
    }
}

fn status_words(status: IntentStatus) -> &'static str {
    match status {
        IntentStatus::RequiresPaymentMethod => "waiting for a card",
        IntentStatus::Processing => "being processed",
        IntentStatus::Succeeded => "paid",
        IntentStatus::Canceled => "canceled",
    }
}

/// Minor units in the currency's major unit (no decimals for zero-decimal currencies).
pub fn format_amount(amount: i64, currency: &str) -> String {
    const ZERO_DECIMAL: [&str; 16] = [
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
        "xaf", "xof", "xpf",
    ];
    let code = currency.to_ascii_uppercase();
    if ZERO_DECIMAL.contains(&currency) {
        format!("{amount} {code}")
    } else {
        format!("{}.{:02} {code}", amount / 100, amount % 100)
    }
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:2rem}\
main{max-width:26rem;margin:auto;background:#fff;border-radius:8px;padding:1.5rem 2rem;\
box-shadow:0 1px 4px rgba(0,0,0,.15)}h1{font-size:1.2rem}.amount{font-size:2rem;margin:.5rem 0}\
label{display:block;margin-top:1rem}input{width:100%;box-sizing:border-box;padding:.6rem;\
font-size:1rem}button{margin-top:1rem;width:100%;padding:.7rem;font-size:1rem;background:#2d5be3;\
color:#fff;border:0;border-radius:4px}.error{color:#b00020}small,td{color:#555}table{font-size:.85rem}";

fn html(status: http::StatusCode, title: &str, body: &str) -> Response {
    let document = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    );
    let mut response = (status, Html(document)).into_response();
    // The page pays: never cache it, never frame it.
    let headers = response.headers_mut();
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        http::header::X_FRAME_OPTIONS,
        http::HeaderValue::from_static("DENY"),
    );
    response
}

fn page(status: http::StatusCode, intent: &PaymentIntent, problem: Option<&str>) -> Response {
    if intent.status != IntentStatus::RequiresPaymentMethod {
        return message_page(
            http::StatusCode::OK,
            "Nothing to pay",
            &format!("This payment is {}.", status_words(intent.status)),
            Some(&intent.return_url),
        );
    }
    let description = intent
        .description
        .as_deref()
        .map(|d| format!("<p>{}</p>", escape(d)))
        .unwrap_or_default();
    let last_error = problem
        .map(str::to_owned)
        .or_else(|| {
            intent
                .last_payment_error
                .as_ref()
                .map(|e| e.message.clone())
        })
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(&m)))
        .unwrap_or_default();
    let cards: String = TEST_CARDS
        .iter()
        .map(|(card, number, _)| {
            format!("<tr><td><code>{number}</code></td><td>{card:?}</td></tr>")
        })
        .collect();
    let body = format!(
        "<h1>Pay Innkeeper</h1>{description}<div class=\"amount\">{amount}</div>{last_error}\
         <form method=\"post\"><label for=\"card_number\">Card number</label>\
         <input id=\"card_number\" name=\"card_number\" inputmode=\"numeric\" autocomplete=\"cc-number\" \
         required placeholder=\"4242 4242 4242 4242\">\
         <button type=\"submit\">Pay {amount}</button></form>\
         <details><summary><small>Test cards</small></summary><table>{cards}</table></details>\
         <p><small>Payment {id}. Test mode: no real card is charged.</small></p>",
        amount = escape(&format_amount(intent.amount, &intent.currency)),
        id = escape(&intent.id),
    );
    html(status, "Checkout", &body)
}

fn message_page(status: http::StatusCode, title: &str, text: &str, back: Option<&str>) -> Response {
    let link = back
        .map(|url| {
            format!(
                "<p><a href=\"{}\">Back to the merchant</a></p>",
                escape(url)
            )
        })
        .unwrap_or_default();
    html(
        status,
        title,
        &format!("<h1>{}</h1><p>{}</p>{link}", escape(title), escape(text)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_shown_in_major_units() {
        assert_eq!(format_amount(12_900, "eur"), "129.00 EUR");
        assert_eq!(format_amount(5, "usd"), "0.05 USD");
        assert_eq!(format_amount(1500, "jpy"), "1500 JPY");
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape("<b a=\"1\">&'"),
            "&lt;b a=&quot;1&quot;&gt;&amp;&#39;"
        );
    }
}
