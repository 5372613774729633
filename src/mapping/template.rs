//! Filling the templates of `sql/meters/`, and the checksum of what they
//! render: the two primitives `render` builds every meter's SQL with.

use anyhow::{bail, Result};

/// Fills `{name}` placeholders of `template` from `values`; every
/// placeholder must have a value (fragments share one list, so values a
/// template does not name are allowed). Placeholders are lower-case names
/// in braces; templates hold no other braces.
pub fn fill(template: &str, values: &[(&str, String)]) -> Result<String> {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            bail!("unclosed placeholder in a meter template");
        };
        let name = &after[..close];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            bail!("\"{{{name}}}\" is not a placeholder in a meter template");
        }
        // The last value given wins: fragments are pushed after the base.
        let Some(i) = values.iter().rposition(|(k, _)| *k == name) else {
            bail!("the meter template's placeholder {{{name}}} has no value");
        };
        out.push_str(&values[i].1);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// FNV-1a, 64 bits, in decimal: stable across Rust versions and machines.
pub fn checksum(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash.to_string()
}
