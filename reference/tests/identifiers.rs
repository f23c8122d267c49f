//! Thread IDs, log IDs and log addresses (spec/identifiers.md): [TID-1]..[TID-8], [LOGID-1]..[LOGID-4],
//! [ADDR-1], [ADDR-2].

mod common;

use std::collections::HashSet;
use std::str::FromStr;

use common::{RFC8032_PUBLIC, base32_lower, code, rfc8032_seed, rng, unhex};
use ed25519_dalek::VerifyingKey;
use multiaddr::Multiaddr;
use multibase::Base;
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use threads::ErrorCode;
use threads::addr::LogAddr;
use threads::id::{LOG_ID_PREFIX, LogId, ThreadId, Variant};
use threads::keys::IdentityKey;

/// Every base [TID-7] requires a decoder to accept, with its prefix.
const ACCEPTED_BASES: [(char, Base); 15] = [
    ('f', Base::Base16Lower),
    ('F', Base::Base16Upper),
    ('b', Base::Base32Lower),
    ('B', Base::Base32Upper),
    ('c', Base::Base32PadLower),
    ('C', Base::Base32PadUpper),
    ('v', Base::Base32HexLower),
    ('V', Base::Base32HexUpper),
    ('t', Base::Base32HexPadLower),
    ('T', Base::Base32HexPadUpper),
    ('z', Base::Base58Btc),
    ('m', Base::Base64),
    ('M', Base::Base64Pad),
    ('u', Base::Base64Url),
    ('U', Base::Base64UrlPad),
];

/// Multibases [TID-7] does not accept (since 0.2.0): the multibase crate decodes them, we must not.
const DROPPED_BASES: [(char, Base); 9] = [
    ('0', Base::Base2),
    ('7', Base::Base8),
    ('9', Base::Base10),
    ('h', Base::Base32Z),
    ('k', Base::Base36Lower),
    ('K', Base::Base36Upper),
    ('Z', Base::Base58Flickr),
    ('R', Base::Base45),
    ('🚀', Base::Base256Emoji),
];

fn tid(bytes: &[u8]) -> threads::Result<ThreadId> {
    ThreadId::from_bytes(bytes)
}

fn tid_text(text: &str) -> threads::Result<ThreadId> {
    ThreadId::from_str(text)
}

/// `01 55 ‖ 00 01 … 1f`: version 1, raw, random 0x00..0x1f.
fn sample_tid_bytes() -> Vec<u8> {
    [vec![0x01, 0x55], (0u8..32).collect()].concat()
}

// ---------------------------------------------------------------------------------------------
// Thread IDs

/// Checks [TID-1].
#[test]
fn tid_1_binary_layout_is_version_variant_random() {
    let random: Vec<u8> = (0u8..32).collect();
    let id = ThreadId::from_parts(Variant::Raw, &random).expect("32 random bytes");
    assert_eq!(
        hex::encode(id.as_bytes()),
        "0155000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    );
    assert_eq!(id.random(), random.as_slice());
    assert_eq!(id.variant(), Variant::Raw);
    assert_eq!(tid(id.as_bytes()), Ok(id));
}

/// Checks [TID-6].
#[test]
fn tid_6_display_is_base32_lower_with_prefix_b_hand_computed() {
    let bytes = sample_tid_bytes();
    let id = tid(&bytes).expect("valid TID");
    // The hand encoder must agree with RFC 4648 §10 before we trust it.
    assert_eq!(base32_lower(b"f"), "my");
    assert_eq!(base32_lower(b"foobar"), "mzxw6ytboi");
    let expected = format!("b{}", base32_lower(&bytes));
    assert_eq!(
        expected,
        "bafkqaaicamcakbqhbaequcymbuha6earcijrifiwc4mbsgq3dqor4hy"
    );
    assert_eq!(id.to_string(), expected);
    assert_eq!(id.to_string_in(Base::Base32Lower), expected);
    assert_eq!(tid_text(&expected), Ok(id));
}

/// Checks [TID-3].
#[test]
fn tid_3_access_controlled_variant_is_0x70() {
    let id = ThreadId::from_parts(Variant::AccessControlled, &[7; 16]).expect("16 bytes");
    assert_eq!(&id.as_bytes()[..2], &[0x01, 0x70]);
    assert_eq!(
        tid(id.as_bytes()).map(|t| t.variant()),
        Ok(Variant::AccessControlled)
    );
    assert_eq!(Variant::from_code(0x55), Some(Variant::Raw));
    assert_eq!(Variant::from_code(0x70), Some(Variant::AccessControlled));
    assert_eq!(Variant::from_code(0x56), None);
}

/// Checks [TID-4].
#[test]
fn tid_4_generate_draws_32_random_bytes_from_the_rng() {
    let mut a = rng(1);
    let id = ThreadId::generate(Variant::Raw, &mut a);
    assert_eq!(id.random().len(), 32);
    let mut expected = [0u8; 32];
    rand_core::Rng::fill_bytes(&mut rng(1), &mut expected);
    assert_eq!(id.random(), expected);
    assert_ne!(ThreadId::generate(Variant::Raw, &mut a), id);
}

/// Checks [TID-4].
#[test]
fn tid_4_random_length_bounds() {
    for len in [16, 17, 32, 63, 64] {
        let bytes = [vec![0x01, 0x55], vec![9; len]].concat();
        assert!(tid(&bytes).is_ok(), "{len} random bytes must be accepted");
        assert!(ThreadId::from_parts(Variant::Raw, &vec![9; len]).is_ok());
    }
    for (len, expected) in [
        (0, ErrorCode::TidShortRandom),
        (15, ErrorCode::TidShortRandom),
        (65, ErrorCode::TidLongRandom),
        (200, ErrorCode::TidLongRandom),
    ] {
        let bytes = [vec![0x01, 0x55], vec![9; len]].concat();
        assert_eq!(code(tid(&bytes)), expected, "{len} random bytes (binary)");
        assert_eq!(
            code(ThreadId::from_parts(Variant::Raw, &vec![9; len])),
            expected,
            "{len} random bytes (from_parts)"
        );
        let text = multibase::encode(Base::Base32Lower, &bytes);
        assert_eq!(code(tid_text(&text)), expected, "{len} random bytes (text)");
    }
}

/// Checks [TID-4].
#[test]
fn tid_4_short_random_of_15_random_bytes_is_rejected() {
    let mut random = [0u8; 15];
    rand_core::Rng::fill_bytes(&mut rng(15), &mut random);
    let bytes = [&[0x01, 0x70][..], &random].concat();
    assert_eq!(code(tid(&bytes)), ErrorCode::TidShortRandom);
}

/// Checks [TID-4].
#[test]
fn tid_4_long_random_of_65_random_bytes_is_rejected() {
    let mut random = [0u8; 65];
    rand_core::Rng::fill_bytes(&mut rng(65), &mut random);
    let bytes = [&[0x01, 0x55][..], &random].concat();
    assert_eq!(code(tid(&bytes)), ErrorCode::TidLongRandom);
}

/// Checks [TID-2].
#[test]
fn tid_2_version_other_than_1_is_rejected() {
    for version in [vec![0x00], vec![0x02], vec![0x7f], vec![0x80, 0x01]] {
        let bytes = [version.clone(), vec![0x55], vec![1; 32]].concat();
        assert_eq!(
            code(tid(&bytes)),
            ErrorCode::TidUnknownVersion,
            "version {version:02x?}"
        );
    }
}

/// Checks [TID-3].
#[test]
fn tid_3_unknown_variant_is_rejected() {
    for variant in [vec![0x56], vec![0x00], vec![0x71], vec![0x80, 0x01]] {
        let bytes = [vec![0x01], variant.clone(), vec![1; 32]].concat();
        assert_eq!(
            code(tid(&bytes)),
            ErrorCode::TidUnknownVariant,
            "variant {variant:02x?}"
        );
    }
}

/// Checks [TID-5].
#[test]
fn tid_5_bad_varints_are_rejected() {
    let ten_bytes = [vec![0x80; 9], vec![0x01]].concat();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty input", vec![]),
        ("truncated version", vec![0x81]),
        ("truncated variant", vec![0x01, 0xd5]),
        (
            "non-minimal version 0x81 0x00",
            [vec![0x81, 0x00, 0x55], vec![1; 32]].concat(),
        ),
        (
            "non-minimal version 0x80 0x00",
            [vec![0x80, 0x00, 0x55], vec![1; 32]].concat(),
        ),
        (
            "non-minimal variant 0xd5 0x00",
            [vec![0x01, 0xd5, 0x00], vec![1; 32]].concat(),
        ),
        (
            "10-byte version",
            [ten_bytes.clone(), vec![0x55], vec![1; 32]].concat(),
        ),
        (
            "10-byte variant",
            [vec![0x01], ten_bytes, vec![1; 32]].concat(),
        ),
        (
            "11-byte version",
            [vec![0xff; 10], vec![0x01], vec![1; 32]].concat(),
        ),
    ];
    for (what, bytes) in cases {
        assert_eq!(code(tid(&bytes)), ErrorCode::TidBadVarint, "{what}");
        // The same holds after base-decoding a text form [TID-7].
        let text = multibase::encode(Base::Base32Lower, &bytes);
        assert_eq!(
            code(tid_text(&text)),
            ErrorCode::TidBadVarint,
            "{what} (text)"
        );
    }
}

/// Checks [TID-5].
#[test]
fn tid_5_nine_byte_varint_is_not_rejected_for_its_length() {
    // A 9-byte minimal uvarint is allowed by length; the value is simply not version 1.
    let nine = [vec![0x80; 8], vec![0x01]].concat();
    let bytes = [nine, vec![0x55], vec![1; 32]].concat();
    assert_eq!(code(tid(&bytes)), ErrorCode::TidUnknownVersion);
}

/// Checks [TID-7].
#[test]
fn tid_7_rejects_empty_unknown_prefix_identity_and_bad_characters() {
    let good = tid(&sample_tid_bytes()).expect("valid TID").to_string();
    let body = &good[1..];
    let cases = [
        ("empty string", String::new()),
        ("unknown prefix x", format!("x{body}")),
        ("unknown prefix p", format!("p{body}")),
        ("unknown prefix /", format!("/{body}")),
        ("NUL identity prefix", format!("\0{body}")),
        (
            "NUL identity prefix, raw bytes",
            "\0\u{1}U0123456789abcdef".to_string(),
        ),
        ("base32 with '1'", format!("b1{body}")),
        ("base32 with '!'", format!("b{body}!")),
        ("base58btc with '0'", "z0OIl".to_string()),
        ("base16 with 'g'", "f0155zz".to_string()),
        ("base16 with odd length", "f015".to_string()),
        ("base2 with '2'", "02".to_string()),
        ("base64 with '*'", "m*AAA".to_string()),
    ];
    for (what, text) in cases {
        assert_eq!(code(tid_text(&text)), ErrorCode::TidBadMultibase, "{what}");
    }
}

/// Checks [TID-7].
#[test]
fn tid_7_prefix_alone_decodes_to_empty_input_which_is_a_bad_varint() {
    // "b" is a valid multibase string for zero bytes; then [TID-5] applies to the empty input.
    assert_eq!(code(tid_text("b")), ErrorCode::TidBadVarint);
}

/// Checks [TID-7].
#[test]
fn tid_7_accepted_bases_have_the_briefs_prefixes() {
    let id = tid(&sample_tid_bytes()).expect("valid TID");
    for (prefix, base) in ACCEPTED_BASES {
        let text = id.to_string_in(base);
        assert!(
            text.starts_with(prefix),
            "{base:?} must start with {prefix:?}: {text}"
        );
        assert_eq!(tid_text(&text), Ok(id.clone()), "{base:?}");
    }
}

/// Checks [TID-7].
#[test]
fn tid_7_other_multibases_are_bad_multibase() {
    let id = tid(&sample_tid_bytes()).expect("valid TID");
    for (prefix, base) in DROPPED_BASES {
        let text = id.to_string_in(base);
        assert!(text.starts_with(prefix), "{base:?}");
        assert_eq!(
            code(tid_text(&text)),
            ErrorCode::TidBadMultibase,
            "{base:?}"
        );
    }
}

/// Checks [TID-8].
#[test]
fn tid_8_equality_is_equality_of_binary_forms() {
    let id = tid(&sample_tid_bytes()).expect("valid TID");
    let texts: Vec<String> = ACCEPTED_BASES
        .iter()
        .map(|(_, base)| id.to_string_in(*base))
        .collect();
    let parsed: HashSet<ThreadId> = texts
        .iter()
        .map(|t| tid_text(t).expect("accepted text form"))
        .collect();
    assert_eq!(parsed.len(), 1, "15 text forms denote one TID");
    let mut other_bytes = sample_tid_bytes();
    other_bytes[33] ^= 1;
    let other = tid(&other_bytes).expect("valid TID");
    assert_ne!(other, id);
    let raw = ThreadId::from_parts(Variant::Raw, &[5; 16]).expect("valid");
    let acl = ThreadId::from_parts(Variant::AccessControlled, &[5; 16]).expect("valid");
    assert_ne!(raw, acl, "same random, different variant");
}

fn any_variant() -> impl Strategy<Value = Variant> {
    prop_oneof![Just(Variant::Raw), Just(Variant::AccessControlled)]
}

proptest! {
    /// [TID-1], [TID-7]: any valid TID round-trips in binary and through every accepted base.
    #[test]
    fn tid_1_tid_7_any_tid_round_trips_binary_and_every_base(
        variant in any_variant(),
        random in prop::collection::vec(any::<u8>(), 16..=64),
    ) {
        let id = ThreadId::from_parts(variant, &random).expect("16..=64 random bytes");
        prop_assert_eq!(tid(id.as_bytes()), Ok(id.clone()));
        prop_assert_eq!(id.random(), random.as_slice());
        prop_assert_eq!(id.variant(), variant);
        for (prefix, base) in ACCEPTED_BASES {
            let text = id.to_string_in(base);
            prop_assert!(text.starts_with(prefix));
            prop_assert_eq!(tid_text(&text), Ok(id.clone()), "{:?}", base);
        }
        // [TID-6]: Display is the canonical base32 form.
        prop_assert_eq!(id.to_string(), format!("b{}", base32_lower(id.as_bytes())));
    }
}

// ---------------------------------------------------------------------------------------------
// Log IDs

fn rfc8032_log_bytes() -> Vec<u8> {
    [LOG_ID_PREFIX.to_vec(), unhex(RFC8032_PUBLIC)].concat()
}

/// Checks [LOGID-1].
#[test]
fn logid_1_rfc8032_test_1_key_gives_the_identity_multihash_bytes() {
    let bytes = rfc8032_log_bytes();
    assert_eq!(
        hex::encode(&bytes),
        "002408011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    assert_eq!(bytes.len(), 38);
    let log = LogId::from_bytes(&bytes).expect("valid log ID");
    assert_eq!(log.to_bytes(), bytes);
    assert_eq!(hex::encode(log.verifying_key().as_bytes()), RFC8032_PUBLIC);
    assert_eq!(IdentityKey::from_seed(&rfc8032_seed()).log_id(), log);
}

/// Checks [LOGID-2].
#[test]
fn logid_2_text_is_base58btc_without_prefix() {
    let log = LogId::from_bytes(&rfc8032_log_bytes()).expect("valid log ID");
    let text = log.to_string();
    assert!(text.starts_with("12D3KooW"), "{text}");
    // No multibase prefix: it is plain base58btc of the 38 bytes.
    assert_eq!(
        format!("z{text}"),
        multibase::encode(Base::Base58Btc, rfc8032_log_bytes())
    );
    assert_eq!(LogId::from_str(&text), Ok(log));
}

/// Checks [LOGID-1], [LOGID-4].
#[test]
fn logid_1_logid_4_matches_libp2p_peer_id_of_a_generated_key() {
    for seed in 0..8 {
        let identity = IdentityKey::generate(&mut rng(seed));
        let log = identity.log_id();
        let public =
            libp2p_identity::ed25519::PublicKey::try_from_bytes(log.verifying_key().as_bytes())
                .expect("an Ed25519 public key");
        let peer = libp2p_identity::PeerId::from_public_key(&public.into());
        assert_eq!(log.to_bytes(), peer.to_bytes());
        assert_eq!(log.to_string(), peer.to_base58());
        assert_eq!(log.to_peer_id(), peer);
        assert_eq!(LogId::try_from(peer), Ok(log));
    }
}

/// Checks [LOGID-1].
#[test]
fn logid_1_libp2p_keypair_from_the_same_seed_has_the_same_peer_id() {
    let secret =
        libp2p_identity::ed25519::SecretKey::try_from_bytes(rfc8032_seed()).expect("32 bytes");
    let keypair = libp2p_identity::ed25519::Keypair::from(secret);
    let peer = libp2p_identity::PeerId::from_public_key(&keypair.public().into());
    let log = IdentityKey::from_seed(&rfc8032_seed()).log_id();
    assert_eq!(log.to_peer_id(), peer);
}

/// Checks [LOGID-3].
#[test]
fn logid_3_sha256_peer_ids_are_rejected() {
    // A hashed peer ID (multihash sha2-256, `Qm…`) names an RSA-style key, never an Ed25519 log.
    let digest = Sha256::digest(b"some large public key");
    let bytes = [&[0x12, 0x20][..], digest.as_slice()].concat();
    assert_eq!(code(LogId::from_bytes(&bytes)), ErrorCode::LogIdInvalid);
    let text = bs58_encode(&bytes);
    assert!(text.starts_with("Qm"));
    assert_eq!(code(LogId::from_str(&text)), ErrorCode::LogIdInvalid);
    let peer = libp2p_identity::PeerId::from_bytes(&bytes).expect("libp2p accepts sha256 peer IDs");
    assert_eq!(code(LogId::try_from(peer)), ErrorCode::LogIdInvalid);
}

fn bs58_encode(bytes: &[u8]) -> String {
    multibase::encode(Base::Base58Btc, bytes)[1..].to_string()
}

/// Checks [LOGID-3].
#[test]
fn logid_3_wrong_prefix_key_type_and_length_are_rejected() {
    let key = unhex(RFC8032_PUBLIC);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("prefix only", LOG_ID_PREFIX.to_vec()),
        ("37 bytes", rfc8032_log_bytes()[..37].to_vec()),
        ("39 bytes", [rfc8032_log_bytes(), vec![0]].concat()),
        (
            "key type secp256k1 (2)",
            [vec![0x00, 0x24, 0x08, 0x02, 0x12, 0x20], key.clone()].concat(),
        ),
        (
            "key type RSA (0)",
            [vec![0x00, 0x24, 0x08, 0x00, 0x12, 0x20], key.clone()].concat(),
        ),
        (
            "multihash code sha2-256",
            [vec![0x12, 0x24, 0x08, 0x01, 0x12, 0x20], key.clone()].concat(),
        ),
        (
            "wrong digest length",
            [
                vec![0x00, 0x25, 0x08, 0x01, 0x12, 0x20],
                key.clone(),
                vec![0],
            ]
            .concat(),
        ),
        (
            "wrong key length field",
            [
                vec![0x00, 0x25, 0x08, 0x01, 0x12, 0x21],
                key.clone(),
                vec![0],
            ]
            .concat(),
        ),
        ("bare public key", key),
    ];
    for (what, bytes) in cases {
        assert_eq!(
            code(LogId::from_bytes(&bytes)),
            ErrorCode::LogIdInvalid,
            "{what}"
        );
        if !bytes.is_empty() {
            let text = bs58_encode(&bytes);
            assert_eq!(
                code(LogId::from_str(&text)),
                ErrorCode::LogIdInvalid,
                "{what} (text)"
            );
        }
    }
}

/// Checks [LOGID-3].
#[test]
fn logid_3_small_order_keys_are_rejected() {
    let p_minus_1 = "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";
    let identity = "0100000000000000000000000000000000000000000000000000000000000000";
    let order_4 = "0000000000000000000000000000000000000000000000000000000000000000";
    // The order-8 points (from the Ed25519 small-order list, e.g. in libsodium's blocklist).
    let order_8 = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a";
    for key in [identity, p_minus_1, order_4, order_8] {
        let key: [u8; 32] = unhex(key).try_into().expect("32 bytes");
        let point = VerifyingKey::from_bytes(&key).expect("a curve point");
        assert!(point.is_weak(), "{} must be small-order", hex::encode(key));
        let bytes = [LOG_ID_PREFIX.to_vec(), key.to_vec()].concat();
        assert_eq!(code(LogId::from_bytes(&bytes)), ErrorCode::LogIdInvalid);
        assert_eq!(code(LogId::from_public_key(point)), ErrorCode::LogIdInvalid);
        assert_eq!(
            code(LogId::from_str(&bs58_encode(&bytes))),
            ErrorCode::LogIdInvalid
        );
    }
}

/// Checks [LOGID-3].
#[test]
fn logid_3_non_canonical_point_encodings_are_rejected() {
    // y = p + k (k = 0..18) encodes the same field element as y = k: a second, non-canonical
    // encoding. Some of those y are on the curve and not of small order, so only the canonical
    // check can reject them.
    let mut exercised = 0;
    for k in 0u8..19 {
        for sign in [0u8, 0x80] {
            let mut key: [u8; 32] = unhex(P_LE).try_into().expect("32 bytes");
            key[0] += k;
            key[31] |= sign;
            let Ok(point) = VerifyingKey::from_bytes(&key) else {
                continue;
            };
            let bytes = [LOG_ID_PREFIX.to_vec(), key.to_vec()].concat();
            assert_eq!(
                code(LogId::from_bytes(&bytes)),
                ErrorCode::LogIdInvalid,
                "{}",
                hex::encode(key)
            );
            if !point.is_weak() {
                exercised += 1;
            }
        }
    }
    assert!(
        exercised > 0,
        "no non-canonical, non-small-order encoding was tried"
    );
    // Control: the canonical encoding of the same kind of point is accepted.
    assert!(LogId::from_bytes(&rfc8032_log_bytes()).is_ok());
}

/// p = 2^255 - 19, little-endian.
const P_LE: &str = "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";

/// Checks [LOGID-3].
#[test]
fn logid_3_points_not_on_the_curve_are_rejected() {
    // About half of all y have no x on the curve; every such encoding must be rejected.
    let mut rejected = 0;
    for y in 2u8..40 {
        let mut key = [0u8; 32];
        key[0] = y;
        if VerifyingKey::from_bytes(&key).is_err() {
            let bytes = [LOG_ID_PREFIX.to_vec(), key.to_vec()].concat();
            assert_eq!(code(LogId::from_bytes(&bytes)), ErrorCode::LogIdInvalid);
            rejected += 1;
        }
    }
    assert!(rejected > 0);
}

/// Checks [LOGID-3].
#[test]
fn logid_3_garbage_text_is_rejected() {
    let good = LogId::from_bytes(&rfc8032_log_bytes())
        .expect("valid")
        .to_string();
    let cases = [
        String::new(),
        "hello".to_string(),
        "12D3KooW".to_string(),
        good[..good.len() - 1].to_string(),
        format!("{good}1"),
        format!("z{good}"),
        good.replace('W', "0"),
        good.replace('W', "l"),
        format!(" {good}"),
    ];
    for text in cases {
        assert_eq!(
            code(LogId::from_str(&text)),
            ErrorCode::LogIdInvalid,
            "{text:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Log addresses

fn peer_and_log() -> (LogId, LogId) {
    (
        IdentityKey::generate(&mut rng(100)).log_id(),
        IdentityKey::generate(&mut rng(101)).log_id(),
    )
}

/// Checks [ADDR-1].
#[test]
fn addr_1_parse_and_display_round_trip() {
    let (peer, log) = peer_and_log();
    for host in [
        "/ip4/127.0.0.1/tcp/4006",
        "/ip6/::1/tcp/4006",
        "/dns4/example.com/tcp/443/wss",
        "",
    ] {
        let text = format!("{host}/p2p/{peer}/ipel/{log}");
        let addr = LogAddr::from_str(&text).expect("valid log address");
        assert_eq!(addr.to_string(), text);
        assert_eq!(addr.peer(), peer);
        assert_eq!(addr.log(), log);
        assert_eq!(
            addr.peer_addr(),
            &Multiaddr::from_str(&format!("{host}/p2p/{peer}")).expect("multiaddr")
        );
        assert_eq!(LogAddr::new(addr.peer_addr().clone(), log), Ok(addr));
    }
}

/// Checks [LOGID-4].
#[test]
fn logid_4_one_peer_hosts_many_logs() {
    let (peer, log) = peer_and_log();
    let other_log = IdentityKey::generate(&mut rng(102)).log_id();
    let host: Multiaddr = format!("/ip4/10.0.0.1/tcp/4006/p2p/{peer}")
        .parse()
        .expect("multiaddr");
    let a = LogAddr::new(host.clone(), log).expect("valid");
    let b = LogAddr::new(host, other_log).expect("valid");
    assert_eq!(a.peer(), b.peer());
    assert_ne!(a.log(), b.log());
    // The peer ID has the form of a log ID: a peer may also be a log.
    let self_addr = LogAddr::new(a.peer_addr().clone(), peer).expect("valid");
    assert_eq!(self_addr.peer(), self_addr.log());
}

/// Checks [ADDR-2].
#[test]
fn addr_2_every_rejection_case() {
    let (peer, log) = peer_and_log();
    let sha_peer = bs58_encode(&[&[0x12, 0x20][..], &[7; 32]].concat());
    let host = "/ip4/127.0.0.1/tcp/4006";
    let cases = [
        ("no /ipel/", format!("{host}/p2p/{peer}")),
        (
            "no /ipel/, log appended",
            format!("{host}/p2p/{peer}/{log}"),
        ),
        ("/ipel without log", format!("{host}/p2p/{peer}/ipel")),
        ("/ipel/ with empty log", format!("{host}/p2p/{peer}/ipel/")),
        (
            "/ipel not last",
            format!("{host}/p2p/{peer}/ipel/{log}/tcp/1"),
        ),
        ("trailing slash", format!("{host}/p2p/{peer}/ipel/{log}/")),
        (
            "two /ipel/",
            format!("{host}/p2p/{peer}/ipel/{log}/ipel/{log}"),
        ),
        ("garbage log ID", format!("{host}/p2p/{peer}/ipel/hello")),
        (
            "sha256 log ID",
            format!("{host}/p2p/{peer}/ipel/{sha_peer}"),
        ),
        (
            "peer part not a multiaddr",
            format!("/ip4/999.0.0.1/tcp/4006/p2p/{peer}/ipel/{log}"),
        ),
        (
            "peer part unknown protocol",
            format!("/foo/bar/p2p/{peer}/ipel/{log}"),
        ),
        (
            "peer part without leading slash",
            format!("ip4/127.0.0.1/p2p/{peer}/ipel/{log}"),
        ),
        ("peer part not ending in /p2p", format!("{host}/ipel/{log}")),
        ("/p2p not last", format!("/p2p/{peer}/tcp/4006/ipel/{log}")),
        (
            "sha256 peer ID",
            format!("{host}/p2p/{sha_peer}/ipel/{log}"),
        ),
        ("empty", String::new()),
    ];
    for (what, text) in cases {
        assert_eq!(
            code(LogAddr::from_str(&text)),
            ErrorCode::AddrInvalid,
            "{what}: {text}"
        );
    }
    let no_p2p: Multiaddr = host.parse().expect("multiaddr");
    assert_eq!(code(LogAddr::new(no_p2p, log)), ErrorCode::AddrInvalid);
}

/// Checks [ADDR-3]: `/ws` and `/wss` follow only a valid host and TCP port; the root path alone
/// does not make a peer part valid.
#[test]
fn addr_3_ws_needs_a_host_as_well_as_the_root_path() {
    let (peer, log) = peer_and_log();
    for network in [
        "/dns/example.com/tcp/443/wss",
        "/ip4/10.0.0.1/tcp/80/ws",
        "/ip6/::1/tcp/80/ws",
    ] {
        let text = format!("{network}/p2p/{peer}/ipel/{log}");
        assert!(LogAddr::from_str(&text).is_ok(), "{text}");
    }
    for (what, network) in [
        // dnsaddr is a whole network part of its own, never a host for tcp.
        ("dnsaddr host", "/dnsaddr/example.com/tcp/443/wss"),
        ("dnsaddr host", "/dnsaddr/example.com/tcp/80/ws"),
        // An IPv4-mapped IPv6 host is refused whatever follows it.
        ("ipv4-mapped host", "/ip6/::ffff:10.0.0.1/tcp/443/wss"),
        ("upper-case DNS name", "/dns/Example.com/tcp/443/ws"),
    ] {
        let text = format!("{network}/p2p/{peer}/ipel/{log}");
        assert_eq!(
            code(LogAddr::from_str(&text)),
            ErrorCode::AddrInvalid,
            "{what}: {text}"
        );
    }
}

/// Checks [ADDR-1].
#[test]
fn addr_1_dns_name_ipel_is_not_an_ipel_component() {
    let (peer, log) = peer_and_log();
    let text = format!("/dns4/ipel/tcp/4006/p2p/{peer}/ipel/{log}");
    assert!(Multiaddr::from_str(&format!("/dns4/ipel/tcp/4006/p2p/{peer}")).is_ok());
    let addr = LogAddr::from_str(&text).expect("one /ipel/ component; 'ipel' is a DNS name");
    assert_eq!(addr.log(), log);
    assert_eq!(addr.to_string(), text);
}
