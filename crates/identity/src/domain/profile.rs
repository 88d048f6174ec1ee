//! Profile fields: the display name, phone number and Telegram chat id.

use innkeeper_kernel::{Error, Result};

/// Longest display name, in characters.
pub(crate) const MAX_NAME_LEN: usize = 100;

/// A trimmed, non-empty name of at most [`MAX_NAME_LEN`] characters.
pub(crate) fn name(field: &str, raw: &str) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Error::invalid_field(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(Error::invalid_field(
            field,
            format!("must be at most {MAX_NAME_LEN} characters long"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid_field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

/// An E.164 number (`+` then 8 to 15 digits; spaces and dashes are dropped); an empty string
/// clears the field (`None`).
pub(crate) fn phone(field: &str, raw: &str) -> Result<Option<String>> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let compact: String = trimmed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    let digits = compact.strip_prefix('+').unwrap_or("");
    if digits.len() < 8 || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid_field(
            field,
            "must be an international number such as +351912345678",
        ));
    }
    Ok(Some(compact))
}

/// A Telegram chat id (an integer, negative for groups); an empty string clears it.
pub(crate) fn telegram_chat_id(field: &str, raw: &str) -> Result<Option<String>> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    match trimmed.parse::<i64>() {
        Ok(id) if id != 0 => Ok(Some(id.to_string())),
        _ => Err(Error::invalid_field(
            field,
            "must be a Telegram chat id (a non-zero integer)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("name", "  Ana Silva ").expect("valid"), "Ana Silva");
        assert_eq!(
            name("name", " ").expect_err("empty").errors[0].message,
            "must not be empty"
        );
        assert!(name("name", &"x".repeat(101)).is_err());
        assert!(name("name", "a\u{7}b").is_err());
    }

    #[test]
    fn phones_are_e164_and_empty_clears() {
        assert_eq!(
            phone("phone", "+351 912-345-678").expect("valid"),
            Some("+351912345678".to_owned())
        );
        assert_eq!(phone("phone", "").expect("clears"), None);
        for bad in ["912345678", "+12", "+35191234567890123", "+35191234567a"] {
            assert!(phone("phone", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn telegram_ids_are_non_zero_integers() {
        assert_eq!(
            telegram_chat_id("telegram_chat_id", " -100123 ").expect("valid"),
            Some("-100123".to_owned())
        );
        assert_eq!(
            telegram_chat_id("telegram_chat_id", "").expect("clears"),
            None
        );
        assert!(telegram_chat_id("telegram_chat_id", "0").is_err());
        assert!(telegram_chat_id("telegram_chat_id", "@ana").is_err());
    }
}
