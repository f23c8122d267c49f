//! The JSON form of database values (spec/database.md, [DB-4]) as the harness protocol carries
//! them [HP-60]: null, booleans, integers within ±(2^53 − 1), strings, arrays, objects, and bytes
//! as the DAG-JSON object `{"/": {"bytes": base64}}` (standard alphabet, no padding).

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};
use threads::db::{Document, MAX_DEPTH, MAX_SAFE_INTEGER, Value};
use threads::{Error, ErrorCode, Result};

/// A database value from its JSON form; `code` (DB_MALFORMED for a value, DB_QUERY_INVALID for a
/// query) when it is none: a fraction or exponent, an integer beyond ±(2^53 − 1), nesting beyond
/// [`MAX_DEPTH`], or a `{"/": …}` object that is not the bytes form.
pub fn value(json: &Json, code: ErrorCode) -> Result<Value> {
    at_depth(json, 1, code)
}

/// A document (a map value) from a JSON object [DB-4].
pub fn document(json: &Map<String, Json>, code: ErrorCode) -> Result<Document> {
    json.iter()
        .map(|(k, v)| Ok((k.clone(), at_depth(v, 2, code)?)))
        .collect()
}

fn at_depth(json: &Json, depth: usize, code: ErrorCode) -> Result<Value> {
    let fail = |detail: String| Err(Error::new(code, detail));
    if depth > MAX_DEPTH {
        return fail(format!("a value nests deeper than {MAX_DEPTH}"));
    }
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) if i.abs() <= MAX_SAFE_INTEGER => Value::Integer(i),
            _ => return fail(format!("{n} is not an integer within ±(2^53 − 1)")),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::List(
            items
                .iter()
                .map(|i| at_depth(i, depth + 1, code))
                .collect::<Result<_>>()?,
        ),
        Json::Object(map) if map.contains_key("/") => match bytes_form(map) {
            Some(bytes) => Value::Bytes(bytes),
            None => {
                return fail(
                    "an object with the key \"/\" must be {\"/\": {\"bytes\": base64}}".into(),
                );
            }
        },
        Json::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), at_depth(v, depth + 1, code)?)))
                .collect::<Result<BTreeMap<_, _>>>()?,
        ),
    })
}

fn bytes_form(map: &Map<String, Json>) -> Option<Vec<u8>> {
    let inner = map.get("/")?.as_object()?;
    if map.len() != 1 || inner.len() != 1 {
        return None;
    }
    base64_decode(inner.get("bytes")?.as_str()?)
}

/// The JSON form of a value [DB-4].
pub fn json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Integer(n) => Json::from(*n),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => serde_json::json!({"/": {"bytes": base64_encode(b)}}),
        Value::List(items) => Json::Array(items.iter().map(json).collect()),
        Value::Map(map) => Json::Object(document_json(map)),
    }
}

/// The JSON form of a document [DB-4].
pub fn document_json(doc: &Document) -> Map<String, Json> {
    doc.iter().map(|(k, v)| (k.clone(), json(v))).collect()
}

/// RFC 4648 base64, standard alphabet, without padding.
fn base64_encode(bytes: &[u8]) -> String {
    data_encoding::BASE64_NOPAD.encode(bytes)
}

/// The inverse of [`base64_encode`]; `None` for padding, other characters, a length of 1 mod 4,
/// or non-zero trailing bits (so that each byte string has one text).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    data_encoding::BASE64_NOPAD.decode(text.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_round_trips_and_rejects_padding() {
        for (bytes, text) in [
            (&b""[..], ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (&[0xff, 0xfe][..], "//4"),
        ] {
            assert_eq!(base64_encode(bytes), text);
            assert_eq!(base64_decode(text).as_deref(), Some(bytes));
        }
        for bad in ["Zg==", "Z", "Zh", "Z!"] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn values_round_trip_and_non_values_are_refused() {
        let text = json!({"a": [null, true, -3, "x", {"/": {"bytes": "AQI"}}], "b": {"c": 1}});
        let v = value(&text, ErrorCode::DbMalformed).unwrap();
        assert_eq!(json(&v), text);
        for bad in [
            json!(1.5),
            json!(9007199254740992u64),
            json!({"/": "x"}),
            json!({"/": {"bytes": "AQI"}, "x": 1}),
        ] {
            assert_eq!(
                value(&bad, ErrorCode::DbMalformed).map_err(|e| e.code),
                Err(ErrorCode::DbMalformed),
                "{bad}"
            );
        }
        let mut deep = json!(0);
        for _ in 0..MAX_DEPTH {
            deep = json!([deep]);
        }
        assert!(value(&deep, ErrorCode::DbMalformed).is_err());
    }
}
