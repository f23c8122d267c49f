//! Loading the suites, and the encodings every chapter shares: hex, base32 and base58 by hand,
//! Thread IDs parsed by the spec's rules, binary peer and log IDs, uvarints.

use std::path::PathBuf;

use serde_json::{Map, Value};

pub(crate) fn load(suite: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("suites/{suite}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every case of a suite with its merged inputs: (operation, inputs, case).
pub(crate) fn cases(suite: &Value) -> Vec<(String, Map<String, Value>, Value)> {
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

pub(crate) fn hex_of(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

/// RFC 4648 base32, lower case, no padding.
pub(crate) fn base32(bytes: &[u8]) -> String {
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
pub(crate) fn base58(bytes: &[u8]) -> String {
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
pub(crate) fn parse_tid(bytes: &[u8]) -> Result<(&'static str, Vec<u8>), &'static str> {
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

pub(crate) const LOG_ID_PREFIX: [u8; 6] = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

/// Binary thread and log IDs from their text forms, via the generic multibase decoder.
pub(crate) fn context(inputs: &Map<String, Value>) -> (Vec<u8>, Vec<u8>) {
    let thread = multibase::decode(inputs["thread"].as_str().unwrap())
        .unwrap()
        .1;
    let log = multibase::decode(format!("z{}", inputs["log"].as_str().unwrap()))
        .unwrap()
        .1;
    (thread, log)
}

pub(crate) fn varint(n: usize) -> Vec<u8> {
    assert!(n < 128, "the IDs used here are short");
    vec![n as u8]
}

/// A binary peer or log ID that [LOGID-1] and [LOGID-3] accept.
pub(crate) fn valid_peer(bytes: &[u8]) -> bool {
    bytes.len() == 38
        && bytes[..6] == LOG_ID_PREFIX
        && ed25519_dalek::VerifyingKey::from_bytes(bytes[6..].try_into().unwrap())
            .is_ok_and(|k| !k.is_weak())
}

/// A peer ID text in its canonical form [LOGID-2] naming a valid peer.
pub(crate) fn valid_peer_text(text: &str) -> bool {
    multibase::decode(format!("z{text}"))
        .is_ok_and(|(_, bytes)| valid_peer(&bytes) && base58(&bytes) == text)
}

/// The text form of a binary log ID, or LOG_ID_INVALID.
pub(crate) fn log_text(bytes: &[u8]) -> Result<String, String> {
    if valid_peer(bytes) {
        Ok(base58(bytes))
    } else {
        Err("LOG_ID_INVALID".into())
    }
}

/// Decodes a Thread ID text by the multibase rules of [TID-7] and [TID-9], written out by hand:
/// the RFC 4648 bases with their padding, and base58btc. Any failure is TID_BAD_MULTIBASE.
pub(crate) fn decode_tid_text(text: &str) -> Result<Vec<u8>, &'static str> {
    const B32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const B32HEX: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
    const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const B58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    const BAD: &str = "TID_BAD_MULTIBASE";
    let mut chars = text.chars();
    let prefix = chars.next().ok_or(BAD)?;
    let rest = chars.as_str();
    let lower = |a: &str| a.to_ascii_lowercase();
    // (alphabet, bits per character, padding block)
    let (alphabet, bits, block): (String, u32, usize) = match prefix {
        'f' => ("0123456789abcdef".into(), 4, 0),
        'F' => ("0123456789ABCDEF".into(), 4, 0),
        'b' => (lower(B32), 5, 0),
        'B' => (B32.into(), 5, 0),
        'c' => (lower(B32), 5, 8),
        'C' => (B32.into(), 5, 8),
        'v' => (lower(B32HEX), 5, 0),
        'V' => (B32HEX.into(), 5, 0),
        't' => (lower(B32HEX), 5, 8),
        'T' => (B32HEX.into(), 5, 8),
        'm' => (B64.into(), 6, 0),
        'M' => (B64.into(), 6, 4),
        'u' => (B64URL.into(), 6, 0),
        'U' => (B64URL.into(), 6, 4),
        'z' => {
            // Leading '1's are zero bytes; the rest is a big-endian base-58 number.
            let zeros = rest.chars().take_while(|&c| c == '1').count();
            let mut number: Vec<u8> = Vec::new(); // little-endian base-256 digits
            for c in rest.chars().skip(zeros) {
                let mut carry = B58.find(c).ok_or(BAD)? as u32;
                for byte in number.iter_mut() {
                    carry += u32::from(*byte) * 58;
                    *byte = carry as u8;
                    carry >>= 8;
                }
                while carry > 0 {
                    number.push(carry as u8);
                    carry >>= 8;
                }
            }
            let mut bytes = vec![0u8; zeros];
            bytes.extend(number.iter().rev());
            return Ok(bytes);
        }
        _ => return Err(BAD),
    };
    let data = if block > 0 {
        let data = rest.trim_end_matches('=');
        let chars = data.len();
        // The padding RFC 4648 prescribes fills the last block, and only that.
        if !rest.len().is_multiple_of(block)
            || rest.len() - chars != (block - chars % block) % block
        {
            return Err(BAD);
        }
        data
    } else {
        rest
    };
    let mut acc = 0u32;
    let mut held = 0u32;
    let mut out = Vec::new();
    for c in data.chars() {
        let value = alphabet.find(c).ok_or(BAD)? as u32;
        acc = (acc << bits) | value;
        held += bits;
        if held >= 8 {
            held -= 8;
            out.push((acc >> held) as u8);
            acc &= (1 << held) - 1;
        }
    }
    // Canonical (TID-9): the shortest encoding of out, and the spare bits zero.
    let expected_chars = (out.len() * 8).div_ceil(bits as usize);
    if data.len() != expected_chars || acc != 0 {
        return Err(BAD);
    }
    Ok(out)
}
