//! Reading one protocol line as JSON by RFC 8259's grammar exactly [HP-3], [HP-80].
//!
//! RFC 8259 lets a string escape name any UTF-16 code unit, so `"\ud83d"` (a surrogate without
//! its pair) is valid JSON, but it stands for no Unicode scalar value and `serde_json` refuses it
//! in a string. Appendix H decides what it means: each unpaired surrogate escape is read as
//! U+FFFD, and the line is an ordinary message, never a protocol violation [HP-80].

use std::borrow::Cow;

use serde_json::Value;

/// The replacement of an unpaired surrogate escape: the escape of U+FFFD, as long as the
/// escape it replaces, so that the positions a parse error names stay those of the line.
const REPLACEMENT: &str = "\\ufffd";

/// Parses one line as a JSON value [HP-3]; unpaired surrogate escapes in strings are read as
/// U+FFFD [HP-80]. Returns the value and how many escapes were replaced.
pub fn parse(text: &str) -> Result<(Value, usize), serde_json::Error> {
    let (text, replaced) = replace_lone_surrogates(text);
    serde_json::from_str(&text).map(|value| (value, replaced))
}

/// The text with every `\uXXXX` escape inside a JSON string that names a UTF-16 surrogate
/// without its pair replaced by `\ufffd` [HP-80], and how many were replaced. Text that is no
/// JSON stays no JSON: only escapes inside strings change, so the parse still fails where it did.
pub fn replace_lone_surrogates(text: &str) -> (Cow<'_, str>, usize) {
    if !text.contains("\\u") {
        return (Cow::Borrowed(text), 0);
    }
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut replaced = 0;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                in_string = !in_string;
                i += 1;
            }
            b'\\' if in_string => match escaped_unit(bytes, i) {
                Some(unit) if is_high(unit) && escaped_unit(bytes, i + 6).is_some_and(is_low) => {
                    i += 12;
                }
                Some(unit) if is_high(unit) || is_low(unit) => {
                    out.push_str(&text[copied..i]);
                    out.push_str(REPLACEMENT);
                    replaced += 1;
                    i += 6;
                    copied = i;
                }
                Some(_) => i += 6,
                // Any other escape is two bytes; the second may be `"` or `\`, never a boundary.
                None => i += 2,
            },
            _ => i += 1,
        }
    }
    if replaced == 0 {
        return (Cow::Borrowed(text), 0);
    }
    out.push_str(&text[copied.min(text.len())..]);
    (Cow::Owned(out), replaced)
}

/// The code unit of a `\uXXXX` escape starting at `at`, if one starts there.
fn escaped_unit(bytes: &[u8], at: usize) -> Option<u16> {
    let escape = bytes.get(at..at + 6)?;
    if escape[0] != b'\\' || escape[1] != b'u' {
        return None;
    }
    let digits = std::str::from_utf8(&escape[2..]).ok()?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(digits, 16).ok()
}

fn is_high(unit: u16) -> bool {
    (0xD800..0xDC00).contains(&unit)
}

fn is_low(unit: u16) -> bool {
    (0xDC00..0xE000).contains(&unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An unpaired surrogate escape is valid JSON and reads as U+FFFD [HP-80].
    #[test]
    fn unpaired_surrogates_read_as_replacement_characters() {
        let line = r#"{"id":1,"error":{"code":"X","message":"bad \ud83d here \udc00!"}}"#;
        assert!(
            serde_json::from_str::<Value>(line).is_err(),
            "serde_json refuses it"
        );
        let (value, replaced) = parse(line).unwrap();
        assert_eq!(replaced, 2);
        assert_eq!(value["error"]["message"], "bad \u{FFFD} here \u{FFFD}!");
        // A high surrogate at the very end of a string, and one followed by another high one.
        let (value, replaced) = parse(r#"["\uD83D", "\ud83d\ud83d\ude00"]"#).unwrap();
        assert_eq!(replaced, 2);
        assert_eq!(value, json!(["\u{FFFD}", "\u{FFFD}\u{1F600}"]));
    }

    #[test]
    fn pairs_other_escapes_and_text_outside_strings_are_kept() {
        let line = r#"{"a":"\ud83d\ude00","b":"\\ud83d","c":"\"\\\ud83d","d":"\u00e9"}"#;
        let (value, replaced) = parse(line).unwrap();
        assert_eq!(replaced, 1);
        assert_eq!(
            value,
            json!({"a": "\u{1F600}", "b": "\\ud83d", "c": "\"\\\u{FFFD}", "d": "é"})
        );
        // Nothing to replace: the text is borrowed as it is.
        assert!(matches!(
            replace_lone_surrogates(r#"{"x":"\u0041"}"#).0,
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn what_is_not_json_stays_not_json() {
        for bad in [
            r#"\ud83d"#,
            r#"{"a":"\ud83d"#,
            r#"{"a":"\ud8"}"#,
            r#"{"a" "\udc00"}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        // The position of an error is that of the line as written.
        let err = parse(r#"["\ud83d", x]"#).unwrap_err();
        assert_eq!(err.column(), 12);
    }
}
