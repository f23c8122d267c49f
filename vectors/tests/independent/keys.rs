//! Chapters 1 and 2, identities, log IDs, addresses and key sets: RFC 8032 and hand encodings.

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;
use serde_json::Value;

use crate::common::{LOG_ID_PREFIX, base58, cases, hex_of, load, valid_peer_text};

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

/// [ADDR-1] to [ADDR-4] by hand: the grammar of [ADDR-3] over the text's components, each value
/// checked for its one spelling (IPv6 re-formatted by RFC 5952 here, not by the std `Display`).
fn decode_log_addr(text: &str) -> Result<(String, String, String), &'static str> {
    const BAD: &str = "ADDR_INVALID";
    let (peer_part, log) = text.rsplit_once("/ipel/").ok_or(BAD)?;
    if log.contains('/') || !valid_peer_text(log) {
        return Err(BAD);
    }
    let parts: Vec<&str> = peer_part.split('/').collect();
    let (first, rest) = parts.split_first().ok_or(BAD)?;
    if !first.is_empty() {
        return Err(BAD);
    }
    let (peer, network) = match rest {
        [network @ .., "p2p", peer] => (*peer, network),
        _ => return Err(BAD),
    };
    if !valid_peer_text(peer) {
        return Err(BAD);
    }
    let host = |proto: &str, value: &str| match proto {
        "ip4" => ip4_ok(value),
        "ip6" => ip6_ok(value),
        "dns" | "dns4" | "dns6" => name_ok(value),
        _ => false,
    };
    let ok = match network {
        [] => true,
        ["dnsaddr", name] => name_ok(name),
        [h, v, "tcp", port] => host(h, v) && port_ok(port),
        [h, v, "tcp", port, "ws" | "wss"] => host(h, v) && port_ok(port),
        [h, v, "udp", port, "quic-v1"] => host(h, v) && port_ok(port),
        _ => false,
    };
    if !ok {
        return Err(BAD);
    }
    Ok((peer.to_string(), log.to_string(), peer_part.to_string()))
}

fn decimal_ok(text: &str, max: u32) -> bool {
    !text.is_empty()
        && text.len() <= 5
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'))
        && text.parse::<u32>().is_ok_and(|n| n <= max)
}

fn port_ok(text: &str) -> bool {
    decimal_ok(text, 65535)
}

fn ip4_ok(text: &str) -> bool {
    let octets: Vec<&str> = text.split('.').collect();
    octets.len() == 4 && octets.iter().all(|o| decimal_ok(o, 255))
}

fn ip6_ok(text: &str) -> bool {
    let Ok(ip) = text.parse::<std::net::Ipv6Addr>() else {
        return false;
    };
    let g = ip.segments();
    if g[..6] == [0, 0, 0, 0, 0, 0xffff] {
        return false; // IPv4-mapped: written with /ip4/
    }
    // RFC 5952 §4: the first longest run of two or more zero groups becomes "::".
    let (mut best, mut best_len, mut i) = (0, 0, 0);
    while i < 8 {
        let start = i;
        while i < 8 && g[i] == 0 {
            i += 1;
        }
        if i - start > best_len {
            (best, best_len) = (start, i - start);
        }
        i += 1;
    }
    let hex = |s: &[u16]| {
        s.iter()
            .map(|x| format!("{x:x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    let canonical = if best_len >= 2 {
        format!("{}::{}", hex(&g[..best]), hex(&g[best + best_len..]))
    } else {
        hex(&g)
    };
    canonical == text
}

fn name_ok(name: &str) -> bool {
    (1..=253).contains(&name.len())
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[test]
fn log_addr_vectors_agree_with_a_hand_parser_of_the_subset() {
    let mut checked = 0;
    for (op, inputs, case) in cases(&load("keys")) {
        if op != "logAddr.decode" {
            continue;
        }
        let text = inputs["text"].as_str().unwrap();
        let got = decode_log_addr(text);
        match case["errorCode"].as_str() {
            Some(code) => assert_eq!(got.err(), Some(code), "tcId {}", case["tcId"]),
            None => {
                let (peer, log, peer_addr) =
                    got.unwrap_or_else(|e| panic!("tcId {}: {e}", case["tcId"]));
                let expected = &case["expected"];
                assert_eq!(expected["peer"], peer.as_str());
                assert_eq!(expected["log"], log.as_str());
                assert_eq!(expected["peerAddr"], peer_addr.as_str());
                assert_eq!(expected["text"], text, "the one text is the input [ADDR-4]");
            }
        }
        checked += 1;
    }
    assert!(checked > 50);
}

/// The whole small-order subgroup of edwards25519, as published encodings (y little-endian, the
/// top bit the sign of x): the identity, the point of order 2, the two of order 4 and the four of
/// order 8. [LOGID-3] must refuse every one, so the suite must try every one.
const SMALL_ORDER: [&str; 8] = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
];

#[test]
fn every_small_order_point_is_refused_as_a_log_id_in_both_forms() {
    let mut seen: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (op, inputs, case) in cases(&load("keys")) {
        let flags = case["flags"].as_array().unwrap();
        if !flags.iter().any(|f| f == "SMALL_ORDER_KEY") {
            continue;
        }
        assert_eq!(case["result"], "invalid");
        assert_eq!(case["errorCode"], "LOG_ID_INVALID");
        let bytes = match op.as_str() {
            "logId.decodeBytes" => hex_of(&inputs["bytes"]),
            "logId.decode" => {
                let text = inputs["text"].as_str().unwrap();
                let bytes = multibase::decode(format!("z{text}")).unwrap().1;
                assert_eq!(base58(&bytes), text, "the text is canonical base58btc");
                bytes
            }
            other => panic!("SMALL_ORDER_KEY on {other}"),
        };
        assert_eq!(bytes[..6], LOG_ID_PREFIX);
        let key: [u8; 32] = bytes[6..].try_into().unwrap();
        // Each is a point of small order: it decodes, and ed25519-dalek calls it weak.
        let point = ed25519_dalek::VerifyingKey::from_bytes(&key).unwrap();
        assert!(
            point.is_weak(),
            "{} is not of small order",
            hex::encode(key)
        );
        let listed = SMALL_ORDER
            .iter()
            .find(|k| **k == hex::encode(key))
            .unwrap_or_else(|| panic!("{} is not in the list", hex::encode(key)));
        seen.entry(listed).or_default().push(op);
    }
    for key in SMALL_ORDER {
        let ops = seen.get(key).cloned().unwrap_or_default();
        assert!(
            ops.iter().any(|o| o == "logId.decodeBytes") && ops.iter().any(|o| o == "logId.decode"),
            "{key} is not tried in both forms: {ops:?}"
        );
    }
}
