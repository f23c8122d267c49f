//! Chapters 1 and 2, identities, log IDs, addresses and key sets: RFC 8032 and hand encodings.

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;
use serde_json::Value;

use crate::common::{LOG_ID_PREFIX, base58, cases, hex_of, load};

/// RFC 8032 §7.1 TEST 1–3: (secret key, public key) as published.
pub(crate) const RFC8032: &[(&str, &str)] = &[
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    ),
];

#[test]
fn keys_vectors_agree_with_rfc8032_and_hand_encodings() {
    let mut rfc_seen = 0;
    for (op, inputs, case) in cases(&load("keys")) {
        let expected = &case["expected"];
        if case["result"] != "valid" {
            continue;
        }
        match op.as_str() {
            "identity.fromSeed" | "logId.decode" | "logId.decodeBytes" => {
                let public = hex_of(&expected["publicKey"]);
                let bytes = [&LOG_ID_PREFIX[..], &public].concat();
                assert_eq!(hex_of(&expected["bytes"]), bytes);
                assert_eq!(expected["text"].as_str().unwrap(), base58(&bytes));
                if let Some((_, published)) = RFC8032
                    .iter()
                    .find(|(seed, _)| inputs.get("seed").and_then(Value::as_str) == Some(seed))
                {
                    assert_eq!(expected["publicKey"], *published);
                    rfc_seen += 1;
                }
            }
            "keyset.decode" => {
                let node: Ipld = serde_ipld_dagcbor::from_slice(&hex_of(&inputs["bytes"])).unwrap();
                let Ipld::Map(map) = node else {
                    panic!("key set is not a map")
                };
                assert_eq!(
                    map.get("follow"),
                    Some(&Ipld::Bytes(hex_of(&expected["followKey"])))
                );
                match expected["readKey"].as_str() {
                    Some(read) => assert_eq!(
                        map.get("read"),
                        Some(&Ipld::Bytes(hex::decode(read).unwrap()))
                    ),
                    None => assert!(!map.contains_key("read")),
                }
            }
            "keyset.encode" => {
                let mut map = BTreeMap::new();
                map.insert(
                    "follow".to_string(),
                    Ipld::Bytes(hex_of(&inputs["followKey"])),
                );
                if let Some(read) = inputs.get("readKey").and_then(Value::as_str) {
                    map.insert("read".to_string(), Ipld::Bytes(hex::decode(read).unwrap()));
                }
                assert_eq!(
                    hex_of(&expected["bytes"]),
                    serde_ipld_dagcbor::to_vec(&Ipld::Map(map)).unwrap()
                );
            }
            _ => {}
        }
    }
    assert_eq!(rfc_seen, 3);
}
