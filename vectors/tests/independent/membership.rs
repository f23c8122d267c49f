//! Chapter 7.12: membership proofs, topics and sealed publications, re-derived without the
//! reference: HMAC-SHA256 built by hand from `sha2` (RFC 2104), HKDF by hand (RFC 5869), the
//! transcript written out byte by byte in DAG-CBOR, peer IDs decoded from base58 by hand, and
//! publications opened with `chacha20poly1305` directly.

use std::collections::BTreeMap;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::common::{base32, cases, decode_tid_text, hex_of, load};
use crate::raw;
use crate::sync::decode_sync_message;

/// HMAC-SHA256 (RFC 2104): SHA-256((K ⊕ opad) ‖ SHA-256((K ⊕ ipad) ‖ m)), K padded to 64 bytes.
fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::digest([pad(0x36), message.to_vec()].concat());
    Sha256::digest([pad(0x5c), inner.to_vec()].concat()).into()
}

/// HKDF-SHA256 (RFC 5869) with a 32-byte output: one block of expand.
fn hkdf(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let prk = hmac(salt, ikm);
    hmac(&prk, &[info, &[1]].concat())
}

/// Base58btc decoded by hand.
fn base58_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut bytes: Vec<u8> = Vec::new();
    for c in text.chars() {
        let mut carry = ALPHABET.find(c).unwrap() as u32;
        for b in bytes.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = text.chars().take_while(|c| *c == '1').count();
    [vec![0; zeros], bytes].concat()
}

/// A CBOR head: major type and argument, shortest form.
fn head(major: u8, n: usize) -> Vec<u8> {
    let m = major << 5;
    match n {
        0..=23 => vec![m | n as u8],
        24..=0xff => vec![m | 24, n as u8],
        _ => vec![m | 25, (n >> 8) as u8, n as u8],
    }
}

fn text(s: &str) -> Vec<u8> {
    [head(3, s.len()), s.as_bytes().to_vec()].concat()
}

fn bytes(b: &[u8]) -> Vec<u8> {
    [head(2, b.len()), b.to_vec()].concat()
}

/// The transcript of [SYNC-18], keys written in DAG-CBOR order by hand.
fn transcript(thread: &[u8], prover: &[u8], verifier: &[u8], nonce: &[u8]) -> Vec<u8> {
    [
        vec![0xa6],
        text("epoch"),
        vec![0x00],
        text("label"),
        text("threads/membership/v1"),
        text("nonce"),
        bytes(nonce),
        text("prover"),
        bytes(prover),
        text("thread"),
        bytes(thread),
        text("verifier"),
        bytes(verifier),
    ]
    .concat()
}

struct Context {
    thread: Vec<u8>,
    follow: Vec<u8>,
}

fn context(inputs: &Map<String, Value>) -> Context {
    Context {
        thread: decode_tid_text(inputs["thread"].as_str().unwrap()).unwrap(),
        follow: inputs.get("followKey").map(hex_of).unwrap_or_default(),
    }
}

fn peer(inputs: &Map<String, Value>, key: &str) -> Vec<u8> {
    base58_decode(inputs[key].as_str().unwrap())
}

fn proof(inputs: &Map<String, Value>) -> [u8; 32] {
    let c = context(inputs);
    let key = hkdf(&c.thread, &c.follow, b"threads/membership/v1");
    let t = transcript(
        &c.thread,
        &peer(inputs, "prover"),
        &peer(inputs, "verifier"),
        &hex_of(&inputs["nonce"]),
    );
    hmac(&key, &t)
}

fn ad(thread: &[u8]) -> Vec<u8> {
    [b"threads/gossip/v1".as_slice(), thread].concat()
}

fn model(op: &str, inputs: &Map<String, Value>) -> Result<Value, String> {
    match op {
        "membership.deriveKeys" => {
            let c = context(inputs);
            let derive = |info: &[u8]| hkdf(&c.thread, &c.follow, info);
            Ok(json!({
                "gossipKey": hex::encode(derive(b"threads/gossip/v1")),
                "proofKey": hex::encode(derive(b"threads/membership/v1")),
                "topic": format!("b{}", base32(&derive(b"threads/topic/v1"))),
            }))
        }
        "membership.transcript" => {
            let c = context(inputs);
            let t = transcript(
                &c.thread,
                &peer(inputs, "prover"),
                &peer(inputs, "verifier"),
                &hex_of(&inputs["nonce"]),
            );
            Ok(json!({ "transcript": hex::encode(t) }))
        }
        "membership.prove" => Ok(json!({ "proof": hex::encode(proof(inputs)) })),
        "membership.checkProof" => {
            // A constant-time compare is the implementation's duty; equality is the verdict.
            if hex_of(&inputs["proof"]) == proof(inputs) {
                Ok(json!({}))
            } else {
                Err("PROOF_INVALID".into())
            }
        }
        "membership.sealPublication" => {
            let c = context(inputs);
            let key = hkdf(&c.thread, &c.follow, b"threads/gossip/v1");
            let nonce = hex_of(&inputs["nonce"]);
            let cipher = XChaCha20Poly1305::new_from_slice(&key).unwrap();
            let sealed = cipher
                .encrypt(
                    &XNonce::try_from(nonce.as_slice()).unwrap(),
                    Payload {
                        msg: &hex_of(&inputs["message"]),
                        aad: &ad(&c.thread),
                    },
                )
                .unwrap();
            Ok(json!({ "sealed": hex::encode([nonce, sealed].concat()) }))
        }
        "membership.openPublication" => {
            let c = context(inputs);
            let key = hkdf(&c.thread, &c.follow, b"threads/gossip/v1");
            let sealed = hex_of(&inputs["sealed"]);
            if sealed.len() < 40 {
                return Err("PUBLICATION_INVALID".into());
            }
            raw::open(&key, &ad(&c.thread), &sealed)
                .map(|m| json!({ "message": hex::encode(m) }))
                .ok_or_else(|| "PUBLICATION_INVALID".into())
        }
        "sync.decodeMessage" => decode_sync_message(&hex_of(&inputs["bytes"])),
        other => panic!("unexpected operation {other}"),
    }
}

#[test]
fn membership_vectors_agree_with_hand_built_hmac_hkdf_and_transcripts() {
    let mut per_op: BTreeMap<String, usize> = BTreeMap::new();
    for (op, inputs, case) in cases(&load("membership")) {
        let id = &case["tcId"];
        let got = model(&op, &inputs);
        match case["errorCode"].as_str() {
            Some(code) => assert_eq!(got, Err(code.to_string()), "tcId {id}"),
            None => assert_eq!(got.as_ref(), Ok(&case["expected"]), "tcId {id}"),
        }
        *per_op.entry(op).or_default() += 1;
    }
    assert_eq!(per_op.len(), 7, "{per_op:?}");
}

/// RFC 4231 test case 2 for the hand-built HMAC, RFC 5869 test case 1 for HKDF (truncated to
/// its first 32 bytes): the models above are checked against published values first.
#[test]
fn the_hand_built_hmac_and_hkdf_match_their_rfcs() {
    assert_eq!(
        hex::encode(hmac(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let ikm = [0x0b; 22];
    let salt: Vec<u8> = (0u8..=0x0c).collect();
    let info: Vec<u8> = (0xf0u8..=0xf9).collect();
    assert_eq!(
        hex::encode(hkdf(&salt, &ikm, &info)),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
    );
}

/// spec/sync.md 7.12's worked example: its proof key, proof and topic, recomputed here, appear in
/// the spec as printed.
#[test]
fn the_spec_worked_example_matches_the_hand_built_model() {
    let spec =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/sync.md")).unwrap();
    let thread =
        decode_tid_text("bafkqaaicamcakbqhbaequcymbuha6earcijrifiwc4mbsgq3dqor4hy").unwrap();
    let follow: Vec<u8> = (0x20u8..0x40).collect();
    let key = hkdf(&thread, &follow, b"threads/membership/v1");
    let prover = base58_decode("12D3KooWQK1wnefoLrcVHbbnf5tLzbopUd3K3bFAoJpA7YJgL5pV");
    let verifier = base58_decode("12D3KooWDwTirQce1RRKnasT5fPVFgzXCy6SiRgSwrwPGLC7zE91");
    let nonce: Vec<u8> = (0xa0u8..0xb0).collect();
    let proof = hmac(&key, &transcript(&thread, &prover, &verifier, &nonce));
    let topic = format!("b{}", base32(&hkdf(&thread, &follow, b"threads/topic/v1")));
    for value in [hex::encode(key), hex::encode(proof), topic] {
        assert!(spec.contains(&value), "spec/sync.md shows {value}");
    }
}
