//! Suite `keys`: identity keys and log IDs, log addresses, and key sets (spec chapters 1 and 2).

use multibase::Base;
use rand_chacha::ChaCha20Rng;
use serde_json::json;
use threads::ErrorCode as E;
use threads::id::LOG_ID_PREFIX;
use threads::keys::{IdentityKey, KeySet};

use super::{Intent, SuiteBuilder, random_seed};
use crate::format::SuiteFile;
use threads_fixtures::cbor;

/// A case over a byte input: section, flags, comment, bytes, and the error it must give (if any).
type ByteCase<'a> = (&'a str, &'a [&'a str], &'a str, Vec<u8>, Option<E>);

/// RFC 8032 §7.1 TEST 1 to 3 seeds, as published.
pub use threads_fixtures::RFC8032_SEEDS;

/// Generates the `keys` suite.
pub fn generate() -> Result<SuiteFile, String> {
    let mut s = SuiteBuilder::new(
        "keys",
        &[
            "Identity keys and the log IDs derived from them, log addresses, and key sets",
            "(spec/identifiers.md, spec/keys.md). Bytes are lower-case hex.",
        ],
    );
    notes(&mut s);
    let mut rng = s.rng("identities");
    identities(&mut s, &mut rng);
    let mut rng = s.rng("log-ids");
    log_ids(&mut s, &mut rng);
    let mut rng = s.rng("log-addrs");
    log_addrs(&mut s, &mut rng);
    let mut rng = s.rng("key-sets");
    key_sets(&mut s, &mut rng);
    small_order_log_ids(&mut s);
    let mut rng = s.rng("log-addr-texts");
    log_addr_text_edges(&mut s, &mut rng);
    s.finish()
}

/// The encodings of the points of edwards25519 of order 2, 4 and 8: with the identity (order 1,
/// tcIds 7 and 14) the whole small-order subgroup, which a weak-key check must refuse entirely,
/// not only its one most obvious member [LOGID-3]. Appended after the other groups so that the
/// earlier tcIds stay as they were.
const SMALL_ORDER_POINTS: [(&str, &str); 7] = [
    (
        "y = -1, order 2",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ),
    (
        "y = 0 with x positive, order 4",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        "y = 0 with x negative, order 4",
        "0000000000000000000000000000000000000000000000000000000000000080",
    ),
    (
        "order 8, x positive",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    ),
    (
        "order 8, x negative",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    ),
    (
        "order 8, the other y, x positive",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    ),
    (
        "order 8, the other y, x negative",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    ),
];

/// More of the ways a log address's text can be other than its one canonical text [ADDR-4]:
/// at its ends, in the case of its protocol names, in the form of its log ID. Appended after the
/// other groups so that the earlier tcIds stay as they were.
fn log_addr_text_edges(s: &mut SuiteBuilder, rng: &mut ChaCha20Rng) {
    let peer = IdentityKey::from_seed(&random_seed(rng)).log_id();
    let log = IdentityKey::from_seed(&random_seed(rng)).log_id();
    let canonical = format!("/ip4/127.0.0.1/tcp/1/p2p/{peer}/ipel/{log}");
    s.group("LogAddrTextEdges", "logAddr.decode", json!({}));
    s.case(
        "ADDR-1",
        &["NORMAL"],
        "the canonical text the cases below vary",
        json!({"text": canonical}),
        Intent::Valid,
    );
    let variants = [
        ("a trailing slash after the log ID", format!("{canonical}/")),
        ("a leading double slash", format!("/{canonical}")),
        (
            "protocol names in upper case",
            format!("/IP4/127.0.0.1/TCP/1/P2P/{peer}/IPEL/{log}"),
        ),
        ("a leading space", format!(" {canonical}")),
        ("a trailing newline", format!("{canonical}\n")),
        (
            "the log ID with a multibase prefix",
            format!("/ip4/127.0.0.1/tcp/1/p2p/{peer}/ipel/z{log}"),
        ),
    ];
    for (comment, text) in variants {
        s.case(
            "ADDR-4",
            &["NON_CANONICAL_ADDR"],
            comment,
            json!({"text": text}),
            Intent::Invalid(E::AddrInvalid),
        );
    }
}

fn small_order_log_ids(s: &mut SuiteBuilder) {
    let keys: Vec<(String, Vec<u8>)> = SMALL_ORDER_POINTS
        .iter()
        .map(|(what, key)| {
            let key = hex::decode(key).unwrap_or_default();
            (
                format!("a small-order key: {what}"),
                [&LOG_ID_PREFIX[..], &key].concat(),
            )
        })
        .collect();
    s.group("LogIdSmallOrderBytes", "logId.decodeBytes", json!({}));
    for (comment, bytes) in &keys {
        s.case(
            "LOGID-3",
            &["SMALL_ORDER_KEY"],
            comment,
            json!({"bytes": hex::encode(bytes)}),
            Intent::Invalid(E::LogIdInvalid),
        );
    }
    s.group("LogIdSmallOrder", "logId.decode", json!({}));
    for (comment, bytes) in &keys {
        s.case(
            "LOGID-3",
            &["SMALL_ORDER_KEY"],
            comment,
            json!({"text": base58(bytes)}),
            Intent::Invalid(E::LogIdInvalid),
        );
    }
}

fn identities(s: &mut SuiteBuilder, rng: &mut ChaCha20Rng) {
    s.group("IdentityFromSeed", "identity.fromSeed", json!({}));
    for (i, seed) in RFC8032_SEEDS.iter().enumerate() {
        let comment = format!("RFC 8032 §7.1 TEST {}: its published public key", i + 1);
        s.case(
            "LOGID-1",
            &["RFC8032"],
            &comment,
            json!({"seed": seed}),
            Intent::Valid,
        );
    }
    for _ in 0..2 {
        let comment = "a seed drawn from the suite's seeded RNG";
        s.case(
            "KEY-1",
            &["NORMAL"],
            comment,
            json!({"seed": hex::encode(random_seed(rng))}),
            Intent::Valid,
        );
    }
}

/// Base58btc text without the multibase prefix, as PeerIds are written [LOGID-2].
fn base58(bytes: &[u8]) -> String {
    multibase::encode(Base::Base58Btc, bytes)[1..].to_string()
}

fn log_ids(s: &mut SuiteBuilder, rng: &mut ChaCha20Rng) {
    let log = IdentityKey::from_seed(&random_seed(rng)).log_id();
    let good = log.to_bytes();
    let with_key = |key: &[u8]| [&LOG_ID_PREFIX[..], key].concat();
    // The Ed25519 identity point (small order) and a non-canonical encoding of y = 1 (y + p).
    let identity_point = with_key(&[&[1u8][..], &[0; 31]].concat());
    let mut non_canonical = [0xffu8; 32];
    non_canonical[0] = 0xee;
    non_canonical[31] = 0x7f;
    let secp256k1 = [&[0x00, 0x25, 0x08, 0x02, 0x12, 0x21][..], &[2; 33]].concat();
    let sha256_peer = [&[0x12, 0x20][..], &[5; 32]].concat();
    let cases: &[ByteCase] = &[
        (
            "LOGID-1",
            &["NORMAL"],
            "an Ed25519 log ID",
            good.clone(),
            None,
        ),
        (
            "LOGID-3",
            &["SMALL_ORDER_KEY"],
            "the identity point: a small-order key anyone can forge for",
            identity_point,
            Some(E::LogIdInvalid),
        ),
        (
            "LOGID-3",
            &["NON_CANONICAL_KEY"],
            "y = p + 1, a non-canonical encoding of the point with y = 1",
            with_key(&non_canonical),
            Some(E::LogIdInvalid),
        ),
        (
            "LOGID-3",
            &["NOT_ED25519"],
            "a secp256k1 peer ID",
            secp256k1,
            Some(E::LogIdInvalid),
        ),
        (
            "LOGID-3",
            &["HASHED_PEER_ID"],
            "a sha2-256 multihash peer ID (as for RSA keys)",
            sha256_peer,
            Some(E::LogIdInvalid),
        ),
        (
            "LOGID-3",
            &["TRUNCATED"],
            "37 bytes",
            good[..37].to_vec(),
            Some(E::LogIdInvalid),
        ),
        (
            "LOGID-3",
            &["TRUNCATED"],
            "39 bytes",
            [&good[..], &[0]].concat(),
            Some(E::LogIdInvalid),
        ),
    ];
    s.group("LogIdDecodeBytes", "logId.decodeBytes", json!({}));
    byte_cases(s, cases);
    s.group("LogIdDecode", "logId.decode", json!({}));
    for (section, flags, comment, bytes, code) in cases {
        let section = if code.is_none() { "LOGID-2" } else { section };
        let intent = code.map_or(Intent::Valid, Intent::Invalid);
        s.case(
            section,
            flags,
            comment,
            json!({"text": base58(bytes)}),
            intent,
        );
    }
    s.case(
        "LOGID-3",
        &["BAD_BASE58"],
        "'0' is not in the base58btc alphabet",
        json!({"text": format!("0{}", &base58(&good)[1..])}),
        Intent::Invalid(E::LogIdInvalid),
    );
    s.case(
        "LOGID-2",
        &["BAD_BASE58"],
        "a multibase prefix is not part of a peer ID's text form",
        json!({"text": format!("z{}", base58(&good))}),
        Intent::Invalid(E::LogIdInvalid),
    );
}

fn log_addrs(s: &mut SuiteBuilder, rng: &mut ChaCha20Rng) {
    let peer = IdentityKey::from_seed(&random_seed(rng)).log_id();
    let log = IdentityKey::from_seed(&random_seed(rng)).log_id();
    s.group("LogAddrDecode", "logAddr.decode", json!({}));
    let valid = [
        format!("/ip4/127.0.0.1/tcp/4006/p2p/{peer}/ipel/{log}"),
        format!("/ip6/::1/udp/4006/quic-v1/p2p/{peer}/ipel/{log}"),
        format!("/dns4/example.org/tcp/443/wss/p2p/{peer}/ipel/{log}"),
        format!("/p2p/{peer}/ipel/{peer}"),
    ];
    for text in valid {
        s.case(
            "ADDR-1",
            &["NORMAL"],
            "a peer address with /ipel/<log-id> appended",
            json!({"text": text}),
            Intent::Valid,
        );
    }
    let own = format!("/ip4/10.0.0.1/tcp/4006/p2p/{peer}/ipel/{peer}");
    s.case(
        "LOGID-4",
        &["NORMAL"],
        "a peer serving its own log: peer ID and log ID have one form",
        json!({"text": own}),
        Intent::Valid,
    );
    let invalid = [
        (
            "no /ipel component",
            format!("/ip4/127.0.0.1/tcp/4006/p2p/{peer}"),
        ),
        (
            "two /ipel components",
            format!("/ip4/127.0.0.1/tcp/4006/p2p/{peer}/ipel/{log}/ipel/{log}"),
        ),
        (
            "/ipel is not the last component",
            format!("/ip4/127.0.0.1/tcp/4006/p2p/{peer}/ipel/{log}/tcp/1"),
        ),
        (
            "peer address lacks /p2p/<peer-id>",
            format!("/ip4/127.0.0.1/tcp/4006/ipel/{log}"),
        ),
        (
            "the log ID is not an Ed25519 peer ID",
            format!(
                "/ip4/127.0.0.1/tcp/4006/p2p/{peer}/ipel/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
            ),
        ),
        (
            "the peer part is not a multiaddr",
            format!("/ip4/999.0.0.1/tcp/4006/p2p/{peer}/ipel/{log}"),
        ),
        ("empty string", String::new()),
    ];
    for (comment, text) in invalid {
        s.case(
            "ADDR-2",
            &["MALFORMED_ADDR"],
            comment,
            json!({"text": text}),
            Intent::Invalid(E::AddrInvalid),
        );
    }
    addr_edges(s, &peer.to_string(), &log.to_string());
}

/// The edges of [ADDR-3] and [ADDR-4]: each value's bounds, each non-canonical spelling the
/// multiaddr parsers accept, and the protocols and orders outside the subset.
fn addr_edges(s: &mut SuiteBuilder, peer: &str, log: &str) {
    let at = |network: &str| format!("{network}/p2p/{peer}/ipel/{log}");
    let label63 = "a".repeat(63);
    let name253 = format!("{0}.{0}.{0}.{1}", label63, "b".repeat(61));
    let valid: Vec<(&str, String)> = vec![
        (
            "ip4 0.0.0.0 and port 0, the lower bounds",
            "/ip4/0.0.0.0/tcp/0".into(),
        ),
        (
            "ip4 255.255.255.255 and port 65535, the upper bounds",
            "/ip4/255.255.255.255/tcp/65535".into(),
        ),
        (
            "ip6 with :: in the middle (RFC 5952)",
            "/ip6/2001:db8::1/tcp/4006".into(),
        ),
        ("ip6 unspecified address ::", "/ip6/::/udp/1/quic-v1".into()),
        (
            "ip6 with one zero group, which is not compressed",
            "/ip6/2001:db8:0:1:1:1:1:1/tcp/1".into(),
        ),
        (
            "ip6 with two equal zero runs: the first is compressed",
            "/ip6/2001:db8::1:0:0:1/tcp/1".into(),
        ),
        (
            "ip6 whose longer zero run is the second",
            "/ip6/2001:0:0:1::1/tcp/1".into(),
        ),
        ("dns with ws", "/dns/example.org/tcp/443/ws".into()),
        (
            "dns6 with quic-v1, digits and hyphens in labels",
            "/dns6/a-1.b2.example/udp/443/quic-v1".into(),
        ),
        (
            "dnsaddr, which carries no port",
            "/dnsaddr/bootstrap.example.org".into(),
        ),
        (
            "dns4 name 'ipel', the separator's own word",
            "/dns4/ipel/tcp/4006".into(),
        ),
        (
            "dns4 label of 63 characters",
            format!("/dns4/{label63}.example/tcp/1"),
        ),
        (
            "dns4 name of 253 characters",
            format!("/dns4/{name253}/tcp/1"),
        ),
        (
            "dns4 punycode label",
            "/dns4/xn--bcher-kva.example/tcp/1".into(),
        ),
    ];
    for (comment, network) in valid {
        s.case(
            "ADDR-3",
            &["ADDR_EDGE"],
            comment,
            json!({"text": at(&network)}),
            Intent::Valid,
        );
    }
    let non_canonical: Vec<(&str, String)> = vec![
        (
            "ip4 with a leading zero octet 000",
            "/ip4/127.000.0.1/tcp/1".into(),
        ),
        ("ip4 with a leading zero 01", "/ip4/127.0.0.01/tcp/1".into()),
        ("ip6 uncompressed", "/ip6/2001:db8:0:0:0:0:0:1/tcp/1".into()),
        ("ip6 with upper-case hex", "/ip6/2001:DB8::1/tcp/1".into()),
        (
            "ip6 with a leading zero in a group",
            "/ip6/2001:0db8::1/tcp/1".into(),
        ),
        (
            "ip6 with :: for a single zero group",
            "/ip6/2001:db8::1:1:1:1:1/tcp/1".into(),
        ),
        (
            "ip6 compressing the shorter zero run",
            "/ip6/2001::1:0:0:0:1/tcp/1".into(),
        ),
        (
            "ip6 with an embedded dotted IPv4 (::1.2.3.4)",
            "/ip6/::1.2.3.4/tcp/1".into(),
        ),
        (
            "tcp port with a leading zero",
            "/ip4/127.0.0.1/tcp/04006".into(),
        ),
        (
            "tcp port with a plus sign",
            "/ip4/127.0.0.1/tcp/+4006".into(),
        ),
        (
            "/ipfs/ alias for /p2p/",
            format!("/ip4/127.0.0.1/tcp/1/ipfs/{peer}/ipel/{log}"),
        ),
        (
            "peer part with a trailing slash",
            format!("/ip4/127.0.0.1/tcp/1/p2p/{peer}//ipel/{log}"),
        ),
        (
            "an empty component",
            format!("/ip4/127.0.0.1//tcp/1/p2p/{peer}/ipel/{log}"),
        ),
    ];
    for (comment, network) in non_canonical {
        let text = if network.contains("/ipel/") {
            network
        } else {
            at(&network)
        };
        s.case(
            "ADDR-4",
            &["NON_CANONICAL_ADDR"],
            comment,
            json!({"text": text}),
            Intent::Invalid(E::AddrInvalid),
        );
    }
    let outside: Vec<(&str, String)> = vec![
        ("ip4 with three numbers", "/ip4/127.0.1/tcp/1".into()),
        ("ip4 number 256", "/ip4/256.0.0.1/tcp/1".into()),
        ("tcp port 65536", "/ip4/127.0.0.1/tcp/65536".into()),
        (
            "ip6 IPv4-mapped, dotted",
            "/ip6/::ffff:1.2.3.4/tcp/1".into(),
        ),
        (
            "ip6 IPv4-mapped, in hex",
            "/ip6/::ffff:102:304/tcp/1".into(),
        ),
        ("ip6 with a zone", "/ip6/fe80::1%eth0/tcp/1".into()),
        (
            "dns4 name with an upper-case letter",
            "/dns4/Example.org/tcp/1".into(),
        ),
        (
            "dns4 name with a trailing dot",
            "/dns4/example.org./tcp/1".into(),
        ),
        (
            "dns4 label starting with '-'",
            "/dns4/-a.example/tcp/1".into(),
        ),
        (
            "dns4 label ending with '-'",
            "/dns4/a-.example/tcp/1".into(),
        ),
        (
            "dns4 label with '_'",
            "/dns4/_dnsaddr.example.org/tcp/1".into(),
        ),
        ("dns4 empty label", "/dns4/a..example/tcp/1".into()),
        (
            "dns4 label of 64 characters",
            format!("/dns4/{}.example/tcp/1", "a".repeat(64)),
        ),
        (
            "dns4 name of 254 characters",
            format!("/dns4/{name253}a/tcp/1"),
        ),
        (
            "dnsaddr name with a non-ASCII letter",
            "/dnsaddr/exämple.org".into(),
        ),
        ("host without a transport", "/ip4/127.0.0.1".into()),
        ("udp without quic-v1", "/ip4/127.0.0.1/udp/1".into()),
        (
            "quic (draft), not quic-v1",
            "/ip4/127.0.0.1/udp/1/quic".into(),
        ),
        ("quic-v1 over tcp", "/ip4/127.0.0.1/tcp/1/quic-v1".into()),
        (
            "tls, a protocol outside the subset",
            "/ip4/127.0.0.1/tcp/1/tls/ws".into(),
        ),
        ("transport before host", "/tcp/1/ip4/127.0.0.1".into()),
        ("dnsaddr with a port", "/dnsaddr/example.org/tcp/1".into()),
        ("ws without tcp", "/ip4/127.0.0.1/ws".into()),
        ("two hosts", "/ip4/127.0.0.1/ip4/127.0.0.2/tcp/1".into()),
        (
            "a relay address (p2p-circuit)",
            format!("/ip4/127.0.0.1/tcp/1/p2p/{peer}/p2p-circuit"),
        ),
        ("two /p2p/ components", format!("/p2p/{peer}")),
        ("memory transport", "/memory/1".into()),
    ];
    for (comment, network) in outside {
        s.case(
            "ADDR-3",
            &["UNSUPPORTED_MULTIADDR"],
            comment,
            json!({"text": at(&network)}),
            Intent::Invalid(E::AddrInvalid),
        );
    }
}

fn key_sets(s: &mut SuiteBuilder, rng: &mut ChaCha20Rng) {
    let keys = KeySet::generate(rng);
    let follow = keys.follow.as_bytes().to_vec();
    let read = keys
        .read
        .as_ref()
        .map(|k| k.as_bytes().to_vec())
        .unwrap_or_default();
    s.group("KeySetEncode", "keyset.encode", json!({}));
    s.case(
        "KEY-5",
        &["NORMAL"],
        "a reader's key set: follow and read keys",
        json!({"followKey": hex::encode(&follow), "readKey": hex::encode(&read)}),
        Intent::Valid,
    );
    s.case(
        "KEY-6",
        &["FOLLOWER"],
        "a follower's key set: the read key is omitted",
        json!({"followKey": hex::encode(&follow)}),
        Intent::Valid,
    );

    s.group("KeySetDecode", "keyset.decode", json!({}));
    let b = |v: &[u8]| cbor::bytes(v);
    let cases: &[ByteCase] = &[
        (
            "KEY-5",
            &["NORMAL"],
            "a reader's key set",
            keys.to_bytes(),
            None,
        ),
        (
            "KEY-6",
            &["FOLLOWER"],
            "a follower's key set",
            keys.for_follower().to_bytes(),
            None,
        ),
        (
            "KEY-5",
            &["NON_CANONICAL"],
            "keys in the wrong order (follow before read)",
            cbor::map(&[("follow", b(&follow)), ("read", b(&read))]),
            Some(E::KeysetMalformed),
        ),
        (
            "KEY-5",
            &["NULL_READ_KEY"],
            "read key present as null instead of omitted",
            cbor::map(&[("read", vec![cbor::NULL]), ("follow", b(&follow))]),
            Some(E::KeysetMalformed),
        ),
        (
            "KEY-5",
            &["MISSING_FIELD"],
            "no follow key",
            cbor::map(&[("read", b(&read))]),
            Some(E::KeysetMalformed),
        ),
        (
            "KEY-5",
            &["EXTRA_FIELD"],
            "an unknown field",
            cbor::map(&[
                ("read", b(&read)),
                ("extra", b(&[1])),
                ("follow", b(&follow)),
            ]),
            Some(E::KeysetMalformed),
        ),
        (
            "KEY-5",
            &["WRONG_TYPE"],
            "follow key as a text string",
            cbor::map(&[("follow", cbor::text("00"))]),
            Some(E::KeysetMalformed),
        ),
        (
            "KEY-5",
            &["WRONG_TYPE"],
            "not a map",
            cbor::bytes(&follow),
            Some(E::KeysetMalformed),
        ),
        (
            "KEY-5",
            &["TRUNCATED"],
            "map cut short",
            keys.to_bytes()[..40].to_vec(),
            Some(E::KeysetMalformed),
        ),
        (
            "KEY-2",
            &["BAD_KEY_LENGTH"],
            "a 31-byte follow key",
            cbor::map(&[("follow", b(&follow[..31]))]),
            Some(E::KeyBadLength),
        ),
        (
            "KEY-2",
            &["BAD_KEY_LENGTH"],
            "a 33-byte read key",
            cbor::map(&[
                ("read", b(&[&read[..], &[0]].concat())),
                ("follow", b(&follow)),
            ]),
            Some(E::KeyBadLength),
        ),
    ];
    byte_cases(s, cases);
}

/// Adds one case per entry, with the bytes as the `bytes` input.
fn byte_cases(s: &mut SuiteBuilder, cases: &[ByteCase]) {
    for (section, flags, comment, bytes, code) in cases {
        let intent = code.map_or(Intent::Valid, Intent::Invalid);
        s.case(
            section,
            flags,
            comment,
            json!({"bytes": hex::encode(bytes)}),
            intent,
        );
    }
}

fn notes(s: &mut SuiteBuilder) {
    s.note("NORMAL", "BASIC", "A well-formed input.");
    s.note(
        "RFC8032",
        "BASIC",
        "A seed from RFC 8032's test vectors, so the public key can be checked against the RFC.",
    );
    s.note(
        "FOLLOWER",
        "BASIC",
        "A follower's key set holds no read key.",
    );
    s.note(
        "SMALL_ORDER_KEY",
        "MISSING_CHECK",
        "A small-order public key: signatures under it can be forged.",
    );
    s.note(
        "NON_CANONICAL_KEY",
        "MALLEABILITY",
        "A non-canonical point encoding gives one key two log IDs.",
    );
    s.note(
        "NOT_ED25519",
        "MISSING_CHECK",
        "A peer ID of another key type; logs are Ed25519 only.",
    );
    s.note(
        "HASHED_PEER_ID",
        "MISSING_CHECK",
        "A hashed peer ID does not carry the public key needed to verify records.",
    );
    s.note(
        "TRUNCATED",
        "MISSING_CHECK",
        "Input shorter or longer than the exact form.",
    );
    s.note(
        "BAD_BASE58",
        "MISSING_CHECK",
        "Text that is not a bare base58btc string.",
    );
    s.note(
        "MALFORMED_ADDR",
        "MISSING_CHECK",
        "A log address that breaks ADDR-2.",
    );
    s.note(
        "ADDR_EDGE",
        "EDGE_CASE",
        "A peer multiaddr at an edge of ADDR-3: a value's bound or a form that is easy to reject.",
    );
    s.note(
        "NON_CANONICAL_ADDR",
        "MALLEABILITY",
        "A spelling multiaddr parsers accept that is not the address's one text (ADDR-4).",
    );
    s.note(
        "UNSUPPORTED_MULTIADDR",
        "MISSING_CHECK",
        "A multiaddr, protocol or value outside the subset ADDR-3 accepts.",
    );
    s.note(
        "NON_CANONICAL",
        "MALLEABILITY",
        "A DAG-CBOR encoding other than the canonical one.",
    );
    s.note(
        "NULL_READ_KEY",
        "MALLEABILITY",
        "An absent read key must be omitted, not null.",
    );
    s.note(
        "MISSING_FIELD",
        "MISSING_CHECK",
        "A required field is absent.",
    );
    s.note(
        "EXTRA_FIELD",
        "MISSING_CHECK",
        "A field the spec does not define.",
    );
    s.note(
        "WRONG_TYPE",
        "MISSING_CHECK",
        "A value of the wrong CBOR type.",
    );
    s.note(
        "BAD_KEY_LENGTH",
        "MISSING_CHECK",
        "A symmetric key that is not 32 bytes.",
    );
}
