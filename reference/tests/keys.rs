//! Keys and key sets (spec/keys.md): [KEY-1]..[KEY-7].

mod common;

use std::collections::HashSet;

use common::{Fixture, RFC8032_PUBLIC, cbor_bytes, cbor_map, cbor_text, code, rfc8032_seed, rng};
use ed25519_dalek::{Signer, SigningKey};
use threads::ErrorCode;
use threads::keys::{ContentKey, FollowKey, IdentityKey, KeySet, ReadKey, Role};
use threads::log::LogReplica;
use threads::record;

/// Checks [KEY-1].
#[test]
fn key_1_identity_key_is_rfc8032_ed25519_from_a_32_byte_seed() {
    let identity = IdentityKey::from_seed(&rfc8032_seed());
    assert_eq!(identity.seed(), rfc8032_seed());
    assert_eq!(
        hex::encode(identity.log_id().verifying_key().as_bytes()),
        RFC8032_PUBLIC
    );
    // A record signature made with the identity key is the RFC 8032 signature of ed25519-dalek.
    let fx = Fixture::new(1);
    let block = threads::block::cid_of(b"event");
    let signed = record::sign(&fx.thread, &identity, block, None, 1);
    let input = record::signing_input(&fx.thread, &identity.log_id(), &block, None, 1);
    let expected = SigningKey::from_bytes(&rfc8032_seed()).sign(&input);
    assert_eq!(signed.sig, expected.to_bytes());
}

/// Checks [KEY-1].
#[test]
fn key_1_generated_identity_keys_come_from_the_rng_and_do_not_print_the_seed() {
    let a = IdentityKey::generate(&mut rng(1));
    let b = IdentityKey::generate(&mut rng(1));
    let c = IdentityKey::generate(&mut rng(2));
    assert_eq!(a.seed(), b.seed());
    assert_ne!(a.seed(), c.seed());
    let mut seed = [0u8; 32];
    rand_core::Rng::fill_bytes(&mut rng(1), &mut seed);
    assert_eq!(
        a.seed(),
        seed,
        "the seed is 32 bytes straight from the CSPRNG"
    );
    let printed = format!("{a:?}");
    assert!(!printed.contains(&hex::encode(a.seed())), "{printed}");
    assert!(printed.contains(&a.log_id().to_string()));
}

/// Checks [KEY-2].
#[test]
fn key_2_symmetric_keys_must_be_32_bytes() {
    for len in [0, 1, 16, 31, 33, 64] {
        let bytes = vec![3u8; len];
        assert_eq!(code(FollowKey::from_slice(&bytes)), ErrorCode::KeyBadLength);
        assert_eq!(code(ReadKey::from_slice(&bytes)), ErrorCode::KeyBadLength);
        assert_eq!(
            code(ContentKey::from_slice(&bytes)),
            ErrorCode::KeyBadLength
        );
    }
    let key = ReadKey::from_slice(&[3; 32]).expect("32 bytes");
    assert_eq!(key.as_bytes(), &[3; 32]);
    assert_eq!(key, ReadKey::from([3; 32]));
}

/// Checks [KEY-2].
#[test]
fn key_2_generated_keys_are_32_bytes_from_the_rng_and_hidden_in_debug() {
    let key = FollowKey::generate(&mut rng(9));
    let mut expected = [0u8; 32];
    rand_core::Rng::fill_bytes(&mut rng(9), &mut expected);
    assert_eq!(key.as_bytes(), &expected);
    assert_ne!(ContentKey::generate(&mut rng(10)).as_bytes(), &expected);
    assert!(!format!("{key:?}").contains(&format!("{}", expected[0])));
}

/// Checks [KEY-3].
#[test]
fn key_3_one_follow_and_one_read_key_are_shared_by_all_logs() {
    let mut alice = Fixture::new(1);
    let mut bob = alice.second_writer(2);
    assert_ne!(alice.log, bob.log);
    let from_alice = alice.first(b"from alice");
    let from_bob = bob.first(b"from bob");
    // One key set opens both logs of the thread.
    let keys = alice.keys.clone();
    let open = |env, log| threads::verify::verify_reader(env, &alice.thread, log, &keys);
    assert_eq!(
        open(&from_alice, &alice.log).map(|e| e.body),
        Ok(b"from alice".to_vec())
    );
    assert_eq!(
        open(&from_bob, &bob.log).map(|e| e.body),
        Ok(b"from bob".to_vec())
    );
    // A thread's key set has exactly one follow and one read key.
    let bytes = keys.to_bytes();
    assert_eq!(bytes[0], 0xa2, "a map of exactly two entries");
}

/// Checks [KEY-4].
#[test]
fn key_4_every_event_gets_a_fresh_content_key() {
    let mut fx = Fixture::new(4);
    let mut keys = HashSet::new();
    for i in 0..16u8 {
        let env = fx.first(&[i]);
        let opened = fx.read(&env).expect("valid envelope");
        let key = *opened.header.content_key.as_bytes();
        assert_ne!(&key, fx.keys.follow.as_bytes());
        assert_ne!(&key, fx.read_key().as_bytes());
        assert!(keys.insert(key), "content key reused at event {i}");
    }
    // Even the same body at the same position gets a new content key.
    let a = fx.first(b"same");
    let b = fx.first(b"same");
    assert_ne!(
        fx.read(&a).map(|e| e.header.content_key),
        fx.read(&b).map(|e| e.header.content_key)
    );
}

fn sample_keys() -> KeySet {
    KeySet {
        follow: FollowKey::from([0xf0; 32]),
        read: Some(ReadKey::from([0x4e; 32])),
    }
}

/// Checks [KEY-5].
#[test]
fn key_5_key_set_encoding_is_the_canonical_map() {
    let keys = sample_keys();
    // Canonical DAG-CBOR orders keys length-first: "read" (4) before "follow" (6).
    let expected = cbor_map(&[
        ("read", cbor_bytes(&[0x4e; 32])),
        ("follow", cbor_bytes(&[0xf0; 32])),
    ]);
    assert_eq!(keys.to_bytes(), expected);
    assert_eq!(KeySet::from_bytes(&expected), Ok(keys.clone()));
    // A follower's key set omits "read" entirely.
    let follower = cbor_map(&[("follow", cbor_bytes(&[0xf0; 32]))]);
    assert_eq!(keys.for_follower().to_bytes(), follower);
    assert_eq!(KeySet::from_bytes(&follower), Ok(keys.for_follower()));
}

/// Checks [KEY-5].
#[test]
fn key_5_malformed_key_sets_are_rejected() {
    let follow = cbor_bytes(&[0xf0; 32]);
    let read = cbor_bytes(&[0x4e; 32]);
    let canonical = sample_keys().to_bytes();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty input", vec![]),
        ("not a map", cbor_bytes(&[0; 32])),
        ("empty map", cbor_map(&[])),
        ("missing follow", cbor_map(&[("read", read.clone())])),
        (
            "non-canonical order",
            cbor_map(&[("follow", follow.clone()), ("read", read.clone())]),
        ),
        (
            "read is null",
            cbor_map(&[("read", vec![0xf6]), ("follow", follow.clone())]),
        ),
        (
            "unknown key",
            cbor_map(&[
                ("read", read.clone()),
                ("follow", follow.clone()),
                ("writer", read.clone()),
            ]),
        ),
        (
            "follow is text",
            cbor_map(&[("follow", cbor_text("0123456789abcdef0123456789abcdef"))]),
        ),
        (
            "follow is an array",
            cbor_map(&[("follow", [vec![0x98, 0x20], vec![0x01; 32]].concat())]),
        ),
        (
            "non-minimal length",
            cbor_map(&[("follow", [vec![0x59, 0x00, 0x20], vec![0xf0; 32]].concat())]),
        ),
        (
            "duplicate follow",
            cbor_map(&[("follow", follow.clone()), ("follow", follow.clone())]),
        ),
        ("trailing bytes", [canonical, vec![0x00]].concat()),
    ];
    for (what, bytes) in cases {
        assert_eq!(
            code(KeySet::from_bytes(&bytes)),
            ErrorCode::KeysetMalformed,
            "{what}"
        );
    }
}

/// Checks [KEY-5].
#[test]
fn key_5_wrong_key_lengths_in_a_key_set_are_key_bad_length() {
    let cases = [
        cbor_map(&[("follow", cbor_bytes(&[1; 31]))]),
        cbor_map(&[("follow", cbor_bytes(&[1; 33]))]),
        cbor_map(&[
            ("read", cbor_bytes(&[1; 16])),
            ("follow", cbor_bytes(&[1; 32])),
        ]),
        cbor_map(&[("read", cbor_bytes(&[])), ("follow", cbor_bytes(&[1; 32]))]),
    ];
    for bytes in cases {
        assert_eq!(code(KeySet::from_bytes(&bytes)), ErrorCode::KeyBadLength);
    }
}

/// Checks [KEY-6].
#[test]
fn key_6_roles_and_what_a_follower_is_sent() {
    let keys = KeySet::generate(&mut rng(6));
    assert_eq!(keys.role(), Role::Reader);
    let follower = keys.for_follower();
    assert_eq!(follower.role(), Role::Follower);
    assert_eq!(follower.follow, keys.follow);
    assert_eq!(follower.read, None);
    // What is sent to a follower does not contain the read key.
    let read = keys.read.as_ref().expect("reader key set");
    let sent = follower.to_bytes();
    assert!(!sent.windows(32).any(|w| w == read.as_bytes()));
    assert!(keys.to_bytes().windows(32).any(|w| w == read.as_bytes()));
}

/// Checks [KEY-6].
#[test]
fn key_6_a_writer_needs_the_read_key() {
    let mut fx = Fixture::new(6);
    let mut writer = LogReplica::new(fx.thread.clone(), fx.identity.log_id());
    let follower = fx.keys.for_follower();
    let refused = writer.append_own(&fx.identity, &follower, b"event", 1, &mut fx.rng);
    assert_eq!(code(refused), ErrorCode::KeyUnavailable);
    assert_eq!(writer.counter(), 0, "a refused append changes nothing");
    let keys = fx.keys.clone();
    assert!(
        writer
            .append_own(&fx.identity, &keys, b"event", 1, &mut fx.rng)
            .is_ok()
    );
}

/// Checks [KEY-7].
#[test]
fn key_7_missing_key_is_key_unavailable() {
    let mut fx = Fixture::new(7);
    let env = fx.first(b"secret");
    let follower = fx.keys.for_follower();
    assert_eq!(code(follower.read_key()), ErrorCode::KeyUnavailable);
    // Verification works for the follower, reading does not.
    assert!(threads::verify::verify_follower(&env, &fx.thread, &fx.log, &follower.follow).is_ok());
    assert_eq!(
        code(threads::verify::verify_reader(
            &env, &fx.thread, &fx.log, &follower
        )),
        ErrorCode::KeyUnavailable
    );
    assert_eq!(fx.read(&env).map(|e| e.body), Ok(b"secret".to_vec()));
}
