//! Suite `tid`: Thread ID layout, variants, random length and multibase text forms (spec chapter 1).

use multibase::Base;
use rand_chacha::ChaCha20Rng;
use rand_core::Rng;
use serde_json::json;
use threads::ErrorCode as E;
use threads::id::{ThreadId, Variant};

use super::{Intent, SuiteBuilder};
use crate::format::SuiteFile;

/// Every base [TID-7] requires decoders to accept, with its name.
pub const ACCEPTED_BASES: &[(Base, &str)] = &[
    (Base::Base16Lower, "base16"),
    (Base::Base16Upper, "base16upper"),
    (Base::Base32Lower, "base32"),
    (Base::Base32Upper, "base32upper"),
    (Base::Base32PadLower, "base32pad"),
    (Base::Base32PadUpper, "base32padupper"),
    (Base::Base32HexLower, "base32hex"),
    (Base::Base32HexUpper, "base32hexupper"),
    (Base::Base32HexPadLower, "base32hexpad"),
    (Base::Base32HexPadUpper, "base32hexpadupper"),
    (Base::Base58Btc, "base58btc"),
    (Base::Base64, "base64"),
    (Base::Base64Pad, "base64pad"),
    (Base::Base64Url, "base64url"),
    (Base::Base64UrlPad, "base64urlpad"),
];

/// Multibases [TID-7] rejects since spec 0.2.0, with their names.
pub const DROPPED_BASES: &[(Base, &str)] = &[
    (Base::Base2, "base2"),
    (Base::Base8, "base8"),
    (Base::Base10, "base10"),
    (Base::Base32Z, "base32z"),
    (Base::Base36Lower, "base36"),
    (Base::Base36Upper, "base36upper"),
    (Base::Base58Flickr, "base58flickr"),
    (Base::Base45, "base45"),
    (Base::Base256Emoji, "base256emoji"),
];

/// Generates the `tid` suite.
pub fn generate() -> Result<SuiteFile, String> {
    let mut s = SuiteBuilder::new(
        "tid",
        &[
            "Thread IDs: uvarint(version) ‖ uvarint(variant) ‖ random (spec/identifiers.md).",
            "Bytes are lower-case hex; text forms are multibase strings.",
        ],
    );
    notes(&mut s);
    let mut rng = s.rng("canonical");
    let raw = random_tid(Variant::Raw, 32, &mut rng);
    let acl = random_tid(Variant::AccessControlled, 32, &mut rng);

    s.group("TidDecodeText", "tid.decode", json!({}));
    s.case(
        "TID-6",
        &["CANONICAL"],
        "raw thread, 32 random bytes, canonical base32",
        json!({"text": raw.to_string()}),
        Intent::Valid,
    );
    s.case(
        "TID-3",
        &["CANONICAL"],
        "access-controlled thread, canonical base32",
        json!({"text": acl.to_string()}),
        Intent::Valid,
    );
    let mut rng = s.rng("random-length-bounds");
    for len in [16, 64] {
        let tid = random_tid(Variant::Raw, len, &mut rng);
        s.case(
            "TID-4",
            &["BOUNDARY"],
            &format!("{len} random bytes, a bound of the allowed range"),
            json!({"text": tid.to_string()}),
            Intent::Valid,
        );
    }
    for (base, name) in ACCEPTED_BASES {
        let section = if matches!(base, Base::Base58Btc | Base::Base64Url) {
            "TID-8"
        } else {
            "TID-7"
        };
        s.case(
            section,
            &["ANY_MULTIBASE"],
            &format!("the same thread in {name}"),
            json!({"text": raw.to_string_in(*base)}),
            Intent::Valid,
        );
    }
    multibase_edges(&mut s, &raw);
    let b32 = |bytes: &[u8]| multibase::encode(Base::Base32Lower, bytes);
    let invalid_text: &[(&str, &[&str], &str, String, E)] = &[
        (
            "TID-7",
            &["BAD_MULTIBASE"],
            "empty string",
            String::new(),
            E::TidBadMultibase,
        ),
        (
            "TID-7",
            &["BAD_MULTIBASE"],
            "unknown multibase prefix 'x'",
            format!("x{}", &raw.to_string()[1..]),
            E::TidBadMultibase,
        ),
        (
            "TID-7",
            &["BAD_MULTIBASE"],
            "identity base (NUL prefix) is not a text form",
            format!("\0{}", &raw.to_string()[1..]),
            E::TidBadMultibase,
        ),
        (
            "TID-7",
            &["BAD_MULTIBASE"],
            "base32 prefix with a character outside the alphabet",
            format!("{}1", raw),
            E::TidBadMultibase,
        ),
        (
            "TID-7",
            &["BAD_MULTIBASE"],
            "base58btc prefix with '0', outside the alphabet",
            format!("z0{}", &raw.to_string_in(Base::Base58Btc)[1..]),
            E::TidBadMultibase,
        ),
        (
            "TID-5",
            &["TRUNCATED"],
            "multibase prefix only: no bytes at all",
            "b".into(),
            E::TidBadVarint,
        ),
        (
            "TID-9",
            &["NON_CANONICAL_TEXT"],
            "base32 prefix 'b' with upper-case letters",
            format!("b{}", raw.to_string()[1..].to_uppercase()),
            E::TidBadMultibase,
        ),
        (
            "TID-9",
            &["NON_CANONICAL_TEXT"],
            "base64pad with its padding removed",
            raw.to_string_in(Base::Base64Pad)
                .trim_end_matches('=')
                .to_string(),
            E::TidBadMultibase,
        ),
        (
            "TID-9",
            &["NON_CANONICAL_TEXT"],
            "base16 with mixed case",
            format!("f{}", mixed_case(&raw.to_string_in(Base::Base16Lower)[1..])),
            E::TidBadMultibase,
        ),
        (
            "TID-4",
            &["SHORT_RANDOM"],
            "15 random bytes",
            b32(&[&[0x01, 0x55][..], &[7; 15]].concat()),
            E::TidShortRandom,
        ),
        (
            "TID-4",
            &["SHORT_RANDOM"],
            "1 random byte (go-threads accepted this)",
            b32(&[0x01, 0x55, 0x07]),
            E::TidShortRandom,
        ),
        (
            "TID-4",
            &["LONG_RANDOM"],
            "65 random bytes",
            b32(&[&[0x01, 0x55][..], &[7; 65]].concat()),
            E::TidLongRandom,
        ),
        (
            "TID-2",
            &["UNKNOWN_VERSION"],
            "version 2",
            b32(&[&[0x02, 0x55][..], &[7; 32]].concat()),
            E::TidUnknownVersion,
        ),
        (
            "TID-3",
            &["UNKNOWN_VARIANT"],
            "variant 0x56",
            b32(&[&[0x01, 0x56][..], &[7; 32]].concat()),
            E::TidUnknownVariant,
        ),
    ];
    s.invalid_cases(invalid_text.iter().cloned(), |text| json!({"text": text}));

    s.group("TidDecodeBytes", "tid.decodeBytes", json!({}));
    s.case(
        "TID-1",
        &["CANONICAL"],
        "raw thread",
        json!({"bytes": hex::encode(raw.as_bytes())}),
        Intent::Valid,
    );
    s.case(
        "TID-1",
        &["CANONICAL"],
        "access-controlled thread",
        json!({"bytes": hex::encode(acl.as_bytes())}),
        Intent::Valid,
    );
    let r32 = [9u8; 32];
    let with = |prefix: &[u8], random: &[u8]| hex::encode([prefix, random].concat());
    let invalid_bytes: &[(&str, &[&str], &str, String, E)] = &[
        (
            "TID-5",
            &["TRUNCATED"],
            "empty input",
            String::new(),
            E::TidBadVarint,
        ),
        (
            "TID-5",
            &["TRUNCATED"],
            "version only, variant missing",
            "01".into(),
            E::TidBadVarint,
        ),
        (
            "TID-5",
            &["TRUNCATED"],
            "variant uvarint cut off after a continuation byte",
            "0180".into(),
            E::TidBadVarint,
        ),
        (
            "TID-5",
            &["NON_MINIMAL_VARINT"],
            "version 1 encoded in two bytes (0x81 0x00)",
            with(&[0x81, 0x00, 0x55], &r32),
            E::TidBadVarint,
        ),
        (
            "TID-5",
            &["NON_MINIMAL_VARINT"],
            "variant 0x55 encoded in two bytes (0xd5 0x00)",
            with(&[0x01, 0xd5, 0x00], &r32),
            E::TidBadVarint,
        ),
        (
            "TID-5",
            &["LONG_VARINT"],
            "version uvarint of 10 bytes",
            with(
                &[
                    0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x55,
                ],
                &r32,
            ),
            E::TidBadVarint,
        ),
        (
            "TID-5",
            &["LONG_VARINT"],
            "a version uvarint of exactly 9 bytes is well-formed; its value is not 1",
            with(
                &[0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x55],
                &r32,
            ),
            E::TidUnknownVersion,
        ),
        (
            "TID-2",
            &["UNKNOWN_VERSION"],
            "version 0",
            with(&[0x00, 0x55], &r32),
            E::TidUnknownVersion,
        ),
        (
            "TID-2",
            &["UNKNOWN_VERSION"],
            "version 2",
            with(&[0x02, 0x55], &r32),
            E::TidUnknownVersion,
        ),
        (
            "TID-3",
            &["UNKNOWN_VARIANT"],
            "variant 0x00",
            with(&[0x01, 0x00], &r32),
            E::TidUnknownVariant,
        ),
        (
            "TID-3",
            &["UNKNOWN_VARIANT"],
            "variant 0x71 (dag-cbor's code, not a thread variant)",
            with(&[0x01, 0x71], &r32),
            E::TidUnknownVariant,
        ),
        (
            "TID-4",
            &["SHORT_RANDOM"],
            "no random part",
            "0155".into(),
            E::TidShortRandom,
        ),
        (
            "TID-4",
            &["SHORT_RANDOM"],
            "15 random bytes",
            with(&[0x01, 0x70], &[7; 15]),
            E::TidShortRandom,
        ),
        (
            "TID-4",
            &["LONG_RANDOM"],
            "65 random bytes",
            with(&[0x01, 0x70], &[7; 65]),
            E::TidLongRandom,
        ),
    ];
    s.invalid_cases(
        invalid_bytes.iter().cloned(),
        |bytes| json!({"bytes": bytes}),
    );

    s.group("TidEncode", "tid.encode", json!({}));
    let r: Vec<u8> = (0u8..32).collect();
    s.case(
        "TID-6",
        &["CANONICAL"],
        "raw variant, random bytes 00..1f",
        json!({"variant": "raw", "random": hex::encode(&r)}),
        Intent::Valid,
    );
    s.case(
        "TID-6",
        &["CANONICAL"],
        "access-controlled variant, random bytes 00..1f",
        json!({"variant": "access-controlled", "random": hex::encode(&r)}),
        Intent::Valid,
    );
    s.case(
        "TID-4",
        &["SHORT_RANDOM"],
        "a creator must not use fewer than 16 random bytes",
        json!({"variant": "raw", "random": hex::encode(&r[..15])}),
        Intent::Invalid(E::TidShortRandom),
    );
    s.case(
        "TID-4",
        &["LONG_RANDOM"],
        "a creator must not use more than 64 random bytes",
        json!({"variant": "raw", "random": hex::encode([7u8; 65])}),
        Intent::Invalid(E::TidLongRandom),
    );
    s.finish()
}

/// The edges of [TID-7] and [TID-9]: padding lengths, base58btc leading zeros, bases no longer
/// accepted, and every non-canonical spelling of the accepted bases.
fn multibase_edges(s: &mut SuiteBuilder, raw: &ThreadId) {
    let mut rng = s.rng("multibase-edges");
    // Binary lengths 18 to 22 leave every remainder mod 5 (base32 padding of 3, 1, 0, 6 and 4
    // characters) and 18 to 20 every remainder mod 3 (base64 padding of 0, 2 and 1).
    for len in 16..=20 {
        let tid = random_tid(Variant::Raw, len, &mut rng);
        for (base, name) in [
            (Base::Base32PadLower, "base32pad"),
            (Base::Base32HexPadUpper, "base32hexpadupper"),
            (Base::Base64Pad, "base64pad"),
            (Base::Base64UrlPad, "base64urlpad"),
        ] {
            if len > 18 && matches!(base, Base::Base64Pad | Base::Base64UrlPad) {
                continue;
            }
            let text = tid.to_string_in(base);
            let pad = text.len() - text.trim_end_matches('=').len();
            s.case(
                "TID-7",
                &["PADDING"],
                &format!("{} bytes in {name}: {pad} padding characters", len + 2),
                json!({"text": text}),
                Intent::Valid,
            );
        }
    }
    let zeros = ThreadId::from_parts(Variant::AccessControlled, &[0; 32]).expect("32 bytes");
    s.case(
        "TID-7",
        &["BASE58_ZEROS"],
        "base58btc of a random part of 32 zero bytes (zero bytes inside the number)",
        json!({"text": zeros.to_string_in(Base::Base58Btc)}),
        Intent::Valid,
    );
    let b58 = raw.to_string_in(Base::Base58Btc);
    let leading: &[(&str, String, E)] = &[
        (
            "base58btc with one extra leading '1': a leading 00 byte, so version 0",
            format!("z1{}", &b58[1..]),
            E::TidUnknownVersion,
        ),
        (
            "base58btc '1' alone is the byte 00: version 0",
            "z1".into(),
            E::TidUnknownVersion,
        ),
        (
            "base58btc '11' is 00 00: version 0",
            "z11".into(),
            E::TidUnknownVersion,
        ),
        (
            "base58btc prefix alone: no bytes",
            "z".into(),
            E::TidBadVarint,
        ),
    ];
    for (comment, text, code) in leading {
        s.case(
            "TID-7",
            &["BASE58_ZEROS"],
            comment,
            json!({"text": text}),
            Intent::Invalid(*code),
        );
    }
    for (base, name) in DROPPED_BASES {
        s.case(
            "TID-7",
            &["UNSUPPORTED_BASE"],
            &format!("{name} is a multibase, but not one TID-7 accepts"),
            json!({"text": raw.to_string_in(*base)}),
            Intent::Invalid(E::TidBadMultibase),
        );
    }
    let tid19 = ThreadId::from_parts(Variant::Raw, &[0x5a; 19]).expect("19 bytes");
    let enc = |base: Base| tid19.to_string_in(base);
    let b32pad = enc(Base::Base32PadLower); // 21 bytes: 6 padding characters
    let b64pad = enc(Base::Base64Pad); // 21 bytes: no padding
    let b64pad_raw = raw.to_string_in(Base::Base64Pad); // 34 bytes: 2 padding characters
    let b32padupper_raw = raw.to_string_in(Base::Base32HexPadUpper); // 34 bytes: 1 padding
    let half = ThreadId::from_parts(Variant::Raw, &[0x5a; 16]).expect("16 bytes");
    let half_b32pad = half.to_string_in(Base::Base32PadLower);
    let non_canonical: Vec<(&str, String)> = vec![
        (
            "base32pad with its padding removed",
            b32pad.trim_end_matches('=').to_string(),
        ),
        (
            "base32pad with one padding character too few",
            b32pad[..b32pad.len() - 1].to_string(),
        ),
        (
            "base32pad with one padding character too many",
            format!("{b32pad}="),
        ),
        (
            "base32pad with a whole extra block of padding",
            format!("{b32pad}========"),
        ),
        (
            "base32hexpadupper with its single padding character removed",
            b32padupper_raw.trim_end_matches('=').to_string(),
        ),
        (
            "base32pad: two padded encodings concatenated",
            format!("{half_b32pad}{}", &b32pad[1..]),
        ),
        (
            "base64pad with one of its two padding characters removed",
            b64pad_raw[..b64pad_raw.len() - 1].to_string(),
        ),
        (
            "base64pad with padding added where none is due",
            format!("{b64pad}===="),
        ),
        (
            "base64 (unpadded) with padding",
            format!("{}==", raw.to_string_in(Base::Base64)),
        ),
        (
            "base32 (unpadded) with padding",
            format!("{}=", raw.to_string_in(Base::Base32Lower)),
        ),
        (
            "base64urlpad with its padding removed",
            raw.to_string_in(Base::Base64UrlPad)
                .trim_end_matches('=')
                .to_string(),
        ),
        (
            "base32 with non-zero trailing bits",
            set_low_bit(&raw.to_string_in(Base::Base32Lower), B32),
        ),
        (
            "base32pad with non-zero trailing bits",
            set_low_bit(&b32pad, B32),
        ),
        (
            "base32hex with non-zero trailing bits",
            set_low_bit(&raw.to_string_in(Base::Base32HexLower), B32HEX),
        ),
        (
            "base64 with non-zero trailing bits",
            set_low_bit(&raw.to_string_in(Base::Base64), B64),
        ),
        (
            "base64pad with non-zero trailing bits",
            set_low_bit(&b64pad_raw, B64),
        ),
        (
            "base64url with non-zero trailing bits",
            set_low_bit(&raw.to_string_in(Base::Base64Url), B64URL),
        ),
        (
            "base32 with a length no byte string encodes to (54 characters)",
            raw.to_string()[..55].to_string(),
        ),
        (
            "base16 with an odd number of digits",
            raw.to_string_in(Base::Base16Lower)[..68].to_string(),
        ),
        (
            "base64 with a length no byte string encodes to (45 characters)",
            raw.to_string_in(Base::Base64)[..46].to_string(),
        ),
        (
            "base16upper with lower-case letters",
            format!(
                "F{}",
                raw.to_string_in(Base::Base16Upper)[1..].to_lowercase()
            ),
        ),
        (
            "base32upper with lower-case letters",
            format!(
                "B{}",
                raw.to_string_in(Base::Base32Upper)[1..].to_lowercase()
            ),
        ),
        (
            "base32pad with upper-case letters",
            format!("c{}", b32pad[1..].to_uppercase()),
        ),
        (
            "base32padupper with lower-case letters",
            format!("C{}", enc(Base::Base32PadUpper)[1..].to_lowercase()),
        ),
        (
            "base32hex with upper-case letters",
            format!(
                "v{}",
                raw.to_string_in(Base::Base32HexLower)[1..].to_uppercase()
            ),
        ),
        (
            "base32hexupper with lower-case letters",
            format!(
                "V{}",
                raw.to_string_in(Base::Base32HexUpper)[1..].to_lowercase()
            ),
        ),
        (
            "base32hexpad with upper-case letters",
            format!(
                "t{}",
                raw.to_string_in(Base::Base32HexPadLower)[1..].to_uppercase()
            ),
        ),
        (
            "base32hexpadupper with lower-case letters",
            format!("T{}", b32padupper_raw[1..].to_lowercase()),
        ),
    ];
    for (comment, text) in non_canonical {
        s.case(
            "TID-9",
            &["NON_CANONICAL_TEXT"],
            comment,
            json!({"text": text}),
            Intent::Invalid(E::TidBadMultibase),
        );
    }
    let m = raw.to_string_in(Base::Base64);
    let u = raw.to_string_in(Base::Base64Url);
    let bad_chars: Vec<(&str, String)> = vec![
        (
            "base64 with '-', a base64url character",
            format!("{}-{}", &m[..5], &m[6..]),
        ),
        (
            "base64url with '+', a base64 character",
            format!("{}+{}", &u[..5], &u[6..]),
        ),
        (
            "base64url with '/', a base64 character",
            format!("{}/{}", &u[..5], &u[6..]),
        ),
        (
            "base58btc with 'l', outside the alphabet",
            format!("{}l{}", &b58[..5], &b58[6..]),
        ),
        (
            "base32hex with 'w', outside the alphabet",
            format!(
                "{}w{}",
                &raw.to_string_in(Base::Base32HexLower)[..5],
                &raw.to_string_in(Base::Base32HexLower)[6..]
            ),
        ),
        (
            "base32pad with '=' inside the data",
            format!("{}={}", &b32pad[..5], &b32pad[6..]),
        ),
    ];
    for (comment, text) in bad_chars {
        s.case(
            "TID-7",
            &["BAD_MULTIBASE"],
            comment,
            json!({"text": text}),
            Intent::Invalid(E::TidBadMultibase),
        );
    }
}

const B32: &str = "abcdefghijklmnopqrstuvwxyz234567";
const B32HEX: &str = "0123456789abcdefghijklmnopqrstuv";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Sets the lowest bit of the last data character (before any padding), which an encoder always
/// leaves zero when the last character carries spare bits.
fn set_low_bit(text: &str, alphabet: &str) -> String {
    let data = text.trim_end_matches('=');
    let pad = &text[data.len()..];
    let last = data.chars().last().expect("non-empty");
    let index = alphabet.find(last).expect("a character of the alphabet");
    let next = alphabet.as_bytes()[index | 1] as char;
    format!("{}{next}{pad}", &data[..data.len() - 1])
}

/// Upper-cases every other letter.
fn mixed_case(text: &str) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

fn random_tid(variant: Variant, len: usize, rng: &mut ChaCha20Rng) -> ThreadId {
    let mut random = vec![0u8; len];
    rng.fill_bytes(&mut random);
    ThreadId::from_parts(variant, &random).expect("lengths used here are within 16..=64")
}

fn notes(s: &mut SuiteBuilder) {
    s.note(
        "CANONICAL",
        "BASIC",
        "A well-formed Thread ID in its canonical form.",
    );
    s.note(
        "BOUNDARY",
        "EDGE_CASE",
        "A random part at a bound of the allowed 16..=64 bytes.",
    );
    s.note(
        "ANY_MULTIBASE",
        "FUNCTIONALITY",
        "Decoders must accept every multibase listed in TID-7, not only base32.",
    );
    s.note(
        "BAD_MULTIBASE",
        "MISSING_CHECK",
        "Text that is not a multibase string this protocol accepts.",
    );
    s.note(
        "UNSUPPORTED_BASE",
        "MISSING_CHECK",
        "A multibase outside TID-7's set (RFC 4648 bases and base58btc): decoders must reject it.",
    );
    s.note(
        "PADDING",
        "EDGE_CASE",
        "A padded base at each length remainder: exactly the padding RFC 4648 prescribes.",
    );
    s.note(
        "BASE58_ZEROS",
        "EDGE_CASE",
        "base58btc writes each leading zero byte as one leading '1'; zero bytes elsewhere are digits.",
    );
    s.note(
        "NON_CANONICAL_TEXT",
        "MALLEABILITY",
        "A text that decodes, but is not the canonical text of its bytes in its base.",
    );
    s.note(
        "TRUNCATED",
        "MISSING_CHECK",
        "Input ends inside or before a uvarint.",
    );
    s.note(
        "NON_MINIMAL_VARINT",
        "MALLEABILITY",
        "A uvarint with redundant continuation bytes gives one thread two binary forms.",
    );
    s.note(
        "LONG_VARINT",
        "MISSING_CHECK",
        "A uvarint longer than the 9 bytes multiformats allows.",
    );
    s.note(
        "SHORT_RANDOM",
        "WEAK_PARAMETERS",
        "Fewer than 16 random bytes make thread IDs guessable and collisions likely.",
    );
    s.note(
        "LONG_RANDOM",
        "MISSING_CHECK",
        "More than 64 random bytes: unbounded identifiers.",
    );
    s.note(
        "UNKNOWN_VERSION",
        "MISSING_CHECK",
        "A version other than 1.",
    );
    s.note(
        "UNKNOWN_VARIANT",
        "MISSING_CHECK",
        "A variant other than raw (0x55) or access-controlled (0x70).",
    );
}
