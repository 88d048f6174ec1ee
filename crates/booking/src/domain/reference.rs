//! Human booking references: `INK-` and six characters a person can read out and type back
//! without confusing them (no 0/O, 1/I/L, and no U). 30^6 ≈ 729 million references; the
//! `bookings` table's unique constraint catches the rare collision and creation draws again.

use rand::Rng;

use crate::api::Reference;

/// The alphabet: digits 2-9 and the letters without I, L, O, U.
pub(crate) const ALPHABET: &[u8; 30] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
const PREFIX: &str = "INK-";
const LENGTH: usize = 6;

/// A random reference.
pub(crate) fn generate(rng: &mut impl Rng) -> Reference {
    let mut text = String::with_capacity(PREFIX.len() + LENGTH);
    text.push_str(PREFIX);
    for _ in 0..LENGTH {
        let i = rng.random_range(0..ALPHABET.len());
        text.push(char::from(ALPHABET[i]));
    }
    Reference(text)
}

/// Reads a reference as a person typed it: case and surrounding spaces do not matter, the
/// `INK-` prefix may be left out. `None` if it cannot be a reference.
pub(crate) fn parse(input: &str) -> Option<Reference> {
    let upper = input.trim().to_ascii_uppercase();
    let code = upper.strip_prefix(PREFIX).unwrap_or(&upper);
    let valid = code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b));
    valid.then(|| Reference(format!("{PREFIX}{code}")))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;

    use super::*;

    #[test]
    fn references_are_short_and_use_the_alphabet_only() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..10_000 {
            let reference = generate(&mut rng);
            let text = reference.as_str();
            assert_eq!(text.len(), 10);
            assert!(text.starts_with("INK-"));
            assert!(text[4..].bytes().all(|b| ALPHABET.contains(&b)), "{text}");
            assert_eq!(parse(text), Some(reference));
        }
    }

    #[test]
    fn the_alphabet_has_no_look_alikes() {
        for confusable in *b"01OILU" {
            assert!(
                !ALPHABET.contains(&confusable),
                "{}",
                char::from(confusable)
            );
        }
        let mut sorted = ALPHABET.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ALPHABET.len(), "no character twice");
    }

    #[test]
    fn typed_references_are_normalised_or_refused() {
        let ok = Some(Reference("INK-7F3K9Q".to_owned()));
        assert_eq!(parse("INK-7F3K9Q"), ok);
        assert_eq!(parse("  ink-7f3k9q "), ok);
        assert_eq!(parse("7f3k9q"), ok);
        for bad in [
            "",
            "INK-",
            "INK-7F3K9",
            "INK-7F3K9QQ",
            "INK-7F3K0Q",
            "INK-7F3KIQ",
            "INK 7F3K9Q",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn draws_spread_over_the_alphabet() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut counts = [0u32; 30];
        for _ in 0..3_000 {
            for b in generate(&mut rng).as_str()[4..].bytes() {
                let i = ALPHABET.iter().position(|a| *a == b).expect("in alphabet");
                counts[i] += 1;
            }
        }
        // 18,000 draws, 600 expected per character.
        assert!(counts.iter().all(|c| (450..=750).contains(c)), "{counts:?}");
    }
}
