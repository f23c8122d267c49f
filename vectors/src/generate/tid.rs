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
    (Base::Base2, "base2"),
    (Base::Base8, "base8"),
    (Base::Base10, "base10"),
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
    (Base::Base32Z, "base32z"),
    (Base::Base36Lower, "base36"),
    (Base::Base36Upper, "base36upper"),
    (Base::Base58Flickr, "base58flickr"),
    (Base::Base58Btc, "base58btc"),
    (Base::Base64, "base64"),
    (Base::Base64Pad, "base64pad"),
    (Base::Base64Url, "base64url"),
    (Base::Base64UrlPad, "base64urlpad"),
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
            "base45 with lower-case letters",
            format!("R{}", raw.to_string_in(Base::Base45)[1..].to_lowercase()),
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
