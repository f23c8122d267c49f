//! Raw crypto: the associated data of each layer, opening with XChaCha20-Poly1305 directly, the
//! synthetic nonce by HMAC-SHA256, and a whole envelope verified step by step ([VERIFY-1], [VERIFY-2]).

use std::collections::BTreeMap;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use ipld_core::ipld::Ipld;
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::cbor::{bytes_node, cid_text, link_text};
use crate::common::varint;

pub(crate) fn ad(label: &str, thread: &[u8], log: &[u8]) -> Vec<u8> {
    [
        format!("threads/v1/{label}\0").as_bytes(),
        &varint(thread.len()),
        thread,
        &varint(log.len()),
        log,
    ]
    .concat()
}

pub(crate) fn open(key: &[u8], ad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
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

/// The record layer's nonce: HMAC-SHA256(key, uvarint(len ad) ‖ ad ‖ plaintext), first 24 bytes.
pub(crate) fn synthetic_nonce(key: &[u8], ad: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).unwrap();
    mac.update(&[&varint(ad.len())[..], ad, plain].concat());
    mac.finalize().into_bytes()[..24].to_vec()
}

/// Follower (and, with a read key, reader) verification by raw crypto calls. Returns the JSON
/// the vectors expect, or the first failure's error code.
pub(crate) fn raw_verify(
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
