//! The BSN (burgerservicenummer) check both the machtiging JVC and the
//! opt-in registration apply after the schema.

/// The 11-proef: Σ dᵢ·wᵢ with weights 9..2 and −1 is divisible by 11.
pub fn valid(bsn: &str) -> bool {
    let digits: Vec<i32> = bsn
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| i32::from(b - b'0'))
        .collect();
    if digits.len() != 9 || bsn.len() != 9 {
        return false;
    }
    let weights = [9, 8, 7, 6, 5, 4, 3, 2, -1];
    let sum: i32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    sum % 11 == 0 && sum != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_test() {
        assert!(valid("999999990"));
        assert!(valid("111222333"));
        assert!(!valid("999999991"));
        assert!(!valid("123456789"));
        assert!(!valid("000000000"));
        assert!(!valid("12345678"));
    }
}
