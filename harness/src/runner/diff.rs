//! Where a structured expected value and the value an adapter gave differ [HP-85]: one line
//! per differing member or item, by its path (`state.outcomes[1]`), so that a replayed log's
//! state or a node's heads show what is wrong, not only that something is.

use serde_json::Value;

/// At most this many differences are listed; the rest are counted.
pub const MAX_LINES: usize = 20;

/// The differences between `expected` and `actual`, one line each, at most [`MAX_LINES`] and a
/// count of the rest.
pub fn diff(expected: &Value, actual: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    walk("", expected, actual, &mut lines);
    if lines.len() > MAX_LINES {
        let more = lines.len() - MAX_LINES;
        lines.truncate(MAX_LINES);
        lines.push(format!("… and {more} more difference(s)"));
    }
    lines
}

/// The differences between two texts that each begin with a JSON object or array (after an
/// optional `valid: `, `result ` or `error ` word, and before any trailing remark, as scenario
/// checks word them); none when either is not structured.
pub fn from_texts(expected: &str, actual: &str) -> Vec<String> {
    match (leading_json(expected), leading_json(actual)) {
        (Some(e), Some(a)) if e != a => diff(&e, &a),
        _ => Vec::new(),
    }
}

/// The JSON object or array a text begins with, if any.
fn leading_json(text: &str) -> Option<Value> {
    let text = ["valid: ", "result ", "error "]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))
        .unwrap_or(text)
        .trim_start();
    if !(text.starts_with('{') || text.starts_with('[')) {
        return None;
    }
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    values.next()?.ok()
}

fn walk(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let here = member(path, key);
                match a.get(key) {
                    Some(other) => walk(&here, value, other, out),
                    None => out.push(format!("{here}: missing (expected {value})")),
                }
            }
            for (key, value) in a {
                if !e.contains_key(key) {
                    out.push(format!("{}: unexpected {value}", member(path, key)));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, value) in e.iter().enumerate() {
                let here = format!("{path}[{i}]");
                match a.get(i) {
                    Some(other) => walk(&here, value, other, out),
                    None => out.push(format!("{here}: missing (expected {value})")),
                }
            }
            for (i, value) in a.iter().enumerate().skip(e.len()) {
                out.push(format!("{path}[{i}]: unexpected {value}"));
            }
        }
        (e, a) if e == a => {}
        (e, a) => {
            let shown = if path.is_empty() {
                "(the whole value)"
            } else {
                path
            };
            out.push(format!("{shown}: expected {e}, got {a}"));
        }
    }
}

fn member(path: &str, key: &str) -> String {
    let simple = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (path.is_empty(), simple) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::from(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_replayed_state_shows_each_differing_member() {
        let expected = json!({"error": "LOG_GAP", "state": {"counter": 1, "head": "b1", "outcomes": ["appended", "LOG_GAP"]}});
        let actual = json!({"error": "LOG_GAP", "state": {"counter": 2, "head": "b2", "outcomes": ["appended", "appended"], "x": 1}});
        assert_eq!(
            diff(&expected, &actual),
            [
                "state.counter: expected 1, got 2",
                "state.head: expected \"b1\", got \"b2\"",
                "state.outcomes[1]: expected \"LOG_GAP\", got \"appended\"",
                "state.x: unexpected 1",
            ]
        );
    }

    #[test]
    fn missing_and_extra_items_and_odd_keys() {
        let d = diff(&json!({"a b": [1, 2]}), &json!({"a b": [1], "c": null}));
        assert_eq!(
            d,
            ["[\"a b\"][1]: missing (expected 2)", "c: unexpected null"]
        );
        assert_eq!(
            diff(&json!(1), &json!(2)),
            ["(the whole value): expected 1, got 2"]
        );
        assert!(diff(&json!({"a": [1]}), &json!({"a": [1]})).is_empty());
    }

    #[test]
    fn long_diffs_are_cut() {
        let e: Vec<u32> = (0..50).collect();
        let a: Vec<u32> = (100..150).collect();
        let d = diff(&json!(e), &json!(a));
        assert_eq!(d.len(), MAX_LINES + 1);
        assert_eq!(d[MAX_LINES], "… and 30 more difference(s)");
    }

    #[test]
    fn texts_of_scenario_checks_are_compared_when_structured() {
        let d = from_texts(
            r#"{"counter":5,"head":"c5"}"#,
            r#"{"counter":3,"head":"c3"} (pump: 2 round(s), settled)"#,
        );
        assert_eq!(
            d,
            [
                "counter: expected 5, got 3",
                "head: expected \"c5\", got \"c3\""
            ]
        );
        assert!(from_texts("error KEY_UNAVAILABLE", "result {}").is_empty());
        assert!(from_texts("TID_SHORT_RANDOM", "valid: {\"a\":1}").is_empty());
    }
}
