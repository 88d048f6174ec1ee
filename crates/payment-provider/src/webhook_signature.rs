//! Webhook signatures as [Standard Webhooks](https://www.standardwebhooks.com/) defines them:
//! the provider signs, the payment service verifies with the same functions.
//!
//! - Three headers: `webhook-id` (the event id, the same on every retry), `webhook-timestamp`
//!   (unix seconds of the attempt) and `webhook-signature`.
//! - The signed content is `{id}.{timestamp}.{body}`; a signature is
//!   `v1,` + base64(HMAC-SHA256(key, content)).
//! - A secret is `whsec_` + base64 of the key bytes. During a rotation the sender signs with
//!   every active secret and sends the signatures space-separated; a receiver accepts the
//!   message if any of them matches any secret it holds.
//! - A receiver refuses timestamps more than five minutes away from its clock, either way, so a
//!   captured message cannot be replayed later.

use std::fmt;

use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use time::{Duration, OffsetDateTime};

/// The header carrying the message id.
pub const ID_HEADER: &str = "webhook-id";
/// The header carrying the attempt's unix timestamp in seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The header carrying the space-separated signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// How far a timestamp may be from the receiver's clock: five minutes, as the spec advises.
pub const DEFAULT_TOLERANCE: Duration = Duration::minutes(5);

const SECRET_PREFIX: &str = "whsec_";
const VERSION: &str = "v1";

/// A signing secret: the key bytes behind a `whsec_<base64>` string. Its `Debug` hides them.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(whsec_***)")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>` (the prefix may be left out, as the reference libraries allow).
    pub fn parse(text: &str) -> Result<Self, InvalidSecret> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .unwrap_or(text.trim());
        let key = STANDARD.decode(encoded).map_err(|_| InvalidSecret)?;
        // The spec asks for 24 to 64 bytes; fewer would be guessable.
        if key.len() < 16 {
            return Err(InvalidSecret);
        }
        Ok(Self { key })
    }

    /// A new random 32-byte secret.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        rand::fill(&mut key[..]);
        Self { key }
    }

    /// The `whsec_<base64>` form, for configuration files. Handle with care: it is the secret.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    fn tag(&self, id: &str, timestamp: i64, body: &[u8]) -> hmac::Tag {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.key);
        let mut context = hmac::Context::with_key(&key);
        context.update(id.as_bytes());
        context.update(b".");
        context.update(timestamp.to_string().as_bytes());
        context.update(b".");
        context.update(body);
        context.sign()
    }
}

/// A secret that is not `whsec_` followed by at least 16 base64-encoded bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidSecret;

impl fmt::Display for InvalidSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a webhook secret must be whsec_ followed by at least 16 base64-encoded bytes")
    }
}

impl std::error::Error for InvalidSecret {}

/// One signature, `v1,<base64>`, of a message under one secret.
pub fn signature(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = secret.tag(id, timestamp, body);
    format!("{VERSION},{}", STANDARD.encode(tag.as_ref()))
}

/// The `webhook-signature` header value: one signature per active secret, space-separated.
pub fn sign(secrets: &[WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| signature(secret, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// A `webhook-*` header is missing or not text.
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not an integer.
    InvalidTimestamp,
    /// The timestamp is older than the tolerance (a replay, or a very late retry).
    TooOld,
    /// The timestamp is further in the future than the tolerance.
    TooNew,
    /// No `v1` signature matches any secret.
    NoMatchingSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::MissingHeader(name) => write!(f, "the {name} header is missing"),
            VerifyError::InvalidTimestamp => f.write_str("webhook-timestamp is not an integer"),
            VerifyError::TooOld => f.write_str("webhook-timestamp is too old"),
            VerifyError::TooNew => f.write_str("webhook-timestamp is too far in the future"),
            VerifyError::NoMatchingSignature => f.write_str("no signature matches"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Checks a message: the timestamp within `tolerance` of `now`, then some `v1` signature of
/// the header matching some secret (compared in constant time).
pub fn verify(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: OffsetDateTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let seconds: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::InvalidTimestamp)?;
    let skew = seconds.saturating_sub(now.unix_timestamp());
    if skew < -tolerance.whole_seconds() {
        return Err(VerifyError::TooOld);
    }
    if skew > tolerance.whole_seconds() {
        return Err(VerifyError::TooNew);
    }
    let offered: Vec<Vec<u8>> = signatures
        .split(' ')
        .filter_map(|candidate| candidate.split_once(','))
        .filter(|(version, _)| *version == VERSION)
        .filter_map(|(_, encoded)| STANDARD.decode(encoded).ok())
        .collect();
    for secret in secrets {
        let expected = secret.tag(id, seconds, body);
        for candidate in &offered {
            if constant_time::verify_slices_are_equal(expected.as_ref(), candidate).is_ok() {
                return Ok(());
            }
        }
    }
    Err(VerifyError::NoMatchingSignature)
}

/// [`verify`] reading the three headers; returns the message id (for replay protection).
pub fn verify_headers<'h>(
    secrets: &[WebhookSecret],
    headers: &'h http::HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
    tolerance: Duration,
) -> Result<&'h str, VerifyError> {
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(VerifyError::MissingHeader(name))
    };
    let id = header(ID_HEADER)?;
    verify(
        secrets,
        id,
        header(TIMESTAMP_HEADER)?,
        header(SIGNATURE_HEADER)?,
        body,
        now,
        tolerance,
    )?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The reference vector published with the Standard Webhooks specification.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn spec_secret() -> WebhookSecret {
        WebhookSecret::parse(SPEC_SECRET).expect("spec secret")
    }

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).expect("instant")
    }

    fn check(
        secrets: &[WebhookSecret],
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        verify(
            secrets,
            SPEC_ID,
            &SPEC_TIMESTAMP.to_string(),
            signatures,
            body,
            at(now),
            DEFAULT_TOLERANCE,
        )
    }

    #[test]
    fn signing_reproduces_the_spec_vector() {
        assert_eq!(
            signature(&spec_secret(), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY),
            SPEC_SIGNATURE
        );
    }

    #[test]
    fn the_spec_vector_verifies() {
        assert_eq!(
            check(&[spec_secret()], SPEC_SIGNATURE, SPEC_BODY, SPEC_TIMESTAMP),
            Ok(())
        );
    }

    #[test]
    fn a_tampered_body_is_refused() {
        assert_eq!(
            check(
                &[spec_secret()],
                SPEC_SIGNATURE,
                br#"{"test": 2432232315}"#,
                SPEC_TIMESTAMP
            ),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn a_tampered_id_is_refused() {
        let result = verify(
            &[spec_secret()],
            "msg_other",
            &SPEC_TIMESTAMP.to_string(),
            SPEC_SIGNATURE,
            SPEC_BODY,
            at(SPEC_TIMESTAMP),
            DEFAULT_TOLERANCE,
        );
        assert_eq!(result, Err(VerifyError::NoMatchingSignature));
    }

    #[test]
    fn a_wrong_secret_is_refused() {
        assert_eq!(
            check(
                &[WebhookSecret::generate()],
                SPEC_SIGNATURE,
                SPEC_BODY,
                SPEC_TIMESTAMP
            ),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_refused_at_the_edge_of_the_tolerance() {
        let secrets = [spec_secret()];
        let five_minutes = DEFAULT_TOLERANCE.whole_seconds();
        assert_eq!(
            check(
                &secrets,
                SPEC_SIGNATURE,
                SPEC_BODY,
                SPEC_TIMESTAMP + five_minutes
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &secrets,
                SPEC_SIGNATURE,
                SPEC_BODY,
                SPEC_TIMESTAMP + five_minutes + 1
            ),
            Err(VerifyError::TooOld)
        );
        assert_eq!(
            check(
                &secrets,
                SPEC_SIGNATURE,
                SPEC_BODY,
                SPEC_TIMESTAMP - five_minutes
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &secrets,
                SPEC_SIGNATURE,
                SPEC_BODY,
                SPEC_TIMESTAMP - five_minutes - 1
            ),
            Err(VerifyError::TooNew)
        );
    }

    #[test]
    fn a_timestamp_that_is_no_number_is_refused() {
        let result = verify(
            &[spec_secret()],
            SPEC_ID,
            "yesterday",
            SPEC_SIGNATURE,
            SPEC_BODY,
            at(SPEC_TIMESTAMP),
            DEFAULT_TOLERANCE,
        );
        assert_eq!(result, Err(VerifyError::InvalidTimestamp));
    }

    #[test]
    fn during_a_rotation_either_secret_verifies() {
        let (old, new) = (spec_secret(), WebhookSecret::generate());
        let header = sign(
            &[new.clone(), old.clone()],
            SPEC_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
        );
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.contains(SPEC_SIGNATURE), "{header}");
        // A receiver still on the old secret, one already on the new, one holding both.
        for receiver in [vec![old.clone()], vec![new.clone()], vec![old, new]] {
            assert_eq!(check(&receiver, &header, SPEC_BODY, SPEC_TIMESTAMP), Ok(()));
        }
        // One that holds neither.
        assert_eq!(
            check(
                &[WebhookSecret::generate()],
                &header,
                SPEC_BODY,
                SPEC_TIMESTAMP
            ),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn unknown_versions_and_garbage_are_skipped() {
        let header = format!(
            "v1a,AAAA v2,{} junk v1,%%% {SPEC_SIGNATURE}",
            &SPEC_SIGNATURE[3..]
        );
        assert_eq!(
            check(&[spec_secret()], &header, SPEC_BODY, SPEC_TIMESTAMP),
            Ok(())
        );
        let without_v1 = format!("v2,{}", &SPEC_SIGNATURE[3..]);
        assert_eq!(
            check(&[spec_secret()], &without_v1, SPEC_BODY, SPEC_TIMESTAMP),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn headers_are_read_and_the_id_returned() {
        let mut headers = http::HeaderMap::new();
        headers.insert(ID_HEADER, SPEC_ID.parse().expect("id"));
        headers.insert(
            TIMESTAMP_HEADER,
            SPEC_TIMESTAMP.to_string().parse().expect("ts"),
        );
        assert_eq!(
            verify_headers(
                &[spec_secret()],
                &headers,
                SPEC_BODY,
                at(SPEC_TIMESTAMP),
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
        );
        headers.insert(SIGNATURE_HEADER, SPEC_SIGNATURE.parse().expect("sig"));
        assert_eq!(
            verify_headers(
                &[spec_secret()],
                &headers,
                SPEC_BODY,
                at(SPEC_TIMESTAMP),
                DEFAULT_TOLERANCE
            ),
            Ok(SPEC_ID)
        );
    }

    #[test]
    fn secrets_round_trip_and_short_ones_are_refused() {
        let secret = WebhookSecret::generate();
        assert_eq!(WebhookSecret::parse(&secret.expose()), Ok(secret.clone()));
        assert!(!format!("{secret:?}").contains(&secret.expose()[6..]));
        assert_eq!(WebhookSecret::parse("whsec_c2hvcnQ="), Err(InvalidSecret));
        assert_eq!(
            WebhookSecret::parse("whsec_not base64!"),
            Err(InvalidSecret)
        );
    }
}
