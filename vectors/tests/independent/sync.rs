//! Chapter 7, sync: messages by the generic DAG-CBOR decoder, pulls by slice arithmetic, batches by
//! raw verification and the table of 4.4.

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;
use serde_json::{Map, Value, json};

use crate::cbor::{cid_text, exact_map, is_canonical, string};
use crate::common::{base32, cases, context, hex_of, load, log_text, parse_tid};
use crate::raw::raw_verify;

const MESSAGE_MALFORMED: &str = "MESSAGE_MALFORMED";

/// The four blocks of an envelope [ENV-1] accepts (canonical DAG-CBOR, exactly four byte strings):
/// body, event, header, record.
fn envelope_blocks(bytes: &[u8]) -> Option<[Vec<u8>; 4]> {
    let map = exact_map(bytes, &["body", "event", "header", "record"])?;
    let block = |key: &str| match map.get(key) {
        Some(Ipld::Bytes(b)) => Some(b.clone()),
        _ => None,
    };
    Some([
        block("body")?,
        block("event")?,
        block("header")?,
        block("record")?,
    ])
}

fn uint_node(node: Option<&Ipld>) -> Result<u64, String> {
    match node {
        Some(Ipld::Integer(i)) => u64::try_from(*i).map_err(|_| MESSAGE_MALFORMED.to_string()),
        _ => Err(MESSAGE_MALFORMED.into()),
    }
}

fn bytes_field(node: Option<&Ipld>) -> Result<Vec<u8>, String> {
    match node {
        Some(Ipld::Bytes(b)) => Ok(b.clone()),
        _ => Err(MESSAGE_MALFORMED.into()),
    }
}

/// The text form of a binary thread ID, or its TID code.
fn thread_text(bytes: &[u8]) -> Result<String, String> {
    parse_tid(bytes).map_err(str::to_string)?;
    Ok(format!("b{}", base32(bytes)))
}

/// A sync message decoded by [SYNC-1] and [SYNC-2] as written: first the whole shape (canonical
/// DAG-CBOR, a known type, exactly its fields, each of its type), else MESSAGE_MALFORMED; then
/// the thread ID, the log ID(s) and the envelopes in message order, each with its own code.
pub(crate) fn decode_sync_message(bytes: &[u8]) -> Result<Value, String> {
    let malformed = || MESSAGE_MALFORMED.to_string();
    if bytes.len() > 8 << 20 {
        return Err(malformed());
    }
    let node: Ipld = serde_ipld_dagcbor::from_slice(bytes).map_err(|_| malformed())?;
    if !is_canonical(&node, bytes) {
        return Err(malformed());
    }
    let Ipld::Map(map) = node else {
        return Err(malformed());
    };
    let kind = string(map.get("type")).ok_or_else(malformed)?;
    let fields: &[&str] = match kind.as_str() {
        "pull" => &["after", "limit", "log", "thread", "type"],
        "records" => &["counter", "envelopes", "log", "thread", "type"],
        "heads" => &["heads", "thread", "type"],
        "auth" => &["nonce", "proof", "thread", "type"],
        _ => return Err(malformed()),
    };
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    if keys != fields {
        return Err(malformed());
    }
    let thread = bytes_field(map.get("thread"))?;
    match kind.as_str() {
        "auth" => {
            // [SYNC-17]: a nonce of 0 or 16 bytes, a proof of 0 or 32, checked before the ID.
            let (nonce, proof) = (
                bytes_field(map.get("nonce"))?,
                bytes_field(map.get("proof"))?,
            );
            if ![0, 16].contains(&nonce.len()) || ![0, 32].contains(&proof.len()) {
                return Err(malformed());
            }
            let thread = thread_text(&thread)?;
            Ok(json!({"message": {
                "nonce": hex::encode(nonce),
                "proof": hex::encode(proof),
                "thread": thread,
                "type": "auth",
            }}))
        }
        "pull" => {
            let log = bytes_field(map.get("log"))?;
            let (after, limit) = (uint_node(map.get("after"))?, uint_node(map.get("limit"))?);
            let thread = thread_text(&thread)?;
            let log = log_text(&log)?;
            Ok(json!({"message": {
                "after": after,
                "limit": limit,
                "log": log,
                "thread": thread,
                "type": "pull",
            }}))
        }
        "records" => {
            let log = bytes_field(map.get("log"))?;
            let counter = uint_node(map.get("counter"))?;
            let Some(Ipld::List(items)) = map.get("envelopes") else {
                return Err(malformed());
            };
            let envelopes: Vec<Vec<u8>> = items
                .iter()
                .map(|item| bytes_field(Some(item)))
                .collect::<Result<_, _>>()?;
            let thread = thread_text(&thread)?;
            let log = log_text(&log)?;
            let cids: Vec<String> = envelopes
                .iter()
                .map(|e| {
                    envelope_blocks(e)
                        .map(|[_, _, _, record]| cid_text(&record))
                        .ok_or_else(|| "ENVELOPE_MALFORMED".to_string())
                })
                .collect::<Result<_, _>>()?;
            Ok(json!({"message": {
                "counter": counter,
                "envelopes": cids,
                "log": log,
                "thread": thread,
                "type": "records",
            }}))
        }
        _ => {
            let Some(Ipld::List(items)) = map.get("heads") else {
                return Err(malformed());
            };
            // [SYNC-23]: at most 1,024 entries, checked before the IDs.
            if items.len() > 1024 {
                return Err("HEADS_TOO_LONG".to_string());
            }
            let mut heads = Vec::new();
            for item in items {
                let Ipld::Map(entry) = item else {
                    return Err(malformed());
                };
                if entry.keys().map(String::as_str).collect::<Vec<_>>() != ["counter", "log"] {
                    return Err(malformed());
                }
                heads.push((
                    bytes_field(entry.get("log"))?,
                    uint_node(entry.get("counter"))?,
                ));
            }
            let thread = thread_text(&thread)?;
            let heads: Vec<Value> = heads
                .iter()
                .map(|(log, counter)| Ok(json!({"counter": counter, "log": log_text(log)?})))
                .collect::<Result<_, String>>()?;
            Ok(json!({"message": {"heads": heads, "thread": thread, "type": "heads"}}))
        }
    }
}

/// A sync case's context: the binary thread and log IDs, the follow key, and the held log, each
/// envelope verified by raw crypto [VERIFY-1] and linked from seq 1 [LOG-3], as (record CID,
/// envelope size: the four blocks' lengths).
struct Held {
    thread: Vec<u8>,
    log: Vec<u8>,
    follow: Vec<u8>,
    records: Vec<(String, usize)>,
}

fn held_log(inputs: &Map<String, Value>) -> Held {
    let (thread, log) = context(inputs);
    let follow = hex_of(&inputs["followKey"]);
    let mut records: Vec<(String, usize)> = Vec::new();
    for (i, item) in inputs["held"].as_array().unwrap().iter().enumerate() {
        let envelope = hex_of(item);
        let blocks = envelope_blocks(&envelope).expect("a held envelope decodes");
        let record = raw_verify(&thread, &log, &follow, None, &envelope).expect("held verifies");
        assert_eq!(record["seq"], i + 1, "held from seq 1, in order");
        assert_eq!(
            record["prev"].as_str(),
            records.last().map(|(cid, _)| cid.as_str()),
            "held links"
        );
        records.push((
            record["recordCid"].as_str().unwrap().to_string(),
            blocks.iter().map(Vec::len).sum(),
        ));
    }
    Held {
        thread,
        log,
        follow,
        records,
    }
}

/// [SYNC-5] by slice arithmetic: the records after `after`, at most min(limit, 256), and no more
/// than 4 MiB of envelopes unless the first alone is larger.
fn serve_pull_model(inputs: &Map<String, Value>) -> Result<Value, String> {
    let held = held_log(inputs).records;
    let after = inputs["after"].as_u64().unwrap();
    let limit = inputs["limit"].as_u64().unwrap().min(256) as usize;
    let start = after.min(held.len() as u64) as usize;
    let (mut records, mut total) = (Vec::new(), 0usize);
    for (cid, size) in held[start..].iter().take(limit) {
        if !records.is_empty() && total + size > 4 << 20 {
            break;
        }
        total += size;
        records.push(cid.clone());
    }
    Ok(json!({"counter": held.len(), "records": records}))
}

/// [SYNC-6], [SYNC-7] and chapter 4 as written: every record verified ([VERIFY-1] decides, even at a
/// reader), then appended, a duplicate, a fork or a broken link by the table of 4.4, in order,
/// stopping at the first gap; a pull after the counter if the sender is ahead.
fn decide_model(inputs: &Map<String, Value>) -> Result<Value, String> {
    let Held {
        thread,
        log,
        follow,
        records,
    } = held_log(inputs);
    let mut chain: Vec<String> = records.into_iter().map(|(cid, _)| cid).collect();
    let incoming: Vec<Vec<u8>> = inputs["incoming"]
        .as_array()
        .unwrap()
        .iter()
        .map(hex_of)
        .collect();
    // A message with an envelope that does not decode is dropped as a whole [SYNC-2].
    if incoming.iter().any(|e| envelope_blocks(e).is_none()) {
        return Err("ENVELOPE_MALFORMED".into());
    }
    let (mut appended, mut duplicates, mut rejected, mut gap) = (Vec::new(), 0, Vec::new(), None);
    for (index, envelope) in incoming.iter().enumerate() {
        let record = match raw_verify(&thread, &log, &follow, None, envelope) {
            Ok(record) => record,
            Err(code) => {
                rejected.push(json!({"errorCode": code, "index": index}));
                continue;
            }
        };
        let seq = record["seq"].as_u64().unwrap() as usize;
        let cid = record["recordCid"].as_str().unwrap().to_string();
        assert!(seq >= 1, "no vector carries seq 0");
        if seq <= chain.len() {
            if chain[seq - 1] == cid {
                duplicates += 1;
            } else {
                rejected.push(json!({"errorCode": "LOG_FORK", "index": index}));
            }
        } else if seq > chain.len() + 1 {
            gap = Some(index);
            break;
        } else if record["prev"].as_str() != chain.last().map(String::as_str) {
            rejected.push(json!({"errorCode": "LOG_BROKEN_LINK", "index": index}));
        } else {
            chain.push(cid.clone());
            appended.push(cid);
        }
    }
    let counter = chain.len() as u64;
    let sender = inputs["senderCounter"].as_u64().unwrap();
    Ok(json!({
        "appended": appended,
        "counter": counter,
        "duplicates": duplicates,
        "gap": gap,
        "pullAfter": (sender > counter).then_some(counter),
        "rejected": rejected,
    }))
}

#[test]
fn sync_vectors_agree_with_a_generic_decoder_slice_arithmetic_and_the_log_model() {
    let mut per_op: BTreeMap<String, usize> = BTreeMap::new();
    let (mut spec_example, mut unreadable) = (0, 0);
    for (op, inputs, case) in cases(&load("sync")) {
        let id = &case["tcId"];
        let got = match op.as_str() {
            "sync.decodeMessage" => decode_sync_message(&hex_of(&inputs["bytes"])),
            "sync.servePull" => serve_pull_model(&inputs),
            "sync.decideRecords" => decide_model(&inputs),
            other => panic!("unexpected operation {other}"),
        };
        match case["errorCode"].as_str() {
            Some(code) => assert_eq!(got, Err(code.to_string()), "tcId {id}"),
            None => assert_eq!(got.as_ref(), Ok(&case["expected"]), "tcId {id}"),
        }
        *per_op.entry(op.clone()).or_default() += 1;
        // spec/sync.md 7.2: the pull after 3 with limit 64 has its keys in the order log, type,
        // after, limit, thread.
        let message = &case["expected"]["message"];
        if message["type"] == "pull" && message["after"] == 3 && message["limit"] == 64 {
            let bytes = hex_of(&inputs["bytes"]);
            let at = |key: &str| {
                let pattern = [&[0x60 + key.len() as u8][..], key.as_bytes()].concat();
                bytes.windows(pattern.len()).position(|w| w == pattern)
            };
            let order: Vec<Option<usize>> = ["log", "type", "after", "limit", "thread"]
                .iter()
                .map(|k| at(k))
                .collect();
            assert!(
                order.iter().all(Option::is_some) && order.is_sorted(),
                "tcId {id}"
            );
            spec_example += 1;
        }
        // A reader's case whose record fails VERIFY-2 but passes VERIFY-1 and is appended.
        if op == "sync.decideRecords" && inputs.get("readKey").is_some_and(Value::is_string) {
            let (thread, log) = context(&inputs);
            let (follow, read) = (hex_of(&inputs["followKey"]), hex_of(&inputs["readKey"]));
            for item in inputs["incoming"].as_array().unwrap() {
                let envelope = hex_of(item);
                let follower = raw_verify(&thread, &log, &follow, None, &envelope);
                let reader = raw_verify(&thread, &log, &follow, Some(&read), &envelope);
                if let (Ok(record), Err(_)) = (follower, reader)
                    && case["expected"]["appended"]
                        .as_array()
                        .unwrap()
                        .contains(&record["recordCid"])
                {
                    unreadable += 1;
                }
            }
        }
    }
    assert!(per_op["sync.decodeMessage"] >= 40, "{per_op:?}");
    assert!(per_op["sync.servePull"] >= 15, "{per_op:?}");
    assert!(per_op["sync.decideRecords"] >= 25, "{per_op:?}");
    assert_eq!(spec_example, 1, "the pull of spec/sync.md 7.2 is a case");
    assert!(
        unreadable >= 2,
        "only {unreadable} unreadable records appended by a reader"
    );
}
