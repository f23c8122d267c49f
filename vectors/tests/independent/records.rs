//! Chapter 3, records: raw crypto and the published XChaCha20-Poly1305 example.

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;
use serde_json::Value;

use crate::common::{cases, context, hex_of, load};
use crate::raw::{ad, open, raw_verify, synthetic_nonce};

/// draft-irtf-cfrg-xchacha-03 A.3.1's plaintext, as published.
const XCHACHA_PLAINTEXT: &str = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

#[test]
fn records_vectors_agree_with_raw_crypto_and_published_examples() {
    let mut verified = 0;
    for (op, inputs, case) in cases(&load("records")) {
        let expected = &case["expected"];
        let valid = case["result"] == "valid";
        match op.as_str() {
            "seal.associatedData" => {
                let (thread, log) = context(&inputs);
                assert_eq!(
                    hex_of(&expected["ad"]),
                    ad(inputs["layer"].as_str().unwrap(), &thread, &log)
                );
            }
            "seal.openRaw" if valid => {
                assert_eq!(hex_of(&expected["plaintext"]), XCHACHA_PLAINTEXT.as_bytes());
            }
            "seal.open" => {
                let (thread, log) = context(&inputs);
                let (key, sealed) = (hex_of(&inputs["key"]), hex_of(&inputs["sealed"]));
                let layer = inputs["layer"].as_str().unwrap();
                let layer_ad = ad(layer, &thread, &log);
                let got = open(&key, &layer_ad, &sealed).filter(|plain| {
                    layer != "record" || synthetic_nonce(&key, &layer_ad, plain) == sealed[..24]
                });
                assert_eq!(got.is_some(), valid, "tcId {}", case["tcId"]);
                if let Some(plain) = got {
                    assert_eq!(hex_of(&expected["plaintext"]), plain);
                }
            }
            "record.signingInput" => {
                let (thread, log) = context(&inputs);
                let link = |v: &Value| {
                    v.as_str()
                        .map_or(Ipld::Null, |s| Ipld::Link(s.parse().unwrap()))
                };
                let mut map = BTreeMap::new();
                map.insert("block".to_string(), link(&inputs["block"]));
                map.insert("log".to_string(), Ipld::Bytes(log));
                map.insert("prev".to_string(), link(&inputs["prev"]));
                map.insert(
                    "seq".to_string(),
                    Ipld::Integer(inputs["seq"].as_u64().unwrap().into()),
                );
                map.insert("thread".to_string(), Ipld::Bytes(thread));
                let want = [
                    &b"threads/v1/record-signature\0"[..],
                    &serde_ipld_dagcbor::to_vec(&Ipld::Map(map)).unwrap(),
                ]
                .concat();
                assert_eq!(hex_of(&expected["bytes"]), want);
            }
            "envelope.verifyFollower" | "envelope.verifyReader" if valid => {
                let (thread, log) = context(&inputs);
                let read = (op == "envelope.verifyReader").then(|| hex_of(&inputs["readKey"]));
                let got = raw_verify(
                    &thread,
                    &log,
                    &hex_of(&inputs["followKey"]),
                    read.as_deref(),
                    &hex_of(&inputs["envelope"]),
                );
                assert_eq!(
                    got.map(Value::Object).as_ref(),
                    Ok(expected),
                    "tcId {}",
                    case["tcId"]
                );
                verified += 1;
            }
            _ => {}
        }
    }
    assert!(verified >= 6);
}
