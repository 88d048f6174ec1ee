//! Email addresses: normalised (trimmed, lower-cased) before they are compared or stored, so
//! `Ana@Example.com ` and `ana@example.com` are one account.

use innkeeper_kernel::{Error, Result};

/// Longest address accepted (RFC 5321's path limit less the brackets).
pub(crate) const MAX_EMAIL_LEN: usize = 254;

/// The normalised form of `raw`, or a 422 naming `field`.
///
/// The check is deliberately shallow (one `@`, a non-empty local part of at most 64
/// characters, a dotted domain, no spaces or control characters): the only real proof of an
/// address is a message that arrives.
pub(crate) fn normalize(field: &str, raw: &str) -> Result<String> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(Error::invalid_field(field, "must not be empty"));
    }
    if email.chars().count() > MAX_EMAIL_LEN {
        return Err(Error::invalid_field(
            field,
            format!("must be at most {MAX_EMAIL_LEN} characters long"),
        ));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid_field(
            field,
            "must not contain spaces or control characters",
        ));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(Error::invalid_field(
            field,
            "must be an email address (name@example.com)",
        ));
    };
    if local.is_empty() || domain.contains('@') {
        return Err(Error::invalid_field(
            field,
            "must be an email address (name@example.com)",
        ));
    }
    if local.chars().count() > 64 {
        return Err(Error::invalid_field(
            field,
            "the part before @ must be at most 64 characters long",
        ));
    }
    if !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return Err(Error::invalid_field(
            field,
            "the part after @ must be a domain such as example.com",
        ));
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        assert_eq!(
            normalize("email", "  Ana.Silva@Example.COM ").expect("valid"),
            "ana.silva@example.com"
        );
        assert_eq!(
            normalize("email", "ÅSA@bücher.de").expect("valid"),
            "åsa@bücher.de"
        );
    }

    #[test]
    fn malformed_addresses_are_refused_with_the_reason() {
        for (raw, message) in [
            ("", "must not be empty"),
            ("   ", "must not be empty"),
            ("ana", "must be an email address (name@example.com)"),
            (
                "@example.com",
                "must be an email address (name@example.com)",
            ),
            (
                "a@b@example.com",
                "must be an email address (name@example.com)",
            ),
            (
                "ana@localhost",
                "the part after @ must be a domain such as example.com",
            ),
            (
                "ana@example..com",
                "the part after @ must be a domain such as example.com",
            ),
            (
                "ana@example.com.",
                "the part after @ must be a domain such as example.com",
            ),
            (
                "an a@example.com",
                "must not contain spaces or control characters",
            ),
        ] {
            let err = normalize("email", raw).expect_err(raw);
            assert_eq!(err.errors[0].field, "email", "{raw}");
            assert_eq!(err.errors[0].message, message, "{raw}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(normalize("email", &long_local).is_err());
        let long = format!("a@{}.com", "b".repeat(260));
        assert_eq!(
            normalize("email", &long).expect_err("long").errors[0].message,
            "must be at most 254 characters long"
        );
    }
}
