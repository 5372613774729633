//! Value parsers of the command line: each turns one argument into a
//! checked value, or a one-line message naming what was expected.

use uuid::Uuid;

pub fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!("\"{s}\" is not a number of seconds in (0, 3600]")),
    }
}

pub fn non_negative_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("\"{s}\" is not a number of seconds in [0, 3600]")),
    }
}

/// Parses a Supabase migration version: 14 digits, YYYYMMDDHHMMSS.
pub fn parse_timestamp(s: &str) -> Result<crate::migrate::export::Timestamp, String> {
    crate::migrate::export::Timestamp::parse(s.trim()).ok_or_else(|| {
        let shown: String = s.chars().take(40).collect();
        format!("\"{shown}\" is not a migration timestamp YYYYMMDDHHMMSS, e.g. 20240101120000")
    })
}

/// Parses a UUID argument with a clear message.
pub fn parse_uuid(s: &str) -> Result<Uuid, String> {
    Uuid::parse_str(s.trim()).map_err(|_| {
        let shown: String = s.chars().take(40).collect();
        format!("\"{shown}\" is not a UUID (expected e.g. 11111111-1111-4111-8111-111111111111)")
    })
}

/// Parses a share of a limit: a number in (0, 1].
pub fn parse_threshold(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(t) if t > 0.0 && t <= 1.0 => Ok(t),
        _ => Err(format!(
            "\"{s}\" is not a share of the limit between 0 and 1, e.g. 0.9"
        )),
    }
}

/// A tier name: not empty, at most 100 characters, no control characters.
pub fn parse_tier(s: &str) -> Result<String, String> {
    if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        let shown: String = s.chars().filter(|c| !c.is_control()).take(40).collect();
        return Err(format!(
            "\"{shown}\" is not a tier name (1 to 100 characters, no control characters)"
        ));
    }
    Ok(s.to_string())
}

/// An e-mail address to look a user up by: something@something.
pub fn parse_email(s: &str) -> Result<String, String> {
    let t = s.trim();
    let ok = t.len() <= 320
        && t.split_once('@').is_some_and(|(a, b)| {
            !a.is_empty() && !b.is_empty() && !t.chars().any(char::is_control)
        });
    if ok {
        Ok(t.to_string())
    } else {
        Err("that is not an e-mail address (expected e.g. someone@example.com)".to_string())
    }
}
