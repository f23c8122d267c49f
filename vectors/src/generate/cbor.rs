//! A tiny CBOR writer for crafting malformed inputs the reference's encoder would never produce
//! (wrong key order, wrong types, extra fields).

/// Writes a CBOR head: major type and argument, in the shortest form.
pub fn head(major: u8, arg: u64) -> Vec<u8> {
    let m = major << 5;
    match arg {
        0..=23 => vec![m | arg as u8],
        24..=0xff => vec![m | 24, arg as u8],
        0x100..=0xffff => [vec![m | 25], (arg as u16).to_be_bytes().to_vec()].concat(),
        0x1_0000..=0xffff_ffff => [vec![m | 26], (arg as u32).to_be_bytes().to_vec()].concat(),
        _ => [vec![m | 27], arg.to_be_bytes().to_vec()].concat(),
    }
}

/// A byte string.
pub fn bytes(b: &[u8]) -> Vec<u8> {
    [head(2, b.len() as u64), b.to_vec()].concat()
}

/// A text string.
pub fn text(s: &str) -> Vec<u8> {
    [head(3, s.len() as u64), s.as_bytes().to_vec()].concat()
}

/// A map with entries in exactly the given order (canonical or not).
pub fn map(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = head(5, entries.len() as u64);
    for (key, value) in entries {
        out.extend(text(key));
        out.extend_from_slice(value);
    }
    out
}

/// An unsigned integer.
pub fn uint(n: u64) -> Vec<u8> {
    head(0, n)
}

/// The CBOR null.
pub const NULL: u8 = 0xf6;

/// A CID link: tag 42 around a byte string of 0x00 ‖ binary CID.
pub fn link(cid: &cid::Cid) -> Vec<u8> {
    let mut inner = vec![0u8];
    inner.extend(cid.to_bytes());
    [vec![0xd8, 42], bytes(&inner)].concat()
}
