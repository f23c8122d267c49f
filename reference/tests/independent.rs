//! An independent check of envelopes made by the reference: decoded with `serde_ipld_dagcbor` into
//! `Ipld`, CIDs hashed by hand, associated data built by hand from the brief, every layer opened with
//! `XChaCha20Poly1305` directly and the signature checked with `ed25519_dalek::verify_strict`.
//!
//! Nothing here calls `threads::record`, `threads::verify`, `threads::seal` or `threads::block`; the
//! reference is only used to *make* the envelopes (`threads::log::LogReplica`).
//!
//! Covers [ENV-1], [REC-1], [REC-5]..[REC-9], [SEAL-1]..[SEAL-3], [SIG-1], [SIG-2], [LOGID-1], [TID-1].

mod common;

use std::collections::BTreeMap;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use common::{base32_lower, cbor_bytes, cbor_map, rng};
use ed25519_dalek::{Signature, SigningKey};
use ipld_core::cid::Cid;
use ipld_core::ipld::Ipld;
use sha2::{Digest, Sha256};
use threads::id::{ThreadId, Variant};
use threads::keys::{FollowKey, IdentityKey, KeySet, ReadKey};
use threads::log::LogReplica;

const SEED: [u8; 32] = [0x11; 32];
const RANDOM: [u8; 32] = [0x5a; 32];
const FOLLOW: [u8; 32] = [0xf0; 32];
const READ: [u8; 32] = [0x4e; 32];

/// CIDv1 ‖ dag-cbor ‖ sha2-256 ‖ 32 ‖ digest [REC-1].
fn cid_bytes(block: &[u8]) -> Vec<u8> {
    [&[0x01, 0x71, 0x12, 0x20][..], &Sha256::digest(block)].concat()
}

fn uvarint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// `"threads/v1/" ‖ label ‖ 0x00 ‖ uvarint(len tid) ‖ tid ‖ uvarint(len log) ‖ log` [SEAL-2].
fn ad(label: &str, tid: &[u8], log: &[u8]) -> Vec<u8> {
    [
        b"threads/v1/".to_vec(),
        label.as_bytes().to_vec(),
        vec![0],
        uvarint(tid.len()),
        tid.to_vec(),
        uvarint(log.len()),
        log.to_vec(),
    ]
    .concat()
}

fn decode(bytes: &[u8]) -> Ipld {
    serde_ipld_dagcbor::from_slice(bytes).expect("DAG-CBOR")
}

/// Decodes a map and checks it has exactly `keys` and is canonically encoded [REC-3].
fn map(bytes: &[u8], keys: &[&str]) -> BTreeMap<String, Ipld> {
    let Ipld::Map(map) = decode(bytes) else {
        panic!("not a map: {}", hex::encode(bytes));
    };
    let found: Vec<&str> = map.keys().map(String::as_str).collect();
    let mut expected = keys.to_vec();
    expected.sort_unstable();
    assert_eq!(found, expected);
    let reencoded = serde_ipld_dagcbor::to_vec(&Ipld::Map(map.clone())).expect("encodes");
    assert_eq!(reencoded, bytes, "canonical DAG-CBOR");
    map
}

fn bytes_of(value: &Ipld) -> &[u8] {
    match value {
        Ipld::Bytes(bytes) => bytes,
        other => panic!("not bytes: {other:?}"),
    }
}

fn link_of(value: &Ipld) -> Vec<u8> {
    match value {
        Ipld::Link(cid) => cid.to_bytes(),
        other => panic!("not a link: {other:?}"),
    }
}

/// Opens a sealed layer block (a DAG-CBOR byte string: nonce ‖ ciphertext ‖ tag) [SEAL-1].
fn open(key: &[u8; 32], ad: &[u8], block: &[u8]) -> Vec<u8> {
    let sealed = bytes_of(&decode(block)).to_vec();
    assert_eq!(block, cbor_bytes(&sealed), "a canonical byte string");
    let nonce: [u8; 24] = sealed[..24].try_into().expect("24-byte nonce");
    let plaintext = XChaCha20Poly1305::new(key.into())
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &sealed[24..],
                aad: ad,
            },
        )
        .expect("the layer opens");
    assert_eq!(sealed.len(), plaintext.len() + 40);
    plaintext
}

/// Checks [ENV-1], [SIG-1].
#[test]
fn env_1_sig_1_reference_envelopes_check_out_independently() {
    let thread = ThreadId::from_parts(Variant::Raw, &RANDOM).expect("valid TID");
    let keys = KeySet {
        follow: FollowKey::from(FOLLOW),
        read: Some(ReadKey::from(READ)),
    };
    let identity = IdentityKey::from_seed(&SEED);
    let mut writer = LogReplica::new(thread, identity.log_id());
    let events: [(&[u8], u64); 3] = [
        (b"first event", 1_700_000_000_000),
        (b"", 1_700_000_000_001),
        (&[0xff; 300], u64::MAX),
    ];
    let mut r = rng(42);
    let wire: Vec<Vec<u8>> = events
        .iter()
        .map(|(body, time)| {
            writer
                .append_own(&identity, &keys, body, *time, &mut r)
                .expect("appends")
                .to_bytes()
        })
        .collect();

    // [TID-1], [LOGID-1] by hand.
    let tid = [&[0x01, 0x55][..], &RANDOM].concat();
    let public = SigningKey::from_bytes(&SEED).verifying_key();
    let log = [&[0x00, 0x24, 0x08, 0x01, 0x12, 0x20][..], public.as_bytes()].concat();

    let mut prev: Option<Vec<u8>> = None;
    for (i, (bytes, (body, time))) in wire.iter().zip(events).enumerate() {
        // [ENV-1] the envelope: four byte strings in canonical order.
        let envelope = map(bytes, &["body", "event", "header", "record"]);
        let block = |name: &str| bytes_of(&envelope[name]).to_vec();
        let (record, event, header, body_block) = (
            block("record"),
            block("event"),
            block("header"),
            block("body"),
        );
        assert_eq!(
            *bytes,
            cbor_map(&[
                ("body", cbor_bytes(&body_block)),
                ("event", cbor_bytes(&event)),
                ("header", cbor_bytes(&header)),
                ("record", cbor_bytes(&record)),
            ])
        );

        // [REC-8], [SEAL-3] the record layer, under the follow key.
        let r_bytes = open(&FOLLOW, &ad("record", &tid, &log), &record);
        let r = map(&r_bytes, &["block", "prev", "seq", "sig"]);
        assert_eq!(link_of(&r["block"]), cid_bytes(&event));
        // [REC-9] seq from 1, prev null first and then the previous record's CID.
        assert_eq!(r["seq"], Ipld::Integer(i as i128 + 1));
        match &prev {
            None => assert_eq!(r["prev"], Ipld::Null),
            Some(p) => assert_eq!(&link_of(&r["prev"]), p),
        }

        // [SIG-1], [SIG-2] the signing input rebuilt by hand and verified strictly.
        let signing = Ipld::Map(BTreeMap::from([
            ("block".to_string(), r["block"].clone()),
            ("log".to_string(), Ipld::Bytes(log.clone())),
            ("prev".to_string(), r["prev"].clone()),
            ("seq".to_string(), r["seq"].clone()),
            ("thread".to_string(), Ipld::Bytes(tid.clone())),
        ]));
        let input = [
            b"threads/v1/record-signature\0".to_vec(),
            serde_ipld_dagcbor::to_vec(&signing).expect("encodes"),
        ]
        .concat();
        let sig: [u8; 64] = bytes_of(&r["sig"]).try_into().expect("64-byte signature");
        public
            .verify_strict(&input, &Signature::from_bytes(&sig))
            .expect("the signature verifies strictly");

        // [REC-7] the event links the header and body blocks.
        let ev = map(&event, &["body", "header"]);
        assert_eq!(link_of(&ev["header"]), cid_bytes(&header));
        assert_eq!(link_of(&ev["body"]), cid_bytes(&body_block));

        // [REC-6] the header, under the read key: the content key and the time.
        let h = map(
            &open(&READ, &ad("header", &tid, &log), &header),
            &["key", "time"],
        );
        assert_eq!(h["time"], Ipld::Integer(i128::from(time)));
        let content: [u8; 32] = bytes_of(&h["key"]).try_into().expect("32-byte content key");

        // [REC-5] the body, under the content key.
        assert_eq!(open(&content, &ad("body", &tid, &log), &body_block), body);

        // [REC-1] the reference names the record by the same CID, in base32 text `bafyrei…`.
        let record_cid = cid_bytes(&record);
        let held = writer
            .chain()
            .get(i as u64 + 1)
            .expect("the writer holds it");
        assert_eq!(held.to_bytes(), record_cid);
        let text = format!("b{}", base32_lower(&record_cid));
        assert!(text.starts_with("bafyrei"));
        assert_eq!(held.to_string(), text);
        let parsed = Cid::try_from(text.as_str()).expect("a CID in base32 text");
        assert_eq!(parsed.to_bytes(), record_cid);
        prev = Some(record_cid);
    }
}
