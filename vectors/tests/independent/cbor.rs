//! Reading the generic DAG-CBOR decoder's output (`Ipld`): map fields, canonical form, CIDs of
//! blocks and links. Nothing here knows a protocol structure.

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;
use sha2::{Digest, Sha256};

use crate::common::base32;

pub(crate) fn cid_text(block: &[u8]) -> String {
    let bytes = [&[0x01, 0x71, 0x12, 0x20][..], &Sha256::digest(block)].concat();
    format!("b{}", base32(&bytes))
}

pub(crate) fn link_text(node: &Ipld) -> String {
    match node {
        Ipld::Link(cid) => format!("b{}", base32(&cid.to_bytes())),
        other => panic!("not a link: {other:?}"),
    }
}

pub(crate) fn bytes_node(node: Option<&Ipld>) -> Vec<u8> {
    match node {
        Some(Ipld::Bytes(b)) => b.clone(),
        other => panic!("not bytes: {other:?}"),
    }
}

/// A map's entry, or `None`.
pub(crate) fn get<'a>(map: &'a BTreeMap<String, Ipld>, key: &str) -> Option<&'a Ipld> {
    map.get(key)
}

pub(crate) fn is_canonical(node: &Ipld, bytes: &[u8]) -> bool {
    serde_ipld_dagcbor::to_vec(node).is_ok_and(|b| b == bytes)
}

/// Decodes canonical DAG-CBOR into a map with exactly `keys`.
pub(crate) fn exact_map(bytes: &[u8], keys: &[&str]) -> Option<BTreeMap<String, Ipld>> {
    let node: Ipld = serde_ipld_dagcbor::from_slice(bytes).ok()?;
    if !is_canonical(&node, bytes) {
        return None;
    }
    match node {
        Ipld::Map(map) if map.len() == keys.len() && keys.iter().all(|k| map.contains_key(*k)) => {
            Some(map)
        }
        _ => None,
    }
}

pub(crate) fn string(node: Option<&Ipld>) -> Option<String> {
    match node {
        Some(Ipld::String(s)) => Some(s.clone()),
        _ => None,
    }
}
