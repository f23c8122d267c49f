//! JSON Schemas of the suite files, built from the operation contracts in [`crate::ops`] so the
//! schemas and the operations cannot drift apart.

use serde_json::{Map, Value, json};

use crate::ops::{self, Kind, OpSpec};

/// JSON Schema of one field kind.
fn kind_schema(kind: Kind) -> Value {
    let hex = json!({"type": "string", "pattern": "^([0-9a-f]{2})*$"});
    let cid = json!({"type": "string", "pattern": "^b[a-z2-7]+$"});
    match kind {
        Kind::Hex => hex,
        Kind::OptHex => json!({"anyOf": [hex, {"type": "null"}]}),
        Kind::Text => json!({"type": "string"}),
        Kind::Cid => cid,
        Kind::OptCid => json!({"anyOf": [cid, {"type": "null"}]}),
        Kind::Uint => json!({"type": "integer", "minimum": 0}),
        Kind::Layer => json!({"enum": ["record", "header", "body"]}),
        Kind::Variant => json!({"enum": ["raw", "access-controlled"]}),
        Kind::Role => json!({"enum": ["reader", "follower"]}),
        Kind::HexArray => json!({"type": "array", "items": hex}),
        Kind::TextArray => json!({"type": "array", "items": {"type": "string"}}),
        Kind::InviteRole => json!({"enum": ["follower", "reader", "writer"]}),
        Kind::Action => json!({"enum": ["follow", "read", "write", "delete", "admin"]}),
        Kind::LogEntries => json!({"type": "array", "items": {
            "type": "object",
            "properties": {"addrs": {"type": "array", "items": {"type": "string"}}, "log": {"type": "string"}},
            "required": ["addrs", "log"],
            "additionalProperties": false
        }}),
        Kind::LogMap => {
            json!({"type": "object", "additionalProperties": {"type": "array", "items": hex}})
        }
        Kind::AclDocument => {
            let role = json!({"enum": ["no-access", "follow", "read", "write"]});
            json!({
                "type": "object",
                "properties": {
                    "_id": {"type": "string"},
                    "admins": {"type": "array", "items": {"type": "string"}},
                    "default": role,
                    "peers": {"type": "object", "additionalProperties": {
                        "type": "array",
                        "items": {"enum": ["delete", "no-access", "follow", "read", "write"]}
                    }}
                },
                "required": ["_id", "admins", "default", "peers"],
                "additionalProperties": false
            })
        }
        Kind::CidArray => json!({"type": "array", "items": cid}),
        Kind::CodeMap => json!({
            "type": "object",
            "propertyNames": cid,
            "additionalProperties": {"type": "string", "pattern": "^[A-Z0-9_]+$"}
        }),
        Kind::UintMap => {
            json!({"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}})
        }
        Kind::OptUint => json!({"anyOf": [kind_schema(Kind::Uint), {"type": "null"}]}),
        Kind::DbEvents => json!({"type": "array", "items": {
            "type": "object",
            "properties": {"record": cid, "log": {"type": "string"}, "seq": {"type": "integer", "minimum": 0}, "body": hex},
            "required": ["record", "log", "seq", "body"],
            "additionalProperties": false
        }}),
        Kind::SyncMessage => {
            let uint = kind_schema(Kind::Uint);
            let text = kind_schema(Kind::Text);
            let shape = |kind: &str, fields: Value| {
                let mut properties = fields.as_object().cloned().unwrap_or_default();
                properties.insert("type".into(), json!({"const": kind}));
                let required: Vec<&String> = properties.keys().collect();
                json!({
                    "type": "object",
                    "properties": properties,
                    "required": required,
                    "additionalProperties": false
                })
            };
            json!({"oneOf": [
                shape("pull", json!({"thread": text, "log": text, "after": uint, "limit": uint})),
                shape("records", json!({
                    "thread": text, "log": text, "counter": uint, "envelopes": kind_schema(Kind::CidArray)
                })),
                shape("heads", json!({"thread": text, "heads": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"counter": uint, "log": text},
                    "required": ["counter", "log"],
                    "additionalProperties": false
                }}})),
                shape("auth", json!({
                    "thread": text, "nonce": kind_schema(Kind::Hex), "proof": kind_schema(Kind::Hex)
                })),
            ]})
        }
        Kind::IndexedCodes => json!({"type": "array", "items": {
            "type": "object",
            "properties": {
                "errorCode": {"type": "string", "pattern": "^[A-Z0-9_]+$"},
                "index": kind_schema(Kind::Uint)
            },
            "required": ["errorCode", "index"],
            "additionalProperties": false
        }}),
    }
}

fn properties(fields: &[(&str, Kind)]) -> Map<String, Value> {
    fields
        .iter()
        .map(|(name, kind)| (name.to_string(), kind_schema(*kind)))
        .collect()
}

fn output_schema(op: &OpSpec) -> Value {
    let required: Vec<&str> = op.output.iter().map(|(name, _)| *name).collect();
    json!({"type": "object", "properties": properties(op.output), "required": required, "additionalProperties": false})
}

/// Schema of a group exercising `op`: its shared parameters and its cases.
fn group_schema(op: &OpSpec) -> Value {
    let mut case_props = properties(op.inputs);
    for (name, schema) in [
        ("tcId", json!({"type": "integer", "minimum": 1})),
        ("comment", json!({"type": "string"})),
        (
            "flags",
            json!({"type": "array", "items": {"type": "string", "pattern": "^[A-Z0-9_]+$"}}),
        ),
        (
            "specSection",
            json!({"type": "string", "pattern": "^[A-Z]+-[0-9]+$"}),
        ),
        (
            "result",
            json!({"enum": ["valid", "invalid", "acceptable"]}),
        ),
        ("expected", output_schema(op)),
        (
            "errorCode",
            json!({"type": "string", "pattern": "^[A-Z0-9_]+$"}),
        ),
    ] {
        case_props.insert(name.to_string(), schema);
    }
    let mut group_props = properties(op.inputs);
    group_props.insert("type".into(), json!({"type": "string"}));
    group_props.insert("operation".into(), json!({"const": op.name}));
    group_props.insert(
        "tests".into(),
        json!({"type": "array", "items": {
            "type": "object",
            "properties": case_props,
            "required": ["tcId", "comment", "flags", "specSection", "result"],
            "additionalProperties": false,
            "allOf": [
                {"if": {"properties": {"result": {"const": "valid"}}}, "then": {"required": ["expected"], "not": {"required": ["errorCode"]}}},
                {"if": {"properties": {"result": {"const": "invalid"}}}, "then": {"required": ["errorCode"]}}
            ]
        }}),
    );
    json!({
        "type": "object",
        "properties": group_props,
        "required": ["type", "operation", "tests"],
        "additionalProperties": false
    })
}

/// The schema of suite `suite`, whose groups use `operations`.
pub fn suite_schema(suite: &str, operations: &[&str]) -> Value {
    let groups: Vec<Value> = operations
        .iter()
        .filter_map(|name| ops::spec_of(name))
        .map(group_schema)
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{suite}.schema.json"),
        "title": format!("Threads test vectors: suite {suite}"),
        "type": "object",
        "properties": {
            "suite": {"const": suite},
            "specVersion": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+\\.[0-9]+$"},
            "schema": {"const": format!("{suite}.schema.json")},
            "numberOfTests": {"type": "integer", "minimum": 0},
            "header": {"type": "array", "items": {"type": "string"}},
            "notes": {"type": "object", "additionalProperties": {
                "type": "object",
                "properties": {"bugType": {"type": "string"}, "description": {"type": "string"}},
                "required": ["bugType", "description"],
                "additionalProperties": false
            }},
            "testGroups": {"type": "array", "items": {"oneOf": groups}}
        },
        "required": ["suite", "specVersion", "schema", "numberOfTests", "header", "notes", "testGroups"],
        "additionalProperties": false
    })
}
