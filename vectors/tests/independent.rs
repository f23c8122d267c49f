//! A second, independent path to every suite's expected values.
//!
//! Nothing here calls the reference (`threads`) or the generator: Thread IDs are parsed by hand,
//! base32 and base58 are encoded by hand, envelopes are decoded with a generic DAG-CBOR decoder
//! into `Ipld`, CIDs are hashed with `sha2`, layers are opened with `chacha20poly1305` and `hmac`,
//! signatures are checked with `ed25519-dalek`, and logs are replayed by a separate model. Where a
//! published example exists (RFC 8032, draft-irtf-cfrg-xchacha) the vector must match it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use ipld_core::ipld::Ipld;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

fn load(suite: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("suites/{suite}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every case of a suite with its merged inputs: (operation, inputs, case).
fn cases(suite: &Value) -> Vec<(String, Map<String, Value>, Value)> {
    let mut out = Vec::new();
    for group in suite["testGroups"].as_array().unwrap() {
        let mut params = group.as_object().unwrap().clone();
        params.remove("tests");
        for case in group["tests"].as_array().unwrap() {
            let mut inputs = params.clone();
            inputs.extend(case.as_object().unwrap().clone());
            out.push((
                group["operation"].as_str().unwrap().to_string(),
                inputs,
                case.clone(),
            ));
        }
    }
    out
}

fn hex_of(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

/// RFC 4648 base32, lower case, no padding.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Bitcoin base58 by repeated division.
fn base58(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = Vec::new();
    for &b in bytes {
        let mut carry = u32::from(b);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    std::iter::repeat_n('1', zeros)
        .chain(digits.iter().rev().map(|&d| ALPHABET[d as usize] as char))
        .collect()
}

/// Parses a binary Thread ID by the spec's rules, written out independently of the reference.
fn parse_tid(bytes: &[u8]) -> Result<(&'static str, Vec<u8>), &'static str> {
    fn uvarint(input: &[u8]) -> Result<(u64, &[u8]), &'static str> {
        let mut value = 0u64;
        for (i, &b) in input.iter().enumerate() {
            if i == 9 {
                return Err("TID_BAD_VARINT");
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err("TID_BAD_VARINT");
                }
                return Ok((value, &input[i + 1..]));
            }
        }
        Err("TID_BAD_VARINT")
    }
    let (version, rest) = uvarint(bytes)?;
    if version != 1 {
        return Err("TID_UNKNOWN_VERSION");
    }
    let (variant, random) = uvarint(rest)?;
    let variant = match variant {
        0x55 => "raw",
        0x70 => "access-controlled",
        _ => return Err("TID_UNKNOWN_VARIANT"),
    };
    match random.len() {
        0..16 => Err("TID_SHORT_RANDOM"),
        16..=64 => Ok((variant, random.to_vec())),
        _ => Err("TID_LONG_RANDOM"),
    }
}

fn outcome_code(case: &Value) -> Option<&str> {
    case["errorCode"].as_str()
}

#[test]
fn tid_vectors_agree_with_a_hand_parser_and_hand_base32() {
    let mut checked = 0;
    for (op, inputs, case) in cases(&load("tid")) {
        let expected = &case["expected"];
        if case["result"] == "valid" {
            let bytes = hex_of(&expected["bytes"]);
            let (variant, random) = parse_tid(&bytes).unwrap();
            assert_eq!(expected["variant"], variant);
            assert_eq!(hex_of(&expected["random"]), random);
            assert_eq!(
                expected["text"].as_str().unwrap(),
                format!("b{}", base32(&bytes))
            );
        }
        match op.as_str() {
            "tid.decodeBytes" => {
                let got = parse_tid(&hex_of(&inputs["bytes"]));
                match outcome_code(&case) {
                    Some(code) => assert_eq!(got.err(), Some(code), "tcId {}", case["tcId"]),
                    None => {
                        assert_eq!(hex_of(&case["expected"]["bytes"]), hex_of(&inputs["bytes"]))
                    }
                }
            }
            "tid.encode" if case["result"] == "valid" => {
                let code = if inputs["variant"] == "raw" {
                    0x55
                } else {
                    0x70
                };
                let want = [&[1u8, code][..], &hex_of(&inputs["random"])].concat();
                assert_eq!(hex_of(&expected["bytes"]), want);
            }
            "tid.decode"
                if inputs["text"].as_str().unwrap().starts_with('b')
                    && case["result"] == "valid" =>
            {
                assert_eq!(
                    inputs["text"], expected["text"],
                    "base32 input is already canonical"
                );
            }
            _ => {}
        }
        checked += 1;
    }
    assert!(checked > 50);
}

/// RFC 8032 §7.1 TEST 1–3: (secret key, public key) as published.
const RFC8032: &[(&str, &str)] = &[
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

const LOG_ID_PREFIX: [u8; 6] = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

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

/// Binary thread and log IDs from their text forms, via the generic multibase decoder.
fn context(inputs: &Map<String, Value>) -> (Vec<u8>, Vec<u8>) {
    let thread = multibase::decode(inputs["thread"].as_str().unwrap())
        .unwrap()
        .1;
    let log = multibase::decode(format!("z{}", inputs["log"].as_str().unwrap()))
        .unwrap()
        .1;
    (thread, log)
}

fn varint(n: usize) -> Vec<u8> {
    assert!(n < 128, "the IDs used here are short");
    vec![n as u8]
}

fn ad(label: &str, thread: &[u8], log: &[u8]) -> Vec<u8> {
    [
        format!("threads/v1/{label}\0").as_bytes(),
        &varint(thread.len()),
        thread,
        &varint(log.len()),
        log,
    ]
    .concat()
}

fn cid_text(block: &[u8]) -> String {
    let bytes = [&[0x01, 0x71, 0x12, 0x20][..], &Sha256::digest(block)].concat();
    format!("b{}", base32(&bytes))
}

fn link_text(node: &Ipld) -> String {
    match node {
        Ipld::Link(cid) => format!("b{}", base32(&cid.to_bytes())),
        other => panic!("not a link: {other:?}"),
    }
}

fn open(key: &[u8], ad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let cipher = XChaCha20Poly1305::new_from_slice(key).ok()?;
    let nonce = XNonce::try_from(sealed.get(..24)?).ok()?;
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &sealed[24..],
                aad: ad,
            },
        )
        .ok()
}

fn bytes_node(node: Option<&Ipld>) -> Vec<u8> {
    match node {
        Some(Ipld::Bytes(b)) => b.clone(),
        other => panic!("not bytes: {other:?}"),
    }
}

/// The record layer's nonce: HMAC-SHA256(key, uvarint(len ad) ‖ ad ‖ plaintext), first 24 bytes.
fn synthetic_nonce(key: &[u8], ad: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).unwrap();
    mac.update(&[&varint(ad.len())[..], ad, plain].concat());
    mac.finalize().into_bytes()[..24].to_vec()
}

/// Follower (and, with a read key, reader) verification by raw crypto calls. Returns the JSON
/// the vectors expect, or the first failure's error code.
fn raw_verify(
    thread: &[u8],
    log: &[u8],
    follow: &[u8],
    read: Option<&[u8]>,
    envelope: &[u8],
) -> Result<Map<String, Value>, &'static str> {
    let Ok(Ipld::Map(env)) = serde_ipld_dagcbor::from_slice::<Ipld>(envelope) else {
        return Err("ENVELOPE_MALFORMED");
    };
    let block = |name: &str| bytes_node(env.get(name));
    let (record_block, event_block, header_block, body_block) = (
        block("record"),
        block("event"),
        block("header"),
        block("body"),
    );
    let Ok(Ipld::Bytes(sealed)) = serde_ipld_dagcbor::from_slice::<Ipld>(&record_block) else {
        return Err("BLOCK_MALFORMED");
    };
    let record_ad = ad("record", thread, log);
    let plain = open(follow, &record_ad, &sealed).ok_or("RECORD_DECRYPT_FAILED")?;
    if synthetic_nonce(follow, &record_ad, &plain) != sealed[..24] {
        return Err("RECORD_NONCE_INVALID");
    }
    let Ok(Ipld::Map(record)) = serde_ipld_dagcbor::from_slice::<Ipld>(&plain) else {
        return Err("BLOCK_MALFORMED");
    };
    let Some(Ipld::Integer(seq)) = record.get("seq") else {
        return Err("BLOCK_MALFORMED");
    };
    let mut signed = BTreeMap::new();
    signed.insert("block".to_string(), record["block"].clone());
    signed.insert("log".to_string(), Ipld::Bytes(log.to_vec()));
    signed.insert("prev".to_string(), record["prev"].clone());
    signed.insert("seq".to_string(), Ipld::Integer(*seq));
    signed.insert("thread".to_string(), Ipld::Bytes(thread.to_vec()));
    let message = [
        &b"threads/v1/record-signature\0"[..],
        &serde_ipld_dagcbor::to_vec(&Ipld::Map(signed)).unwrap(),
    ]
    .concat();
    let public = ed25519_dalek::VerifyingKey::from_bytes(log[6..].try_into().unwrap()).unwrap();
    let sig = ed25519_dalek::Signature::from_slice(&bytes_node(record.get("sig")))
        .map_err(|_| "BLOCK_MALFORMED")?;
    public
        .verify_strict(&message, &sig)
        .map_err(|_| "SIGNATURE_INVALID")?;
    if link_text(&record["block"]) != cid_text(&event_block) {
        return Err("CID_MISMATCH");
    }
    let Ok(Ipld::Map(event)) = serde_ipld_dagcbor::from_slice::<Ipld>(&event_block) else {
        return Err("BLOCK_MALFORMED");
    };
    if link_text(&event["header"]) != cid_text(&header_block)
        || link_text(&event["body"]) != cid_text(&body_block)
    {
        return Err("CID_MISMATCH");
    }
    let mut out = Map::new();
    out.insert("body".into(), cid_text(&body_block).into());
    out.insert("event".into(), cid_text(&event_block).into());
    out.insert("header".into(), cid_text(&header_block).into());
    out.insert(
        "prev".into(),
        match &record["prev"] {
            Ipld::Null => Value::Null,
            link => link_text(link).into(),
        },
    );
    out.insert("recordCid".into(), cid_text(&record_block).into());
    out.insert("seq".into(), u64::try_from(*seq).unwrap().into());
    let Some(read) = read else { return Ok(out) };
    let Ok(Ipld::Bytes(sealed_header)) = serde_ipld_dagcbor::from_slice::<Ipld>(&header_block)
    else {
        return Err("BLOCK_MALFORMED");
    };
    let header =
        open(read, &ad("header", thread, log), &sealed_header).ok_or("HEADER_DECRYPT_FAILED")?;
    let Ok(Ipld::Map(header)) = serde_ipld_dagcbor::from_slice::<Ipld>(&header) else {
        return Err("BLOCK_MALFORMED");
    };
    let Some(Ipld::Integer(time)) = header.get("time") else {
        return Err("BLOCK_MALFORMED");
    };
    let Ok(Ipld::Bytes(sealed_body)) = serde_ipld_dagcbor::from_slice::<Ipld>(&body_block) else {
        return Err("BLOCK_MALFORMED");
    };
    let body = open(
        &bytes_node(header.get("key")),
        &ad("body", thread, log),
        &sealed_body,
    )
    .ok_or("BODY_DECRYPT_FAILED")?;
    out.insert("plaintext".into(), hex::encode(body).into());
    out.insert("time".into(), u64::try_from(*time).unwrap().into());
    Ok(out)
}

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

#[test]
fn logs_vectors_agree_with_an_independent_log_model() {
    for (_, inputs, case) in cases(&load("logs")) {
        let (thread, log) = context(&inputs);
        let follow = hex_of(&inputs["followKey"]);
        let mut held: Vec<String> = Vec::new();
        let mut outcomes = Vec::new();
        for delivery in inputs["deliveries"].as_array().unwrap() {
            let outcome = match raw_verify(&thread, &log, &follow, None, &hex_of(delivery)) {
                Err(code) => code.to_string(),
                Ok(r) => {
                    let seq = r["seq"].as_u64().unwrap() as usize;
                    let cid = r["recordCid"].as_str().unwrap().to_string();
                    if seq <= held.len() {
                        if held[seq - 1] == cid {
                            "duplicate"
                        } else {
                            "LOG_FORK"
                        }
                        .to_string()
                    } else if seq > held.len() + 1 {
                        "LOG_GAP".to_string()
                    } else if r["prev"].as_str() != held.last().map(String::as_str) {
                        "LOG_BROKEN_LINK".to_string()
                    } else {
                        held.push(cid);
                        "appended".to_string()
                    }
                }
            };
            outcomes.push(outcome);
        }
        let expected = &case["expected"];
        assert_eq!(
            expected["outcomes"],
            serde_json::json!(outcomes),
            "tcId {}",
            case["tcId"]
        );
        assert_eq!(expected["counter"], held.len());
        assert_eq!(
            expected["head"],
            held.last().map_or(Value::Null, |h| h.clone().into())
        );
        let first_error = outcomes
            .iter()
            .find(|o| o.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
        assert_eq!(
            case["errorCode"].as_str(),
            first_error.map(String::as_str),
            "tcId {}",
            case["tcId"]
        );
    }
}
