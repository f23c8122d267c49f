//! Lenient text handling, as buggy decoders do it: each function undoes one way a text can be
//! non-canonical [TID-9], so that the reference behind it accepts what it should refuse.

/// The RFC 4648 alphabet of a TID multibase prefix [TID-7], `None` for base58btc and unknown ones.
fn alphabet(prefix: char) -> Option<(&'static str, u32)> {
    const B32: &str = "abcdefghijklmnopqrstuvwxyz234567";
    const B32U: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const B32H: &str = "0123456789abcdefghijklmnopqrstuv";
    const B32HU: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
    const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    Some(match prefix {
        'b' | 'c' => (B32, 5),
        'B' | 'C' => (B32U, 5),
        'v' | 't' => (B32H, 5),
        'V' | 'T' => (B32HU, 5),
        'm' | 'M' => (B64, 6),
        'u' | 'U' => (B64URL, 6),
        'f' => ("0123456789abcdef", 4),
        'F' => ("0123456789ABCDEF", 4),
        _ => return None,
    })
}

/// The padding block of a padded base, `None` for the unpadded ones.
fn pad_block(prefix: char) -> Option<usize> {
    match prefix {
        'c' | 'C' | 't' | 'T' => Some(8),
        'M' | 'U' => Some(4),
        _ => None,
    }
}

fn split(text: &str) -> Option<(char, &str)> {
    let prefix = text.chars().next()?;
    Some((prefix, &text[prefix.len_utf8()..]))
}

/// Letters folded to the case of the prefix: a decoder that ignores case.
pub fn fold_case(text: &str) -> String {
    match split(text) {
        Some((p @ ('b' | 'c' | 'v' | 't' | 'f'), rest)) => format!("{p}{}", rest.to_lowercase()),
        Some((p @ ('B' | 'C' | 'V' | 'T' | 'F'), rest)) => format!("{p}{}", rest.to_uppercase()),
        _ => text.to_string(),
    }
}

/// Padding dropped and, for a padded base, written again as it should be: a decoder that
/// ignores `=` wherever it stands.
pub fn fix_padding(text: &str) -> String {
    let Some((prefix, rest)) = split(text) else {
        return text.to_string();
    };
    if alphabet(prefix).is_none() {
        return text.to_string();
    }
    let mut body: String = rest.chars().filter(|c| *c != '=').collect();
    if let Some(block) = pad_block(prefix) {
        while !body.len().is_multiple_of(block) {
            body.push('=');
        }
    }
    format!("{prefix}{body}")
}

/// The last character's unused low bits cleared: a decoder that ignores trailing bits.
pub fn clear_trailing_bits(text: &str) -> String {
    let Some((prefix, rest)) = split(text) else {
        return text.to_string();
    };
    let Some((alphabet, bits)) = alphabet(prefix) else {
        return text.to_string();
    };
    let body = rest.trim_end_matches('=');
    let padding = &rest[body.len()..];
    let extra = (body.len() as u32 * bits) % 8;
    let Some(last) = body.chars().last() else {
        return text.to_string();
    };
    let Some(value) = alphabet.find(last) else {
        return text.to_string();
    };
    if extra == 0 || extra >= bits {
        return text.to_string();
    }
    let cleared = (value as u32 >> extra) << extra;
    let Some(replacement) = alphabet.chars().nth(cleared as usize) else {
        return text.to_string();
    };
    format!(
        "{prefix}{}{replacement}{padding}",
        &body[..body.len() - last.len_utf8()]
    )
}

/// The last character's unused low bits set: an encoder that leaves garbage in them, producing
/// a text no canonical encoder writes [TID-6].
pub fn set_trailing_bits(text: &str) -> String {
    let Some((prefix, body)) = split(text) else {
        return text.to_string();
    };
    let Some((alphabet, bits)) = alphabet(prefix) else {
        return text.to_string();
    };
    let extra = (body.len() as u32 * bits) % 8;
    let last = body.chars().last().and_then(|c| alphabet.find(c));
    let set = last.and_then(|v| alphabet.chars().nth(v | ((1 << extra) - 1)));
    match set {
        Some(c) if extra > 0 && extra < bits && !body.contains('=') => {
            format!("{prefix}{}{c}", &body[..body.len() - 1])
        }
        _ => text.to_string(),
    }
}

/// The two base64 alphabets mixed: `+` and `-`, `/` and `_` read alike, as a decoder that
/// accepts either alphabet in both bases does.
pub fn mix_base64(text: &str) -> String {
    match split(text) {
        Some((p @ ('m' | 'M'), rest)) => format!("{p}{}", rest.replace('-', "+").replace('_', "/")),
        Some((p @ ('u' | 'U'), rest)) => format!("{p}{}", rest.replace('+', "-").replace('/', "_")),
        _ => text.to_string(),
    }
}

/// Reads one unsigned varint leniently (non-minimal forms allowed, at most 9 bytes); the value
/// and the number of bytes read.
fn lenient_uvarint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(9) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn uvarint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A binary TID's version and variant varints rewritten minimally: a decoder that accepts
/// non-minimal varints [TID-5].
pub fn minimal_varints(bytes: &[u8]) -> Vec<u8> {
    let Some((version, a)) = lenient_uvarint(bytes) else {
        return bytes.to_vec();
    };
    let Some((variant, b)) = lenient_uvarint(&bytes[a..]) else {
        return bytes.to_vec();
    };
    [uvarint(version), uvarint(variant), bytes[a + b..].to_vec()].concat()
}

/// Base58btc without a prefix [LOGID-2].
pub fn base58(bytes: &[u8]) -> String {
    multibase::encode(multibase::Base::Base58Btc, bytes)[1..].to_string()
}

/// Base32 lower case without padding, after `b` [TID-6].
pub fn base32_text(bytes: &[u8]) -> String {
    multibase::encode(multibase::Base::Base32Lower, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_lenient_reading_maps_a_non_canonical_text_to_the_canonical_one() {
        assert_eq!(fold_case("bAFk"), "bafk");
        assert_eq!(fold_case("BafK"), "BAFK");
        assert_eq!(fix_padding("cmfra"), "cmfra====");
        assert_eq!(fix_padding("bmfrgg=="), "bmfrgg");
        // "a" is 0x61: base32 "me" has trailing bits 00; "mf" sets one of them.
        assert_eq!(clear_trailing_bits("bmf"), "bme");
        assert_eq!(clear_trailing_bits("MYR=="), "MYQ==");
        assert_eq!(mix_base64("m-_"), "m+/");
        assert_eq!(set_trailing_bits("bme"), "bmh");
        assert_eq!(clear_trailing_bits(&set_trailing_bits("bme")), "bme");
        assert_eq!(minimal_varints(&[0x81, 0x00, 0x55, 7]), vec![1, 0x55, 7]);
    }
}
