//! The three encryption layers (spec/records.md): [SEAL-1]..[SEAL-4].

mod common;

use common::{Fixture, RFC8032_PUBLIC, code, rng, unhex};
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use threads::ErrorCode;
use threads::block;
use threads::envelope::Envelope;
use threads::id::{LOG_ID_PREFIX, LogId, ThreadId, Variant};
use threads::keys::IdentityKey;
use threads::seal::{self, Layer, NONCE_LEN, OVERHEAD, TAG_LEN};

const LAYERS: [Layer; 3] = [Layer::Record, Layer::Header, Layer::Body];

fn sample_thread() -> ThreadId {
    ThreadId::from_parts(Variant::Raw, &(0u8..32).collect::<Vec<_>>()).expect("valid TID")
}

fn sample_log() -> LogId {
    LogId::from_bytes(&[LOG_ID_PREFIX.to_vec(), unhex(RFC8032_PUBLIC)].concat()).expect("valid")
}

fn ad(layer: Layer) -> Vec<u8> {
    seal::associated_data(layer, &sample_thread(), &sample_log())
}

/// Checks [SEAL-4].
#[test]
fn seal_4_each_layer_has_its_own_error_code() {
    assert_eq!(Layer::Record.open_error(), ErrorCode::RecordDecryptFailed);
    assert_eq!(Layer::Header.open_error(), ErrorCode::HeaderDecryptFailed);
    assert_eq!(Layer::Body.open_error(), ErrorCode::BodyDecryptFailed);
    assert_eq!(Layer::Record.label(), "record");
    assert_eq!(Layer::Header.label(), "header");
    assert_eq!(Layer::Body.label(), "body");
}

/// Checks [SEAL-1].
#[test]
fn seal_1_is_xchacha20_poly1305_of_draft_irtf_cfrg_xchacha_03() {
    // draft-irtf-cfrg-xchacha-03 §A.3.1 (AEAD_XChaCha20_Poly1305 test vector).
    let key: [u8; 32] = unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
        .try_into()
        .expect("32 bytes");
    let nonce: [u8; 24] = unhex("404142434445464748494a4b4c4d4e4f5051525354555657")
        .try_into()
        .expect("24 bytes");
    let aad = unhex("50515253c0c1c2c3c4c5c6c7");
    let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one \
                      tip for the future, sunscreen would be it.";
    let ciphertext = "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb\
                      731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452\
                      2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9\
                      21f9664c97637da9768812f615c68b13b52e";
    let tag = "c0875924c1c7987947deafd8780acf49";
    let sealed = seal::seal_with_nonce(&key, &nonce, &aad, plaintext);
    assert_eq!(
        hex::encode(&sealed),
        format!("{}{ciphertext}{tag}", hex::encode(nonce))
    );
    for layer in LAYERS {
        assert_eq!(
            seal::open(layer, &key, &aad, &sealed),
            Ok(plaintext.to_vec())
        );
    }
}

/// Checks [SEAL-1].
#[test]
fn seal_1_sealed_is_fresh_nonce_then_ciphertext_then_tag() {
    assert_eq!((NONCE_LEN, TAG_LEN, OVERHEAD), (24, 16, 40));
    let key = [7u8; 32];
    let mut r = rng(1);
    let mut expected_nonce = [0u8; 24];
    rand_core::Rng::fill_bytes(&mut r.clone(), &mut expected_nonce);
    let a = seal::seal(&key, b"ad", b"plaintext", &mut r);
    assert_eq!(a.len(), b"plaintext".len() + 40);
    assert_eq!(&a[..24], &expected_nonce, "the nonce is drawn from the RNG");
    assert_eq!(
        a,
        seal::seal_with_nonce(&key, &expected_nonce, b"ad", b"plaintext")
    );
    // The next seal draws a new nonce, so the same plaintext seals differently.
    let b = seal::seal(&key, b"ad", b"plaintext", &mut r);
    assert_ne!(a[..24], b[..24]);
    assert_ne!(a, b);
    assert_eq!(seal::seal(&key, b"", b"", &mut r).len(), 40);
}

fn any_layer() -> impl Strategy<Value = Layer> {
    prop_oneof![Just(Layer::Record), Just(Layer::Header), Just(Layer::Body)]
}

proptest! {
    /// [SEAL-1], [SEAL-4]: every layer round-trips any plaintext and AD.
    #[test]
    fn seal_1_round_trip_for_every_layer(
        layer in any_layer(),
        key in any::<[u8; 32]>(),
        ad in prop::collection::vec(any::<u8>(), 0..128),
        plaintext in prop::collection::vec(any::<u8>(), 0..512),
        seed in any::<u64>(),
    ) {
        let sealed = seal::seal(&key, &ad, &plaintext, &mut rng(seed));
        prop_assert_eq!(sealed.len(), plaintext.len() + OVERHEAD);
        prop_assert_eq!(seal::open(layer, &key, &ad, &sealed), Ok(plaintext));
    }
}

/// Checks [SEAL-4].
#[test]
fn seal_4_every_single_bit_flip_fails_with_the_layers_code() {
    let key = [9u8; 32];
    for layer in LAYERS {
        let ad = ad(layer);
        let sealed = seal::seal(&key, &ad, b"sixteen bytes!!!", &mut rng(4));
        assert!(seal::open(layer, &key, &ad, &sealed).is_ok());
        for bit in 0..sealed.len() * 8 {
            let mut tampered = sealed.clone();
            tampered[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                code(seal::open(layer, &key, &ad, &tampered)),
                layer.open_error(),
                "{layer:?}, bit {bit}"
            );
        }
    }
}

/// Checks [SEAL-4].
#[test]
fn seal_4_wrong_key_fails_with_the_layers_code() {
    for layer in LAYERS {
        let ad = ad(layer);
        let sealed = seal::seal(&[1; 32], &ad, b"hello", &mut rng(5));
        for wrong in [[2u8; 32], [0; 32], {
            let mut k = [1u8; 32];
            k[31] ^= 0x80;
            k
        }] {
            assert_eq!(
                code(seal::open(layer, &wrong, &ad, &sealed)),
                layer.open_error()
            );
        }
    }
}

/// Checks [SEAL-2].
#[test]
fn seal_2_ad_binds_thread_log_and_layer() {
    let key = [3u8; 32];
    let thread = sample_thread();
    let log = sample_log();
    let other_thread = ThreadId::from_parts(Variant::Raw, &[0xaa; 32]).expect("valid");
    let acl_thread = ThreadId::from_parts(Variant::AccessControlled, thread.random()).expect("ok");
    let other_log = IdentityKey::generate(&mut rng(2)).log_id();
    for layer in LAYERS {
        let good = seal::associated_data(layer, &thread, &log);
        let sealed = seal::seal(&key, &good, b"bound", &mut rng(6));
        assert_eq!(
            seal::open(layer, &key, &good, &sealed),
            Ok(b"bound".to_vec())
        );
        let mut wrong_ads = vec![
            seal::associated_data(layer, &other_thread, &log),
            seal::associated_data(layer, &acl_thread, &log),
            seal::associated_data(layer, &thread, &other_log),
            Vec::new(),
        ];
        for other_layer in LAYERS.into_iter().filter(|l| *l != layer) {
            wrong_ads.push(seal::associated_data(other_layer, &thread, &log));
        }
        for wrong in wrong_ads {
            assert_eq!(
                code(seal::open(layer, &key, &wrong, &sealed)),
                layer.open_error(),
                "{layer:?} opened with AD {}",
                String::from_utf8_lossy(&wrong)
            );
        }
    }
}

/// Checks [SEAL-2].
#[test]
fn seal_2_associated_data_equals_the_hand_built_bytes() {
    let tid: Vec<u8> = [vec![0x01, 0x55], (0u8..32).collect()].concat();
    let log = [
        vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20],
        unhex(RFC8032_PUBLIC),
    ]
    .concat();
    for (layer, label) in [
        (Layer::Record, "record"),
        (Layer::Header, "header"),
        (Layer::Body, "body"),
    ] {
        let mut expected = format!("threads/v1/{label}").into_bytes();
        expected.push(0x00);
        expected.push(34); // uvarint(len(tid))
        expected.extend_from_slice(&tid);
        expected.push(38); // uvarint(len(log))
        expected.extend_from_slice(&log);
        assert_eq!(ad(layer), expected, "{label}");
    }
    // A 64-byte random part: len(tid) = 66 is still a one-byte uvarint (0x42).
    let long = ThreadId::from_parts(Variant::AccessControlled, &[0xee; 64]).expect("valid");
    let ad = seal::associated_data(Layer::Body, &long, &sample_log());
    assert_eq!(&ad[..16], b"threads/v1/body\0");
    assert_eq!(ad[16], 0x42);
    assert_eq!(&ad[17..83], long.as_bytes());
    assert_eq!(ad[83], 38);
    assert_eq!(ad.len(), 84 + 38);
}

/// Checks [SEAL-4].
#[test]
fn seal_4_sealed_shorter_than_40_bytes_fails() {
    let key = [4u8; 32];
    for layer in LAYERS {
        let ad = ad(layer);
        let sealed = seal::seal(&key, &ad, b"", &mut rng(7));
        assert_eq!(sealed.len(), 40);
        assert_eq!(seal::open(layer, &key, &ad, &sealed), Ok(Vec::new()));
        for len in 0..40 {
            assert_eq!(
                code(seal::open(layer, &key, &ad, &sealed[..len])),
                layer.open_error(),
                "{layer:?}, {len} bytes"
            );
        }
    }
}

/// HMAC-SHA256 (RFC 2104) written out with sha2, so the check does not share the reference's code.
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut padded = [0u8; 64];
    padded[..32].copy_from_slice(key);
    let inner_key: Vec<u8> = padded.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = padded.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::digest([inner_key, message.to_vec()].concat());
    Sha256::digest([outer_key, inner.to_vec()].concat()).into()
}

/// Checks [SEAL-5].
#[test]
fn seal_5_record_layer_nonce_is_the_synthetic_hmac_nonce() {
    // Not in the brief's SEAL-1..4: the reference seals the record layer with a synthetic nonce,
    // the first 24 bytes of HMAC-SHA256(follow key, uvarint(len ad) ‖ ad ‖ R) (seal.rs).
    let mut fx = Fixture::new(50);
    let env = fx.first(b"synthetic");
    let follow = *fx.keys.follow.as_bytes();
    let ad = seal::associated_data(Layer::Record, &fx.thread, &fx.log);
    let sealed = block::decode_byte_string(&env.record).expect("a byte string");
    let r = seal::open(Layer::Record, &follow, &ad, &sealed).expect("opens");
    assert!(ad.len() < 128, "one-byte uvarint");
    let mac = hmac_sha256(
        &follow,
        &[vec![ad.len() as u8], ad.clone(), r.clone()].concat(),
    );
    assert_eq!(&sealed[..NONCE_LEN], &mac[..NONCE_LEN]);
    assert_eq!(seal::synthetic_nonce(&follow, &ad, &r), mac[..NONCE_LEN]);
    // So a record has exactly one sealed form, and one CID.
    let record = fx.open_record(&env);
    assert_eq!(fx.with_record(&env, &record), env);
}

/// Checks [SEAL-5].
#[test]
fn seal_5_record_resealed_with_a_random_nonce_is_record_nonce_invalid() {
    let mut fx = Fixture::new(51);
    let env = fx.first(b"x");
    let follow = *fx.keys.follow.as_bytes();
    let ad = seal::associated_data(Layer::Record, &fx.thread, &fx.log);
    let r = fx.open_record(&env).to_bytes();
    let resealed = Envelope {
        record: block::encode_byte_string(&seal::seal(&follow, &ad, &r, &mut rng(52))),
        ..env.clone()
    };
    assert_ne!(resealed.record_cid(), env.record_cid());
    assert_eq!(code(fx.verify(&resealed)), ErrorCode::RecordNonceInvalid);
    // A failed tag check still comes first and keeps its own code [SEAL-4].
    let mut tampered = resealed;
    let last = tampered.record.len() - 1;
    tampered.record[last] ^= 1;
    assert_eq!(code(fx.verify(&tampered)), ErrorCode::RecordDecryptFailed);
}
