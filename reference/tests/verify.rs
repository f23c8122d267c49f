//! Records, signatures, envelopes and verification (spec/records.md): [REC-1]..[REC-9], [SIG-1],
//! [SIG-2], [ENV-1], [VERIFY-1], [VERIFY-2], [SEAL-3].
//!
//! Every negative test asserts the exact code of the first failing step of [VERIFY-1]/[VERIFY-2].

mod common;

use common::{Fixture, TIME, cbor_bytes, cbor_link, cbor_map, cbor_text, cbor_uint, code, rng};
use sha2::{Digest, Sha256};
use threads::block::{self, MAX_BLOCK_SIZE};
use threads::envelope::Envelope;
use threads::id::{ThreadId, Variant};
use threads::keys::{ContentKey, FollowKey, IdentityKey, ReadKey};
use threads::record::{self, Event, Header, Position, Record, SIGNATURE_CONTEXT};
use threads::seal::{self, Layer};
use threads::verify::{verify_follower, verify_reader};
use threads::{Cid, ErrorCode};

/// A CID with the right digest but the raw codec (0x55).
fn raw_codec(cid: &Cid) -> Cid {
    Cid::new_v1(0x55, *cid.hash())
}

/// A CIDv0 (dag-pb, sha2-256) of the same digest.
fn cid_v0(cid: &Cid) -> Cid {
    Cid::new_v0(*cid.hash()).expect("a sha2-256 multihash makes a CIDv0")
}

/// A CIDv1 dag-cbor link with a sha2-512 multihash.
fn sha512_link() -> Cid {
    let hash = cid::multihash::Multihash::<64>::wrap(0x13, &[0xab; 64]).expect("64-byte digest");
    Cid::new_v1(0x71, hash)
}

// ---------------------------------------------------------------------------------------------
// Happy paths

/// Checks [VERIFY-2].
#[test]
fn verify_2_reader_gets_back_body_and_time() {
    let mut fx = Fixture::new(1);
    let env = fx.create(Position::FIRST, b"hello, thread", 1_234_567);
    let opened = fx.read(&env).expect("a valid envelope");
    assert_eq!(opened.body, b"hello, thread");
    assert_eq!(opened.header.time, 1_234_567);
    assert_eq!(opened.record.seq(), 1);
    assert_eq!(opened.record.prev(), None);
    assert_eq!(opened.record.cid(), &env.record_cid());
    assert_eq!(opened.record.thread(), &fx.thread);
    assert_eq!(opened.record.log(), &fx.log);
    // A second event links the first.
    let next = fx.after(&env, 1, b"second");
    let opened = fx.read(&next).expect("a valid envelope");
    assert_eq!(
        (opened.body.as_slice(), opened.record.seq()),
        (&b"second"[..], 2)
    );
    assert_eq!(opened.record.prev(), Some(&env.record_cid()));
}

/// Checks [VERIFY-1], [KEY-7].
#[test]
fn verify_1_key_7_follower_verifies_but_cannot_read() {
    let mut fx = Fixture::new(2);
    let env = fx.first(b"for readers only");
    let follower = fx.keys.for_follower();
    let verified = verify_follower(&env, &fx.thread, &fx.log, &follower.follow)
        .expect("a follower can verify");
    assert_eq!(verified.cid(), &env.record_cid());
    assert_eq!(verified.event().header, block::cid_of(&env.header));
    assert_eq!(verified.event().body, block::cid_of(&env.body));
    assert_eq!(verified.record().block, block::cid_of(&env.event));
    assert_eq!(
        code(verify_reader(&env, &fx.thread, &fx.log, &follower)),
        ErrorCode::KeyUnavailable
    );
}

/// Checks [VERIFY-2].
#[test]
fn verify_2_empty_and_binary_bodies_round_trip() {
    let mut fx = Fixture::new(3);
    for body in [
        &b""[..],
        &[0u8; 1],
        &[0xff; 300],
        &(0..=255).collect::<Vec<u8>>(),
    ] {
        let env = fx.create(Position::FIRST, body, u64::MAX);
        let opened = fx.read(&env).expect("valid");
        assert_eq!(opened.body, body);
        assert_eq!(opened.header.time, u64::MAX);
    }
}

/// Checks [REC-1].
#[test]
fn rec_1_cids_are_cidv1_dag_cbor_sha256_of_the_exact_bytes() {
    let mut fx = Fixture::new(4);
    let env = fx.first(b"x");
    let verified = fx.verify(&env).expect("valid");
    for (cid, bytes) in [
        (*verified.cid(), &env.record),
        (verified.record().block, &env.event),
        (verified.event().header, &env.header),
        (verified.event().body, &env.body),
    ] {
        assert_eq!(cid.version(), cid::Version::V1);
        assert_eq!(cid.codec(), 0x71);
        assert_eq!(cid.hash().code(), 0x12);
        assert_eq!(cid.hash().digest(), Sha256::digest(bytes).as_slice());
        assert_eq!(
            cid.to_bytes(),
            [&[0x01, 0x71, 0x12, 0x20][..], &Sha256::digest(bytes)].concat()
        );
        assert!(cid.to_string().starts_with("bafyrei"), "{cid}");
    }
}

/// Checks [REC-5], [REC-6], [REC-7], [REC-8].
#[test]
fn rec_5_rec_6_rec_7_rec_8_block_shapes_are_the_briefs() {
    let mut fx = Fixture::new(5);
    let first = fx.first(b"one");
    let env = fx.after(&first, 1, b"body plaintext");
    let opened = fx.read(&env).expect("valid");
    // [REC-7] event = {"body": link, "header": link}, canonical order.
    let event = opened.record.event();
    assert_eq!(
        env.event,
        cbor_map(&[
            ("body", cbor_link(&event.body)),
            ("header", cbor_link(&event.header))
        ])
    );
    // [REC-8] R = {"seq", "sig", "prev", "block"} in canonical (length-first) order.
    let record = opened.record.record();
    let r = cbor_map(&[
        ("seq", cbor_uint(2)),
        ("sig", cbor_bytes(&record.sig)),
        ("prev", cbor_link(&first.record_cid())),
        ("block", cbor_link(&record.block)),
    ]);
    assert_eq!(record.to_bytes(), r);
    let follow = *fx.keys.follow.as_bytes();
    let ad = |layer| seal::associated_data(layer, &fx.thread, &fx.log);
    let sealed_r = block::decode_byte_string(&env.record).expect("a byte string");
    assert_eq!(
        seal::open(Layer::Record, &follow, &ad(Layer::Record), &sealed_r),
        Ok(r)
    );
    // A first record has prev = null, not a missing field.
    let first_r = fx.open_record(&first).to_bytes();
    assert_eq!(first_r[0], 0xa4);
    assert!(
        first_r
            .windows(5)
            .any(|w| w == [0x64, b'p', b'r', b'e', b'v'])
    );
    assert_eq!(
        first_r,
        cbor_map(&[
            ("seq", cbor_uint(1)),
            ("sig", cbor_bytes(&fx.open_record(&first).sig)),
            ("prev", vec![0xf6]),
            ("block", cbor_link(&block::cid_of(&first.event))),
        ])
    );
    // [REC-6] H = {"key": bytes(32), "time": uint} sealed with the read key.
    let h = cbor_map(&[
        ("key", cbor_bytes(opened.header.content_key.as_bytes())),
        ("time", cbor_uint(TIME + 1)),
    ]);
    assert_eq!(opened.header.to_bytes(), h);
    let sealed_h = block::decode_byte_string(&env.header).expect("a byte string");
    assert_eq!(
        seal::open(
            Layer::Header,
            fx.read_key().as_bytes(),
            &ad(Layer::Header),
            &sealed_h
        ),
        Ok(h)
    );
    // [REC-5] the body block is the sealed body plaintext, as a byte string.
    let sealed_b = block::decode_byte_string(&env.body).expect("a byte string");
    assert_eq!(env.body, cbor_bytes(&sealed_b));
    assert_eq!(
        seal::open(
            Layer::Body,
            opened.header.content_key.as_bytes(),
            &ad(Layer::Body),
            &sealed_b
        ),
        Ok(b"body plaintext".to_vec())
    );
}

/// Checks [SEAL-3].
#[test]
fn seal_3_each_layer_opens_only_with_its_own_key() {
    let mut fx = Fixture::new(6);
    let env = fx.first(b"layers");
    let content = fx.read(&env).expect("valid").header.content_key;
    let keys = [
        ("follow", *fx.keys.follow.as_bytes()),
        ("read", *fx.read_key().as_bytes()),
        ("content", *content.as_bytes()),
    ];
    for (layer, block, own) in [
        (Layer::Record, &env.record, "follow"),
        (Layer::Header, &env.header, "read"),
        (Layer::Body, &env.body, "content"),
    ] {
        for (name, key) in &keys {
            let opened = record::open_block(layer, key, &fx.thread, &fx.log, block);
            if *name == own {
                assert!(opened.is_ok(), "{layer:?} must open with the {name} key");
            } else {
                assert_eq!(
                    code(opened),
                    layer.open_error(),
                    "{layer:?} with {name} key"
                );
            }
        }
    }
}

/// Checks [SIG-1].
#[test]
fn sig_1_signing_input_is_context_then_canonical_map() {
    let mut fx = Fixture::new(7);
    let first = fx.first(b"1");
    let env = fx.after(&first, 1, b"2");
    let r = fx.open_record(&env);
    let input = record::signing_input(&fx.thread, &fx.log, &r.block, r.prev.as_ref(), r.seq);
    let expected = [
        b"threads/v1/record-signature\0".to_vec(),
        cbor_map(&[
            ("log", cbor_bytes(&fx.log.to_bytes())),
            ("seq", cbor_uint(2)),
            ("prev", cbor_link(&first.record_cid())),
            ("block", cbor_link(&block::cid_of(&env.event))),
            ("thread", cbor_bytes(fx.thread.as_bytes())),
        ]),
    ]
    .concat();
    assert_eq!(SIGNATURE_CONTEXT, b"threads/v1/record-signature\0");
    assert_eq!(input, expected);
    let null_prev = record::signing_input(&fx.thread, &fx.log, &r.block, None, 1);
    assert_eq!(
        null_prev[28..],
        cbor_map(&[
            ("log", cbor_bytes(&fx.log.to_bytes())),
            ("seq", cbor_uint(1)),
            ("prev", vec![0xf6]),
            ("block", cbor_link(&r.block)),
            ("thread", cbor_bytes(fx.thread.as_bytes())),
        ])
    );
    // [SIG-2] the signature verifies strictly with the key inside the log ID.
    let sig = ed25519_dalek::Signature::from_bytes(&r.sig);
    assert!(
        fx.log
            .verifying_key()
            .verify_strict(&expected, &sig)
            .is_ok()
    );
}

// ---------------------------------------------------------------------------------------------
// Step 1: envelope decoding and block sizes

/// Checks [ENV-1].
#[test]
fn env_1_envelope_is_the_canonical_map_of_four_byte_strings() {
    let mut fx = Fixture::new(8);
    let env = fx.first(b"wire");
    let expected = cbor_map(&[
        ("body", cbor_bytes(&env.body)),
        ("event", cbor_bytes(&env.event)),
        ("header", cbor_bytes(&env.header)),
        ("record", cbor_bytes(&env.record)),
    ]);
    assert_eq!(env.to_bytes(), expected);
    assert_eq!(Envelope::from_bytes(&expected), Ok(env));
}

/// Checks [ENV-1].
#[test]
fn env_1_malformed_envelopes_are_rejected() {
    let mut fx = Fixture::new(9);
    let env = fx.first(b"wire");
    let field = |name: &str, bytes: &[u8]| (name.to_string(), cbor_bytes(bytes));
    let entries = [
        field("body", &env.body),
        field("event", &env.event),
        field("header", &env.header),
        field("record", &env.record),
    ];
    let map = |entries: &[(String, Vec<u8>)]| {
        let borrowed: Vec<(&str, Vec<u8>)> = entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        cbor_map(&borrowed)
    };
    let mut extra = entries.to_vec();
    extra.push(field("signers", b"x"));
    let mut reversed = entries.to_vec();
    reversed.reverse();
    let mut missing = entries.to_vec();
    missing.remove(1);
    let mut text = entries.to_vec();
    text[0].1 = cbor_text("body");
    let mut array = entries.to_vec();
    array[1].1 = [vec![0x83], vec![1, 2, 3]].concat();
    let mut non_minimal = entries.to_vec();
    non_minimal[1].1 = [vec![0x59, 0x00, env.event.len() as u8], env.event.clone()].concat();
    let mut null = entries.to_vec();
    null[0].1 = vec![0xf6];
    let mut duplicate = entries.to_vec();
    duplicate.insert(1, field("body", &env.body));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("extra field", map(&extra)),
        ("non-canonical order", map(&reversed)),
        ("missing field", map(&missing)),
        ("text instead of bytes", map(&text)),
        ("array instead of bytes", map(&array)),
        ("non-minimal length", map(&non_minimal)),
        ("null instead of bytes", map(&null)),
        ("duplicate key", map(&duplicate)),
        ("trailing bytes", [env.to_bytes(), vec![0]].concat()),
        (
            "truncated",
            env.to_bytes()[..env.to_bytes().len() - 1].to_vec(),
        ),
        ("not a map", cbor_bytes(&env.to_bytes())),
        ("empty", vec![]),
    ];
    assert!(
        env.event.len() < 256,
        "the non-minimal case needs a short event block"
    );
    for (what, bytes) in cases {
        assert_eq!(
            code(Envelope::from_bytes(&bytes)),
            ErrorCode::EnvelopeMalformed,
            "{what}"
        );
    }
}

/// Checks [REC-4].
#[test]
fn rec_4_any_block_over_1_mib_is_block_too_large() {
    let mut fx = Fixture::new(10);
    let env = fx.first(b"small");
    let huge = vec![0x5a; MAX_BLOCK_SIZE + 1];
    let swaps: [fn(&mut Envelope, Vec<u8>); 4] = [
        |e, b| e.record = b,
        |e, b| e.event = b,
        |e, b| e.header = b,
        |e, b| e.body = b,
    ];
    for (i, swap) in swaps.iter().enumerate() {
        let mut bad = env.clone();
        swap(&mut bad, huge.clone());
        assert_eq!(code(fx.verify(&bad)), ErrorCode::BlockTooLarge, "block {i}");
        assert_eq!(code(fx.read(&bad)), ErrorCode::BlockTooLarge, "block {i}");
    }
}

/// Checks [REC-4].
#[test]
fn rec_4_body_block_of_exactly_1_mib_is_accepted_one_more_byte_is_not() {
    let mut fx = Fixture::new(11);
    // Block = 5-byte CBOR head (0x5a + u32) + 24-byte nonce + plaintext + 16-byte tag.
    let at_limit = vec![0x42; MAX_BLOCK_SIZE - 45];
    let env = fx.create(Position::FIRST, &at_limit, TIME);
    assert_eq!(env.body.len(), MAX_BLOCK_SIZE);
    assert_eq!(fx.read(&env).map(|e| e.body.len()), Ok(at_limit.len()));
    let over = fx.create(Position::FIRST, &[0x42; MAX_BLOCK_SIZE - 44], TIME);
    assert_eq!(over.body.len(), MAX_BLOCK_SIZE + 1);
    assert_eq!(code(fx.verify(&over)), ErrorCode::BlockTooLarge);
}

// ---------------------------------------------------------------------------------------------
// Step 3: opening the record layer

/// Checks [SEAL-4].
#[test]
fn seal_4_tampered_record_ciphertext_is_record_decrypt_failed() {
    let mut fx = Fixture::new(12);
    let env = fx.first(b"tamper");
    let len = env.record.len();
    // The block starts with a 2-byte CBOR head; every later byte is nonce, ciphertext or tag.
    for at in [2, 2 + 23, 2 + 24, len / 2, len - 16, len - 1] {
        let mut bad = env.clone();
        bad.record[at] ^= 0x01;
        assert_eq!(
            code(fx.verify(&bad)),
            ErrorCode::RecordDecryptFailed,
            "byte {at}"
        );
    }
}

/// Checks [SEAL-4].
#[test]
fn seal_4_wrong_follow_key_is_record_decrypt_failed() {
    let mut fx = Fixture::new(13);
    let env = fx.first(b"x");
    let wrong = FollowKey::generate(&mut rng(99));
    assert_eq!(
        code(verify_follower(&env, &fx.thread, &fx.log, &wrong)),
        ErrorCode::RecordDecryptFailed
    );
    let mut keys = fx.keys.clone();
    keys.follow = wrong;
    assert_eq!(
        code(verify_reader(&env, &fx.thread, &fx.log, &keys)),
        ErrorCode::RecordDecryptFailed
    );
}

/// Checks [SEAL-2].
#[test]
fn seal_2_record_moved_to_another_thread_or_log_is_record_decrypt_failed() {
    let mut fx = Fixture::new(14);
    let env = fx.first(b"x");
    let other_thread = ThreadId::generate(Variant::Raw, &mut rng(98));
    let other_log = IdentityKey::generate(&mut rng(97)).log_id();
    let follow = &fx.keys.follow;
    assert_eq!(
        code(verify_follower(&env, &other_thread, &fx.log, follow)),
        ErrorCode::RecordDecryptFailed
    );
    assert_eq!(
        code(verify_follower(&env, &fx.thread, &other_log, follow)),
        ErrorCode::RecordDecryptFailed
    );
}

/// Checks [REC-3].
#[test]
fn rec_3_record_block_that_is_not_a_byte_string_is_block_malformed() {
    let mut fx = Fixture::new(15);
    let env = fx.first(b"x");
    let sealed = block::decode_byte_string(&env.record).expect("byte string");
    let non_minimal = [vec![0x59, 0x00, sealed.len() as u8], sealed].concat();
    for record in [cbor_text("record"), vec![0xa0], non_minimal, vec![]] {
        let bad = Envelope {
            record,
            ..env.clone()
        };
        assert_eq!(code(fx.verify(&bad)), ErrorCode::BlockMalformed);
    }
}

// ---------------------------------------------------------------------------------------------
// Step 4: decoding R

/// Checks [REC-3].
#[test]
fn rec_3_record_plaintext_not_canonical_or_ill_shaped_is_block_malformed() {
    let mut fx = Fixture::new(16);
    let env = fx.first(b"x");
    let r = fx.open_record(&env);
    let block = cbor_link(&r.block);
    let sig = cbor_bytes(&r.sig);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "declaration order instead of canonical order",
            cbor_map(&[
                ("block", block.clone()),
                ("prev", vec![0xf6]),
                ("seq", cbor_uint(1)),
                ("sig", sig.clone()),
            ]),
        ),
        (
            "prev missing instead of null",
            cbor_map(&[
                ("seq", cbor_uint(1)),
                ("sig", sig.clone()),
                ("block", block.clone()),
            ]),
        ),
        (
            "extra field",
            cbor_map(&[
                ("seq", cbor_uint(1)),
                ("sig", sig.clone()),
                ("prev", vec![0xf6]),
                ("time", cbor_uint(1)),
                ("block", block.clone()),
            ]),
        ),
        (
            "63-byte signature",
            cbor_map(&[
                ("seq", cbor_uint(1)),
                ("sig", cbor_bytes(&r.sig[..63])),
                ("prev", vec![0xf6]),
                ("block", block.clone()),
            ]),
        ),
        (
            "seq as text",
            cbor_map(&[
                ("seq", cbor_text("1")),
                ("sig", sig.clone()),
                ("prev", vec![0xf6]),
                ("block", block.clone()),
            ]),
        ),
        (
            "non-minimal seq",
            cbor_map(&[
                ("seq", vec![0x18, 0x01]),
                ("sig", sig.clone()),
                ("prev", vec![0xf6]),
                ("block", block.clone()),
            ]),
        ),
        (
            "block as bytes, not a link",
            cbor_map(&[
                ("seq", cbor_uint(1)),
                ("sig", sig.clone()),
                ("prev", vec![0xf6]),
                ("block", cbor_bytes(&r.block.to_bytes())),
            ]),
        ),
        ("not a map", cbor_bytes(&r.sig)),
    ];
    // Control: the canonical form of the same record verifies.
    let canonical = cbor_map(&[
        ("seq", cbor_uint(1)),
        ("sig", sig),
        ("prev", vec![0xf6]),
        ("block", block),
    ]);
    let good = Envelope {
        record: fx.record_block(&canonical),
        ..env.clone()
    };
    assert!(fx.verify(&good).is_ok());
    for (what, plaintext) in cases {
        let bad = Envelope {
            record: fx.record_block(&plaintext),
            ..env.clone()
        };
        assert_eq!(code(fx.verify(&bad)), ErrorCode::BlockMalformed, "{what}");
    }
}

/// Checks [REC-2].
#[test]
fn rec_2_record_links_that_are_not_v1_dag_cbor_sha256_are_cid_unsupported() {
    let mut fx = Fixture::new(17);
    let first = fx.first(b"1");
    let env = fx.after(&first, 1, b"2");
    let event = block::cid_of(&env.event);
    let prev = first.record_cid();
    let cases = [
        (
            "raw-codec block",
            fx.signed(raw_codec(&event), Some(prev), 2),
        ),
        ("CIDv0 block", fx.signed(cid_v0(&event), Some(prev), 2)),
        ("sha2-512 block", fx.signed(sha512_link(), Some(prev), 2)),
        (
            "raw-codec prev",
            fx.signed(event, Some(raw_codec(&prev)), 2),
        ),
        ("CIDv0 prev", fx.signed(event, Some(cid_v0(&prev)), 2)),
    ];
    for (what, record) in cases {
        let bad = fx.with_record(&env, &record);
        assert_eq!(code(fx.verify(&bad)), ErrorCode::CidUnsupported, "{what}");
    }
}

// ---------------------------------------------------------------------------------------------
// Step 5: seq/prev shape

/// Checks [REC-9].
#[test]
fn rec_9_seq_and_prev_shapes_are_checked() {
    let mut fx = Fixture::new(18);
    let first = fx.first(b"1");
    let second = fx.after(&first, 1, b"2");
    let prev = Some(first.record_cid());
    // Each record is validly signed: only the shape is wrong.
    for (what, env, seq, prev) in [
        ("seq 0", &first, 0, None),
        ("seq 0 with prev", &second, 0, prev),
        ("prev with seq 1", &second, 1, prev),
        ("no prev with seq 2", &first, 2, None),
        ("no prev with a large seq", &first, u64::MAX, None),
    ] {
        let bad = fx.resigned(env, seq, prev);
        assert_eq!(code(fx.verify(&bad)), ErrorCode::RecordBadSeq, "{what}");
    }
    // Control: the shapes REC-9 allows verify (the log decides whether they fit).
    let later = fx.resigned(&second, 7, prev);
    assert!(fx.verify(&later).is_ok());
    assert_eq!(
        Record {
            block: block::cid_of(b"e"),
            prev: None,
            seq: 1,
            sig: [0; 64]
        }
        .check_position(),
        Ok(())
    );
}

// ---------------------------------------------------------------------------------------------
// Step 6: the signature

/// Checks [SIG-2].
#[test]
fn sig_2_forged_signature_is_signature_invalid() {
    let mut fx = Fixture::new(19);
    let env = fx.first(b"x");
    let r = fx.open_record(&env);
    for at in [0, 17, 31, 32, 50, 63] {
        let mut forged = r.clone();
        forged.sig[at] ^= 0x01;
        let bad = fx.with_record(&env, &forged);
        assert_eq!(
            code(fx.verify(&bad)),
            ErrorCode::SignatureInvalid,
            "sig byte {at}"
        );
    }
    let zero = Record { sig: [0; 64], ..r };
    let zeroed = fx.with_record(&env, &zero);
    assert_eq!(code(fx.verify(&zeroed)), ErrorCode::SignatureInvalid);
}

/// Checks [SIG-2], [LOG-1].
#[test]
fn sig_2_log_1_signature_by_another_logs_key_is_signature_invalid() {
    let mut fx = Fixture::new(20);
    let env = fx.first(b"x");
    let intruder = IdentityKey::generate(&mut rng(77));
    let record = record::sign(&fx.thread, &intruder, block::cid_of(&env.event), None, 1);
    let bad = fx.with_record(&env, &record);
    assert_eq!(code(fx.verify(&bad)), ErrorCode::SignatureInvalid);
}

/// Checks [SIG-1].
#[test]
fn sig_1_record_signed_for_another_thread_is_signature_invalid() {
    let mut fx = Fixture::new(21);
    let env = fx.first(b"x");
    // Same random part, other variant: a different thread [TID-8].
    let other = ThreadId::from_parts(Variant::AccessControlled, fx.thread.random()).expect("ok");
    for thread in [other, ThreadId::generate(Variant::Raw, &mut rng(5))] {
        let record = record::sign(&thread, &fx.identity, block::cid_of(&env.event), None, 1);
        let bad = fx.with_record(&env, &record);
        assert_eq!(code(fx.verify(&bad)), ErrorCode::SignatureInvalid);
    }
}

/// Checks [SIG-1].
#[test]
fn sig_1_record_resealed_for_another_log_by_a_key_holder_is_signature_invalid() {
    // Bob holds the follow key and re-seals Alice's signed record as if it were in his log.
    let mut alice = Fixture::new(22);
    let mut bob = alice.second_writer(23);
    let env = alice.first(b"alice's");
    let stolen = alice.open_record(&env);
    let bad = bob.with_record(&env, &stolen);
    assert_eq!(code(bob.verify(&bad)), ErrorCode::SignatureInvalid);
}

/// Checks [SIG-1].
#[test]
fn sig_1_signature_covers_block_prev_and_seq() {
    let mut fx = Fixture::new(24);
    let first = fx.first(b"1");
    let env = fx.after(&first, 1, b"2");
    let r = fx.open_record(&env);
    let other = block::cid_of(b"other");
    let cases = [
        (
            "seq",
            Record {
                seq: 3,
                ..r.clone()
            },
        ),
        (
            "prev",
            Record {
                prev: Some(other),
                ..r.clone()
            },
        ),
        (
            "block",
            Record {
                block: other,
                ..r.clone()
            },
        ),
    ];
    for (what, changed) in cases {
        let bad = fx.with_record(&env, &changed);
        assert_eq!(code(fx.verify(&bad)), ErrorCode::SignatureInvalid, "{what}");
    }
}

/// L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Checks [SIG-2].
#[test]
fn sig_2_malleable_signature_s_plus_l_is_signature_invalid() {
    let mut fx = Fixture::new(25);
    let env = fx.first(b"x");
    let r = fx.open_record(&env);
    let mut malleated = r.clone();
    let mut carry = 0u16;
    for (out, (s, l)) in malleated.sig[32..]
        .iter_mut()
        .zip(r.sig[32..].iter().zip(L))
    {
        let sum = u16::from(*s) + u16::from(l) + carry;
        *out = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "S + L fits in 32 bytes");
    assert_ne!(malleated.sig, r.sig);
    let bad = fx.with_record(&env, &malleated);
    assert_eq!(code(fx.verify(&bad)), ErrorCode::SignatureInvalid);
    // Control: the original, canonical signature re-sealed the same way is accepted.
    let resealed = fx.with_record(&env, &r);
    assert!(fx.verify(&resealed).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Steps 7 and 8: the event, header and body blocks

/// Checks [VERIFY-1].
#[test]
fn verify_1_swapped_event_header_or_body_block_is_cid_mismatch() {
    let mut fx = Fixture::new(26);
    let env = fx.first(b"a");
    let other = fx.first(b"b");
    for (what, bad) in [
        (
            "event",
            Envelope {
                event: other.event.clone(),
                ..env.clone()
            },
        ),
        (
            "header",
            Envelope {
                header: other.header.clone(),
                ..env.clone()
            },
        ),
        (
            "body",
            Envelope {
                body: other.body.clone(),
                ..env.clone()
            },
        ),
    ] {
        assert_eq!(code(fx.verify(&bad)), ErrorCode::CidMismatch, "{what}");
        assert_eq!(code(fx.read(&bad)), ErrorCode::CidMismatch, "{what}");
    }
    let mut flipped = env.clone();
    let last = flipped.header.len() - 1;
    flipped.header[last] ^= 1;
    assert_eq!(code(fx.read(&flipped)), ErrorCode::CidMismatch);
}

/// Checks [REC-2].
#[test]
fn rec_2_event_with_a_non_dag_cbor_link_is_cid_unsupported() {
    let mut fx = Fixture::new(27);
    let env = fx.first(b"x");
    let body = block::cid_of(&env.body);
    let header = block::cid_of(&env.header);
    for event in [
        Event {
            body: raw_codec(&body),
            header,
        },
        Event {
            body,
            header: cid_v0(&header),
        },
        Event {
            body: sha512_link(),
            header,
        },
    ] {
        let bad = fx.assemble_event(event.to_bytes(), env.header.clone(), env.body.clone());
        assert_eq!(
            code(fx.verify(&bad)),
            ErrorCode::CidUnsupported,
            "{event:?}"
        );
    }
}

/// Checks [REC-3].
#[test]
fn rec_3_event_not_canonical_is_block_malformed() {
    let mut fx = Fixture::new(28);
    let env = fx.first(b"x");
    let body = cbor_link(&block::cid_of(&env.body));
    let header = cbor_link(&block::cid_of(&env.header));
    for (what, event) in [
        (
            "reversed keys",
            cbor_map(&[("header", header.clone()), ("body", body.clone())]),
        ),
        ("missing header", cbor_map(&[("body", body.clone())])),
        (
            "extra field",
            cbor_map(&[
                ("body", body.clone()),
                ("time", cbor_uint(1)),
                ("header", header.clone()),
            ]),
        ),
        ("byte string", cbor_bytes(b"event")),
    ] {
        let bad = fx.assemble_event(event, env.header.clone(), env.body.clone());
        assert_eq!(code(fx.verify(&bad)), ErrorCode::BlockMalformed, "{what}");
    }
}

/// Checks [REC-3].
#[test]
fn rec_3_header_or_body_block_not_a_byte_string_is_block_malformed() {
    let mut fx = Fixture::new(29);
    let env = fx.first(b"x");
    let not_bytes = cbor_text("not a sealed layer");
    let header_bad = fx.assemble(not_bytes.clone(), env.body.clone());
    assert_eq!(code(fx.verify(&header_bad)), ErrorCode::BlockMalformed);
    let body_bad = fx.assemble(env.header.clone(), not_bytes);
    assert_eq!(code(fx.verify(&body_bad)), ErrorCode::BlockMalformed);
    // Control: the same hand assembly with the real blocks verifies and reads.
    let good = fx.assemble(env.header.clone(), env.body.clone());
    assert_eq!(fx.read(&good).map(|e| e.body), Ok(b"x".to_vec()));
}

// ---------------------------------------------------------------------------------------------
// Steps 9 and 10: the reader's layers, inside validly signed records built by hand

/// Checks [VERIFY-2].
#[test]
fn verify_2_header_sealed_with_a_wrong_read_key_is_header_decrypt_failed() {
    let mut fx = Fixture::new(30);
    let content = ContentKey::generate(&mut fx.rng);
    let body = fx.seal(Layer::Body, content.as_bytes(), b"body");
    let wrong_read = ReadKey::generate(&mut rng(31));
    let header = fx.header_block(&wrong_read, &content, TIME);
    let env = fx.assemble(header, body);
    assert!(fx.verify(&env).is_ok(), "a follower cannot tell");
    assert_eq!(code(fx.read(&env)), ErrorCode::HeaderDecryptFailed);
}

/// Checks [VERIFY-2].
#[test]
fn verify_2_header_sealed_under_another_label_is_header_decrypt_failed() {
    let mut fx = Fixture::new(32);
    let content = ContentKey::generate(&mut fx.rng);
    let body = fx.seal(Layer::Body, content.as_bytes(), b"body");
    let header_plain = Header {
        content_key: content,
        time: TIME,
    }
    .to_bytes();
    let read = *fx.read_key().as_bytes();
    let header = fx.seal(Layer::Body, &read, &header_plain);
    let env = fx.assemble(header, body);
    assert_eq!(code(fx.read(&env)), ErrorCode::HeaderDecryptFailed);
}

/// Checks [VERIFY-2].
#[test]
fn verify_2_body_sealed_with_another_content_key_is_body_decrypt_failed() {
    let mut fx = Fixture::new(33);
    let named = ContentKey::generate(&mut fx.rng);
    let used = ContentKey::generate(&mut fx.rng);
    let body = fx.seal(Layer::Body, used.as_bytes(), b"body");
    let read = fx.read_key().clone();
    let header = fx.header_block(&read, &named, TIME);
    let env = fx.assemble(header, body);
    assert!(fx.verify(&env).is_ok());
    assert_eq!(code(fx.read(&env)), ErrorCode::BodyDecryptFailed);
    // Control: with the header naming the key actually used, it reads.
    let body = fx.seal(Layer::Body, used.as_bytes(), b"body");
    let header = fx.header_block(&read, &used, TIME);
    let good = fx.assemble(header, body);
    assert_eq!(fx.read(&good).map(|e| e.body), Ok(b"body".to_vec()));
}

/// Checks [REC-3].
#[test]
fn rec_3_header_plaintext_not_canonical_is_block_malformed() {
    let mut fx = Fixture::new(34);
    let content = ContentKey::generate(&mut fx.rng);
    let key = cbor_bytes(content.as_bytes());
    let time = cbor_uint(TIME);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "reversed keys",
            cbor_map(&[("time", time.clone()), ("key", key.clone())]),
        ),
        ("missing time", cbor_map(&[("key", key.clone())])),
        (
            "extra field",
            cbor_map(&[
                ("key", key.clone()),
                ("time", time.clone()),
                ("extra", cbor_uint(0)),
            ]),
        ),
        (
            "31-byte key",
            cbor_map(&[("key", cbor_bytes(&[1; 31])), ("time", time.clone())]),
        ),
        (
            "time as text",
            cbor_map(&[("key", key.clone()), ("time", cbor_text("now"))]),
        ),
        (
            "negative time",
            cbor_map(&[("key", key.clone()), ("time", vec![0x20])]),
        ),
        (
            "non-minimal time",
            cbor_map(&[
                ("key", key.clone()),
                ("time", vec![0x1b, 0, 0, 0, 0, 0, 0, 0, 5]),
            ]),
        ),
        ("empty plaintext", vec![]),
    ];
    let read = *fx.read_key().as_bytes();
    let body = fx.seal(Layer::Body, content.as_bytes(), b"body");
    // Control: the canonical header opens and reads.
    let canonical = cbor_map(&[("key", key.clone()), ("time", time.clone())]);
    let header = fx.seal(Layer::Header, &read, &canonical);
    let good = fx.assemble(header, body.clone());
    assert_eq!(fx.read(&good).map(|e| e.header.time), Ok(TIME));
    for (what, plaintext) in cases {
        let header = fx.seal(Layer::Header, &read, &plaintext);
        let env = fx.assemble(header, body.clone());
        assert!(
            fx.verify(&env).is_ok(),
            "{what}: followers cannot see the header"
        );
        assert_eq!(code(fx.read(&env)), ErrorCode::BlockMalformed, "{what}");
    }
}

// ---------------------------------------------------------------------------------------------
// The order of the steps: with two faults, the earlier step's code wins

/// Checks [VERIFY-1].
#[test]
fn verify_1_first_failing_step_decides_the_code() {
    let mut fx = Fixture::new(35);
    let first = fx.first(b"1");
    let env = fx.after(&first, 1, b"2");
    let other = fx.first(b"other");
    let r = fx.open_record(&env);
    let forged = Record {
        sig: [7; 64],
        ..r.clone()
    };
    let huge = vec![0; MAX_BLOCK_SIZE + 1];
    let wrong_follow = FollowKey::generate(&mut rng(3));

    // Step 1 before step 3: an oversized block with a record that would not open.
    let bad = Envelope {
        body: huge,
        ..env.clone()
    };
    assert_eq!(
        code(verify_follower(&bad, &fx.thread, &fx.log, &wrong_follow)),
        ErrorCode::BlockTooLarge
    );
    // Step 5 before step 6: bad shape and bad signature.
    let shape_and_sig = Record {
        prev: None,
        ..forged.clone()
    };
    let bad = fx.with_record(&env, &shape_and_sig);
    assert_eq!(code(fx.verify(&bad)), ErrorCode::RecordBadSeq);
    // Step 4 before step 5: unsupported link and bad shape.
    let link_and_shape = fx.signed(raw_codec(&r.block), None, 2);
    let bad = fx.with_record(&env, &link_and_shape);
    assert_eq!(code(fx.verify(&bad)), ErrorCode::CidUnsupported);
    // Step 6 before step 7: forged signature and swapped event.
    let sig_and_event = Envelope {
        event: other.event.clone(),
        ..fx.with_record(&env, &forged)
    };
    assert_eq!(code(fx.verify(&sig_and_event)), ErrorCode::SignatureInvalid);
    // Step 7 before step 8: unsupported link in the event and a swapped body.
    let event = Event {
        body: raw_codec(&block::cid_of(&env.body)),
        header: block::cid_of(&env.header),
    };
    let event_and_body = fx.assemble_event(event.to_bytes(), env.header.clone(), other.body);
    assert_eq!(code(fx.verify(&event_and_body)), ErrorCode::CidUnsupported);
    // [VERIFY-2]: steps 1-8 run before the reader's steps, and the read key is needed before
    // the header is opened.
    let mut swapped_header = env.clone();
    swapped_header.header = other.header;
    assert_eq!(code(fx.read(&swapped_header)), ErrorCode::CidMismatch);
    let follower = fx.keys.for_follower();
    let content = ContentKey::generate(&mut fx.rng);
    let body = fx.seal(Layer::Body, content.as_bytes(), b"b");
    let header = fx.header_block(&ReadKey::generate(&mut rng(4)), &content, TIME);
    let bad_header = fx.assemble(header, body);
    assert_eq!(
        code(verify_reader(&bad_header, &fx.thread, &fx.log, &follower)),
        ErrorCode::KeyUnavailable
    );
}

// ---------------------------------------------------------------------------------------------
// Memoised verdicts (the simulator's shared memo)

/// Checks [VERIFY-1], [VERIFY-2] and [LOGID-3] inside `verify::memoised`: every verdict, valid or
/// not, is the one computed without the memo, asked once or twice, in either order; a verdict for
/// one key is never handed out for another.
#[test]
fn memoised_verdicts_equal_plain_ones() {
    let mut fx = Fixture::new(7);
    let good = fx.first(b"one");
    let mut tampered = good.clone();
    if let Some(last) = tampered.body.last_mut() {
        *last ^= 1;
    }
    let other = Fixture::new(8);
    let bad_id = [0xffu8; 38];
    let plain = |fx: &Fixture| {
        let verdicts: Vec<_> = [&good, &tampered]
            .into_iter()
            .map(|e| {
                (
                    fx.verify(e),
                    fx.read(e),
                    verify_follower(e, &fx.thread, &fx.log, &other.keys.follow),
                    verify_reader(e, &fx.thread, &other.log, &fx.keys),
                )
            })
            .collect();
        (verdicts, threads::id::LogId::from_bytes(&bad_id))
    };
    let expected = plain(&fx);
    assert!(expected.0[0].0.is_ok() && expected.0[0].1.is_ok());
    assert_eq!(code(expected.0[1].1.clone()), ErrorCode::CidMismatch);
    assert_eq!(
        code(expected.0[0].2.clone()),
        ErrorCode::RecordDecryptFailed
    );
    let (first, second) = threads::verify::memoised(|| (plain(&fx), plain(&fx)));
    assert_eq!(first, expected);
    assert_eq!(second, expected);
    // Another writer's record: accepted under its own thread and keys, refused under these,
    // whichever is asked first.
    let mut fx2 = Fixture::new(9);
    let theirs = fx2.first(b"one");
    let refused = code(fx.verify(&theirs));
    threads::verify::memoised(|| {
        assert!(fx2.verify(&theirs).is_ok());
        assert_eq!(code(fx.verify(&theirs)), refused);
        assert!(fx2.read(&theirs).is_ok());
    });
}
